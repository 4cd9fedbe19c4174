"""`check_spec`: one check, one as-of date, small tables, the expected result per patient.

Modelled on ehrQL's `spec_test(table_data, series, expected_results)`: a spec names every patient
of its tables with what the check must say about them, so a new boundary is one more row in a
table and one more line in the expectation. The check runs through the real pipeline (the
generic-format CSV files, ingest and validation, a DuckDB file, the check's SQL), never a mock.

Expected values per patient: "high" or "normal" (flagged with that priority), True (flagged, any
priority), None or False (in the check's population, not flagged), OUT (not in the population). Each
patient's place is compared: None means in the population and OUT means not in it (the population is
the rows of the check's result, `result_<id>`, with the dead left out, read by evaluating the check
again on the run's database exactly as the run did), so swapping one patient in and another out is a
difference. The denominator must be the number of patients not OUT, and a flagged patient missing from
the expectation is a difference too. Reasons and evidence strings are matched whole, or with "..."
marking an elision: "...end" ends with it, "start..." starts with it, "...middle..." contains it.

A spec module binds its check, date, tables and expectation once
(`spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)`); a test
then adds only what it states: `spec(tmp_path, params={...}, expected={**EXPECTED, "P07": None})`.

Runs are cached by their inputs for the session: tests that state different facts about the same
tables share one pipeline run (a run is deterministic: fixed export time, fixed inputs).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from checks.evaluate import CheckResult, compute, prepare, select_checks
from pipelines.db import connect
from tests.helpers import findings, run_pipeline, table

Rows = list[dict[str, str]]
Expected = Mapping[str, str | bool | None]
OUT = "out of the population"


@dataclass(frozen=True)
class SpecRun:
    """What one check said: its findings by patient, its population (patient id -> flagged) and
    its counts."""

    by_id: dict[str, dict[str, Any]]
    result: CheckResult
    db: Path
    population: dict[str, bool]

    def evidence(self, patient_id: str) -> dict[str, Any]:
        """A flagged patient's evidence, decoded."""
        return json.loads(self.by_id[patient_id]["evidence"])


_RUNS: dict[str, SpecRun] = {}


def check_spec(
    tmp_path: Path,
    check: str,
    as_of: date,
    tables: Mapping[str, str | Rows],
    expected: Expected,
    params: Mapping[str, object] | None = None,
    *,
    reason: Mapping[str, str] | None = None,
    evidence: Mapping[str, Mapping[str, object]] | None = None,
) -> SpecRun:
    """Run `check` as of `as_of` on the tables (text tables or rows) and assert, per patient, the
    expected flag and priority, the population's size, then the reasons and evidence asked for. Every
    difference is listed in one failure message."""
    __tracebackhide__ = True  # pytest shows the spec that failed, not this helper
    run = spec_run(tmp_path, check, as_of, tables, params)
    problems = [
        *flag_differences(run.by_id, expected),
        *population_differences(run, expected),
        *count_differences(run, sum(want != OUT for want in expected.values())),
        *text_differences("reason", {p: run.by_id.get(p, {}).get("reason") for p in reason or {}}, reason),
        *evidence_differences(run, evidence or {}),
    ]
    if problems:
        head = f"{check} as of {as_of}: {len(problems)} difference(s)"
        raise AssertionError("\n  ".join([head, *problems]))
    return run


def spec_run(
    tmp_path: Path,
    check: str,
    as_of: date,
    tables: Mapping[str, str | Rows],
    params: Mapping[str, object] | None = None,
) -> SpecRun:
    """The pipeline run of one check on the tables, from the cache when the inputs were run before."""
    rows = {name: table(t) if isinstance(t, str) else list(t) for name, t in tables.items()}
    key = json.dumps([check, str(as_of), rows, params or {}], sort_keys=True, default=str)
    if key not in _RUNS:
        folder = tmp_path / f"spec-{hashlib.sha1(key.encode()).hexdigest()[:10]}"  # one per run
        outcome = run_pipeline(folder, as_of, (check,), {check: dict(params or {})}, **rows)
        (result,) = outcome.checks
        db = folder / "audit.duckdb"
        by_id = {f["patient_id"]: f for f in findings(db) if f["check_id"] == check}
        _RUNS[key] = SpecRun(by_id, result, db, population_of(db, check, as_of, params or {}))
    return _RUNS[key]


