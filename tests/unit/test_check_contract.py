"""Each check's SQL is held to its definition: it returns the evidence the definition declares (names
and order), reads the codelists it declares and no other, and reads dated data only through the
concept views and the vocabulary (checks/sql/_concepts.sql, _phrases.sql), never a base table.

Each rule is also shown failing on a doctored copy of a real check, so a rule that can no longer
fail is noticed."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from checks.evaluate import CODELIST_DIR, all_checks, prepare
from checks.framework import CheckDefinition
from pipelines.db import connect

AS_OF = date(2026, 11, 20)
OUTPUT = ("patient_id", "flagged", "priority", "reason")  # every check's leading columns
CODELISTS = {p.stem for p in CODELIST_DIR.glob("*.csv")}
LAB_CODELIST = "lab_tests"  # maps lab codes to analytes: a check reading results depends on it
# The tables as loaded; the checks read their dates through src_* (which --as-of per-patient moves)
BASE_TABLES = ("patients", "patient_state", "labs", "lab_results", "prescriptions", "diagnoses")
DATE_COLUMNS = (
    "birth_date",
    "death_date",
    "collected_at",
    "start_date",
    "end_date",
    "end_effective",
    "recorded_at",
    "resolved_at",
)
# Where a check names a codelist: the first argument of a drug or diagnosis phrase, or a comparison
# with a `codelist` column. An analyte list (results_by, `analyte IN`) names analytes, not codelists.
PHRASE_CODELISTS = re.compile(r"\b(?:drugs|diagnoses|diagnosed)_\w+\(\s*\[([^\]]*)\]")
COMPARED_CODELISTS = re.compile(
    r"\bcodelist\s*=\s*('\w+')|\bcodelist\s+IN\s*\(([^)]*)\)|\bCASE\s+codelist\s+(.*?)\bEND\b", re.I | re.S
)
ANALYTES = re.compile(
    r"\b(?:results_by\(\s*\[([^\]]*)\]|analyte\s*(?:=\s*|IN\s*\()((?:'\w+'\s*,?\s*)+))", re.I
)
READS_RESULTS = re.compile(r"\b(?:results_by|blood_results)\b")


def without_comments(sql: str) -> str:
    """The SQL without its -- comments (which name codelists and columns in prose)."""
    return re.sub(r"--[^\n]*", "", sql)


def literals(text: str) -> set[str]:
    """The single-quoted words in a piece of SQL."""
    return set(re.findall(r"'(\w+)'", text))


def codelists_read(sql: str) -> set[str]:
    """The codelists a check's SQL reads: named in a phrase or compared with `codelist`, plus
    lab_tests when it reads results."""
    sql = without_comments(sql)
    named = {n for args in PHRASE_CODELISTS.findall(sql) for n in literals(args)}
    named |= {
        n for groups in COMPARED_CODELISTS.findall(sql) for args in groups for n in literals(args)
    } & CODELISTS
    return named | ({LAB_CODELIST} if READS_RESULTS.search(sql) else set())


def stray_codelist_names(sql: str) -> set[str]:
    """Codelist names quoted somewhere codelists_read does not look (nor in an analyte list): a
    codelist read some other way, which the contract test would otherwise miss."""
    sql = without_comments(sql)
    analytes = {n for groups in ANALYTES.findall(sql) for args in groups for n in literals(args)}
    return (literals(sql) & CODELISTS) - codelists_read(sql) - analytes


def dated_base_reads(sql: str) -> list[str]:
    """The subqueries that read a base table and touch a date column. Lookups over a base table's
    names and codes (no dates) are fine: _sources.sql."""
    sql = without_comments(sql)
    found = []
    for match in re.finditer(rf"\b(?:FROM|JOIN)\s+({'|'.join(BASE_TABLES)})\b", sql, re.I):
        subquery = enclosing_parentheses(sql, match.start())
        if any(re.search(rf"\b{column}\b", subquery) for column in DATE_COLUMNS):
            found.append(f"{match.group(1)}: {' '.join(subquery.split())[:120]}")
    return found


def enclosing_parentheses(sql: str, at: int) -> str:
    """The text inside the innermost parentheses around position `at` (the whole text at top level)."""
    depth, start = 0, 0
    for i in range(at, -1, -1):
        depth += {")": 1, "(": -1}.get(sql[i], 0)
        if depth < 0:
            start = i + 1
            break
    depth, end = 0, len(sql)
    for i in range(at, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        if depth < 0:
            end = i
            break
    return sql[start:end]


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """A tiny database: the real schema, no rows, codelists and vocabulary loaded."""
    connection = connect(Path(tmp_path_factory.mktemp("contract")) / "audit.duckdb")
    prepare(connection)
    yield connection
    connection.close()


def returned_columns(con: duckdb.DuckDBPyConnection, check: CheckDefinition, sql: str) -> tuple[str, ...]:
    """The columns a check's SQL returns, run with the check's default parameters."""
    params = check.resolve({}, AS_OF)
    cursor = con.execute(f"SELECT * FROM ({sql}) LIMIT 0", params)
    return tuple(d[0] for d in cursor.description)


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_sql_returns_the_declared_evidence(con, check):
    assert returned_columns(con, check, check.sql) == OUTPUT + check.evidence


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_sql_reads_the_declared_codelists(check):
    assert codelists_read(check.sql) == set(check.codelists)
    assert set(check.codelists) <= CODELISTS, "a declared codelist has no file in checks/codelists/"
    assert stray_codelist_names(check.sql) == set()


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_sql_reads_known_analytes(check):
    with (CODELIST_DIR / "lab_tests.csv").open(encoding="utf-8", newline="") as handle:
        lab_analytes = {row["analyte"] for row in csv.DictReader(handle)}
    sql = without_comments(check.sql)
    named = {n for groups in ANALYTES.findall(sql) for args in groups for n in literals(args)}
    assert named <= lab_analytes


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_sql_reads_dates_only_through_the_concept_views(check):
    assert dated_base_reads(check.sql) == []


def doctored(check_id: str) -> tuple[CheckDefinition, str]:
    """A real check and its SQL, to doctor."""
    check = next(c for c in all_checks() if c.id == check_id)
    return check, check.sql


def test_an_undeclared_evidence_column_fails(con):
    check, sql = doctored("cramps_cirrhosis")
    extra = sql.replace(
        "last_magnesium_at, last_magnesium\nFROM judged",
        "last_magnesium_at, last_magnesium, 1 AS x\nFROM judged",
    )
    assert extra != sql
    assert returned_columns(con, check, extra) != OUTPUT + check.evidence
    reordered = sql.replace("cirrhosis_codes, cirrhosis_since,", "cirrhosis_since, cirrhosis_codes,")
    assert reordered != sql
    assert returned_columns(con, check, reordered) != OUTPUT + check.evidence


def test_an_undeclared_codelist_fails():
    check, sql = doctored("cramps_cirrhosis")
    declared = set(check.codelists)
    for change in (
        ("['diuretics', 'baclofen', 'albumin']", "['diuretics', 'baclofen', 'albumin', 'statins']"),
        ("FILTER (codelist = 'diuretics'", "FILTER (codelist = 'statins'"),
    ):
        assert change[0] in sql
        assert codelists_read(sql.replace(*change)) != declared
    # a codelist reached some other way is at least seen
    assert stray_codelist_names(sql.replace("FROM judged", "FROM judged WHERE 'statins' <> ''")) == {
        "statins"
    }
    # results read, lab_tests needed; an analyte named 'albumin' is not the albumin codelist
    workup, workup_sql = doctored("cramps_metabolic_workup")
    assert codelists_read(workup_sql) == {"muscle_cramps", "lab_tests"} == set(workup.codelists)


def test_a_base_table_read_with_dates_fails():
    _, sql = doctored("diuretic_electrolyte_monitoring")
    changed = sql.replace(
        "FROM drugs_active_on(['diuretics'], $as_of)", "FROM prescriptions WHERE start_date <= $as_of"
    )
    assert changed != sql
    assert dated_base_reads(changed)
    # names and codes only (elderly_numbness_fall_risk's stem lookup): no dates, fine
    assert dated_base_reads("WITH s AS (SELECT drug_name, rxnorm_code FROM prescriptions) SELECT 1") == []
