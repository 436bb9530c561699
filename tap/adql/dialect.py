"""The ``ADQL`` sqlglot dialect: ADQL 2.1 in, PostgreSQL out.

It subclasses sqlglot's PostgreSQL dialect and takes almost everything away:

* the tokenizer knows only ADQL's keywords (plus a few SQL words kept so that they
  parse and can then be refused with a precise message, e.g. ``LIMIT``), no ``/* */``
  comments, no ``E''``/``B''``/``X''``/``$$`` strings, no ``::``/``->``/``~`` operators;
* the parser knows only ADQL's functions: the aggregates, ``LOWER``, ``UPPER``,
  ``COALESCE``, ``CAST``, the ADQL mathematical functions (parsed into
  :class:`ADQLFunction`) and the geometry functions offered (parsed into
  :class:`~tap.adql.geometry.GeoFunction`, written by :mod:`tap.adql.geometry_sql`); any
  other name becomes ``exp.Anonymous`` and is refused later;
* the generator writes :class:`ADQLFunction` as type-correct PostgreSQL (``LOG`` is
  ``ln``, ``ROUND(x, n)`` goes through ``numeric``, ...) from the argument types that
  :func:`sqlglot.optimizer.annotate_types.annotate_types` put on the tree.

The dialect does not validate anything by itself: :mod:`tap.adql.translate` walks the
tree against allow-lists. sqlglot is pinned exactly (:data:`SQLGLOT_VERSION`) because
both the tokenizer tables and the tree shapes relied upon change between releases.
"""

from __future__ import annotations

import typing as t

import sqlglot
from sqlglot import exp, tokens
from sqlglot.dialects.postgres import Postgres
from sqlglot.generators.postgres import PostgresGenerator
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import TokenType
from sqlglot.trie import new_trie

from tap.adql.geometry import SUPPORTED as GEOMETRY_FUNCTIONS
from tap.adql.geometry import GeoFunction, geo_builder
from tap.adql.geometry_sql import comparison_sql, geo_function_sql

__all__ = ["ADQL", "MATH_FUNCTIONS", "SQLGLOT_VERSION", "ADQLFunction"]

#: The sqlglot release this module was written and tested against.
SQLGLOT_VERSION = "30.30.0"

if sqlglot.__version__ != SQLGLOT_VERSION:  # pragma: no cover - guarded by packaging
    raise ImportError(
        f"tap.adql needs sqlglot=={SQLGLOT_VERSION} exactly (found {sqlglot.__version__}): "
        "its tokenizer tables and tree shapes are relied upon for security"
    )

#: ADQL 2.1 mathematical and trigonometric functions: name -> (min args, max args).
MATH_FUNCTIONS: dict[str, tuple[int, int]] = {
    "ABS": (1, 1),
    "CEILING": (1, 1),
    "DEGREES": (1, 1),
    "EXP": (1, 1),
    "FLOOR": (1, 1),
    "LOG": (1, 1),
    "LOG10": (1, 1),
    "MOD": (2, 2),
    "PI": (0, 0),
    "POWER": (2, 2),
    "RADIANS": (1, 1),
    "SQRT": (1, 1),
    "RAND": (0, 1),
    "ROUND": (1, 2),
    "TRUNCATE": (1, 2),
    "ACOS": (1, 1),
    "ASIN": (1, 1),
    "ATAN": (1, 1),
    "ATAN2": (2, 2),
    "COS": (1, 1),
    "COT": (1, 1),
    "SIN": (1, 1),
    "TAN": (1, 1),
}


class ADQLFunction(exp.Expression, exp.Func):
    """An ADQL mathematical function call; ``this`` is the upper-case ADQL name."""

    arg_types: t.ClassVar[dict[str, bool]] = {"this": True, "expressions": False}
    is_var_len_args = True

    @property
    def name(self) -> str:
        return str(self.this)


def _adql_function_builder(name: str) -> t.Callable[[list[exp.Expr]], ADQLFunction]:
    def build(args: list[exp.Expr]) -> ADQLFunction:
        return ADQLFunction(this=name, expressions=args)

    return build


# ----------------------------------------------------------------------------- types

_INTEGER_TYPES = {exp.DType.SMALLINT, exp.DType.INT, exp.DType.BIGINT, exp.DType.TINYINT}


