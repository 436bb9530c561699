"""Type checks on the qualified, type-annotated tree: what PostgreSQL would refuse later.

Run by :func:`tap.adql.translate.translate` after sqlglot's ``annotate_types``, with the
column types the schema gives (TAP_SCHEMA datatypes). Each refusal is an
:class:`~tap.adql.errors.ADQLError` with the line and column of what is wrong:

* a condition (``WHERE``, ``HAVING``, ``JOIN ... ON``) must be boolean: ``ON u.role``
  is refused instead of reaching PostgreSQL ("argument of JOIN/ON must be type boolean");
* a column compared with a literal of the wrong kind: a string column with a number
  (``id = 5``; PostgreSQL: "operator does not exist: text = integer"), a numeric or
  timestamp column with a number/string it cannot be (``size_bytes = 'big'``,
  ``start_time > 3``). A numeric column with a string that reads as a number
  (``size_bytes = '5'``) and a timestamp column with a string (``start_time >
  '2020-01-01'``) stay accepted: PostgreSQL reads such literals as the column's type;
* in a grouped query (GROUP BY, HAVING or an aggregate), every column of the select
  list, HAVING and ORDER BY outside an aggregate must be grouped, or belong to a table
  whose whole primary key is grouped: the functional dependency PostgreSQL allows
  (``SELECT e.id, e.name ... GROUP BY e.id`` is valid; ``SELECT name ... GROUP BY id``
  on a view or a subquery is not). Columns of tables whose key is unknown are left to
  PostgreSQL, so that no valid query is refused.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from tap.adql.dialect import type_of
from tap.adql.errors import ADQLError, position
from tap.adql.geometry import GeoFunction
from tap.adql.schema import TableInfo

__all__ = ["check_grouping", "check_types"]

_STRING = {
    exp.DType.TEXT,
    exp.DType.VARCHAR,
    exp.DType.CHAR,
    exp.DType.NCHAR,
    exp.DType.NVARCHAR,
}
_NUMBER = {
    exp.DType.TINYINT,
    exp.DType.SMALLINT,
    exp.DType.INT,
    exp.DType.BIGINT,
    exp.DType.FLOAT,
    exp.DType.DOUBLE,
    exp.DType.DECIMAL,
}
_TIME = {exp.DType.TIMESTAMP, exp.DType.TIMESTAMPTZ, exp.DType.DATE}
_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)


def offset_of(node: exp.Expr) -> int | None:
    """First character offset of ``node`` in the ADQL text (from its positioned parts)."""
    starts = [
        int(sub.meta["start"])
        for sub in node.walk()
        if sub._meta and sub.meta.get("start") is not None
    ]
    return min(starts) if starts else None


def _fail(adql: str, node: exp.Expr, message: str, hint: str | None = None) -> t.NoReturn:
    offset = offset_of(node)
    if offset is None:
        raise ADQLError(message, hint=hint)
    line, column = position(adql, offset)
    raise ADQLError(message, line, column, hint)


def _literal(node: exp.Expr) -> exp.Literal | None:
    """The literal ``node`` is (through a sign, or the cast given to 1.5 / big integers)."""
    if isinstance(node, exp.Neg):
        node = node.this
    if isinstance(node, exp.Cast) and node.meta.get("typed_literal"):
        node = node.this
    return node if isinstance(node, exp.Literal) else None


def _reads_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _describe(node: exp.Expr) -> str:
    kind = type_of(node)
    what = (
        "string"
        if kind in _STRING
        else "numeric"
        if kind in _NUMBER
        else "timestamp"
        if kind in _TIME
        else kind.value.lower()
    )
    if isinstance(node, exp.Column):
        return f"{node.name}, a {what} column"
    if isinstance(node, exp.Literal):
        return f"the {what} {node.sql()}"
    return f"a {what} expression"


def _check_condition(adql: str, clause: str, node: exp.Expr | None) -> None:
    if node is None:
        return
    inner = node.unnest()
    kind = type_of(inner)
    if kind in (exp.DType.BOOLEAN, exp.DType.UNKNOWN, exp.DType.NULL):
        return
    if isinstance(inner, GeoFunction) and inner.name in ("CONTAINS", "INTERSECTS"):
        _fail(
            adql,
            inner,
            f"{clause} needs a condition: {inner.name} returns 0 or 1",
            f"compare it: {inner.name}(...) = 1",
        )
    _fail(
        adql,
        inner,
        f"{clause} needs a condition, not {_describe(inner)}",
        "e.g. a comparison such as u.entity_id = e.id, or IS NOT NULL",
    )


def _check_pair(adql: str, column: exp.Expr, other: exp.Expr) -> None:
    """A column compared with a literal: refuse the kinds PostgreSQL cannot compare."""
    if not isinstance(column, exp.Column):
        column, other = other, column
    literal = _literal(other)
    if not isinstance(column, exp.Column) or literal is None:
        return
    kind = type_of(column)
    name = column.name
    if kind in _STRING and not literal.is_string:
        value = ("-" if isinstance(other, exp.Neg) else "") + literal.this
        _fail(
            adql,
            column,
            f"{name} is a string column: compare it with a string literal ('{value}')",
        )
    if kind in _NUMBER and literal.is_string and not _reads_as_number(literal.this):
        _fail(
            adql,
            column,
            f"{name} is a numeric column: compare it with a number, not '{literal.this}'",
        )
    if kind in _TIME and not literal.is_string:
        _fail(
            adql,
            column,
            f"{name} is a timestamp column: compare it with a timestamp string",
            "e.g. '2020-01-17T21:00:00' or CAST('2020-01-17' AS TIMESTAMP)",
        )


def check_types(adql: str, tree: exp.Expr) -> None:
    """Refuse non-boolean conditions and column/literal comparisons of the wrong kind."""
    for node in tree.walk():
        if isinstance(node, exp.Where):
            _check_condition(adql, "WHERE", node.this)
        elif isinstance(node, exp.Having):
            _check_condition(adql, "HAVING", node.this)
        elif isinstance(node, exp.Join):
            _check_condition(adql, "JOIN ... ON", node.args.get("on"))
        elif isinstance(node, exp.Not):
            _check_condition(adql, "NOT", node.this)
        elif isinstance(node, exp.And | exp.Or):
            _check_condition(adql, node.key.upper(), node.this)
            _check_condition(adql, node.key.upper(), node.expression)
        elif isinstance(node, _COMPARISONS):
            _check_pair(adql, node.this, node.expression)
        elif isinstance(node, exp.Between):
            _check_pair(adql, node.this, node.args["low"])
            _check_pair(adql, node.this, node.args["high"])
        elif isinstance(node, exp.In):
            for item in node.expressions:
                _check_pair(adql, node.this, item)


# ----------------------------------------------------------------------------- GROUP BY

#: Nodes whose inside is not checked against the grouping of the current SELECT.
_OPAQUE = (exp.AggFunc, exp.Subquery, exp.Select, exp.Exists)


def _grouped_query(select: exp.Select) -> bool:
    if select.args.get("group") or select.args.get("having"):
        return True
    parts = [
        *select.expressions,
        *(select.args["order"].expressions if select.args.get("order") else []),
    ]
    return any(_has_aggregate(part) for part in parts)


def _has_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, exp.AggFunc):
        return True
    if isinstance(node, exp.Subquery | exp.Select | exp.Exists):
        return False
    return any(_has_aggregate(child) for child in node.iter_expressions())


class _Grouping:
    """The grouping of one SELECT: what its select list / HAVING / ORDER BY may show."""

    def __init__(
        self,
        adql: str,
        scope: Scope,
        select: exp.Select,
        by_sql: Mapping[tuple[str, str], TableInfo],
    ) -> None:
        self.adql = adql
        group = select.args.get("group")
        items = [item.unnest() for item in group.expressions] if group else []
        self.grouped_sql = {item.sql() for item in items}
        # a column merged by USING / NATURAL JOIN is COALESCE(a.x, b.x) here; PostgreSQL
        # groups by a.x for an inner join: count both as grouped (never refuse too much)
        self.grouped_columns = {
            (column.table, column.name)
            for item in items
            if isinstance(item, exp.Column | exp.Coalesce)
            for column in item.find_all(exp.Column)
        }
        #: alias -> primary key (None: unknown) of every FROM item of this SELECT
        self.keys: dict[str, frozenset[str] | None] = {}
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table):
                info = by_sql.get((source.db, source.name))
                self.keys[alias] = info.primary_key if info is not None else None
            else:
                self.keys[alias] = frozenset()  # a subquery or WITH: no key to depend on

    def dependent(self, alias: str) -> bool:
        key = self.keys.get(alias)
        return bool(key) and all((alias, column) in self.grouped_columns for column in key)

    def check(self, node: exp.Expr, group: bool) -> None:
        if node.sql() in self.grouped_sql or isinstance(node, _OPAQUE):
            return
        if isinstance(node, exp.Column):
            self.check_column(node, group)
            return
        for child in node.iter_expressions():
            self.check(child, group)

    def check_column(self, column: exp.Column, group: bool) -> None:
        alias = column.table
        if (
            not alias  # an output name (ORDER BY n)
            or alias not in self.keys  # a column of an enclosing query
            or self.keys[alias] is None  # a table whose key is unknown: PostgreSQL decides
            or (alias, column.name) in self.grouped_columns
            or self.dependent(alias)
        ):
            return
        if group:
            hint = f"add {alias}.{column.name} to GROUP BY, or aggregate it: MAX({column.name})"
        else:
            hint = f"aggregate it (e.g. MAX({column.name})) or add GROUP BY {column.name}"
        _fail(
            self.adql,
            column,
            f"{column.name} must be grouped or inside an aggregate "
            "(COUNT, SUM, AVG, MIN, MAX) in a grouped query",
            hint,
        )


def check_grouping(adql: str, root: Scope, by_sql: Mapping[tuple[str, str], TableInfo]) -> None:
    """Refuse a column a grouped SELECT shows without grouping or aggregating it."""
    for scope in root.traverse():
        select = scope.expression
        if not isinstance(select, exp.Select) or not _grouped_query(select):
            continue
        grouping = _Grouping(adql, scope, select, by_sql)
        group = select.args.get("group") is not None
        parts: list[exp.Expr] = [projection.unalias() for projection in select.expressions]
        if select.args.get("having"):
            parts.append(select.args["having"].this)
        if select.args.get("order"):
            parts.extend(ordered.this for ordered in select.args["order"].expressions)
        for part in parts:
            grouping.check(part, group)
