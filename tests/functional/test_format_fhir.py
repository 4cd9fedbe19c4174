"""The `fhir` profile end to end through the CLI, on a spec fixture built from FHIR R4 (hl7.org/fhir/R4)
and the Bulk Data Access IG: NDJSON, gzipped, one resource type per file, server-style file names.
Synthetic resources only.

Planted: p1 on furosemide (MedicationRequest, a clinical-drug RxNorm code recognised by its text) with
no labs, and cirrhosis + cramps in SNOMED CT; p2 on furosemide (MedicationStatement) with only urine
potassium and sodium; p3 on furosemide with blood potassium and sodium (monitored); p4 cirrhosis +
cramps in ICD-10-CM with dots; p5 the same but the cirrhosis resolved (not flagged). Mess: a malformed
line (quarantined), an entered-in-error result and a vital sign (both skipped).
"""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta

import duckdb
import pytest

from checks.evaluate import all_checks
from tests.helpers import cli, findings, flagged, night

AS_OF = "2026-11-20"
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LAB = [
    {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}
        ]
    }
]
VITAL = [
    {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
        ]
    }
]


def concept(system, code, display=None, text=None):
    coding = {"system": system, "code": code} | ({"display": display} if display else {})
    return {"coding": [coding]} | ({"text": text} if text else {})


def patient(pid, birth, gender):
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": gender}


def obs(oid, pid, loinc, value, unit, when, category=LAB, status="final"):
    return {
        "resourceType": "Observation", "id": oid, "status": status, "category": category,
        "code": concept(LOINC, loinc), "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when, "valueQuantity": {"value": value, "unit": unit},
    }  # fmt: skip


def condition(cid, pid, system, code, onset, status="active", abatement=None):
    resource = {
        "resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{pid}"},
        "clinicalStatus": concept("http://terminology.hl7.org/CodeSystem/condition-clinical", status),
        "code": concept(system, code), "onsetDateTime": onset,
    }  # fmt: skip
    return resource | ({"abatementDateTime": abatement} if abatement else {})


FUROSEMIDE = concept(RXNORM, "197417", "furosemide 40 MG Oral Tablet", "Furosemide 40 MG Oral Tablet")

RESOURCES = {
    "1.Patient.ndjson.gz": [patient(f"p{i}", f"19{50 + i}-03-0{i}", g) for i, g in enumerate("mfmfm", 1)],
    "Observation.000.ndjson.gz": [
        obs("o1", "p2", "2828-2", 40, "mmol/L", "2026-10-01T09:00:00Z"),  # urine potassium
        obs("o2", "p2", "2955-3", 60, "mmol/L", "2026-10-01T09:00:00Z"),  # urine sodium
        obs("o3", "p3", "2823-3", 4.2, "mmol/L", "2026-10-02T09:00:00+01:00"),
        obs("o4", "p1", "2823-3", 4.0, "mmol/L", "2026-10-02", status="entered-in-error"),
    ],
    "Observation.001.ndjson.gz": [
        obs("o5", "p3", "2951-2", 139, "mmol/L", "2026-10-02T09:00:00+01:00"),
        obs("o6", "p1", "8867-4", 72, "/min", "2026-10-02T09:00:00Z", category=VITAL),
    ],
    "MedicationRequest.ndjson.gz": [
        {
            "resourceType": "MedicationRequest",
            "id": f"m{pid}",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": FUROSEMIDE,
            "subject": {"reference": f"Patient/{pid}"},
            "authoredOn": "2026-06-01",
            "dispenseRequest": {
                "validityPeriod": {"start": "2026-06-01", "end": "2027-06-01"},
                "expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"},
            },
        }
        for pid in ("p1", "p3")
    ],
    "MedicationStatement.ndjson": [
        {
            "resourceType": "MedicationStatement",
            "id": "s2",
            "status": "active",
            "medicationCodeableConcept": {"text": "Furosemide 20 mg tablet"},
            "subject": {"reference": "Patient/p2"},
            "effectivePeriod": {"start": "2026-05-01"},
        }
    ],
    "Condition.ndjson.gz": [
        condition("c1", "p1", SCT, "19943007", "2024-01-10"),
        condition("c2", "p1", SCT, "55300003", "2026-09-01T10:00:00Z"),
        condition("c3", "p4", ICD10, "K74.60", "2023-05-05"),
        condition("c4", "p4", ICD10, "R25.2", "2026-08-01"),
        condition("c5", "p5", ICD10, "K74.60", "2023-05-05", "resolved", "2025-01-01"),
        condition("c6", "p5", ICD10, "R25.2", "2026-08-01"),
    ],
}


