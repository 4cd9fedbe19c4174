"""Monthly measures (issue #19) on messy runs: options and exports shaped as operators and clinics
really give them, each month still one evaluation of the check as of its end."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli, read_csv_rows, run_args


def rows(db: Path, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


def test_a_check_named_twice_is_counted_once(tmp_path):
    """`--checks X,X` (a pasted list, a script joining ids) selects the check twice: its months are
    evaluated and stored once, or every figure of the run's measures.csv would be there twice."""
    check = "diuretic_electrolyte_monitoring"
    args = run_args(
        tmp_path, SAMPLE_EXPORT, "--checks", f"{check},{check}", "--param", f"{check}.lookback_days=90"
    )
    assert cli(*args) == 0
    db = tmp_path / "audit.duckdb"
    assert (
        rows(
            db,
            "SELECT check_id, month_end, breakdown, group_value, count(*) FROM measures "
            "GROUP BY ALL HAVING count(*) > 1",
        )
        == []
    )
    exact = read_csv_rows(tmp_path / "out" / "measures.csv")
    keys = [(r["check_id"], r["month_end"], r["breakdown"], r["group"]) for r in exact]
    assert len(keys) == len(set(keys)) and any(k[0] == check for k in keys)
