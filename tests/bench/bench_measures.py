"""Benchmark: the first night's monthly measures against the ten checks, on one loaded database.

Usage:  python -m tests.bench.bench_measures --patients 100000 [--repeat 3] [--months 24]

Generates a seeded clinic (tests/bench/synthetic_clinic.py) and loads it once with `clinic-audit run`
(measures off), then alternates, `--repeat` times, (1) the ten checks as of the run's date
(`evaluate.compute`, each the single-date evaluation) and (2) their first night's measures
(`measures.compute_measures` over `--months` month-ends, every month stale), each inside a
transaction rolled back after. Prints per pair the seconds and the ratio measures ÷ checks, then the
median ratio, and per check the seconds of its single-date evaluation and of its months (one more
pass), so that the check to cut next is named. The database is opened as a run opens it
(pipelines.db.connect: the default memory_limit, so what spills in a run spills here too). Figures
only; nothing here asserts a time. To compare two versions of the code, run this module from each
checkout on the same `--workdir`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from checks.evaluate import all_checks, compute, prepare
from checks.framework import CheckDefinition
from checks.measures import compute_measures, evaluate_months, month_ends, sources_of_patients_in
from pipelines.db import connect
from tests.bench.synthetic_clinic import generate

AS_OF = date(2026, 11, 20)
ROOT = Path(__file__).resolve().parents[2]


def loaded_database(patients: int, seed: int, work: Path) -> Path:
    """The clinic's database, generated and loaded once per size and seed (kept in `work`)."""
    db = work / f"clinic_{patients}_{seed}.duckdb"
    if not db.exists():
        export = work / f"export_{patients}_{seed}"
        generate(export, patients, seed)
        subprocess.run(
            [sys.executable, "-m", "pipelines", "-q", "run", "--exports", str(export), "--db", str(db),
             "--out", str(work / "out"), "--as-of", AS_OF.isoformat(), "--ad-hoc"],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return db


def timed_in_transaction(con: duckdb.DuckDBPyConnection, work) -> float:
    """Seconds `work(con)` takes inside a transaction that is rolled back after."""
    con.execute("BEGIN")
    try:
        started = time.perf_counter()
        work(con)
        return time.perf_counter() - started
    finally:
        con.execute("ROLLBACK")


def checks_pass(con: duckdb.DuckDBPyConnection) -> None:
    for definition in all_checks():
        compute(con, definition, AS_OF, {})


def measures_pass(months: int):
    def work(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("DELETE FROM measure_fingerprints")  # every month stale: a first night
        compute_measures(con, "bench", AS_OF, all_checks(), {}, months)

    return work


def narrowed_months(con: duckdb.DuckDBPyConnection, definition: CheckDefinition, ends: list[date]) -> None:
    """One check's months as a run evaluates them: on its population's patients alone when they are
    few enough (measures.NARROW_UP_TO), else on everyone."""
    with sources_of_patients_in(con, definition.population_codelists):
        evaluate_months(con, definition, ends, {})


def per_check(con: duckdb.DuckDBPyConnection, months: int) -> list[tuple[str, float, float]]:
    """Each check's single-date seconds and its months' seconds (one pass each)."""
    ends = month_ends(AS_OF, months)
    found = []
    for definition in all_checks():
        one = timed_in_transaction(con, lambda c, d=definition: compute(c, d, AS_OF, {}))
        many = timed_in_transaction(con, lambda c, d=definition: narrowed_months(c, d, ends))
        found.append((definition.id, one, many))
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_measures_"))
    work.mkdir(parents=True, exist_ok=True)
    # opened as a run opens it: its default memory_limit (what spills in a run spills here too), UTC
    con = connect(loaded_database(args.patients, args.seed, work))
    prepare(con)
    timed_in_transaction(con, checks_pass)  # warm the caches once, unmeasured
    pairs = []
    for number in range(1, args.repeat + 1):
        checks = timed_in_transaction(con, checks_pass)
        measures = timed_in_transaction(con, measures_pass(args.months))
        pairs.append(measures / checks)
        print(f"pair {number}: ten checks {checks:.2f} s, {args.months} months of measures {measures:.2f} s,"
              f" ratio {measures / checks:.2f}x", flush=True)  # fmt: skip
    ratio = statistics.median(pairs)
    print(f"median ratio, measures / checks: {ratio:.2f}x ({args.patients} patients, {args.repeat} pairs)")
    for check_id, one, many in per_check(con, args.months):
        print(f"  {check_id:34s} check {one:6.2f} s  months {many:6.2f} s  ({many / one:5.1f}x)")
    con.close()
    return {"patients": args.patients, "ratios": pairs, "median_ratio": ratio}


if __name__ == "__main__":
    main()
