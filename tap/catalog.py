"""The Catalog: TAP_SCHEMA loaded once into immutable objects for ADQL and VOSI.

Built from TAP_SCHEMA rows — read from the database by :func:`load_catalog`, or derived
straight from the models by :func:`catalog_from_metadata` (tests, benchmarks). Lookups
are case-insensitive for regular identifiers, as ADQL requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Catalog", "Column", "ForeignKey", "Table", "catalog_from_metadata", "load_catalog"]


@dataclass(frozen=True)
class Column:
    """A published column with its VOTable and VO metadata (a TAP_SCHEMA.columns row)."""

    name: str
    datatype: str
    arraysize: str | None = None
    xtype: str | None = None
    description: str | None = None
    utype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    indexed: bool = False
    principal: bool = False
    std: bool = False
    index: int = 0


@dataclass(frozen=True)
class ForeignKey:
    key_id: str
    from_table: str
    target_table: str
    columns: tuple[tuple[str, str], ...]  # (from_column, target_column)
    description: str | None = None
    utype: str | None = None


@dataclass(frozen=True)
class Table:
    """A published table or view (TAP_SCHEMA.tables row plus its columns and keys)."""

    schema: str
    name: str  # qualified, as used in queries: 'provenance.entity'
    type: str  # 'table' | 'view'
    description: str | None
    utype: str | None
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    index: int = 0

    @property
    def bare_name(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name else self.name

    def column(self, name: str) -> Column | None:
        """Column by name (exact first, then case-insensitive)."""
        for c in self.columns:
            if c.name == name:
                return c
        lower = name.lower()
        for c in self.columns:
            if c.name.lower() == lower:
                return c
        return None


@dataclass(frozen=True)
class Catalog:
    """Every published schema and table."""

    schemas: tuple[dict[str, Any], ...]
    tables: tuple[Table, ...]
    _by_name: Mapping[str, Table] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_rows(cls, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> Catalog:
        """Build from TAP_SCHEMA rows: ``{'schemas': [...], 'tables': [...], ...}``."""
        cols: dict[str, list[Column]] = {}
        for r in rows["columns"]:
            cols.setdefault(r["table_name"], []).append(
                Column(
                    name=r["column_name"],
                    datatype=r["datatype"],
                    arraysize=r.get("arraysize"),
                    xtype=r.get("xtype"),
                    description=r.get("description"),
                    utype=r.get("utype"),
                    unit=r.get("unit"),
                    ucd=r.get("ucd"),
                    indexed=bool(r.get("indexed")),
                    principal=bool(r.get("principal")),
                    std=bool(r.get("std")),
                    index=r.get("column_index") or 0,
                )
            )
        key_cols: dict[str, list[tuple[str, str]]] = {}
        for r in rows["key_columns"]:
            key_cols.setdefault(r["key_id"], []).append((r["from_column"], r["target_column"]))
        fks: dict[str, list[ForeignKey]] = {}
        for r in rows["keys"]:
            fks.setdefault(r["from_table"], []).append(
                ForeignKey(
                    r["key_id"],
                    r["from_table"],
                    r["target_table"],
                    tuple(key_cols.get(r["key_id"], ())),
                    r.get("description"),
                    r.get("utype"),
                )
            )
        tables = tuple(
            Table(
                schema=r["schema_name"],
                name=r["table_name"],
                type=r["table_type"],
                description=r.get("description"),
                utype=r.get("utype"),
                columns=tuple(sorted(cols.get(r["table_name"], []), key=lambda c: c.index)),
                foreign_keys=tuple(fks.get(r["table_name"], ())),
                index=r.get("table_index") or 0,
            )
            for r in sorted(rows["tables"], key=lambda r: r.get("table_index") or 0)
        )
        by_name = {t.name.lower(): t for t in tables}
        return cls(schemas=tuple(dict(s) for s in rows["schemas"]), tables=tables, _by_name=by_name)

    def table(self, name: str) -> Table | None:
        """Table by qualified name ('provenance.entity'), case-insensitively."""
        return self._by_name.get(name.lower())

    def find(self, schema: str | None, name: str) -> list[Table]:
        """Tables matching an unquoted [schema.]name, case-insensitively."""
        if schema:
            t = self.table(f"{schema}.{name}")
            return [t] if t else []
        lower = name.lower()
        return [t for t in self.tables if t.bare_name.lower() == lower]


def catalog_from_metadata() -> Catalog:
    """The Catalog the current models publish (no database needed)."""
    from provdb.schema.tap_schema import tap_schema_rows

    return Catalog.from_rows(tap_schema_rows())


def load_catalog(connection: Any) -> Catalog:
    """Read TAP_SCHEMA from the database (SQLAlchemy connection)."""
    import sqlalchemy as sa

    rows = {}
    for name in ("schemas", "tables", "columns", "keys", "key_columns"):
        result = connection.execute(sa.text(f"SELECT * FROM tap_schema.{name}"))
        rows[name] = [dict(r._mapping) for r in result]
    return Catalog.from_rows(rows)
