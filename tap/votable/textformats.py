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
from abc import ABC, abstractmethod
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


def _compile(
    fields: Sequence[Field], templates: dict[str, str], ns: dict[str, Any], body: str
) -> Callable[[Rows], Any]:
    """Compile ``encode(rows)`` with ``v0..vN`` unpacked from each row; column ``i`` is
    converted by ``templates[column_kind(field)]`` with ``{v}`` standing for ``vi``."""
    unpack = ", ".join(f"v{i}" for i in range(len(fields)))
    exprs = [templates[column_kind(f)].format(v=f"v{i}") for i, f in enumerate(fields)]
    source = body.format(unpack=unpack, exprs=", ".join(exprs))
    exec(compile(source, "<text encoder>", "exec"), ns)
    return ns["encode"]


def _need_fields(fields: Sequence[Field]) -> None:
    if not fields:
        raise ValueError("a table needs at least one field")


class _TextEncoder:
    """What the text encoders share: a fixed header, an empty footer."""

    _header = b""

    def header(self) -> bytes:
        return self._header

    def footer(self, result: StreamResult) -> bytes:
        return b""


# ----------------------------------------------------------------------------- CSV


#: how CSV converts a value of each column kind (``{v}``: the value; NULL stays None)
_CSV_EXPRS = {
    "int": "{v} if {v} is None or {v}.__class__ is int else _t({v})",
    "float": "{v} if {v}.__class__ is float and {v} - {v} == 0 else _t({v})",
    "bool": "None if {v} is None else ('true' if {v} else 'false')",
    "timestamp": "None if {v} is None else _ts({v})",
    "array": "None if {v} is None else _arr({v})",
    "text": "{v} if {v} is None or {v}.__class__ is str else _t({v})",
}


def _csv_converter(fields: Sequence[Field]) -> Callable[[Rows], list[tuple]]:
    ns: dict[str, Any] = {"_t": text, "_ts": format_timestamp, "_arr": _array_text}
    body = "def encode(rows):\n    return [({exprs},) for ({unpack},) in rows]\n"
    return _compile(fields, _CSV_EXPRS, ns, body)


class _DelimitedEncoder(_TextEncoder, ABC):
    """CSV and TSV: a header line of names (unless ``header=False``), then the rows."""

    def __init__(
        self,
        fields: Sequence[Field],
        *,
        header: bool = True,
        row_encoder: RowEncoder | None = None,
    ) -> None:
        _need_fields(fields)
        self._row_encoder = row_encoder
        self._encode = self._encoder(fields)
        self._header = self._names(fields) if header else b""

    @abstractmethod
    def _encoder(self, fields: Sequence[Field]) -> Callable[[Rows], bytes]:
        """``encode(rows)``: the bytes of a batch."""

    @abstractmethod
    def _names(self, fields: Sequence[Field]) -> bytes:
        """The header line."""

    def rows(self, rows: Rows) -> bytes:
        if self._row_encoder is not None:
            return self._row_encoder(rows)
        return self._encode(rows)


