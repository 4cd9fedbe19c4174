"""The prospective list (#20): patients a check does not flag yet whose test or action falls due
within `due_soon_days` of the as-of date, as care-gap tools offer.

A check takes part by declaring the evidence field `due_on` (the date the missing test fell due for
a flagged patient; for the rest of its population, the date the next one falls due). Each run
records, inside its transaction, the patients of its population not flagged with `due_on` from the
as-of date to the horizon (`due_soon`, pruned with the run's other results).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from checks.framework import CheckDefinition

DUE_ON = "due_on"  # the declared evidence field a check's SQL returns for every patient of its population


def record_due_soon(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    selected: Sequence[CheckDefinition],
    horizon_days: int,
) -> int:
    """Store the not-yet-flagged patients falling due within the horizon; returns how many rows.

    Reads each check's result table as checks.evaluate left it (temp table result_<id>, the dead
    and those who left the practice by as-of already left out); a patient out by the due date (a
    temporary resident registered until before it) is not listed either (left_out_by,
    checks/sql/_concepts.sql). A horizon of 0 records nothing.
    """
    if horizon_days <= 0:
        return 0
    stored = 0
    for definition in selected:
        if DUE_ON not in definition.evidence:
            continue
        stored += con.execute(
            f"""
            INSERT INTO due_soon
            SELECT $run, $check, patient_id, CAST(due_on AS DATE)
            FROM result_{definition.id} r
            WHERE NOT flagged AND CAST(due_on AS DATE) BETWEEN $as_of AND $as_of + $days
              AND patient_id NOT IN (SELECT patient_id FROM left_out_by(CAST(r.due_on AS DATE)))
            ORDER BY due_on, patient_id
            """,  # noqa: S608 - the table name comes from the check definition; values are bound
            {"run": run_id, "check": definition.id, "as_of": as_of, "days": horizon_days},
        ).fetchall()[0][0]
    return stored