def write_fhir(folder, resources=RESOURCES, broken_line=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name, items in resources.items():
        lines = [json.dumps(r) for r in items]
        if broken_line and name.startswith("Observation.001"):
            lines.insert(1, '{"resourceType": "Observation", "id": "broken", ')
        text = "\n".join(lines) + "\n"
        if name.endswith(".gz"):
            with gzip.open(folder / name, "wt", encoding="utf-8") as handle:
                handle.write(text)
        else:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def run(tmp, export, *extra):
    return cli(
        "run", "--exports", str(export), "--out", str(tmp / "out"), "--db", str(tmp / "audit.duckdb"),
        "--as-of", AS_OF, "--reject-threshold", "0.5", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module", params=["--format=fhir", "auto"])
def fhir_run(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fhir")
    export = write_fhir(tmp / "export")
    extra = () if request.param == "auto" else (request.param,)
    return run(tmp, export, *extra), tmp


def test_run_succeeds_and_runs_every_check(fhir_run):
    code, tmp = fhir_run
    assert code == 0
    summary = json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["checks"]) == {c.id for c in all_checks()}


def test_diuretic_without_blood_electrolytes_is_flagged(fhir_run):
    _, tmp = fhir_run
    assert flagged(tmp / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p1", "p2"}


def test_cirrhosis_with_cramps_is_flagged_unless_resolved(fhir_run):
    _, tmp = fhir_run
    assert flagged(tmp / "audit.duckdb", "cramps_cirrhosis") == {"p1", "p4"}


def test_malformed_line_is_quarantined_and_skipped_resources_are_not_loaded(fhir_run):
    _, tmp = fhir_run
    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM quarantine").fetchall()}
        labs = con.execute("SELECT count(*) FROM labs").fetchall()[0][0]
        rx = con.execute("SELECT max(days_supply), count(*) FROM prescriptions").fetchall()[0]
    assert tables == {"labs"}
    assert labs == 4  # o1, o2, o3, o5: not the entered-in-error result nor the vital sign
    assert rx == (30, 3)


def test_skipped_resources_are_counted_per_reason(tmp_path):
    # Beside the fixture's vital sign and entered-in-error result: a survey, a cancelled order, a
    # drug not taken, a refuted diagnosis and one in a differential (p3's cirrhosis: a possibility,
    # not yet the patient's diagnosis). None loads, none is rejected.
    survey = [{"coding": [{"system": VITAL[0]["coding"][0]["system"], "code": "survey"}]}]
    cancelled = dict(RESOURCES["MedicationRequest.ndjson.gz"][0], id="mx", status="cancelled")
    not_taken = dict(RESOURCES["MedicationStatement.ndjson"][0], id="sx", status="not-taken")
    refuted = condition("cx", "p3", SCT, "19943007", "2025-01-01")
    refuted["verificationStatus"] = concept(
        "http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted"
    )
    differential = condition("cy", "p3", SCT, "19943007", "2025-01-01")
    differential["verificationStatus"] = concept(
        "http://terminology.hl7.org/CodeSystem/condition-ver-status", "differential"
    )
    resources = dict(
        RESOURCES,
        **{
            "Observation.002.ndjson": [obs("o7", "p1", "72166-2", 1, "1", "2026-10-02", category=survey)],
            "MedicationRequest.ndjson.gz": [*RESOURCES["MedicationRequest.ndjson.gz"], cancelled],
            "MedicationStatement.ndjson": [*RESOURCES["MedicationStatement.ndjson"], not_taken],
            "Condition.ndjson.gz": [*RESOURCES["Condition.ndjson.gz"], refuted, differential],
        },
    )
    assert run(tmp_path, write_fhir(tmp_path / "export", resources)) == 0
    files = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["files"]
    assert files["labs"]["skip_reasons"] == {
        "not a laboratory observation (survey)": 1,
        "not a laboratory observation (vital-signs)": 1,
        "status entered-in-error": 1,
    }
    assert files["prescriptions"]["skip_reasons"] == {"status cancelled": 1, "status not-taken": 1}
    assert files["diagnoses"]["skip_reasons"] == {
        "verification status refuted": 1,
        "verification status differential": 1,
    }
    for f in files.values():
        assert (
            f["rows_read"] == f["rows_loaded"] + f["rows_duplicate"] + f["rows_rejected"] + f["rows_skipped"]
        )
    assert (files["prescriptions"]["rows_loaded"], files["prescriptions"]["rows_rejected"]) == (3, 0)
    assert files["labs"]["rows_rejected"] == 1  # only the malformed line
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"p1", "p4"}


def test_missing_resource_type_is_named(tmp_path, capsys):
    resources = {k: v for k, v in RESOURCES.items() if not k.startswith("Condition")}
    assert run(tmp_path, write_fhir(tmp_path / "export", resources), "--format", "fhir") == 3
    err = capsys.readouterr().err
    assert "no Condition file" in err and "Condition.ndjson" in err and "Traceback" not in err


def test_a_resource_without_its_subject_is_quarantined_wherever_it_is_in_the_file(tmp_path):
    """R4 makes Observation.subject optional (a device's or a QC sample's result has none), so a
    server may write one first. Only the first resource's fields were checked, and a missing one
    refused the whole run (exit 3) where the same resource on line 2 was quarantined: now it is
    quarantined wherever it is, and the rest of the file loads."""
    no_subject = obs("o0", "p1", "2823-3", 4.1, "mmol/L", "2026-10-01")
    del no_subject["subject"]
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "Observation.ndjson": [no_subject, obs("o1", "p1", "2823-3", 4.2, "mmol/L", "2026-10-02")],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    files = run_small(tmp_path, resources)
    assert (files["labs"]["rows_loaded"], files["labs"]["rows_rejected"]) == (1, 1)
    assert rows(tmp_path, "SELECT file, column_name, rule FROM quarantine") == [
        ("Observation.ndjson", "patient_id", "required")
    ]
    assert rows(tmp_path, "SELECT value FROM labs") == [(4.2,)]


def test_a_file_of_resources_without_subjects_stops_the_run_naming_file_and_column(tmp_path, capsys):
    bad = [{k: v for k, v in c.items() if k != "subject"} for c in RESOURCES["Condition.ndjson.gz"]]
    export = write_fhir(tmp_path / "export", dict(RESOURCES, **{"Condition.ndjson.gz": bad}))
    assert run(tmp_path, export) == 3
    err = capsys.readouterr().err
    assert "Condition.ndjson.gz" in err and "patient_id" in err and "Traceback" not in err


def test_censored_and_text_results_keep_comparator_or_load_without_value(tmp_path):
    """valueQuantity.comparator and a censored valueString keep their comparator; text is no value.
    The NSAID check then reads '>60' as not below 60 and '<15' as below 30 (high priority)."""
    censored_k = obs("k1", "p1", "2823-3", 2.5, "mmol/L", "2026-10-01T08:00:00Z")
    censored_k["valueQuantity"]["comparator"] = "<"
    ad_quantity = obs("k2", "p1", "2823-3", 4.0, "mmol/L", "2026-10-02T08:00:00Z")
    ad_quantity["valueQuantity"]["comparator"] = "ad"  # R5 'sufficient to achieve': not a censoring
    egfr_text = obs("g1", "p1", "33914-3", None, None, "2026-10-01T08:00:00Z")
    egfr_text.pop("valueQuantity")
    egfr_text["valueString"] = ">60"
    egfr_low = obs("g2", "p2", "33914-3", 15, "mL/min/{1.73_m2}", "2026-10-01T08:00:00Z")
    egfr_low["valueQuantity"]["comparator"] = "<"
    haemolysed = obs("k3", "p2", "2823-3", None, None, "2026-10-01T08:00:00Z")
    haemolysed.pop("valueQuantity")
    haemolysed["valueString"] = "see comment"
    nsaid = {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": concept(RXNORM, "197805", "ibuprofen 400 MG Oral Tablet"),
        "authoredOn": "2026-06-01",
        "dispenseRequest": {"validityPeriod": {"start": "2026-06-01", "end": "2027-06-01"}},
    }  # fmt: skip
    resources = {
        "Patient.ndjson": [patient("p1", "1950-03-01", "female"), patient("p2", "1951-03-01", "male")],
        "Observation.ndjson": [censored_k, ad_quantity, egfr_text, egfr_low, haemolysed],
        "MedicationRequest.ndjson": [
            nsaid | {"id": f"n{pid}", "subject": {"reference": f"Patient/{pid}"}} for pid in ("p1", "p2")
        ],
        "Condition.ndjson": [condition("c1", "p1", SCT, "55300003", "2026-09-01")],
    }
    export = write_fhir(tmp_path / "export", resources, broken_line=False)
    assert run(tmp_path, export, "--format", "fhir") == 0
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        stored = set(
            con.execute(
                "SELECT patient_id, loinc_code, value_original, value_comparator FROM lab_results"
            ).fetchall()
        )
        rejected = con.execute("SELECT count(*) FROM quarantine").fetchall()[0][0]
    assert stored == {
        ("p1", "2823-3", 2.5, "<"),
        ("p1", "2823-3", 4.0, None),
        ("p1", "33914-3", 60.0, ">"),
        ("p2", "33914-3", 15.0, "<"),
        ("p2", "2823-3", None, None),
    }
    assert rejected == 0
    nsaid_flags = [f for f in findings(tmp_path / "audit.duckdb") if f["check_id"] == "nsaid_kidney_disease"]
    assert [(f["patient_id"], f["priority"]) for f in nsaid_flags] == [("p2", "high")]
    assert json.loads(nsaid_flags[0]["evidence"])["latest_egfr"] == "<15.0"


def test_a_v2_diagnostic_service_category_is_a_laboratory_result(tmp_path):
    # Some servers categorise lab results with HL7 v2 table 0074 (LAB, CH chemistry) rather than
    # observation-category 'laboratory': those are labs. p2's potassium and sodium are such results,
    # so p2 is monitored and no longer flagged.
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0074"
    resources = dict(
        RESOURCES,
        **{
            "Observation.002.ndjson": [
                obs("o8", "p2", "2823-3", 4.2, "mmol/L", "2026-10-02",
                    category=[{"coding": [{"system": v2, "code": "CH"}]}]),
                obs("o9", "p2", "2951-2", 139, "mmol/L", "2026-10-02",
                    category=[{"coding": [{"system": v2, "code": "LAB"}]}]),
            ]
        },
    )  # fmt: skip
    assert run(tmp_path, write_fhir(tmp_path / "export", resources)) == 0
    files = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["files"]
    assert "not a laboratory observation (CH)" not in files["labs"]["skip_reasons"]
    assert "p2" not in flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring")


def test_what_real_servers_send_beyond_the_basic_shapes(tmp_path):
    """Shapes EHR bulk exports use: a medicationReference (display only, or a contained Medication),
    an Observation category with text only (no coding: counts as none), a valueString with an
    abnormal flag ('5.6 H': the number) or a decimal comma ('0,45': quarantined, as in a CSV), and
    Conditions coded in WHO ICD-10 or ICD-10-GM (servers outside the US): WHO's E11.4 is diabetic
    neuropathy, which no ICD-10-CM row of 4 characters says."""
    who_icd10 = "http://hl7.org/fhir/sid/icd-10"
    request = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "authoredOn": "2026-06-01"}  # fmt: skip
    by_display = request | {
        "id": "m1", "subject": {"reference": "Patient/p1"},
        "medicationReference": {"reference": "Medication/x1", "display": "Furosemide 40 MG Oral Tablet"},
    }  # fmt: skip
    contained = request | {
        "id": "m2", "subject": {"reference": "Patient/p2"},
        "contained": [{"resourceType": "Medication", "id": "med1", "code": FUROSEMIDE}],
        "medicationReference": {"reference": "#med1"},
    }  # fmt: skip
    flagged_k = obs("k1", "p1", "2823-3", None, None, "2026-10-01T08:00:00Z")
    flagged_k.pop("valueQuantity")
    flagged_k["valueString"] = "5.6 H"
    comma_mg = obs("g1", "p1", "19123-9", None, None, "2026-10-01T08:00:00Z")
    comma_mg.pop("valueQuantity")
    comma_mg["valueString"] = "0,45"
    text_only = [{"text": "Laboratory"}]
    resources = {
        "Patient.ndjson": [patient(p, "1950-03-01", "female") for p in ("p1", "p2", "p3")],
        "Observation.ndjson": [
            flagged_k,
            comma_mg,
            obs("k2", "p2", "2823-3", 4.1, "mmol/L", "2026-10-01", category=text_only),
            obs("n2", "p2", "2951-2", 139, "mmol/L", "2026-10-01", category=text_only),
        ],
        "MedicationRequest.ndjson": [by_display, contained],
        "Condition.ndjson": [
            condition("c1", "p3", who_icd10, "K70.3", "2024-01-10"),
            condition("c2", "p3", who_icd10, "R25.2", "2026-09-01"),
            condition("c3", "p3", "http://fhir.de/CodeSystem/bfarm/icd-10-gm", "E11.4", "2026-09-01"),
        ],
    }
    export = write_fhir(tmp_path / "export", resources, broken_line=False)
    assert run(tmp_path, export, "--format", "fhir", "--reject-threshold", "1") == 0
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        labs = con.execute("SELECT patient_id, analyte, value FROM labs ORDER BY ALL").fetchall()
        drugs = con.execute("SELECT patient_id, drug_name, rxnorm_code FROM prescriptions ORDER BY 1")
        drugs = drugs.fetchall()
        codes = con.execute("SELECT patient_id, code, code_system FROM diagnoses ORDER BY ALL").fetchall()
        rejected = con.execute("SELECT column_name, rule, original FROM quarantine").fetchall()
    assert labs == [("p1", "potassium", 5.6), ("p2", "potassium", 4.1), ("p2", "sodium", 139.0)]
    assert drugs == [
        ("p1", "Furosemide 40 MG Oral Tablet", None),
        ("p2", "Furosemide 40 MG Oral Tablet", "197417"),
    ]
    assert [c[1:] for c in codes] == [("E114", "ICD-10"), ("K703", "ICD-10"), ("R252", "ICD-10")]
    assert [r[:2] for r in rejected] == [("value", "numeric")]
    # p2's results under a text-only category count
    assert flagged(db, "diuretic_electrolyte_monitoring") == {"p1"}
    assert flagged(db, "cramps_cirrhosis") == {"p3"}
    assert flagged(db, "numbness_neuropathy_workup") == {"p3"}


def test_a_medication_reference_to_the_exports_medication_file_is_read(tmp_path):
    """Bulk exports (Epic, Cerner) often send MedicationRequest.medicationReference 'Medication/<id>'
    with the Medication resources in a Medication file of their own: the drug is that resource's
    code. A reference to a Medication the export lacks, with no display, is quarantined."""
    request = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "authoredOn": "2026-06-01"}  # fmt: skip
    by_id = request | {"id": "m1", "subject": {"reference": "Patient/p1"}}
    by_id["medicationReference"] = {"reference": "Medication/med-9"}
    missing = request | {"id": "m2", "subject": {"reference": "Patient/p2"}}
    missing["medicationReference"] = {"reference": "Medication/missing"}
    resources = {
        "Patient.ndjson": [patient(p, "1950-03-01", "female") for p in ("p1", "p2")],
        "Observation.ndjson": [obs("k1", "p2", "2823-3", 4.1, "mmol/L", "2026-10-01")],
        "Medication.ndjson": [
            {"resourceType": "Medication", "id": "med-9", "code": FUROSEMIDE},
            {"resourceType": "Medication", "id": "med-other", "code": {"text": "Paracetamol 500 mg"}},
        ],
        "MedicationRequest.ndjson": [by_id, missing],
        "Condition.ndjson": [condition("c1", "p1", SCT, "55300003", "2026-09-01")],
    }
    export = write_fhir(tmp_path / "export", resources, broken_line=False)
    assert run(tmp_path, export, "--format", "fhir", "--reject-threshold", "1") == 0
    db = tmp_path / "audit.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        drugs = con.execute("SELECT patient_id, drug_name, rxnorm_code FROM prescriptions").fetchall()
        rejected = con.execute("SELECT column_name, rule FROM quarantine").fetchall()
    assert drugs == [("p1", "Furosemide 40 MG Oral Tablet", "197417")]
    assert rejected == [("drug_name", "required")]
    assert flagged(db, "diuretic_electrolyte_monitoring") == {"p1"}


# Real-shaped resources for the reviewer's findings: an EHR's Condition coded twice, partial dates,
# statuses that end a prescription, requests not to prescribe, and the dosage's timing bounds.
GABAPENTIN = concept(RXNORM, "310431", "Gabapentin 300 MG Oral Capsule", "Gabapentin 300 MG Oral Capsule")
IBUPROFEN = concept(RXNORM, "197806", "Ibuprofen 600 MG Oral Tablet", "Ibuprofen 600 MG Oral Tablet")
NUMB_LEG = (SCT, "309537005", "Numbness of lower limb")
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def medreq(mid, pid, medication, authored="2026-06-01T09:00:00Z", status="active", **extra):
    return {
        "resourceType": "MedicationRequest", "id": mid, "status": status, "intent": "order",
        "medicationCodeableConcept": medication, "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": authored,
    } | extra  # fmt: skip


