"""Find the checks, evaluate them on the database as of a date, validate and store their output."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import pandera.errors
import pandera.ibis as pa

import checks
from checks.framework import CheckConfigError, CheckDefinition

CODELIST_DIR = Path(checks.__file__).parent / "codelists"
SQL_DIR = Path(checks.__file__).parent / "sql"


@cache
def all_checks() -> tuple[CheckDefinition, ...]:
    """Every check module's `CHECK`, in id order. Adding a module is all it takes to add a check; a
    module without a `CHECK` that is a CheckDefinition (framework, evaluate, a new helper) is not one."""
    found = []
    for module in pkgutil.iter_modules(checks.__path__):
        if module.name.startswith("_"):
            continue
        definition = getattr(importlib.import_module(f"checks.{module.name}"), "CHECK", None)
        if isinstance(definition, CheckDefinition):
            found.append(definition)
    return tuple(sorted(found, key=lambda c: c.id))


def select_checks(ids: Sequence[str]) -> tuple[CheckDefinition, ...]:
    """The checks asked for, each once (all when none are named); an unknown id is a config error.
    A check named twice (`--checks x,x`) would store its findings and results twice."""
    ids = list(dict.fromkeys(ids))
    known = {c.id: c for c in all_checks()}
    missing = [i for i in ids if i not in known]
    if missing:
        raise CheckConfigError(f"unknown check '{missing[0]}' (known: {', '.join(sorted(known))})")
    return tuple(known[i] for i in ids) if ids else all_checks()


@dataclass(frozen=True)
class CheckResult:
    """One check's counts for a run; the flagged rows themselves are in `findings`."""

    check_id: str
    title: str
    denominator: int
    flagged: int
    high_priority: int
    parameters: dict[str, Any]
    deceased_excluded: int = 0  # patients the check would have audited, dead on or before the as-of date
    deregistered_excluded: int = 0  # ... and those who had left the practice by the as-of date
    unreadable_excluded: int = 0  # ... and those whose latest patients row could not be read
    exceptions: int = 0  # flagged patients left out of the numerator by a review (pipelines/reviews.py)

    @property
    def flagged_after_exceptions(self) -> int:
        """Flagged patients less those with an exception that applied (QOF's numerator)."""
        return self.flagged - self.exceptions

    @property
    def rate(self) -> float:
        """Flagged share of the population (0 when nobody is in it)."""
        return self.flagged / self.denominator if self.denominator else 0.0


OUTPUT_SCHEMA = pa.DataFrameSchema(
    columns={
        "patient_id": pa.Column(dt.string, nullable=False),
        "flagged": pa.Column(dt.boolean, nullable=False),
        "priority": pa.Column(dt.string, nullable=True, checks=pa.Check.isin(["high", "normal"])),
        "reason": pa.Column(dt.string, nullable=True),
    },
    checks=[
        pa.Check(
            lambda d: ~d.table.flagged | (d.table.reason.notnull() & d.table.priority.notnull()),
            error="a flagged row needs a reason and a priority",
        ),
        pa.Check(
            lambda d: d.table.patient_id.nunique() == d.table.count(),
            error="one row per patient",
        ),
    ],
    strict=False,
)


def prepare(
    con: duckdb.DuckDBPyConnection,
    per_patient_as_of: date | None = None,
    codelist_files: Sequence[str] | None = None,
) -> None:
    """Load codelists and vocabulary macros; map this database's drugs and diagnoses (once per run);
    then the phrases the checks are written in (_phrases.sql, table macros over those views).

    With `per_patient_as_of`, each patient's dates are moved so their last record falls on that
    date (_aligned.sql): every patient is audited as of their own last record (date-shifted data).
    `codelist_files`: the codelist CSVs to read (default: the shipped ones); a clinic's local files
    come after the shipped ones and are named after the codelist they extend.
    """
    files = list(codelist_files) if codelist_files else sorted(str(p) for p in CODELIST_DIR.glob("*.csv"))
    con.execute((SQL_DIR / "_codelists.sql").read_text(encoding="utf-8"), {"codelist_files": files})
    con.execute((SQL_DIR / "_results.sql").read_text(encoding="utf-8"))
    con.execute((SQL_DIR / "_sources.sql").read_text(encoding="utf-8"))
    if per_patient_as_of is not None:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE aligned_as_of AS SELECT CAST($d AS DATE) AS as_of",
            {"d": per_patient_as_of},
        )
        con.execute((SQL_DIR / "_aligned.sql").read_text(encoding="utf-8"))
    con.execute((SQL_DIR / "_concepts.sql").read_text(encoding="utf-8"))
    con.execute((SQL_DIR / "_phrases.sql").read_text(encoding="utf-8"))  # reads _concepts.sql's views


