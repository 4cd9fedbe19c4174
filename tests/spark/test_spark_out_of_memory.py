"""Spark out of memory (its driver's heap: 1 GB unless spark.driver.memory says more) is exit 7 with
one line, as DuckDB's out of memory is, not an internal error (exit 1) asking for a bug report."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from py4j.protocol import Py4JError

from pipelines.errors import EXIT_RESOURCES, ResourceError
from tests.spark.engine import skip_without_spark


class _OutOfMemorySpark:
    """A SparkSession whose every query fails as Spark's driver does when its heap is full."""

    def sql(self, *args, **kwargs):
        raise Py4JError(
            "An error occurred while calling o42.sql.\n: java.lang.OutOfMemoryError: Java heap space"
        )


def test_out_of_memory_in_spark_is_a_resource_error(tmp_path: Path) -> None:
    skip_without_spark()
    from checks.evaluate import all_checks
    from pipelines.engines.spark import SparkEngine

    engine = SparkEngine(_OutOfMemorySpark())
    con = duckdb.connect()
    definition = all_checks()[0]
    with pytest.raises(ResourceError) as caught:
        engine.evaluate_into(con, definition, {"as_of": "2026-11-20"}, "result_x")
    assert caught.value.exit_code == EXIT_RESOURCES
    assert "spark.driver.memory" in str(caught.value) and "\n" not in str(caught.value)


def test_other_spark_errors_are_left_as_they_are(tmp_path: Path) -> None:
    skip_without_spark()
    from checks.evaluate import all_checks
    from pipelines.engines.spark import SparkEngine

    class _Failing:
        def sql(self, *args, **kwargs):
            raise Py4JError("An error occurred while calling o42.sql")

    with pytest.raises(Py4JError):
        SparkEngine(_Failing()).evaluate_into(duckdb.connect(), all_checks()[0], {"as_of": "x"}, "r")
