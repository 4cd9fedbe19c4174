"""epoch() reads the same on Spark as on DuckDB: seconds since 1970 with their fraction. Spark's
unix_timestamp(), sqlglot's translation of it, drops the fraction, so a total calcium's nearest
same-day albumin (cramps_electrolyte_check: the albumin nearest in time corrects it) was another
albumin on Spark when the lab stamps results to the millisecond."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import duckdb

from checks import translate


def _stamps() -> list[str]:
    rng = random.Random(20261201)
    start = datetime(1901, 1, 1)
    stamps = [
        "2026-10-01 08:00:00.9",
        "2026-10-01 08:00:00",
        "1969-12-31 23:59:59.999999",
        "2024-02-29 00:00:00",
    ]
    stamps += ["1970-01-01 00:00:00.000001", "2099-12-31 23:59:59.5"]
    for _ in range(300):
        moment = start + timedelta(microseconds=rng.randrange(0, 200 * 365 * 86400 * 10**6))
        stamps.append(moment.isoformat(sep=" "))
    return stamps


def test_epoch_keeps_the_fraction_of_a_second_as_duckdb_does(spark_session) -> None:
    values = ", ".join(f"({i}, TIMESTAMP '{s}')" for i, s in enumerate(_stamps()))
    sql = f"SELECT i, epoch(t), epoch(CAST(t AS DATE)) FROM (VALUES {values}) v(i, t) ORDER BY i"
    on_duckdb = [tuple(r) for r in duckdb.sql(sql).fetchall()]
    on_spark = [tuple(r) for r in spark_session.sql(translate.to_spark(sql)).collect()]
    assert on_spark == on_duckdb


def test_the_nearest_albumin_is_the_same_on_both_engines(spark_session) -> None:
    """A calcium at 08:00:00.900: the albumin at 08:00:01 (0.1 s away) is nearer than the one at
    08:00:00 (0.9 s away): the ordering cramps_electrolyte_check picks its albumin by."""
    sql = (
        "SELECT albumin FROM (VALUES (TIMESTAMP '2026-10-01 08:00:00', 30), "
        "(TIMESTAMP '2026-10-01 08:00:01', 45)) a(taken, albumin) "
        "ORDER BY abs(epoch(TIMESTAMP '2026-10-01 08:00:00.9') - epoch(taken)) LIMIT 1"
    )
    assert duckdb.sql(sql).fetchall() == [(45,)]
    assert [tuple(r) for r in spark_session.sql(translate.to_spark(sql)).collect()] == [(45,)]
