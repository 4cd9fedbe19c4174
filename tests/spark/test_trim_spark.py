"""trim() removes the same characters on Spark as on DuckDB. DuckDB's trim, ltrim and rtrim remove
every Unicode space separator (category Zs: the space, U+00A0 no-break space, U+2000-U+200A,
U+202F, U+205F, U+3000, U+1680); Spark's remove the ASCII space only. elderly_numbness_fall_risk
names a drug no codelist knows by its stem, trim(regexp_replace(lower(name), '\\s*[0-9].*$', '')):
'zzalpha<no-break space>5 mg' (a name pasted from a spreadsheet) and 'zzalpha 10 mg' were one drug
on DuckDB and two on Spark, so a patient on four drugs was flagged for polypharmacy on Spark only."""

from __future__ import annotations

import unicodedata

import duckdb

from checks import translate

SPACES = [chr(c) for c in range(0x3001) if unicodedata.category(chr(c)) == "Zs"] + ["\t", "\n", "\x0b"]
NAMES = [f"{s}a{s}b{s}" for s in SPACES] + ["zzalpha\u00a05 mg", "zzeps\u3000 20mg", "", "\u00a0", None]


def test_trim_removes_the_same_characters(spark_session) -> None:
    rows = list(enumerate(NAMES))
    con = duckdb.connect()
    con.execute("CREATE TABLE names_t(i INT, s VARCHAR)")
    con.executemany("INSERT INTO names_t VALUES (?, ?)", rows)
    spark_session.createDataFrame(rows, "i INT, s STRING").createOrReplaceTempView("names_t")
    sql = (
        "SELECT i, trim(s), ltrim(s), rtrim(s), trim(s, 'a'), "
        "trim(regexp_replace(lower(s), '\\s*[0-9].*$', '')) FROM names_t ORDER BY i"
    )
    on_duckdb = [tuple(r) for r in con.execute(sql).fetchall()]
    on_spark = [tuple(r) for r in spark_session.sql(translate.to_spark(sql)).collect()]
    assert on_spark == on_duckdb
    assert on_duckdb[len(SPACES)][5] == "zzalpha"  # one drug with 'zzalpha 10 mg'
