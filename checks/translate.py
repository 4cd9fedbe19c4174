"""The checks' DuckDB SQL, translated for Apache Spark: one source, never a second copy of a check.

A check is written once, in DuckDB SQL over the vocabulary of checks/sql/_results.sql and
_phrases.sql (macros). For Spark the macros are expanded in place, as sqlglot expressions (a table
macro becomes a subquery, a scalar macro its body with the arguments put in), then the whole query
is written as Spark SQL by sqlglot. The few phrases whose DuckDB body has no Spark equivalent (date
minus date is a day count in DuckDB but an interval in Spark; printf's '%g' is C's, not Java's) are
given a Spark body in ONE small file, checks/sql/spark/_vocabulary.sql, the vocabulary implemented
per engine as the issue allows; every other word, and every check, is the DuckDB text itself.

Parameters stay bound: DuckDB's `$as_of` becomes Spark's named parameter `:as_of`, bound by
`spark.sql(query, args=...)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sqlglot
from sqlglot import exp, tokens
from sqlglot.dialects.duckdb import DuckDB


class DuckDBAsWritten(DuckDB):
    """DuckDB, with list indexes kept as written (1-based): sqlglot would shift only the indexes it
    can type (items[1], not w[i + 1]); every index becomes Spark's 1-based try_element_at instead."""

    INDEX_OFFSET = 0


SQL_DIR = Path(__file__).parent / "sql"
SPARK_VOCABULARY = SQL_DIR / "spark" / "_vocabulary.sql"
VOCABULARY_FILES = ("_results.sql", "_concepts.sql", "_phrases.sql")  # the macros, in creation order
_MACRO = re.compile(
    r"^\s*CREATE\s+OR\s+REPLACE\s+TEMP\s+MACRO\s+(\w+)\s*\(([^)]*)\)\s+AS\s+(TABLE\s+)?(.*)$",
    re.IGNORECASE | re.DOTALL,
)
_CREATE = re.compile(
    r"^\s*CREATE\s+OR\s+REPLACE\s+TEMP\s+(TABLE|VIEW)\s+(\w+)\s+AS\s+(.*)$", re.IGNORECASE | re.DOTALL
)
_LEN = re.compile(r"\blen\s*\(", re.IGNORECASE)


class TranslationError(ValueError):
    """A piece of check SQL that cannot be written for Spark."""


@dataclass(frozen=True)
class Macro:
    """One vocabulary word: its parameters and its body (an expression, or a query for TABLE)."""

    name: str
    params: tuple[str, ...]
    body: exp.Expression
    is_table: bool


def statements(text: str) -> Iterator[str]:
    """The statements of a SQL file, split on the semicolons that end them (not those in strings)."""
    start = 0
    for token in tokens.Tokenizer().tokenize(text):
        if token.token_type == tokens.TokenType.SEMICOLON:
            yield text[start : token.start]
            start = token.end + 1
    if text[start:].strip():
        yield text[start:]


def duckdb_text(text: str) -> str:
    """DuckDB text made unambiguous for sqlglot: `len()` is a list's length here (strings use
    `length()`), which sqlglot would otherwise read as a string length (Spark's length())."""
    return _LEN.sub("array_length(", text)


def _duckdb_rounding(tree: exp.Expression) -> exp.Expression:
    """DuckDB's round() of a double (its exact binary value, half away from zero) as the Spark word
    that rounds the same way, round_half_away (checks/sql/spark/_vocabulary.sql): Spark's round()
    rounds the shortest decimal form, so 66.315 (the double 66.31499...) would read 66.32 on Spark,
    66.31 on DuckDB. The checks round doubles (lab values); a DECIMAL would be rounded as a double."""
    for node in list(tree.find_all(exp.Round)):
        digits = node.args.get("decimals") or exp.Literal.number(0)
        node.replace(exp.Anonymous(this="round_half_away", expressions=[node.this.copy(), digits.copy()]))
    return tree


def _duckdb_epoch(tree: exp.Expression) -> exp.Expression:
    """DuckDB's epoch() (seconds since 1970, a double with the fraction of a second) as the Spark
    word epoch_seconds (checks/sql/spark/_vocabulary.sql): sqlglot writes it as unix_timestamp(),
    which drops the fraction, so the nearer of two results a second apart could be the farther."""
    for node in list(tree.find_all(exp.TimeToUnix)):
        node.replace(exp.Anonymous(this="epoch_seconds", expressions=[node.this.copy()]))
    return tree


