"""translate(): one ADQL 2.1 query to one PostgreSQL query plus its result metadata.

Pipeline (each step refuses with :class:`~tap.adql.errors.ADQLError`):

1. tokenize, parse, check the tree against allow-lists (:mod:`tap.adql.validate`);
2. resolve every table and column against the Catalog and the uploads
   (:mod:`tap.adql.resolve`);
3. sqlglot ``qualify`` (star expansion, column qualification, USING/NATURAL) and
   ``annotate_types`` with a ``MappingSchema`` of the tables the query reads, then the
   checks that need types and scopes (:mod:`tap.adql.semantics`: boolean conditions,
   column/literal comparisons, GROUP BY validity);
4. result FIELDs: catalog metadata for plain column references (through aliases,
   subqueries and WITH), inferred types otherwise; unique output names;
5. row limits: TOP and MAXREC (see :func:`translate`), then PostgreSQL text.
"""

from __future__ import annotations

import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

from provdb.votable.fields import Field
from tap.adql.budget import QueryBudget
from tap.adql.dialect import ADQL, ADQLFunction, type_of
from tap.adql.errors import ADQLError
from tap.adql.geometry import GeoFunction
from tap.adql.resolve import Resolver
from tap.adql.schema import CatalogIndex, TableInfo, catalog_index, upload_info
from tap.adql.semantics import check_grouping, check_types
from tap.adql.validate import check_tree, parse, tokenize
from tap.catalog import Catalog

__all__ = ["Translation", "translate"]

_DIALECT = ADQL()
_BUDGET = QueryBudget()


@dataclass(frozen=True)
class Translation:
    """A translated query.

    Attributes
    ----------
    sql:
        PostgreSQL text, to run as-is (read-only transaction). It returns at most
        ``limit + 1`` rows: receiving more than ``limit`` rows means the result was
        truncated by MAXREC (overflow); the extra row is not to be delivered.
        It may hold ``%`` and ``:`` in string literals: execute it without parameters
        (psycopg ``cursor.execute(sql)``; not SQLAlchemy ``text()`` nor
        ``exec_driver_sql``, which would read them as placeholders).
    fields:
        Metadata of the result columns, in order; ``fields[i].name`` is also the SQL
        name of column ``i``.
    tables:
        Published tables read by the query ('provenance.entity'), in order of appearance.
    top:
        The query's own ``TOP`` (``None`` without TOP, or when the query is a set
        operation).
    uploads:
        Names of the uploaded tables read (as given in ``uploads``).
    limit:
        Rows to deliver at most: ``min(TOP, MAXREC)``, ``None`` for no limit.
    """

    sql: str
    fields: list[Field]
    tables: list[str]
    top: int | None
    uploads: list[str] = field(default_factory=list)
    limit: int | None = None

    def overflow(self, rows: int) -> bool:
        """Whether ``rows`` received from :attr:`sql` mean MAXREC truncated the result."""
        return self.limit is not None and rows > self.limit