def type_of(node: exp.Expr | None) -> exp.DType:
    """The annotated type of a node (``UNKNOWN`` when not annotated)."""
    if node is None or node.type is None:
        return exp.DType.UNKNOWN
    return t.cast(exp.DType, node.type.this)


def is_integer(node: exp.Expr | None) -> bool:
    return type_of(node) in _INTEGER_TYPES


def _function_type(func: ADQLFunction) -> exp.DType:
    """Result type of an ADQL function, as the generated SQL really returns it."""
    name = func.name
    args = func.expressions
    if name == "ABS":
        kind = type_of(args[0]) if args else exp.DType.UNKNOWN
        return kind if kind in _INTEGER_TYPES | {exp.DType.FLOAT} else exp.DType.DOUBLE
    if name == "MOD" and len(args) == 2 and all(is_integer(a) for a in args):
        ranks = [exp.DType.SMALLINT, exp.DType.INT, exp.DType.BIGINT]
        kinds = [type_of(a) for a in args]
        return max(kinds, key=lambda k: ranks.index(k) if k in ranks else 1)
    return exp.DType.DOUBLE


def _annotate_adql_function(self: t.Any, expression: ADQLFunction) -> ADQLFunction:
    self._set_type(expression, _function_type(expression))
    return expression


def _aggregated(expression: exp.Expr) -> exp.Expr | None:
    """The argument of an aggregate, through DISTINCT."""
    arg = expression.this
    if isinstance(arg, exp.Distinct):
        return arg.expressions[0] if arg.expressions else None
    return arg


_GEOMETRY_TYPES = {
    "CONTAINS": exp.DType.INT,
    "INTERSECTS": exp.DType.INT,
    "DISTANCE": exp.DType.DOUBLE,
    "COORD1": exp.DType.DOUBLE,
    "COORD2": exp.DType.DOUBLE,
    "COORDSYS": exp.DType.VARCHAR,
}


def _annotate_geo_function(self: t.Any, expression: GeoFunction) -> GeoFunction:
    # geometry values (POINT, CIRCLE, ...) have no SQL type: they never reach the output
    self._set_type(expression, _GEOMETRY_TYPES.get(expression.name, exp.DType.UNKNOWN))
    return expression


def _annotate_aggregate(self: t.Any, expression: exp.Expr) -> exp.Expr:
    """SUM/AVG types as the generated SQL returns them (see ``_sum_sql``/``_avg_sql``)."""
    kind = type_of(_aggregated(expression))
    if isinstance(expression, exp.Avg):
        result = exp.DType.DOUBLE  # PostgreSQL: avg(real) is double precision too
    elif kind in _INTEGER_TYPES:
        result = exp.DType.BIGINT
    elif kind == exp.DType.FLOAT:
        result = exp.DType.FLOAT
    else:
        result = exp.DType.DOUBLE
    self._set_type(expression, result)
    return expression


# ----------------------------------------------------------------------------- SQL out

_DOUBLE = "DOUBLE PRECISION"


def _as_double(gen: PostgresGenerator, node: exp.Expr) -> str:
    """``node`` as double precision SQL (a cast unless it already is one)."""
    sql = gen.sql(node)
    if type_of(node) in (exp.DType.DOUBLE, exp.DType.FLOAT):
        return sql
    return f"CAST({sql} AS {_DOUBLE})"


def _as_numeric(gen: PostgresGenerator, node: exp.Expr) -> str:
    return f"CAST({gen.sql(node)} AS NUMERIC)"


def _seeded_rand_sql(gen: PostgresGenerator, seed: exp.Expr) -> str:
    """``RAND(seed)``: a value in [0, 1) that is a pure function of the seed.

    PostgreSQL's only seeded generator is the session-wide ``setseed()``, which one
    statement cannot order before the ``random()`` calls it should govern. Instead the
    seed (as double precision text, so RAND(1) = RAND(1.0)) is hashed with md5 and its
    first 52 bits are scaled into [0, 1): the same seed gives the same value in every
    row and every run, a column as seed gives a reproducible value per row, and a NULL
    seed gives NULL.
    """
    digest = f"md5(CAST({_as_double(gen, seed)} AS TEXT))"
    bits = f"CAST(CAST('x' || substr({digest}, 1, 13) AS BIT(52)) AS BIGINT)"
    return f"CAST({bits} AS {_DOUBLE}) / CAST(4503599627370496 AS {_DOUBLE})"


