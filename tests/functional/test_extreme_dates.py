"""Dates at and past the ends of the calendar: a year 0000 (a system's placeholder for "no date"), a
start in 9999 plus a supply, a death or an update in a year to come, a resolution written as
9999-12-31 for "ongoing". Each is judged by the rules, row by row, never the end of the run, and
never read so that a dead patient is audited or a stopped drug taken for ever.

DuckDB reads '0000-01-01' (and '2026-01-01 (BC)') as a date before year 1, and 9999-12-31 plus 30
days as year 10000, which Python's dates cannot hold: pandera, fetching the failing row to say which
rule it broke, raised, and the run ended as an internal error (exit 1) with nothing loaded. Found
2026-12-07 (an empty FHIR dosageInstruction list computed such a date too; helper 172 the rest)."""

from __future__ import annotations

import json

import pytest

from tests.functional import test_format_fhir as fhir
from tests.functional import test_format_mimic as mimic
from tests.functional import test_format_omop as omop
from tests.helpers import cli, flagged, query, run_args, write_export

DIURETIC = "diuretic_electrolyte_monitoring"


@pytest.mark.parametrize("value", ["0000-01-01", "0000-06-01T10:00:00Z", "2026-01-01 (BC)"])
def test_a_generic_date_before_year_one_is_quarantined(tmp_path, value):
    # G1's row in each file holds the bad date; G2 (furosemide, untested) is well and flagged; G3's
    # death date is the bad one: quarantined, G3 left out (its death unknown).
    export = write_export(
        tmp_path / "export",
        patients=f"patient_id,birth_date,sex,death_date\nG1,{value},F,\nG2,1950-01-01,M,\nG3,1950-01-01,F,{value}\n",
        prescriptions=(
            "patient_id,drug_name,start_date,end_date\n"
            f"G1,furosemide 40 mg tablet,{value},\n"
            "G2,furosemide 40 mg tablet,2026-01-01,\n"
            f"G3,furosemide 40 mg tablet,2026-01-01,{value}\n"
        ),
        labs=f"patient_id,collected_at,loinc_code,test_name,value,unit\nG1,{value},2823-3,potassium,4.1,mmol/L\n",
        diagnoses=f"patient_id,code,code_system,recorded_at\nG1,R25.2,ICD-10-CM,{value}\n",
    )
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    held = query(
        tmp_path / "audit.duckdb",
        "SELECT table_name, line, column_name, rule FROM quarantine ORDER BY ALL",
    )
    assert held == [
        ("diagnoses", 2, "recorded_at", "date_range"),
        ("labs", 2, "collected_at", "date_range"),
        ("patients", 4, "death_date", "date_range"),
        ("prescriptions", 2, "start_date", "date_range"),
        ("prescriptions", 4, "end_date", "after_start"),
        ("prescriptions", 4, "end_date", "date_range"),
    ]
    # G1's birth date is a soft rule's: the row loads without it
    assert query(tmp_path / "audit.duckdb", "SELECT patient_id, birth_date FROM patients ORDER BY 1") == [
        ("G1", None),
        ("G2", query(tmp_path / "audit.duckdb", "SELECT DATE '1950-01-01'")[0][0]),
    ]
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G2"}


def test_a_fhir_date_in_year_zero_is_quarantined(tmp_path):
    # p1's request was authored in year 0000, p2's is well (furosemide, no labs): p2 flagged.
    requests = [
        fhir.medreq("m1", "p1", fhir.FUROSEMIDE, "0000-01-01"),
        fhir.medreq("m2", "p2", fhir.FUROSEMIDE),
    ]
    resources = {
        "Patient.ndjson": [fhir.patient(p, "1950-01-01", "female") for p in ("p1", "p2")],
        "MedicationRequest.ndjson": requests,
        "Condition.ndjson": [fhir.coded("c1", "p1", [fhir.NUMB_LEG], onset="0000-03-01")],
    }
    files = fhir.run_small(tmp_path, resources)
    assert (files["prescriptions"]["rows_rejected"], files["diagnoses"]["rows_rejected"]) == (1, 1)
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"p2"}


def test_a_start_in_9999_with_a_supply_is_quarantined(tmp_path):
    # G1's start (9999-12-31) plus 30 days' supply ran past year 9999: exit 1 before. G2 is well.
    export = write_export(
        tmp_path / "export",
        patients="patient_id,birth_date,sex\nG1,1950-01-01,F\nG2,1950-01-01,M\n",
        prescriptions=(
            "patient_id,drug_name,start_date,end_date,days_supply\n"
            "G1,furosemide 40 mg tablet,9999-12-31,,30\n"
            "G2,furosemide 40 mg tablet,2026-01-01,,\n"
        ),
    )
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    held = "SELECT line, column_name, rule FROM quarantine ORDER BY ALL"
    assert query(tmp_path / "audit.duckdb", held) == [(2, "start_date", "date_range")]
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G2"}


