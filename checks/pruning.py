"""A check's SQL reduced to what its flag reads: the monthly measures' form of a check.

Why: the measures evaluate a check once per month-end and keep only `patient_id` and `flagged`
(checks/measures.py). A check also computes its evidence (the latest result, the concurrent
drugs), often in a per-patient CTE LEFT JOINed only for the reason or the priority. Outside the
measures' LATERAL join DuckDB drops such a join when nothing reads it; inside, it does not (DuckDB
2.0), and evaluated every month the evidence was about half of the insulin check's months.

The reduction is mechanical, from the one SQL text, so it can never say something the check does
not, and it is cautious: whatever it cannot follow it leaves as written (`_cannot_follow`: a nested
WITH, COLUMNS(...), a NATURAL join, a sample, a parameter on a HAVING line, and more). Starting
from the final query's `patient_id` and `flagged`, each SELECT keeps the projections its readers
use (all of them when dropping one could change its rows: GROUP BY ALL, a position, DISTINCT,
QUALIFY, an aggregate over the whole input), and a LEFT JOIN nothing then reads is dropped when it
cannot change the rows: a join on patient_id (a column of that name, text in every table) to a CTE
grouped by exactly that column. A CTE read where its columns cannot be followed (a subquery, a set
operation, a PIVOT, a star over a join) keeps every column. No parameter is rewritten. When nothing
can be dropped the check's own text is used, untouched. Four second reads broke earlier versions
in about 50 ways, none in a shipped check; tests/unit/test_measures_pruning.py holds each as a case,
run as written and as the measures' macro, and tests/functional/test_measures.py holds every
shipped check's months, evaluated this way, to its single-date evaluation.

What the text alone cannot say is assumed, as the checks' own database makes it: every patient_id
the checks read is text with no collation (pipelines/sql/schema.sql, the views of checks/sql; a
test holds it), and the functions a check calls are DuckDB's or the vocabulary's (checks/sql/_*.sql:
read here for the macros that make rows and the relations they name).
"""

from __future__ import annotations

import re
from functools import cache

import sqlglot
from sqlglot import exp

from checks.translate import DuckDBAsWritten, duckdb_vocabulary

EVERY_COLUMN = None  # a CTE's readers may use any of its columns
# A line holding HAVING, and a parameter ($x): how the measures' macro reads a check's text line by
# line (measures._as_arguments), and so what this must leave as written
HAVING = re.compile(r"\bHAVING\b", re.IGNORECASE)
PARAMETER = re.compile(r"\$(\w+)")
KEY = "patient_id"  # the only join key a join is dropped on
# DuckDB's functions that make rows when selected (sqlglot reads unnest as Explode)
_ROW_MAKERS = (exp.Explode, exp.Unnest, exp.Posexplode)


@cache
def _vocabulary() -> tuple[frozenset[str], frozenset[str]]:
    """What the checks' vocabulary (their macros, checks/sql/_*.sql) means here: the macros that make
    rows (their body unnests, itself or through another), and the relations their bodies name (a
    CTE of that name would stand in for the relation once DuckDB puts a macro's body in place)."""
    macros = duckdb_vocabulary()
    makers = {n for n, m in macros.items() if any(True for _ in m.body.find_all(*_ROW_MAKERS))}
    while True:  # a macro calling one that makes rows makes rows
        more = {
            n
            for n, m in macros.items()
            if any(f.name.lower() in makers for f in m.body.find_all(exp.Anonymous))
        } - makers
        if not more:
            break
        makers |= more
    relations = {t.name.lower() for m in macros.values() for t in m.body.find_all(exp.Table) if t.name}
    return frozenset(makers), frozenset(relations)


