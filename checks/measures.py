"""Monthly measures: every check's population, flagged and rate as of each month-end, back-calculated
from the loaded data, broken down by age band, sex, site and clinician (issue #19).

Like ehrQL's measures (numerator, denominator and ratio per interval and group), but each month is
the check itself as of that month-end: the single-date evaluation (`evaluate.compute`, the dead on or
before the month-end left out) counted by group. So a month's figures are, by construction, what a
run with `--as-of <month-end>` on the same data would report.

The months are evaluated together: the check's SQL becomes a table macro of its parameters, joined
laterally to batches of month-ends, and the parts of it that read no as-of date (its CTEs that name
none, such as the insulin check's potassium series) are computed once for all the months first. The
macro is the check reduced to what its flag reads (checks/pruning.py): a month's evidence (the
insulin check's latest potassium and concurrent diuretics) is never shown, so never computed.

Incremental: a month is evaluated again only when its fingerprint changed: the data dated on or
before its end (`data_fingerprints`) or the check's definition, parameters and codelists
(`check_fingerprint`). Stored in `measures` and `measure_fingerprints` (pipelines/sql/schema.sql).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from itertools import groupby
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp, tokens

from checks.evaluate import SQL_DIR, compute, end_exposures_at_deaths_after
from checks.framework import CheckDefinition
from checks.pruning import HAVING, PARAMETER, flag_only
from checks.translate import DuckDBAsWritten, duckdb_text

log = logging.getLogger(__name__)

MEASURES_VERSION = "2"  # bump when the way a month is counted changes: every month is recomputed
BREAKDOWNS = ("total", "age_band", "sex", "site", "clinician")  # in the order they are stored
OPTIONAL_BREAKDOWNS = {"site": "site_id", "clinician": "clinician_id"}  # only when the export has them
UNKNOWN = "unknown"
# Months evaluated by one statement: each multiplies the rows the checks' joins hold at once, so a
# first night at a million patients stays within memory_limit (24 months: four statements a check).
MONTHS_PER_STATEMENT = 6
SOURCES = ("src_patient_state", "src_labs", "src_prescriptions", "src_diagnoses")  # _sources.sql
# A check's data is narrowed to its population's patients only when they are at most this share of
# everyone: copying most of the records costs more than it saves (1 M patients under the default
# memory_limit: the insulin check, 49 % of the patients, 24 months in 35.2 and 32.1 s narrowed against
# 27.7 and 29.4 s not; the diuretic check, 13 %, 20.2 and 18.0 s against 58.2 and 58.0 s).
NARROW_UP_TO = 1 / 3

# Age at the month-end in completed years, as the checks count it (age_on, _phrases.sql), banded.
# `a.age` is computed once per row in store_months.
_AGE_BAND = """
    CASE WHEN p.birth_date IS NULL OR p.birth_date > r.month_end THEN 'unknown'
         WHEN a.age < 18 THEN '0-17'
         WHEN a.age < 40 THEN '18-39'
         WHEN a.age < 65 THEN '40-64'
         WHEN a.age < 75 THEN '65-74'
         WHEN a.age < 85 THEN '75-84'
         ELSE '85+' END"""


def month_ends(as_of: date, months: int) -> tuple[date, ...]:
    """The last `months` month-ends on or before `as_of`, oldest first (as_of itself when it is one)."""
    end = as_of if (as_of + timedelta(days=1)).day == 1 else as_of.replace(day=1) - timedelta(days=1)
    found = []
    for _ in range(max(months, 0)):
        found.append(end)
        end = end.replace(day=1) - timedelta(days=1)
    return tuple(reversed(found))


def _sha(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def shared_fingerprint(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """What every check's months depend on besides the data and the check itself: the shared
    vocabulary SQL and the codelists loaded by `prepare` (shipped and local). Read once a run."""
    shared_sql = [p.read_text(encoding="utf-8") for p in sorted(SQL_DIR.glob("_*.sql"))]
    codelists = con.execute("SELECT sum(hash(c)::HUGEINT), count(*) FROM codelist c").fetchone()
    return (*shared_sql, codelists)


def check_fingerprint(
    shared: Sequence[Any], definition: CheckDefinition, overrides: Mapping, breakdowns: Sequence[str] = ()
) -> str:
    """What a check's stored months depend on besides the data: the way a month is counted, its SQL,
    its parameters (as-of left aside), `shared_fingerprint`, and the optional breakdowns they were
    stored with (site, clinician: available_breakdowns), so that a month kept from before an export
    first gave sites is evaluated again with them. Hashed in the order stored fingerprints were, the
    optional breakdowns last and only when present (a new order would evaluate every stored month
    again)."""
    params = definition.resolve(overrides, date(2000, 1, 1))
    params.pop("as_of")
    optional = [b for b in breakdowns if b in OPTIONAL_BREAKDOWNS]
    return _sha(
        MEASURES_VERSION, definition.sql, json.dumps(params, sort_keys=True, default=str), *shared, *optional
    )


def data_fingerprints(con: duckdb.DuckDBPyConnection, months: Sequence[date]) -> dict[date, str]:
    """Per month-end, a fingerprint of every row dated on or before it: labs by collection,
    prescriptions by start, diagnoses by recording, a patient's record (birth, sex, death, site,
    clinician) by the patient's first dated row, a death by its date, leaving the practice by the day
    after the last day registered. A row dated later cannot
    change an as-of evaluation (the checks read nothing after as-of), so a month's fingerprint moves
    only when its data did."""
    extra = "".join(f", s.{c}" for c in _present_columns(con))
    rows = con.execute(
        f"""
        WITH events AS (
            -- a result's _run_id moves to each run whose export restates it too (a corrected one),
            -- and its name is no part of what it says (a stored row takes the name it is sent
            -- with, ingest._name_stored): neither changes a month
            SELECT patient_id, CAST(collected_at AS DATE) AS d, hash(l)::HUGEINT AS h
            FROM (SELECT * EXCLUDE (_run_id, result_id) FROM src_labs) l
            -- a prescription's _run_id moves to each run whose export restates it (ingest._restate)
            UNION ALL SELECT patient_id, start_date, hash(p)::HUGEINT
            FROM (SELECT * EXCLUDE (_run_id, prescription_id) FROM src_prescriptions) p
            -- and so does a diagnosis's (a resolved condition's, re-sent each night), named or not
            UNION ALL SELECT patient_id, recorded_at, hash(x)::HUGEINT
            FROM (SELECT * EXCLUDE (_run_id, diagnosis_id) FROM src_diagnoses) x
        ),
        first_dated AS (SELECT patient_id, coalesce(min(d), DATE '0001-01-01') AS d FROM events GROUP BY 1),
        dated AS (
            SELECT coalesce(d, DATE '0001-01-01') AS d, h FROM events
            UNION ALL
            SELECT f.d, hash(s.patient_id, s.birth_date, s.sex{extra})::HUGEINT FROM src_patient_state s
            JOIN first_dated f USING (patient_id)
            UNION ALL  -- a death counts from its date (the living add nothing)
            SELECT coalesce(s.death_date, f.d), hash(s.patient_id, s.death_date)::HUGEINT
            FROM src_patient_state s JOIN first_dated f USING (patient_id) WHERE s.deceased
            UNION ALL  -- leaving the practice, from the day after the last day registered
            SELECT coalesce(s.registered_until + 1, f.d),
                   hash(s.patient_id, s.registered_until, 'deregistered')::HUGEINT
            FROM src_patient_state s JOIN first_dated f USING (patient_id) WHERE s.deregistered
            UNION ALL  -- a patients row that could not be read: out of every month (left_out_by)
            SELECT coalesce(f.d, DATE '0001-01-01'), hash(u.patient_id, 'unreadable')::HUGEINT
            FROM (SELECT DISTINCT patient_id FROM unreadable_patients) u
            LEFT JOIN first_dated f USING (patient_id)
        ),
        per_month AS (SELECT last_day(d) AS month_end, sum(h) AS s, count(*) AS n FROM dated GROUP BY 1),
        wanted AS (SELECT unnest(CAST($months AS DATE[])) AS m)
        SELECT w.m, coalesce(sum(p.s), 0), coalesce(sum(p.n), 0)
        FROM wanted w LEFT JOIN per_month p ON p.month_end <= w.m
        GROUP BY w.m
        """,  # noqa: S608 - constant column names; values are bound
        {"months": list(months)},
    ).fetchall()
    return {m: _sha(s, n) for m, s, n in rows}


def stale_months(
    con: duckdb.DuckDBPyConnection, check_id: str, months: Sequence[date], check_fp: str, data_fp: Mapping
) -> list[date]:
    """The months whose stored fingerprints differ from today's (or that were never stored)."""
    stored = dict(
        (m, (c, d))
        for m, c, d in con.execute(
            "SELECT month_end, check_fingerprint, data_fingerprint FROM measure_fingerprints "
            "WHERE check_id = $c",
            {"c": check_id},
        ).fetchall()
    )
    return [m for m in months if stored.get(m) != (check_fp, data_fp[m])]


