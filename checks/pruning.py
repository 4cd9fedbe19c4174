"""A check's SQL reduced to what its flag reads: the monthly measures' form of a check.

Why: the measures evaluate a check once per month-end and keep only `patient_id` and `flagged`
(checks/measures.py). A check also computes its evidence (the latest result, the concurrent
drugs), often in a per-patient CTE LEFT JOINed only for the reason or the priority. Outside the
measures' LATERAL join DuckDB drops such a join when nothing reads it; inside, it does not (DuckDB
2.0), and evaluated every month the evidence was about half of the insulin check's months.

The reduction is mechanical, from the one SQL text, so it can never say something the check does
not: starting from the final query's `patient_id` and `flagged`, each SELECT keeps the projections
its readers use, and a LEFT JOIN nothing then reads is dropped when it cannot change the rows: its
relation is a CTE with one row per join key (grouped by exactly those columns). A CTE read by a
query it cannot follow (a subquery, a set operation, a PIVOT) keeps every column. When nothing can
be dropped the check's own text is used, untouched; tests/functional/test_measures.py holds every
month to the single-date evaluation of the whole check.
"""

from __future__ import annotations

from functools import cache

import sqlglot
from sqlglot import exp

from checks.translate import DuckDBAsWritten, duckdb_text

EVERY_COLUMN = None  # a CTE's readers may use any of its columns


@cache
def flag_only(sql: str, columns: tuple[str, ...] = ("patient_id", "flagged")) -> str:
    """The check's SQL keeping only what `columns` of its final query read; `sql` unchanged when
    nothing can be dropped or the text is not a WITH query sqlglot reads."""
    try:
        tree = sqlglot.parse_one(duckdb_text(sql), dialect=DuckDBAsWritten)
    except sqlglot.errors.ParseError:
        return sql
    with_ = tree.args.get("with_")
    if not isinstance(tree, exp.Select) or with_ is None:
        return sql
    ctes = {c.alias.lower(): c for c in with_.expressions}
    needs: dict[str, set[str] | None] = {name: set() for name in ctes}
    tree.set("order", None)  # a month's rows are counted, never read in order
    tree.set("with_", None)  # the final query alone: what it reads of the CTEs
    changed = _prune(tree, set(columns), ctes, needs)
    tree.set("with_", with_)
    for cte in reversed(with_.expressions):  # a CTE reads only those before it: its readers are done
        changed |= _prune(cte.this, needs[cte.alias.lower()], ctes, needs)
    if not changed:
        return sql
    for having in tree.find_all(exp.Having):  # see _parameters_in_having
        _parameters_in_having(having)
    return tree.sql(dialect=DuckDBAsWritten, pretty=True)


def _parameters_in_having(having: exp.Having) -> None:
    """Each parameter in a HAVING as a scalar subquery, `(SELECT $x)`: the measures' table macro
    turns `$x` into its argument `p_x`, which DuckDB binds in a HAVING as an ungrouped column but
    in a subquery as the constant it is (measures._as_arguments does the same, line by line, for a
    check's own text, whose HAVING and parameters share a line; this text is sqlglot's)."""
    for parameter in list(having.find_all(exp.Placeholder, exp.Parameter)):
        parameter.replace(exp.paren(exp.select(parameter.copy()), copy=False))


def _prune(query: exp.Expression, needed: set[str] | None, ctes: dict, needs: dict) -> bool:
    """Drop what `query`'s readers do not need (`needed` column names, or EVERY_COLUMN), record
    what it needs of the CTEs it reads (`needs`), and say whether anything was dropped."""
    if not isinstance(query, exp.Select) or query.args.get("distinct") or _has_pivot(query):
        _read_whole(query, ctes, needs)
        return False
    changed = False
    if needed is not EVERY_COLUMN:
        changed = _keep_projections(query, needed)
    changed |= _drop_unread_joins(query, ctes)
    _record_needs(query, needed, ctes, needs)
    return changed


def _has_pivot(query: exp.Select) -> bool:
    return any(isinstance(node, exp.Pivot) for node in query.find_all(exp.Pivot))


def _read_whole(query: exp.Expression, ctes: dict, needs: dict) -> None:
    """Every CTE `query` reads, anywhere in it, keeps every column."""
    for table in query.find_all(exp.Table):
        if table.name.lower() in ctes:
            needs[table.name.lower()] = EVERY_COLUMN


def _keep_projections(query: exp.Select, needed: set[str]) -> bool:
    """Keep the projections named in `needed`, the stars, those making rows (`unnest`), and those
    the query names elsewhere or the kept ones name (DuckDB reads a projection's alias in the same
    SELECT: `flag_priority(flagged, urgent)`, and in its WHERE, GROUP BY, HAVING and QUALIFY).
    None is dropped where dropping one changes the rows: GROUP BY ALL groups by the projections,
    and an aggregate with no GROUP BY makes one row of the whole input."""
    projections = query.expressions
    group = query.args.get("group")
    if (group is not None and group.args.get("all")) or (
        group is None and any(_aggregates(p) for p in projections)
    ):
        return False
    names = {p.alias_or_name.lower() for p in projections}
    elsewhere = [node for key, node in query.args.items() if key != "expressions" and node]
    wanted = {n.lower() for n in needed} | {
        c.name.lower() for node in elsewhere for part in _as_list(node) for c in part.find_all(exp.Column)
    }
    while True:
        kept = [p for p in projections if _is_star(p) or _makes_rows(p) or p.alias_or_name.lower() in wanted]
        read = {c.name.lower() for p in kept for c in p.find_all(exp.Column)} & names
        if read <= wanted:
            break
        wanted |= read
    if len(kept) == len(projections) or not kept:
        return False
    query.set("expressions", kept)
    return True


