"""Each check's SQL is held to its definition: it returns the evidence the definition declares (names
and order), reads the codelists it declares and no other, and reads dated data only through the
concept views and the vocabulary (checks/sql/_concepts.sql, _phrases.sql), never a base table.

The SQL is parsed (sqlglot, DuckDB dialect) with the vocabulary's macros expanded in place
(checks/translate.py), and every table reference and every use of a `codelist` column is walked:
- A relation that carries a `codelist` column (the codelist table, drug_concepts, drug_exposures,
  diagnosis_concepts, coded_diagnoses) must be restricted by name where it is read: `codelist = 'x'`,
  `codelist IN ('x', ...)` or `list_contains(['x'], codelist)` in its SELECT's WHERE or its JOIN's ON
  (an OR restricts when each side does). Reading drug_concepts or drug_exposures whole is allowed
  only to a check that declares `all_drug_codelists`.
- A `codelist` column is compared only with names (=, IN, list_contains, CASE codelist WHEN): never
  LIKE, a pattern or a computed value; the names so compared are codelists read.
- A concept table or view built from codelists (topical_products) reads what its definition reads.
- Results (blood_results, src_labs, labs) depend on lab_tests, which maps lab codes to analytes.
- A base table (labs, prescriptions, ...; `main.labs` too) is read only for names and codes: the
  SELECT reading it names its columns (no `*`) and none is a date.

Each rule is also shown failing on a doctored copy of a real check, so a rule that can no longer
fail is noticed."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from checks import translate
from checks.evaluate import CODELIST_DIR, SQL_DIR, all_checks, prepare
from checks.framework import CheckDefinition
from pipelines.db import connect

AS_OF = date(2026, 11, 20)
OUTPUT = ("patient_id", "flagged", "priority", "reason")  # every check's leading columns
CODELISTS = {p.stem for p in CODELIST_DIR.glob("*.csv")}
LAB_CODELIST = "lab_tests"  # maps lab codes to analytes: a check reading results depends on it
# Relations with a `codelist` column: read only with the codelists named
CODELIST_SOURCES = ("codelist", "drug_concepts", "drug_exposures", "diagnosis_concepts", "coded_diagnoses")
DRUG_SOURCES = ("drug_concepts", "drug_exposures")  # whole reads allowed with all_drug_codelists
RESULT_RELATIONS = ("blood_results", "src_labs", "labs", "lab_results")
CONCEPT_FILES = ("_concepts.sql", "_phrases.sql")  # views and tables the checks may read
VOCABULARY_FILES = ("_results.sql", "_concepts.sql", "_phrases.sql")  # the macros expanded
# The tables as loaded; the checks read their dates through src_* (which --as-of per-patient moves)
# (patient_state_now: the patients' state folded once per run, read through src_patient_state)
BASE_TABLES = (
    "patients",
    "patient_state",
    "patient_state_now",
    "labs",
    "lab_results",
    "prescriptions",
    "diagnoses",
)
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
ANALYTES = re.compile(
    r"\b(?:results_by\(\s*\[([^\]]*)\]|analyte\s*(?:=\s*|IN\s*\()((?:'\w+'\s*,?\s*)+))", re.I
)


def without_comments(sql: str) -> str:
    """The SQL without its -- comments (which name codelists and columns in prose)."""
    return re.sub(r"--[^\n]*", "", sql)


def literals(text: str) -> set[str]:
    """The single-quoted words in a piece of SQL."""
    return set(re.findall(r"'(\w+)'", text))


@cache
def macros() -> dict[str, translate.Macro]:
    """The DuckDB vocabulary's macros, as sqlglot expressions."""
    found: dict[str, translate.Macro] = {}
    for name in VOCABULARY_FILES:
        found.update(translate.parse_macros((SQL_DIR / name).read_text(encoding="utf-8")))
    return found


def parsed(sql: str) -> exp.Expression:
    """A query parsed as DuckDB, every vocabulary macro expanded in place."""
    tree = sqlglot.parse_one(sql, read=translate.DuckDBAsWritten)
    return translate.expand(tree, macros())