def _present_columns(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """site_id and clinician_id, as far as this database's patient_state has them."""
    return tuple(
        c
        for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'patient_state' "
            "AND column_name IN ('site_id', 'clinician_id') ORDER BY column_name DESC"
        ).fetchall()
    )


def available_breakdowns(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """total, age band and sex always; site and clinician when the export gave any patient one."""
    present = ["total", "age_band", "sex"]
    present_columns = _present_columns(con)
    for name, column in OPTIONAL_BREAKDOWNS.items():
        if (
            column in present_columns
            and con.execute(
                f"SELECT count(*) FROM src_patient_state WHERE {column} IS NOT NULL"  # noqa: S608 - constant
            ).fetchone()[0]
        ):
            present.append(name)
    return tuple(present)


def _group_columns(breakdowns: Sequence[str]) -> str:
    columns = {
        "age_band": f"{_AGE_BAND} AS age_band",
        # 'U' (recorded as unknown) and no sex recorded are one group: two "unknown" groups read as
        # two populations, and the small-number rule judged each of them small on its own
        "sex": f"CASE WHEN p.sex IS NULL OR p.sex = 'U' THEN '{UNKNOWN}' ELSE p.sex END AS sex",
        "site": f"coalesce(p.site_id, '{UNKNOWN}') AS site",
        "clinician": f"coalesce(p.clinician_id, '{UNKNOWN}') AS clinician",
    }
    return "".join(f", {columns[b]}" for b in breakdowns if b != "total")


def store_months(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    check_id: str,
    months: Sequence[date],
    breakdowns: Sequence[str],
    private: bool = False,
) -> None:
    """Count the evaluated months (`measure_rows`: month_end, patient_id, flagged) into `measures`: per
    month one row for the total (also when nobody is in the population) and one per group of each
    breakdown; every breakdown's groups sum to the total."""
    groups = [b for b in breakdowns if b != "total"]
    sets = ", ".join(["(month_end)", *[f"(month_end, {g})" for g in groups]])
    which = " ".join(f"WHEN grouping({g}) = 0 THEN '{g}'" for g in groups)
    value = f"coalesce({', '.join(groups)}, '')" if groups else "''"
    con.execute(
        f"""
        INSERT INTO measures
            (check_id, month_end, breakdown, group_value, population, flagged, rate, run_id, private)
        WITH g AS (
            SELECT r.month_end, r.patient_id, r.flagged{_group_columns(breakdowns)}
            FROM measure_rows r LEFT JOIN measure_patients p USING (patient_id),
                 LATERAL (SELECT age_on(p.birth_date, r.month_end) AS age) a
        ),
        counted AS (
            SELECT month_end, CASE {which} ELSE 'total' END AS breakdown, {value} AS group_value,
                   count(*) AS population, count(*) FILTER (flagged) AS flagged
            FROM g GROUP BY GROUPING SETS ({sets})
        ),
        empty AS (
            SELECT unnest(CAST($months AS DATE[])) AS month_end, 'total', '', 0, 0
            EXCEPT SELECT month_end, 'total', '', 0, 0 FROM measure_rows
        )
        SELECT $c, month_end, breakdown, group_value, population, flagged,
               CASE WHEN population > 0 THEN flagged / population END, $r, $private
        FROM (SELECT * FROM counted UNION ALL SELECT * FROM empty)
        ORDER BY month_end, breakdown, group_value
        """,  # noqa: S608 - identifiers are the constants above; values are bound
        {"c": check_id, "months": list(months), "r": run_id, "private": private},
    )


def evaluate_months(
    con: duckdb.DuckDBPyConnection,
    definition: CheckDefinition,
    months: Sequence[date],
    overrides: Mapping,
    one_statement: bool = True,
) -> None:
    """The check as of each month-end into `measure_rows` (month_end, patient_id, flagged), the
    patients dead on or before the month-end left out.

    `one_statement`: the check's SQL as a table macro of its parameters, joined laterally to the
    months: every month in one query, at about the cost of one. Otherwise the single-date evaluation
    (`evaluate.compute`) month by month: the reference the tests hold the first to. The caller may
    hold `sources_of_patients_in` the check's population codelists open around it (checks that
    share them narrow the data once); the rows are the same either way."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE measure_rows (month_end DATE, patient_id VARCHAR, flagged BOOLEAN)"
    )
    if one_statement:
        # exposures end at the deaths after the first month-end, for every month alike: a patient
        # dead on or before a later month-end is left out of that month either way (left_out_by),
        # and nobody else's rows depend on another patient's death, so the counts are the same
        end_exposures_at_deaths_after(con, min(months))
        kept = _keep_once(con, definition, overrides, months[0])
        _as_macro(con, definition, overrides, flag_only(kept))
        for start in range(0, len(months), MONTHS_PER_STATEMENT):  # bounds the working set
            batch = months[start : start + MONTHS_PER_STATEMENT]
            _evaluate_in_one_statement(con, definition, batch, overrides)
        # after an error the caller's transaction is rolled back, and these tables with it
        for name in _computed_once(definition.sql):
            con.execute(f"DROP TABLE {_kept_table(definition, name)}")
        return
    for month in months:
        table, _ = compute(con, definition, month, overrides)
        con.execute(
            f"INSERT INTO measure_rows SELECT $m, patient_id, flagged FROM {table}",  # noqa: S608 - internal name
            {"m": month},
        )


@contextmanager
def sources_of_patients_in(con: duckdb.DuckDBPyConnection, codelists: Sequence[str]) -> Iterator[None]:
    """While open, the data the checks read (the src_* views, _sources.sql or _aligned.sql) holds
    only the patients with a drug or a diagnosis in one of `codelists`, at any date; no codelists,
    or too many such patients for narrowing to pay (NARROW_UP_TO): everyone.

    Why: a check's population is drawn from the patients of its `population_codelists`, and no
    patient's evaluation reads another patient's rows, so a check's months evaluated on those
    patients alone are the months evaluated on everyone (tests/functional/test_measures.py holds
    them to the single-date evaluation on all the data). Twenty-four months then replay a few
    percent of the records instead of all of them. Each check narrows the full data itself: a pool
    of every check's patients read once first cost more than it saved (most patients are in some
    check's population; 1 M patients: 12 s more of 57 s). A population of more than NARROW_UP_TO
    of the patients is not narrowed (`_narrowing_pays`). The views are restored when the block
    ends normally; after an error the caller's transaction is rolled back, and they with it.
    """
    if not codelists or not _narrowing_pays(con, codelists):
        yield
        return
    saved = con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE temporary AND list_contains($v, view_name)",
        {"v": list(SOURCES)},
    ).fetchall()
    for view in SOURCES:  # every table first: a source view may read another's table
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE measure_{view} AS SELECT * FROM {view} "  # noqa: S608
            "WHERE patient_id IN (SELECT patient_id FROM measure_pool)"
        )
    for view in SOURCES:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM measure_{view}")  # noqa: S608
    yield
    for _, sql in saved:
        con.execute(re.sub(r"^CREATE (TEMP )?VIEW", "CREATE OR REPLACE TEMP VIEW", sql))
    for table in [f"measure_{view}" for view in SOURCES] + ["measure_pool"]:
        con.execute(f"DROP TABLE {table}")


@dataclass(frozen=True)
class _Cte:
    """One common table expression of a check's SQL: where its query is in the text, the CTEs it
    reads, the parameters it names, and whether it reads the as-of date (itself or through a CTE)."""

    name: str
    whole: tuple[int, int]  # `name(columns) AS (query)`
    body: tuple[int, int]  # `query`
    reads: frozenset[str]
    params: frozenset[str]
    reads_as_of: bool


@cache
def _ctes(sql: str) -> tuple[tuple[_Cte, ...], frozenset[str]]:
    """The check's top-level CTEs in order, and the CTEs its final query reads."""
    tree = sqlglot.parse_one(duckdb_text(sql), dialect=DuckDBAsWritten)
    with_ = tree.args.get("with") or tree.args.get("with_")
    if with_ is None:
        return (), frozenset()
    names = {c.alias.lower() for c in with_.expressions}  # DuckDB's names know no case

    def read(node: exp.Expression) -> frozenset[str]:
        return frozenset(t.name.lower() for t in node.find_all(exp.Table) if t.name.lower() in names)

    spans = _cte_spans(sql)
    found: list[_Cte] = []
    for cte in with_.expressions:
        name = cte.alias.lower()
        params = frozenset(p.name for p in cte.find_all(exp.Placeholder, exp.Parameter))  # $x
        reads = read(cte) - {name}
        as_of = "as_of" in params or any(c.reads_as_of for c in found if c.name in reads)
        start, query_start, query_end = spans[name]
        found.append(_Cte(name, (start, query_end + 1), (query_start, query_end), reads, params, as_of))
    final = tree.copy()
    final.set("with" if "with" in final.args else "with_", None)
    return tuple(found), read(final)


def _cte_spans(sql: str) -> dict[str, tuple[int, int, int]]:
    """Where each top-level CTE is in the text: the start of its name, and the start and end of its
    query, inside the parentheses after its `AS` (a column list after its name, `tests(test, ord) AS
    (...)`, is part of it but not of its query)."""
    found: dict[str, tuple[int, int, int]] = {}
    kinds = tokens.TokenType
    depth, name, after_as, named_at, start, in_with = 0, None, False, 0, 0, False
    closed_by_comma = False  # after a CTE's closing parenthesis: a comma, another CTE follows
    for token in DuckDBAsWritten.tokenizer_class().tokenize(sql):
        kind = token.token_type
        if kind == kinds.L_PAREN:
            depth += 1
            if depth == 1 and after_as:
                start = token.end + 1
        elif kind == kinds.R_PAREN:
            depth -= 1
            if depth == 0 and after_as:
                found[name], name, after_as = (named_at, start, token.start), None, False
        elif depth > 0:
            continue
        elif kind == kinds.WITH and not in_with:
            in_with = True
        elif not in_with or (kind == kinds.RECURSIVE and not found):
            continue
        elif name is None and found and not closed_by_comma and kind != kinds.COMMA:
            break  # the final query, whatever its first word (DuckDB's may be FROM)
        elif name is None and kind == kinds.COMMA:
            closed_by_comma = True
        elif name is None:
            name, named_at, closed_by_comma = token.text.lower(), token.start, False
        elif name is not None and kind == kinds.ALIAS:
            after_as = True
    return found


def _computed_once(sql: str) -> tuple[str, ...]:
    """The CTEs worth computing once for all the months: those that read no as-of date, read by one
    that does or by the final query (the as-of-free CTEs they read come with them)."""
    ctes, final_reads = _ctes(sql)
    needed = set(final_reads).union(*(c.reads for c in ctes if c.reads_as_of))
    # a quoted name ("my cte") could not name a table: such a CTE is computed with the months
    return tuple(c.name for c in ctes if not c.reads_as_of and c.name in needed and c.name.isidentifier())


def _kept_table(definition: CheckDefinition, cte: str) -> str:
    """The temp table a CTE computed once is kept in while the check's months are evaluated."""
    return f"measure_once_{definition.id}_{cte}"


def _keep_once(
    con: duckdb.DuckDBPyConnection, definition: CheckDefinition, overrides: Mapping, as_of: date
) -> str:
    """Compute the check's as-of-free CTEs (`_computed_once`) into temp tables, once for every month,
    and return the check's SQL reading them instead: what the months' statements would otherwise
    compute again each (the insulin check's potassium series: every result's draw, fall and falling
    run, read only from the results before it). The same rows by construction: a CTE that names no
    as-of date reads the same data for every month, the exposures' deaths being set once for them
    all (`evaluate_months`). Each table is computed from the tables kept before it."""
    ctes, _ = _ctes(definition.sql)
    once = _computed_once(definition.sql)
    params = definition.resolve(overrides, as_of)
    free = [c for c in ctes if not c.reads_as_of]
    for number, name in enumerate(once):
        upto = free[: [c.name for c in free].index(name) + 1]
        query = "WITH " + ",\n".join(_cte_text(definition, c, c.name in once[:number]) for c in upto)
        named = set().union(*(c.params for c in upto if c.name not in once[:number]))
        con.execute(
            # names from the check's SQL; values are bound
            f"CREATE OR REPLACE TEMP TABLE {_kept_table(definition, name)} AS {query}\nSELECT * FROM {name}",
            {n: v for n, v in params.items() if n in named},
        )
    return _reading_kept(definition, ctes, once)


def _cte_text(definition: CheckDefinition, cte: _Cte, kept: bool) -> str:
    """The CTE as written (`name(columns) AS (query)`), or, kept, reading its table instead."""
    if not kept:
        return definition.sql[cte.whole[0] : cte.whole[1]]
    head = definition.sql[cte.whole[0] : cte.body[0]]
    return f"{head}SELECT * FROM {_kept_table(definition, cte.name)})"  # noqa: S608 - the check's own names


def _reading_kept(definition: CheckDefinition, ctes: Sequence[_Cte], kept: Sequence[str]) -> str:
    """The check's SQL with the `kept` CTEs reading their tables: each one's query replaced, from
    the last to the first so that the earlier ones' places in the text hold."""
    text = definition.sql
    for cte in sorted((c for c in ctes if c.name in kept), key=lambda c: -c.body[0]):
        text = f"{text[: cte.whole[0]]}{_cte_text(definition, cte, True)}{text[cte.whole[1] :]}"
    return text


def _narrowing_pays(con: duckdb.DuckDBPyConnection, codelists: Sequence[str]) -> bool:
    """Whether the patients with a drug or a diagnosis in `codelists` (left in `measure_pool`) are
    few enough (NARROW_UP_TO) for a copy of their records to cost less than it saves."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE measure_pool AS
        SELECT patient_id FROM drug_exposures WHERE list_contains($c, codelist)
        UNION SELECT patient_id FROM coded_diagnoses WHERE list_contains($c, codelist)""",
        {"c": list(codelists)},
    )
    pool, everyone = con.execute(
        "SELECT (SELECT count(*) FROM measure_pool), (SELECT count(*) FROM src_patient_state)"
    ).fetchone()
    if pool <= NARROW_UP_TO * everyone:
        return True
    con.execute("DROP TABLE measure_pool")
    return False


