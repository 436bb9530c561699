"""BINARY2 rows: per-row null flags, big-endian values, base64 in 3-byte-aligned chunks.

Each row is ``ceil(nfields / 8)`` bytes of null flags (first field = most significant bit
of the first byte), then every field: ``boolean`` one byte ``T``/``F`` (``?`` when null),
``unsignedByte``/``short``/``int``/``long`` as ``>B``/``>h``/``>i``/``>q`` (0 when null),
``float``/``double`` as ``>f``/``>d`` (NaN when null). Variable-length arrays (``*`` and
``n*``) start with a 4-byte element count; fixed arrays (``n``) are padded or cut to ``n``.
Text: ``char`` is 7-bit ASCII (every other character becomes ``?``; ASCII control
characters are kept, BINARY2 being binary: only the XML and text formats must replace
them), ``unicodeChar`` UCS-2 big-endian (characters XML cannot carry and those outside the
BMP become U+FFFD); timestamps are ``char`` in DALI form. :mod:`.binary2_sql` makes the
same bytes in PostgreSQL.

For speed the per-row code is generated for the field list at hand: consecutive fixed-size
values go through one precompiled :class:`struct.Struct`, so a row costs a handful of C
calls. Rows whose values need coercion (``Decimal`` in an integer column, a float32 value
out of range ...) are re-encoded by a second, tolerant variant of the same code.
"""

from __future__ import annotations

import binascii
import codecs
import functools
import math
import struct
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from provdb.votable.fields import Field
from provdb.votable.values import arraysize_info, clean_text, format_timestamp, text

__all__ = ["Base64Chunker", "Binary2Rows", "ucs2_bytes"]

_INT_CODES = {"unsignedByte": "B", "short": "h", "int": "i", "long": "q"}
_FLOAT_CODES = {"float": "f", "double": "d"}
_NAN = math.nan
_FLT_MAX = 3.4028234663852886e38
_utf16 = codecs.utf_16_be_encode


# ----------------------------------------------------------------------------- values


def _char_bytes(value: Any) -> bytes:
    """ASCII bytes of any value for a ``char`` array (one ``?`` per non-ASCII character)."""
    if not isinstance(value, str):
        value = text(value)
    return value.encode("ascii", "replace")


def _timestamp_bytes(value: Any) -> bytes:
    if value.__class__ is datetime and value.tzinfo is None:
        iso = value.isoformat()
        return (iso[:23] if value.microsecond else iso).encode("ascii")
    return _char_bytes(format_timestamp(value))


def ucs2_bytes(value: Any) -> bytes:
    """UCS-2 big-endian bytes of any value for a ``unicodeChar`` array."""
    if not isinstance(value, str):
        value = text(value)
    # the codec's function itself: str.encode("utf-16-be") looks the codec up by name on
    # every call, which costs more than encoding a short string
    return _utf16(clean_text(value))[0]


