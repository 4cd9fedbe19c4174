"""The words of checks/sql/spark/_vocabulary.sql, each held to its DuckDB twin on its boundaries,
and the translated forms Spark reads differently (list indexes, DISTINCT lists, PIVOT)."""

from __future__ import annotations

import random
from datetime import date

import duckdb
import pytest

from checks import translate
from checks.evaluate import SQL_DIR

RESULTS = [
    (3.2, None),
    (45.0, None),
    (2000.0, ">"),
    (2.5, "<"),
    (0.004, "<"),
    (0.0045, None),
    (0.05, None),
    (0.0, None),
    (-0.02, None),
    (0.1, "<="),
    (None, None),
]


def _duckdb(sql: str, params: dict | None = None) -> list[tuple]:
    con = duckdb.connect()
    con.execute((SQL_DIR / "_results.sql").read_text(encoding="utf-8"))
    return [tuple(r) for r in con.execute(sql, params or {}).fetchall()]


def _spark(spark, sql: str, params: dict | None = None) -> list[tuple]:
    return [tuple(r) for r in spark.sql(translate.to_spark(sql), args=params or {}).collect()]


def _values(rows: list[tuple]) -> str:
    return "VALUES " + ", ".join(
        f"({i}, {v if v is not None else 'NULL'}::DOUBLE, {repr(c) if c else 'NULL'})"
        for i, (v, c) in enumerate(rows)
    )


def test_result_text_reads_the_same(spark_session) -> None:
    sql = f"SELECT i, result_text(v, c) FROM ({_values(RESULTS)}) t(i, v, c) ORDER BY i"
    assert _spark(spark_session, sql) == _duckdb(sql)


def _many_values() -> list[float]:
    """Values on the edges of the text forms: two-decimal halves (66.315: the double lies below it),
    creatinine and glucose converted from mg/dL, every size from 1e-7 to 1e12, decades' edges."""
    rng = random.Random(20261130)
    values = [66.315, 2.675, 1.005, 0.145, 0.125, 2.5, 0.0045, 0.00445, 0.099, 0.0999, 0.0001, 0.00009999]
    values += [-0.0, -0.002, 0.0625, -0.0625, 1e17, -1e17, 1e16 + 1, 1e-100, 1e-300]  # edges
    values += [round(rng.uniform(0, 500), 3) for _ in range(400)]  # three decimals: many halves
    values += [c / 100 * 88.42 for c in range(20, 1500, 5)] + [g * 0.0555 for g in range(20, 600, 3)]
    values += [rng.uniform(1, 10) * 10.0**e for e in range(-7, 13) for _ in range(15)]
    values += [10.0**e for e in range(-7, 13)]
    return values + [-v for v in values[:50]]


def test_result_text_and_rounding_read_the_same_on_many_values(spark_session) -> None:
    """Spark rounds the decimal form, DuckDB the binary value (round_half_away): every value here
    must read and round alike, so that evidence and the flags that round (result_fell, corrected
    calcium) do not depend on the engine."""
    values = _many_values()
    rows = ", ".join(f"({i}, CAST('{v!r}' AS DOUBLE))" for i, v in enumerate(values))  # -0.0 stays
    sql = (
        "SELECT i, result_text(v, NULL), round(v, 2), round(v, 3), round(v, 0) "
        f"FROM (VALUES {rows}) t(i, v) ORDER BY i"
    )
    duck, spark = _duckdb(sql), _spark(spark_session, sql)
    differ = [(values[d[0]], d[1:], s[1:]) for d, s in zip(duck, spark, strict=True) if d != s]
    assert not differ, differ[:5]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (date(2024, 2, 28), date(2024, 3, 1)),
        (date(2025, 1, 1), date(2024, 12, 31)),
        (date(2024, 5, 5), date(2024, 5, 5)),
    ],
)
def test_days_between_is_a_day_count(spark_session, earlier: date, later: date) -> None:
    sql = "SELECT days_between(CAST($a AS DATE), CAST($b AS DATE)) AS d"
    assert _spark(spark_session, sql, {"a": earlier, "b": later}) == [((later - earlier).days,)]


