"""Site and clinician breakdowns of the monthly measures (issue #19): the generic format's optional
site_id and clinician_id, OMOP's person.care_site_id / provider_id, FHIR's
Patient.managingOrganization / generalPractitioner; the funnel plot with several sites."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb

from tests.functional.test_format_fhir import RESOURCES, write_fhir
from tests.functional.test_format_omop import CDM, write_cdm
from tests.helpers import cli, run_args, table, write_export

# 24 patients on ibuprofen through October 2026 at three sites; at north and south one in four has
# CKD stage 3 coded, at east three in four: east is the outlier.
PATIENTS, PRESCRIPTIONS, DIAGNOSES = [], [], []
for n in range(24):
    site = ("north", "south", "east")[n % 3]
    pid = f"P{n:02d}"
    PATIENTS.append(
        {"patient_id": pid, "birth_date": f"19{40 + n}-05-01", "sex": "FM"[n % 2], "site_id": site,
         "clinician_id": f"dr-{n % 2}"}
    )  # fmt: skip
    PRESCRIPTIONS.append(
        {"patient_id": pid, "drug_name": "ibuprofen 400 mg tablet", "atc_code": "M01AE01",
         "start_date": "2026-08-15", "days_supply": "90"}
    )  # fmt: skip
    if (site == "east" and n % 4 != 0) or (site != "east" and n % 4 == 0):
        DIAGNOSES.append(
            {"patient_id": pid, "code": "N18.30", "code_system": "ICD-10-CM", "recorded_at": "2025-01-10"}
        )


def measures(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_generic_site_and_clinician_breakdowns_and_the_funnel_plot(tmp_path):
    export = write_export(
        tmp_path / "export", patients=PATIENTS, prescriptions=PRESCRIPTIONS, diagnoses=DIAGNOSES
    )
    assert cli(*run_args(tmp_path, export, "--scheduled", "--reject-threshold", "1")) == 0
    db = tmp_path / "audit.duckdb"
    sites = measures(
        db,
        "SELECT group_value, population, flagged FROM measures WHERE check_id = 'nsaid_kidney_disease' "
        "AND month_end = '2026-10-31' AND breakdown = 'site' ORDER BY 1",
    )
    assert sites == [("east", 8, 6), ("north", 8, 2), ("south", 8, 2)]
    clinicians = measures(
        db,
        "SELECT group_value, population FROM measures WHERE check_id = 'nsaid_kidney_disease' "
        "AND month_end = '2026-10-31' AND breakdown = 'clinician' ORDER BY 1",
    )
    assert clinicians == [("dr-0", 12), ("dr-1", 12)]
    assert measures(
        db,
        "SELECT population, flagged FROM measures WHERE check_id = 'nsaid_kidney_disease' "
        "AND month_end = '2026-10-31' AND breakdown = 'total'",
    ) == [(24, 10)]
    # before the prescriptions started, nobody is in the population, at any site
    assert measures(
        db,
        "SELECT population FROM measures "
        "WHERE check_id = 'nsaid_kidney_disease' AND month_end = '2026-07-31'",
    ) == [(0,)]
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    section = report.split('id="check-nsaid_kidney_disease"', 1)[1].split("</section>", 1)[0]
    assert "Sites compared" in section and "site east: 6 of 8 (75.0%)" in section
    shared = (tmp_path / "out" / "measures_shared.csv").read_text(encoding="utf-8-sig")
    assert "nsaid_kidney_disease,2026-10-31,site,east,,,,true" in shared  # 6 flagged, 2 not: small


def test_omop_care_site_and_provider_become_site_and_clinician(tmp_path):
    rows = table(CDM["person"])
    header = [*rows[0], "care_site_id", "provider_id"]
    lines = [",".join(header)] + [",".join([*r.values(), f"cs{int(r['person_id']) % 2}", "77"]) for r in rows]
    export = write_cdm(tmp_path / "export", person="\n".join(lines) + "\n")
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    state = measures(
        tmp_path / "audit.duckdb", "SELECT patient_id, site_id, clinician_id FROM patient_state ORDER BY 1"
    )
    assert state[:2] == [("1", "cs1", "77"), ("2", "cs0", "77")]


def test_fhir_managing_organization_and_general_practitioner(tmp_path):
    resources = json.loads(json.dumps(RESOURCES))
    patients = next(k for k in resources if "Patient" in k)
    resources[patients][0]["managingOrganization"] = {"reference": "Organization/clinic-a"}
    resources[patients][0]["generalPractitioner"] = [{"reference": "Practitioner/gp-7"}]
    resources[patients][1]["managingOrganization"] = {"identifier": {"value": "clinic-b"}}
    export = write_fhir(tmp_path / "export", resources, broken_line=False)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    state = dict(
        (r[0], r[1:])
        for r in measures(
            tmp_path / "audit.duckdb", "SELECT patient_id, site_id, clinician_id FROM patient_state"
        )
    )
    assert state["p1"] == ("Organization/clinic-a", "Practitioner/gp-7")
    assert state["p2"] == ("clinic-b", None)
    assert state["p3"] == (None, None)


def test_fhir_clinician_is_the_latest_prescriber_without_a_general_practitioner(tmp_path):
    """Synthea's bulk FHIR Patients name no generalPractitioner, and its MedicationRequests carry a
    conditional requester reference: the clinician of a patient without a GP is the requester of
    their latest request (a cancelled one names nobody); a named GP wins."""
    resources = json.loads(json.dumps(RESOURCES))
    patients = next(k for k in resources if "Patient" in k)
    requests = next(k for k in resources if "MedicationRequest" in k)
    resources[patients][1]["generalPractitioner"] = [{"reference": "Practitioner/gp-7"}]
    npi = "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|"
    template = resources[requests][0]
    for rid, pid, authored, who, status in [
        ("r1", "p1", "2025-01-05T10:00:00-03:00", "9999925990", "completed"),
        ("r2", "p1", "2026-03-01T10:00:00-03:00", "9999931111", "active"),
        ("r3", "p1", "2026-06-01T10:00:00-03:00", "9999940000", "cancelled"),
        ("r4", "p2", "2026-06-01T10:00:00-03:00", "9999925990", "active"),
    ]:
        resources[requests].append(
            dict(template, id=rid, subject={"reference": f"Patient/{pid}"}, authoredOn=authored,
                 status=status, requester={"reference": npi + who, "display": "Dr. X"})
        )  # fmt: skip
    export = write_fhir(tmp_path / "export", resources, broken_line=False)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    state = dict(
        (r[0], r[1])
        for r in measures(tmp_path / "audit.duckdb", "SELECT patient_id, clinician_id FROM patient_state")
    )
    assert state["p1"] == npi + "9999931111"
    assert state["p2"] == "Practitioner/gp-7"
    assert state["p3"] is None
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["files"]["patients"]["file"] == "1.Patient.ndjson.gz"  # the requests are not its file


def test_age_band_is_taken_at_each_month_end(tmp_path):
    """A patient turning 65 on 2026-09-15 is 40-64 at the end of August and 65-74 at the end of
    September."""
    export = write_export(
        tmp_path / "export",
        patients=[{"patient_id": "A", "birth_date": "1961-09-15", "sex": "F"}],
        prescriptions=[
            {"patient_id": "A", "drug_name": "ibuprofen", "atc_code": "M01AE01", "start_date": "2026-08-01",
             "days_supply": "120"}
        ],
    )  # fmt: skip
    assert cli(*run_args(tmp_path, export, "--scheduled", "--reject-threshold", "1")) == 0
    bands = measures(
        tmp_path / "audit.duckdb",
        "SELECT month_end, group_value FROM measures WHERE check_id = 'nsaid_kidney_disease' "
        "AND breakdown = 'age_band' ORDER BY 1",
    )
    assert bands == [
        (date(2026, 8, 31), "40-64"),
        (date(2026, 9, 30), "65-74"),
        (date(2026, 10, 31), "65-74"),
    ]


def test_sites_first_given_on_a_later_night_reach_every_stored_month(tmp_path):
    """A month kept from a night when no patient had a site is evaluated again once one has: its
    site and clinician rows must be there, as in a database that loaded that export first."""
    patients = [{"patient_id": "PA", "birth_date": "1950-03-01", "sex": "F"},
                {"patient_id": "PB", "birth_date": "1952-07-01", "sex": "M"}]  # fmt: skip
    prescriptions = [  # PB from May 2026; PA, given a site on night 2, only from September
        {"patient_id": "PB", "drug_name": "ibuprofen 400 mg tablet", "atc_code": "M01AE01",
         "start_date": "2026-05-01", "days_supply": "200"},
        {"patient_id": "PA", "drug_name": "ibuprofen 400 mg tablet", "atc_code": "M01AE01",
         "start_date": "2026-09-01", "days_supply": "90"},
    ]  # fmt: skip
    diagnoses = [
        {"patient_id": "PB", "code": "N18.30", "code_system": "ICD-10-CM", "recorded_at": "2025-01-10"}
    ]
    night1 = write_export(
        tmp_path / "night1", patients=patients, prescriptions=prescriptions, diagnoses=diagnoses
    )
    with_site = [{**p, "site_id": "north" if p["patient_id"] == "PA" else ""} for p in patients]
    night2 = write_export(
        tmp_path / "night2", patients=with_site, prescriptions=prescriptions, diagnoses=diagnoses
    )
    incremental, fresh = tmp_path / "incremental", tmp_path / "fresh"
    assert cli(*run_args(incremental, night1, "--scheduled")) == 0
    assert cli(*run_args(incremental, night2, "--scheduled")) == 0
    assert cli(*run_args(fresh, night2, "--scheduled")) == 0
    figures = "SELECT * EXCLUDE (run_id) FROM current_measures ORDER BY ALL"
    june = (
        "SELECT group_value, population, flagged FROM current_measures "
        "WHERE check_id = 'nsaid_kidney_disease' AND month_end = '2026-06-30' AND breakdown = 'site'"
    )
    assert measures(incremental / "audit.duckdb", june) == [("unknown", 1, 1)]
    assert measures(incremental / "audit.duckdb", figures) == measures(fresh / "audit.duckdb", figures)