def _ubyte_array(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return bytes(int(v) & 0xFF for v in value)


def _to_int(value: Any) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot write {value!r} in an integer column")
    return int(value)


def _to_float32(value: Any) -> float:
    value = float(value)
    if math.isfinite(value) and abs(value) > _FLT_MAX:
        return math.copysign(math.inf, value)
    return value


def _numeric_array(
    code: str, fixed: int | None, bound: int | None, is_float: bool
) -> Callable[[Any], bytes]:
    """Encoder of a numeric array value (count prefix when variable)."""
    item = struct.Struct(">" + code)
    null_item = item.pack(_NAN if is_float else 0)

    def convert(v: Any) -> Any:
        if v is None:
            return _NAN if is_float else 0
        if code == "f":
            return _to_float32(v)
        return float(v) if is_float else _to_int(v)

    def encode(value: Any) -> bytes:
        if value is None:
            return null_item * fixed if fixed else b"\0\0\0\0"
        values = [convert(v) for v in value]
        if bound is not None:
            values = values[:bound]
        if fixed is not None:
            values = values[:fixed]
            pad = fixed - len(values)
            data = struct.pack(f">{len(values)}{code}", *values) + null_item * pad
            return data
        return struct.pack(f">I{len(values)}{code}", len(values), *values)

    return encode


# ----------------------------------------------------------------------------- codegen


class _Layout:
    """Accumulates the generated statements and the struct segments of one row."""

    def __init__(self, nmask: int) -> None:
        self.body: list[str] = []
        self.pieces: list[str] = []  # expressions, in output order
        self.fmt = ">" + "B" * nmask
        self.args = [f"m{i}" for i in range(nmask)]
        self.namespace: dict[str, Any] = {}
        self._structs = 0

    def fixed(self, code: str, arg: str) -> None:
        self.fmt += code
        self.args.append(arg)

    def raw(self, expr: str) -> None:
        """Append bytes produced by ``expr`` after the pending fixed part."""
        self.flush()
        self.pieces.append(expr)

    def flush(self) -> None:
        if len(self.fmt) > 1:
            name = f"S{self._structs}"
            self._structs += 1
            self.namespace[name] = struct.Struct(self.fmt).pack
            self.pieces.append(f"{name}({', '.join(self.args)})")
        self.fmt = ">"
        self.args = []


def _generate(fields: Sequence[Field], coerce: bool) -> Callable[[Sequence[Any]], bytes]:
    nfields = len(fields)
    nmask = (nfields + 7) // 8
    lay = _Layout(nmask)
    ns = lay.namespace
    ns.update(
        NAN=_NAN,
        _char=_char_bytes,
        _ts=_timestamp_bytes,
        _ucs2=ucs2_bytes,
        _ubytes=_ubyte_array,
        _int=_to_int,
        _f32=_to_float32,
    )
    body = lay.body
    for i, field in enumerate(fields):
        v = f"v{i}"
        m = f"m{i // 8}"
        bit = 0x80 >> (i % 8)
        null = f"{m} |= {bit}"
        dt = field.datatype
        is_array, fixed, bound = arraysize_info(field.arraysize)
        if dt in ("char", "unicodeChar"):
            if dt == "char":
                if field.xtype == "timestamp":
                    conv = f"_ts({v})"
                else:
                    conv = (
                        f"{v}.encode('ascii') if {v}.__class__ is str and {v}.isascii()"
                        f" else _char({v})"
                    )
                width = 1
            else:
                conv = f"_ucs2({v})"
                width = 2
            if not is_array:
                fixed = 1
            if fixed is None and bound is not None:
                conv = f"({conv})[:{bound * width}]"
            body.append(f"if {v} is None: {null}; s{i} = b''")
            body.append(f"else: s{i} = {conv}")
            if fixed is not None:
                lay.fixed(f"{fixed * width}s", f"s{i}")
            else:
                lay.fixed("I", f"len(s{i})" if width == 1 else f"len(s{i}) >> 1")
                lay.raw(f"s{i}")
        elif dt == "unsignedByte" and is_array:
            body.append(f"if {v} is None: {null}; s{i} = b''")
            conv = f"{v} if {v}.__class__ is bytes else _ubytes({v})"
            if fixed is None and bound is not None:
                conv = f"({conv})[:{bound}]"
            body.append(f"else: s{i} = {conv}")
            if fixed is not None:
                lay.fixed(f"{fixed}s", f"s{i}")
            else:
                lay.fixed("I", f"len(s{i})")
                lay.raw(f"s{i}")
        elif dt == "boolean" and not is_array:
            body.append(f"if {v} is None: {null}; {v} = 63")
            body.append(f"else: {v} = 84 if {v} else 70")
            lay.fixed("B", v)
        elif dt in _INT_CODES and not is_array:
            body.append(f"if {v} is None: {null}; {v} = 0")
            if coerce:
                body.append(f"else: {v} = _int({v})")
            lay.fixed(_INT_CODES[dt], v)
        elif dt in _FLOAT_CODES and not is_array:
            body.append(f"if {v} is None: {null}; {v} = NAN")
            if coerce:
                body.append(f"else: {v} = {'_f32' if dt == 'float' else 'float'}({v})")
            lay.fixed(_FLOAT_CODES[dt], v)
        elif dt in _INT_CODES or dt in _FLOAT_CODES:
            code = _INT_CODES.get(dt) or _FLOAT_CODES[dt]
            ns[f"_arr{i}"] = _numeric_array(code, fixed, bound, dt in _FLOAT_CODES)
            body.append(f"if {v} is None: {null}")
            body.append(f"s{i} = _arr{i}({v})")
            lay.raw(f"s{i}")
        else:
            raise ValueError(
                f"field {field.name!r}: datatype {dt!r} with arraysize {field.arraysize!r}"
                " is not supported by the BINARY2 writer"
            )
    lay.flush()
    unpack = ", ".join(f"v{i}" for i in range(nfields))
    masks = "; ".join(f"m{i} = 0" for i in range(nmask))
    lines = [
        "def encode(rows):",
        "    out = []",
        "    extend = out.extend",
        "    for row in rows:",
        f"        {unpack}, = row",
        f"        {masks}",
        *(f"        {stmt}" for stmt in body),
        f"        extend(({', '.join(lay.pieces)},))",
        "    return b''.join(out)",
    ]
    source = "\n".join(lines)
    exec(compile(source, f"<binary2 encoder {'coercing' if coerce else 'fast'}>", "exec"), ns)
    return ns["encode"]


@functools.lru_cache(maxsize=256)
def _encoders(fields: tuple[Field, ...]) -> tuple[Callable, Callable]:
    """The fast and the tolerant row encoders of a field list, generated once per list
    (generating them costs ~1.5 ms, as much as a one-row query)."""
    return _generate(fields, coerce=False), _generate(fields, coerce=True)


class Binary2Rows:
    """Encoder of rows to BINARY2 bytes for a fixed field list.

    ``encode(rows)`` returns the raw (not base64) bytes of the rows. Field lists the writer
    cannot encode raise ``ValueError`` at construction.
    """

    def __init__(self, fields: Sequence[Field]) -> None:
        if not fields:
            raise ValueError("a table needs at least one field")
        self.fields = tuple(fields)
        self._fast, self._tolerant = _encoders(self.fields)

    def encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        try:
            return self._fast(rows)
        except Exception:
            return self._tolerant(rows)


class Base64Chunker:
    """Continuous base64 over a sequence of byte chunks (3-byte groups carried over)."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> bytes:
        """Base64 text for ``data`` and the remainder of earlier chunks, whole groups only."""
        if self._rest:
            data = self._rest + data
        cut = len(data) - len(data) % 3
        self._rest = data[cut:]
        if not cut:
            return b""
        return binascii.b2a_base64(memoryview(data)[:cut], newline=True)

    def flush(self) -> bytes:
        """Base64 text (with padding) of what is left."""
        rest, self._rest = self._rest, b""
        return binascii.b2a_base64(rest, newline=True) if rest else b""