def population_of(db: Path, check: str, as_of: date, params: Mapping[str, object]) -> dict[str, bool]:
    """The check's result rows (patient id -> flagged), the dead left out: the check evaluated again
    on the run's database the way the run evaluates it (checks.evaluate prepare and compute). The run
    keeps only the flagged rows (findings), so this is where the unflagged population is seen."""
    (definition,) = select_checks((check,))
    con = connect(db)
    try:
        prepare(con)
        result, _ = compute(con, definition, as_of, params)
        rows = con.execute(f"SELECT patient_id, flagged FROM {result}").fetchall()
    finally:
        con.close()
    return dict(rows)


def population_differences(run: SpecRun, expected: Expected) -> list[str]:
    """One line per patient in the population but expected OUT, or expected in it (None, False, a
    flag) but out; and when the re-evaluation flags other patients than the run's findings."""
    lines = []
    for pid in sorted(set(expected) | set(run.population)):
        if pid not in expected and pid in run.by_id:
            continue  # flagged without an expectation: flag_differences says so
        inside, want = pid in run.population, expected.get(pid, OUT)
        if inside and want == OUT:
            lines.append(f"{pid}: expected out of the population, got in it ({describe(run.by_id.get(pid))})")
        elif not inside and want != OUT:
            lines.append(f"{pid}: expected in the population, got out of it")
    again = {pid for pid, flagged in run.population.items() if flagged}
    if again != set(run.by_id):
        lines.append(f"evaluated again, the check flags {sorted(again)}; the run found {sorted(run.by_id)}")
    return lines


def describe(finding: Mapping[str, Any] | None) -> str:
    """How a patient came out: not flagged, or the priority and the reason."""
    if finding is None:
        return "not flagged"
    return f"{finding['priority']} ({finding['reason']})"


def flag_differences(by_id: Mapping[str, Mapping[str, Any]], expected: Expected) -> list[str]:
    """One line per patient whose flag or priority differs from the expectation."""
    lines = []
    for pid in sorted(set(expected) | set(by_id)):
        got = by_id.get(pid)
        if pid not in expected:
            lines.append(f"{pid}: flagged but not in the expectation: {describe(got)}")
            continue
        want = expected[pid]
        if want in (None, False, OUT):
            ok = got is None
        elif want is True:
            ok = got is not None
        else:
            ok = got is not None and got["priority"] == want
        if not ok:
            shown = {
                None: "not flagged",
                False: "not flagged",
                OUT: "not flagged (out)",
                True: "flagged",
            }.get(want, want)
            lines.append(f"{pid}: expected {shown}, got {describe(got)}")
    return lines


def count_differences(run: SpecRun, population: int) -> list[str]:
    """The check's counts agree with its findings, and the population is the expected size."""
    lines = []
    if run.result.flagged != len(run.by_id):
        lines.append(f"flagged count {run.result.flagged} but {len(run.by_id)} findings")
    if run.result.denominator != population:
        lines.append(f"population: expected {population}, got {run.result.denominator}")
    return lines


def text_matches(want: str, got: object) -> bool:
    """Whole-string match, or an elided one: '...end', 'start...', '...middle...'."""
    if not isinstance(got, str):
        return False
    if want.startswith("...") and want.endswith("...") and len(want) > 6:
        return want[3:-3] in got
    if want.startswith("..."):
        return got.endswith(want[3:])
    if want.endswith("..."):
        return got.startswith(want[:-3])
    return got == want


def text_differences(what: str, got: Mapping[str, object], want: Mapping[str, str] | None) -> list[str]:
    """One line per patient whose text differs from the (possibly elided) expectation."""
    return [
        f"{pid} {what}: expected {text!r}, got {got[pid]!r}"
        for pid, text in (want or {}).items()
        if not text_matches(text, got[pid])
    ]


def evidence_differences(run: SpecRun, evidence: Mapping[str, Mapping[str, object]]) -> list[str]:
    """One line per evidence field that differs; strings may be elided, other values compare equal."""
    lines = []
    for pid, fields in evidence.items():
        if pid not in run.by_id:
            lines.append(f"{pid} evidence: patient not flagged")
            continue
        shown = run.evidence(pid)
        for name, want in fields.items():
            got = shown.get(name, "<missing>")
            ok = text_matches(want, got) if isinstance(want, str) else got == want
            if not ok:
                lines.append(f"{pid} evidence {name}: expected {want!r}, got {got!r}")
    return lines