@dataclass
class Reads:
    """What a piece of SQL reads: codelists by name, and the problems found on the way."""

    codelists: set[str] = field(default_factory=set)
    whole_drug_reads: list[str] = field(default_factory=list)  # drug sources read without a name
    problems: list[str] = field(default_factory=list)


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _is_codelist_column(node: exp.Expression, qualifiers: set[str]) -> bool:
    node = _unwrap(node)
    return isinstance(node, exp.Column) and node.name.lower() == "codelist" and node.table in qualifiers


def _names(nodes: list[exp.Expression]) -> set[str] | None:
    """The text literals of a list, or None when any item is something else."""
    items = [_unwrap(n) for n in nodes]
    return {i.this for i in items} if all(isinstance(i, exp.Literal) and i.is_string for i in items) else None


def restriction(pred: exp.Expression, qualifiers: set[str]) -> set[str] | None:
    """The codelist names a predicate restricts `codelist` to, or None when it does not restrict."""
    pred = _unwrap(pred)
    if isinstance(pred, exp.EQ):
        for column, value in ((pred.this, pred.expression), (pred.expression, pred.this)):
            if _is_codelist_column(column, qualifiers):
                return _names([value])
    if isinstance(pred, exp.In) and _is_codelist_column(pred.this, qualifiers) and pred.expressions:
        return _names(pred.expressions)
    if isinstance(pred, exp.ArrayContains) and _is_codelist_column(pred.expression, qualifiers):
        array = _unwrap(pred.this)
        return _names(array.expressions) if isinstance(array, exp.Array) else None
    if isinstance(pred, exp.And):
        sides = [restriction(side, qualifiers) for side in (pred.this, pred.expression)]
        known = [side for side in sides if side is not None]
        return set().union(*known) if known else None
    if isinstance(pred, exp.Or):
        sides = [restriction(side, qualifiers) for side in (pred.this, pred.expression)]
        return None if None in sides else set().union(*sides)
    return None


def owning_select(table: exp.Table) -> exp.Select | None:
    """The SELECT whose FROM or JOIN names the table."""
    parent = table.parent
    if isinstance(parent, exp.Join | exp.From):
        select = parent.parent
        return select if isinstance(select, exp.Select) else None
    return None


def restriction_of(table: exp.Table) -> set[str] | None:
    """The codelists a read of a codelist source is restricted to where it is read (WHERE, its ON)."""
    select = owning_select(table)
    if select is None:
        return None
    qualifiers = {"", table.alias_or_name, table.name}
    predicates = []
    if isinstance(table.parent, exp.Join) and table.parent.args.get("on") is not None:
        predicates.append(table.parent.args["on"])
    if select.args.get("where") is not None:
        predicates.append(select.args["where"].this)
    found = [r for r in (restriction(p, qualifiers) for p in predicates) if r is not None]
    return set().union(*found) if found else None


def compared_codelists(tree: exp.Expression, reads: Reads) -> None:
    """Every use of a `codelist` column: a comparison with names (the names are read), a projection
    or a grouping; anything else (LIKE, a pattern, a computed value) is a problem."""
    for column in tree.find_all(exp.Column):
        if column.name.lower() != "codelist":
            continue
        parent = column.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        names: set[str] | None = set()
        if isinstance(parent, exp.EQ | exp.NEQ):
            other = parent.expression if parent.this is column else parent.this
            names = _names([other])
        elif isinstance(parent, exp.In) and parent.this is column:
            names = _names(parent.expressions) if parent.expressions else None
        elif isinstance(parent, exp.ArrayContains) and parent.expression is column:
            array = _unwrap(parent.this)
            names = _names(array.expressions) if isinstance(array, exp.Array) else None
        elif isinstance(parent, exp.Case) and parent.this is column:
            names = _names([i.this for i in parent.args["ifs"]])
        elif not isinstance(parent, exp.Select | exp.Group | exp.Ordered | exp.Alias):
            names = None
        if names is None:
            reads.problems.append(f"codelist compared other than by name: {parent.sql('duckdb')[:100]}")
        else:
            reads.codelists |= names


