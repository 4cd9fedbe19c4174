"""trim() removes the same characters on Spark as on DuckDB. DuckDB's trim, ltrim and rtrim remove
every Unicode space separator (category Zs: the space, U+00A0 no-break space, U+2000-U+200A,
U+202F, U+205F, U+3000, U+1680); Spark's remove the ASCII space only. elderly_numbness_fall_risk
names a drug no codelist knows by its stem, trim(regexp_replace(lower(name), '\\s*[0-9].*$', '')):
'zzalpha<no-break space>5 mg' (a name pasted from a spreadsheet) and 'zzalpha 10 mg' were one drug
on DuckDB and two on Spark, so a patient on four drugs was flagged for polypharmacy on Spark only."""

from __future__ import annotations

import unicodedata

from tests.spark.engine import names_on_both

SPACES = [chr(c) for c in range(0x3001) if unicodedata.category(chr(c)) == "Zs"] + ["\t", "\n", "\x0b"]
NAMES = [f"{s}a{s}b{s}" for s in SPACES] + ["zzalpha\u00a05 mg", "zzeps\u3000 20mg", "", "\u00a0", None]


def test_trim_removes_the_same_characters(spark_session) -> None:
    sql = (
        "SELECT i, trim(s), ltrim(s), rtrim(s), trim(s, 'a'), "
        "trim(regexp_replace(lower(s), '\\s*[0-9].*$', '')) FROM names_t ORDER BY i"
    )
    on_duckdb, on_spark = names_on_both(spark_session, NAMES, sql)
    assert on_spark == on_duckdb
    assert on_duckdb[len(SPACES)][5] == "zzalpha"  # one drug with 'zzalpha 10 mg'
