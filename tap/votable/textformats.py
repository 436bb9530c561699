"""CSV, TSV and JSON result writers, on the same streaming protocol as the VOTable one.

* CSV (RFC 4180): a header line of column names (unless ``header=False``), CRLF line
  ends, values quoted when they hold a comma, quote or line break; NULL is an empty field.
* TSV (``text/tab-separated-values``): header line of names, LF line ends; in values a
  backslash, TAB, LF, CR, backspace, form feed and vertical tab are written ``\\\\``,
  ``\\t``, ``\\n``, ``\\r``, ``\\b``, ``\\f``, ``\\v`` (as PostgreSQL's COPY text format);
  NULL is empty.
* JSON (UTF-8): ``{"metadata": [...], "data": [[...], ...], "overflow": false}``, one
  row a line (whatever the batches); NaN
  and infinities become ``null``; an error while streaming adds ``"error": "message"``.

CSV and TSV have no place for an overflow or error marker: the output just ends, and the
caller learns from :attr:`ResultStream.result`. Values are converted as in VOTable
TABLEDATA (timestamps in DALI form, JSON values as compact JSON text, booleans
``true``/``false``) but text is written as it is, without XML clean-up.

Every encoder takes an optional ``row_encoder``: batches then come from a COPY that
PostgreSQL wrote in the format already (:mod:`.text_copy`), and ``row_encoder(batch)``
gives their bytes; the header, the separators and the end are written here either way.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from provdb.votable.fields import Field
from provdb.votable.values import arraysize_info, format_timestamp, text

from .stream import ErrorMessage, ResultStream, StreamResult

__all__ = [
    "CsvEncoder",
    "JsonEncoder",
    "JsonValues",
    "RowEncoder",
    "TsvEncoder",
    "column_kind",
    "csv_stream",
    "json_metadata",
    "json_stream",
    "tsv_stream",
]

_INTS = ("unsignedByte", "short", "int", "long")
_FLOATS = ("float", "double")

Rows = Sequence[Sequence[Any]]
#: the bytes of a batch of rows already written by the database (see the module docstring)
RowEncoder = Callable[[Sequence[Any]], bytes]


def column_kind(field: Field) -> str:
    """What a column holds for the text writers: int, float, bool, timestamp, array or text."""
    try:
        is_array = arraysize_info(field.arraysize).is_array
    except ValueError:
        is_array = True
    dt = field.datatype
    if dt in ("char", "unicodeChar"):
        return "timestamp" if field.xtype == "timestamp" else "text"
    if is_array:
        return "array"
    if dt in _INTS:
        return "int"
    if dt in _FLOATS:
        return "float"
    if dt == "boolean":
        return "bool"
    return "text"


def _array_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return " ".join(map(str, bytes(value)))
    if isinstance(value, str):
        return value
    return " ".join(text(v) if v is not None else "NaN" for v in value)


def _int_text(value: Any) -> str:
    return str(int(value)) if not isinstance(value, str) else value


def _compile(fields: Sequence[Field], exprs: Sequence[str], ns: dict[str, Any], body: str):
    """Compile ``encode(rows)`` with ``v0..vN`` unpacked from each row."""
    unpack = ", ".join(f"v{i}" for i in range(len(fields)))
    source = body.format(unpack=unpack, exprs=", ".join(exprs))
    exec(compile(source, "<text encoder>", "exec"), ns)
    return ns["encode"]


# ----------------------------------------------------------------------------- CSV


def _csv_converter(fields: Sequence[Field]) -> Callable[[Rows], list[tuple]]:
    ns: dict[str, Any] = {"_t": text, "_ts": format_timestamp, "_arr": _array_text}
    exprs = []
    for i, field in enumerate(fields):
        v = f"v{i}"
        kind = column_kind(field)
        if kind == "int":
            expr = f"{v} if {v} is None or {v}.__class__ is int else _t({v})"
        elif kind == "float":
            expr = f"{v} if {v}.__class__ is float and {v} - {v} == 0 else _t({v})"
        elif kind == "bool":
            expr = f"None if {v} is None else ('true' if {v} else 'false')"
        elif kind == "timestamp":
            expr = f"None if {v} is None else _ts({v})"
        elif kind == "array":
            expr = f"None if {v} is None else _arr({v})"
        else:
            expr = f"{v} if {v} is None or {v}.__class__ is str else _t({v})"
        exprs.append(expr)
    body = "def encode(rows):\n    return [({exprs},) for ({unpack},) in rows]\n"
    return _compile(fields, exprs, ns, body)


class CsvEncoder:
    """RFC 4180 CSV (see the module docstring)."""

    def __init__(
        self,
        fields: Sequence[Field],
        *,
        header: bool = True,
        row_encoder: RowEncoder | None = None,
    ) -> None:
        if not fields:
            raise ValueError("a table needs at least one field")
        self._convert = _csv_converter(fields)
        self._header = self._write([[f.name for f in fields]]) if header else b""
        self._row_encoder = row_encoder

    @staticmethod
    def _write(rows: Iterable[Sequence[Any]]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(rows)
        return buf.getvalue().encode("utf-8", "replace")  # lone surrogates → "?"

    def header(self) -> bytes:
        return self._header

    def rows(self, rows: Rows) -> bytes:
        if self._row_encoder is not None:
            return self._row_encoder(rows)
        return self._write(self._convert(rows))

    def footer(self, result: StreamResult) -> bytes:
        return b""


# ----------------------------------------------------------------------------- TSV

_TSV_ESCAPES = str.maketrans(
    {
        "\\": "\\\\",
        "\t": "\\t",
        "\n": "\\n",
        "\r": "\\r",
        "\b": "\\b",
        "\f": "\\f",
        "\v": "\\v",
    }
)


def _tsv_text(value: Any) -> str:
    if value.__class__ is not str:
        value = text(value)
    if value.isprintable() and "\\" not in value:
        return value
    return value.translate(_TSV_ESCAPES)


class TsvEncoder:
    """Tab-separated values (see the module docstring)."""

    def __init__(
        self,
        fields: Sequence[Field],
        *,
        header: bool = True,
        row_encoder: RowEncoder | None = None,
    ) -> None:
        if not fields:
            raise ValueError("a table needs at least one field")
        self._row_encoder = row_encoder
        ns: dict[str, Any] = {
            "_t": _tsv_text,
            "_ts": format_timestamp,
            "_arr": _array_text,
            "_float": text,
            "_int": _int_text,
        }
        exprs = []
        for i, field in enumerate(fields):
            v = f"v{i}"
            kind = column_kind(field)
            if kind == "int":
                expr = f"{v} if {v}.__class__ is int else _int({v})"
            elif kind == "float":
                expr = f"{v} if {v}.__class__ is float and {v} - {v} == 0 else _float({v})"
            elif kind == "bool":
                expr = f"'true' if {v} else 'false'"
            elif kind == "timestamp":
                expr = f"_ts({v})"
            elif kind == "array":
                expr = f"_arr({v})"
            else:
                expr = f"_t({v})"
            exprs.append(f"'' if {v} is None else ({expr})")
        ns["TPL"] = "\t".join(["%s"] * len(fields)) + "\n"
        body = "def encode(rows):\n    return ''.join([TPL % ({exprs},) for ({unpack},) in rows])\n"
        self._encode = _compile(fields, exprs, ns, body)
        names = "\t".join(_tsv_text(f.name) for f in fields) + "\n"
        self._header = names.encode("utf-8") if header else b""

    def header(self) -> bytes:
        return self._header

    def rows(self, rows: Rows) -> bytes:
        if self._row_encoder is not None:
            return self._row_encoder(rows)
        return self._encode(rows).encode("utf-8", "replace")

    def footer(self, result: StreamResult) -> bytes:
        return b""


# ----------------------------------------------------------------------------- JSON


def _json_float(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _json_float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return list(bytes(value))
    return text(value)


def _json_array(value: Any) -> list | str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return list(bytes(value))
    if isinstance(value, str):
        return value
    out = []
    for v in value:
        if isinstance(v, (float, Decimal)):
            out.append(_json_float(v))
        else:
            out.append(v)
    return out


def _utf8(text: str) -> bytes:
    # a lone surrogate (only Python strings hold one) becomes the JSON escape \udXXX:
    # it only occurs inside JSON strings, where that escape means the same
    return text.encode("utf-8", "backslashreplace")


def _json_converter(fields: Sequence[Field]) -> Callable[[Rows], list[list[Any]]]:
    """``convert(rows)``: each row as the list of values the JSON document holds."""
    ns: dict[str, Any] = {
        "_t": text,
        "_ts": format_timestamp,
        "_float": _json_float,
        "_int": int,
        "_arr": _json_array,
    }
    exprs = []
    for i, field in enumerate(fields):
        v = f"v{i}"
        kind = column_kind(field)
        if kind == "int":
            expr = f"{v} if {v} is None or {v}.__class__ is int else _int({v})"
        elif kind == "float":
            expr = (
                f"{v} if {v}.__class__ is float and {v} - {v} == 0"
                f" else None if {v} is None else _float({v})"
            )
        elif kind == "bool":
            expr = f"None if {v} is None else bool({v})"
        elif kind == "timestamp":
            expr = f"None if {v} is None else _ts({v})"
        elif kind == "array":
            expr = f"None if {v} is None else _arr({v})"
        else:
            expr = f"{v} if {v} is None or {v}.__class__ is str else _t({v})"
        exprs.append(expr)
    body = "def encode(rows):\n    return [[{exprs}] for ({unpack},) in rows]\n"
    return _compile(fields, exprs, ns, body)


def json_metadata(fields: Sequence[Field]) -> list[dict[str, Any]]:
    """The ``metadata`` list of the JSON document: one dict per column."""
    return [
        {
            "name": f.name,
            "datatype": f.datatype,
            "arraysize": f.arraysize,
            "xtype": f.xtype,
            "unit": f.unit,
            "ucd": f.ucd,
            "utype": f.utype,
            "description": f.description,
        }
        for f in fields
    ]


class JsonEncoder:
    """JSON document (see the module docstring)."""

    def __init__(self, fields: Sequence[Field], *, row_encoder: RowEncoder | None = None) -> None:
        if not fields:
            raise ValueError("a table needs at least one field")
        self._row_encoder = row_encoder
        self._convert = _json_converter(fields)
        self._dumps = json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_default
        ).encode
        # rows as PostgreSQL's json_build_array writes them (", " between values), so that
        # rows written by the database (tap/votable/text_copy.py) are the same bytes
        self._dumps_row = json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, separators=(", ", ":"), default=_json_default
        ).encode
        metadata = json_metadata(fields)
        self._header = _utf8('{"metadata":' + self._dumps(metadata) + ',\n"data":[')
        self._first = True

    def header(self) -> bytes:
        return self._header

    def rows(self, rows: Rows) -> bytes:
        if self._row_encoder is not None:
            data = self._row_encoder(rows)
        else:
            dumps = self._dumps_row
            data = _utf8(",\n".join([dumps(row) for row in self._convert(rows)]))
        if not data:
            return b""
        if self._first:
            self._first = False
            return b"\n" + data
        return b",\n" + data

    def footer(self, result: StreamResult) -> bytes:
        end = '\n],\n"overflow":' + ("true" if result.overflow else "false")
        if result.error is not None:
            end += ',\n"error":' + self._dumps(result.error_message or "error")
        return _utf8(end + "}\n")


def _plain(value: Any) -> Any:
    """A value inside an array column as the JSON document gives it back once decoded
    (what :class:`json.JSONEncoder` and ``_json_default`` would make of it)."""
    if value is None or value.__class__ in (str, int, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (str, int)):
        return value
    return _plain(_json_default(value))


class JsonValues:
    """The rows of the JSON document as Python values, kept in :attr:`data` (no bytes).

    An :class:`~tap.votable.stream.Encoder` for pages that show a result (the UI's ADQL
    page): each value is what decoding the JSON document would give, without writing and
    parsing the text.
    """

    def __init__(self, fields: Sequence[Field]) -> None:
        if not fields:
            raise ValueError("a table needs at least one field")
        self._convert = _json_converter(fields)
        self._arrays = [i for i, f in enumerate(fields) if column_kind(f) == "array"]
        #: the converted rows, in order
        self.data: list[list[Any]] = []

    def header(self) -> bytes:
        return b""

    def rows(self, rows: Rows) -> bytes:
        converted = self._convert(rows)
        for i in self._arrays:
            for row in converted:
                row[i] = _plain(row[i])
        self.data.extend(converted)
        return b""

    def footer(self, result: StreamResult) -> bytes:
        return b""


# ----------------------------------------------------------------------------- streams


def csv_stream(
    fields: Sequence[Field],
    batches: Iterable[Rows],
    *,
    overflow_after: int | None = None,
    header: bool = True,
    error_message: ErrorMessage | None = None,
    row_encoder: RowEncoder | None = None,
    **_ignored: Any,
) -> ResultStream:
    """Stream a result as CSV; parameters as :func:`~tap.votable.votable_stream`.

    ``row_encoder``: the batches are rows the database wrote (see the module docstring).
    ``infos``/``query``/``serialization`` are accepted and ignored, so that every writer
    can be called alike.
    """
    return ResultStream(
        CsvEncoder(fields, header=header, row_encoder=row_encoder),
        batches,
        overflow_after=overflow_after,
        error_message=error_message,
    )


def tsv_stream(
    fields: Sequence[Field],
    batches: Iterable[Rows],
    *,
    overflow_after: int | None = None,
    header: bool = True,
    error_message: ErrorMessage | None = None,
    row_encoder: RowEncoder | None = None,
    **_ignored: Any,
) -> ResultStream:
    """Stream a result as TSV; parameters as :func:`csv_stream`."""
    return ResultStream(
        TsvEncoder(fields, header=header, row_encoder=row_encoder),
        batches,
        overflow_after=overflow_after,
        error_message=error_message,
    )


def json_stream(
    fields: Sequence[Field],
    batches: Iterable[Rows],
    *,
    overflow_after: int | None = None,
    error_message: ErrorMessage | None = None,
    row_encoder: RowEncoder | None = None,
    **_ignored: Any,
) -> ResultStream:
    """Stream a result as JSON; parameters as :func:`csv_stream`."""
    return ResultStream(
        JsonEncoder(fields, row_encoder=row_encoder),
        batches,
        overflow_after=overflow_after,
        error_message=error_message,
    )