class CsvEncoder(_DelimitedEncoder):
    """RFC 4180 CSV (see the module docstring)."""

    def _encoder(self, fields: Sequence[Field]) -> Callable[[Rows], bytes]:
        convert = _csv_converter(fields)
        return lambda rows: self._write(convert(rows))

    def _names(self, fields: Sequence[Field]) -> bytes:
        return self._write([[f.name for f in fields]])

    @staticmethod
    def _write(rows: Iterable[Sequence[Any]]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerows(rows)
        return buf.getvalue().encode("utf-8", "replace")  # lone surrogates → "?"


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


#: how TSV converts a value of each column kind (``{v}``: the value; NULL is empty)
_TSV_EXPRS = {
    kind: "'' if {v} is None else (" + expr + ")"
    for kind, expr in {
        "int": "{v} if {v}.__class__ is int else _int({v})",
        "float": "{v} if {v}.__class__ is float and {v} - {v} == 0 else _float({v})",
        "bool": "'true' if {v} else 'false'",
        "timestamp": "_ts({v})",
        "array": "_arr({v})",
        "text": "_t({v})",
    }.items()
}


class TsvEncoder(_DelimitedEncoder):
    """Tab-separated values (see the module docstring)."""

    def _encoder(self, fields: Sequence[Field]) -> Callable[[Rows], bytes]:
        ns: dict[str, Any] = {
            "_t": _tsv_text,
            "_ts": format_timestamp,
            "_arr": _array_text,
            "_float": text,
            "_int": _int_text,
            "TPL": "\t".join(["%s"] * len(fields)) + "\n",
        }
        body = "def encode(rows):\n    return ''.join([TPL % ({exprs},) for ({unpack},) in rows])\n"
        encode = _compile(fields, _TSV_EXPRS, ns, body)
        return lambda rows: encode(rows).encode("utf-8", "replace")

    def _names(self, fields: Sequence[Field]) -> bytes:
        return ("\t".join(_tsv_text(f.name) for f in fields) + "\n").encode("utf-8")


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


#: how JSON converts a value of each column kind (``{v}``: the value; NULL stays None)
_JSON_EXPRS = {
    **_CSV_EXPRS,
    "int": "{v} if {v} is None or {v}.__class__ is int else _int({v})",
    "float": (
        "{v} if {v}.__class__ is float and {v} - {v} == 0 else None if {v} is None else _float({v})"
    ),
    "bool": "None if {v} is None else bool({v})",
}


def _json_converter(fields: Sequence[Field]) -> Callable[[Rows], list[list[Any]]]:
    """``convert(rows)``: each row as the list of values the JSON document holds."""
    ns: dict[str, Any] = {
        "_t": text,
        "_ts": format_timestamp,
        "_float": _json_float,
        "_int": int,
        "_arr": _json_array,
    }
    body = "def encode(rows):\n    return [[{exprs}] for ({unpack},) in rows]\n"
    return _compile(fields, _JSON_EXPRS, ns, body)


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


class JsonEncoder(_TextEncoder):
    """JSON document (see the module docstring)."""

    def __init__(self, fields: Sequence[Field], *, row_encoder: RowEncoder | None = None) -> None:
        _need_fields(fields)
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


class JsonValues(_TextEncoder):
    """The rows of the JSON document as Python values, kept in :attr:`data` (no bytes).

    An :class:`~tap.votable.stream.Encoder` for pages that show a result (the UI's ADQL
    page): each value is what decoding the JSON document would give, without writing and
    parsing the text.
    """

    def __init__(self, fields: Sequence[Field]) -> None:
        _need_fields(fields)
        self._convert = _json_converter(fields)
        self._arrays = [i for i, f in enumerate(fields) if column_kind(f) == "array"]
        #: the converted rows, in order
        self.data: list[list[Any]] = []

    def rows(self, rows: Rows) -> bytes:
        converted = self._convert(rows)
        for i in self._arrays:
            for row in converted:
                row[i] = _plain(row[i])
        self.data.extend(converted)
        return b""


# ----------------------------------------------------------------------------- streams


def _stream(
    encoder: _TextEncoder,
    batches: Iterable[Rows],
    *,
    overflow_after: int | None = None,
    error_message: ErrorMessage | None = None,
    **_ignored: Any,
) -> ResultStream:
    # ``infos``/``query``/``serialization`` are accepted and ignored, so that every
    # writer can be called alike
    return ResultStream(
        encoder, batches, overflow_after=overflow_after, error_message=error_message
    )


def csv_stream(
    fields: Sequence[Field],
    batches: Iterable[Rows],
    *,
    header: bool = True,
    row_encoder: RowEncoder | None = None,
    **options: Any,
) -> ResultStream:
    """Stream a result as CSV; parameters as :func:`~tap.votable.votable_stream`
    (``overflow_after``, ``error_message``).

    ``row_encoder``: the batches are rows the database wrote (see the module docstring).
    ``infos``/``query``/``serialization`` are accepted and ignored, so that every writer
    can be called alike.
    """
    encoder = CsvEncoder(fields, header=header, row_encoder=row_encoder)
    return _stream(encoder, batches, **options)


def tsv_stream(
    fields: Sequence[Field],
    batches: Iterable[Rows],
    *,
    header: bool = True,
    row_encoder: RowEncoder | None = None,
    **options: Any,
) -> ResultStream:
    """Stream a result as TSV; parameters as :func:`csv_stream`."""
    encoder = TsvEncoder(fields, header=header, row_encoder=row_encoder)
    return _stream(encoder, batches, **options)


def json_stream(
    fields: Sequence[Field],
    batches: Iterable[Rows],
    *,
    row_encoder: RowEncoder | None = None,
    **options: Any,
) -> ResultStream:
    """Stream a result as JSON; parameters as :func:`csv_stream` (``header`` is ignored)."""
    return _stream(JsonEncoder(fields, row_encoder=row_encoder), batches, **options)