def test_years_added_as_duckdb_adds_them(spark_session) -> None:
    sql = (
        "SELECT CAST(d + to_years(CAST(n AS INTEGER)) AS DATE) FROM (VALUES (DATE '2020-02-29', 1), "
        "(DATE '2020-02-29', 4), (DATE '1950-12-31', 75)) t(d, n) ORDER BY d, n"
    )
    assert _spark(spark_session, sql) == _duckdb(sql)


def test_lists_are_indexed_from_one_as_in_duckdb(spark_session) -> None:
    sql = (
        "SELECT w[1], w[i + 1], w[len(w)], array_to_string(w[1:len(w) - 1], ',') "
        "FROM (VALUES (['a', 'b', 'c', 'd'], 1)) t(w, i)"
    )
    assert _spark(spark_session, sql) == _duckdb(sql) == [("a", "b", "d", "a,b,c")]


def test_distinct_lists_filtered_sorted_and_null_when_empty(spark_session) -> None:
    sql = (
        "SELECT g, string_agg(DISTINCT x, '; ' ORDER BY x) FILTER (keep) AS kept, "
        "string_agg(DISTINCT x, ', ' ORDER BY x) AS every, "
        "string_agg(x, ', ' ORDER BY n) FILTER (keep) AS by_n "
        "FROM (VALUES (1, 'b', true, 2), (1, 'a', true, 3), (1, 'b', false, 1), (2, 'c', false, 1)) "
        "t(g, x, keep, n) GROUP BY g ORDER BY g"
    )
    assert _spark(spark_session, sql) == _duckdb(sql) == [(1, "a; b", "a, b", "b, a"), (2, None, "c", None)]


def test_pivot_names_its_columns_as_duckdb_does(spark_session) -> None:
    sql = (
        "WITH p AS (PIVOT (SELECT * FROM (VALUES ('P1', 'potassium', 1, 3.1::DOUBLE), "
        "('P1', 'potassium', 2, 3.9::DOUBLE), "
        "('P1', 'sodium', 1, 140.0::DOUBLE)) t(pid, analyte, day, v)) ON analyte IN ('potassium', 'sodium') "
        "USING max(day) AS at, arg_max(v, day) AS last GROUP BY pid) "
        "SELECT pid, potassium_at, potassium_last, sodium_at, sodium_last FROM p"
    )
    assert _spark(spark_session, sql) == _duckdb(sql) == [("P1", 2, 3.9, 1, 140.0)]


def test_age_on_reads_the_same(spark_session) -> None:
    """Whole years of age, the 29th of February included (age_on, checks/sql/_phrases.sql)."""
    sql = (
        "SELECT b, d, age_on(b, d) FROM (VALUES (DATE '1960-02-29', DATE '2025-02-27'), "
        "(DATE '1960-02-29', DATE '2025-02-28'), (DATE '1960-02-29', DATE '2028-02-28'), "
        "(DATE '1960-05-01', DATE '2025-04-30'), (DATE '1960-05-01', DATE '2025-05-01')) t(b, d) "
        "ORDER BY b, d"
    )
    phrases = translate.statements((SQL_DIR / "_phrases.sql").read_text(encoding="utf-8"))
    (age_on,) = [s for s in phrases if "MACRO age_on(" in s]
    con = duckdb.connect()
    con.execute(age_on)
    assert _spark(spark_session, sql) == [tuple(r) for r in con.execute(sql).fetchall()]