@cache
def flag_only(sql: str, columns: tuple[str, ...] = (KEY, "flagged")) -> str:
    """The check's SQL keeping only what `columns` of its final query read; `sql` unchanged when
    nothing can be dropped or the text is not a WITH query this can follow."""
    if _parameter_beside_having(sql):
        return sql
    try:
        tree = sqlglot.parse_one(sql, dialect=DuckDBAsWritten)
    except sqlglot.errors.ParseError:
        return sql
    with_ = tree.args.get("with_")
    if not isinstance(tree, exp.Select) or with_ is None:
        return sql
    ctes = {c.alias.lower(): c for c in with_.expressions}
    if _cannot_follow(tree, ctes):
        return sql
    needs: dict[str, set[str] | None] = {name: set() for name in ctes}
    order = tree.args.get("order")
    plain = order is None or all(isinstance(o.this, exp.Column) for o in order.expressions)
    if plain and not any(tree.args.get(k) for k in ("limit", "offset", "fetch", "distinct")):
        tree.set("order", None)  # a month's rows are counted, never read in order
    tree.set("with_", None)  # the final query alone: what it reads of the CTEs
    changed = _prune(tree, set(columns), ctes, needs)
    tree.set("with_", with_)
    for cte in reversed(with_.expressions):  # a CTE reads only those before it: its readers are done
        renamed = bool(cte.args["alias"].columns)  # `name(a, b) AS (...)` names columns by position
        wanted = EVERY_COLUMN if renamed else needs[cte.alias.lower()]
        changed |= _prune(cte.this, wanted, ctes, needs)
    if not changed:
        return sql
    text = tree.sql(dialect=DuckDBAsWritten, pretty=True, comments=False)
    return sql if _parameter_beside_having(text) else text  # sqlglot may join lines: as written


def _cannot_follow(tree: exp.Select, ctes: dict) -> bool:
    """What this leaves whole: a recursive or nested WITH (a CTE name may mean another table inside
    it), COLUMNS(...) (columns chosen by a pattern), a NATURAL join (it joins on every column of a
    name), a collation (a key may match otherwise), ORDER BY ALL (it orders by the projections), a
    sample (which rows it keeps depends on the others), a table read by its name in text
    (`query_table`), a table that shares a CTE's name but is not that CTE, a patient_id made from
    anything but a patient_id column (its type may make a join match several rows), a projection
    DuckDB names itself (`max(day)`, read as "max(day)"), or a whole row read by its alias
    (`to_json(t)`)."""
    withs = list(tree.find_all(exp.With))
    if len(withs) > 1 or withs[0].args.get("recursive"):
        return True
    if any(True for _ in tree.find_all(exp.Columns, exp.Collate)):
        return True
    if any(j.args.get("method") == "NATURAL" for j in tree.find_all(exp.Join)):
        return True
    if any(isinstance(o.this, exp.Var) and o.this.name.upper() == "ALL" for o in tree.find_all(exp.Ordered)):
        return True
    if any(True for _ in tree.find_all(exp.TableSample)) or _reads_tables_by_text(tree):
        return True
    if _table_named_like_a_later_cte(tree, ctes) or _patient_id_made(tree) or set(ctes) & _vocabulary()[1]:
        return True
    return any(_names_unknown(query) or _reads_whole_rows(query, ctes) for query in _top_level(tree))


def _reads_tables_by_text(tree: exp.Select) -> bool:
    """Whether a table function reads tables it names in an argument (`query_table(t)`, `query(...)`)."""
    return any(f.name.lower() in ("query", "query_table") for f in tree.find_all(exp.Anonymous))


def _table_named_like_a_later_cte(tree: exp.Select, ctes: dict) -> bool:
    """Whether a table reference names a CTE's name but is not it: qualified (`main.res`), or read
    by that CTE itself or one before it (a CTE sees only those before it; DuckDB then reads the
    table of that name)."""
    order = [c.alias.lower() for c in tree.args["with_"].expressions]
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if name not in ctes:
            continue
        if table.db or table.catalog:
            return True
        reader = table.find_ancestor(exp.CTE)
        if reader is not None and order.index(reader.alias.lower()) <= order.index(name):
            return True
    return False


def _patient_id_made(tree: exp.Select) -> bool:
    """Whether a patient_id is made from anything but a column of that name: a projection, or an
    alias naming a relation's columns (`(VALUES (1)) p(patient_id)`)."""
    for alias in tree.find_all(exp.TableAlias):
        if any(c.name.lower() == KEY for c in alias.columns):
            return True
    for query in tree.find_all(exp.Select):
        for projection in query.expressions:
            if projection.alias_or_name.lower() == KEY and not (
                isinstance(projection, exp.Column)
                or (
                    isinstance(projection, exp.Alias)
                    and isinstance(projection.this, exp.Column)
                    and projection.this.name.lower() == KEY
                )
            ):
                return True
    return False


def _top_level(tree: exp.Select) -> list[exp.Select]:
    """The final query and the CTEs' queries (not the subqueries inside them)."""
    with_ = tree.args["with_"]
    return [tree] + [c.this for c in with_.expressions if isinstance(c.this, exp.Select)]


def _names_unknown(query: exp.Select) -> bool:
    """Whether a projection is neither a column, a star nor aliased: DuckDB names it from its text."""
    return any(not isinstance(p, (exp.Alias, exp.Column, exp.Star)) for p in query.expressions)


