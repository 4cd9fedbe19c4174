"""The engines benchmark at a tiny size: it runs, both engines flag the same patients of a generated
clinic, and every figure the README quotes is reported. Its times are never checked.

Two checks, not ten: Spark's cost is per check (10-20 s each on this tiny clinic), and three Spark
passes of every check took 550 s of the test command; tests/spark/test_same_findings.py compares
every check on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.framework import CheckConfigError
from tests.bench import bench_engines

# the headline check, whose query is the largest, and a quick one
ONLY = ("diuretic_electrolyte_monitoring", "cramps_metabolic_workup")


@pytest.mark.longest
def test_the_engines_benchmark_runs_and_both_engines_flag_the_same_patients(tmp_path: Path, spark_session):
    adaptive = spark_session.conf.get("spark.sql.adaptive.enabled")
    figures = bench_engines.measure(400, "local[2]", tmp_path, aqe_pairs=1, only=ONLY)
    assert figures["checks"] == len(ONLY)
    assert figures["same_flags"] is True
    assert figures["flags"] > 0  # the tiny clinic still plants flags for the engines to agree on
    assert figures["data_rows"] > 0 and figures["spark_rows_per_executor_second"] > 0
    assert figures["duckdb_checks_seconds"] > 0 and figures["ratio_spark_to_duckdb"] > 0
    assert len(figures["aqe_off_seconds"]) == len(figures["aqe_on_seconds"]) == 1
    assert spark_session.conf.get("spark.sql.adaptive.enabled") == adaptive  # the session left as found


def test_an_unknown_check_is_an_error_not_a_smaller_benchmark(tmp_path: Path) -> None:
    with pytest.raises(CheckConfigError, match="unknown check 'cramps_typo'"):
        bench_engines.measure(400, "local[2]", tmp_path, only=["cramps_cirrhosis", "cramps_typo"])
    assert not list(tmp_path.iterdir())  # refused before a clinic was generated