def evaluate(
    con: duckdb.DuckDBPyConnection,
    definition: CheckDefinition,
    as_of: date,
    overrides: Mapping[str, Any],
    engine: Any = None,
) -> tuple[str, dict[str, Any]]:
    """Run one check into a temp table `result_<id>`, leave out the patients dead on or before `as_of`
    or no longer registered by then (`leave_out`), validate it, return the table and parameters.
    `engine`: another query engine holding the data (pipelines/engines/spark.py), or None for this
    DuckDB connection."""
    table, params = compute(con, definition, as_of, overrides, engine)
    relation = ibis.duckdb.from_connection(con).table(table, database="temp")
    if not con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]:  # noqa: S608 - internal name
        return table, params  # empty: nothing to validate (pandera's ibis backend misreports nulls)
    try:
        OUTPUT_SCHEMA.validate(relation, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        raise RuntimeError(f"check {definition.id} broke the output contract:\n{errors}") from None
    return table, params


def compute(
    con: duckdb.DuckDBPyConnection,
    definition: CheckDefinition,
    as_of: date,
    overrides: Mapping[str, Any],
    engine: Any = None,
) -> tuple[str, dict[str, Any]]:
    """The single-date evaluation, unvalidated: the check as of `as_of` into `result_<id>`, the
    patients dead on or before `as_of`, or no longer registered by then, left out. `evaluate`
    validates it; the monthly measures (checks/measures.py) count it, month by month."""
    params = definition.resolve(overrides, as_of)
    table = f"result_{definition.id}"
    if engine is not None:  # the check translated and run where the data is; its rows land in `table`
        engine.evaluate_into(con, definition, params, table)
        leave_out(con, definition.id, table, as_of)
        return table, params
    end_exposures_at_deaths_after(con, as_of)  # those dead (or gone) by as_of are left out below
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {definition.sql}", params)
    leave_out(con, definition.id, table, as_of)
    return table, params


def end_exposures_at_deaths_after(con: duckdb.DuckDBPyConnection, day: date | None) -> None:
    """Make exposures (prescription_periods) end at the deaths after `day` (None: every dated
    death): the table `exposure_deaths` set to the rule exposure_deaths_after (_concepts.sql)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE exposure_deaths AS SELECT * FROM exposure_deaths_after($day)",
        {"day": day},
    )


def left_out_table(check_id: str) -> str:
    """The temp table holding the patients a check left out: patient_id, reason ('deceased' or
    'deregistered' or 'unreadable'), death_date, registered_until (the rule left_out_by, _concepts.sql)."""
    return f"left_out_{check_id}"


def leave_out(con: duckdb.DuckDBPyConnection, check_id: str, table: str, as_of: date) -> int:
    """Move the rows of patients dead on or before `as_of`, or no longer registered with the practice
    by then, or whose patients row could not be read, out of a check's result, for every check alike
    (the rule left_out_by, _concepts.sql): they are in no population. Dead, or gone, with the date
    unknown is out at any as-of date.
    Returns how many were left out (kept in `left_out_table`)."""
    left_out = left_out_table(check_id)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {left_out} AS
        SELECT r.patient_id, d.reason, d.death_date, d.registered_until
        FROM {table} r JOIN left_out_by($as_of) d USING (patient_id)
        ORDER BY r.patient_id
        """,  # noqa: S608 - internal table names; the date is bound
        {"as_of": as_of},
    )
    con.execute(f"DELETE FROM {table} WHERE patient_id IN (SELECT patient_id FROM {left_out})")  # noqa: S608
    return con.execute(f"SELECT count(*) FROM {left_out}").fetchall()[0][0]  # noqa: S608


