"""The pipeline with its checks on Spark, for the tests: one SparkSession per test session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest

from pipelines.run import RunOutcome, execute_run
from pipelines.settings import Settings

# Small and quick on a laptop: two cores, few shuffle partitions (the test data is tiny).
TEST_MASTER = "local[2]"
# A query whose generated Java code does not compile (a method over 64 KB) makes Spark log an ERROR
# with a stack trace and run it interpreted; in the tests it fails instead, so a word that grows the
# translated checks past that limit (checks/sql/spark/_vocabulary.sql) is caught here, not in a log.
TEST_CONFIG = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.codegen.fallback": "false",
}


def skip_without_spark() -> None:
    """Skip when pyspark or Java is missing, as on a laptop without them."""
    pytest.importorskip("pyspark", reason="the [spark] extra is not installed")
    import shutil

    if shutil.which("java") is None:
        pytest.skip("no Java (.ci/run installs openjdk-17-jre-headless)")


def start_session(warehouse: str, extra: dict[str, str] | None = None):
    """The test SparkSession (skips when pyspark or Java is missing); `extra` over TEST_CONFIG."""
    skip_without_spark()
    from pipelines.engines.spark import session

    return session(TEST_MASTER, warehouse, {**TEST_CONFIG, **(extra or {})})


def on_spark(spark) -> Callable[[Settings, datetime], RunOutcome]:
    """execute_run with engine = spark, on the test session (already started: getOrCreate)."""

    def run(settings: Settings, now: datetime, *args, **kwargs) -> RunOutcome:
        return execute_run(replace(settings, engine="spark", spark_master=TEST_MASTER), now, *args, **kwargs)

    del spark  # the session is started by the fixture; execute_run finds it (getOrCreate)
    return run


def names_on_both(spark, names: list, sql: str) -> tuple[list[tuple], list[tuple]]:
    """`sql` over the table names_t(i, s) of `names` on DuckDB, and translated on Spark: (DuckDB's
    rows, Spark's rows), for a test to hold equal."""
    import duckdb

    from checks import translate

    rows = list(enumerate(names))
    con = duckdb.connect()
    con.execute("CREATE TABLE names_t(i INT, s VARCHAR)")
    con.executemany("INSERT INTO names_t VALUES (?, ?)", rows)
    spark.createDataFrame(rows, "i INT, s STRING").createOrReplaceTempView("names_t")
    on_duckdb = [tuple(r) for r in con.execute(sql).fetchall()]
    return on_duckdb, [tuple(r) for r in spark.sql(translate.to_spark(sql)).collect()]