def coded(cid, pid, codings, onset="2026-08-01", **extra):
    """A Condition coded in each (system, code, display) of `codings`, in that order."""
    resource = condition(cid, pid, SCT, "0", onset)
    resource["code"] = {"coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]}
    return resource | extra


def run_small(tmp_path, resources):
    """Run the fhir profile on `resources` (a dict of file name -> resources); an Observation file
    is added when there is none. Returns the summary's file counts."""
    resources = {
        "Observation.ndjson": [obs("ox", "p0", "8867-4", 72, "/min", "2026-10-02", VITAL)]
    } | resources
    export = write_fhir(tmp_path / "export", resources, broken_line=False)
    assert run(tmp_path, export, "--format", "fhir", "--reject-threshold", "1") == 0
    files = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["files"]
    for f in files.values():  # every row read is loaded, a duplicate, rejected or skipped
        assert (
            f["rows_read"] == f["rows_loaded"] + f["rows_duplicate"] + f["rows_rejected"] + f["rows_skipped"]
        )
    return files


def rows(tmp_path, sql):
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_condition_coded_in_snomed_and_icd10_is_read_in_both(tmp_path):
    """EHRs code a problem in SNOMED CT and ICD-10-CM at once. lower_limb_numbness_symptoms lists the SNOMED
    concept 309537005 and not R20.0 (anaesthesia of skin, anywhere): each coding in a contract
    system is a diagnosis row of its own, so each codelist sees the coding it lists, whichever comes
    first. A coding in a local system adds no row; a Condition coded only locally, or only in text
    (problem lists hold many), can match no codelist: skipped with its reason, as OMOP skips an
    unaudited vocabulary (quarantined, they stopped the run past 5%); a refuted one is skipped once."""
    local = ("http://example.org/local-codes", "NUMB-1", "Numb legs")
    icd_r200 = (ICD10, "R20.0", "Anesthesia of skin")
    text_only = coded("c8", "p3", [])
    text_only["code"] = {"text": "Leg cramps at night"}
    refuted = coded("c9", "p4", [NUMB_LEG, icd_r200])
    refuted["verificationStatus"] = concept(
        "http://terminology.hl7.org/CodeSystem/condition-ver-status", "refuted"
    )
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3", "p4")],
        "MedicationRequest.ndjson": [medreq(f"m{p}", p, GABAPENTIN) for p in ("p1", "p2", "p3", "p4")],
        "Condition.ndjson": [
            coded("c1", "p1", [NUMB_LEG, icd_r200, local]),  # SNOMED first
            coded("c2", "p2", [icd_r200, local, NUMB_LEG]),  # ICD-10-CM first
            coded("c3", "p3", [local]),  # no contract system: skipped
            text_only,
            refuted,
        ],
    }
    files = run_small(tmp_path, resources)
    assert rows(tmp_path, "SELECT patient_id, code, code_system FROM diagnoses ORDER BY ALL") == [
        ("p1", "309537005", "SNOMED-CT"),
        ("p1", "R200", "ICD-10-CM"),
        ("p2", "309537005", "SNOMED-CT"),
        ("p2", "R200", "ICD-10-CM"),
    ]
    assert rows(tmp_path, "SELECT column_name, rule FROM quarantine") == []
    assert files["diagnoses"]["skip_reasons"] == {
        "verification status refuted": 1,
        "condition coded in no audited code system (http://example.org/local-codes)": 1,
        "condition with no coding in an audited code system (text or local code only)": 1,
    }
    assert (files["diagnoses"]["rows_read"], files["diagnoses"]["rows_rejected"]) == (7, 0)
    db = tmp_path / "audit.duckdb"
    assert flagged(db, "elderly_numbness_fall_risk") == {"p1", "p2"}
    # numbness_neuropathy_workup lists both codings: still one finding per patient, one recording day
    workup = [f for f in findings(db) if f["check_id"] == "numbness_neuropathy_workup"]
    assert [f["patient_id"] for f in workup] == ["p1", "p2"]
    assert all("recorded 2026-08-01 with" in f["reason"] for f in workup)


def test_partial_dates_are_read_as_the_period_they_name(tmp_path):
    """R4 dateTimes may be a year or a year and month. An onset or a start ('2015', '2015-06') is the
    period's first day, as birthDate is; an abatement is its last day (at the latest today), the day
    the condition is certainly resolved, as a partial deceasedDateTime is read."""
    cirrhosis, cramp = (SCT, "19943007", "Cirrhosis of liver"), (SCT, "55300003", "Cramp")
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3")],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, authored="2026-06"),
            medreq("m2", "p2", FUROSEMIDE, authored="2025"),
        ],
        "Condition.ndjson": [
            coded("c1", "p1", [cirrhosis], onset="2015", recordedDate="2020-03-04"),
            coded("c2", "p1", [cramp]),
            coded("c3", "p2", [cirrhosis], onset="2015-06"),
            coded("c4", "p2", [cramp]),
            coded("c5", "p3", [cirrhosis], onset="2015-06-10", abatementDateTime="2019"),
            coded("c6", "p3", [cramp]),
        ],
    }
    run_small(tmp_path, resources)
    assert rows(tmp_path, "SELECT count(*) FROM quarantine") == [(0,)]
    got = rows(
        tmp_path,
        "SELECT patient_id, recorded_at::VARCHAR, resolved_at::VARCHAR FROM diagnoses "
        "WHERE code = '19943007' ORDER BY 1",
    )
    assert got == [("p1", "2015-01-01", None), ("p2", "2015-06-01", None), ("p3", "2015-06-10", "2019-12-31")]
    starts = rows(tmp_path, "SELECT patient_id, start_date::VARCHAR FROM prescriptions ORDER BY 1")
    assert starts == [("p1", "2026-06-01"), ("p2", "2025-01-01")]
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"p1", "p2"}


def test_a_partial_date_of_a_period_not_yet_over_is_the_day_the_resource_last_changed(tmp_path):
    """An abatement or a death '<year>' whose year was not over when the resource last changed is
    certain by the day after its meta.lastUpdated (it said so then; an instant in UTC, whose local
    day may be the next), not by today: the same resource in tomorrow's export then gives the same
    day, where "today" gave a new one every night and, a diagnosis's resolution being part of its
    identity, a new diagnosis row every night. Never on or before the onset (an onset in a zone
    ahead of UTC, later than the update's UTC day, was quarantined). Without a last update: today,
    at the latest the period's last day."""
    updated = date.today() - timedelta(days=10)
    if (updated.month, updated.day) == (12, 31):  # its year over the next day: nothing to tell apart
        updated -= timedelta(days=1)
    year, stamp = str(updated.year), {"lastUpdated": f"{updated}T10:00:00Z"}
    dead = patient("p2", "1940-01-01", "male") | {"deceasedDateTime": year, "meta": stamp}
    cirrhosis = (SCT, "19943007", "Cirrhosis of liver")
    ahead = {"lastUpdated": f"{updated - timedelta(days=1)}T22:05:00Z"}  # 08:05 on `updated` at +10:00
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p3", "p4")] + [dead],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
        "Condition.ndjson": [
            coded("c1", "p1", [cirrhosis], onset="2015-06-10", abatementDateTime=year, meta=stamp),
            coded("c3", "p3", [cirrhosis], onset="2015-06-10", abatementDateTime=str(date.today().year)),
            coded(
                "c4", "p4", [cirrhosis], onset=f"{updated}T08:00:00+10:00", abatementDateTime=year, meta=ahead
            ),
        ],
    }
    run_small(tmp_path, resources)
    assert rows(tmp_path, "SELECT count(*) FROM quarantine") == [(0,)]
    day_after = (updated + timedelta(days=1)).isoformat()
    resolved = rows(tmp_path, "SELECT patient_id, resolved_at::VARCHAR FROM diagnoses ORDER BY 1")
    assert resolved == [("p1", day_after), ("p3", date.today().isoformat()), ("p4", day_after)]
    deaths = rows(tmp_path, "SELECT death_date::VARCHAR FROM patients WHERE patient_id = 'p2'")
    assert deaths == [(day_after,)]


def test_a_resolved_condition_without_any_date_but_its_onset_is_resolved(tmp_path):
    """clinicalStatus resolved (or inactive) with no abatement, no meta.lastUpdated and no
    recordedDate resolves the day after its onset, the earliest day it can have resolved: not active
    today. Not on the onset day: a lasting condition (CKD) closed the day it was recorded is read as a
    visit's record closing, and this status is explicit (p4 and p5 take no NSAID flag for it)."""
    ckd = ("http://hl7.org/fhir/sid/icd-10-cm", "N18.4", "Chronic kidney disease, stage 4")
    resolved = {"clinicalStatus": concept(CLINICAL, "resolved")}
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3", "p4", "p5", "p6")],
        "MedicationRequest.ndjson": [medreq(f"m{p}", p, GABAPENTIN) for p in ("p1", "p2", "p3")]
        + [medreq(f"m{p}", p, IBUPROFEN, dispenseRequest={"validityPeriod": {"end": "2027-06-01"}})
           for p in ("p4", "p5", "p6")],
        "Condition.ndjson": [
            coded("c1", "p1", [NUMB_LEG], onset="2026-03-01"),  # active: flagged
            coded("c2", "p2", [NUMB_LEG], onset="2026-03-01", **resolved),
            coded("c3", "p3", [NUMB_LEG], onset="2026-03-01", clinicalStatus=concept(CLINICAL, "inactive")),
            coded("c4", "p4", [ckd], onset="2025-03-01", **resolved),
            coded("c5", "p5", [ckd], onset="2025-03-01", recordedDate="2025-03-01", **resolved),
            coded("c6", "p6", [ckd], onset="2025-03-01"),  # active CKD: flagged
        ],
    }  # fmt: skip
    run_small(tmp_path, resources)
    got = rows(tmp_path, "SELECT patient_id, resolved_at::VARCHAR FROM diagnoses ORDER BY 1")
    assert got == [
        ("p1", None), ("p2", "2026-03-02"), ("p3", "2026-03-02"), ("p4", "2025-03-02"), ("p5", "2025-03-02"),
        ("p6", None),
    ]  # fmt: skip
    assert flagged(tmp_path / "audit.duckdb", "elderly_numbness_fall_risk") == {"p1"}
    assert flagged(tmp_path / "audit.duckdb", "nsaid_kidney_disease") == {"p6"}


def test_a_stopped_prescription_ends_when_it_was_stopped(tmp_path):
    """A stopped or completed request ends at the earliest of its stated end (validityPeriod.end, a
    dispensing window, or start + expectedSupplyDuration) and its last update; an active one keeps
    its stated end. A stopped statement likewise ends by its last update."""
    window = {"validityPeriod": {"start": "2026-10-01T09:00:00Z", "end": "2027-10-01T09:00:00Z"}}
    supply = {"expectedSupplyDuration": {"value": 90, "unit": "days", "code": "d"}}
    stopped = {"status": "stopped", "meta": {"lastUpdated": "2026-10-05T09:00:00Z"}}
    authored = "2026-10-01T09:00:00Z"
    statement = {
        "resourceType": "MedicationStatement", "id": "s5", "status": "completed",
        "meta": {"lastUpdated": "2026-10-05T09:00:00Z"}, "medicationCodeableConcept": FUROSEMIDE,
        "subject": {"reference": "Patient/p5"},
        "effectivePeriod": {"start": "2026-10-01", "end": "2027-01-01"},
    }  # fmt: skip
    resources = {
        "Patient.ndjson": [patient(f"p{i}", "1950-01-01", "female") for i in range(1, 11)],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, authored, dispenseRequest=window) | stopped,
            medreq("m2", "p2", FUROSEMIDE, authored, dispenseRequest=supply) | stopped,
            medreq("m3", "p3", FUROSEMIDE, authored, dispenseRequest=window),  # active: to 2027-10-01
            medreq("m4", "p4", FUROSEMIDE, authored, dispenseRequest=supply),  # active: 90 days
            # stopped after its window closed: the window's end
            medreq("m6", "p6", FUROSEMIDE, authored, status="completed", meta={"lastUpdated": "2027-01-01"},
                   dispenseRequest={"validityPeriod": {"end": "2026-10-20"}}),
            # active, a 90-day supply to dispense within a week: taken for its 90 days, not the week
            medreq("m7", "p7", FUROSEMIDE, authored,
                   dispenseRequest={"validityPeriod": {"start": authored, "end": "2026-10-08"}} | supply),
        ],
        "MedicationStatement.ndjson": [statement],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }  # fmt: skip
    run_small(tmp_path, resources)
    got = rows(
        tmp_path,
        "SELECT patient_id, end_date::VARCHAR, days_supply, stopped FROM prescriptions ORDER BY 1",
    )
    assert got == [  # stopped: as the status says (a completed statement does not say)
        ("p1", "2026-10-05", None, True),
        ("p2", "2026-10-05", 90, True),
        ("p3", "2027-10-01", None, False),
        ("p4", None, 90, False),
        ("p5", "2026-10-05", None, None),
        ("p6", "2026-10-20", None, False),
        ("p7", "2026-12-30", 90, False),
    ]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p3", "p4", "p7"}


