"""A regular expression matches the same text on Spark as on DuckDB. DuckDB's (RE2) '.' stops only
at '\\n' and its '$' is the end of the text; Java's '.' also stops at '\\r', U+0085, U+2028 and
U+2029, and its '$' also matches before a final line break. A drug name keeps a line break of a
quoted CSV field (the ingest turns '\\r\\n' into '\\n'), so the stem elderly_numbness_fall_risk
counts distinct drugs by (regexp_replace(name, '\\s*[0-9].*$', '')) differed on Spark. Java's '\\s'
also matches a vertical tab (U+000B), RE2's does not: 'zzalpha<VT>5 mg' was another stem too."""

from __future__ import annotations

from tests.spark.engine import names_on_both

NAMES = [
    "diazepam 5mg\u2028tab",
    "diazepam 5mg\u2029tab",
    "ibuprofen 400mg\ntablet",
    "ibuprofen 400mg\n",
    "ibuprofen 400mg\r",
    "naproxen\u0085500 mg",
    "insulin-like\n",
    "eye drops",
    "plain 5 mg",
    "a$b 5",
    "zzalpha\x0b5 mg",  # a vertical tab: a space to Java's \\s, not to RE2's
    "zzbeta\x0bwith\x0bzzgamma",
    "zzdelta\x0c5 mg",
    "losartan\x0bpotassium 50 mg",  # a pattern written over lines (||) is translated too
    "losartan potassium\u2028",
    "losartan potassium\u0085",
]


PATTERNS = (
    "regexp_replace(s, '\\s*[0-9].*$', ''), regexp_matches(s, 'insulin[^a-z]*like([^a-z]|$)'), "
    "regexp_matches(s, '(eye|ear) ?(drops?|spray)'), regexp_matches(s, 'a[$]b'), "
    "regexp_matches(s, '^[a-z]+ [0-9]+mg.tab'), regexp_matches(s, 'mg\\$|mg$'), "
    "regexp_matches(s, '[a-z]\\s*[/+]\\s*[a-z]|\\s(with|and)\\s'), regexp_replace(s, '[\\s,]+', '_', 'g'), "
    "regexp_replace(s, '\\S+', 'w', 'g'), "
    "regexp_replace(s, '(\\s+(potassium' || '|besilate))+(\\s|$)', ' ', 'g')"
)


def test_regex_matches_and_replaces_the_same_text(spark_session) -> None:
    sql = f"SELECT i, {PATTERNS} FROM names_t ORDER BY i"
    on_duckdb, on_spark = names_on_both(spark_session, NAMES, sql)
    assert on_spark == on_duckdb
    assert on_duckdb[0][5] and on_duckdb[0][1] == "diazepam"  # the patterns do match where meant
