"""Spec: due dates (#20), as of 2026-11-20, for diuretic_electrolyte_monitoring (lookback 365 days,
baseline 14): a flag's `due_on` is when the most overdue missing test fell due; a patient not
flagged whose next test falls due within due_soon_days (30) is on the prospective list."""

from __future__ import annotations

import json
from datetime import date

import duckdb

from tests.helpers import run_pipeline, table

AS_OF = date(2026, 11, 20)
CHECK = "diuretic_electrolyte_monitoring"

PRESCRIPTIONS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
# results exactly 365 days before as-of: monitored; the next ones are due today
D01        | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-01-01 |          |
# results 366 days before: flagged, due yesterday
D02        | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-01-01 |          |
# a new starter without tests: baseline tests due at the end of the 14 days
D03        | furosemide 20 mg tablet | 4603        | C03CA01  | 2026-11-10 |          |
# never tested since starting long ago: due since the baseline window ended
D04        | indapamide 1.5 mg       | 5764        | C03BA11  | 2024-01-01 |          |
# monitored; potassium falls due in 11 days (sodium later): on the prospective list
D05        | indapamide 1.5 mg       | 5764        | C03BA11  | 2024-01-01 |          |
# potassium too old, sodium recent: flagged, due when potassium fell due
D06        | indapamide 1.5 mg       | 5764        | C03BA11  | 2024-01-01 |          |
# monitored, next tests due next year: not listed
D07        | indapamide 1.5 mg       | 5764        | C03BA11  | 2024-01-01 |          |
""")

LABS = table("""
patient_id | collected_at        | value | loinc_code | test_name | unit
D01        | 2025-11-20T09:00:00 | 4.2   | 2823-3     | Potassium | mmol/L
D01        | 2025-11-20T09:00:00 | 139   | 2951-2     | Sodium    | mmol/L
D02        | 2025-11-19T09:00:00 | 4.2   | 2823-3     | Potassium | mmol/L
D02        | 2025-11-19T09:00:00 | 139   | 2951-2     | Sodium    | mmol/L
D05        | 2025-12-01T09:00:00 | 4.0   | 2823-3     | Potassium | mmol/L
D05        | 2026-06-01T09:00:00 | 140   | 2951-2     | Sodium    | mmol/L
D06        | 2025-10-01T09:00:00 | 4.0   | 2823-3     | Potassium | mmol/L
D06        | 2026-06-01T09:00:00 | 140   | 2951-2     | Sodium    | mmol/L
D07        | 2026-10-01T09:00:00 | 4.0   | 2823-3     | Potassium | mmol/L
D07        | 2026-10-01T09:00:00 | 140   | 2951-2     | Sodium    | mmol/L
""")


def test_due_dates_of_flags_and_the_prospective_list(tmp_path):
    run_pipeline(tmp_path, AS_OF, (CHECK,), prescriptions=PRESCRIPTIONS, labs=LABS)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        flags = dict(
            con.execute(
                "SELECT patient_id, evidence FROM findings WHERE check_id = $c", {"c": CHECK}
            ).fetchall()
        )
        soon = con.execute("SELECT patient_id, due_on FROM due_soon ORDER BY patient_id").fetchall()
    due = {p: json.loads(e)["due_on"] for p, e in flags.items()}
    assert due == {
        "D02": "2026-11-19",  # overdue by 1 day
        "D03": "2026-11-24",  # baseline tests due in 4 days
        "D04": "2024-01-15",  # never tested: due since the baseline window
        "D06": "2026-10-01",  # potassium fell due 50 days ago
    }
    assert soon == [("D01", date(2026, 11, 20)), ("D05", date(2026, 12, 1))]


NUMBNESS = "numbness_neuropathy_workup"
DIAGNOSES = table("""
patient_id | code  | code_system | recorded_at | resolved_at
# numbness first recorded 2026-05-01 (again 2026-09-01), never tested: due since the first record
N01        | R20.2 | ICD-10-CM   | 2026-05-01  |
N01        | R20.2 | ICD-10-CM   | 2026-09-01  |
# tested 2025-08-01 (B12 and glucose), numbness 2026-03-01: the tests still covered it then, until
# 2026-08-01 (workup_days 365)
N02        | R20.2 | ICD-10-CM   | 2026-03-01  |
# glucose recent, B12 missing: due since the numbness
N03        | R20.2 | ICD-10-CM   | 2026-10-10  |
# fully worked up: not flagged, no due date
N04        | R20.2 | ICD-10-CM   | 2026-10-10  |
""")
NUMBNESS_LABS = table("""
patient_id | collected_at        | value | loinc_code | test_name   | unit
N02        | 2025-08-01T09:00:00 | 92    | 2345-7     | Glucose     | mg/dL
N02        | 2025-08-01T09:00:00 | 400   | 2132-9     | Vitamin B12 | ng/L
N03        | 2026-10-12T09:00:00 | 92    | 2345-7     | Glucose     | mg/dL
N04        | 2026-10-12T09:00:00 | 92    | 2345-7     | Glucose     | mg/dL
N04        | 2026-10-12T09:00:00 | 400   | 2132-9     | Vitamin B12 | ng/L
""")


def test_a_work_up_falls_due_when_the_symptom_is_first_recorded(tmp_path):
    run_pipeline(tmp_path, AS_OF, (NUMBNESS,), diagnoses=DIAGNOSES, labs=NUMBNESS_LABS)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        flags = dict(
            con.execute(
                "SELECT patient_id, evidence FROM findings WHERE check_id = $c", {"c": NUMBNESS}
            ).fetchall()
        )
        soon = con.execute("SELECT count(*) FROM due_soon").fetchall()[0][0]
    assert {p: json.loads(e)["due_on"] for p, e in flags.items()} == {
        "N01": "2026-05-01",
        "N02": "2026-08-01",
        "N03": "2026-10-10",
    }
    assert soon == 0  # a work-up has no next due date: nobody on the prospective list


CRAMPS = "cramps_metabolic_workup"
CRAMP_DIAGNOSES = table("""
patient_id | code   | code_system | recorded_at | resolved_at
# cramps first recorded 2026-06-01, no work-up at all: due since then
C01        | R25.2  | ICD-10-CM   | 2026-06-01  |
C01        | R25.2  | ICD-10-CM   | 2026-10-01  |
# every group tested 2025-08-01, cramps 2026-03-01: covered until 2026-08-01 (workup_days 365)
C02        | R25.2  | ICD-10-CM   | 2026-03-01  |
""")
CRAMP_LABS = table("""
patient_id | collected_at        | value | loinc_code | test_name  | unit
C02        | 2025-08-01T09:00:00 | 2.1   | 3016-3     | TSH        | mIU/L
C02        | 2025-08-01T09:00:00 | 0.9   | 2160-0     | Creatinine | mg/dL
C02        | 2025-08-01T09:00:00 | 25    | 1742-6     | ALT        | U/L
C02        | 2025-08-01T09:00:00 | 92    | 2345-7     | Glucose    | mg/dL
""")


def test_a_cramp_work_up_falls_due_at_the_first_cramp_or_when_earlier_tests_stop_covering_it(tmp_path):
    run_pipeline(tmp_path, AS_OF, (CRAMPS,), diagnoses=CRAMP_DIAGNOSES, labs=CRAMP_LABS)
    with duckdb.connect(str(tmp_path / "audit.duckdb"), read_only=True) as con:
        flags = dict(
            con.execute(
                "SELECT patient_id, evidence FROM findings WHERE check_id = $c", {"c": CRAMPS}
            ).fetchall()
        )
    assert {p: json.loads(e)["due_on"] for p, e in flags.items()} == {
        "C01": "2026-06-01",
        "C02": "2026-08-01",
    }