def test_a_stopped_request_with_no_last_update_is_not_taken_to_its_planned_end(tmp_path):
    """Stopped or held with no meta.lastUpdated and an end that is only a plan (a validity period a
    year ahead, a supply), or any end while on hold (a pause of unknown start): the day it stopped is
    unknown, so it ends at its start, as one with no end at all, and a stopped furosemide is not
    taken on as-of. Before, it ran to its planned end (2027-06-01). A stopped request's dosage bounds
    (where Epic writes the day it was discontinued) and a stopped statement's effectivePeriod.end are
    when it was taken to, and stand. A completed one keeps its stated end."""
    window = {"validityPeriod": {"start": "2026-06-01", "end": "2027-06-01"}}
    supply = {"expectedSupplyDuration": {"value": 180, "unit": "days", "code": "d"}}
    bounds = [{"timing": {"repeat": {"boundsPeriod": {"start": "2026-06-01", "end": "2027-06-01"}}}}]
    until = [{"timing": {"repeat": {"boundsPeriod": {"start": "2026-06-01", "end": "2026-11-30"}}}}]
    authored = "2026-06-01"
    statement = {
        "resourceType": "MedicationStatement", "id": "s7", "status": "stopped",
        "medicationCodeableConcept": FUROSEMIDE, "subject": {"reference": "Patient/p7"},
        "effectivePeriod": {"start": "2026-06-01", "end": "2026-11-30"},
    }  # fmt: skip
    held = statement | {"id": "s8", "status": "on-hold", "subject": {"reference": "Patient/p8"}}
    resources = {
        "Patient.ndjson": [patient(f"p{i}", "1950-01-01", "female") for i in range(1, 9)],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, authored, status="stopped", dispenseRequest=window),
            medreq("m2", "p2", FUROSEMIDE, authored, status="on-hold", dosageInstruction=bounds),
            medreq("m3", "p3", FUROSEMIDE, authored, status="stopped", dispenseRequest=supply),
            medreq("m4", "p4", FUROSEMIDE, authored, dispenseRequest=window),  # active: taken
            medreq("m5", "p5", FUROSEMIDE, authored, status="completed", dispenseRequest=supply),
            medreq("m6", "p6", FUROSEMIDE, authored, status="stopped", dosageInstruction=until),
        ],
        "MedicationStatement.ndjson": [statement, held],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }  # fmt: skip
    run_small(tmp_path, resources)
    got = rows(tmp_path, "SELECT patient_id, end_date::VARCHAR, stopped FROM prescriptions ORDER BY 1")
    assert got == [
        ("p1", "2026-06-01", True),
        ("p2", "2026-06-01", True),
        ("p3", "2026-06-01", True),
        ("p4", "2027-06-01", False),
        ("p5", None, False),  # completed: its 180 days' supply, to 2026-11-28
        ("p6", "2026-11-30", True),  # stopped on the day its bounds end
        ("p7", "2026-11-30", True),  # a statement's end is when it was taken to
        ("p8", "2026-06-01", True),  # on hold: since an unknown day
    ]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p4", "p5", "p6", "p7"}


def test_a_last_update_to_come_is_none_but_tomorrow_is_a_day(tmp_path):
    """A last update in a year to come (9999-12-31, a clock's slip) is no day a drug was stopped:
    read as one, the stopped drug was taken for ever. Tomorrow is a day: a zone ahead of UTC has
    reached it (the update is read by its local day)."""
    today = date.today()
    window = {"validityPeriod": {"start": "2026-06-01", "end": "2099-06-01"}}
    resources = {
        "Patient.ndjson": [patient(f"p{i}", "1950-01-01", "female") for i in range(1, 3)],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, "2026-06-01", status="stopped", dispenseRequest=window,
                   meta={"lastUpdated": "9999-12-31T23:59:59Z"}),
            medreq("m2", "p2", FUROSEMIDE, "2026-06-01", status="stopped", dispenseRequest=window,
                   meta={"lastUpdated": f"{today + timedelta(days=1)}T02:00:00+14:00"}),
        ],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }  # fmt: skip
    run_small(tmp_path, resources)
    got = rows(tmp_path, "SELECT patient_id, end_date::VARCHAR FROM prescriptions ORDER BY 1")
    assert got == [("p1", "2026-06-01"), ("p2", str(today + timedelta(days=1)))]


def test_a_drug_taken_only_as_needed_is_named_so(tmp_path):
    """A request whose every dosage is as needed (asNeededBoolean, as Synthea writes "Take as
    needed."; asNeededCodeableConcept) is named '... (as needed)', as a GP system's 'PRN' is, so the
    fall-risk check does not count it as a regular medicine. p1 takes three regular drugs and two as
    needed: not five. p2's five are regular (one with an as-needed extra dose beside its daily one)."""
    drugs = [
        concept(RXNORM, "197361", "Amlodipine 5 MG Oral Tablet", "Amlodipine 5 MG Oral Tablet"),
        concept(RXNORM, "861007", "Metformin 500 MG Oral Tablet", "Metformin 500 MG Oral Tablet"),
        concept(RXNORM, "312961", "Simvastatin 20 MG Oral Tablet", "Simvastatin 20 MG Oral Tablet"),
        concept(RXNORM, "313782", "Acetaminophen 325 MG Oral Tablet", "Acetaminophen 325 MG Oral Tablet"),
        concept(RXNORM, "312086", "Ondansetron 4 MG Oral Tablet", "Ondansetron 4 MG Oral Tablet"),
    ]
    prn = [{"sequence": 1, "text": "Take as needed.", "asNeededBoolean": True}]
    prn_for = [{"text": "1 tab every 6 hours", "asNeededFor": {"text": "nausea"}}]  # R5, one written bare
    daily = [{"text": "1 daily", "asNeededBoolean": False}]
    extra = [*daily, {"text": "1 more when needed", "asNeededBoolean": True}]
    prn_concept = [{"text": "when needed for pain", "asNeededCodeableConcept": {"text": "pain"}}]
    dosages = {
        "p1": [daily, daily, [], prn, prn_for],
        "p2": [daily, daily, [], extra, daily],
        "p3": [daily, daily, [], prn_concept, prn_concept],
    }
    requests = [
        medreq(f"m{p}{i}", p, drug, dosageInstruction=dose)
        for p, doses in dosages.items()
        for i, (drug, dose) in enumerate(zip(drugs, doses, strict=True))
    ]
    resources = {
        "Patient.ndjson": [patient(p, "1940-01-01", "female") for p in dosages],
        "MedicationRequest.ndjson": requests,
        "Condition.ndjson": [coded(f"c{p}", p, [NUMB_LEG]) for p in dosages],
    }
    run_small(tmp_path, resources)
    named = "SELECT patient_id, drug_name FROM prescriptions WHERE drug_name LIKE '%(as needed)' ORDER BY ALL"
    assert rows(tmp_path, named) == [
        ("p1", "Acetaminophen 325 MG Oral Tablet (as needed)"),
        ("p1", "Ondansetron 4 MG Oral Tablet (as needed)"),
        ("p3", "Acetaminophen 325 MG Oral Tablet (as needed)"),
        ("p3", "Ondansetron 4 MG Oral Tablet (as needed)"),
    ]
    assert flagged(tmp_path / "audit.duckdb", "elderly_numbness_fall_risk") == {"p2"}
    # an empty dosageInstruction list has no bounds: no end (it ended in 712 BC, and the run failed)
    assert rows(tmp_path, "SELECT count(*) FROM prescriptions WHERE end_date IS NOT NULL") == [(0,)]


def test_a_stop_is_read_from_the_status_not_from_the_dates(tmp_path):
    """A request's dates do not say it was stopped: an active one's end is its dispensing window's
    or, when later, its first supply's (a UK controlled drug's 28-day window, its 30-day supply: the
    supply's), a completed one's its last update. Both are still taken in the refill gap after that
    end (as of 2026-11-20). A stopped one gets no gap, with or without a supply."""
    window = {"validityPeriod": {"start": "2026-10-01", "end": "2026-10-29"}}
    supply = {"expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"}}
    days90 = {"expectedSupplyDuration": {"value": 90, "unit": "days", "code": "d"}}
    authored = "2026-10-01T09:00:00Z"
    resources = {
        "Patient.ndjson": [patient(f"p{i}", "1950-01-01", "female") for i in range(7, 10)],
        "MedicationRequest.ndjson": [
            medreq("m7", "p7", FUROSEMIDE, authored, dispenseRequest=window | supply),
            medreq("m8", "p8", FUROSEMIDE, authored, status="completed",
                   meta={"lastUpdated": "2026-11-01T09:00:00Z"}, dispenseRequest=days90),
            medreq("m9", "p9", FUROSEMIDE, authored, status="stopped",
                   meta={"lastUpdated": "2026-11-10T09:00:00Z"}),
        ],
        "Condition.ndjson": [coded("c7", "p7", [NUMB_LEG])],
    }  # fmt: skip
    run_small(tmp_path, resources)
    got = rows(tmp_path, "SELECT patient_id, end_date::VARCHAR, stopped FROM prescriptions ORDER BY 1")
    # p9: stopped with no end and no supply ends at its last update, the status change
    assert got == [("p7", "2026-10-31", False), ("p8", "2026-11-01", False), ("p9", "2026-11-10", True)]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p7", "p8"}


