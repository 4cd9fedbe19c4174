"""A check reduced to what its flag reads (checks/pruning.py `flag_only`), the form the monthly
measures evaluate: it must give the same (patient_id, flagged) rows as the whole check, whatever
the check's SQL does. Each case below runs both texts on one small DuckDB database and compares
their rows; the insulin check's evidence-only joins are the ones the measures were paying for.
tests/functional/test_measures.py holds every shipped check's months, evaluated this way, to its
single-date evaluation."""

from __future__ import annotations

from collections import Counter
from datetime import date

import duckdb
import pytest

from checks.evaluate import all_checks, prepare
from checks.measures import _as_arguments
from checks.pruning import flag_only
from pipelines.db import connect

DATA = """
CREATE TABLE pats AS SELECT * FROM (VALUES ('p1', 70), ('p2', 40), ('p3', 85)) t(patient_id, age);
CREATE TABLE res AS SELECT * FROM (VALUES
    ('p1', 'k', DATE '2026-01-02', 3.1), ('p1', 'k', DATE '2026-02-02', 3.9),
    ('p1', 'na', DATE '2026-02-03', 139.0), ('p2', 'k', DATE '2026-01-05', 4.2),
    ('p2', 'k', DATE '2026-01-05', 4.4)) t(patient_id, analyte, day, value);
CREATE MACRO listed(x) AS string_agg(DISTINCT x, '; ' ORDER BY x);  -- as checks/sql/_phrases.sql
"""

