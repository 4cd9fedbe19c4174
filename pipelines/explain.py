"""Explain one patient: for each check, population, flag, evidence and what would clear the flag.

The checks are evaluated exactly as a run evaluates them, as of the given date, inside a
transaction that is rolled back: explaining never stores anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from checks.evaluate import evaluate, prepare
from checks.framework import CheckDefinition
from pipelines.db import transaction
from pipelines.settings import ConfigError

PATIENT_TABLES = ("patients", "labs", "prescriptions", "diagnoses")


@dataclass(frozen=True)
class Explanation:
    """What one check says about one patient as of a date."""

    check_id: str
    title: str
    in_population: bool
    flagged: bool
    priority: str | None
    reason: str | None
    evidence: tuple[tuple[str, Any], ...]
    population: str
    flag: str
    clears: str
    # why the patient is out of every population as of the date: 'deceased' (dead on or before it),
    # 'deregistered' (no longer registered with the practice by then) or 'unreadable' (their latest
    # row in a patients file could not be read); None: not left out
    left_out: str | None = None
    left_on: date | None = None  # the death date, or the last day registered; None: date unknown

    @property
    def left_out_text(self) -> str | None:
        """Why the patient is in no population as of the date ('deceased on YYYY-MM-DD, on or before
        the as-of date'), or None when they are not left out."""
        day = self.left_on.isoformat() if self.left_on else None
        if self.left_out == "deceased":
            return f"deceased on {day}, on or before the as-of date" if day else "deceased (date unknown)"
        if self.left_out == "deregistered":
            gone = "no longer registered with the practice"
            until = f"registered until {day}, before the as-of date"
            return f"{gone} ({until})" if day else f"{gone} (date unknown)"
        if self.left_out == "unreadable":
            return "their latest row in the patients file could not be read (see the quarantine)"
        return None


def patient_known(con: duckdb.DuckDBPyConnection, patient_id: str) -> bool:
    """Whether any data table holds a row for the patient."""
    union = " UNION ALL ".join(
        f"SELECT 1 FROM {t} WHERE patient_id = $p"  # noqa: S608 - table names are constants
        for t in PATIENT_TABLES
    )
    return bool(con.execute(f"SELECT EXISTS ({union})", {"p": patient_id}).fetchall()[0][0])


def explain(
    con: duckdb.DuckDBPyConnection,
    patient_id: str,
    as_of: date,
    selected: Sequence[CheckDefinition],
    overrides: Mapping[str, Mapping[str, Any]],
    per_patient: bool = False,
    codelist_files: Sequence[str] | None = None,
) -> tuple[list[Explanation], int | None]:
    """Evaluate the checks as of a date and keep the patient's row; nothing is written.

    Also returns, with `per_patient` (each patient as of their own last record), how many days the
    patient's dates were moved to fall on `as_of`; else None.
    """
    if not patient_known(con, patient_id):
        raise ConfigError("that patient is not in the database (no record of theirs in any table)")
    with transaction(con, keep=False):  # a what-if: the views and temp results it builds are dropped
        prepare(con, as_of if per_patient else None, codelist_files)  # shipped and local codelists
        shift = _shift_days(con, patient_id) if per_patient else None
        return [_one(con, d, patient_id, as_of, overrides.get(d.id, {})) for d in selected], shift


def _shift_days(con: duckdb.DuckDBPyConnection, patient_id: str) -> int:
    """Days the patient's dates were moved (_aligned.sql); 0 for a patient with no dated record."""
    rows = con.execute("SELECT shift_days FROM patient_shift WHERE patient_id = $p", {"p": patient_id})
    found = rows.fetchall()
    return int(found[0][0]) if found else 0


def _one(
    con: duckdb.DuckDBPyConnection,
    definition: CheckDefinition,
    patient_id: str,
    as_of: date,
    overrides: Mapping[str, Any],
) -> Explanation:
    table, _params = evaluate(con, definition, as_of, overrides)
    cursor = con.execute(f"SELECT * FROM {table} WHERE patient_id = $p", {"p": patient_id})  # noqa: S608
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    row = dict(zip(names, rows[0], strict=True)) if rows else {}
    # why the patient is in no population, whether or not this check would have audited them: one
    # who died after their diuretic ended was shown as merely "not in the population" (helper 186)
    out = con.execute(
        "SELECT reason, coalesce(death_date, registered_until) FROM left_out_by($as_of) "
        "WHERE patient_id = $p",
        {"p": patient_id, "as_of": as_of},
    ).fetchall()
    return Explanation(
        definition.id,
        definition.title,
        bool(row),
        bool(row.get("flagged")),
        row.get("priority") if row.get("flagged") else None,
        row.get("reason") if row.get("flagged") else None,
        tuple((c, row.get(c)) for c in definition.evidence) if row else (),
        definition.population,
        definition.flag,
        definition.clears,
        out[0][0] if out else None,
        out[0][1] if out else None,
    )