def _reads_whole_rows(query: exp.Select, ctes: dict) -> bool:
    """Whether the query names a CTE it reads by its alias as a column, where the CTE yields no
    column of that name (DuckDB reads a column first): the whole row, `to_json(t)`."""
    unqualified = {c.name.lower() for c in query.find_all(exp.Column) if not c.table}
    for source in _sources(query):
        body = ctes[source.name.lower()].this if source.name.lower() in ctes else None
        if body is None or _alias(source) not in unqualified:
            continue
        names = None if isinstance(body, exp.Pivot) else _output_names(body)
        if names is None or _alias(source) not in names:
            return True
    return False


def _output_names(body: exp.Expression) -> set[str] | None:
    """The column names a CTE's query yields; None when not known (a star, a set operation)."""
    if not isinstance(body, exp.Select) or any(_is_star(p) for p in body.expressions):
        return None
    return {p.alias_or_name.lower() for p in body.expressions}


def _parameter_beside_having(sql: str) -> bool:
    """Whether a line of the check's text holds both HAVING and a parameter: the measures' macro
    makes every parameter of such a line a constant (measures._as_arguments), and sqlglot's text
    breaks its lines elsewhere, so such a check is left as written."""
    return any(HAVING.search(line) and PARAMETER.search(line) for line in sql.splitlines())


def _prune(query: exp.Expression, needed: set[str] | None, ctes: dict, needs: dict) -> bool:
    """Drop what `query`'s readers do not need (`needed` column names, or EVERY_COLUMN), record
    what it needs of the CTEs it reads (`needs`), and say whether anything was dropped."""
    if not isinstance(query, exp.Select) or query.args.get("distinct") or _has_pivot(query):
        _read_whole(query, ctes, needs)
        return False
    changed = False
    if needed is not EVERY_COLUMN:
        changed = _keep_projections(query, needed, ctes)
    changed |= _drop_unread_joins(query, ctes)
    _record_needs(query, needed, ctes, needs)
    return changed


def _has_pivot(query: exp.Select) -> bool:
    return any(True for _ in query.find_all(exp.Pivot))


def _read_whole(query: exp.Expression, ctes: dict, needs: dict) -> None:
    """Every CTE `query` reads, anywhere in it, keeps every column."""
    for table in query.find_all(exp.Table):
        if table.name.lower() in ctes:
            needs[table.name.lower()] = EVERY_COLUMN


def _keep_projections(query: exp.Select, needed: set[str], ctes: dict) -> bool:
    """Keep the projections named in `needed`, the stars, those making rows (`unnest`), and those
    the query names elsewhere or the kept ones name (DuckDB reads a projection's alias in the same
    SELECT: `flag_priority(flagged, urgent)`, and in its WHERE, GROUP BY, HAVING and QUALIFY).
    None is dropped where dropping one could change the rows (_rows_hang_on_projections)."""
    projections = query.expressions
    if _rows_hang_on_projections(query) or _names_may_be_renamed(query, ctes):
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
    aliases = {p.alias.lower() for p in projections if isinstance(p, exp.Alias)}
    if query.args.get("group") is None and not any(_row_level(p, aliases) for p in kept):
        # with no GROUP BY, the query is an aggregate of its whole input if any projection is one:
        # keep them all unless a kept one is a bare column or a star (then none is)
        return False
    query.set("expressions", kept)
    return True


def _names_may_be_renamed(query: exp.Select, ctes: dict) -> bool:
    """Whether DuckDB may rename an output column (a name given twice becomes x and x_1): a name
    repeated among the projections, two stars, or a star beside a named projection when the star's
    columns are not known (a table, a table function) or one shares its name."""
    named = [p.alias_or_name.lower() for p in query.expressions if not _is_star(p)]
    if len(named) != len(set(named)):
        return True
    stars = [p for p in query.expressions if _is_star(p)]
    if not stars or not named:
        return len(stars) > 1
    if len(stars) > 1:
        return True
    star = stars[0]
    sources = _sources(query)
    read = [s for s in sources if isinstance(star, exp.Star) or _alias(s) == star.table.lower()]
    if len(read) != 1 or not isinstance(read[0], exp.Table):
        return True
    body = ctes.get(read[0].name.lower())
    names = _output_names(body.this) if body is not None else None
    return names is None or bool(names & set(named))


