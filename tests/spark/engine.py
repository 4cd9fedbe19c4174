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
TEST_CONFIG = {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"}


def skip_without_spark() -> None:
    """Skip when pyspark or Java is missing, as on a laptop without them."""
    pytest.importorskip("pyspark", reason="the [spark] extra is not installed")
    import shutil

    if shutil.which("java") is None:
        pytest.skip("no Java (.ci/run installs openjdk-17-jre-headless)")


def start_session(warehouse: str):
    """The test SparkSession (skips when pyspark or Java is missing)."""
    skip_without_spark()
    from pipelines.engines.spark import session

    return session(TEST_MASTER, warehouse, TEST_CONFIG)


def on_spark(spark) -> Callable[[Settings, datetime], RunOutcome]:
    """execute_run with engine = spark, on the test session (already started: getOrCreate)."""

    def run(settings: Settings, now: datetime, *args, **kwargs) -> RunOutcome:
        return execute_run(replace(settings, engine="spark", spark_master=TEST_MASTER), now, *args, **kwargs)

    del spark  # the session is started by the fixture; execute_run finds it (getOrCreate)
    return run
