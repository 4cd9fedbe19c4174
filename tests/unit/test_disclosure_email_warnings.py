"""The email's warnings are counts too (#19 outcome 4): the coverage guard's "Only 5 of 337 patients
(1%) have any record ..." went into the email as recorded, an exact small count of patients (the
sample clinic audited as of 2027-11-16). The email shows it under the rule of every other count."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.db import connect
from pipelines.guards import Coverage, VolumeVerdict, coverage_warnings, unreadable_patient_warnings
from reports.email_body import email_warning


def warning(patients: int, recent: int) -> str:
    return coverage_warnings(Coverage(patients, recent, 365), date(2027, 11, 16), 0.25)[0]


def test_a_small_count_of_patients_in_a_warning_is_banded_and_its_share_left_out():
    shown = email_warning(warning(337, 5), 7)
    assert shown.startswith("Only 1–7 of 335 patients have any record in the 365 days")
    assert "5 of" not in shown and "%" not in shown


@pytest.mark.parametrize(("patients", "recent"), [(337, 5), (337, 1), (40, 7), (12, 2), (9, 0)])
def test_no_exact_patient_count_below_the_threshold_is_left_in_a_warning(patients, recent):
    shown = email_warning(warning(patients, recent), 7)
    head = shown.split(" have any record")[0]
    assert all(n == "0" or not (1 <= int(n) <= 7) for n in head.replace(",", "").split() if n.isdigit())
    assert "%" not in head or recent == 0 or recent > 7


def test_larger_counts_are_rounded_and_the_share_comes_from_the_rounded_counts():
    shown = email_warning(warning(1003, 212), 7)
    assert shown.startswith("Only 210 of 1,005 patients (21%) have any record")


def test_exact_counts_and_other_warnings_are_left_as_recorded():
    assert email_warning(warning(337, 5), 0) == warning(337, 5)
    other = "labs: the newest record is dated 2026-11-17, 364 days before the as-of date 2027-11-16"
    assert email_warning(other, 7) == other


def test_the_volume_guards_counts_follow_the_rule_too():
    """patients.csv cut to 5 rows: "about 5 rows, under 50% of the 341" named 5 patients exactly."""
    recorded = VolumeVerdict("patients", "patients.csv", 5, 341, 0.5).warning
    shown = email_warning(recorded, 7)
    assert "smaller than last time: about 1–7 rows, under 50% of the 340 the previous run read" in shown
    assert shown.endswith("check the export is complete.")
    assert email_warning(recorded, 0) == recorded


@pytest.mark.parametrize(("count", "shown"), [(1, "1–7"), (7, "1–7"), (8, "10"), (1234, "1,235")])
def test_patients_left_out_with_an_unreadable_row_are_counted_under_the_rule(tmp_path, count, shown):
    with connect(tmp_path / "audit.duckdb") as con:
        con.execute(
            "INSERT INTO unreadable_patients SELECT 'P' || i, 'r', 'patients.csv' FROM range($n) t(i)",
            {"n": count},
        )
        # each has a record, here a prescription; an id read from a damaged line that names nobody
        # ('P9', cut from 'P99999') is left out of nothing and not counted
        con.execute(
            "INSERT INTO prescriptions (patient_id, drug_name, start_date, _run_id) "
            "SELECT 'P' || i, 'furosemide', DATE '2026-01-01', 'r' FROM range($n) t(i)",
            {"n": count},
        )
        con.execute("INSERT INTO unreadable_patients VALUES ('nobody', 'r', 'patients.csv')")
        recorded = unreadable_patient_warnings(con)[0]
    assert recorded.startswith(f"Left out of every check: {count:,} patient(s) whose latest row")
    assert email_warning(recorded, 7).startswith(
        f"Left out of every check: {shown} patient(s) whose latest row"
    )
    assert email_warning(recorded, 0) == recorded
