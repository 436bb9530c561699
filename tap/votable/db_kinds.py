"""Which result columns PostgreSQL can help write as BINARY2: one decision for both
database-side writers (:mod:`.binary2_sql` and :mod:`.binary2_copy`).

A column is described by its VOTable field (from the ADQL translation) and the type OID
PostgreSQL gives its result. :func:`db_kind` names how the pair is encoded, or returns
None when only the Python writer (:mod:`.binary2`) knows what to do with it: narrowing
integers (Python decides what an out-of-range value does), ``float4`` into a ``double``
field (Python reads it from its shortest text, ``0.1`` -> 0.1, where a cast gives
0.10000000149011612), fixed-size arrays, jsonb, uuid, arrays...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from provdb.votable.fields import Field
from provdb.votable.values import arraysize_info

__all__ = ["PG_TYPES", "DbKind", "column_kinds", "db_kind", "wrap_query"]

#: Built-in PostgreSQL type OIDs (fixed in ``pg_type.dat``) the database-side writers know.
PG_TYPES: dict[int, str] = {
    16: "bool",
    17: "bytea",
    20: "int8",
    21: "int2",
    23: "int4",
    25: "text",
    700: "float4",
    701: "float8",
    1043: "varchar",
    1082: "date",
    1114: "timestamp",
    1184: "timestamptz",
    1700: "numeric",
}

_INT_TARGET = {"short": "int2", "int": "int4", "long": "int8"}
_INT_WIDTH = {"int2": 2, "int4": 4, "int8": 8}
_TEXT = ("text", "varchar")


@dataclass(frozen=True)
class DbKind:
    """How one result column becomes BINARY2.

    Attributes
    ----------
    kind:
        ``bool``; ``int2``/``int4``/``int8`` (the field's width; the value is cast to it,
        never narrowed); ``float4``; ``float8`` (a ``double`` field, the value cast);
        ``bytea``; ``char`` (text as ASCII); ``ucs2`` (text as ``unicodeChar``);
        ``timestamp``/``timestamptz``/``date`` (DALI text of a ``char`` timestamp field).
    pgtype:
        The column's PostgreSQL type name (see PG_TYPES).
    bound:
        ``ucs2`` only: the most characters an ``n*`` field keeps, None for ``*``.
    """

    kind: str
    pgtype: str
    bound: int | None = None


#: xtypes of char columns whose value is stored and written as plain text
_TEXT_XTYPES = (None, "adql:REGION")


def db_kind(field: Field, oid: int) -> DbKind | None:
    """How the result column (``field``, type ``oid``) is written by PostgreSQL's help, or
    None when the Python writer must encode it."""
    pgtype = PG_TYPES.get(oid)
    if pgtype is None:
        return None
    dt = field.datatype
    size = arraysize_info(field.arraysize)
    if not size.is_array:
        if dt == "boolean" and pgtype == "bool":
            return DbKind("bool", pgtype)
        if dt in _INT_TARGET and pgtype in _INT_WIDTH:
            target = _INT_TARGET[dt]
            if _INT_WIDTH[pgtype] > _INT_WIDTH[target]:
                return None
            return DbKind(target, pgtype)
        if dt == "double" and (pgtype in _INT_WIDTH or pgtype in ("float8", "numeric")):
            return DbKind("float8", pgtype)
        if dt == "float" and pgtype == "float4":
            return DbKind("float4", pgtype)
        return None
    if size.fixed is not None:
        return None
    if dt == "unicodeChar" and pgtype in _TEXT:
        return DbKind("ucs2", pgtype, size.bound)
    if size.bound is not None:
        return None
    if dt == "unsignedByte" and pgtype == "bytea":
        return DbKind("bytea", pgtype)
    if dt == "char" and field.xtype == "timestamp":
        if pgtype in ("timestamp", "timestamptz", "date"):
            return DbKind(pgtype, pgtype)
        return None
    # a text xtype (ObsCore's s_region, adql:REGION) is written as the text it is
    if dt == "char" and field.xtype in _TEXT_XTYPES and pgtype in _TEXT:
        return DbKind("char", pgtype)
    return None


def column_kinds(fields: Sequence[Field], oids: Sequence[int]) -> list[tuple[str, DbKind]] | None:
    """Each result column's name in :func:`wrap_query` (``c0``, ``c1`` ...) and its kind,
    or None when one has none (or ``fields`` and ``oids`` do not match)."""
    if not fields or len(fields) != len(oids):
        return None
    columns = []
    for i, (field, oid) in enumerate(zip(fields, oids, strict=True)):
        kind = db_kind(field, oid)
        if kind is None:
            return None
        columns.append((f"c{i}", kind))
    return columns


def wrap_query(sql: str, selects: Sequence[str], ncolumns: int) -> str:
    """``SELECT <selects> FROM (<sql>) AS q(c0, c1, ...)``: the query's ``ncolumns``
    result columns renamed ``c0``, ``c1``... (their own names may repeat or need quoting)
    for the ``selects`` expressions to read."""
    names = ", ".join(f"c{i}" for i in range(ncolumns))
    return f"SELECT {', '.join(selects)} FROM (\n{sql}\n) AS q({names})"
