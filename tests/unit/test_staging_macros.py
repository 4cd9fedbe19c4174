"""The staging macros read a lab value and find a row of blank fields the same way their plain
definitions do, and a scan that reads no comparator pays for none (pipelines/sql/macros.sql,
pipelines/formats/generic.py).

Why: these run on every row of every export (10 M rows in the ingest benchmark), so they are written
for speed: a value is tried as a plain number before it is cleaned, a blank row is found field by
field, and `censored` avoids an IN list, which DuckDB 2.0.1 plans as a join no query can prune. Each
test holds the fast form to the plain one on values shaped like real exports' (spaces of every
kind, comparators, laboratory flags, digit separators, non-numbers).
"""

from __future__ import annotations

import itertools
import random

import duckdb
import pandas as pd
import pytest

from pipelines import db, ingest
from pipelines.contract import CONTRACTS, LABS
from pipelines.db import sql_file
from pipelines.formats import generic
from pipelines.formats.generic import _source, read_header

# The plain definitions the fast macros replaced (as they stood before 2026-12-06; since 2026-12-07
# any space, a no-break one too, may follow a comparator).
PLAIN = """
CREATE TEMP MACRO plain_censored(x) AS left(clean(x), 1) IN ('<', '>', '≤', '≥', '=');
CREATE TEMP MACRO plain_pof(x) AS coalesce(finite(try_cast(x AS DOUBLE)), flagged_number(x));
CREATE TEMP MACRO plain_number(x) AS
    CASE WHEN contains(x, '_') THEN NULL
         WHEN NOT plain_censored(x) THEN plain_pof(clean(x))
         WHEN result_prefix(x) <> ''
         THEN plain_pof(regexp_replace(clean(x), '^(<=|>=|=<|=>|<|>|≤|≥|=)[\\s\\p{Z}]*', '')) END;
-- the comparator's mapping of a prefix is unchanged: only its censored test is the plain one here
-- (result_comparator is NULL wherever the fast censored() is false; censored is compared as well)
CREATE TEMP MACRO plain_comparator(x) AS CASE WHEN plain_censored(x) THEN result_comparator(x) END;
"""

PIECES = [
    " ", "\t", "\u00a0", "\u2003", "\u3000", "<", ">", "=", "≤", "≥", "<=", "=>", "+", "-", ".", "0",
    "1", "4", "5.6", "e", "E3", "H", "L", "(HH)", "*", "!", "N", "nan", "inf", "_", ",", "x", "0x1",
    "1e400", "abn", "high", "é",
]  # fmt: skip
NAMED = [
    None, "", "4.1", " 4.1 ", "\t4.1", "4.1\u00a0", "\u00a04.1", "<0.5", "< 0.5", ">2000", "> 2000",
    "<= 5", "=< 5", "≥60", "=5", "5.6 H", "3.1L", "2.9 (LL)", "6.4 *", "H 5.6", "2.9 L*", "1_40",
    "NaN", "inf", "-inf", "1e3", "+5", ".5", "5.", "0x10", "\u00a0<0.5", "haemolysed", "see comment",
    "4,5", "3.4 mmol/L", "  ", "\u3000",
]  # fmt: skip


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.execute(sql_file("macros.sql"))
    connection.execute(PLAIN)
    rng = random.Random(7)
    values = set(NAMED) | {
        "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 5))) for _ in range(40_000)
    }
    connection.register("lab_values", pd.DataFrame({"v": list(values)}, dtype="object"))
    yield connection
    connection.close()


def test_a_value_reads_as_its_plain_definition_reads_it(con):
    differ = con.execute(
        """
        SELECT v, plain_number(v), result_number(v), plain_comparator(v), result_comparator(v)
        FROM lab_values
        WHERE plain_number(v) IS DISTINCT FROM result_number(v)
           OR plain_comparator(v) IS DISTINCT FROM result_comparator(v)
           OR plain_censored(v) IS DISTINCT FROM censored(v)
           OR plain_pof(v) IS DISTINCT FROM plain_or_flagged(v)
        LIMIT 5
        """
    ).fetchall()
    assert differ == []
    # the corpus holds every kind of value, so the comparison above is not vacuous
    kinds = con.execute(
        "SELECT count(*) FILTER (result_comparator(v) IS NOT NULL), count(*) FILTER (result_number(v) "
        "IS NOT NULL AND NOT censored(v)), count(*) FILTER (result_number(v) IS NULL) FROM lab_values"
    ).fetchone()
    assert min(kinds) > 100, kinds