def test_an_omop_supply_past_any_date_beside_a_verbatim_end_loads_with_the_supply_noted(tmp_path):
    # Person 1's days_supply is the integer maximum (a sentinel) with a verbatim end: added to the
    # start it overflowed DuckDB's dates and failed the run (exit 1). Person 3 is well.
    drugs = (
        "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,"
        "days_supply,drug_source_value,verbatim_end_date\n"
        "1,1,2001,2026-03-01,,2147483647,310798,2026-04-01\n"
        "3,3,2003,2026-05-01,,30,314231,\n"
    )
    export = omop.write_cdm(tmp_path / "export", drug_exposure=drugs)
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    # the verbatim end ends the course, so the supply is noted, not the row's fault
    ended = "SELECT patient_id, end_date::VARCHAR, days_supply FROM prescriptions ORDER BY 1"
    assert query(tmp_path / "audit.duckdb", ended) == [("1", "2026-04-01", None), ("3", None, 30)]
    notes = "SELECT column_name, rule FROM row_notes"
    assert query(tmp_path / "audit.duckdb", notes) == [("days_supply", "positive_integer")]


def test_a_fhir_death_in_a_year_to_come_leaves_the_patient_out(tmp_path):
    # p1 (furosemide, no labs) is dead in "9999": read as a death today, p1 was alive (and flagged)
    # on every earlier as-of date. A death after the export date is the row's fault: p1 is left out.
    # p2's stopped request was last updated in 9999: it is no day the drug was stopped, and the
    # drug is not taken for ever (not flagged). p3 is well and flagged.
    dead = fhir.patient("p1", "1950-01-01", "male") | {"deceasedDateTime": "9999"}
    stopped = fhir.medreq("m2", "p2", fhir.FUROSEMIDE, "2026-06-01", status="stopped")
    stopped["meta"] = {"lastUpdated": "9999-12-31T23:59:59Z"}
    resources = {
        "Patient.ndjson": [
            dead,
            fhir.patient("p2", "1950-01-01", "female"),
            fhir.patient("p3", "1950-01-01", "male"),
        ],
        "MedicationRequest.ndjson": [
            fhir.medreq("m1", "p1", fhir.FUROSEMIDE),
            stopped,
            fhir.medreq("m3", "p3", fhir.FUROSEMIDE),
        ],
        "Condition.ndjson": [fhir.coded("c1", "p1", [fhir.NUMB_LEG])],
    }
    fhir.run_small(tmp_path, resources)
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"p3"}
    assert query(tmp_path / "audit.duckdb", "SELECT patient_id FROM unreadable_patients") == [("p1",)]


def test_a_mimic_deathtime_that_cannot_be_read_leaves_the_patient_out(tmp_path):
    # 10000001 has no dod and an admission whose deathtime cannot be read (30 February): passed
    # over, the patient loaded alive and was flagged. Now the death is unknown: left out.
    files = dict(mimic.FILES)
    files["admissions"] = mimic.FILES["admissions"].replace(
        "2180-05-05 12:00:00,,EW EMER.", "2180-05-05 12:00:00,2180-02-30 10:00:00,EW EMER."
    )
    assert files["admissions"] != mimic.FILES["admissions"]
    export = mimic.write_mimic(tmp_path / "export", files)
    assert mimic.run(tmp_path, export, "--reject-threshold", "1") == 0
    assert "10000001" not in flagged(tmp_path / "audit.duckdb", DIURETIC)
    assert query(tmp_path / "audit.duckdb", "SELECT patient_id FROM unreadable_patients") == [("10000001",)]
    held = "SELECT table_name, column_name, rule FROM quarantine"
    assert query(tmp_path / "audit.duckdb", held) == [("patients", "death_date", "format")]


@pytest.mark.parametrize("end", ["9999-12-31", "2099-12-31"])
def test_a_resolution_written_as_a_date_to_come_is_no_resolution(tmp_path, end):
    # An ETL's "ongoing" written as an end date: quarantined, it lost G1's cirrhosis from every
    # check. Now it loads as not resolved, noted, and G1's cramp with cirrhosis is flagged.
    export = write_export(
        tmp_path / "export",
        patients="patient_id,birth_date,sex\nG1,1950-01-01,F\n",
        diagnoses=(
            "patient_id,code,code_system,recorded_at,resolved_at\n"
            f"G1,K74.60,ICD-10-CM,2024-01-01,{end}\n"
            "G1,R25.2,ICD-10-CM,2026-10-01,\n"
        ),
    )
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    assert query(tmp_path / "audit.duckdb", "SELECT count(*) FROM quarantine") == [(0,)]
    notes = "SELECT column_name, rule FROM row_notes"
    assert query(tmp_path / "audit.duckdb", notes) == [("resolved_at", "future")]
    assert query(tmp_path / "audit.duckdb", "SELECT count(*) FROM diagnoses WHERE resolved_at IS NULL") == [
        (2,)
    ]
    assert flagged(tmp_path / "audit.duckdb", "cramps_cirrhosis") == {"G1"}