def test_a_course_over_with_no_end_is_not_taken_until_its_last_update(tmp_path):
    """A server sets meta.lastUpdated whenever it writes a resource, a migration or bulk load on every
    one: a completed ibuprofen request of 2018 (no end, no supply) last written by last night's load
    is a course of 2018, not a current NSAID beside CKD stage 4; a completed furosemide request of
    2019 no current diuretic. Their start day is their course (as OHDSI reads an exposure with no end
    and no supply). An active request of the same kind stays current (as of 2026-11-20). So is a
    request or statement of status unknown (R4: "not currently known"; only active says the drug is
    still taken): a furosemide of 2015 is no current diuretic."""
    loaded = {"lastUpdated": "2026-11-15T02:00:00Z"}
    ckd4 = ("http://hl7.org/fhir/sid/icd-10-cm", "N18.4", "Chronic kidney disease, stage 4")
    statement = {
        "resourceType": "MedicationStatement", "id": "s-e", "status": "unknown",
        "medicationCodeableConcept": FUROSEMIDE, "subject": {"reference": "Patient/e"},
        "effectiveDateTime": "2015-03-01",
    }  # fmt: skip
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("a", "b", "c", "d", "e")],
        "MedicationRequest.ndjson": [
            medreq("m-a", "a", IBUPROFEN, "2018-05-01", status="completed", meta=loaded),
            medreq("m-b", "b", IBUPROFEN, "2026-11-01", meta=loaded),
            medreq("m-c", "c", FUROSEMIDE, "2019-03-01", status="completed", meta=loaded),
            medreq("m-d", "d", FUROSEMIDE, "2015-03-01", status="unknown", meta=loaded),
        ],
        "MedicationStatement.ndjson": [statement],
        "Condition.ndjson": [coded("c-a", "a", [ckd4]), coded("c-b", "b", [ckd4])],
    }
    run_small(tmp_path, resources)
    got = rows(tmp_path, "SELECT patient_id, end_date::VARCHAR FROM prescriptions ORDER BY 1")
    assert got == [
        ("a", "2018-05-01"),
        ("b", None),
        ("c", "2019-03-01"),
        ("d", "2015-03-01"),
        ("e", "2015-03-01"),
    ]
    assert flagged(tmp_path / "audit.duckdb", "nsaid_kidney_disease") == {"b"}
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == set()


def test_the_drug_is_named_by_any_coding_and_a_versioned_medication_reference(tmp_path):
    """An EHR may list an NDC coding without a display before the RxNorm coding that names the drug:
    the name is the RxNorm coding's display (else the first display any coding has), not empty
    (quarantined, and the diuretic user out of the check). A first coding with a display still names
    the drug (p4: the name stored before, part of the prescription's fact key). A reference to a
    version of a Medication ('Medication/med-f/_history/3') is that Medication."""
    ndc = {"system": "http://hl7.org/fhir/sid/ndc", "code": "0054-4297-25"}
    rxnorm = {"system": RXNORM, "code": "197417", "display": "furosemide 40 MG Oral Tablet"}
    local = {"system": "urn:oid:1.2.3.4", "code": "F40"}
    named = {"system": "urn:oid:1.2.3.5", "code": "F40", "display": "Furosemide 40mg tablets"}
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3", "p4")],
        "Medication.ndjson": [
            {"resourceType": "Medication", "id": "med-f", "code": {"coding": [ndc, rxnorm]}}
        ],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", {"coding": [ndc, rxnorm]}),
            medreq("m2", "p2", {"coding": [local, named]}),
            {k: v for k, v in medreq("m3", "p3", None).items() if k != "medicationCodeableConcept"}
            | {"medicationReference": {"reference": "Medication/med-f/_history/3"}},
            medreq("m4", "p4", {"coding": [ndc | {"display": "FUROSEMIDE 40MG TAB"}, rxnorm]}),
        ],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    files = run_small(tmp_path, resources)
    assert files["prescriptions"]["rows_rejected"] == 0
    got = rows(tmp_path, "SELECT patient_id, drug_name, rxnorm_code FROM prescriptions ORDER BY 1")
    assert got == [
        ("p1", "furosemide 40 MG Oral Tablet", "197417"),
        ("p2", "Furosemide 40mg tablets", None),
        ("p3", "furosemide 40 MG Oral Tablet", "197417"),
        ("p4", "FUROSEMIDE 40MG TAB", "197417"),
    ]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p1", "p2", "p3", "p4"}


def test_an_array_field_written_as_its_one_element_is_read_not_fatal(tmp_path):
    """Some exporters write a FHIR array field with one element as that element (`"category": {...}`,
    `"coding": {...}`, `"dosageInstruction": {...}`). One such resource failed the whole night (exit
    3, nothing loaded); each is read as the list of its one element. An array field written as text
    is read as absent, and the resource judged as one without it."""
    obs_k = obs("o1", "p1", "2823-3", 2.9, "mmol/L", "2026-11-01")
    obs_k["category"] = obs_k["category"][0]
    obs_na = obs("o2", "p1", "2951-2", 139, "mmol/L", "2026-11-01")
    obs_na["code"]["coding"] = obs_na["code"]["coding"][0]
    obs_text = obs("o3", "p2", "2823-3", 4.2, "mmol/L", "2026-11-01") | {"category": "laboratory"}
    ckd = {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "N18.4", "display": "CKD stage 4"}
    cond = coded("c1", "p2", []) | {"code": {"coding": ckd}}
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2")],
        "Observation.ndjson": [obs_k, obs_na, obs_text],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, dosageInstruction={"text": "one daily"}),
            medreq("m2", "p2", IBUPROFEN, "2026-11-01", dosageInstruction={"text": "one three times a day"}),
        ],
        "Condition.ndjson": [cond],
    }
    files = run_small(tmp_path, resources)
    assert sum(f["rows_rejected"] for f in files.values()) == 0
    got = rows(tmp_path, "SELECT patient_id, loinc_code, value_original FROM lab_results ORDER BY 1, 2")
    assert got == [("p1", "2823-3", 2.9), ("p1", "2951-2", 139.0), ("p2", "2823-3", 4.2)]
    assert rows(tmp_path, "SELECT patient_id, code FROM diagnoses") == [("p2", "N184")]
    assert flagged(tmp_path / "audit.duckdb", "nsaid_kidney_disease") == {"p2"}
    assert rows(tmp_path, "SELECT count(*) FROM prescriptions") == [(2,)]


def test_a_held_drug_is_stopped_and_an_intended_or_optional_one_is_no_prescription(tmp_path):
    """on-hold: the drug is paused (an NSAID is often held for the very CKD a check would flag it
    beside), read as stopped at its last update; a statement `intended` (not taken yet) and a request
    of intent `option` (one option of a request group, nobody's order) are skipped. A held long-term
    request with no window and no supply (p5) was taken from its start until it was held. As of
    2026-11-20."""
    ckd4 = ("http://hl7.org/fhir/sid/icd-10-cm", "N18.4", "Chronic kidney disease, stage 4")
    held = {"status": "on-hold", "meta": {"lastUpdated": "2026-11-10T09:00:00Z"}}
    window = {"validityPeriod": {"start": "2026-11-01", "end": "2027-05-01"}}
    statement = {
        "resourceType": "MedicationStatement", "id": "s3", "status": "intended",
        "medicationCodeableConcept": IBUPROFEN, "subject": {"reference": "Patient/p3"},
        "effectivePeriod": {"start": "2026-11-01"},
    }  # fmt: skip
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3", "p4", "p5")],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", IBUPROFEN, "2026-11-01", dispenseRequest=window) | held,
            medreq("m2", "p2", IBUPROFEN, "2026-11-01", intent="option"),
            medreq("m4", "p4", IBUPROFEN, "2026-11-01", dispenseRequest=window),  # active: flagged
            medreq("m5", "p5", IBUPROFEN, "2025-01-10") | held,
        ],
        "MedicationStatement.ndjson": [statement],
        "Condition.ndjson": [coded(f"c{p}", p, [ckd4]) for p in ("p1", "p2", "p3", "p4", "p5")],
    }
    files = run_small(tmp_path, resources)
    assert files["prescriptions"]["skip_reasons"] == {"intent option": 1, "status intended": 1}
    got = rows(tmp_path, "SELECT patient_id, end_date::VARCHAR, stopped FROM prescriptions ORDER BY 1")
    assert got == [("p1", "2026-11-10", True), ("p4", "2027-05-01", False), ("p5", "2026-11-10", True)]
    assert flagged(tmp_path / "audit.duckdb", "nsaid_kidney_disease") == {"p4"}


def test_code_systems_named_by_their_hl7_oids(tmp_path):
    """FHIR converted from C-CDA names code systems by HL7 OID: LOINC 2.16.840.1.113883.6.1, ICD-10-CM
    2.16.840.1.113883.6.90, RxNorm 2.16.840.1.113883.6.88. Read as the URIs are: the potassium and
    sodium count, the CKD stage 4 code is one, the drug's RxNorm code is read."""
    k = obs("o1", "p1", "2823-3", 4.1, "mmol/L", "2026-11-01")
    na = obs("o2", "p1", "2951-2", 139, "mmol/L", "2026-11-01")
    for o in (k, na):
        o["code"]["coding"][0]["system"] = "urn:oid:2.16.840.1.113883.6.1"
    ckd4 = ("urn:oid:2.16.840.1.113883.6.90", "N18.4", "Chronic kidney disease, stage 4")
    rx = {
        "coding": [
            {"system": "urn:oid:2.16.840.1.113883.6.88", "code": "197806", "display": "Ibuprofen 600 MG"}
        ]
    }
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2")],
        "Observation.ndjson": [k, na],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, "2026-10-01"),
            medreq("m2", "p2", rx, "2026-11-01"),
        ],
        "Condition.ndjson": [coded("c2", "p2", [ckd4])],
    }
    files = run_small(tmp_path, resources)
    assert sum(f["rows_rejected"] for f in files.values()) == 0
    assert rows(tmp_path, "SELECT DISTINCT loinc_code FROM lab_results ORDER BY 1") == [
        ("2823-3",),
        ("2951-2",),
    ]
    assert rows(tmp_path, "SELECT patient_id, rxnorm_code FROM prescriptions ORDER BY 1")[1] == (
        "p2",
        "197806",
    )
    assert flagged(tmp_path / "audit.duckdb", "nsaid_kidney_disease") == {"p2"}
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == set()


def test_a_panel_whose_results_are_its_components_gives_one_result_each(tmp_path):
    """Some HL7 v2 converters write a basic metabolic panel as one Observation with its results in
    component[] (no value of its own) rather than as hasMember Observations. Each component with a
    value is a result, named '<id>#<LOINC>': read as one result with no value, a diuretic user tested
    last week was flagged 'no potassium or sodium result'. A blood pressure (vital signs) with
    systolic and diastolic components is still one skipped Observation. A corrected panel replaces
    its components' results."""

    def component(loinc, value):
        return {"code": concept(LOINC, loinc), "valueQuantity": {"value": value, "unit": "mmol/L"}}

    def bmp(potassium):
        panel = obs("bmp1", "p1", "51990-0", None, None, "2026-11-10")
        del panel["valueQuantity"]
        return panel | {"component": [component("2823-3", potassium), component("2951-2", 139)]}

    bp = obs("bp1", "p1", "85354-9", None, None, "2026-11-10", VITAL)
    del bp["valueQuantity"]
    bp["component"] = [
        {"code": concept(LOINC, "8480-6"), "valueQuantity": {"value": 140, "unit": "mm[Hg]"}},
        {"code": concept(LOINC, "8462-4"), "valueQuantity": {"value": 85, "unit": "mm[Hg]"}},
    ]
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "Observation.ndjson": [bmp(2.9), bp],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE, "2026-06-01")],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    files = run_small(tmp_path, resources)
    assert files["labs"]["rows_loaded"] == 2
    assert files["labs"]["skip_reasons"] == {"not a laboratory observation (vital-signs)": 1}
    query = "SELECT result_id, loinc_code, value FROM labs ORDER BY 1"
    assert rows(tmp_path, query) == [("bmp1#2823-3", "2823-3", 2.9), ("bmp1#2951-2", "2951-2", 139.0)]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == set()
    # the next night's corrected panel: its potassium replaces the one before
    export = write_fhir(
        tmp_path / "export2", resources | {"Observation.ndjson": [bmp(4.2)]}, broken_line=False
    )
    night(tmp_path, "2026-11-21", export)
    assert rows(tmp_path, query) == [("bmp1#2823-3", "2823-3", 4.2), ("bmp1#2951-2", "2951-2", 139.0)]


