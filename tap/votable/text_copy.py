"""CSV, TSV and JSON rows written by PostgreSQL's ``COPY ... TO STDOUT``: the fast path.

PostgreSQL writes CSV (``FORMAT csv``) and tab-separated text (``FORMAT text``) itself,
at the speed of its own output; a Python writer formatting the same rows value by value
took ~7x longer. :func:`plan_text_copy` wraps the translated query in a COPY whose rows
are **byte for byte** what :mod:`.textformats` writes (the tests compare both on a real
server), or declines (None) when a column is one whose text only Python writes the
same way (floats, arrays, JSON values, numeric, uuid ...): the Python writer then runs.

PostgreSQL sends one COPY message per row (:func:`tap.query.execute.stream_rows` hands
a batch over as the list of those messages). What is left to do in Python is one pass
over each batch's bytes:

* **CSV**: COPY ends rows with LF, RFC 4180 (and the Python writer) with CRLF. A LF in
  the data is either a row end or inside a quoted value; quotes come in pairs, so the
  LFs outside quotes are the row ends. Text columns are written ``NULLIF(c, '')`` so
  that an empty text is an empty field as before (COPY would write ``""``), and a
  one-column row that is empty (NULL) gets ``""``, as Python's csv writes it (an empty
  line would be skipped by readers);
* **TSV**: nothing: ``FORMAT text`` with ``NULL ''`` escapes ``\\``, TAB, LF, CR, BS, FF
  and VT exactly as :class:`~.textformats.TsvEncoder` does;
* **JSON**: each row is one text value ``[v0, v1, ...]`` written by ``json_build_array``
  (the escapes and separators of Python's ``json``); ``FORMAT text`` doubles every backslash of it,
  undone by one ``replace``. JSON text holds no raw LF (it is escaped), so every LF is a
  row end: it becomes ``,\\n``.

**Compiled** (``_textcopy.c``, built by hatch_build.py; optional): the query runs as a
plain ``COPY ... (FORMAT text)`` of its columns, the cheapest output PostgreSQL has (the
psql floor), and one C call per batch writes CSV, TSV or JSON from those rows with the
column kinds known from the result types (:func:`compiled_kind`): no ``json_build_array``
nor timestamp expressions per value in the database, and ``jsonb`` and ``float8`` columns
too (their text as Python writes it: compact JSON, ``repr``). Without the module, the
plans above (PostgreSQL writing each format) run, with the same bytes.

Timestamps are the DALI text of :func:`~provdb.votable.values.format_timestamp` (the
expression :mod:`.binary2_sql` uses); outside years 1-9999 and for the infinities they
are written as PostgreSQL writes them (the Python writer cannot read those).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provdb.votable.fields import Field

from .binary2_copy import EncodedRows
from .db_kinds import PG_TYPES, wrap_query
from .textformats import column_kind

try:  # built by hatch_build.py; optional (without it PostgreSQL writes each format)
    from . import _textcopy
except ImportError:  # pragma: no cover - depends on the installation
    _textcopy = None  # type: ignore[assignment]

__all__ = [
    "COMPILED",
    "TEXT_COPY_FORMATS",
    "TextCopy",
    "compiled_kind",
    "plan_text_copy",
    "text_kind",
]

#: whether the compiled converter (``_textcopy``) is built
COMPILED = _textcopy is not None

#: the output formats (``OutputFormat.name``) this module writes
TEXT_COPY_FORMATS = ("csv", "tsv", "json")

_INTS = ("int2", "int4", "int8")
_TEXT = ("text", "varchar")
_JSONB = 3802  # pg_type.dat
#: the output format's letter for ``_textcopy.convert``
_FMT_LETTER = {"csv": "c", "tsv": "t", "json": "j"}
_TS_RANGE = "BETWEEN '0001-01-01' AND '9999-12-31 23:59:59.999999'"


def text_kind(field: Field, oid: int) -> str | None:
    """How the column (``field``, result type ``oid``) is written by COPY: ``int``,
    ``bool``, ``text``, ``timestamp``, ``timestamptz`` or ``date``; None when only the
    Python writer writes its text the same way."""
    pgtype = PG_TYPES.get(oid)
    kind = column_kind(field)
    if kind == "int" and pgtype in _INTS:
        return "int"
    if kind == "bool" and pgtype == "bool":
        return "bool"
    if kind == "text" and pgtype in _TEXT:
        return "text"
    if kind == "timestamp" and pgtype in ("timestamp", "timestamptz", "date"):
        return pgtype
    return None


def compiled_kind(field: Field, oid: int) -> str | None:
    """The letter of the column (``field``, result type ``oid``) for the compiled
    converter (see ``_textcopy.c``), or None when only the Python writer writes it."""
    kind = text_kind(field, oid)
    if kind is not None:
        return {"int": "i", "bool": "b", "text": "s", "date": "d"}.get(kind, "t")
    column = column_kind(field)
    if column == "text" and oid == _JSONB:
        return "j"
    if column == "float" and PG_TYPES.get(oid) == "float8":
        return "f"
    return None


def _dali(c: str) -> str:
    """DALI timestamp text of a ``timestamp`` column (NULL stays NULL)."""
    iso = f"replace({c}::text, ' ', 'T')"
    return (
        f"CASE WHEN NOT ({c} {_TS_RANGE}) THEN {c}::text"
        f" WHEN {c} = date_trunc('second', {c}) THEN {iso}"
        f" ELSE left({iso} || '00', 23) END"
    )


def _value(kind: str, c: str, fmt: str) -> str:
    """SQL for the text of one value (NULL for a null), as the Python writer writes it."""
    if kind == "int":
        return c
    if kind == "bool":
        return f"CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END"
    if kind == "text":
        return f"NULLIF({c}, '')" if fmt == "csv" else c
    if kind == "timestamp":
        return _dali(c)
    if kind == "timestamptz":
        return _dali(f"({c} AT TIME ZONE 'UTC')")
    return f"{c}::text"  # date: ISO with DateStyle ISO


def _json_value(kind: str, c: str) -> str:
    """SQL for one value as ``json_build_array`` takes it (it writes the JSON)."""
    return c if kind in ("int", "bool", "text") else _value(kind, c, "json")


@dataclass(frozen=True)
class TextCopy:
    """A query as a text COPY, and how a batch of its rows (COPY messages) becomes the
    bytes the format's encoder writes.

    Attributes
    ----------
    sql:
        The ``COPY (...) TO STDOUT (...)`` statement.
    fmt:
        ``csv``, ``tsv`` or ``json``.
    columns:
        How many columns the result has.
    """

    sql: str
    fmt: str
    columns: int
    #: the compiled converter's column letters (``FORMAT text`` rows), or None
    kinds: str | None = None

    def encode(self, rows: Sequence[Any]) -> bytes:
        """The bytes of a batch of COPY messages (one row each, LF-terminated): CSV rows
        with CRLF ends, TSV rows, or JSON rows ``[...]`` separated by ``,\\n`` (no
        separator before the first or after the last)."""
        if self.kinds is not None:
            return _textcopy.convert(_joined(rows), self.kinds, _FMT_LETTER[self.fmt])
        if self.fmt == "csv":
            return csv_rows(rows, single=self.columns == 1)
        data = _joined(rows)
        if self.fmt == "tsv":
            return data
        if b"\\" in data:  # FORMAT text doubled each backslash of the JSON text
            data = data.replace(b"\\\\", b"\\")
        return data[:-1].replace(b"\n", b",\n")


#: one-column CSV rows COPY writes otherwise than Python's csv module
_SINGLE = {b"\n": b'""\n', b'"\\."\n': b"\\.\n"}


def _joined(rows: Sequence[Any]) -> bytes:
    """The bytes of a batch: EncodedRows (read by the compiled drain) hold them already."""
    return rows.data if isinstance(rows, EncodedRows) else b"".join(rows)


def csv_rows(rows: Sequence[Any], *, single: bool = False) -> bytes:
    """CSV rows of COPY (LF ends) with CRLF ends, as RFC 4180 and Python's csv write them.

    ``single``: the rows have one column (an empty row then becomes ``""``, and ``\\.``,
    which COPY quotes, is written bare).
    """
    if single:
        rows = [_SINGLE.get(bytes(r), r) if len(r) <= 5 else r for r in rows]
    data = _joined(rows)
    if b'"' not in data:  # nothing quoted: every LF ends a row
        return data.replace(b"\n", b"\r\n")
    # quotes pair up (an escaped quote is two): even parts are outside quotes
    parts = data.split(b'"')
    parts[0::2] = [p.replace(b"\n", b"\r\n") for p in parts[0::2]]
    return b'"'.join(parts)


def plan_text_copy(
    fmt: str,
    sql: str,
    fields: Sequence[Field],
    oids: Sequence[int],
    *,
    compiled: bool | None = None,
) -> TextCopy | None:
    """The query ``sql`` as a COPY writing ``fmt`` (see the module docstring), or None.

    Parameters
    ----------
    fmt:
        ``csv``, ``tsv`` or ``json`` (anything else: None).
    sql, fields, oids:
        As for :func:`~tap.votable.binary2_sql.plan_binary2_sql`.
    compiled:
        Use the compiled converter (default: when it is built); False: PostgreSQL
        writes the format (the plans without it, also what the tests compare).
    """
    if fmt not in TEXT_COPY_FORMATS or not fields or len(fields) != len(oids):
        return None
    if compiled is None:
        compiled = COMPILED
    if compiled:
        return _plan_compiled(fmt, sql, fields, oids)
    kinds = [text_kind(f, oid) for f, oid in zip(fields, oids, strict=True)]
    if None in kinds:
        return None
    names = [f"c{i}" for i in range(len(kinds))]
    if fmt == "json":
        values = ", ".join(_json_value(k, c) for k, c in zip(kinds, names, strict=True))
        selects = [f"json_build_array({values})::text"]
        options = "FORMAT text"
    else:
        selects = [_value(k, c, fmt) for k, c in zip(kinds, names, strict=True)]
        options = "FORMAT csv" if fmt == "csv" else "FORMAT text, NULL ''"
    copy = f"COPY ({wrap_query(sql, selects, len(kinds))}) TO STDOUT ({options})"
    return TextCopy(copy, fmt, len(kinds))


def _plan_compiled(
    fmt: str, sql: str, fields: Sequence[Field], oids: Sequence[int]
) -> TextCopy | None:
    """The plain ``FORMAT text`` COPY whose rows ``_textcopy.convert`` writes as ``fmt``."""
    letters = [compiled_kind(f, oid) for f, oid in zip(fields, oids, strict=True)]
    if None in letters:
        return None
    kinds = "".join(letters)  # type: ignore[arg-type]
    # timestamptz: its UTC time (the session's time zone is the client's business)
    selects = [
        f"(c{i} AT TIME ZONE 'UTC')" if PG_TYPES.get(oid) == "timestamptz" else f"c{i}"
        for i, oid in enumerate(oids)
    ]
    copy = f"COPY ({wrap_query(sql, selects, len(kinds))}) TO STDOUT (FORMAT text)"
    return TextCopy(copy, fmt, len(kinds), kinds)