def summary_warnings(tmp) -> list[str]:
    return json.loads((tmp / "out" / "summary.json").read_text(encoding="utf-8"))["warnings"]


@pytest.mark.parametrize(("shared", "warned"), [(12, True), (9, False)])
def test_a_death_date_most_deaths_share_is_named_as_a_placeholder(tmp_path, shared, warned):
    # An export from SQL Server writes 1900-01-01 for an empty death date: every such patient is
    # left out as deceased, as the export says, and the run says why the audit emptied. Twelve
    # share it (of fourteen deaths) and are named; nine are too few to tell from a bad day.
    rows = "".join(f"D{i},1950-01-01,F,1900-01-01\n" for i in range(shared))
    rows += "E1,1950-01-01,M,2026-03-01\nE2,1950-01-01,F,2026-05-02\nG1,1950-01-01,M,\n"
    export = write_export(
        tmp_path / "export",
        patients="patient_id,birth_date,sex,death_date\n" + rows,
        prescriptions="patient_id,drug_name,start_date\nG1,furosemide 40 mg tablet,2026-01-01\n",
    )
    assert cli(*run_args(tmp_path, export, "--reject-threshold", "1")) == 0
    said = [w for w in summary_warnings(tmp_path) if "died on 1900-01-01" in w]
    assert said == (
        [
            f"{shared} of the {shared + 2} patients with a death date died on 1900-01-01: a date "
            "the export may write for 'no death date' (as SQL Server writes 1900-01-01 for an "
            "empty date). They are left out of every check as deceased; if they are alive, "
            "correct the export's death dates."
        ]
        if warned
        else []
    )
    assert flagged(tmp_path / "audit.duckdb", DIURETIC) == {"G1"}


def test_a_fhir_condition_resolved_by_its_status_with_an_end_to_come_is_resolved(tmp_path):
    # c1 is resolved (clinicalStatus) with an abatement written as 2099-12-31; c2 inactive with an
    # abatementPeriod ending 9999-12-31. The status says over: resolved as if no date were given, at
    # the last update. c3 is active with an abatement to come: not resolved yet, noted.
    sct = "http://snomed.info/sct"
    updated = {"meta": {"lastUpdated": "2025-06-01T09:00:00Z"}}
    c1 = fhir.condition("c1", "p1", sct, "19943007", "2024-01-10", "resolved", "2099-12-31") | updated
    c2 = fhir.condition("c2", "p2", sct, "19943007", "2024-01-10", "inactive") | updated
    c2["abatementPeriod"] = {"start": "2025-03-01", "end": "9999-12-31"}
    c3 = fhir.condition("c3", "p3", sct, "19943007", "2024-01-10", "active", "2099-12-31")
    resources = {
        "Patient.ndjson": [fhir.patient(p, "1950-01-01", "female") for p in ("p1", "p2", "p3")],
        "MedicationRequest.ndjson": [fhir.medreq("m1", "p1", fhir.FUROSEMIDE)],
        "Condition.ndjson": [c1, c2, c3],
    }
    fhir.run_small(tmp_path, resources)
    got = "SELECT patient_id, resolved_at::VARCHAR FROM diagnoses ORDER BY 1"
    assert query(tmp_path / "audit.duckdb", got) == [
        ("p1", "2025-06-01"),
        ("p2", "2025-06-01"),
        ("p3", None),
    ]
    assert query(tmp_path / "audit.duckdb", "SELECT column_name, rule FROM row_notes") == [
        ("resolved_at", "future")
    ]


def test_a_mimic_deathtime_written_as_null_is_no_death(tmp_path):
    # An export writing an empty deathtime as NULL: no time at all, not a death that cannot be read
    # (every patient was left out).
    files = dict(mimic.FILES)
    files["admissions"] = mimic.FILES["admissions"].replace(",,", ",NULL,")
    export = mimic.write_mimic(tmp_path / "export", files)
    assert mimic.run(tmp_path, export, "--reject-threshold", "1") == 0
    assert query(tmp_path / "audit.duckdb", "SELECT count(*) FROM unreadable_patients") == [(0,)]
    assert query(tmp_path / "audit.duckdb", "SELECT count(*) FROM quarantine") == [(0,)]
    assert "10000001" in flagged(tmp_path / "audit.duckdb", DIURETIC)