def test_a_request_not_to_prescribe_is_skipped(tmp_path):
    """MedicationRequest.doNotPerform true says the drug must not be given: not a prescription. Nor is
    a proposal (decision support's suggestion, nobody's order yet); a plan (how EHRs record the
    patient's reported home medicines) is."""
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3", "p4")],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, doNotPerform=True),
            medreq("m2", "p2", FUROSEMIDE, doNotPerform=False),
            medreq("m3", "p3", FUROSEMIDE, intent="proposal"),
            medreq("m4", "p4", FUROSEMIDE, intent="plan"),
        ],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    files = run_small(tmp_path, resources)
    assert files["prescriptions"]["skip_reasons"] == {"doNotPerform true": 1, "intent proposal": 1}
    assert rows(tmp_path, "SELECT patient_id FROM prescriptions ORDER BY 1") == [("p2",), ("p4",)]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p2", "p4"}


def test_the_dosage_timing_bounds_end_the_course(tmp_path):
    """Epic writes an order's end in dosageInstruction.timing.repeat.boundsPeriod.end: the course
    ends there, before the dispensing window's end; a taper in two steps ends with its last step; a
    loading dose with an end followed by an open-ended maintenance step runs to the window's end."""
    window = {"validityPeriod": {"start": "2026-01-01", "end": "2027-01-01"}}

    def bounded(*ends: str) -> list[dict]:
        bounds = [{"boundsPeriod": {"start": "2026-01-01", "end": end}} for end in ends]
        return [{"sequence": i + 1, "timing": {"repeat": b}} for i, b in enumerate(bounds)]

    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3", "p4")],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, "2026-01-01", dispenseRequest=window,
                   dosageInstruction=bounded("2026-03-01")),
            medreq("m4", "p4", FUROSEMIDE, "2026-01-01", dispenseRequest=window,
                   dosageInstruction=[*bounded("2026-01-07"), {"sequence": 2, "text": "then 1 daily"}]),
            medreq("m2", "p2", FUROSEMIDE, "2026-01-01", dispenseRequest=window,
                   dosageInstruction=bounded("2026-02-01", "2026-04-15T10:00:00Z")),
            medreq("m3", "p3", FUROSEMIDE, "2026-01-01", dispenseRequest=window),
        ],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }  # fmt: skip
    run_small(tmp_path, resources)
    got = rows(tmp_path, "SELECT patient_id, end_date::VARCHAR FROM prescriptions ORDER BY 1")
    assert got == [("p1", "2026-03-01"), ("p2", "2026-04-15"), ("p3", "2027-01-01"), ("p4", "2027-01-01")]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p3", "p4"}


@pytest.mark.parametrize(
    "stray",
    [
        {"resourceType": "Group", "id": "g1", "type": "person", "actual": True},
        obs("o1", "p2", "2823-3", 4.1, "mmol/L", "2026-10-01"),
    ],
    ids=["a-type-not-read", "a-type-read"],
)
def test_a_patient_file_opening_with_another_type_is_read_as_its_name_says(tmp_path, stray):
    """A Patient file whose first line is a resource this profile does not read (a bulk export's
    Group) was passed over whole with exit 0, and one opening with an Observation was read as
    Observations: every death lost, a dead patient flagged. Read as its name says, the stray line is
    quarantined at line 1."""
    dead = patient("p1", "1950-01-01", "female") | {"deceasedDateTime": "2026-10-01"}
    resources = {
        "Patient.000.ndjson": [stray, dead, patient("p2", "1950-01-01", "male")],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE), medreq("m2", "p2", FUROSEMIDE)],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    files = run_small(tmp_path, resources)
    assert files["patients"]["rows_loaded"] == 2
    assert rows(tmp_path, "SELECT patient_id, death_date::VARCHAR FROM patients ORDER BY 1") == [
        ("p1", "2026-10-01"),
        ("p2", None),
    ]
    assert rows(tmp_path, "SELECT file, line, rule FROM quarantine") == [
        ("Patient.000.ndjson", 1, "other_resource_type")
    ]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p2"}


def test_a_lower_case_name_types_the_file_as_its_patient_file(tmp_path):
    """Names match in any case, as every other profile's do: 'patient.ndjson' opening with a cut
    line was refused (exit 3) where 'Patient.ndjson' had the line quarantined and the rest read."""
    dead = patient("p1", "1950-01-01", "female") | {"deceasedDateTime": "2026-10-01"}
    export = write_fhir(
        tmp_path / "export",
        {
            "patient.ndjson": [dead, patient("p2", "1950-01-01", "male")],
            "Observation.ndjson": [obs("ox", "p0", "8867-4", 72, "/min", "2026-10-02", VITAL)],
            "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE), medreq("m2", "p2", FUROSEMIDE)],
            "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
        },
        broken_line=False,
    )
    path = export / "patient.ndjson"
    path.write_text('{"resourceType": "Patient", "id": "p3", "birthDa\n' + path.read_text(), encoding="utf-8")
    assert run(tmp_path, export, "--reject-threshold", "1") == 0
    held = rows(tmp_path, "SELECT file, line, rule FROM quarantine")
    assert held == [("patient.ndjson", 1, "malformed_json")]
    assert rows(tmp_path, "SELECT patient_id FROM patients ORDER BY 1") == [("p1",), ("p2",)]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p2"}


def test_a_file_of_one_type_named_as_another_is_read_as_its_resources_say(tmp_path, capsys):
    """MedicationRequests saved as `medication.ndjson` (the name names Medication, the lookup type)
    are read as requests: when name and first resource disagree, the commoner type among the
    file's first lines wins. Read as its name says, every request was quarantined."""
    requests = [medreq(f"m{i}", p, FUROSEMIDE) for i, p in enumerate(("p1", "p2", "p3"))]
    resources = {
        "medication.ndjson": requests,
        "Patient.ndjson": [patient(p, "1950-01-01", "male") for p in ("p1", "p2", "p3")],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    files = run_small(tmp_path, resources)
    assert files["prescriptions"]["rows_loaded"] == 3 and files["prescriptions"]["rows_rejected"] == 0
    err = capsys.readouterr().err
    assert "medication.ndjson: its name says Medication but its first resource is of type" in err, err
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p1", "p2", "p3"}


def test_a_misnamed_file_is_reported_once_when_the_format_is_detected(tmp_path, capsys):
    """Detecting the format looks at each file's type too; the name-and-content disagreement is
    logged by the run's read only, not a second time by the look that chose the format."""
    resources = {
        "Observation.ndjson": [obs("ox", "p1", "8867-4", 72, "/min", "2026-10-02", VITAL)],
        "medication.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
        "Patient.ndjson": [patient("p1", "1950-01-01", "male")],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    export = write_fhir(tmp_path / "export", resources, broken_line=False)
    assert run(tmp_path, export) == 0
    err = capsys.readouterr().err
    assert err.count("medication.ndjson: its name says Medication") == 1, err


def test_a_missing_types_error_names_the_file_that_starts_with_it(tmp_path, capsys):
    """A Patient file opening with the export's only Observation is read as Patients (the commoner
    type in it); the run then has no Observation file, and the error says which file began with one."""
    export = write_fhir(
        tmp_path / "export",
        {
            "Patient.000.ndjson": [
                obs("o1", "p1", "2823-3", 4.1, "mmol/L", "2026-10-01"),
                patient("p1", "1950-01-01", "female"),
                patient("p2", "1950-01-01", "male"),
            ],
            "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
            "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
        },
        broken_line=False,
    )
    assert run(tmp_path, export) == 3
    err = capsys.readouterr().err
    assert "no Observation file" in err, err
    assert "Patient.000.ndjson starts with a resource of type Observation but its name names another" in err


def test_a_file_gzip_compressed_under_a_plain_name_is_refused_saying_so(tmp_path, capsys):
    """Bulk data downloaded with gzip transfer encoding and saved as .ndjson was refused as 'lines
    ending in CR alone' or as binary data, depending on the bytes its header happened to hold."""
    export = write_fhir(tmp_path / "export", broken_line=False)
    plain = export / "1.Patient.ndjson"
    (export / "1.Patient.ndjson.gz").rename(plain)  # the compressed bytes under a plain name
    assert run(tmp_path, export) == 3
    err = capsys.readouterr().err
    assert "1.Patient.ndjson: the file is gzip-compressed but its name does not end in .gz" in err, err
    assert "Traceback" not in err


def test_absolute_and_versioned_subject_references_name_the_patient(tmp_path):
    """The Bulk Data IG lets a server write references absolute, rooted in its base URL, and R4 lets a
    reference name a version: both are the patient's, where 'Patient/<id>' alone quarantined every
    row of such an export. A 'urn:uuid:' reference (a transaction bundle's) names no Patient id."""
    base = "https://ehr.example.org/fhir"
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "Observation.ndjson": [
            obs(f"o{i}", "p1", "2823-3", 4.0 + i / 10, "mmol/L", "2026-10-01")
            | {"subject": {"reference": ref}}
            for i, ref in enumerate((f"{base}/Patient/p1", "Patient/p1/_history/3", "urn:uuid:p1"))
        ],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE) | {"subject": {"reference": f"{base}/Patient/p1"}}
        ],
        "Condition.ndjson": [
            coded("c1", "p1", [NUMB_LEG]) | {"subject": {"reference": "Patient/p1/_history/1"}}
        ],
    }
    files = run_small(tmp_path, resources)
    assert (files["labs"]["rows_loaded"], files["labs"]["rows_rejected"]) == (2, 1)
    assert rows(tmp_path, "SELECT column_name, rule FROM quarantine") == [("patient_id", "required")]
    assert rows(tmp_path, "SELECT patient_id FROM prescriptions") == [("p1",)]
    assert rows(tmp_path, "SELECT patient_id FROM diagnoses") == [("p1",)]


def test_an_integer_result_keeps_its_value(tmp_path):
    """R4's Observation.value[x] has valueInteger beside valueQuantity and valueString: a result
    sent as one was loaded with no value, a test done whose result is lost to every check."""
    result = obs("o1", "p1", "2823-3", 4, "mmol/L", "2026-10-01")
    del result["valueQuantity"]
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "Observation.ndjson": [result | {"valueInteger": 4}],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    run_small(tmp_path, resources)
    assert rows(tmp_path, "SELECT loinc_code, value FROM labs") == [("2823-3", 4.0)]


