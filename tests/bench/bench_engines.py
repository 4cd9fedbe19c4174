"""Benchmark: the checks on DuckDB and on Spark (local mode) over one synthetic clinic.

Usage:  python -m tests.bench.bench_engines --patients 100000 [--master local[2]] [--json] [--aqe-pairs N]
        [--check ID ...]

The clinic (tests/bench/synthetic_clinic.py) is loaded once by the real pipeline on DuckDB; then
every check is evaluated on that database by `run_checks` (in a transaction rolled back), once with
DuckDB and once with Spark (publishing the validated tables to Spark, building the concept views,
evaluating each translated check, bringing its rows back). Printed: the seconds of each, the ratio,
whether the two engines flagged the same patients, and rows per executor-second on Spark (the data
rows the checks read, divided by Spark's seconds times its cores): the paper estimate for a cluster.
`--aqe-pairs N` then times the Spark checks N more times each with adaptive query execution off
and on, alternating (off, on, off, on...) on the one warm session: why a local master's default is
off while a cluster keeps Spark's (on) (README, "Running on Apache Spark").
Figures only; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from checks.evaluate import run_checks, select_checks
from checks.framework import CheckDefinition
from pipelines.run import execute_run
from pipelines.settings import Settings
from tests.bench.synthetic_clinic import AS_OF, generate

DATA_TABLES = ("lab_results", "prescriptions", "diagnoses")


def _checks_seconds(
    db: Path, engine: object | None, checks: tuple[CheckDefinition, ...]
) -> tuple[float, set[tuple[str, str]]]:
    """Seconds for the checks (prepare included), and the (check, patient) pairs flagged."""
    con = duckdb.connect(str(db))
    try:
        con.begin()
        started = time.perf_counter()
        run_checks(con, "bench", AS_OF, checks, {}, engine=engine)
        seconds = time.perf_counter() - started
        flagged = set(
            con.execute("SELECT check_id, patient_id FROM findings WHERE run_id = 'bench'").fetchall()
        )
        con.rollback()
        return seconds, flagged
    finally:
        con.close()


def _aqe_pairs(
    db: Path, engine: object, pairs: int, checks: tuple[CheckDefinition, ...]
) -> dict[str, list[float]]:
    """The Spark checks' seconds with AQE off and on, alternating pairs on one session, which is
    left with the setting it had (a session shared with other work keeps its own)."""
    seconds: dict[str, list[float]] = {"aqe_off_seconds": [], "aqe_on_seconds": []}
    before = engine.spark.conf.get("spark.sql.adaptive.enabled")
    try:
        for _ in range(pairs):
            for key, value in (("aqe_off_seconds", "false"), ("aqe_on_seconds", "true")):
                engine.spark.conf.set("spark.sql.adaptive.enabled", value)
                seconds[key].append(round(_checks_seconds(db, engine, checks)[0], 2))
    finally:
        engine.spark.conf.set("spark.sql.adaptive.enabled", before)
    return seconds


def measure(
    patients: int, master: str, work: Path, aqe_pairs: int = 0, only: Sequence[str] | None = None
) -> dict[str, object]:
    """Generate, load on DuckDB, then time the checks (every one, or those of `only`, ids; an
    unknown one is an error before anything is generated) on both engines. `only` keeps the smoke
    test (tests/spark) quick: Spark's cost is per check, some 10-20 s even for a tiny clinic, mostly
    planning the translated query."""
    checks = select_checks(only or ())
    from pipelines.engines.spark import engine_for  # the [spark] extra

    clinic = generate(work / "export", patients)
    settings = Settings(
        exports=clinic.export, out=work / "out", db=work / "audit.duckdb", as_of=AS_OF, measures_months=0
    )
    started = time.perf_counter()
    execute_run(settings, datetime.combine(AS_OF, datetime.min.time()))
    load_seconds = time.perf_counter() - started
    with duckdb.connect(str(settings.db), read_only=True) as con:
        rows = sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in DATA_TABLES)
    duck_seconds, duck_flags = _checks_seconds(settings.db, None, checks)
    started = time.perf_counter()
    engine = engine_for(master, str(work / "warehouse"), settings.db)  # stages its data as a run does
    session_seconds = time.perf_counter() - started
    spark_seconds, spark_flags = _checks_seconds(settings.db, engine, checks)
    cores = int(re.search(r"\[(\d+)\]", master).group(1)) if re.search(r"\[(\d+)\]", master) else 1
    adaptive = engine.spark.conf.get("spark.sql.adaptive.enabled")
    pairs = _aqe_pairs(settings.db, engine, aqe_pairs, checks) if aqe_pairs else {}
    return {
        "patients": patients,
        "data_rows": rows,
        "duckdb_pipeline_seconds": round(load_seconds, 1),
        "duckdb_checks_seconds": round(duck_seconds, 2),
        "spark_session_seconds": round(session_seconds, 1),
        "spark_checks_seconds": round(spark_seconds, 2),
        "ratio_spark_to_duckdb": round(spark_seconds / duck_seconds, 1),
        "same_flags": duck_flags == spark_flags,
        "flags": len(duck_flags),
        "spark_rows_per_executor_second": round(rows / (spark_seconds * cores)),
        "master": master,
        "checks": len(checks),
        "spark_adaptive_enabled": adaptive,
        **pairs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--aqe-pairs", type=int, default=0, help="time Spark with AQE off/on N times each")
    parser.add_argument("--check", action="append", dest="only", help="only this check (repeatable)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        figures = measure(args.patients, args.master, Path(work), args.aqe_pairs, args.only)
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