# RE2's \\s is [\\t\\n\\f\\r ]; Java's also matches the vertical tab (U+000B), which a drug name may
# keep: 'zzalpha<VT>5 mg' was stemmed 'zzalpha' on Spark, 'zzalpha<VT>' on DuckDB.
_RE2_SPACE = {"s": ("[\\t\\n\\f\\r ]", "\\t\\n\\f\\r "), "S": ("[^\\t\\n\\f\\r ]", "[^\\t\\n\\f\\r ]")}


def _java_pattern(pattern: str) -> str:
    """An RE2 pattern (DuckDB's) for Java's engine (Spark's), matching the same text: UNIX_LINES
    ('(?d)': '.' stops only at a newline, as in RE2, not also at '\\r', U+0085, U+2028, U+2029),
    each bare '$' as '\\z' (RE2's '$' is the end of the text; Java's also matches before a final
    newline) and '\\s' / '\\S' as RE2's ASCII set (_RE2_SPACE). A '$' escaped or in a character
    class is a dollar sign in both."""
    out, escaped, in_class = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
            if char in _RE2_SPACE:
                out[-1] = _RE2_SPACE[char][in_class]  # the backslash, replaced by the set
                continue
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            out.append("\\z")
            continue
        out.append(char)
    return "(?d)" + "".join(out)


# DuckDB's trim(), ltrim() and rtrim() remove every Unicode space separator (category Zs), Spark's
# the ASCII space only; each end as a Java pattern (after _duckdb_regex, which reads RE2 patterns).
_SPACE_ENDS = {"LEADING": "^\\p{Zs}+", "TRAILING": "\\p{Zs}+\\z"}


def _duckdb_trim(tree: exp.Expression) -> exp.Expression:
    """DuckDB's trim() of the spaces as a regexp_replace of Unicode space separators at the ends:
    Spark's trim() leaves a no-break space (U+00A0) or an ideographic space (U+3000), so the stem
    of 'zzalpha<no-break space>5 mg' kept it on Spark and named another drug. A trim of given
    characters (trim(x, 'ab')) reads the same on both and is left as it is."""
    for node in list(tree.find_all(exp.Trim)):
        if node.args.get("expression") is not None:
            continue
        position = str(node.args.get("position") or "").upper()
        ends = [_SPACE_ENDS[position]] if position in _SPACE_ENDS else list(_SPACE_ENDS.values())
        node.replace(
            exp.RegexpReplace(
                this=node.this.copy(),
                expression=exp.Literal.string("|".join(ends)),
                replacement=exp.Literal.string(""),
            )
        )
    return tree


def _literal_text(node: exp.Expression | None) -> str | None:
    """The text of a string literal, or of literals joined by || ('(a|b' || '|c)', as a long pattern
    is written over lines); None for anything else."""
    if isinstance(node, exp.Literal) and node.is_string:
        return node.this
    if isinstance(node, exp.DPipe):
        left, right = _literal_text(node.this), _literal_text(node.expression)
        return None if left is None or right is None else left + right
    return None


def _duckdb_regex(tree: exp.Expression, strict: bool = False) -> exp.Expression:
    """Each pattern of regexp_matches / regexp_replace / regexp_extract as Java reads it the way RE2
    does (_java_pattern): a literal, or literals joined by || (folded into one first: left joined,
    Java read '\\s' and '$' its own way). `strict` (a check's whole query, its macros expanded): a
    pattern that is neither fails the translation rather than reach Spark as RE2 wrote it; in a
    macro's body it may still be a parameter."""
    for node in list(tree.find_all(exp.RegexpLike, exp.RegexpReplace, exp.RegexpExtract)):
        pattern = node.args.get("expression")
        text = _literal_text(pattern)
        if text is not None:
            pattern.replace(exp.Literal.string(_java_pattern(text)))
        elif strict:
            raise TranslationError(
                "a regular expression that is not a literal string cannot be translated so that Spark"
                f" reads it as DuckDB does: {node.sql()}"
            )
    return tree