def _adql_function_sql(gen: PostgresGenerator, expression: ADQLFunction) -> str:
    name = expression.name
    args = expression.expressions
    simple = {
        "DEGREES": "degrees",
        "EXP": "exp",
        "LOG": "ln",
        "LOG10": "log",
        "RADIANS": "radians",
        "SQRT": "sqrt",
        "ACOS": "acos",
        "ASIN": "asin",
        "ATAN": "atan",
        "COS": "cos",
        "COT": "cot",
        "SIN": "sin",
        "TAN": "tan",
        "CEILING": "ceil",
        "FLOOR": "floor",
    }
    if name in simple:
        return f"{simple[name]}({_as_double(gen, args[0])})"
    if name in ("POWER", "ATAN2"):
        return f"{name.lower()}({_as_double(gen, args[0])}, {_as_double(gen, args[1])})"
    if name == "ABS":
        if is_integer(args[0]) or type_of(args[0]) == exp.DType.FLOAT:
            return f"abs({gen.sql(args[0])})"
        return f"abs({_as_double(gen, args[0])})"
    if name == "PI":
        return "pi()"
    if name == "RAND" and not args:
        return "random()"
    if name == "RAND":
        return _seeded_rand_sql(gen, args[0])
    if name in ("ROUND", "TRUNCATE"):
        func = "round" if name == "ROUND" else "trunc"
        if len(args) == 1 and name == "TRUNCATE":
            return f"trunc({_as_double(gen, args[0])})"
        if len(args) == 1:
            # round(double precision) breaks ties to even: numeric rounds half away from 0,
            # like ROUND(x, n)
            return f"CAST(round({_as_numeric(gen, args[0])}) AS {_DOUBLE})"
        digits = f"CAST({gen.sql(args[1])} AS INTEGER)"
        return f"CAST({func}({_as_numeric(gen, args[0])}, {digits}) AS {_DOUBLE})"
    if name == "MOD":
        if all(is_integer(a) for a in args):
            return f"mod({gen.sql(args[0])}, {gen.sql(args[1])})"
        return f"CAST(mod({_as_numeric(gen, args[0])}, {_as_numeric(gen, args[1])}) AS {_DOUBLE})"
    raise ValueError(f"no PostgreSQL translation for ADQL function {name}")  # pragma: no cover


def _sum_sql(gen: PostgresGenerator, expression: exp.Sum) -> str:
    sql = gen.function_fallback_sql(expression)
    # PostgreSQL's SUM(bigint) is numeric: bring it back to the declared long.
    if type_of(_aggregated(expression)) == exp.DType.BIGINT:
        return f"CAST({sql} AS BIGINT)"
    return sql


def _avg_sql(gen: PostgresGenerator, expression: exp.Avg) -> str:
    sql = gen.function_fallback_sql(expression)
    # AVG of integers is numeric in PostgreSQL: declared (and returned) as double.
    if type_of(_aggregated(expression)) not in (exp.DType.DOUBLE, exp.DType.FLOAT):
        return f"CAST({sql} AS {_DOUBLE})"
    return sql


# ----------------------------------------------------------------------------- dialect

#: Words the tokenizer knows as keywords (everything else is an identifier or a
#: function name). The first group is ADQL; the second is SQL kept only so that it
#: parses into a node the validator refuses with a precise message.
_ADQL_KEYWORDS = (
    "ALL", "AND", "AS", "ASC", "BETWEEN", "DESC", "DISTINCT", "EXCEPT", "EXISTS", "FALSE",
    "FROM", "FULL", "GROUP BY", "HAVING", "ILIKE", "IN", "INNER", "INTERSECT", "IS", "JOIN",
    "LEFT", "LIKE", "NATURAL", "NOT", "NULL", "OFFSET", "ON", "OR", "ORDER BY", "OUTER",
    "RIGHT", "SELECT", "TRUE", "UNION", "USING", "WHERE", "WITH",
    "SMALLINT", "INTEGER", "BIGINT", "REAL", "DOUBLE PRECISION", "CHAR", "VARCHAR",
    "TIMESTAMP",
)  # fmt: skip
_REFUSED_KEYWORDS = (
    "LIMIT", "INTO", "FOR", "LATERAL", "TABLESAMPLE", "RECURSIVE", "OVER", "WINDOW",
    "PARTITION BY", "FETCH", "CROSS", "CASE", "WHEN", "THEN", "ELSE", "END", "ESCAPE",
    "COLLATE", "SIMILAR TO", "ANY", "SOME", "INTERVAL", "VALUES", "UNNEST",
)  # fmt: skip