def test_a_refill_gap_reads_the_same(spark_session) -> None:
    """taken_until, still_taken and taken_on (checks/sql/_phrases.sql): the gap capped at the course's
    length, an open end, gap 0, the day the gap runs out, and no gap after an early stop."""
    sql = (
        "SELECT s, e, g, x, taken_until(s, e, x, g), still_taken(s, e, x, DATE '2026-11-20', g), "
        "taken_on(s, e, x, DATE '2026-11-20', g) FROM (VALUES "
        "(DATE '2026-01-01', DATE '2026-10-21', 30, false), "
        "(DATE '2026-01-01', DATE '2026-10-20', 30, false), "
        "(DATE '2026-11-10', DATE '2026-11-15', 30, false), "
        "(DATE '2026-11-09', DATE '2026-11-14', 30, false), "
        "(DATE '2026-01-01', CAST(NULL AS DATE), 30, false), "
        "(DATE '2026-01-01', DATE '2026-11-19', 0, false), "
        "(DATE '2026-11-21', CAST(NULL AS DATE), 30, false), "
        "(DATE '2026-09-01', DATE '2026-11-10', 30, true)) "
        "t(s, e, g, x) ORDER BY s, e NULLS LAST, g"
    )
    words = ("days_between", "days_after", "ongoing_on", "taken_until", "still_taken", "taken_on")
    phrases = list(translate.statements((SQL_DIR / "_phrases.sql").read_text(encoding="utf-8")))
    con = duckdb.connect()
    for word in words:
        (macro,) = [s for s in phrases if f"MACRO {word}(" in s]
        con.execute(macro)
    duck = [tuple(r) for r in con.execute(sql).fetchall()]
    assert [r[5] for r in duck] == [False, True, False, True, False, False, True, True]
    assert _spark(spark_session, sql) == duck


def test_drug_stem_reads_the_same(spark_session) -> None:
    """drug_stem (checks/sql/_phrases.sql), a regular expression of leading quantities and a cut at the
    first digit, on every name its DuckDB test holds (Java's regular expressions are not RE2's)."""
    from tests.unit.test_check_vocabulary import DRUG_STEMS

    phrases = list(translate.statements((SQL_DIR / "_phrases.sql").read_text(encoding="utf-8")))
    macros = [s for s in phrases if "MACRO drug_stem(" in s or "MACRO without_salt(" in s]
    assert len(macros) == 2
    con = duckdb.connect()
    for macro in macros:
        con.execute(macro)
    sql = "SELECT n, drug_stem(n) FROM (VALUES {}) t(n) ORDER BY n".format(
        ", ".join("(" + "'" + name.replace("'", "''") + "'" + ")" for name, _ in DRUG_STEMS)
    )
    duck = [tuple(r) for r in con.execute(sql).fetchall()]
    assert sorted(stem for _, stem in duck) == sorted(stem for _, stem in DRUG_STEMS)
    assert _spark(spark_session, sql) == duck


def test_an_undated_course_ends_the_same(spark_session) -> None:
    """course_end (checks/sql/_phrases.sql): least() of a planned end or start + days (none when the
    export says the drug is still taken) and a death, NULLs skipped on both engines."""
    sql = (
        "SELECT s, p, e, course_end(s, p, o, e, 90) FROM (VALUES "
        "(DATE '2026-01-01', DATE '2026-03-01', false, DATE '2026-03-01'), "
        "(DATE '2026-01-02', CAST(NULL AS DATE), false, CAST(NULL AS DATE)), "
        "(DATE '2026-01-03', CAST(NULL AS DATE), false, DATE '2026-02-01'), "
        "(DATE '2026-01-04', CAST(NULL AS DATE), false, DATE '2026-12-01'), "
        "(DATE '2026-01-05', DATE '2026-06-01', false, DATE '2026-02-01'), "
        "(DATE '2026-01-06', CAST(NULL AS DATE), true, CAST(NULL AS DATE)), "
        "(DATE '2026-01-07', CAST(NULL AS DATE), true, DATE '2026-12-01')) t(s, p, o, e) ORDER BY s"
    )
    phrases = list(translate.statements((SQL_DIR / "_phrases.sql").read_text(encoding="utf-8")))
    con = duckdb.connect()
    for word in ("days_after", "course_end"):
        (macro,) = [s for s in phrases if f"MACRO {word}(" in s]
        con.execute(macro)
    duck = [tuple(r) for r in con.execute(sql).fetchall()]
    assert [r[3] for r in duck] == [
        date(2026, 3, 1),
        date(2026, 4, 2),
        date(2026, 2, 1),
        date(2026, 4, 4),
        date(2026, 2, 1),
        None,
        date(2026, 12, 1),
    ]
    assert _spark(spark_session, sql) == duck


