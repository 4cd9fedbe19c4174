"""The parts of a check computed once for all its months (checks/measures.py `_computed_once`): a CTE
that reads no as-of date, itself or through another CTE, gives the same rows for every month-end, so
the first night's measures compute it once instead of once per statement. A CTE wrongly judged
as-of-free would give every month the rows of one: these tests hold the judgement to the text."""

from __future__ import annotations

from datetime import date

import duckdb

from checks.evaluate import all_checks
from checks.measures import _computed_once, _cte_spans, _ctes, _keep_once

CHECK = """
-- a check: one row per patient ($as_of named in a comment of an as-of-free CTE does not count)
WITH codes(code, ord) AS (VALUES ('a', 1), ('b', 2)),
history AS MATERIALIZED (
    -- every result, whatever $as_of
    SELECT patient_id, day, value, lag(value) OVER (PARTITION BY patient_id ORDER BY day) AS prev
    FROM results WHERE note <> ')(' AND code IN (SELECT code FROM codes) AND value < 100 + $days
),
series AS (SELECT *, value < prev AS fell FROM history),
population AS (SELECT DISTINCT patient_id FROM drugs WHERE start_date <= $as_of),
recent AS (
    SELECT * FROM series
    WHERE day > $as_of - CAST($days AS INTEGER)
      AND patient_id IN (SELECT patient_id FROM population)
),
through_a_subquery AS (
    SELECT patient_id FROM history WHERE patient_id IN (SELECT patient_id FROM recent)
),
in_having AS (
    SELECT patient_id FROM history GROUP BY patient_id HAVING max(day) <= $as_of
),
unused AS (SELECT 1 AS x FROM history)
SELECT s.patient_id, bool_or(s.fell) AS flagged
FROM recent s JOIN through_a_subquery USING (patient_id) JOIN in_having USING (patient_id)
JOIN codes c ON c.code = 'a'
GROUP BY s.patient_id
"""


def test_a_cte_reads_the_as_of_date_itself_through_another_or_not_at_all():
    found = {c.name: c.reads_as_of for c in _ctes(CHECK)[0]}
    assert found == {
        "codes": False,
        "history": False,
        "series": False,
        "population": True,
        "recent": True,  # itself, and through population in a subquery
        "through_a_subquery": True,  # only through recent
        "in_having": True,
        "unused": False,
    }


def test_computed_once_are_the_as_of_free_ctes_the_rest_reads():
    """series (read by recent), history (read by two as-of CTEs) and codes (read by the final
    query); an as-of-free CTE nobody reads is left alone."""
    assert _computed_once(CHECK) == ("codes", "history", "series")


def test_each_ctes_span_is_its_query_whatever_its_text_holds():
    ctes = {c.name: c for c in _ctes(CHECK)[0]}
    assert list(_cte_spans(CHECK)) == list(ctes)
    assert CHECK[slice(*ctes["codes"].body)] == "VALUES ('a', 1), ('b', 2)"
    assert CHECK[slice(*ctes["codes"].whole)] == "codes(code, ord) AS (VALUES ('a', 1), ('b', 2))"
    assert CHECK[slice(*ctes["series"].body)] == "SELECT *, value < prev AS fell FROM history"
    assert CHECK[slice(*ctes["history"].whole)].startswith("history AS MATERIALIZED (\n")
    history = CHECK[slice(*ctes["history"].body)]
    assert history.strip().startswith("-- every result") and history.rstrip().endswith("value < 100 + $days")


def test_the_spans_make_the_same_query_again():
    """Each CTE written back from its span runs as the original does (DuckDB, a toy database)."""
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE results AS SELECT 'p1' AS patient_id, DATE '2026-01-01' + CAST(i AS INTEGER) AS day, "
        "10 - i AS value, '' AS note, 'a' AS code FROM range(5) t(i)"
    )
    con.execute("CREATE TABLE drugs AS SELECT 'p1' AS patient_id, DATE '2025-12-01' AS start_date")
    params = {"as_of": date(2026, 1, 10), "days": 30}
    original = con.execute(CHECK, params).fetchall()
    rebuilt = "WITH " + ",\n".join(CHECK[slice(*c.whole)] for c in _ctes(CHECK)[0])
    final = CHECK[CHECK.index("SELECT s.patient_id") :]
    assert original == [("p1", True)]
    assert con.execute(f"{rebuilt}\n{final}", params).fetchall() == original


def test_every_shipped_ctes_span_is_found():
    """Every check's CTEs have a span (a missed one would fail the measures), and the insulin check
    computes its potassium series once."""
    for definition in all_checks():
        ctes, _ = _ctes(definition.sql)
        assert set(_cte_spans(definition.sql)) == {c.name for c in ctes}, definition.id
    insulin = next(d for d in all_checks() if d.id == "insulin_potassium_drop")
    assert "runs_high" in _computed_once(insulin.sql)
    assert "recent" not in _computed_once(insulin.sql)


def test_names_know_no_case_as_in_duckdb():
    """`FROM pop` reads `Pop`: a CTE reading the as-of date through it is not as-of-free."""
    sql = (
        "WITH Pop AS (SELECT 1 AS x WHERE $as_of > DATE '2000-01-01'), free AS (SELECT * FROM pop), "
        "c AS (SELECT * FROM free, t WHERE t.d <= $as_of) SELECT * FROM c"
    )
    assert {c.name: c.reads_as_of for c in _ctes(sql)[0]} == {"pop": True, "free": True, "c": True}
    assert _computed_once(sql) == ()


def test_recursive_and_a_final_query_that_begins_with_from():
    sql = (
        "WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM t WHERE n < 3), "
        "u AS (SELECT * FROM t WHERE n <= $k) FROM u AS x(n) JOIN (SELECT 1) AS y(m) ON true"
    )
    assert list(_cte_spans(sql)) == ["t", "u"]


class _Toy:
    """What `_keep_once` reads of a check: its id, SQL and parameters."""

    id = "toy"
    sql = CHECK

    @staticmethod
    def resolve(overrides: dict, as_of: date) -> dict:
        return {"as_of": as_of, "days": 30, **overrides}


def test_the_check_reading_what_was_kept_gives_the_rows_of_the_check_at_every_date():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE results AS SELECT 'p' || (i % 3) AS patient_id, "
        "DATE '2026-01-01' + CAST(i AS INTEGER) AS day, (i * 7919) % 13 AS value, '' AS note, 'a' AS code "
        "FROM range(60) t(i)"
    )
    con.execute(
        "CREATE TABLE drugs AS SELECT 'p' || i AS patient_id, "
        "DATE '2026-02-25' + CAST(5 * i AS INTEGER) AS start_date FROM range(3) t(i)"
    )
    kept = _keep_once(con, _Toy, {}, date(2026, 1, 31))
    assert kept != CHECK and "measure_once_toy_series" in kept
    for as_of in (date(2026, 3, 1), date(2026, 3, 4), date(2026, 3, 10)):
        params = {"as_of": as_of, "days": 30}
        expected = con.execute(CHECK + " ORDER BY ALL", params).fetchall()
        assert expected, as_of
        assert con.execute(kept + " ORDER BY ALL", params).fetchall() == expected, as_of
