"""A date in year 0000 (a system's placeholder for "no date", or a slip of the keyboard) is a bad
value, quarantined by its date range rule, never the end of the run.

DuckDB reads '0000-01-01' (and '2026-01-01 (BC)') as a date before year 1, which Python's dates
cannot hold: pandera, fetching the failing row to say which rule it broke, raised, and the run ended
as an internal error (exit 1) with nothing loaded. The same file with the value mended loaded
whole. Found 2026-12-07 (an empty FHIR dosageInstruction list computed such a date too)."""

from __future__ import annotations

import pytest

from tests.functional import test_format_fhir as fhir
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