CASES = {
    "an evidence-only join to a per-patient aggregate is dropped": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id),
        low AS (SELECT patient_id, bool_or(value < 3.5) AS hit FROM res WHERE analyte = 'k'
                GROUP BY patient_id)
        SELECT p.patient_id, coalesce(l2.hit, false) AS flagged, l.last_day
        FROM pats p LEFT JOIN latest l USING (patient_id) LEFT JOIN low l2 USING (patient_id)
        ORDER BY p.patient_id""",
    "a join to several rows per patient is kept (it repeats them)": """
        WITH every AS (SELECT patient_id, day FROM res)
        SELECT p.patient_id, p.age > 60 AS flagged, e.day
        FROM pats p LEFT JOIN every e USING (patient_id)""",
    "a join read in the WHERE is kept": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT p.patient_id, true AS flagged, l.last_day
        FROM pats p LEFT JOIN latest l USING (patient_id) WHERE l.last_day IS NOT NULL""",
    "a join read unqualified is kept": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT p.patient_id, last_day IS NULL AS flagged
        FROM pats p LEFT JOIN latest l USING (patient_id)""",
    "a join read through a struct's field is kept": """
        WITH latest AS (SELECT patient_id, {'day': max(day)} AS last FROM res GROUP BY patient_id)
        SELECT p.patient_id, g.last.day IS NULL AS flagged, p.age
        FROM pats p LEFT JOIN latest g USING (patient_id)""",
    "a join on a condition other than equality is kept": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT p.patient_id, true AS flagged, l.last_day
        FROM pats p LEFT JOIN latest l ON l.patient_id = p.patient_id AND l.last_day > $from""",
    "a projection read by its alias in the WHERE is kept": """
        WITH scored AS (SELECT patient_id, age * 2 AS score, age > 60 AS old FROM pats WHERE score > 100)
        SELECT patient_id, old AS flagged FROM scored""",
    "an aggregate with no GROUP BY keeps its one row": """
        WITH counted AS (SELECT 'all' AS patient_id, count(*) AS n FROM pats)
        SELECT patient_id, true AS flagged, n FROM counted""",
    "GROUP BY ALL keeps what it groups by": """
        WITH per AS (SELECT patient_id, analyte, count(*) AS n FROM res GROUP BY ALL)
        SELECT patient_id, n > 1 AS flagged FROM per""",
    "an unnest keeps the rows it makes": """
        WITH listed AS (SELECT patient_id, unnest([1, 2]) AS copy, age FROM pats)
        SELECT patient_id, age > 60 AS flagged FROM listed""",
    "a pivot grouped by patient is dropped when only evidence reads it": """
        WITH pivoted AS (PIVOT (SELECT * FROM res) ON analyte IN ('k', 'na') USING max(day) AS at
                         GROUP BY patient_id)
        SELECT p.patient_id, p.age > $old AS flagged, v.k_at
        FROM pats p LEFT JOIN pivoted v USING (patient_id)""",
    "a parameter in a HAVING stays a constant": """
        WITH first AS (SELECT patient_id, min(day) AS since FROM res GROUP BY patient_id
                       HAVING min(day) >= $from),
        latest AS (SELECT patient_id, max(value) AS top FROM res GROUP BY patient_id)
        SELECT f.patient_id, true AS flagged, l.top
        FROM first f LEFT JOIN latest l USING (patient_id)""",
    # what a second read found the first version got wrong: each gave other rows, or did not bind
    "a final ORDER BY under a LIMIT is kept": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT p.patient_id, p.age > 60 AS flagged, l.last_day
        FROM pats p LEFT JOIN latest l USING (patient_id) ORDER BY p.age DESC LIMIT 1""",
    "a GROUP BY by position keeps the projections": """
        WITH per AS (SELECT day, patient_id, bool_or(value < 4) AS flagged FROM res GROUP BY 1, patient_id)
        SELECT patient_id, flagged FROM per""",
    "a star read by GROUP BY ALL keeps every column": """
        WITH base AS (SELECT patient_id, day, value < 4 AS flagged FROM res),
        dedup AS (SELECT * FROM base GROUP BY ALL)
        SELECT patient_id, flagged FROM dedup""",
    "an aggregate sqlglot does not know, with no GROUP BY, keeps its one row": """
        WITH counted AS (SELECT 'all' AS patient_id, true AS flagged, product(age) AS n FROM pats)
        SELECT patient_id, flagged, n FROM counted""",
    "a CTE naming its columns by position keeps them all": """
        WITH t(patient_id) AS (SELECT patient_id AS pid, age AS junk, age > 60 AS flagged FROM pats)
        SELECT patient_id, flagged FROM t""",
    "an alias naming a CTE's columns keeps them all": """
        WITH t AS (SELECT age AS junk, patient_id, age > 60 AS flagged FROM pats)
        SELECT patient_id, flagged FROM t AS c(j)""",
    "a grouped CTE that unnests is not one row per patient": """
        WITH latest AS (SELECT patient_id, unnest(list(day)) AS d FROM res GROUP BY patient_id)
        SELECT p.patient_id, p.age > 60 AS flagged, l.d
        FROM pats p LEFT JOIN latest l USING (patient_id)""",
    "a CTE grouped by patient but projecting another patient_id is not one row per patient": """
        WITH latest AS (SELECT any_value(analyte) AS patient_id, max(day) AS last FROM res
                        GROUP BY patient_id)
        SELECT p.patient_id, true AS flagged, l.last
        FROM (SELECT 'k' AS patient_id) p LEFT JOIN latest l USING (patient_id)""",
    "a CTE grouped by two columns of one name is not one row per patient": """
        WITH latest AS (SELECT r.patient_id, max(q.day) AS top FROM res r JOIN res q ON q.analyte = r.analyte
                        GROUP BY q.patient_id, r.patient_id)
        SELECT p.patient_id, true AS flagged, l.top FROM pats p LEFT JOIN latest l USING (patient_id)""",
    "a nested WITH naming a CTE again is left whole": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id),
        j AS (WITH latest AS (SELECT patient_id, day AS last_day FROM res)
              SELECT p.patient_id, p.age > 60 AS flagged, l.last_day
              FROM pats p LEFT JOIN latest l USING (patient_id))
        SELECT patient_id, flagged FROM j""",
    "COLUMNS(...) is left whole": """
        WITH hits AS (SELECT patient_id, bool_or(value < 3.5) AS k_hit, bool_or(value > 100) AS na_hit
                      FROM res GROUP BY patient_id)
        SELECT p.patient_id, coalesce(list_bool_or([COLUMNS('_hit$')]), false) AS flagged
        FROM pats p LEFT JOIN hits h USING (patient_id)""",
    "a later join USING a column of the joined CTE keeps it": """
        WITH latest AS (SELECT patient_id, max(day) AS day FROM res GROUP BY patient_id)
        SELECT p.patient_id, r.value IS NOT NULL AS flagged
        FROM pats p LEFT JOIN latest l USING (patient_id) LEFT JOIN res r USING (day)""",
    "a struct's field read unqualified keeps its join": """
        WITH latest AS (SELECT patient_id, {'day': max(day)} AS last FROM res GROUP BY patient_id)
        SELECT p.patient_id, last.day IS NULL AS flagged, p.age
        FROM pats p LEFT JOIN latest g USING (patient_id)""",
    "a pivot's column read unqualified keeps its join": """
        WITH pivoted AS (PIVOT (SELECT * FROM res) ON analyte IN ('k', 'na') USING max(day) AS at
                         GROUP BY patient_id)
        SELECT p.patient_id, k_at IS NULL AS flagged FROM pats p LEFT JOIN pivoted v USING (patient_id)""",
    "a star over a join keeps it": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id),
        judged AS (SELECT * FROM pats p LEFT JOIN latest l USING (patient_id))
        SELECT patient_id, last_day IS NULL AS flagged FROM judged""",
    "a whole row read by its alias keeps its join": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT p.patient_id, l IS NULL AS flagged FROM pats p LEFT JOIN latest l USING (patient_id)""",
    "len() of text stays the length of the text": """
        WITH t AS (SELECT patient_id, len(patient_id) = 2 AS flagged, 'len(x)' AS junk FROM pats),
        latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT t.patient_id, t.flagged, l.last_day FROM t LEFT JOIN latest l USING (patient_id)""",
    "a parameter beside a HAVING on its line stays a constant": (  # the whole CTE on one line
        "WITH per AS (SELECT patient_id, max(day) >= $from AS flagged, count(*) AS n FROM res "
        "GROUP BY patient_id HAVING count(*) > 0),\n"
        "latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)\n"
        "SELECT p.patient_id, p.flagged, l.last_day FROM per p LEFT JOIN latest l USING (patient_id)"
    ),
    "a comment moved by sqlglot changes no parameter": """
        WITH t AS (SELECT patient_id, list_bool_or(list_transform([age], lambda x: x > $old)) AS flagged,
                          -- patients having any result
                          age AS junk FROM pats),
        latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT t.patient_id, t.flagged, l.last_day FROM t LEFT JOIN latest l USING (patient_id)""",
    "a parameter in a macro aggregating in a grouped query stays as written": """
        WITH named AS (SELECT patient_id, listed(CASE WHEN day >= $from THEN analyte END) AS recent,
                              count(*) AS n FROM res GROUP BY patient_id)
        SELECT patient_id, recent IS NOT NULL AS flagged FROM named""",
    "a GROUP BY of an expression with a parameter keeps it as written": """
        WITH per AS (SELECT patient_id, day >= $from AS flagged, count(*) AS n FROM res
                     GROUP BY patient_id, day >= $from)
        SELECT patient_id, flagged FROM per""",
    # what a third read found the second version got wrong
    "an ON whose other side is unqualified keeps its join": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id),
        base AS (SELECT patient_id AS pid, age FROM pats)
        SELECT b.pid AS patient_id, b.age > 60 AS flagged, l.last_day
        FROM base b LEFT JOIN latest l ON l.patient_id = patient_id""",
    "a NATURAL join is left whole": """
        WITH latest AS (SELECT patient_id, max(day) AS day FROM res GROUP BY patient_id)
        SELECT p.patient_id, r.value IS NOT NULL AS flagged
        FROM pats p LEFT JOIN latest l USING (patient_id) NATURAL LEFT JOIN res r""",
    "a collated key is left whole": """
        WITH base AS (SELECT patient_id COLLATE NOCASE AS patient_id, age FROM pats
                      UNION ALL SELECT 'P1', 20),
        latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT b.patient_id, b.age > 30 AS flagged, l.last_day
        FROM base b LEFT JOIN latest l USING (patient_id)""",
    "a whole row read by its CTE's name keeps every column": """
        WITH t AS (SELECT patient_id, age > 60 AS old, age FROM pats)
        SELECT t.patient_id, length(to_json(t)::VARCHAR) > 40 AS flagged FROM t""",
    "ORDER BY ALL under a LIMIT is left whole": """
        WITH top AS (SELECT day, patient_id, value < 4 AS flagged FROM res ORDER BY ALL DESC LIMIT 2)
        SELECT patient_id, flagged FROM top""",
    "an alias of a constant is not a row's column": """
        WITH counted AS (SELECT 'x' AS patient_id, 1 AS one, one > 0 AS flagged, count(*) AS n FROM res)
        SELECT patient_id, flagged FROM counted""",
    "a QUALIFY keeps the window it filters on": """
        WITH ranked AS (SELECT patient_id, value < 4 AS flagged,
                               row_number() OVER (PARTITION BY patient_id ORDER BY day) AS rn
                        FROM res QUALIFY day > DATE '2026-01-03')
        SELECT patient_id, flagged FROM ranked""",
    "a projection DuckDB names itself is left whole": """
        WITH t AS (SELECT patient_id, max(value) FROM res GROUP BY patient_id)
        SELECT patient_id, "max(""value"")" > 4 AS flagged FROM t""",
    # what a fourth read found the third version got wrong
    "a CTE named like the table it reads keeps the table": """
        WITH res AS (SELECT p.patient_id, count(*) > 1 AS flagged, max(r.value) AS top
                     FROM pats p LEFT JOIN res r ON r.patient_id = p.patient_id GROUP BY p.patient_id)
        SELECT patient_id, flagged FROM res""",
    "a schema-qualified table named like a CTE is the table": """
        WITH res AS (SELECT patient_id, max(value) AS value FROM main.res GROUP BY patient_id)
        SELECT p.patient_id, p.age > 60 AS flagged, r.value
        FROM pats p LEFT JOIN main.res r ON r.patient_id = p.patient_id""",
    "a CTE read by query_table keeps every column": """
        WITH t AS (SELECT patient_id, age * 2 AS score, age > 60 AS flagged FROM pats WHERE score > 100)
        SELECT patient_id, flagged FROM query_table(t)""",
    "a patient_id of another type is left whole": """
        WITH ids AS (SELECT * FROM (VALUES ('1'), ('01')) v(patient_id)),
        latest AS (SELECT patient_id, count(*) AS n FROM ids GROUP BY patient_id)
        SELECT p.patient_id, true AS flagged, l.n
        FROM (SELECT 1 AS patient_id) p LEFT JOIN latest l ON l.patient_id = p.patient_id""",
    "a sample is left whole": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT p.patient_id, true AS flagged, l.last_day
        FROM pats p LEFT JOIN latest l ON l.patient_id = p.patient_id USING SAMPLE 1 ROWS (reservoir, 42)""",
    "a final ORDER BY of an aggregate is kept": """
        WITH latest AS (SELECT patient_id, max(day) AS last_day FROM res GROUP BY patient_id)
        SELECT 'all' AS patient_id, true AS flagged
        FROM pats p LEFT JOIN latest l ON l.patient_id = p.patient_id ORDER BY count(*)""",
    "a comparison with ALL (subquery) is no row's column": """
        WITH counted AS (SELECT 'x' AS patient_id, 5 > ALL (SELECT r.value FROM res r) AS flagged,
                                count(*) AS n FROM pats WHERE age > 100)
        SELECT patient_id, flagged FROM counted""",
    "a star over a self-join keeps the names DuckDB gives": """
        WITH t AS (SELECT patient_id, age > 60 AS flagged, age FROM pats),
        j AS (SELECT * FROM t a JOIN t b ON a.patient_id = b.patient_id)
        SELECT patient_id, flagged_1 AS flagged FROM j""",
    "a CTE whose column list renames patient_id keeps its join": """
        WITH latest(pid, patient_id) AS (SELECT patient_id, 'p1' AS c FROM res GROUP BY patient_id)
        SELECT p.patient_id, true AS flagged, l.pid FROM pats p LEFT JOIN latest l USING (patient_id)""",
    "a parameter sqlglot moves onto a HAVING line is left as written": """
        WITH per AS (SELECT patient_id, quantile_cont(value, $q) > 3
                     OR 'having' = '' AS flagged, count(*) AS n FROM res GROUP BY patient_id)
        SELECT patient_id, flagged FROM per""",
    # what a fifth read found the fourth version got wrong
    "a name given twice keeps every projection (DuckDB renames the second)": """
        WITH t AS (SELECT patient_id, age > 60 AS x, age < 50 AS x, age > 80 AS x_1 FROM pats)
        SELECT patient_id, x_1 AS flagged FROM t""",
    "a star beside a projection of a name it has keeps both": """
        WITH t AS (SELECT *, age > 60 AS age FROM pats)
        SELECT patient_id, age_1 AS flagged FROM t""",
    "two stars keep every column of both": """
        WITH t AS (SELECT patient_id, age > 60 AS flagged, age FROM pats),
        u AS (SELECT patient_id, age < 50 AS flagged FROM pats),
        j AS (SELECT a.*, b.* FROM t a JOIN u b ON a.patient_id = b.patient_id)
        SELECT patient_id, flagged_1 AS flagged FROM j""",
    "a position in parentheses is a position": """
        WITH per AS (SELECT day, patient_id, bool_or(value < 4) AS flagged FROM res GROUP BY (1), patient_id)
        SELECT patient_id, flagged FROM per""",
    "a position in grouping sets is a position": """
        WITH per AS (SELECT day, patient_id, bool_or(value < 4) AS flagged FROM res
                     GROUP BY GROUPING SETS ((1, patient_id)))
        SELECT patient_id, flagged FROM per""",
    "a CTE named like a relation the vocabulary reads is left whole": """
        WITH drug_exposures AS (SELECT patient_id, age > 60 AS flagged, age FROM pats)
        SELECT patient_id, flagged FROM drug_exposures""",
    "a patient_id named by a column list is left whole": """
        WITH latest AS (SELECT * FROM (VALUES ('1', 1), ('01', 2)) v(pid, n)),
        grouped AS (SELECT pid AS patient_id, count(*) AS n FROM latest GROUP BY pid)
        SELECT p.patient_id, true AS flagged, g.n
        FROM (VALUES (1)) p(patient_id) LEFT JOIN grouped g ON g.patient_id = p.patient_id""",
}
PARAMS = {"from": date(2026, 1, 3), "old": 60, "q": 0.5}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, as_macro: bool) -> Counter:
    """The query's (patient_id, flagged) rows: run as written, or as the measures run it (a table
    macro of its parameters, measures._as_arguments)."""
    named = [k for k in PARAMS if f"${k}" in sql]
    if as_macro:
        body = "\n".join(_as_arguments(line) for line in sql.splitlines())
        con.execute(f"CREATE OR REPLACE TEMP MACRO m({', '.join('p_' + n for n in named)}) AS TABLE {body}")
        sql = f"SELECT * FROM m({', '.join('$' + n for n in named)})"
    query = f"SELECT patient_id, flagged FROM ({sql})"
    return Counter(con.execute(query, {k: PARAMS[k] for k in named}).fetchall())