def _macro_name(definition: CheckDefinition) -> str:
    return f"measure_{definition.id}"


def _as_macro(
    con: duckdb.DuckDBPyConnection, definition: CheckDefinition, overrides: Mapping, sql: str
) -> None:
    """Declare the check's SQL (`sql`: as `_keep_once` left it) as a table macro whose arguments are
    its parameters ($x -> p_x).

    Every shipped check binds (tests/functional/test_measures.py); a binding error would abort the
    run's transaction, so it is not caught here."""
    names = list(definition.resolve(overrides, date(2000, 1, 1)))
    body = "\n".join(_as_arguments(line) for line in sql.splitlines())
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO {_macro_name(definition)}({', '.join('p_' + n for n in names)}) "
        f"AS TABLE {body}"
    )


def _as_arguments(line: str) -> str:
    """$x -> p_x, the macro's argument; in a HAVING, (SELECT p_x): DuckDB binds a macro argument there
    as an ungrouped column, but a scalar subquery of it as the constant it is."""
    return PARAMETER.sub(r"(SELECT p_\1)" if HAVING.search(line) else r"p_\1", line)


def _evaluate_in_one_statement(
    con: duckdb.DuckDBPyConnection, definition: CheckDefinition, months: Sequence[date], overrides: Mapping
) -> None:
    """Every month at once: the months joined laterally to the check's macro, as-of each month-end.
    Patients who left the practice by a month-end are left out of that month (left_out_by)."""
    params = definition.resolve(overrides, months[0])
    args = ", ".join("m.month_end" if n == "as_of" else f"${n}" for n in params)
    con.execute(
        f"""
        INSERT INTO measure_rows
        SELECT m.month_end, r.patient_id, r.flagged
        FROM (SELECT unnest(CAST($months AS DATE[])) AS month_end) m,
             LATERAL (SELECT patient_id, flagged FROM {_macro_name(definition)}({args})) r
        WHERE NOT EXISTS (SELECT 1 FROM left_out_by(m.month_end) d WHERE d.patient_id = r.patient_id)
        """,  # noqa: S608 - the macro is named after the check id; values are bound
        {"months": list(months), **{n: v for n, v in params.items() if n != "as_of"}},
    )