@cache
def concept_definitions() -> dict[str, exp.Expression]:
    """The queries of the views and tables _concepts.sql and _phrases.sql build, by name."""
    found = {}
    for name in CONCEPT_FILES:
        for statement in translate.statements((SQL_DIR / name).read_text(encoding="utf-8")):
            match = re.match(
                r"\s*CREATE\s+OR\s+REPLACE\s+TEMP\s+(?:TABLE|VIEW)\s+(\w+)\s+AS\s+(.*)$",
                translate.strip_comments(statement),
                re.I | re.S,
            )
            if match:
                found[match.group(1).lower()] = parsed(match.group(2))
    return found


def codelists_of(tree: exp.Expression) -> Reads:
    """What a query reads (see the module's docstring), concept views followed to their definitions."""
    reads = Reads()
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if name in ctes and not table.db:
            continue
        if name in CODELIST_SOURCES:
            named = restriction_of(table)
            if named is None and name in DRUG_SOURCES:
                reads.whole_drug_reads.append(name)
            elif named is None:
                reads.problems.append(f"{name} read without naming its codelists")
            else:
                reads.codelists |= named
        elif name in concept_definitions() and name not in RESULT_RELATIONS:
            inner = codelists_of(concept_definitions()[name])
            reads.codelists |= inner.codelists
            reads.problems += inner.problems
        if name in RESULT_RELATIONS:
            reads.codelists.add(LAB_CODELIST)
    compared_codelists(tree, reads)
    return reads


def codelists_read(sql: str) -> Reads:
    """What a check's SQL reads."""
    return codelists_of(parsed(sql))


def stray_codelist_names(sql: str) -> set[str]:
    """Codelist names quoted somewhere the parse does not see them read (nor in an analyte list): a
    codelist read some other way, which the contract test would otherwise miss."""
    sql = without_comments(sql)
    analytes = {n for groups in ANALYTES.findall(sql) for args in groups for n in literals(args)}
    return (literals(sql) & CODELISTS) - codelists_read(sql).codelists - analytes


def dated_base_reads(sql: str) -> list[str]:
    """The reads of a base table (in any form: a subquery, a comma join, `main.labs`) whose SELECT
    takes every column (`*`) or touches a date column. Lookups of names and codes are fine."""
    tree = parsed(sql)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if name not in BASE_TABLES or (name in ctes and not table.db):
            continue
        select = owning_select(table)
        if select is None:
            found.append(f"{name}: read outside a SELECT")
            continue
        stars = any(isinstance(e, exp.Star) or e.is_star for e in select.expressions)
        dates = sorted({c.name for c in select.find_all(exp.Column) if c.name.lower() in DATE_COLUMNS})
        if stars or dates:
            found.append(f"{name}: {'every column' if stars else ', '.join(dates)}: {select.sql()[:120]}")
    return found


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
    reads = codelists_read(check.sql)
    assert reads.problems == []
    assert reads.codelists == set(check.codelists)
    assert set(check.codelists) <= CODELISTS, "a declared codelist has no file in checks/codelists/"
    assert bool(reads.whole_drug_reads) == check.all_drug_codelists, reads.whole_drug_reads
    assert stray_codelist_names(check.sql) == set()


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_population_codelists_are_codelists_the_check_reads(check):
    """Measures evaluate a check on the patients of its population codelists only: those must be
    codelists it reads (a drug or diagnosis list; not the lab tests). Whether every patient in the
    population has one is held by tests/functional/test_measures.py, month by month."""
    assert check.population_codelists, "declare who can be in the population (measures rely on it)"
    assert set(check.population_codelists) <= set(check.codelists) - {LAB_CODELIST}


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
        ("WHEN codelist = 'diuretics'", "WHEN codelist = 'statins'"),
        ("bool_or(codelist = 'baclofen' AND", "bool_or(codelist IN ('baclofen', 'statins') AND"),
    ):
        assert change[0] in sql
        assert codelists_read(sql.replace(*change)).codelists != declared
    # a codelist reached some other way is at least seen
    assert stray_codelist_names(sql.replace("FROM judged", "FROM judged WHERE 'statins' <> ''")) == {
        "statins"
    }
    # results read, lab_tests needed; an analyte named 'albumin' is not the albumin codelist
    workup, workup_sql = doctored("cramps_metabolic_workup")
    assert codelists_read(workup_sql).codelists == {"muscle_cramps", "lab_tests"} == set(workup.codelists)


