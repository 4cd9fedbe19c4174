"""lower() reads the same on Spark as on DuckDB: the checks lowercase drug names before matching
them (regexp_matches(lower(drug_name), 'insulin[^a-z]*like')) and show them (an ingredient a local
codelist leaves empty is the lowercased name). Java lowercases 'İ' to 'i' and a combining dot and a
final 'Σ' to 'ς'; DuckDB maps each letter on its own ('i', 'σ'): the only two of every Unicode
letter and digit where they differ (checked once over all 128,613)."""

from __future__ import annotations

import duckdb

from checks import translate

NAMES = [
    "İNSULİN-LİKE GROWTH FACTOR",  # mecasermin: not an insulin, if its name is read as 'insulin-like'
    "İBUPROFEN 400MG",
    "DİAZEPAM 5 mg tablet",
    "ΣΟΦΟΣ",  # a final capital sigma
    "Σ-test Σ",
    "Straße ǅ ΑΒΓ naïve",
    "ibuprofen",
    "",
    None,
]


def _values() -> str:
    return ", ".join(f"({i}, {'NULL' if n is None else repr(n)})" for i, n in enumerate(NAMES))


def test_lower_and_what_is_matched_on_it_read_the_same(spark_session) -> None:
    sql = (
        "SELECT i, lower(s), regexp_matches(lower(s), 'insulin[^a-z]*like'), "
        "regexp_matches(lower(s), '(^|[^a-z])(ibuprofen|diazepam)([^a-z]|$)') "
        f"FROM (VALUES {_values()}) t(i, s) ORDER BY i"
    )
    on_duckdb = [tuple(r) for r in duckdb.sql(sql).fetchall()]
    on_spark = [tuple(r) for r in spark_session.sql(translate.to_spark(sql)).collect()]
    assert on_spark == on_duckdb
    assert on_duckdb[0][2] and on_duckdb[1][3]  # the names are read as they are meant