def _rows_hang_on_projections(query: exp.Select) -> bool:
    """GROUP BY ALL (it groups by the projections), a QUALIFY, or a GROUP BY or ORDER BY that may
    name a projection by its position (any number in it, `#1`, grouping sets): dropping a
    projection would change the rows or their order."""
    group = query.args.get("group")
    if (group is not None and group.args.get("all")) or query.args.get("qualify") is not None:
        return True  # QUALIFY may filter on a window only a projection holds
    parts = [node for node in (group, query.args.get("order")) if node is not None]
    return any(True for part in parts for _ in part.find_all(exp.Literal, exp.PositionalColumn))


def _row_level(projection: exp.Expression, aliases: set[str]) -> bool:
    """Whether a projection is one row's own: a source's column as it is (`patient_id`, not another
    projection's alias) or a star. With such a projection a query without GROUP BY aggregates
    nothing (DuckDB would refuse it otherwise)."""
    if _is_star(projection):
        return True
    return isinstance(projection, exp.Column) and (
        bool(projection.table) or projection.name.lower() not in aliases
    )


def _as_list(node: object) -> list[exp.Expression]:
    return [n for n in (node if isinstance(node, list) else [node]) if isinstance(n, exp.Expression)]


def _aggregates(projection: exp.Expression) -> bool:
    """Whether a projection aggregates (outside a window function), as sqlglot knows the function."""
    return any(not agg.find_ancestor(exp.Window) for agg in projection.find_all(exp.AggFunc))


def _makes_rows(projection: exp.Expression) -> bool:
    """Whether a projection makes rows: unnest, generate_subscripts, or a vocabulary macro that does."""
    makers = _vocabulary()[0] | {"generate_subscripts"}
    return any(True for _ in projection.find_all(*_ROW_MAKERS)) or any(
        f.name.lower() in makers for f in projection.find_all(exp.Anonymous)
    )


def _is_star(projection: exp.Expression) -> bool:
    return isinstance(projection, exp.Star) or (
        isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
    )


def _sources(query: exp.Select) -> list[exp.Expression]:
    """What the query reads in its FROM and joins."""
    found = [query.args["from_"].this] if query.args.get("from_") else []
    return found + [j.this for j in query.args.get("joins") or []]


def _alias(source: exp.Expression) -> str:
    return (source.alias or source.name).lower()


def _drop_unread_joins(query: exp.Select, ctes: dict) -> bool:
    """Drop each LEFT JOIN on patient_id to a CTE with one row per patient whose columns nothing
    else reads. Not with a bare `*` among the projections: it outputs every source's columns."""
    if any(isinstance(p, exp.Star) for p in query.expressions):
        return False
    changed = False
    for join in list(query.args.get("joins") or []):
        target = join.this
        plain = join.side == "LEFT" and not join.args.get("kind") and not join.args.get("method")
        if not plain or not isinstance(target, exp.Table) or target.name.lower() not in ctes:
            continue
        alias = _alias(target)
        if target.args.get("alias") is not None and target.args["alias"].columns:
            continue
        if ctes[target.name.lower()].args["alias"].columns:  # `name(a, b)` renames by position
            continue
        body = ctes[target.name.lower()].this
        if _on_key(join, alias) and _one_row_per_key(body) and not _read_elsewhere(query, join, alias, body):
            join.pop()
            changed = True
    return changed


def _on_key(join: exp.Join, alias: str) -> bool:
    """Whether the join matches on patient_id alone: USING (patient_id), or ON one equality of the
    joined relation's patient_id with another's (no collation, no other condition)."""
    using = join.args.get("using")
    if using:
        return [u.name.lower() for u in using] == [KEY]
    on = join.args.get("on")
    if not isinstance(on, exp.EQ) or not all(isinstance(s, exp.Column) for s in (on.left, on.right)):
        return False
    sides = [(s.table.lower(), s.name.lower(), bool(s.db)) for s in (on.left, on.right)]
    others = {_alias(s) for s in _sources(join.parent_select)} - {alias} if join.parent_select else set()
    return (
        all(name == KEY and not deeper for _, name, deeper in sides)
        and sum(table == alias for table, _, _ in sides) == 1
        and any(table in others for table, _, _ in sides)
    )


def _one_row_per_key(body: exp.Expression) -> bool:
    """Whether a CTE's query yields at most one row per patient_id: a SELECT grouped by patient_id
    alone that projects that very column and makes no rows (unnest), or DuckDB's PIVOT statement
    grouped by it."""
    if isinstance(body, exp.Pivot):
        group = body.args.get("group")
        return group is not None and _grouped_by_key(group) is not None
    if not isinstance(body, exp.Select) or body.args.get("distinct"):
        return False
    group = body.args.get("group")
    grouped = _grouped_by_key(group) if group is not None else None
    if grouped is None or any(_makes_rows(p) for p in body.expressions):
        return False
    projected = [p for p in body.expressions if p.alias_or_name.lower() == KEY]
    return (
        len(projected) == 1 and isinstance(projected[0], exp.Column) and projected[0].table == grouped.table
    )