@pytest.mark.parametrize(
    ("text", "number", "comparator"),
    [
        (" 4.1 ", 4.1, None),
        ("4.1\u00a0", 4.1, None),
        ("\u00a0<0.5", 0.5, "<"),
        ("<\u00a03.0", 3.0, "<"),  # a spreadsheet's no-break space after the comparator
        ("≥\u202f60", 60.0, ">="),
        ("=< 5", 5.0, "<="),
        ("5.6 H", 5.6, None),
        ("H 5.6", 5.6, None),
        ("1_40", None, None),
        ("NaN", None, None),
        ("+5", 5.0, None),
        ("=5", 5.0, None),
    ],
)
def test_named_values(con, text, number, comparator):
    assert con.execute("SELECT result_number($t), result_comparator($t)", {"t": text}).fetchone() == (
        number,
        comparator,
    )


def test_a_scan_reading_no_comparator_computes_none(con):
    """numbered_labs carries value_comparator; a count or a date range over it reads no value."""
    con.execute("CREATE OR REPLACE TEMP VIEW numbered AS SELECT v, result_comparator(v) AS c FROM lab_values")
    plan = con.execute("EXPLAIN SELECT count(*) FROM numbered").fetchall()[0][1]
    assert "JOIN" not in plan.upper(), plan


def test_a_row_of_blank_fields_is_skipped_as_its_plain_definition_says(tmp_path, con):
    """generic.py's per-field test against the whole row trimmed: every field NULL or blank."""
    fields = ["", " ", "\t", "\u00a0", "\u3000", "x", " x", "\u00a0x", "~", "!", "é"]
    header = "patient_id,collected_at,loinc_code,test_name,value,unit"
    rows = [",".join(combo) for combo in itertools.product(fields, repeat=3)]
    path = tmp_path / "labs.csv"
    path.write_text(header + "\n" + "\n".join(row + ",,," for row in rows) + "\n", encoding="utf-8")
    source = _source(LABS, path, read_header(path, LABS))
    params = dict(source.params)
    fast = con.execute(f"SELECT _skip IS NOT NULL FROM ({source.select})", params).fetchall()
    plain = con.execute(
        "SELECT nullif(trim(concat(c0, c1, c2, c3, c4, c5)), '') IS NULL FROM read_csv($path, header = true, "
        "auto_detect = false, columns = $columns, nullstr = $nulls, quote = '\"', escape = '\"')",
        {k: params[k] for k in ("path", "columns", "nulls")},
    ).fetchall()
    assert fast == plain
    # not vacuous: every combination of the fields DuckDB's trim empties is a blank row, no other
    blank = [f for f in fields if con.execute("SELECT trim($f) = ''", {"f": f}).fetchone()[0]]
    assert len(blank) >= 3
    assert sum(skipped for (skipped,) in fast) == len(blank) ** 3


def test_staging_is_a_projection_for_every_table_and_every_column(tmp_path):
    """Every generic file, with every column of its contract, is staged by a query that plans no join,
    and a scan of its numbered rows reading none of their computed columns plans none either.

    Why: a staged row's rowid is its record number only while the staging is a pure projection
    (ingest._stage), and a join in a macro (an IN list of five or more values, DuckDB 2.0.1) is
    computed on every row of every scan. Either came in silently before."""
    export = tmp_path / "export"
    export.mkdir()
    for contract in CONTRACTS:
        header = ",".join(contract.columns)
        (export / contract.file).write_text(header + "\n" + ",".join("x" for _ in contract.columns) + "\n")
    con = db.connect(tmp_path / "audit.duckdb")
    try:
        sources = generic.sources(export)
        assert {s.spec.table for s in sources} == {c.table for c in CONTRACTS}
        for source in sources:
            con.execute("SET VARIABLE date_order = 'iso'")
            plan = con.execute(f"EXPLAIN {ingest.staging_query(source)}", dict(source.params)).fetchall()
            assert "JOIN" not in plan[0][1].upper(), source.spec.table
            ingest._stage(con, source)
            table = source.spec.table
            scan = con.execute(f"EXPLAIN SELECT count(*) FROM numbered_{table}").fetchall()
            assert "JOIN" not in scan[0][1].upper(), table
    finally:
        con.close()
