"""The coverage guard: a run says so when few patients have any record in the lookback before as-of."""

from __future__ import annotations

import json
from datetime import date

from pipelines.guards import Coverage, coverage_warnings
from tests.helpers import run_pipeline, table

# Four patients; only C1 has a record in the 365 days to 2026-11-20 (C2's last record is one day
# before the lookback starts, on 2025-11-20; the lookback's first day is 2025-11-21).
LABS = table("""
patient_id | collected_at        | loinc_code | test_name | value | unit
C1         | 2026-11-20T09:00:00 | 2823-3     |           | 4.1   | mmol/L
C2         | 2025-11-20          | 2823-3     |           | 4.0   | mmol/L
C3         | 2024-01-05          | 2951-2     |           | 140   | mmol/L
""")
PRESCRIPTIONS = table("""
patient_id | drug_name      | rxnorm_code | atc_code | start_date | end_date | days_supply
C4         | furosemide 40mg | 4603        | C03CA01  | 2023-05-01 |          |
""")


def test_few_patients_with_recent_records_warn_in_summary(tmp_path):
    outcome = run_pipeline(tmp_path, date(2026, 11, 20), labs=LABS, prescriptions=PRESCRIPTIONS)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["coverage"] == {
        "patients": 4,
        "with_recent_record": 1,
        "share": 0.25,
        "lookback_days": 365,
    }
    assert summary["coverage"]["share"] == outcome.coverage.share
    # 25% is not under the default 25%: no warning yet
    assert not [w for w in summary["warnings"] if "have any record" in w]


def test_lookback_boundary_counts_the_first_day(tmp_path):
    outcome = run_pipeline(tmp_path, date(2026, 11, 19), labs=LABS, prescriptions=PRESCRIPTIONS)
    # as of 2026-11-19 the lookback starts 2025-11-20 (C2 counts); C1's record is the next day
    assert (outcome.coverage.patients, outcome.coverage.recent) == (4, 1)


def test_under_the_share_warns_and_points_at_per_patient(tmp_path):
    diagnoses = table("""
    patient_id | code  | code_system | recorded_at | resolved_at
    C5         | R25.2 | ICD-10-CM   | 2022-03-01  |
    """)
    run_pipeline(tmp_path, date(2026, 11, 20), labs=LABS, prescriptions=PRESCRIPTIONS, diagnoses=diagnoses)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["coverage"]["share"] == 0.2
    warning = next(w for w in summary["warnings"] if "have any record" in w)
    assert warning.startswith("Only 1 of 5 patients (20%) have any record in the 365 days to the as-of date")
    assert "--as-of per-patient" in warning


def test_warning_threshold_is_a_share():
    assert coverage_warnings(Coverage(100, 24, 365), date(2026, 1, 1), 0.25)
    assert not coverage_warnings(Coverage(100, 25, 365), date(2026, 1, 1), 0.25)
    assert not coverage_warnings(Coverage(0, 0, 365), date(2026, 1, 1), 0.25)
    assert "1 of 100 patients (1%)" in coverage_warnings(Coverage(100, 1, 365), date(2026, 1, 1), 0.25)[0]
