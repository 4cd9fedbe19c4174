"""The engines benchmark at a tiny size: it runs, both engines flag the same patients of a generated
clinic, and every figure the README quotes is reported. Its times are never checked."""

from __future__ import annotations

from pathlib import Path

from tests.bench import bench_engines


def test_the_engines_benchmark_runs_and_both_engines_flag_the_same_patients(tmp_path: Path, spark_session):
    adaptive = spark_session.conf.get("spark.sql.adaptive.enabled")
    figures = bench_engines.measure(400, "local[2]", tmp_path, aqe_pairs=1)
    assert figures["same_flags"] is True
    assert figures["flags"] > 0  # the tiny clinic still plants flags for the engines to agree on
    assert figures["data_rows"] > 0 and figures["spark_rows_per_executor_second"] > 0
    assert figures["duckdb_checks_seconds"] > 0 and figures["ratio_spark_to_duckdb"] > 0
    assert len(figures["aqe_off_seconds"]) == len(figures["aqe_on_seconds"]) == 1
    assert spark_session.conf.get("spark.sql.adaptive.enabled") == adaptive  # the session left as found