def test_the_ucum_code_of_a_quantity_wins_over_its_display_unit(tmp_path):
    """Quantity.unit is the human-readable unit and code (in system UCUM) the machine one: an EHR
    that writes 'millimole per liter' beside the code 'mmol/L' had every result quarantined for an
    unknown unit (review 2026-12-03). A unit the tool knows is taken from either; the code first."""
    ucum = "http://unitsofmeasure.org"
    potassium = obs("o1", "p1", "2823-3", 4.2, "millimole per liter", "2026-10-01")
    potassium["valueQuantity"] |= {"system": ucum, "code": "mmol/L"}
    creatinine = obs("o2", "p1", "2160-0", 1.2, "milligram per deciliter", "2026-10-01")
    creatinine["valueQuantity"] |= {"system": ucum, "code": "mg/dL"}
    local = obs("o3", "p1", "2951-2", 139, "mmol/L", "2026-10-01")  # a local code, a known display
    local["valueQuantity"] |= {"system": "urn:local:units", "code": "MMOLL"}
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "Observation.ndjson": [potassium, creatinine, local],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }
    run_small(tmp_path, resources)
    assert rows(tmp_path, "SELECT analyte, value, unit, unit_original FROM labs ORDER BY analyte") == [
        ("creatinine", 106.0, "umol/L", "mg/dL"),
        ("potassium", 4.2, "mmol/L", "mmol/L"),
        ("sodium", 139.0, "mmol/L", "mmol/L"),
    ]
    assert rows(tmp_path, "SELECT count(*) FROM quarantine") == [(0,)]


def test_an_amended_observation_replaces_the_version_before_and_one_entered_in_error_withdraws_it(tmp_path):
    """An Observation is one result by its id. Night 2's amended version (a new meta.versionId, the
    eGFR 38 corrected to 78) replaces night 1's, so the NSAID user is no longer flagged; night 3's
    entered-in-error version withdraws the result; night 4's final version brings it back. Another
    Observation of the same patient, not sent again, stays."""
    ibuprofen = concept(RXNORM, "197806", "ibuprofen 400 MG Oral Tablet")
    supply = {"dispenseRequest": {"expectedSupplyDuration": {"value": 28, "unit": "days", "code": "d"}}}

    def export(name, value, status, version):
        egfr = obs("e1", "p1", "62238-1", value, "mL/min/{1.73_m2}", "2026-10-30T09:00:00Z", status=status)
        egfr["meta"] = {"versionId": version, "lastUpdated": f"2026-11-0{version}T06:00:00Z"}
        return write_fhir(
            tmp_path / name,
            {
                "Patient.ndjson": [patient("p1", "1950-03-01", "female")],
                "Observation.ndjson": [egfr] if name != "n1" else
                [egfr, obs("k1", "p1", "2823-3", 4.1, "mmol/L", "2026-10-29T09:00:00Z")],
                "MedicationRequest.ndjson": [medreq("m1", "p1", ibuprofen, "2026-10-20", **supply)],
                "Condition.ndjson": [condition("c1", "p1", SCT, "38341003", "2020-01-01")],
            },
            broken_line=False,
        )  # fmt: skip

    db = tmp_path / "audit.duckdb"

    def current():
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute("SELECT analyte, value FROM labs ORDER BY analyte").fetchall()

    night(tmp_path, "2026-11-02", export("n1", 38, "final", 1))
    assert current() == [("egfr", 38.0), ("potassium", 4.1)]
    assert flagged(db, "nsaid_kidney_disease") == {"p1"}
    night(tmp_path, "2026-11-03", export("n2", 78, "amended", 2))
    assert current() == [("egfr", 78.0), ("potassium", 4.1)]
    assert flagged(db, "nsaid_kidney_disease") == set()
    night(tmp_path, "2026-11-04", export("n3", 38, "entered-in-error", 3))
    assert current() == [("potassium", 4.1)]
    night(tmp_path, "2026-11-05", export("n4", 38, "final", 4))
    assert current() == [("egfr", 38.0), ("potassium", 4.1)]
    assert flagged(db, "nsaid_kidney_disease") == {"p1"}
    assert rows(tmp_path, "SELECT count(*) FROM lab_results") == [(3,)]  # every version kept


def test_a_medication_request_is_one_prescription_by_its_id_and_one_entered_in_error_withdraws_it(tmp_path):
    """A MedicationRequest is one prescription by its id (its type with it: p2's MedicationStatement
    m2 shares the request's id, and is not withdrawn with it, nor keeps it from being withdrawn).
    Night 2 sends m1 recoded (a new RxNorm concept, the same ibuprofen) and stopped on 20
    September: it replaces night 1's open request, so the CKD patient is no longer flagged (read as
    a new prescription beside the old, the open one ran on). Night 3 sends m2 entered-in-error:
    withdrawn from the audit; night 4 sends it active again: back."""
    old = concept(RXNORM, "197805", "Ibuprofen 400 MG Oral Tablet")
    recoded = concept(RXNORM, "310965", "ibuprofen 400 MG Oral Tablet")
    statement = {
        "resourceType": "MedicationStatement", "id": "m2", "status": "active",
        "medicationCodeableConcept": concept(RXNORM, "197361", "amlodipine 5 MG Oral Tablet"),
        "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2026-09-01",
    }  # fmt: skip

    def export(name, m1, m1_status, m2_status):
        m1_end = {} if m1_status == "active" else {"meta": {"lastUpdated": "2026-09-20T06:00:00Z"}}
        return write_fhir(
            tmp_path / name,
            {
                "Patient.ndjson": [patient("p1", "1950-03-01", "female"),
                                   patient("p2", "1948-05-01", "male")],
                "Observation.ndjson": [obs("k1", "p1", "2823-3", 4.1, "mmol/L", "2026-10-29T09:00:00Z")],
                "MedicationRequest.ndjson": [
                    medreq("m1", "p1", m1, "2026-09-01", status=m1_status, **m1_end),
                    medreq("m2", "p2", old, "2026-09-01", status=m2_status),
                ],
                "MedicationStatement.ndjson": [statement],
                "Condition.ndjson": [condition("c1", "p1", ICD10, "N18.4", "2020-01-01"),
                                     condition("c2", "p2", ICD10, "N18.4", "2020-01-01")],
            },
            broken_line=False,
        )  # fmt: skip

    db = tmp_path / "audit.duckdb"

    def current():
        return rows(
            tmp_path,
            "SELECT prescription_id, rxnorm_code, end_date::VARCHAR FROM current_prescriptions ORDER BY 1",
        )

    night(tmp_path, "2026-11-02", export("n1", old, "active", "active"))
    assert current() == [
        ("MedicationRequest/m1", "197805", None),
        ("MedicationRequest/m2", "197805", None),
        ("MedicationStatement/m2", "197361", None),
    ]
    assert flagged(db, "nsaid_kidney_disease") == {"p1", "p2"}
    night(tmp_path, "2026-11-03", export("n2", recoded, "stopped", "active"))
    assert current()[0] == ("MedicationRequest/m1", "310965", "2026-09-20")
    assert flagged(db, "nsaid_kidney_disease") == {"p2"}
    night(tmp_path, "2026-11-04", export("n3", recoded, "stopped", "entered-in-error"))
    assert [r[0] for r in current()] == ["MedicationRequest/m1", "MedicationStatement/m2"]
    assert flagged(db, "nsaid_kidney_disease") == set()
    night(tmp_path, "2026-11-05", export("n4", recoded, "stopped", "active"))
    assert [r[0] for r in current()] == [
        "MedicationRequest/m1",
        "MedicationRequest/m2",
        "MedicationStatement/m2",
    ]
    assert flagged(db, "nsaid_kidney_disease") == {"p2"}
    assert rows(tmp_path, "SELECT count(*) FROM prescriptions") == [(4,)]  # every version kept


CIRRHOSIS = [(SCT, "19943007", "Cirrhosis of liver"), (ICD10, "K74.60", "Unspecified cirrhosis of liver")]


def cramps_with_liver(folder, livers):
    """An export of p1 and p2, each with a cramp this October (p1 on gabapentin, with a potassium),
    and `livers`: their liver Conditions (cramps_cirrhosis flags a cramp with cirrhosis)."""
    return write_fhir(
        folder,
        {
            "Patient.ndjson": [patient("p1", "1950-03-01", "female"), patient("p2", "1948-05-01", "male")],
            "Observation.ndjson": [obs("k1", "p1", "2823-3", 4.1, "mmol/L", "2026-10-29T09:00:00Z")],
            "MedicationRequest.ndjson": [medreq("m1", "p1", GABAPENTIN)],
            "Condition.ndjson": [
                *livers,
                condition("c3", "p1", SCT, "55300003", "2026-10-01"),
                condition("c4", "p2", SCT, "55300003", "2026-10-01"),
            ],
        },
        broken_line=False,
    )


def test_a_condition_later_entered_in_error_or_refuted_leaves_the_audit(tmp_path):
    """p1's cirrhosis (coded in SNOMED CT and ICD-10-CM) with a cramp is flagged on night 1; night 2
    sends the Condition entered-in-error: both its diagnoses are withdrawn (kept, superseded), so
    the cramp is no cramp with cirrhosis; night 3 sends it confirmed again: back. p2's cirrhosis,
    refuted on night 2, stays out."""
    ver_status = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

    def export(name, p1_status, p2_status):
        def liver(cid, pid, status):
            return coded(
                cid, pid, CIRRHOSIS, onset="2024-01-10", verificationStatus=concept(ver_status, status)
            )

        return cramps_with_liver(
            tmp_path / name, [liver("c1", "p1", p1_status), liver("c2", "p2", p2_status)]
        )

    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", export("n1", "confirmed", "confirmed"))
    assert flagged(db, "cramps_cirrhosis") == {"p1", "p2"}
    night(tmp_path, "2026-11-03", export("n2", "entered-in-error", "refuted"))
    assert flagged(db, "cramps_cirrhosis") == set()
    superseded = "SELECT patient_id, code FROM diagnoses WHERE _superseded ORDER BY ALL"
    assert rows(tmp_path, superseded) == [
        ("p1", "19943007"),
        ("p1", "K7460"),
        ("p2", "19943007"),
        ("p2", "K7460"),
    ]
    night(tmp_path, "2026-11-04", export("n3", "confirmed", "refuted"))
    assert flagged(db, "cramps_cirrhosis") == {"p1"}
    assert rows(tmp_path, "SELECT count(*) FROM diagnoses") == [(6,)]  # nothing stored twice


def test_a_condition_recoded_under_its_id_replaces_every_coding_it_had(tmp_path):
    """p1's Condition c1, coded cirrhosis in SNOMED CT and ICD-10-CM, is recoded the next night to
    fatty liver (SNOMED CT only): both cirrhosis rows are replaced, so the cramp is no cramp with
    cirrhosis. p2's cirrhosis, c2, of the same codes and onset, is another Condition and stays."""
    fatty_liver = [(SCT, "197321007", "Steatosis of liver")]

    def export(name, p1_codings):
        livers = [
            coded("c1", "p1", p1_codings, onset="2024-01-10"),
            coded("c2", "p2", CIRRHOSIS, onset="2024-01-10"),
        ]
        return cramps_with_liver(tmp_path / name, livers)

    db = tmp_path / "audit.duckdb"
    night(tmp_path, "2026-11-02", export("n1", CIRRHOSIS))
    assert flagged(db, "cramps_cirrhosis") == {"p1", "p2"}
    night(tmp_path, "2026-11-03", export("n2", fatty_liver))
    assert flagged(db, "cramps_cirrhosis") == {"p2"}
    liver = (
        "SELECT patient_id, code, diagnosis_id, _superseded FROM diagnoses "
        "WHERE code <> '55300003' ORDER BY ALL"
    )
    assert rows(tmp_path, liver) == [
        ("p1", "197321007", "c1", False),
        ("p1", "19943007", "c1", True),
        ("p1", "K7460", "c1", True),
        ("p2", "19943007", "c2", False),
        ("p2", "K7460", "c2", False),
    ]


