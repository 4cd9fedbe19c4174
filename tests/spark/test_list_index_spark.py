"""A list index reads the same on Spark as on DuckDB, index 0 included: DuckDB's list[0] is NULL,
Spark's try_element_at(list, 0) an error (INVALID_INDEX_OF_ZERO). A parameter may be 0
(elderly_numbness_fall_risk.polypharmacy_count, refractory_neuropathic_pain.min_trials: a whole
number, 0 allowed), and the check picks the n-th start date with it: the run failed on Spark only."""

from __future__ import annotations

import duckdb
import pytest

from checks import translate


@pytest.mark.parametrize("n", [0, 1, 3, 4, -1, -3, -4, None])
def test_the_nth_item_reads_the_same_for_every_index(spark_session, n: int | None) -> None:
    sql = (
        "SELECT [10, 20, 30][CAST($n AS INTEGER)], list_sort([30, 10, 20])[CAST($n AS INTEGER)], "
        "[10, 20, 30][0]"
    )
    on_duckdb = [tuple(r) for r in duckdb.execute(sql, {"n": n}).fetchall()]
    on_spark = [tuple(r) for r in spark_session.sql(translate.to_spark(sql), args={"n": n}).collect()]
    assert on_spark == on_duckdb