def compute_measures(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    as_of: date,
    selected: Sequence[CheckDefinition],
    overrides: Mapping[str, Mapping[str, Any]],
    months: int,
    one_statement: bool = True,
    private: frozenset[str] = frozenset(),
) -> dict[str, tuple[date, ...]]:
    """Bring `measures` up to date for the selected checks over the `months` month-ends up to `as_of`;
    returns, per check, the months evaluated (the others were current). Needs `evaluate.prepare` done;
    everything happens in the caller's transaction.

    Measures come from the data, so any run evaluating a check with the nightly's parameters keeps
    them for everyone (fingerprints, rows). The `private` checks (an ad-hoc run's --param) store the
    months they evaluate under this run for its own report only and leave the fingerprints alone:
    the nightly record (measures_of a scheduled run, current_measures) never sees them.
    """
    wanted = month_ends(as_of, months)
    if not wanted:
        return {}
    # a check selected twice (`--checks x,x`) is one check: evaluated twice, its months would be
    # stored twice under this run, and every figure of its measures would be counted twice
    selected = tuple({d.id: d for d in selected}.values())
    data_fp = data_fingerprints(con, wanted)
    breakdowns = available_breakdowns(con)
    _patients_for_breakdowns(con, breakdowns)
    shared = shared_fingerprint(con)
    fingerprints = {d.id: check_fingerprint(shared, d, overrides.get(d.id, {}), breakdowns) for d in selected}
    recomputed = {d.id: tuple(stale_months(con, d.id, wanted, fingerprints[d.id], data_fp)) for d in selected}
    due = [d for d in selected if recomputed[d.id]]
    # checks drawn from the same population codelists (the three cramps checks) narrow the data once
    for codelists, group in groupby(sorted(due, key=_population), key=_population):
        with sources_of_patients_in(con, codelists) if one_statement else nullcontext():
            for definition in group:
                _evaluate_and_store(
                    con,
                    run_id,
                    definition,
                    recomputed[definition.id],
                    overrides.get(definition.id, {}),
                    (fingerprints[definition.id], data_fp),
                    breakdowns,
                    one_statement,
                    definition.id in private,
                )
                log.info(
                    "%s: measures for %d of %d months evaluated",
                    definition.id,
                    len(recomputed[definition.id]),
                    len(wanted),
                )
    if due:  # the months moved the deaths that end exposures: back to the as-of the checks left
        end_exposures_at_deaths_after(con, as_of)
    return recomputed


