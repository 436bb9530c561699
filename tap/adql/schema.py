"""What the translator needs from a Catalog (and from uploads), indexed once.

:func:`catalog_index` is cached per Catalog object: table lookup by qualified and by bare
name, column names in order, the SQL types sqlglot's type inference needs, and the
VOTable :class:`~provdb.votable.fields.Field` of every column.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provdb.votable.fields import Field
from tap.catalog import Catalog

__all__ = [
    "UPLOAD_SCHEMA",
    "CatalogIndex",
    "TableInfo",
    "catalog_index",
    "split_name",
    "sql_type",
    "upload_info",
    "upload_table_name",
]

#: ADQL schema name of uploaded tables (``TAP_UPLOAD.<name>``).
UPLOAD_SCHEMA = "tap_upload"
#: PostgreSQL schema of the temporary tables holding uploads.
UPLOAD_SQL_SCHEMA = "pg_temp"


def upload_table_name(name: str) -> str:
    """PostgreSQL name of the temporary table that holds upload ``name``.

    The caller creates it in the query's session, e.g. ``CREATE TEMP TABLE
    tap_upload_t1 ("RA" double precision, ...)`` (columns named exactly after the
    upload's FIELD names); the translated SQL reads it as
    ``"pg_temp"."tap_upload_t1"``.
    """
    return f"tap_upload_{name.lower()}"


def sql_type(datatype: str, arraysize: str | None = None, xtype: str | None = None) -> str:
    """sqlglot type name of a column, from its VOTable datatype, arraysize and xtype."""
    if xtype == "timestamp":
        return "TIMESTAMP"
    if datatype in ("char", "unicodeChar"):
        return "TEXT"
    if arraysize not in (None, "", "1"):
        return "UNKNOWN"
    return {
        "boolean": "BOOLEAN",
        "short": "SMALLINT",
        "int": "INT",
        "long": "BIGINT",
        "float": "FLOAT",
        "double": "DOUBLE",
        "unsignedByte": "SMALLINT",
    }.get(datatype, "UNKNOWN")


@dataclass(frozen=True)
class TableInfo:
    """A table a query may read: a published table or an upload."""

    schema: str  # ADQL schema: 'provenance', ..., or 'tap_upload'
    name: str  # bare ADQL name: 'entity', or the upload name
    display: str  # as shown in messages and Translation.tables: 'provenance.entity'
    sql_schema: str  # PostgreSQL schema of the relation
    sql_name: str  # PostgreSQL name of the relation
    columns: tuple[str, ...]
    fields: Mapping[str, Field]
    types: Mapping[str, str]
    #: string columns sent through CAST(... AS TEXT) (JSON documents are published as text)
    text_columns: frozenset[str] = frozenset()
    upload: bool = False
    #: primary key columns, for GROUP BY's functional dependency (PostgreSQL lets a
    #: grouped primary key stand for the other columns of its table): empty for views
    #: and uploads (no key), ``None`` when unknown (a table the models do not define)
    primary_key: frozenset[str] | None = frozenset()


@dataclass
class CatalogIndex:
    """Per-Catalog lookup tables (built once, read-only afterwards)."""

    by_qualified: dict[str, TableInfo] = field(default_factory=dict)
    by_bare: dict[str, list[TableInfo]] = field(default_factory=dict)
    schemas: set[str] = field(default_factory=set)
    #: sqlglot MappingSchemas by the set of relations a query reads (see translate)
    mapping_schemas: dict[frozenset[tuple[str, str]], Any] = field(default_factory=dict)

    def all_names(self) -> list[str]:
        return [t.display for t in self.by_qualified.values()]


def _field_of(column: object, name: str) -> Field:
    return Field(
        name=name,
        datatype=getattr(column, "datatype", None) or "unicodeChar",
        arraysize=getattr(column, "arraysize", None),
        xtype=getattr(column, "xtype", None),
        ucd=getattr(column, "ucd", None),
        unit=getattr(column, "unit", None),
        utype=getattr(column, "utype", None),
        description=getattr(column, "description", None),
    )


def split_name(name: str) -> list[str]:
    """Parts of a TAP_SCHEMA name, delimited parts unquoted: 'a."B c"' -> ['a', 'B c'].

    TAP 1.1 publishes names as queries must write them, so a reserved word is published
    delimited (TAP_SCHEMA.columns' own ``"size"``).
    """
    parts: list[str] = []
    i, n = 0, len(name)
    while i <= n:
        if i < n and name[i] == '"':
            j, chars = i + 1, []
            while j < n:
                if name[j] == '"':
                    if j + 1 < n and name[j + 1] == '"':
                        chars.append('"')
                        j += 2
                        continue
                    break
                chars.append(name[j])
                j += 1
            parts.append("".join(chars))
            i = j + 1
            if i < n and name[i] == ".":
                i += 1
            elif i >= n:
                break
        else:
            end = name.find(".", i)
            end = n if end < 0 else end
            parts.append(name[i:end])
            i = end + 1
            if end == n:
                break
    return parts


def _model_primary_keys() -> dict[tuple[str, str], frozenset[str]]:
    """(schema, table) -> primary key columns of every table the models define."""
    from provdb.schema.base import Base

    return {
        (table.schema or "public", table.name): frozenset(c.name for c in table.primary_key)
        for table in Base.metadata.tables.values()
        if table.primary_key is not None and len(table.primary_key.columns)
    }


def _build_index(catalog: Catalog) -> CatalogIndex:
    index = CatalogIndex()
    keys = _model_primary_keys()
    for table in catalog.tables:
        parts = split_name(table.name)
        bare = parts[-1]
        schema = parts[-2] if len(parts) > 1 else split_name(table.schema)[-1]
        columns = [(split_name(c.name)[-1], c) for c in table.columns]
        info = TableInfo(
            schema=schema,
            name=bare,
            display=table.name,
            sql_schema=schema,
            sql_name=bare,
            columns=tuple(name for name, _ in columns),
            fields={name: _field_of(c, name) for name, c in columns},
            types={name: sql_type(c.datatype, c.arraysize, c.xtype) for name, c in columns},
            text_columns=frozenset(
                name for name, c in columns if c.datatype in ("char", "unicodeChar") and not c.xtype
            ),
            primary_key=frozenset() if table.type == "view" else keys.get((schema, bare)),
        )
        index.by_qualified[f"{schema}.{bare}".lower()] = info
        index.by_bare.setdefault(bare.lower(), []).append(info)
        index.schemas.add(schema.lower())
    return index


_CACHE: dict[int, tuple[weakref.ref[Catalog], CatalogIndex]] = {}
_LOCK = threading.Lock()


def catalog_index(catalog: Catalog) -> CatalogIndex:
    """The index of ``catalog``, built on first use and cached while it lives."""
    key = id(catalog)
    entry = _CACHE.get(key)
    if entry is not None and entry[0]() is catalog:
        return entry[1]
    index = _build_index(catalog)
    with _LOCK:
        _CACHE[key] = (weakref.ref(catalog, _forget), index)
    return index


def _forget(ref: weakref.ref[Catalog]) -> None:
    with _LOCK:
        for key, (cached, _) in list(_CACHE.items()):
            if cached is ref:
                del _CACHE[key]


def upload_info(name: str, fields: Sequence[Field]) -> TableInfo:
    """TableInfo of upload ``name`` whose columns are ``fields``."""
    return TableInfo(
        schema=UPLOAD_SCHEMA,
        name=name,
        display=f"TAP_UPLOAD.{name}",
        sql_schema=UPLOAD_SQL_SCHEMA,
        sql_name=upload_table_name(name),
        columns=tuple(f.name for f in fields),
        fields={f.name: f for f in fields},
        types={f.name: sql_type(f.datatype, f.arraysize, f.xtype) for f in fields},
        upload=True,
    )
