"""Spark out of memory (its driver's heap: 1 GB unless spark.driver.memory says more) is exit 7 with
one line, as DuckDB's out of memory is, not an internal error (exit 1) asking for a bug report."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from py4j.protocol import Py4JError

from pipelines.errors import EXIT_RESOURCES, ResourceError
from tests.spark.engine import skip_without_spark

# How Spark's driver reports a full heap: a query's own OutOfMemoryError, or (Spark 4, adaptive
# execution) broadcast joins whose tables did not fit, under STAGE_MATERIALIZATION_MULTIPLE_FAILURES,
# which names only Spark's sentence (CI, stop 49: the Java error is in no line of the text).
BROADCAST = (
    "SparkException: Not enough memory to build and broadcast the table to all worker nodes. As a "
    "workaround, you can either disable broadcast by setting spark.sql.autoBroadcastJoinThreshold to -1 "
    "or increase the spark driver memory by setting spark.driver.memory to a higher value or apply the "
    "shuffle sort merge join hint as described in the Spark documentation: "
    "https://spark.apache.org/docs/latest/sql-ref-syntax-qry-select-hints.html#join-hints."
)
HEAP_FULL = {
    "heap": "An error occurred while calling o42.sql.\n: java.lang.OutOfMemoryError: Java heap space",
    "broadcast": (  # as CI printed it (stop 49), the Java frames cut
        "An error occurred while calling o1963.getResult.\n: org.apache.spark.SparkException: Exception "
        "thrown in awaitResult: \n\tat org.apache.spark.util.SparkThreadUtils$.awaitResult(SparkThreadUtils"
        ".scala:70)\nCaused by: org.apache.spark.SparkException: [STAGE_MATERIALIZATION_MULTIPLE_FAILURES]"
        " Multiple failures (4) in stage materialization: \n"
        + "".join(f"  {n}. {BROADCAST}\n" for n in range(1, 5))
    ),
}


class _OutOfMemorySpark:
    """A SparkSession whose every query fails as Spark's driver does when its heap is full."""

    def __init__(self, text: str) -> None:
        self.text = text

    def sql(self, *args, **kwargs):
        raise Py4JError(self.text)


@pytest.mark.parametrize("form", sorted(HEAP_FULL))
def test_out_of_memory_in_spark_is_a_resource_error(tmp_path: Path, form: str) -> None:
    skip_without_spark()
    from checks.evaluate import all_checks
    from pipelines.engines.spark import SparkEngine

    engine = SparkEngine(_OutOfMemorySpark(HEAP_FULL[form]))
    con = duckdb.connect()
    definition = all_checks()[0]
    with pytest.raises(ResourceError) as caught:
        engine.evaluate_into(con, definition, {"as_of": "2026-11-20"}, "result_x")
    assert caught.value.exit_code == EXIT_RESOURCES
    assert "spark.driver.memory" in str(caught.value) and "\n" not in str(caught.value)


def test_other_spark_errors_are_left_as_they_are(tmp_path: Path, spark_session) -> None:
    """With Spark's JVM running (the test session's: without one, an error reads as Spark gone)."""
    from checks.evaluate import all_checks
    from pipelines.engines.spark import SparkEngine

    class _Failing:
        def sql(self, *args, **kwargs):
            raise Py4JError("An error occurred while calling o42.sql")

    with pytest.raises(Py4JError):
        SparkEngine(_Failing()).evaluate_into(duckdb.connect(), all_checks()[0], {"as_of": "x"}, "r")


def test_the_session_keeps_what_it_retains_between_queries_bounded(spark_session) -> None:
    """The SQL parser's cache is flushed past a tenth of the driver's heap and few finished queries'
    plans are kept: with Spark's defaults one run of the sample clinic left some 450 MB of a 1 GB heap
    behind, and the next run in the same process (stop 49's CI) ran out building a broadcast."""
    conf = spark_session.conf
    assert conf.get("spark.sql.parser.manageParserCaches") == "true"
    assert 0 < float(conf.get("spark.sql.parser.parserDfaCacheFlushRatio")) <= 25
    assert int(conf.get("spark.sql.ui.retainedExecutions")) <= 100