def translate(
    adql: str,
    catalog: Catalog,
    *,
    maxrec: int | None,
    uploads: Mapping[str, Sequence[Field]] | None = None,
    budget: QueryBudget | None = None,
) -> Translation:
    """Translate one ADQL 2.1 query into PostgreSQL.

    Parameters
    ----------
    adql:
        The query text (TAP ``QUERY``).
    catalog:
        Published tables (TAP_SCHEMA); its lookup tables are cached per object.
    maxrec:
        The service's row limit for this request (TAP ``MAXREC`` or its default),
        ``None`` for none. ``0`` asks for metadata only.
    uploads:
        Uploaded tables by name (TAP ``UPLOAD``), each with its columns. They are read
        as ``TAP_UPLOAD.<name>`` and must exist as temporary tables named
        :func:`~tap.adql.schema.upload_table_name` (``tap_upload_<name>``), with columns
        named exactly after the fields.
    budget:
        Limits on the query's length, tokens, JOINs and depth, each checked before the
        step it protects (:mod:`tap.adql.budget`); default: :class:`QueryBudget()`.

    Returns
    -------
    Translation
        ``sql`` returns at most ``limit + 1`` rows, where ``limit = min(TOP, maxrec)``:
        with TOP ≤ MAXREC the SQL says ``LIMIT top`` (no overflow possible); otherwise
        ``LIMIT maxrec + 1``, and receiving ``maxrec + 1`` rows means overflow.
        ``TOP 0`` gives ``LIMIT 0``; ``maxrec=0`` gives ``LIMIT 1`` (metadata, plus
        overflow detection). OFFSET is applied before the limit, as ADQL says.

    Raises
    ------
    ADQLError
        The query is not valid ADQL, uses something this service does not offer,
        or names an unknown table or column.
    """
    if maxrec is not None and maxrec < 0:
        raise ValueError("maxrec must be >= 0")
    try:
        return _translate(adql, catalog, maxrec, uploads or {}, budget or _BUDGET)
    except RecursionError:
        raise ADQLError("the query is nested too deeply") from None


def _translate(
    adql: str,
    catalog: Catalog,
    maxrec: int | None,
    uploads: Mapping[str, Sequence[Field]],
    budget: QueryBudget,
) -> Translation:
    index = catalog_index(catalog)
    upload_infos = {name: upload_info(name, fields) for name, fields in uploads.items()}

    budget.check_text(adql)
    tokens = tokenize(adql)
    budget.check_tokens(adql, tokens)
    tree = parse(adql, tokens)
    budget.check_tree(tree)
    check_tree(adql, tokens, tree)
    resolver = Resolver(adql, tokens, index, upload_infos)
    resolver.resolve(tree)

    top = _top(tree)
    _type_literals(tree)
    schema = _schema(index, resolver.by_sql)
    try:
        tree = qualify(
            tree,
            dialect=ADQL,
            schema=schema,
            validate_qualify_columns=False,
            identify=True,
        )
        annotate_types(tree, schema=schema, dialect=ADQL)
    except SqlglotError as err:  # pragma: no cover - names were resolved beforehand
        raise ADQLError(f"cannot resolve the query: {err}") from None

    check_types(adql, tree)
    root_scope = build_scope(tree)
    assert root_scope is not None
    check_grouping(adql, root_scope, resolver.by_sql)
    _mark_text_columns(root_scope, resolver.by_sql)
    fields = _Fields(resolver.by_sql).build(tree, root_scope)
    limit, sql_limit = _limits(top, maxrec)
    if sql_limit is not None:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(sql_limit)))
    sql = _DIALECT.generate(tree, copy=False, comments=False)
    _check_output(sql)
    return Translation(
        sql=sql,
        fields=fields,
        tables=list(resolver.tables),
        top=top,
        uploads=list(resolver.upload_names),
        limit=limit,
    )


# ----------------------------------------------------------------------------- output


def _check_output(sql: str) -> None:
    """Last line of defence: the SQL is one statement without comments.

    Outside string literals and quoted identifiers there must be no ``;``, ``--`` or
    ``/*``; whatever the tree held, nothing can end the statement or hide its rest.
    """
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"":
            escapes = (
                char == "'"
                and i > 0
                and sql[i - 1] in "eE"
                and (i == 1 or not (sql[i - 2].isalnum() or sql[i - 2] in '_"'))
            )
            j = i + 1
            while j < n:
                if escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == char:
                    if j + 1 < n and sql[j + 1] == char:
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise ADQLError("internal error: unbalanced quotes in the generated SQL")
            i = j + 1
            continue
        if char == ";" or sql.startswith(("--", "/*"), i):
            raise ADQLError(f"internal error: unsafe SQL generated near {sql[i : i + 10]!r}")
        i += 1


# ----------------------------------------------------------------------------- limits


def _top(tree: exp.Query) -> int | None:
    limit = tree.args.get("limit") if isinstance(tree, exp.Select) else None
    if limit is None:
        return None
    return int(limit.expression.this)


