"""Every check translates to Spark SQL: no macro left, parameters bound, Spark's parser reads it.
(tests/spark/ runs the translations on a real Spark.)"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from checks import translate
from checks.evaluate import all_checks


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_check_translates(check) -> None:
    query = translate.check_query(check.sql)
    tree = sqlglot.parse_one(query, read="spark")
    left = {f.name.lower() for f in tree.find_all(exp.Anonymous)} & set(translate.spark_vocabulary())
    assert not left, f"vocabulary words left unexpanded: {left}"
    assert "$" not in re.sub(r"'[^']*'|/\*.*?\*/", "", query), "a $parameter was not turned into :name"
    names = {p.name for p in tree.find_all(exp.Placeholder)}
    assert names <= {*(p.name for p in check.parameters), "as_of"}


def test_spark_words_name_duckdb_words_or_builtins() -> None:
    """The Spark file replaces words; it never adds a word the DuckDB vocabulary lacks, except the
    DuckDB builtins it spells for Spark and the helpers only its own words use (no check or DuckDB
    word can name them, so no clinical meaning lives in the Spark file alone)."""
    spark_text = translate.SPARK_VOCABULARY.read_text(encoding="utf-8")
    spark_only = translate.parse_macros(spark_text, "spark")
    duckdb_words, duckdb_text = {}, ""
    for name in translate.VOCABULARY_FILES:
        text = (translate.SQL_DIR / name).read_text(encoding="utf-8")
        duckdb_words |= translate.parse_macros(text)
        duckdb_text += text
    duckdb_text += "".join(p.read_text(encoding="utf-8") for p in translate.SQL_DIR.glob("[a-z]*.sql"))
    # to_years(n), to_days(n), round(x, n), lower(x), epoch(t): DuckDB builtins given a Spark body
    builtins = {"to_years", "to_days", "round_half_away", "lower_as_duckdb", "epoch_seconds"}
    for name, word in spark_only.items():
        if name in duckdb_words:
            assert word.params == duckdb_words[name].params, name
        elif name not in builtins:
            used_by_spark_words = [
                other
                for other, w in spark_only.items()
                if other != name and f"{name}(" in w.body.sql("spark").lower()
            ]
            assert used_by_spark_words, f"{name} is not a DuckDB word, nor used by a Spark word"
            assert f"{name}(" not in duckdb_text.lower(), f"{name} is a Spark helper named in DuckDB SQL"


def test_a_table_word_becomes_a_subquery_with_its_arguments() -> None:
    query = translate.to_spark("SELECT patient_id FROM diagnoses_by(['cirrhosis'], $as_of) d")
    assert "FROM (SELECT * FROM coded_diagnoses WHERE ARRAY_CONTAINS" in query
    assert "recorded_at <= (:as_of)" in query and query.endswith("AS d")


def test_an_unknown_pivot_form_is_refused() -> None:
    with pytest.raises(translate.TranslationError):
        translate.to_spark("PIVOT (SELECT * FROM t) ON analyte IN (1, 2) USING max(v) GROUP BY p")


def test_a_list_index_past_the_end_is_null_on_spark_as_on_duckdb() -> None:
    """DuckDB's list[i] is NULL past the end (elderly_numbness_fall_risk's polypharmacy_since reads the
    n-th start of a shorter list); Spark's element_at raises there, try_element_at does not."""
    query = translate.to_spark("SELECT [1, 2][5] AS x, [1, 2][2] AS y", {})
    assert "TRY_ELEMENT_AT" in query.upper() and "(ELEMENT_AT" not in query.upper().replace("TRY_", "")


def test_a_pattern_written_over_lines_is_read_by_java_as_re2_reads_it() -> None:
    """A long pattern is written as literals joined by || (drug_stem's salts): it is folded into one
    literal and translated (RE2's '\\s' and '$' as Java sets them), not passed to Spark as written."""
    spark = translate.to_spark(
        "SELECT regexp_replace(s, '(\\s+(potassium' || '|besilate))+(\\s|$)', ' ') FROM t"
    )
    assert "\\z" in spark and "||" not in spark and "CONCAT" not in spark.upper()


def test_a_pattern_that_is_no_literal_is_refused() -> None:
    with pytest.raises(translate.TranslationError, match="regular expression"):
        translate.to_spark("SELECT regexp_matches(s, p) FROM t")


@pytest.mark.parametrize(
    "where",
    ["a NOT IN (SELECT a FROM u)", "NOT (a IN (SELECT a FROM u))", "b = 1 AND NOT a IN (SELECT a FROM u)"],
)
def test_a_not_in_over_a_subquery_is_refused(where: str) -> None:
    # Spark's null-aware anti join is broadcast whatever its size: a check using it failed CI
    # ("Not enough memory to build and broadcast the table") on a 400-patient clinic
    with pytest.raises(translate.TranslationError, match="NOT EXISTS"):
        translate.to_spark(f"SELECT 1 FROM t WHERE {where}")


def test_not_exists_and_a_not_in_list_translate() -> None:
    spark = translate.to_spark(
        "SELECT 1 FROM t WHERE a NOT IN ('x', 'y') AND NOT EXISTS (SELECT 1 FROM u WHERE u.a = t.a)"
    )
    assert "NOT EXISTS" in spark.upper()