def _grouped_by_key(group: exp.Group) -> exp.Column | None:
    """The GROUP BY's one column when it is patient_id alone (no sets, cube or rollup)."""
    if any(group.args.get(k) for k in ("grouping_sets", "cube", "rollup", "all")):
        return None
    columns = group.expressions
    if len(columns) == 1 and isinstance(columns[0], exp.Column) and columns[0].name.lower() == KEY:
        return columns[0]
    return None


def _read_elsewhere(query: exp.Select, join: exp.Join, alias: str, body: exp.Expression) -> bool:
    """Whether anything in `query` but `join` itself may read the joined CTE: a column qualified by
    its alias, the alias alone (a whole row), or an unqualified name it yields (any name, when its
    names are not known: a star, a PIVOT). A struct's field read unqualified (`last.day`) and
    another join's USING list count as unqualified names."""
    inside = {id(node) for node in join.walk()}
    aliases = {_alias(s) for s in _sources(query)}
    columns = [c for c in query.find_all(exp.Column) if id(c) not in inside]
    if any(alias in _parts(c) for c in columns):
        return True
    unqualified = {p for c in columns if not c.table or c.table.lower() not in aliases for p in _parts(c)}
    unqualified |= {
        u.name.lower()
        for j in query.args.get("joins") or []
        if j is not join
        for u in j.args.get("using") or []
    }
    unqualified.discard(KEY)
    if alias in unqualified:
        return True
    if isinstance(body, exp.Pivot) or any(_is_star(p) for p in body.expressions):
        return bool(unqualified)
    return bool(unqualified & {p.alias_or_name.lower() for p in body.expressions})


def _parts(column: exp.Column) -> list[str]:
    """A column reference's names, lower case: `g.latest.egfr.value` (a struct's field, which
    sqlglot reads as catalog.db.table.column) is ['g', 'latest', 'egfr', 'value']."""
    return [p.lower() for p in (column.catalog, column.db, column.table, column.name) if p]


def _record_needs(query: exp.Select, needed: set[str] | None, ctes: dict, needs: dict) -> None:
    """What `query` reads of each CTE in its FROM and joins: the columns it names qualified by the
    CTE's alias, every unqualified one (and every name of a struct's field read unqualified), the
    joins' USING columns, and what its own readers need through a star. A CTE read in a subquery,
    under an alias naming its columns, or through a star of a query that groups, aggregates or
    removes duplicates keeps every column."""
    sources = _sources(query)
    direct = {id(s) for s in sources}
    for table in query.find_all(exp.Table):  # in a subquery, or a table function's argument
        if id(table) not in direct and table.name.lower() in ctes:
            needs[table.name.lower()] = EVERY_COLUMN
    aliases = {_alias(s) for s in sources}
    columns = [c for c in query.find_all(exp.Column) if not isinstance(c.this, exp.Star)]
    unqualified = {p for c in columns if not c.table or c.table.lower() not in aliases for p in _parts(c)}
    unqualified |= {u.name.lower() for j in query.args.get("joins") or [] for u in j.args.get("using") or []}
    stars = [p for p in query.expressions if _is_star(p)]
    if len(stars) > 1 or (any(isinstance(p, exp.Star) for p in stars) and len(sources) > 1):
        needed = EVERY_COLUMN  # DuckDB renames a name two sources share (x, x_1)
    named = {p.alias_or_name.lower() for p in query.expressions if not _is_star(p)}
    collapses = (
        query.args.get("group") is not None
        or query.args.get("distinct") is not None
        or any(_aggregates(p) for p in query.expressions)
    )
    for source in sources:
        name = source.name.lower() if isinstance(source, exp.Table) else ""
        if name not in ctes or needs[name] is EVERY_COLUMN:
            continue
        alias = _alias(source)
        if source.args.get("alias") is not None and source.args["alias"].columns:
            needs[name] = EVERY_COLUMN
            continue
        if any(isinstance(s, exp.Star) or s.table.lower() == alias for s in stars):
            if needed is EVERY_COLUMN or collapses:
                needs[name] = EVERY_COLUMN
                continue
            needs[name] |= {n.lower() for n in needed} | named  # a name both give is renamed
        needs[name] |= {c.name.lower() for c in columns if c.table.lower() == alias} | unqualified