def _duckdb_lowering(tree: exp.Expression) -> exp.Expression:
    """DuckDB's lower() as the Spark word that lowercases the same way, lower_as_duckdb
    (checks/sql/spark/_vocabulary.sql): Java lowercases 'İ' to 'i' and a combining dot, and a final
    'Σ' to 'ς', so 'İNSULİN-LIKE' would not read as 'insulin-like' on Spark."""
    for node in list(tree.find_all(exp.Lower)):
        node.replace(exp.Anonymous(this="lower_as_duckdb", expressions=[node.this.copy()]))
    return tree


def parse_macros(text: str, dialect: str = "duckdb") -> dict[str, Macro]:
    """Every `CREATE OR REPLACE TEMP MACRO` of a file, parsed in `dialect` (DuckDB's with its
    rounding, lowercasing and epoch written as Spark's words for them, its
    regular expressions as Java reads them the RE2 way)."""
    found = {}
    for statement in statements(text):
        match = _MACRO.match(strip_comments(statement))
        if not match:
            continue
        name, params, is_table, body = match.groups()
        body, read = (duckdb_text(body), DuckDBAsWritten) if dialect == "duckdb" else (body, dialect)
        tree = sqlglot.parse_one(body if is_table else f"SELECT {body}", read=read)
        if dialect == "duckdb":
            tree = _duckdb_trim(_duckdb_regex(_duckdb_epoch(_duckdb_lowering(_duckdb_rounding(tree)))))
        params_ = tuple(p.strip().lower() for p in params.split(",") if p.strip())
        found[name.lower()] = Macro(
            name.lower(), params_, tree if is_table else tree.expressions[0], bool(is_table)
        )
    return found


def strip_comments(statement: str) -> str:
    """A statement without its leading comment lines."""
    lines = statement.strip().splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines)


@cache
def duckdb_vocabulary() -> dict[str, Macro]:
    """The checks' vocabulary as DuckDB reads it: every macro of VOCABULARY_FILES (read, never
    changed: a caller substituting into a body copies it first, as _substitute does)."""
    macros: dict[str, Macro] = {}
    for name in VOCABULARY_FILES:
        macros.update(parse_macros((SQL_DIR / name).read_text(encoding="utf-8")))
    return macros


@cache
def spark_vocabulary() -> dict[str, Macro]:
    """The vocabulary for Spark: the DuckDB macros, with the Spark bodies of the few that differ."""
    macros = dict(duckdb_vocabulary())
    macros.update(parse_macros(SPARK_VOCABULARY.read_text(encoding="utf-8"), dialect="spark"))
    return macros


def _function_name(node: exp.Expression) -> str | None:
    """The name a macro call is written with (sqlglot reads unknown functions as Anonymous)."""
    return node.name.lower() if isinstance(node, exp.Anonymous) else None


def _substitute(body: exp.Expression, params: tuple[str, ...], args: list[exp.Expression]) -> exp.Expression:
    """The macro body with each parameter replaced by its argument (`param.field` too)."""
    if len(params) != len(args):
        raise TranslationError(f"a macro with parameters {params} called with {len(args)} arguments")
    given = dict(zip(params, args, strict=True))
    tree = body.copy()
    for column in list(tree.find_all(exp.Column)):
        if not column.table and column.name.lower() in given:
            column.replace(exp.paren(given[column.name.lower()].copy(), copy=False))
        elif column.table.lower() in given and not column.args.get("db"):
            field = exp.to_identifier(column.name)
            column.replace(
                exp.Dot(this=exp.paren(given[column.table.lower()].copy(), copy=False), expression=field)
            )
    return tree


def expand(tree: exp.Expression, macros: dict[str, Macro]) -> exp.Expression:
    """Every macro call in `tree` replaced by its body, until none is left."""
    for _ in range(50):
        changed = False
        for table in list(tree.find_all(exp.Table)):
            call = table.this
            macro = macros.get(_function_name(call) or "")
            if macro is None or not macro.is_table:
                continue
            alias = table.alias or macro.name
            query = _substitute(macro.body, macro.params, list(call.expressions))
            table.replace(exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias))))
            changed = True
        for call in list(tree.find_all(exp.Anonymous)):
            macro = macros.get(_function_name(call) or "")
            if macro is None or macro.is_table:
                continue
            call.replace(exp.paren(_substitute(macro.body, macro.params, list(call.expressions)), copy=False))
            changed = True
        if not changed:
            return tree
    raise TranslationError("macros nest too deep (a macro calling itself?)")