def test_a_coding_dropped_leaves_the_condition_only_what_it_says_and_a_local_recode_changes_nothing(
    tmp_path,
):
    """p1's c1 is coded fatty liver and cirrhosis (ICD-10-CM) on night 1; night 2 drops the cirrhosis
    coding (no row is added, yet the cirrhosis row is no longer stated); night 3 sends c1 coded in a
    local code only: skipped, and what is stored of it stays (a server whose code systems changed in
    the export would otherwise lose every diagnosis); night 4 codes it cirrhosis again."""
    local = [("http://example.org/local-codes", "LIV-7", "Liver disease")]
    cirrhosis = [(ICD10, "K74.60", "Unspecified cirrhosis of liver")]
    both = [(ICD10, "K76.0", "Fatty liver"), *cirrhosis]

    def export(name, p1_codings):
        return cramps_with_liver(tmp_path / name, [coded("c1", "p1", p1_codings, onset="2024-01-10")])

    db = tmp_path / "audit.duckdb"
    current = "SELECT code FROM current_diagnoses WHERE diagnosis_id = 'c1' ORDER BY ALL"
    expected = [(both, {"p1"}, ["K7460", "K760"]), (both[:1], set(), ["K760"]), (local, set(), ["K760"])]
    for n, (codings, flags, codes) in enumerate([*expected, (cirrhosis, {"p1"}, ["K7460"])]):
        night(tmp_path, f"2026-11-0{n + 2}", export(f"n{n}", codings))
        assert (flagged(db, "cramps_cirrhosis"), [c for (c,) in rows(tmp_path, current)]) == (flags, codes)
    assert rows(tmp_path, "SELECT count(*) FROM diagnoses WHERE diagnosis_id = 'c1'") == [(2,)]


def test_a_requests_repeats_are_part_of_its_supply(tmp_path):
    """dispenseRequest.numberOfRepeatsAllowed counts the dispenses allowed after the first, each of
    expectedSupplyDuration (R4); initialFill.duration, when given, is the first one's. An active
    furosemide order of 30 days with 5 repeats, written in June, is still being taken on 20 November
    (180 days): read as its first 30 days, the patient was off it by August and never audited. A
    repeat count that is no whole number of at least 0 ('NaN', 'Infinity' too) counts as none; repeats
    count to ten years at most; a stated end governs, the supply then the first dispense."""
    month = {
        "expectedSupplyDuration": {
            "value": 30,
            "unit": "days",
            "system": "http://unitsofmeasure.org",
            "code": "d",
        }
    }
    four_weeks = {"expectedSupplyDuration": {"value": 28, "unit": "d"}}

    def repeats(n):
        return month | {"numberOfRepeatsAllowed": n}

    resources = {
        "Patient.ndjson": [patient(f"p{i}", "1950-01-01", "female") for i in range(1, 11)],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", FUROSEMIDE, "2026-06-01", dispenseRequest=repeats(5)),
            medreq("m2", "p2", FUROSEMIDE, "2026-06-01", dispenseRequest=month),
            medreq("m3", "p3", FUROSEMIDE, "2026-10-01",
                   dispenseRequest=four_weeks | {"initialFill": {"duration": {"value": 7, "unit": "days"}},
                                                 "numberOfRepeatsAllowed": 2}),
            medreq("m4", "p4", FUROSEMIDE, "2026-06-01", dispenseRequest=repeats(-1)),
            medreq("m5", "p5", FUROSEMIDE, "2026-06-01", dispenseRequest=repeats(2.5)),
            medreq("m6", "p6", FUROSEMIDE, "2026-06-01", dispenseRequest={"numberOfRepeatsAllowed": 5}),
            medreq("m7", "p7", FUROSEMIDE, "2026-06-01", dispenseRequest=repeats("NaN")),
            medreq("m8", "p8", FUROSEMIDE, "2026-06-01", dispenseRequest=repeats("Infinity")),
            # a template's 99 repeats of 90 days: ten years at most, the longest supply read
            medreq("m9", "p9", FUROSEMIDE, "2026-06-01",
                   dispenseRequest={"expectedSupplyDuration": {"value": 90, "unit": "d"},
                                    "numberOfRepeatsAllowed": 99}),
            # an end stated (the dispensing window's): it governs, the supply is the first dispense
            medreq("m10", "p10", FUROSEMIDE, "2026-06-01",
                   dispenseRequest=repeats(12) | {"validityPeriod": {"start": "2026-06-01",
                                                                     "end": "2027-05-31"}}),
        ],
        "Condition.ndjson": [coded("c1", "p1", [NUMB_LEG])],
    }  # fmt: skip
    run_small(tmp_path, resources)
    got = rows(tmp_path, "SELECT patient_id, days_supply, end_effective::VARCHAR FROM prescriptions")
    assert sorted(got, key=lambda r: int(r[0][1:])) == [
        ("p1", 180, "2026-11-28"), ("p2", 30, "2026-07-01"), ("p3", 63, "2026-12-03"),
        ("p4", 30, "2026-07-01"), ("p5", 30, "2026-07-01"), ("p6", None, None),
        ("p7", 30, "2026-07-01"), ("p8", 30, "2026-07-01"), ("p9", 3650, "2036-05-29"),
        ("p10", 30, "2027-05-31"),
    ]  # fmt: skip
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") >= {"p1", "p3"}
    assert not flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") & {"p2", "p4", "p5"}


@pytest.mark.parametrize("content", ["", "\n"], ids=["no bytes", "a blank line"])
def test_an_empty_file_of_a_required_type_is_an_export_with_none_of_it(tmp_path, content):
    """The Bulk Data IG writes no resources of a type as an empty (or no) file: an empty
    Condition.000.ndjson is a night with no Conditions, not a missing file (it was refused, exit 3,
    naming a Condition.ndjson that does not exist)."""
    export = write_fhir(
        tmp_path / "export", {k: v for k, v in RESOURCES.items() if not k.startswith("Condition")}
    )
    (export / "Condition.000.ndjson").write_text(content, encoding="utf-8")
    assert run(tmp_path, export, "--format", "fhir") == 0
    files = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["files"]
    assert (files["diagnoses"]["rows_read"], files["diagnoses"]["rows_rejected"]) == (0, 0)
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring")  # the rest is audited


def test_a_drug_coded_without_any_display_or_text_loads_by_its_code(tmp_path):
    """R4 makes Coding.display and CodeableConcept.text optional: a request coded only by RxNorm (p1)
    or ATC (p2) is named by that code and matched by it, not rejected for an empty name (the diuretic
    user then left the check); one coded only in another system (p3, an NDC) is named as a FHIR token
    (system|code) and loads, for the unmatched-code list to show."""
    ndc = {"system": "http://hl7.org/fhir/sid/ndc", "code": "0054-4297-25"}
    atc = {"system": "http://www.whocc.no/atc", "code": "C03CA01"}
    resources = {
        "Patient.ndjson": [patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3")],
        "MedicationRequest.ndjson": [
            medreq("m1", "p1", {"coding": [{"system": RXNORM, "code": "4603"}]}),
            medreq("m2", "p2", {"coding": [atc]}),
            medreq("m3", "p3", {"coding": [ndc]}),
        ],
        "Condition.ndjson": [],
    }
    files = run_small(tmp_path, resources)
    assert files["prescriptions"]["rows_rejected"] == 0
    got = rows(tmp_path, "SELECT patient_id, drug_name, rxnorm_code, atc_code FROM prescriptions ORDER BY 1")
    assert got == [
        ("p1", "RxNorm 4603", "4603", None),
        ("p2", "ATC C03CA01", None, "C03CA01"),
        ("p3", "http://hl7.org/fhir/sid/ndc|0054-4297-25", None, None),
    ]
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p1", "p2"}


DELETE_BUNDLE = {
    "resourceType": "Bundle", "type": "transaction",
    "entry": [{"request": {"method": "DELETE", "url": "MedicationRequest/m1"}}],
}  # fmt: skip


@pytest.mark.parametrize("name", ["del_file_1.ndjson", "MedicationRequest.deleted.ndjson"])
def test_deletions_an_export_since_a_date_lists_are_warned_of_not_passed_over(tmp_path, name):
    """A Bulk Data export since a date lists the resources deleted at the source as Bundles of DELETE
    requests (manifest `deleted`). They are not applied (a fact is known by its patient, which they
    do not name): the run loads the rest and says so in its warnings, naming the file, rather than
    keep a deleted order's flags without a word."""
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
        "Condition.ndjson": [],
        name: [DELETE_BUNDLE],
    }
    export = write_fhir(tmp_path / "export", resources | {"Observation.ndjson": []}, broken_line=False)
    assert run(tmp_path, export, "--format", "fhir", "--reject-threshold", "0.05") == 0  # the default
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["files"]["prescriptions"]["rows_rejected"] == 0  # a Bundle is no request to reject
    said = [w for w in summary["warnings"] if "deleted at the source" in w]
    assert len(said) == 1 and said[0].startswith(f"{name}: the export lists resources deleted")
    assert flagged(tmp_path / "audit.duckdb", "diuretic_electrolyte_monitoring") == {"p1"}


def test_a_manifests_deleted_list_alone_is_warned_of(tmp_path):
    resources = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "MedicationRequest.ndjson": [medreq("m1", "p1", FUROSEMIDE)],
        "Condition.ndjson": [],
    }
    export = write_fhir(tmp_path / "export", resources | {"Observation.ndjson": []}, broken_line=False)
    (export / "manifest.json").write_text(
        json.dumps({"transactionTime": "2026-11-20T00:00:00Z", "output": [],
                    "deleted": [{"type": "Bundle", "url": "https://ehr.example/del_file_1.ndjson"}]}),
        encoding="utf-8",
    )  # fmt: skip
    assert run(tmp_path, export, "--format", "fhir") == 0
    warnings = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))["warnings"]
    assert next(w for w in warnings if "deleted at the source" in w).startswith("manifest.json: ")


@pytest.mark.parametrize("pretty", [True, False])
def test_a_folder_of_bundles_is_refused_saying_what_to_export(tmp_path, capsys, pretty):
    """Synthea's default FHIR output is one transaction Bundle .json per patient: not Bulk Data NDJSON.
    The refusal (exit 3, detected or named) says so and how to get NDJSON."""
    export = tmp_path / "export"
    export.mkdir()
    entry = {"fullUrl": "urn:uuid:1", "resource": patient("p1", "1950-01-01", "female")}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    (export / "Ada_Lovelace_1.json").write_text(
        json.dumps(bundle, indent=2 if pretty else None), encoding="utf-8"
    )
    for extra in ((), ("--format", "fhir")):
        assert run(tmp_path, export, *extra) == 3
        err = capsys.readouterr().err
        assert "FHIR Bundles" in err and "exporter.fhir.bulk_data = true" in err and "Traceback" not in err