def store(
    con: duckdb.DuckDBPyConnection, run_id: str, definition: CheckDefinition, table: str, params: dict
) -> CheckResult:
    """Write flagged rows with their evidence to `findings`, and the counts to `check_results`."""
    evidence = ", ".join(f"'{c}', {c}" for c in definition.evidence)  # identifiers from the definition
    con.execute(
        f"""
        INSERT INTO findings
        SELECT $run, $check, patient_id, priority, reason, json_object({evidence})
        FROM {table} WHERE flagged ORDER BY patient_id
        """,  # noqa: S608 - identifiers come from the check definition; values are bound
        {"run": run_id, "check": definition.id},
    )
    denominator, flagged, high = con.execute(
        f"SELECT count(*), count(*) FILTER (flagged), "  # noqa: S608 - internal table name
        f"count(*) FILTER (flagged AND priority = 'high') FROM {table}"
    ).fetchall()[0]
    recorded = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items()}
    out_table = left_out_table(definition.id)
    con.execute(
        "INSERT INTO check_exclusions (run_id, check_id, patient_id, reason, death_date, registered_until) "  # noqa: S608
        f"SELECT $run, $check, patient_id, reason, death_date, registered_until FROM {out_table} "
        "ORDER BY patient_id",
        {"run": run_id, "check": definition.id},
    )
    dead, gone, unread = con.execute(
        f"SELECT count(*) FILTER (reason = 'deceased'), count(*) FILTER (reason = 'deregistered'), "  # noqa: S608
        f"count(*) FILTER (reason = 'unreadable') FROM {out_table}"
    ).fetchall()[0]
    result = CheckResult(
        definition.id, definition.title, denominator, flagged, high, recorded, dead, gone, unread
    )
    con.execute(
        "INSERT INTO check_results (run_id, check_id, title, denominator, flagged, high_priority, rate, "
        "parameters, deceased_excluded, deregistered_excluded, unreadable_excluded) "
        "VALUES ($run, $check, $title, $den, $flag, $high, $rate, $params, $deceased, $gone, $unread)",
        {
            "run": run_id,
            "check": definition.id,
            "title": definition.title,
            "den": denominator,
            "flag": flagged,
            "high": high,
            "rate": result.rate,
            "params": json.dumps(recorded),
            "deceased": dead,
            "gone": gone,
            "unread": unread,
        },
    )
    return result


def run_checks(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    selected: Sequence[CheckDefinition],
    overrides: Mapping[str, Mapping[str, Any]],
    per_patient: bool = False,
    codelist_files: Sequence[str] | None = None,
    engine: Any = None,
    progress: Callable[[str], None] = lambda _: None,
) -> list[CheckResult]:
    """Evaluate and store every selected check; parameters are validated before anything runs.

    `per_patient`: audit each patient as of their own last record, moved onto `as_of` (prepare()).
    `codelist_files`: the codelist CSVs, shipped and local (default: the shipped ones).
    `engine`: evaluate the checks on another engine (`prepare(con, per_patient_as_of)` and
    `evaluate_into(con, definition, params, table)`, pipelines/engines/spark.py); the results are
    stored here, in this DuckDB connection, all the same. `progress` hears "check <id>" before each.
    """
    for definition in selected:
        definition.resolve(overrides.get(definition.id, {}), as_of)
    unknown = sorted(set(overrides) - {c.id for c in all_checks()})
    if unknown:
        raise CheckConfigError(f"checks.{unknown[0]}: no such check")
    prepare(con, as_of if per_patient else None, codelist_files)
    if engine is not None:
        engine.prepare(con, as_of if per_patient else None)
    results = []
    for definition in selected:
        progress(f"check {definition.id}")
        table, params = evaluate(con, definition, as_of, overrides.get(definition.id, {}), engine)
        results.append(store(con, run_id, definition, table, params))
    return results