def _limits(top: int | None, maxrec: int | None) -> tuple[int | None, int | None]:
    """(rows to deliver at most, SQL LIMIT)."""
    if maxrec is None:
        return top, top
    if top is not None and top <= maxrec:
        return top, top
    return maxrec, maxrec + 1


# ----------------------------------------------------------------------------- types

_INT4 = 2**31 - 1
_INT8 = 2**63 - 1


def _type_literals(tree: exp.Expr) -> None:
    """Give numeric literals the types PostgreSQL gives them, as ADQL means them.

    ADQL's approximate numbers (``1.5``, ``1e3``) are double precision, whereas
    PostgreSQL reads them as ``numeric``: they are sent as ``CAST(1.5 AS DOUBLE
    PRECISION)``. Integers beyond int4 are bigint (or double beyond int8).
    """
    for literal in list(tree.find_all(exp.Literal)):
        if literal.is_string or isinstance(
            literal.parent, exp.Limit | exp.Offset | exp.Ordered | exp.DataTypeParam
        ):
            continue
        text = literal.this
        if any(c in text for c in ".eE") or int(text) > _INT8:
            target = exp.DType.DOUBLE
        elif int(text) > _INT4:
            target = exp.DType.BIGINT
        else:
            continue
        cast = exp.Cast(this=literal.copy(), to=exp.DataType.build(target))
        cast.meta["typed_literal"] = True  # still a literal for tap.adql.semantics
        literal.replace(cast)


_DATA_TYPES: dict[str, exp.DataType] = {}
_SCHEMA_CACHE_SIZE = 256


def _data_type(name: str) -> exp.DataType:
    data_type = _DATA_TYPES.get(name)
    if data_type is None:
        data_type = _DATA_TYPES[name] = exp.DataType.build(name, dialect="postgres")
    return data_type


def _schema(index: CatalogIndex, by_sql: Mapping[tuple[str, str], TableInfo]) -> MappingSchema:
    """A sqlglot schema of the relations a query reads (cached per catalog, no uploads)."""
    cache = index.mapping_schemas
    key = frozenset(by_sql)
    cacheable = not any(info.upload for info in by_sql.values())
    if cacheable and key in cache:
        return t.cast(MappingSchema, cache[key])
    mapping: dict[str, dict[str, dict[str, exp.DataType]]] = {}
    for info in by_sql.values():
        mapping.setdefault(info.sql_schema, {})[info.sql_name] = {
            column: _data_type(kind) for column, kind in info.types.items()
        }
    schema = MappingSchema(mapping, dialect=ADQL, normalize=False)
    if cacheable:
        if len(cache) >= _SCHEMA_CACHE_SIZE:
            cache.clear()
        cache[key] = schema
    return schema


_VOTABLE_TYPES: dict[exp.DType, tuple[str, str | None, str | None]] = {
    exp.DType.BOOLEAN: ("boolean", None, None),
    exp.DType.TINYINT: ("short", None, None),
    exp.DType.SMALLINT: ("short", None, None),
    exp.DType.INT: ("int", None, None),
    exp.DType.BIGINT: ("long", None, None),
    exp.DType.FLOAT: ("float", None, None),
    exp.DType.DOUBLE: ("double", None, None),
    exp.DType.DECIMAL: ("double", None, None),
    exp.DType.TIMESTAMP: ("char", "*", "timestamp"),
}
_NUMERIC_RANK = [
    exp.DType.SMALLINT,
    exp.DType.INT,
    exp.DType.BIGINT,
    exp.DType.FLOAT,
    exp.DType.DOUBLE,
]


def _votable_type(node: exp.Expr) -> tuple[str, str | None, str | None]:
    """VOTable (datatype, arraysize, xtype) of a computed column."""
    if isinstance(node, exp.Cast):
        to = node.args["to"]
        kind = to.this
        if kind in (exp.DType.CHAR, exp.DType.VARCHAR):
            params = to.expressions
            length = params[0].this.this if params else None
            if kind == exp.DType.CHAR:
                return "unicodeChar", str(length or 1), None
            return "unicodeChar", f"{length}*" if length else "*", None
    return _VOTABLE_TYPES.get(type_of(node), ("unicodeChar", "*", None))