def _population(definition: CheckDefinition) -> tuple[str, ...]:
    """The codelists a check's population is drawn from, as the key checks are narrowed together by."""
    return tuple(sorted(definition.population_codelists))


def _evaluate_and_store(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    definition: CheckDefinition,
    months: Sequence[date],
    overrides: Mapping[str, Any],
    fingerprints: tuple[str, Mapping[date, str]],
    breakdowns: Sequence[str],
    one_statement: bool,
    private: bool,
) -> None:
    """Evaluate a check's stale months and store them with their fingerprints (the check's, and the
    data's per month); a private check's leave the fingerprints alone."""
    check_fp, data_fp = fingerprints
    evaluate_months(con, definition, months, overrides, one_statement)
    if not private:
        _refingerprint(con, run_id, definition.id, check_fp, {m: data_fp[m] for m in months})
    store_months(con, run_id, definition.id, months, breakdowns, private)


def _refingerprint(
    con: duckdb.DuckDBPyConnection, run_id: str, check_id: str, check_fp: str, data_fp: Mapping[date, str]
) -> None:
    """The evaluated months' fingerprints replace their old ones, in two statements a check. The old
    months' `measures` rows stay: they are what earlier runs reported (a re-rendered report reads
    `measures_of(run)`), and the new rows, stored under this run, supersede them from this run on."""
    months = list(data_fp)
    con.execute(
        "DELETE FROM measure_fingerprints WHERE check_id = $c AND list_contains($m, month_end)",
        {"c": check_id, "m": months},
    )
    con.execute(
        "INSERT INTO measure_fingerprints SELECT $c, unnest($m), $cf, unnest($df), $r",
        {"c": check_id, "m": months, "cf": check_fp, "df": [data_fp[m] for m in months], "r": run_id},
    )


def _patients_for_breakdowns(con: duckdb.DuckDBPyConnection, breakdowns: Sequence[str]) -> None:
    """measure_patients: each patient's birth date, sex, and site and clinician when present."""
    extra = "".join(f", {OPTIONAL_BREAKDOWNS[b]}" for b in breakdowns if b in OPTIONAL_BREAKDOWNS)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE measure_patients AS "  # noqa: S608 - constant column names
        f"SELECT patient_id, birth_date, sex{extra} FROM src_patient_state"
    )