@pytest.mark.parametrize("as_macro", [False, True], ids=["as written", "as a macro"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_flag_only_form_gives_the_checks_rows(case: str, as_macro: bool) -> None:
    con = duckdb.connect()
    con.execute(DATA)
    sql = CASES[case]
    assert _rows(con, flag_only(sql), as_macro) == _rows(con, sql, as_macro)


def test_what_is_dropped_and_what_is_kept() -> None:
    dropped = flag_only(CASES["an evidence-only join to a per-patient aggregate is dropped"])
    assert "latest" not in dropped.split("SELECT", 3)[-1] and "low AS l2" in dropped
    assert "JOIN pivoted" not in flag_only(
        CASES["a pivot grouped by patient is dropped when only evidence reads it"]
    )
    kept_joins = (
        "a join to several rows per patient is kept (it repeats them)",
        "a join read unqualified is kept",
        "a join read through a struct's field is kept",
        "a join read in the WHERE is kept",
        "a join on a condition other than equality is kept",
    )
    for kept in kept_joins:
        assert "JOIN" in flag_only(CASES[kept]).upper(), kept


def test_a_parameter_beside_a_having_leaves_the_check_as_written() -> None:
    """The measures' macro makes a parameter on a HAVING line a constant (measures._as_arguments);
    sqlglot's text breaks its lines elsewhere, so such a check is not reduced."""
    sql = CASES["a parameter beside a HAVING on its line stays a constant"]
    assert flag_only(sql) == sql
    (refractory,) = [d for d in all_checks() if d.id == "refractory_neuropathic_pain"]
    assert flag_only(refractory.sql) == refractory.sql


def test_the_insulin_checks_months_skip_its_evidence() -> None:
    """The latest potassium (evidence and the priority) and the concurrent diuretics (evidence)
    are per-patient aggregates joined only for the reason: not evaluated once a month."""
    (insulin,) = [d for d in all_checks() if d.id == "insulin_potassium_drop"]
    judged = flag_only(insulin.sql).split("judged AS", 1)[1]
    assert "potassium AS p" in judged
    assert "latest" not in judged and "diuretic" not in judged


def test_text_sqlglot_cannot_read_is_left_as_it_is() -> None:
    assert flag_only("SELECT FROM WHERE (") == "SELECT FROM WHERE ("
    assert (
        flag_only("SELECT 'p1' AS patient_id, true AS flagged")
        == "SELECT 'p1' AS patient_id, true AS flagged"
    )


def test_every_patient_id_the_checks_read_is_text(tmp_path) -> None:
    """What flag_only assumes of a join on patient_id (one row per key stays one row): every
    patient_id of the database and of the checks' views is VARCHAR, so no key is cast to match."""
    con = connect(tmp_path / "audit.duckdb")
    prepare(con)
    types = con.execute(
        "SELECT DISTINCT data_type FROM duckdb_columns() WHERE lower(column_name) = 'patient_id'"
    ).fetchall()
    con.close()
    assert types == [("VARCHAR",)]