def test_ckd_epi_2021_reads_the_same(spark_session) -> None:
    """ckd_epi_2021 (checks/sql/_results.sql): pow and round of doubles on both engines."""
    from tests.unit.test_check_vocabulary import CKD_EPI_CASES

    rows = ", ".join(f"({c}, {a}, {'NULL' if s is None else repr(s)})" for c, a, s, _ in CKD_EPI_CASES)
    sql = f"SELECT c, a, s, ckd_epi_2021(c, a, s) FROM (VALUES {rows}) t(c, a, s) ORDER BY c, a, s NULLS LAST"
    duck = _duckdb(sql)
    assert sorted((r[3] for r in duck), key=str) == sorted((e for *_, e in CKD_EPI_CASES), key=str)
    assert _spark(spark_session, sql) == duck


def test_is_combination_reads_the_same(spark_session) -> None:
    """is_combination (checks/sql/_phrases.sql), a regular expression, on the names its DuckDB test holds."""
    from tests.unit.test_check_vocabulary import COMBINATIONS

    phrases = list(translate.statements((SQL_DIR / "_phrases.sql").read_text(encoding="utf-8")))
    (macro,) = [s for s in phrases if "MACRO is_combination(" in s]
    con = duckdb.connect()
    con.execute(macro)
    names = ", ".join("('" + name.replace("'", "''") + "')" for name, _ in COMBINATIONS)
    sql = f"SELECT n, is_combination(n) FROM (VALUES {names}) t(n) ORDER BY n"
    duck = [tuple(r) for r in con.execute(sql).fetchall()]
    assert sorted(r[1] for r in duck) == sorted(c for _, c in COMBINATIONS)
    assert _spark(spark_session, sql) == duck


def test_earlier_until_reads_the_same(spark_session) -> None:
    """earlier_until (checks/sql/_phrases.sql), a window word with rows as its course and order keys:
    the latest end of the earlier prescriptions of one course, an earlier long one outlasting a later
    short one, ties on the start broken by the name, a NULL end skipped, NULL for each course's first."""
    sql = (
        "SELECT p, k, s, n, earlier_until(u, (p, k), (s, n)) FROM (VALUES "
        "('a', 'x', DATE '2026-01-01', 'x1', DATE '2026-06-01'), "
        "('a', 'x', DATE '2026-02-01', 'x2', DATE '2026-02-28'), "
        "('a', 'x', DATE '2026-03-01', 'x3', CAST(NULL AS DATE)), "
        "('a', 'x', DATE '2026-04-01', 'x4', DATE '2026-04-30'), "
        "('a', 'y', DATE '2026-02-15', 'y2', DATE '2026-04-15'), "
        "('a', 'y', DATE '2026-02-15', 'y1', DATE '2026-03-15'), "
        "('b', 'x', DATE '2026-01-01', 'x1', CAST(NULL AS DATE))) t(p, k, s, n, u) ORDER BY p, k, s, n"
    )
    phrases = list(translate.statements((SQL_DIR / "_phrases.sql").read_text(encoding="utf-8")))
    (macro,) = [s for s in phrases if "MACRO earlier_until(" in s]
    con = duckdb.connect()
    con.execute(macro)
    duck = [tuple(r) for r in con.execute(sql).fetchall()]
    assert [r[4] for r in duck] == [
        None,
        date(2026, 6, 1),
        date(2026, 6, 1),
        date(2026, 6, 1),
        None,
        date(2026, 3, 15),
        None,
    ]
    assert _spark(spark_session, sql) == duck