# How diuretic_electrolyte_monitoring reads its drugs, which the doctored versions below replace.
DIURETIC_READ = "FROM drugs_taken_on(['diuretics'], $as_of, $refill_gap_days)"


@pytest.mark.parametrize(
    "change",
    [
        # a drug source read whole: every drug codelist, undeclared
        (DIURETIC_READ, "FROM drug_exposures"),
        # ... filtered by something other than its codelist
        (
            DIURETIC_READ,
            "FROM drug_exposures WHERE ingredient = 'atorvastatin'",
        ),
        # ... or restricted outside the SELECT that reads it
        (
            DIURETIC_READ,
            "FROM (SELECT * FROM drug_exposures) WHERE codelist = 'diuretics'",
        ),
        # ... or by a pattern
        (
            DIURETIC_READ,
            "FROM drug_exposures WHERE codelist LIKE 'diuretic%'",
        ),
        (
            DIURETIC_READ,
            "FROM drug_exposures WHERE codelist = 'diuretics' OR true",
        ),
        # diagnoses likewise
        (DIURETIC_READ, "FROM coded_diagnoses"),
    ],
    ids=["whole", "by ingredient", "restricted outside", "like", "or true", "diagnoses"],
)
def test_a_codelist_read_without_its_name_fails(change):
    check, sql = doctored("diuretic_electrolyte_monitoring")
    assert change[0] in sql
    reads = codelists_read(sql.replace(*change))
    assert reads.problems or reads.whole_drug_reads or reads.codelists != set(check.codelists)
    assert not check.all_drug_codelists


def test_all_drug_codelists_is_the_declared_whole_read():
    check, sql = doctored("elderly_numbness_fall_risk")
    assert check.all_drug_codelists and codelists_read(sql).whole_drug_reads == ["drug_concepts"]
    # the descriptors restricted to the declared codelists would no longer read every drug codelist
    restricted = sql.replace(
        "    FROM drug_concepts\n", "    FROM drug_concepts WHERE codelist = 'fall_risk_drugs'\n"
    )
    assert restricted != sql
    assert codelists_read(restricted).whole_drug_reads == []


@pytest.mark.parametrize(
    "change",
    [
        (DIURETIC_READ, "FROM prescriptions WHERE start_date <= $as_of"),
        (DIURETIC_READ, "FROM (SELECT * FROM prescriptions) p"),
        (DIURETIC_READ, "FROM main.prescriptions WHERE start_date <= $as_of"),
        (
            DIURETIC_READ,
            "FROM drugs_taken_on(['diuretics'], $as_of, 0), labs l WHERE l.collected_at IS NOT NULL",
        ),
    ],
    ids=["where", "star in a subquery", "schema-qualified", "comma join"],
)
def test_a_base_table_read_with_dates_fails(change):
    _, sql = doctored("diuretic_electrolyte_monitoring")
    assert change[0] in sql
    assert dated_base_reads(sql.replace(*change))


def test_a_base_table_lookup_of_names_and_codes_is_fine():
    # elderly_numbness_fall_risk's stem lookup reads prescriptions' names and codes only
    assert dated_base_reads("WITH s AS (SELECT drug_name, rxnorm_code FROM prescriptions) SELECT 1") == []