# ----------------------------------------------------------------------------- fields

#: unit and UCD of the geometry functions' results
_GEO_FIELDS: dict[str, tuple[str | None, str | None]] = {
    "DISTANCE": ("deg", "pos.angDistance"),
    "COORD1": ("deg", None),
    "COORD2": ("deg", None),
}


def _unalias(node: exp.Expr) -> exp.Expr:
    return node.this if isinstance(node, exp.Alias) else node


def _leftmost(scope: Scope) -> Scope:
    while isinstance(scope.expression, exp.SetOperation) and scope.set_operation_scopes:
        scope = scope.set_operation_scopes[0]
    return scope


def _operand_selects(scope: Scope) -> list[exp.Select]:
    if isinstance(scope.expression, exp.SetOperation) and scope.set_operation_scopes:
        return [s for sub in scope.set_operation_scopes for s in _operand_selects(sub)]
    return [scope.expression] if isinstance(scope.expression, exp.Select) else []


def _is_merged_column(node: exp.Expr) -> bool:
    """COALESCE(a.x, b.x): how qualify writes a column merged by USING / NATURAL JOIN."""
    return (
        isinstance(node, exp.Coalesce)
        and isinstance(node.this, exp.Column)
        and all(isinstance(e, exp.Column) and e.name == node.this.name for e in node.expressions)
    )


