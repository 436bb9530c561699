"""Name resolution: every table and column of a query, against TAP_SCHEMA and uploads.

:class:`Resolver` walks the parsed tree scope by scope (FROM items, joins, subqueries,
WITH) before sqlglot's ``qualify`` runs, so that every unknown or ambiguous name is
reported precisely, with its position and a suggestion. It also rewrites the tree:

* tables become their PostgreSQL names with an explicit alias (``provenance.entity`` →
  ``"provenance"."entity" AS "entity"``, ``TAP_UPLOAD.t1`` →
  ``"pg_temp"."tap_upload_t1" AS "t1"``);
* every name becomes a delimited identifier with the exact spelling of what it refers to.
  ADQL's case rules apply: a regular (unquoted) name matches case-insensitively, a
  delimited one exactly; aliases written as regular names are folded to lower case.

Reserved words are not refused for table names (``archive.processing_session``): tables are looked
up in TAP_SCHEMA, whatever they are called.
"""

from __future__ import annotations

import difflib
import typing as t
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.tokens import Token

from tap.adql.errors import ADQLError, position
from tap.adql.schema import UPLOAD_SCHEMA, CatalogIndex, TableInfo

__all__ = ["Resolver"]


def _matches(ident: exp.Identifier, name: str) -> bool:
    """Whether identifier ``ident`` (as written) designates ``name`` (actual spelling)."""
    if ident.quoted:
        return ident.this == name
    return ident.this.lower() == name.lower()


def _set_exact(ident: exp.Identifier, name: str) -> None:
    ident.set("this", name)
    ident.set("quoted", True)


def _normalized(ident: exp.Identifier) -> str:
    """Spelling of a newly defined name (alias, CTE): regular names fold to lower case."""
    return ident.this if ident.quoted else ident.this.lower()


def _suggestion(word: str, candidates: t.Iterable[str]) -> str | None:
    pool = {c.lower(): c for c in candidates if c}
    found = difflib.get_close_matches(word.lower(), list(pool), n=1, cutoff=0.6)
    return f"did you mean '{pool[found[0]]}'?" if found else None


@dataclass
class _Source:
    """A FROM item as seen by column references."""

    alias: str
    columns: list[str]
    display: str
    info: TableInfo | None = None
    explicit_alias: bool = False


@dataclass
class _Env:
    """The FROM clause of one SELECT."""

    sources: list[_Source] = field(default_factory=list)
    #: columns merged by USING / NATURAL: name -> aliases of the sources sharing it
    merged: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class _Cte:
    name: str
    columns: list[str]


