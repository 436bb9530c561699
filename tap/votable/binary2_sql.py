"""BINARY2 rows computed by PostgreSQL: the query wrapped so that each row comes back as
its BINARY2 bytes.

Encoding rows in Python costs 2-3 µs per row (a ``datetime`` to DALI text alone ~1.3 µs),
more than fetching them. PostgreSQL's send functions already write what BINARY2 wants:
``int8send`` is a big-endian ``long``, ``float8send`` a big-endian ``double``,
``textsend`` the UTF-8 bytes of a text. :func:`plan_binary2_sql` wraps the translated
query as ::

    SELECT <null flags> || <field 0> || <field 1> ... FROM (<query>) AS q(c0, c1, ...)

so that the server sends one ``bytea`` per row, the bytes of the row; Python only joins
them. The result must be fetched in binary format (``bytea`` as bytes).

What is encoded in SQL, by VOTable field and PostgreSQL result type (the same bytes as
:class:`~tap.votable.binary2.Binary2Rows`, which the tests check value by value):

* ``boolean`` ← ``bool``; ``short``/``int``/``long`` ← ``int2``/``int4``/``int8``
  (no narrowing); ``float`` ← ``float4``; ``double`` ← any integer, ``float8``,
  ``numeric``; nulls are 0, NaN or ``?`` with the null flag set;
* ``char`` ``*`` ← ``text``/``varchar``: a 4-byte count then the bytes; characters
  outside 7-bit ASCII become ``?`` (as in Python);
* ``char`` ``*`` timestamp ← ``timestamp``/``timestamptz`` (in UTC)/``date``: DALI text,
  ``YYYY-MM-DDThh:mm:ss[.SSS]``, the fraction truncated to milliseconds and left out
  when the value has none (needs ``DateStyle`` ISO, which the caller sets);
* ``unsignedByte`` ``*`` ← ``bytea``.

``unicodeChar`` text (UCS-2, which PostgreSQL cannot produce): PostgreSQL writes the
count, the text is passed through and encoded in Python between the SQL-made runs.
Any other combination makes :func:`plan_binary2_sql` return ``None``, and the caller
encodes rows in Python.
"""

from __future__ import annotations

import codecs
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from provdb.votable.fields import Field

from .binary2 import ucs2_bytes
from .db_kinds import DbKind, column_kinds, wrap_query

__all__ = ["SqlBinary2", "plan_binary2_sql"]

_SEND = {"int2": "int2send", "int4": "int4send", "int8": "int8send"}
_EMPTY = "'\\x00000000'::bytea"  # a variable array with no element
#: ASCII text of the timestamps PostgreSQL writes with DateStyle ISO for years 1-9999
_TS_RANGE = "BETWEEN '0001-01-01' AND '9999-12-31 23:59:59.999999'"


@dataclass(frozen=True)
class SqlBinary2:
    """A query rewritten to return BINARY2 bytes, and how to join its rows.

    Attributes
    ----------
    sql:
        The wrapped query. Its columns alternate ``bytea`` runs of encoded fields and the
        raw values of fields encoded in Python (``unicodeChar``); it starts with a run
        (the null flags at least) and ends with one unless a Python field ends the row.
    python_fields:
        How many fields are encoded in Python (0: each row is one ``bytea``).
    assemble:
        ``assemble(rows) -> bytes``: the BINARY2 bytes of a batch of fetched rows.
    """

    sql: str
    python_fields: int
    assemble: Callable[[Sequence[Sequence[Any]]], bytes]


def _bool(c: str) -> str:
    # 'T', 'F', and '?' for null
    return (
        f"CASE WHEN {c} THEN '\\x54'::bytea WHEN NOT {c} THEN '\\x46'::bytea"
        " ELSE '\\x3f'::bytea END"
    )


def _char_text(c: str) -> str:
    # ASCII (octet_length = length) goes through as it is; otherwise every non-ASCII
    # character becomes '?', so the count is the number of characters either way.
    return (
        f"CASE WHEN {c} IS NULL THEN {_EMPTY}"
        f" WHEN octet_length({c}) = length({c}) THEN int4send(octet_length({c})) || textsend({c})"
        f" ELSE int4send(length({c})) || textsend(regexp_replace({c}, '[^\\x01-\\x7f]', '?', 'g'))"
        " END"
    )


def _timestamp(c: str) -> str:
    # c::text with DateStyle ISO is 'YYYY-MM-DD hh:mm:ss[.f]' with trailing zeros of the
    # fraction dropped (one digit at least): pad with two zeros, keep three digits.
    # Outside years 1-9999 (and for +-infinity) the text is sent as PostgreSQL writes it.
    text = f"replace({c}::text, ' ', 'T')"
    return (
        f"CASE WHEN {c} IS NULL THEN {_EMPTY}"
        f" WHEN NOT ({c} {_TS_RANGE}) THEN int4send(octet_length({c}::text)) || textsend({c}::text)"
        f" WHEN {c} = date_trunc('second', {c}) THEN '\\x00000013'::bytea || textsend({text})"
        f" ELSE '\\x00000017'::bytea || textsend(left({text} || '00', 23))"
        " END"
    )


def _date(c: str) -> str:
    return (
        f"CASE WHEN {c} IS NULL THEN {_EMPTY}"
        f" WHEN {c} BETWEEN '0001-01-01' AND '9999-12-31'"
        f" THEN '\\x0000000a'::bytea || textsend({c}::text)"
        f" ELSE int4send(octet_length({c}::text)) || textsend({c}::text)"
        " END"
    )