class ADQL(Postgres):
    """ADQL 2.1 read (geometry: see :mod:`tap.adql.geometry`), PostgreSQL written."""

    class Tokenizer(Postgres.Tokenizer):
        KEYWORDS: t.ClassVar[dict[str, TokenType]] = {
            **{k: tokens.Tokenizer.KEYWORDS[k] for k in _ADQL_KEYWORDS + _REFUSED_KEYWORDS},
            "TOP": TokenType.TOP,
            "||": TokenType.DPIPE,
            ">=": TokenType.GTE,
            "<=": TokenType.LTE,
            "<>": TokenType.NEQ,
            "!=": TokenType.NEQ,
        }
        SINGLE_TOKENS: t.ClassVar[dict[str, TokenType]] = {
            k: v for k, v in tokens.Tokenizer.SINGLE_TOKENS.items() if k != "$"
        }
        VAR_SINGLE_TOKENS: t.ClassVar[set[str]] = set()
        COMMENTS: t.ClassVar[list[str | tuple[str, str]]] = ["--"]
        BIT_STRINGS: t.ClassVar[list[str | tuple[str, str]]] = []
        HEX_STRINGS: t.ClassVar[list[str | tuple[str, str]]] = []
        BYTE_STRINGS: t.ClassVar[list[str | tuple[str, str]]] = []
        UNICODE_STRINGS: t.ClassVar[list[str | tuple[str, str]]] = []
        HEREDOC_STRINGS: t.ClassVar[list[str | tuple[str, str]]] = []
        RAW_STRINGS: t.ClassVar[list[str | tuple[str, str]]] = []
        NATIONAL_RAW_STRINGS: t.ClassVar[list[str | tuple[str, str]]] = []
        STRING_ESCAPES: t.ClassVar[list[str]] = ["'"]
        BYTE_STRING_ESCAPES: t.ClassVar[list[str]] = ["'"]
        NUMERIC_ESCAPES: t.ClassVar[dict[str, tuple[int, int, int, int]]] = {}
        DROP_UNKNOWN_ESCAPES = False
        NESTED_COMMENTS = False
        HEREDOC_TAG_IS_IDENTIFIER = False
        HEREDOC_STRING_ALTERNATIVE = TokenType.VAR
        COMMANDS: t.ClassVar[set[TokenType]] = set()
        COMMAND_PREFIX_TOKENS: t.ClassVar[set[TokenType]] = set()

    TABLES_REFERENCEABLE_AS_COLUMNS = False

    class Parser(PostgresParser):
        FUNCTIONS: t.ClassVar[dict[str, t.Callable]] = {
            **{
                name: PostgresParser.FUNCTIONS[name]
                for name in ("COUNT", "SUM", "AVG", "MIN", "MAX", "LOWER", "UPPER", "COALESCE")
            },
            **{name: _adql_function_builder(name) for name in MATH_FUNCTIONS},
            **{name: geo_builder(name) for name in GEOMETRY_FUNCTIONS},
        }
        FUNCTION_PARSERS: t.ClassVar[dict[str, t.Callable]] = {
            "CAST": PostgresParser.FUNCTION_PARSERS["CAST"],
        }
        NO_PAREN_FUNCTION_PARSERS: t.ClassVar = {
            "CASE": PostgresParser.NO_PAREN_FUNCTION_PARSERS["CASE"],
            "ANY": PostgresParser.NO_PAREN_FUNCTION_PARSERS["ANY"],
        }
        NO_PAREN_FUNCTIONS: t.ClassVar = {}
        STRICT_CAST = True

        def _parse_select(self, *args: t.Any, **kwargs: t.Any) -> exp.Expr | None:
            # remember where each SELECT starts, for error messages
            token = self._curr
            query = super()._parse_select(*args, **kwargs)
            if (
                isinstance(query, exp.Select)
                and token is not None
                and token.token_type == TokenType.SELECT
                and not (query._meta and "start" in query._meta)
            ):
                query.update_positions(token)
            return query

        def _parse_csv(
            self, parse_method: t.Callable[[], t.Any], sep: TokenType = TokenType.COMMA
        ) -> list[t.Any]:
            # sqlglot skips empty items ("a,,b", "SELECT a, FROM"): ADQL has none
            parse_result = parse_method()
            items = [parse_result] if parse_result is not None else []
            while self._match(sep):
                if parse_result is None:
                    self.raise_error(f"Expected an item before '{self._prev.text}'", self._prev)
                if isinstance(parse_result, exp.Expr):
                    self._add_comments(parse_result)
                parse_result = parse_method()
                if parse_result is None:
                    self.raise_error(f"Expected an item after '{self._prev.text}'", self._prev)
                items.append(parse_result)
            return items

        def _parse_join(
            self,
            skip_join_token: bool = False,
            parse_bracket: bool = False,
            alias_tokens: t.Collection[TokenType] | None = None,
        ) -> exp.Join | None:
            # comma joins and "JOIN" without a condition give the same node: tell them apart
            comma = self._curr is not None and self._curr.token_type == TokenType.COMMA
            join = super()._parse_join(skip_join_token, parse_bracket, alias_tokens)
            if join is not None and comma:
                join.meta["comma"] = True
            return join

    class Generator(PostgresGenerator):
        TRANSFORMS: t.ClassVar = {
            **PostgresGenerator.TRANSFORMS,
            ADQLFunction: _adql_function_sql,
            GeoFunction: geo_function_sql,
            exp.Sum: _sum_sql,
            exp.Avg: _avg_sql,
        }

        # comparisons with CONTAINS / INTERSECTS / DISTANCE become spherical conditions
        def eq_sql(self, expression: exp.EQ) -> str:
            return comparison_sql(self, expression) or super().eq_sql(expression)

        def neq_sql(self, expression: exp.NEQ) -> str:
            return comparison_sql(self, expression) or super().neq_sql(expression)

        def lt_sql(self, expression: exp.LT) -> str:
            return comparison_sql(self, expression) or super().lt_sql(expression)

        def lte_sql(self, expression: exp.LTE) -> str:
            return comparison_sql(self, expression) or super().lte_sql(expression)

        def gt_sql(self, expression: exp.GT) -> str:
            return comparison_sql(self, expression) or super().gt_sql(expression)

        def gte_sql(self, expression: exp.GTE) -> str:
            return comparison_sql(self, expression) or super().gte_sql(expression)

        def column_sql(self, expression: exp.Column) -> str:
            sql = super().column_sql(expression)
            # string columns of published tables (JSON documents are published as text)
            if expression._meta and expression.meta.get("text_cast"):
                return f"CAST({sql} AS TEXT)"
            return sql

        def literal_sql(self, expression: exp.Literal) -> str:
            text = expression.this or ""
            if expression.is_string and "\\" in text:
                # ADQL has no backslash escapes: send E'' with doubled backslashes, which
                # reads the same whatever standard_conforming_strings says.
                return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
            return super().literal_sql(expression)

    EXPRESSION_METADATA: t.ClassVar = {
        **Postgres.EXPRESSION_METADATA,
        ADQLFunction: {"annotator": _annotate_adql_function},
        GeoFunction: {"annotator": _annotate_geo_function},
        exp.Sum: {"annotator": _annotate_aggregate},
        exp.Avg: {"annotator": _annotate_aggregate},
    }


# Jinja-style "{# #}" comments are added to every sqlglot tokenizer: not ADQL.
ADQL.Tokenizer._COMMENTS = {"--": None}
ADQL.Tokenizer._KEYWORD_TRIE = new_trie(
    key.upper()
    for key in (
        *ADQL.Tokenizer.KEYWORDS,
        *ADQL.Tokenizer._COMMENTS,
        *ADQL.Tokenizer._QUOTES,
        *ADQL.Tokenizer._FORMAT_STRINGS,
    )
    if " " in key or any(single in key for single in ADQL.Tokenizer.SINGLE_TOKENS)
)
