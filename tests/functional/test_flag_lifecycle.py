"""Flag lifecycle: first raised, runs standing and resolution, via the `flag_episodes` and
`flag_status` views, and as the report shows it (new, persisting, resolved per check)."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest

from reports.context import build_context
from tests.helpers import read_csv_rows, run_pipeline, table

CHECK = "diuretic_electrolyte_monitoring"

PRESCRIPTIONS = table("""
patient_id | drug_name               | rxnorm_code | atc_code | start_date | end_date | days_supply
A          | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-01-01 |          |
B          | furosemide 40 mg tablet | 4603        | C03CA01  | 2024-01-01 |          |
""")
OLD_LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
A          | 2025-06-01   | 2823-3     |           | 4.2   | mmol/L
A          | 2025-06-01   | 2951-2     |           | 139   | mmol/L
""")
NEW_LABS = OLD_LABS + table("""
patient_id | collected_at | loinc_code | test_name | value | unit
A          | 2026-08-15   | 2823-3     |           | 4.1   | mmol/L
A          | 2026-08-15   | 2951-2     |           | 140   | mmol/L
""")

# (as-of, labs, checks): A is monitored, then not (runs 2-3), then monitored again (run 5) and,
# a year on, flagged again (run 6). B is never monitored. Run 4 evaluates another check only and
# neither extends nor breaks a series.
RUNS = [
    (date(2026, 1, 1), OLD_LABS, (CHECK,)),
    (date(2026, 7, 1), OLD_LABS, (CHECK,)),
    (date(2026, 8, 1), OLD_LABS, (CHECK,)),
    (date(2026, 8, 2), OLD_LABS, ("nsaid_kidney_disease",)),
    (date(2026, 9, 1), NEW_LABS, (CHECK,)),
    (date(2027, 9, 1), NEW_LABS, (CHECK,)),
]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lifecycle")
    run_ids = []
    for as_of, labs, checks in RUNS:
        outcome = run_pipeline(tmp, as_of, checks, prescriptions=PRESCRIPTIONS, labs=labs)
        run_ids.append(outcome.run_id)
    return tmp, run_ids


def rows(db, sql, params=None):
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(sql, params or {})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]


def test_episodes_record_first_raised_runs_standing_and_resolution(history):
    tmp, ids = history
    episodes = rows(
        tmp / "audit.duckdb",
        "SELECT patient_id, first_run_id, first_as_of, runs_flagged, resolved_run_id, resolved_as_of "
        "FROM flag_episodes WHERE check_id = $c ORDER BY patient_id, first_seq",
        {"c": CHECK},
    )
    assert episodes == [
        # A: raised by run 2, stood for runs 2 and 3, resolved by run 5 (run 4 did not evaluate the check)
        {"patient_id": "A", "first_run_id": ids[1], "first_as_of": date(2026, 7, 1), "runs_flagged": 2,
         "resolved_run_id": ids[4], "resolved_as_of": date(2026, 9, 1)},
        # A again: a new series raised by run 6, still standing
        {"patient_id": "A", "first_run_id": ids[5], "first_as_of": date(2027, 9, 1), "runs_flagged": 1,
         "resolved_run_id": None, "resolved_as_of": None},
        # B: flagged by every run of the check
        {"patient_id": "B", "first_run_id": ids[0], "first_as_of": date(2026, 1, 1), "runs_flagged": 5,
         "resolved_run_id": None, "resolved_as_of": None},
    ]  # fmt: skip


def test_status_per_run_is_new_persisting_or_resolved(history):
    tmp, ids = history
    status = rows(
        tmp / "audit.duckdb",
        "SELECT run_id, patient_id, status, runs_standing FROM flag_status WHERE check_id = $c "
        "ORDER BY run_id, patient_id",
        {"c": CHECK},
    )
    got = {(ids.index(r["run_id"]) + 1, r["patient_id"]): (r["status"], r["runs_standing"]) for r in status}
    assert got == {
        (1, "B"): ("new", 1),
        (2, "A"): ("new", 1),
        (2, "B"): ("persisting", 2),
        (3, "A"): ("persisting", 2),
        (3, "B"): ("persisting", 3),
        (5, "A"): ("resolved", 2),
        (5, "B"): ("persisting", 4),
        (6, "A"): ("new", 1),
        (6, "B"): ("persisting", 5),
    }


@pytest.mark.parametrize(
    ("run", "expected"),
    [(1, (None, None, None)), (2, (1, 1, 0)), (3, (0, 2, 0)), (5, (0, 1, 1)), (6, (1, 1, 0))],
)
def test_report_counts_new_persisting_and_resolved(history, run, expected):
    tmp, ids = history
    from checks.evaluate import select_checks

    with duckdb.connect(str(tmp / "audit.duckdb"), read_only=True) as con:
        ctx = build_context(
            con, ids[run - 1], select_checks([CHECK]), clinic_name="T", generated_at=datetime(2027, 1, 1)
        )
    summary = ctx.checks[0].summary
    assert (summary.new, summary.persisting, summary.resolved) == expected


def test_worklist_shows_since_when_and_for_how_many_runs(history):
    tmp, _ids = history
    worklist = {r["patient_id"]: r for r in read_csv_rows(tmp / "out" / f"worklist_{CHECK}.csv")}
    assert worklist["A"]["flagged_since"] == "2027-09-01" and worklist["A"]["runs_flagged"] == "1"
    assert worklist["B"]["flagged_since"] == "2026-01-01" and worklist["B"]["runs_flagged"] == "5"
    report = (tmp / "out" / "report.html").read_text(encoding="utf-8")
    assert "Persisting" in report