def _field_sql(kind: DbKind, c: str) -> str:
    """SQL for the BINARY2 bytes of one field (null: the placeholder value)."""
    k = kind.kind
    if k == "bool":
        return _bool(c)
    if k in _SEND:
        return f"{_SEND[k]}(coalesce({c}::{k}, 0::{k}))"
    if k == "float8":
        return f"float8send(coalesce({c}::float8, 'NaN'))"
    if k == "float4":
        return f"float4send(coalesce({c}, 'NaN'))"
    if k == "bytea":
        return f"coalesce(int4send(octet_length({c})) || {c}, {_EMPTY})"
    if k == "timestamp":
        return _timestamp(c)
    if k == "timestamptz":
        return _timestamp(f"({c} AT TIME ZONE 'UTC')")
    if k == "date":
        return _date(c)
    if k == "char":
        return _char_text(c)
    raise ValueError(f"no SQL encoding for {kind}")


def _count_sql(kind: DbKind, c: str) -> str:
    """``unicodeChar`` text, which SQL cannot write (UCS-2): the element count.

    PostgreSQL writes the count (the number of characters: each one PostgreSQL can store
    is one UCS-2 unit once :func:`~tap.votable.binary2.ucs2_bytes` has replaced what UCS-2
    cannot hold) and passes the text through; Python writes the UCS-2 bytes.
    """
    count = f"coalesce(length({c}), 0)"
    if kind.bound is not None:
        count = f"least({count}, {kind.bound})"
    return f"int4send({count})"


def _null_flags(columns: Sequence[str]) -> str:
    """SQL bytes of the null flags: the first column is the top bit of the first byte."""
    parts = []
    for start in range(0, len(columns), 8):
        terms = " + ".join(
            f"(CASE WHEN {c} IS NULL THEN {0x80 >> k} ELSE 0 END)"
            for k, c in enumerate(columns[start : start + 8])
        )
        parts.append(f"set_byte('\\x00'::bytea, 0, {terms})")
    return " || ".join(parts)


@functools.lru_cache(maxsize=64)
def _assembler(
    bounds: tuple[int | None, ...], trailing: bool
) -> Callable[[Sequence[Sequence[Any]]], bytes]:
    """``assemble(rows)``: rows are ``(bytes, text, bytes, text, ..., [bytes])``, the last
    run of bytes only when ``trailing`` (no empty column when a text field ends the row).

    Generated for the number of Python fields so that a row costs one tuple unpacking and
    one ``extend``; plain printable ASCII (the common case) is encoded inline. Cached: a
    ``compile()`` costs ~1 ms, as much as a one-row query, and queries differing only by
    a literal share their shape.
    """
    if not bounds:

        def assemble_sql_only(rows: Sequence[Sequence[Any]]) -> bytes:
            return b"".join([row[0] for row in rows])

        return assemble_sql_only
    names = ["r0"]
    pieces = ["r0"]
    for k, bound in enumerate(bounds, start=1):
        v = f"v{k}"
        cut = "" if bound is None else f"[:{2 * bound}]"
        names.append(v)
        pieces.append(
            f"b'' if {v} is None else (_u16({v})[0] if {v}.isascii()"
            f" and {v}.isprintable() else _ucs2({v})){cut}"
        )
        if k < len(bounds) or trailing:
            names.append(f"r{k}")
            pieces.append(f"r{k}")
    source = "\n".join(
        [
            "def assemble(rows):",
            "    out = []",
            "    extend = out.extend",
            f"    for {', '.join(names)}, in rows:",
            f"        extend(({', '.join(pieces)},))",
            "    return b''.join(out)",
        ]
    )
    # codecs' encoder function directly: str.encode('utf-16-be') looks the codec up by
    # name on every call (~0.7 us, several times the encoding of a short path)
    namespace: dict[str, Any] = {"_ucs2": ucs2_bytes, "_u16": codecs.utf_16_be_encode}
    exec(compile(source, "<binary2_sql assembler>", "exec"), namespace)
    return namespace["assemble"]


@functools.lru_cache(maxsize=256)
def _plan(sql: str, fields: tuple[Field, ...], oids: tuple[int, ...]) -> SqlBinary2 | None:
    columns = column_kinds(fields, oids)
    if columns is None:
        return None
    runs: list[list[str]] = [[_null_flags([c for c, _ in columns])]]
    passed: list[str] = []
    bounds: list[int | None] = []
    for c, kind in columns:
        if kind.kind != "ucs2":
            runs[-1].append(_field_sql(kind, c))
            continue
        runs[-1].append(_count_sql(kind, c))
        passed.append(c)
        bounds.append(kind.bound)
        runs.append([])
    trailing = bool(runs[-1])
    if not trailing:
        runs.pop()
    select = []
    for i, run in enumerate(runs):
        select.append(" || ".join(run))
        if i < len(passed):
            select.append(passed[i])
    wrapped = wrap_query(sql, select, len(columns))
    return SqlBinary2(wrapped, len(bounds), _assembler(tuple(bounds), trailing))


def plan_binary2_sql(sql: str, fields: Sequence[Field], oids: Sequence[int]) -> SqlBinary2 | None:
    """The query ``sql`` rewritten to return its rows as BINARY2 bytes, or None.

    Parameters
    ----------
    sql:
        The PostgreSQL query (one SELECT, as the ADQL translator writes it).
    fields:
        Its result columns as VOTable fields, in order.
    oids:
        The PostgreSQL type OID of each result column (from describing the query).

    Returns
    -------
    SqlBinary2 | None
        None when a column's field/type pair is not one the module encodes (see the
        module docstring): the rows must then be encoded in Python.
    """
    return _plan(sql, tuple(fields), tuple(oids))