class _Fields:
    """Result FIELDs of the root query, and the SQL names that go with them."""

    def __init__(self, by_sql: Mapping[tuple[str, str], TableInfo]) -> None:
        self.by_sql = by_sql

    def build(self, tree: exp.Query, root: Scope) -> list[Field]:
        scope = _leftmost(root)
        select = scope.expression
        assert isinstance(select, exp.Select)
        operands = _operand_selects(root)
        used: set[str] = set()
        fields: list[Field] = []
        renames: dict[str, str] = {}
        for position, projection in enumerate(select.expressions):
            node = _unalias(projection)
            origin = self.origin(node, scope)
            name = self.unique(self.base_name(projection, node, position), used)
            widest = self.widest(operands, position)
            if origin is not None:
                fields.append(
                    Field(
                        name=name,
                        datatype=widest or origin.datatype,
                        arraysize=origin.arraysize,
                        xtype=origin.xtype,
                        ucd=origin.ucd,
                        unit=origin.unit,
                        utype=origin.utype,
                        description=origin.description,
                    )
                )
            else:
                datatype, arraysize, xtype = self.computed_type(node, operands, position)
                unit = self.unit_of(node, scope)
                ucd = "meta.number" if isinstance(node, exp.Count) else None
                if isinstance(node, GeoFunction):
                    unit, ucd = _GEO_FIELDS.get(node.name, (None, None))
                fields.append(Field(name, datatype, arraysize, xtype, ucd=ucd, unit=unit))
            alias = exp.Identifier(this=name, quoted=True)
            if isinstance(projection, exp.Alias):
                if projection.alias != name:
                    renames.setdefault(projection.alias, name)
                projection.set("alias", alias)
            else:
                if isinstance(projection, exp.Subquery):
                    projection.set("alias", None)  # qualify names scalar subqueries so
                wrapper = exp.Alias(alias=alias)
                projection.replace(wrapper)
                wrapper.set("this", projection)
        if renames:
            # ORDER BY / GROUP BY may refer to output names (qualify writes "_col_0")
            for query in {id(select): select, id(tree): tree}.values():
                for key in ("order", "group", "having"):
                    clause = query.args.get(key)
                    if clause is None:
                        continue
                    for column in clause.find_all(exp.Column):
                        if not column.table and column.name in renames:
                            column.set(
                                "this", exp.Identifier(this=renames[column.name], quoted=True)
                            )
        return fields

    @staticmethod
    def unique(base: str, used: set[str]) -> str:
        name = base
        suffix = 2
        while name.lower() in used:
            name = f"{base}_{suffix}"
            suffix += 1
        used.add(name.lower())
        return name

    @staticmethod
    def base_name(projection: exp.Expr, node: exp.Expr, position: int) -> str:
        if isinstance(projection, exp.Alias):
            ident = projection.args["alias"]
            if ident.meta.get("user_alias") or isinstance(node, exp.Column):
                return projection.alias
            if _is_merged_column(node) and node.this.name == projection.alias:
                return projection.alias  # a column merged by USING / NATURAL JOIN
        elif isinstance(node, exp.Column):
            return node.name
        if isinstance(node, ADQLFunction | GeoFunction):
            return node.name.lower()
        if isinstance(node, exp.Func) and not isinstance(node, exp.Cast):
            return node.sql_name().lower()
        return f"expr_{position + 1}"

    def origin(self, node: exp.Expr, scope: Scope, depth: int = 0) -> Field | None:
        """The catalog (or upload) column a projection plainly shows, if any."""
        if depth > 32:
            return None
        if _is_merged_column(node) or (
            isinstance(node, exp.Min | exp.Max) and isinstance(node.this, exp.Column)
        ):
            return self.origin(node.this, scope, depth + 1)
        if not isinstance(node, exp.Column) or not node.table:
            return None
        source: exp.Table | Scope | None = None
        current: Scope | None = scope
        while current is not None and source is None:
            source = current.sources.get(node.table)
            current = current.parent
        if isinstance(source, exp.Table):
            info = self.by_sql.get((source.db, source.name))
            return info.fields.get(node.name) if info is not None else None
        if isinstance(source, Scope):
            inner = _leftmost(source)
            select = inner.expression
            if isinstance(select, exp.Select):
                for projection in select.expressions:
                    if projection.alias_or_name == node.name:
                        return self.origin(_unalias(projection), inner, depth + 1)
        return None

    def unit_of(self, node: exp.Expr, scope: Scope) -> str | None:
        if isinstance(node, exp.Sum | exp.Avg) and isinstance(node.this, exp.Column):
            origin = self.origin(node.this, scope)
            return origin.unit if origin is not None else None
        return None

    @staticmethod
    def widest(operands: list[exp.Select], position: int) -> str | None:
        """VOTable datatype of a numeric column of a set operation (PostgreSQL widens)."""
        if len(operands) < 2:
            return None
        kinds = [
            type_of(_unalias(select.expressions[position]))
            for select in operands
            if position < len(select.expressions)
        ]
        if not kinds or any(k not in _NUMERIC_RANK for k in kinds):
            return None
        return _VOTABLE_TYPES[max(kinds, key=_NUMERIC_RANK.index)][0]

    def computed_type(
        self, node: exp.Expr, operands: list[exp.Select], position: int
    ) -> tuple[str, str | None, str | None]:
        widest = self.widest(operands, position)
        if widest is not None:
            return widest, None, None
        return _votable_type(node)


# ----------------------------------------------------------------------------- text


def _mark_text_columns(root: Scope, by_sql: Mapping[tuple[str, str], TableInfo]) -> None:
    """Mark string columns of published tables to be sent as ``CAST(... AS TEXT)``.

    Some published columns are JSON documents served as text: the cast makes LIKE,
    ``||``, LOWER/UPPER work on them and returns them as strings. On real text columns
    PostgreSQL drops the no-op cast, so indexes still serve.
    """
    for scope in root.traverse():
        for column in scope.columns:
            if not column.table or column.meta.get("text_cast") is not None:
                continue
            source: exp.Table | Scope | None = None
            current: Scope | None = scope
            while current is not None and source is None:
                source = current.sources.get(column.table)
                current = current.parent
            mark = False
            if isinstance(source, exp.Table):
                info = by_sql.get((source.db, source.name))
                mark = info is not None and column.name in info.text_columns
            column.meta["text_cast"] = mark