def _spark_forms(tree: exp.Expression) -> exp.Expression:
    """DuckDB forms sqlglot writes for Spark in a way Spark does not read the same."""
    for node in list(tree.find_all(exp.Bracket)):
        items = node.expressions
        if len(items) == 1 and isinstance(items[0], exp.Slice):  # list[a:b], 1-based, b included
            lo, hi = items[0].this, items[0].expression
            length = exp.Add(
                this=exp.Sub(this=hi.copy(), expression=lo.copy()), expression=exp.Literal.number(1)
            )
            node.replace(exp.Anonymous(this="slice", expressions=[node.this.copy(), lo.copy(), length]))
        elif len(items) == 1:  # list[i], 1-based, NULL past either end as in DuckDB: try_element_at;
            # and NULL at 0, as in DuckDB, where Spark raises INVALID_INDEX_OF_ZERO (a parameter
            # such as polypharmacy_count may be 0)
            index = exp.Nullif(this=items[0].copy(), expression=exp.Literal.number(0))
            node.replace(exp.Anonymous(this="try_element_at", expressions=[node.this.copy(), index]))
    for node in list(tree.find_all(exp.ArrayOverlaps)):
        node.replace(
            exp.Anonymous(this="arrays_overlap", expressions=[node.this.copy(), node.expression.copy()])
        )
    for node in list(tree.find_all(exp.GroupConcat)):
        _string_agg(node)
    for node in list(tree.find_all(exp.Pivot)):
        if node.args.get("group") is not None:  # DuckDB's PIVOT statement, not a FROM clause's
            node.replace(_pivot(node))
    return tree


def _string_agg(node: exp.GroupConcat) -> None:
    """string_agg for Spark. Spark's listagg fails on several DISTINCT ones in a query (a
    ClassCastException in its distinct-aggregate rewrite), so `string_agg(DISTINCT x, sep ORDER BY
    x)` becomes the same list built another way: the set of values, sorted, joined (NULL when empty,
    as string_agg over no rows). A FILTER moves into the value: NULLs are never collected."""
    value = node.this.this if isinstance(node.this, exp.Order) else node.this
    if not isinstance(value, exp.Distinct):
        return
    target = value.expressions[0]
    keys = node.this.expressions if isinstance(node.this, exp.Order) else []
    if any(k.args.get("desc") or k.this != target for k in keys):
        raise TranslationError(
            f"string_agg(DISTINCT ...) ordered by other than its value: {node.sql('duckdb')}"
        )
    filtered = node.parent if isinstance(node.parent, exp.Filter) else None
    if filtered is not None:
        condition = (
            filtered.expression.this if isinstance(filtered.expression, exp.Where) else filtered.expression
        )
        target = exp.If(this=condition.copy(), true=target.copy(), false=exp.Null())
    collected = exp.Anonymous(this="collect_set", expressions=[target.copy()])
    joined = exp.Anonymous(
        this="array_join",
        expressions=[
            exp.Anonymous(this="array_sort", expressions=[collected]),
            node.args["separator"].copy(),
        ],
    )
    empty = exp.EQ(
        this=exp.Anonymous(this="size", expressions=[collected.copy()]), expression=exp.Literal.number(0)
    )
    (filtered or node).replace(exp.If(this=empty, true=exp.Null(), false=joined))


