"""A result too large to carry two decimals reads the same on Spark as on DuckDB. DuckDB's round(x, 2)
of a double whose product x * 100 is already whole (from 2^52: x from about 4.5e13) divides that
product back, so round(123456789012345.67, 2) is 123456789012345.69 there; Spark's word for it gave x
itself (..45.67). An analyte without plausible limits (vitamin B12, TSH) takes any value, and
numbness_neuropathy_workup shows the last B12 as result_text. From 1e16 DuckDB writes the fewest digits
that read back (-7.387629526543395e+16); Java 17's text may carry one more (-7.3876295265433952E16),
and its printf rounds that text rather than the exact value (...987e+18 for DuckDB's ...986e+18)."""

from __future__ import annotations

import random

import duckdb

from checks import translate
from checks.evaluate import SQL_DIR

VALUES = [
    123456789012345.67,
    -123456789012345.67,
    45035996273704.97,
    45035996273704.95,
    1234567890123456.8,
    9007199254740993.0,
    1e22,
    1.5e300,
    1.5e307,  # the product is infinite: x itself on both
    -1.5e307,
]


def _values() -> list[float]:
    rng = random.Random(20261201)
    return VALUES + [
        rng.choice((1, -1)) * rng.uniform(1, 10) * 10.0**e for e in range(12, 34) for _ in range(40)
    ]


def test_large_results_round_and_read_the_same(spark_session) -> None:
    rows = ", ".join(f"({i}, CAST('{v!r}' AS DOUBLE))" for i, v in enumerate(_values()))
    sql = (
        "SELECT i, round(v, 2), result_text(v, NULL), result_text(v, '>') "
        f"FROM (VALUES {rows}) t(i, v) ORDER BY i"
    )
    con = duckdb.connect()
    con.execute((SQL_DIR / "_results.sql").read_text(encoding="utf-8"))
    on_duckdb = [tuple(r) for r in con.execute(sql).fetchall()]
    on_spark = [tuple(r) for r in spark_session.sql(translate.to_spark(sql)).collect()]
    assert on_duckdb[0][2] == "123456789012345.69"  # DuckDB's own reading, which Spark must give
    differing = [(d, s) for d, s in zip(on_duckdb, on_spark, strict=True) if d != s]
    assert not differing, f"(DuckDB, Spark): {differing[:3]}"