class Resolver:
    """Resolve and rewrite the names of one query (see the module docstring)."""

    def __init__(
        self,
        adql: str,
        tokens: list[Token],
        index: CatalogIndex,
        uploads: t.Mapping[str, TableInfo],
    ) -> None:
        self.adql = adql
        self.tokens = tokens
        self.index = index
        self.uploads = uploads
        #: catalog tables read, in order of appearance ('provenance.entity')
        self.tables: list[str] = []
        #: upload names read, in order of appearance
        self.upload_names: list[str] = []
        #: (sql schema, sql name) -> TableInfo of every relation read
        self.by_sql: dict[tuple[str, str], TableInfo] = {}

    # errors ----------------------------------------------------------------

    def fail(
        self,
        message: str,
        node: exp.Expr | None = None,
        hint: str | None = None,
        keyword: str | None = None,
    ) -> t.NoReturn:
        offset = None
        if keyword:
            offset = next((tk.start for tk in self.tokens if tk.text.upper() == keyword), None)
        if offset is None and node is not None:
            for sub in node.walk():
                if sub._meta and sub.meta.get("start") is not None:
                    offset = int(sub.meta["start"])
                    break
        if offset is None:
            raise ADQLError(message, hint=hint)
        line, column = position(self.adql, offset)
        raise ADQLError(message, line, column, hint)

    # entry -----------------------------------------------------------------

    def resolve(self, tree: exp.Query) -> None:
        ctes: dict[str, _Cte] = {}
        with_ = tree.args.get("with_")
        if with_ is not None:
            for cte in with_.expressions:
                ident = cte.args["alias"].this
                name = _normalized(ident)
                if name in ctes:
                    self.fail(f"WITH defines '{name}' twice", ident)
                _set_exact(ident, name)
                columns = self.query(cte.this, [], dict(ctes))
                ctes[name] = _Cte(name, [c for c in columns if c])
        self.query(tree, [], ctes)

    # queries ---------------------------------------------------------------

    def query(self, node: exp.Expr, outer: list[_Env], ctes: dict[str, _Cte]) -> list[str]:
        """Resolve a query; return its output column names ('' for unnamed ones)."""
        if isinstance(node, exp.Subquery):
            return self.query(node.this, outer, ctes)
        if isinstance(node, exp.SetOperation):
            left = self.query(node.this, outer, ctes)
            self.query(node.expression, outer, ctes)
            order = node.args.get("order")
            if order is not None:
                for column in order.find_all(exp.Column):
                    self.output_reference(column, left, node.key.upper())
            return left
        if isinstance(node, exp.Select):
            return self.select(node, outer, ctes)
        self.fail(f"unsupported query: {node.key.upper()}", node)

    def output_reference(self, column: exp.Column, names: list[str], what: str) -> None:
        ident = column.this
        if column.args.get("table") is not None or not isinstance(ident, exp.Identifier):
            self.fail(f"ORDER BY of a {what} takes output column names or positions", column)
        hits = [n for n in names if n and _matches(ident, n)]
        if not hits:
            self.fail(
                f"unknown column '{ident.this}' in the result of the {what}",
                ident,
                _suggestion(ident.this, names),
            )
        _set_exact(ident, hits[0])

    def select(self, node: exp.Select, outer: list[_Env], ctes: dict[str, _Cte]) -> list[str]:
        from_ = node.args.get("from_")
        if from_ is None:
            self.fail("FROM is required in ADQL", node)
        env = _Env()
        self.from_item(from_.this, env, outer, ctes)
        for join in node.args.get("joins") or []:
            self.join(join, env, outer, ctes)

        for item in node.expressions:
            self.expression(item, env, outer, ctes, None)
            if isinstance(item, exp.Alias):
                ident = item.args["alias"]
                _set_exact(ident, _normalized(ident))
                ident.meta["user_alias"] = True
        outputs = self.outputs(node, env)
        if node.args.get("where") is not None:
            self.expression(node.args["where"], env, outer, ctes, None)
        for key in ("group", "having", "order"):
            if node.args.get(key) is not None:
                self.expression(node.args[key], env, outer, ctes, outputs)
        return outputs

    def outputs(self, node: exp.Select, env: _Env) -> list[str]:
        names: list[str] = []
        for item in node.expressions:
            if isinstance(item, exp.Star):
                seen: set[str] = set()
                for source in env.sources:
                    for column in source.columns:
                        if column in env.merged and column in seen:
                            continue
                        seen.add(column)
                        names.append(column)
            elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                alias = item.args["table"].this
                star_source = next((s for s in env.sources if s.alias == alias), None)
                names.extend(star_source.columns if star_source is not None else [])
            elif isinstance(item, exp.Alias):
                names.append(item.alias)
            elif isinstance(item, exp.Column):
                names.append(item.name)
            else:
                names.append("")
        return names

    # FROM ------------------------------------------------------------------

    def add_source(self, env: _Env, source: _Source, node: exp.Expr) -> None:
        for other in env.sources:
            if other.alias == source.alias:
                self.fail(
                    f"'{source.alias}' names two tables of the same FROM",
                    node,
                    "give each table its own alias",
                )
        env.sources.append(source)

    def from_item(
        self, item: exp.Expr, env: _Env, outer: list[_Env], ctes: dict[str, _Cte]
    ) -> None:
        if isinstance(item, exp.Table):
            self.table(item, env, ctes)
            for join in item.args.get("joins") or []:
                self.join(join, env, outer, ctes)
            return
        if isinstance(item, exp.Subquery):
            inner = item.this
            if isinstance(inner, exp.Table) and not item.alias:  # parenthesised joins
                self.from_item(inner, env, outer, ctes)
                return
            alias = item.args.get("alias")
            if alias is None or alias.this is None:
                self.fail("a subquery in FROM needs an alias", item, "write (SELECT ...) AS name")
            ident = alias.this
            name = _normalized(ident)
            _set_exact(ident, name)
            columns = self.query(inner, outer, ctes)
            self.add_source(
                env, _Source(name, [c for c in columns if c], name, explicit_alias=True), ident
            )
            return
        self.fail(f"unsupported FROM item: {item.key.upper()}", item)

    def table(self, node: exp.Table, env: _Env, ctes: dict[str, _Cte]) -> None:
        name_ident = node.this
        db_ident = node.args.get("db")
        written = ".".join(
            p.this for p in (node.args.get("catalog"), db_ident, name_ident) if p is not None
        )
        if node.args.get("catalog") is not None or not isinstance(name_ident, exp.Identifier):
            self.fail(f"unknown table '{written}'", node, self.table_hint(written))

        alias_node = node.args.get("alias")
        explicit = alias_node is not None and alias_node.this is not None

        if db_ident is None:
            cte = next((c for c in ctes.values() if _matches(name_ident, c.name)), None)
            if cte is not None:
                _set_exact(name_ident, cte.name)
                alias = _normalized(alias_node.this) if explicit else cte.name
                self.set_alias(node, alias)
                self.add_source(
                    env,
                    _Source(alias, list(cte.columns), cte.name, None, explicit),
                    alias_node.this if explicit else node,
                )
                return

        info = self.lookup(node, name_ident, db_ident, written)
        node.set("catalog", None)
        node.set("db", exp.Identifier(this=info.sql_schema, quoted=True))
        _set_exact(name_ident, info.sql_name)
        alias = _normalized(alias_node.this) if explicit else info.name
        self.set_alias(node, alias)
        self.by_sql[(info.sql_schema, info.sql_name)] = info
        if info.upload:
            if info.name not in self.upload_names:
                self.upload_names.append(info.name)
        elif info.display not in self.tables:
            self.tables.append(info.display)
        self.add_source(
            env,
            _Source(alias, list(info.columns), info.display, info, explicit),
            alias_node.this if explicit else node,
        )

    def set_alias(self, node: exp.Table, alias: str) -> None:
        alias_node = node.args.get("alias")
        if alias_node is not None and alias_node.this is not None:
            _set_exact(alias_node.this, alias)
        else:
            node.set("alias", exp.TableAlias(this=exp.Identifier(this=alias, quoted=True)))

    def table_hint(self, written: str) -> str | None:
        names = self.index.all_names()
        if "." not in written:
            return _suggestion(written, [*self.index.by_bare, *names])
        hint = _suggestion(written, names)
        if hint is None and "." in written:
            bare = written.rsplit(".", 1)[1]
            hint = _suggestion(bare, [n.rsplit(".", 1)[-1] for n in names])
            if hint is not None:
                found = hint.split("'")[1]
                hint = _suggestion(found, names) or hint
        return hint

    def lookup(
        self,
        node: exp.Table,
        name: exp.Identifier,
        db: exp.Identifier | None,
        written: str,
    ) -> TableInfo:
        if db is None:
            found = [
                i for i in self.index.by_bare.get(name.this.lower(), []) if _matches(name, i.name)
            ]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                self.fail(
                    f"table name '{written}' is ambiguous: "
                    + ", ".join(sorted(i.display for i in found)),
                    node,
                    "qualify it with its schema",
                )
            upload = self.upload(name)
            if upload is not None:
                self.fail(
                    f"unknown table '{written}'", node, f"uploads are read as TAP_UPLOAD.{written}"
                )
            self.fail(f"unknown table '{written}'", node, self.table_hint(written))
        if _matches(db, UPLOAD_SCHEMA):
            upload = self.upload(name)
            if upload is None:
                available = ", ".join(
                    f"TAP_UPLOAD.{n}" for n in sorted(i.name for i in self.uploads.values())
                )
                self.fail(
                    f"unknown upload table '{written}'",
                    node,
                    f"uploaded tables: {available}" if available else "no table was uploaded",
                )
            return upload
        info = self.index.by_qualified.get(f"{db.this}.{name.this}".lower())
        if info is None or not (_matches(db, info.schema) and _matches(name, info.name)):
            self.fail(f"unknown table '{written}'", node, self.table_hint(written))
        return info

    def upload(self, name: exp.Identifier) -> TableInfo | None:
        for info in self.uploads.values():
            if _matches(name, info.name):
                return info
        return None

    def join(self, join: exp.Join, env: _Env, outer: list[_Env], ctes: dict[str, _Cte]) -> None:
        left = list(env.sources)
        self.from_item(join.this, env, outer, ctes)
        right = env.sources[len(left) :]
        if join.args.get("on") is not None:
            self.expression(join.args["on"], env, outer, ctes, None)
        for ident in join.args.get("using") or []:
            if not isinstance(ident, exp.Identifier):
                self.fail("USING takes column names", join)
            on_right = [(s, n) for s in right for n in s.columns if _matches(ident, n)]
            on_left = [(s, n) for s in left for n in s.columns if _matches(ident, n)]
            if not on_right or not on_left:
                self.fail(
                    f"column '{ident.this}' of USING is not in the tables on both sides",
                    ident,
                )
            name = on_right[0][1]
            _set_exact(ident, name)
            env.merged.setdefault(name, set()).update(s.alias for s, _ in on_left + on_right)
        if (join.args.get("method") or "").upper() == "NATURAL":
            for source in right:
                for name in source.columns:
                    sharing = [s.alias for s in left if name in s.columns]
                    if sharing:
                        env.merged.setdefault(name, set()).update([*sharing, source.alias])

    # expressions -----------------------------------------------------------

    def expression(
        self,
        node: exp.Expr,
        env: _Env,
        outer: list[_Env],
        ctes: dict[str, _Cte],
        outputs: list[str] | None,
    ) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, exp.Query):
                self.query(current, [env, *outer], ctes)
                continue
            if isinstance(current, exp.Subquery):
                self.query(current.this, [env, *outer], ctes)
                continue
            if isinstance(current, exp.Column):
                self.column(current, env, outer, outputs)
                continue
            stack.extend(current.iter_expressions(reverse=True))

    def column(
        self, column: exp.Column, env: _Env, outer: list[_Env], outputs: list[str] | None
    ) -> None:
        ident = column.this
        table = column.args.get("table")
        levels = [env, *outer]
        if table is not None:
            source = self.source(column, levels)
            column.set("db", None)
            _set_exact(table, source.alias)
            if isinstance(ident, exp.Star):
                return
            hits = [n for n in source.columns if _matches(ident, n)]
            if not hits:
                self.fail(
                    f"unknown column '{ident.this}' in {source.display}",
                    ident,
                    _suggestion(ident.this, source.columns),
                )
            if len(hits) > 1:
                self.fail(
                    f"column '{ident.this}' is ambiguous in {source.display}",
                    ident,
                    "write it as a delimited identifier with its exact case",
                )
            _set_exact(ident, hits[0])
            return

        for depth, level in enumerate(levels):
            hits = [(s, n) for s in level.sources for n in s.columns if _matches(ident, n)]
            if depth == 0 and not hits and outputs:
                named = [n for n in outputs if n and _matches(ident, n)]
                if named:
                    _set_exact(ident, named[0])
                    return
            if not hits:
                continue
            names = {n for _, n in hits}
            aliases = {s.alias for s, _ in hits}
            if len(hits) > 1 and not (
                len(names) == 1 and aliases <= level.merged.get(next(iter(names)), set())
            ):
                self.fail(
                    f"column '{ident.this}' is ambiguous",
                    ident,
                    "qualify it: " + " or ".join(f"{s.alias}.{n}" for s, n in hits),
                )
            _set_exact(ident, hits[0][1])
            return

        where = ", ".join(s.display for s in env.sources)
        candidates = [n for s in env.sources for n in s.columns] + [n for n in outputs or [] if n]
        self.fail(
            f"unknown column '{ident.this}' in {where}",
            ident,
            _suggestion(ident.this, candidates),
        )

    def source(self, column: exp.Column, levels: list[_Env]) -> _Source:
        table = column.args["table"]
        db = column.args.get("db")
        if column.args.get("catalog") is not None:
            self.fail(f"unknown table '{column.sql()}'", column)
        for level in levels:
            for source in level.sources:
                if db is not None:
                    info = source.info
                    if (
                        info is not None
                        and not source.explicit_alias
                        and _matches(db, info.schema)
                        and _matches(table, info.name)
                    ):
                        return source
                elif _matches(table, source.alias):
                    return source
        written = f"{db.this}.{table.this}" if db is not None else table.this
        known = [s.alias for level in levels for s in level.sources]
        hint = _suggestion(table.this, known)
        if db is not None and hint is None:
            hint = "a table with an alias must be referred to by its alias"
        self.fail(f"unknown table or alias '{written}'", table, hint)
