"""Find the checks, evaluate them on the database as of a date, validate and store their output."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Mapping, Sequence
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
_NOT_CHECKS = {"framework", "evaluate"}


@cache
def all_checks() -> tuple[CheckDefinition, ...]:
    """Every check module's `CHECK`, in id order. Adding a module is all it takes to add a check."""
    found = []
    for module in pkgutil.iter_modules(checks.__path__):
        if module.name in _NOT_CHECKS or module.name.startswith("_"):
            continue
        definition = importlib.import_module(f"checks.{module.name}").CHECK
        found.append(definition)
    return tuple(sorted(found, key=lambda c: c.id))


def select_checks(ids: Sequence[str]) -> tuple[CheckDefinition, ...]:
    """The checks asked for (all when none are named); an unknown id is a config error."""
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


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Load codelists and vocabulary macros; map this database's drugs and diagnoses (once per run)."""
    con.execute(
        (SQL_DIR / "_codelists.sql").read_text(encoding="utf-8"),
        {"codelist_glob": str(CODELIST_DIR / "*.csv")},
    )
    con.execute((SQL_DIR / "_vocabulary.sql").read_text(encoding="utf-8"))
    con.execute((SQL_DIR / "_concepts.sql").read_text(encoding="utf-8"))


def evaluate(
    con: duckdb.DuckDBPyConnection,
    definition: CheckDefinition,
    as_of: date,
    overrides: Mapping[str, Any],
) -> tuple[str, dict[str, Any]]:
    """Run one check into a temp table `result_<id>`, validate it, return the table and parameters."""
    params = definition.resolve(overrides, as_of)
    table = f"result_{definition.id}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {definition.sql}", params)
    relation = ibis.duckdb.from_connection(con).table(table, database="temp")
    if not con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]:  # noqa: S608 - internal name
        return table, params  # empty: nothing to validate (pandera's ibis backend misreports nulls)
    try:
        OUTPUT_SCHEMA.validate(relation, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        raise RuntimeError(f"check {definition.id} broke the output contract:\n{errors}") from None
    return table, params


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
    result = CheckResult(definition.id, definition.title, denominator, flagged, high, recorded)
    con.execute(
        "INSERT INTO check_results (run_id, check_id, title, denominator, flagged, high_priority, rate, "
        "parameters) VALUES ($run, $check, $title, $den, $flag, $high, $rate, $params)",
        {
            "run": run_id,
            "check": definition.id,
            "title": definition.title,
            "den": denominator,
            "flag": flagged,
            "high": high,
            "rate": result.rate,
            "params": json.dumps(recorded),
        },
    )
    return result


def run_checks(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    selected: Sequence[CheckDefinition],
    overrides: Mapping[str, Mapping[str, Any]],
) -> list[CheckResult]:
    """Evaluate and store every selected check; parameters are validated before anything runs."""
    for definition in selected:
        definition.resolve(overrides.get(definition.id, {}), as_of)
    unknown = sorted(set(overrides) - {c.id for c in all_checks()})
    if unknown:
        raise CheckConfigError(f"checks.{unknown[0]}: no such check")
    prepare(con)
    results = []
    for definition in selected:
        table, params = evaluate(con, definition, as_of, overrides.get(definition.id, {}))
        results.append(store(con, run_id, definition, table, params))
    return results
