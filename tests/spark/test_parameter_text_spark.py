"""A parameter written into a check's text reads the same on Spark as on DuckDB. insulin_potassium_drop
writes its thresholds into the reason ('potassium below ' || $potassium_low || ' mmol/L'): DuckDB
writes a double as its shortest form ('0.0009', '12345678.0', '1e-05'), Java as '9.0E-4',
'1.2345678E7', '1.0E-5', so `--param insulin_potassium_drop.fall_mmol=0.0009` gave another reason
in findings.csv and the worklist on Spark only."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from checks import translate
from pipelines.engines.spark import query_args

SQL = (
    "SELECT 'below ' || $p || ' mmol/L', coalesce('; fell by ' || $p || ' within ' || $n || ' days', ''), "
    "$p * 2, $n + 1, 'to ' || $as_of"
)


@pytest.mark.parametrize("value", [0.0009, 12345678.0, 1e-05, 1e16, 3.5, 1.0, 0.0, 0.1 + 0.2])
def test_a_parameter_in_text_reads_as_on_duckdb(spark_session, value: float) -> None:
    params = {"p": value, "n": 7, "as_of": date(2026, 11, 20)}
    con = duckdb.connect()
    on_duckdb = [tuple(r) for r in con.execute(SQL, params).fetchall()]
    query = translate.check_query(SQL, texts=True)
    on_spark = [tuple(r) for r in spark_session.sql(query, args=query_args(con, query, params)).collect()]
    assert on_spark == on_duckdb
    assert con.execute("SELECT 1").fetchall() == [(1,)]  # no result left unread on the run's connection