def _pivot(node: exp.Pivot) -> exp.Expression:
    """DuckDB's `PIVOT (query) ON col IN (values) USING aggs GROUP BY keys` in Spark's form: the
    query narrowed to the keys, the column and what the aggregates read, then PIVOT ... FOR ... IN.
    Spark names the columns as DuckDB does: `<value>_<alias>` (`potassium_at`)."""
    (on,) = node.expressions
    if not isinstance(on, exp.In) or not all(v.is_string for v in on.expressions):
        raise TranslationError("PIVOT ... ON needs a column and an IN list of text values")
    keys = [g.sql("spark") for g in node.args["group"].expressions]
    aggs = node.args["using"]
    used = sorted({c.name for a in aggs for c in a.find_all(exp.Column)} - {on.this.name, *keys})
    columns = ", ".join([*keys, on.this.sql("spark"), *used])
    values = ", ".join(f"{v.sql('spark')} AS `{v.name}`" for v in on.expressions)
    text = (
        f"SELECT * FROM (SELECT {columns} FROM {node.this.sql('spark')} AS _pivoted) "  # noqa: S608 - SQL text of the check itself
        f"PIVOT ({', '.join(a.sql('spark') for a in aggs)} FOR {on.this.sql('spark')} IN ({values}))"
    )
    return exp.Subquery(this=sqlglot.parse_one(text, read="spark"))


# The suffix of the parameter that carries another parameter's DuckDB text (pipelines/engines/spark.py
# binds it: query_args).
TEXT_SUFFIX = "__text"


def _parameter_texts(tree: exp.Expression) -> exp.Expression:
    """Each parameter written into text (`'below ' || $potassium_low`) as its DuckDB text, bound
    beside it as `:potassium_low__text`: DuckDB writes a double as its shortest form ('0.0009',
    '12345678.0'), Spark as Java does ('9.0E-4', '1.2345678E7'), so a reason differed."""
    for node in list(tree.find_all(exp.Placeholder)):
        parent = node.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        if isinstance(parent, exp.DPipe) and node.name:
            node.replace(exp.Placeholder(this=f"{node.name}{TEXT_SUFFIX}"))
    return tree


def _refuse_null_aware_anti_joins(tree: exp.Expression) -> exp.Expression:
    """Refuse `x NOT IN (SELECT ...)`. Spark plans it as a null-aware anti join, which it can only
    broadcast: over a large subquery the run fails for want of driver memory (CI saw it on a
    400-patient clinic) or falls back to a nested loop. NOT EXISTS or a LEFT JOIN ... IS NULL say
    the same for a key that is never NULL, and Spark can shuffle them."""
    for node in tree.find_all(exp.Not):
        inner = node.this.unnest() if isinstance(node.this, exp.Paren) else node.this
        if isinstance(inner, exp.In) and inner.args.get("query") is not None:
            raise TranslationError(
                f"'{node.sql(dialect='duckdb')[:80]}': NOT IN over a subquery is a null-aware anti join "
                "that Spark must broadcast; write NOT EXISTS or a LEFT JOIN ... IS NULL"
            )
    return tree


def to_spark(sql: str, macros: dict[str, Macro] | None = None, texts: bool = False) -> str:
    """One DuckDB query (a check, or a view's query) as Spark SQL, macros expanded; with `texts`,
    each parameter written into text as its DuckDB text's parameter (_parameter_texts)."""
    try:
        tree = sqlglot.parse_one(duckdb_text(sql), read=DuckDBAsWritten)
    except sqlglot.errors.ParseError as error:
        raise TranslationError(str(error)) from None
    tree = _duckdb_trim(_duckdb_regex(_duckdb_epoch(_duckdb_lowering(_duckdb_rounding(tree))), strict=True))
    tree = _refuse_null_aware_anti_joins(
        _spark_forms(expand(tree, spark_vocabulary() if macros is None else macros))
    )
    return (_parameter_texts(tree) if texts else tree).sql(dialect="spark")


def check_query(sql: str, texts: bool = False) -> str:
    """A check's query as Spark SQL, its `$name` parameters as `:name` (bound by spark.sql(args));
    with `texts` (the engine's query), one written into text as `:name__text` (_parameter_texts)."""
    return to_spark(sql, texts=texts)


def prepared_views(text: str) -> list[tuple[str, str, str | None]]:
    """The `CREATE OR REPLACE TEMP TABLE|VIEW name AS query` statements of a file (_sources.sql,
    _concepts.sql), each as (kind, name, Spark query), in order. A TABLE's query is None: Spark
    is given DuckDB's table itself (pipelines/engines/spark.py), so it is not translated."""
    found = []
    for statement in statements(text):
        match = _CREATE.match(strip_comments(statement))
        if match:
            kind, name, query = match.groups()
            kind = kind.upper()
            found.append((kind, name.lower(), to_spark(query) if kind == "VIEW" else None))
    return found