def _as_list(node: object) -> list[exp.Expression]:
    return [n for n in (node if isinstance(node, list) else [node]) if isinstance(n, exp.Expression)]


def _aggregates(projection: exp.Expression) -> bool:
    """Whether a projection aggregates (outside a window function)."""
    return any(not agg.find_ancestor(exp.Window) for agg in projection.find_all(exp.AggFunc))


# DuckDB's functions that make rows when selected (sqlglot reads unnest as Explode)
_ROW_MAKERS = (exp.Explode, exp.Unnest, exp.Posexplode)


def _makes_rows(projection: exp.Expression) -> bool:
    return any(True for _ in projection.find_all(*_ROW_MAKERS)) or any(
        f.name.lower() == "generate_subscripts" for f in projection.find_all(exp.Anonymous)
    )


def _is_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Star) or (
        isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
    )


def _drop_unread_joins(query: exp.Select, ctes: dict) -> bool:
    """Drop each LEFT JOIN to a CTE, one row per join key, whose columns nothing else reads."""
    changed = False
    for join in list(query.args.get("joins") or []):
        target = join.this
        if join.side != "LEFT" or join.kind or not isinstance(target, exp.Table):
            continue
        name = target.name.lower()
        if name not in ctes:
            continue
        alias = (target.alias or target.name).lower()
        keys = _join_keys(join, alias)
        body = ctes[name].this
        if keys is None or not _unique_on(body, keys) or _read_elsewhere(query, join, alias, body, keys):
            continue
        join.pop()
        changed = True
    return changed


def _join_keys(join: exp.Join, alias: str) -> set[str] | None:
    """The joined relation's columns the join matches on: its USING list, or its side of an ON that
    is equalities only; None for any other condition."""
    using = join.args.get("using")
    if using:
        return {u.name.lower() for u in using}
    on = join.args.get("on")
    if on is None:
        return None
    keys = set()
    for part in on.flatten() if isinstance(on, exp.And) else [on]:
        if not isinstance(part, exp.EQ):
            return None
        mine = [s for s in (part.left, part.right) if isinstance(s, exp.Column) and s.table.lower() == alias]
        if len(mine) != 1:
            return None
        keys.add(mine[0].name.lower())
    return keys


def _unique_on(body: exp.Expression, keys: set[str]) -> bool:
    """Whether a CTE's query yields at most one row per `keys`: grouped by exactly those columns (a
    SELECT, or DuckDB's PIVOT statement, whose GROUP BY names its rows)."""
    if not isinstance(body, (exp.Select, exp.Pivot)) or body.args.get("with_"):
        return False
    group = body.args.get("group")
    if group is None or group.args.get("grouping_sets") or group.args.get("cube") or group.args.get("rollup"):
        return False
    grouped = group.expressions
    return all(isinstance(g, exp.Column) for g in grouped) and {g.name.lower() for g in grouped} == keys


def _read_elsewhere(query: exp.Select, join: exp.Join, alias: str, body: exp.Select, keys: set[str]) -> bool:
    """Whether anything in `query` but `join` itself names a column of `alias`: qualified by it, or
    unqualified by a name the joined CTE yields (any name, when it yields a star)."""
    inside = {id(node) for node in join.walk()}
    columns = [c for c in query.find_all(exp.Column) if id(c) not in inside]
    if any(alias in _parts(c) for c in columns):
        return True
    unqualified = {c.name.lower() for c in columns if not c.table} - keys
    if any(_is_star(p) for p in body.expressions):
        return bool(unqualified)
    return bool(unqualified & {p.alias_or_name.lower() for p in body.expressions})


def _parts(column: exp.Column) -> list[str]:
    """A column reference's names, lower case: `g.latest.egfr.value` (a struct's field, which
    sqlglot reads as catalog.db.table.column) is ['g', 'latest', 'egfr', 'value']."""
    return [p.lower() for p in (column.catalog, column.db, column.table, column.name) if p]


def _record_needs(query: exp.Select, needed: set[str] | None, ctes: dict, needs: dict) -> None:
    """What `query` reads of each CTE in its FROM and joins: the columns it names qualified by the
    CTE's alias, every unqualified one, the join's USING columns, and what its own readers need
    through a star. A CTE read in a subquery keeps every column."""
    sources = [query.args["from_"].this] if query.args.get("from_") else []
    sources += [j.this for j in query.args.get("joins") or []]
    direct = {id(s) for s in sources}
    for table in query.find_all(exp.Table):  # in a subquery, or a table function's argument
        if id(table) not in direct and table.name.lower() in ctes:
            needs[table.name.lower()] = EVERY_COLUMN
    columns = [c for c in query.find_all(exp.Column) if not isinstance(c.this, exp.Star)]
    # unqualified, or a struct's field (more than two names): any source's, as far as is known here
    unqualified = {c.name.lower() for c in columns if not c.table}
    unqualified |= {p for c in columns if c.db for p in _parts(c)}
    using = {u.name.lower() for j in query.args.get("joins") or [] for u in j.args.get("using") or []}
    stars = [p for p in query.expressions if _is_star(p)]
    for source in sources:
        name = source.name.lower() if isinstance(source, exp.Table) else ""
        if name not in ctes or needs[name] is EVERY_COLUMN:
            continue
        alias = (source.alias or source.name).lower()
        if any(isinstance(s, exp.Star) or s.table.lower() == alias for s in stars):
            if needed is EVERY_COLUMN:
                needs[name] = EVERY_COLUMN
                continue
            needs[name] |= {n.lower() for n in needed}
        needs[name] |= {c.name.lower() for c in columns if c.table.lower() == alias} | unqualified | using
