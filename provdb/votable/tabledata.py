"""TABLEDATA rows: ``<TR><TD>..</TD></TR>`` text with VOTable 1.3+ null and value rules.

NULL is an empty cell ``<TD/>`` (any datatype, VOTable >= 1.3). Booleans are ``T``/``F``;
floating-point values ``repr`` (shortest round-trip form), non-finite ones ``NaN``,
``+Inf``, ``-Inf``; timestamps DALI ``YYYY-MM-DDThh:mm:ss[.SSS]``; JSON values compact
JSON text; unsignedByte arrays space-separated numbers. Text is XML-escaped, characters
XML 1.0 cannot carry and (for UCS-2 ``unicodeChar``) characters outside the BMP become
U+FFFD, and ``char`` (ASCII) turns every other character into ``?``.

As for BINARY2, the per-row code is generated for the field list at hand.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .fields import Field
from .values import arraysize_info, format_timestamp, text, xml_text

__all__ = ["TabledataRows"]

_INTS = ("unsignedByte", "short", "int", "long")
_FLOATS = ("float", "double")
_FLT_MAX = 3.4028234663852886e38


def _nonfinite(value: Any) -> str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _int_text(value: Any) -> str:
    if value.__class__ is int:
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} in an integer column")
        return str(int(value))
    return str(int(value))


def _float_text(value: Any) -> str:
    if value.__class__ is not float:
        value = float(value)
    if value - value == 0:
        return repr(value)
    return _nonfinite(value)


def _char_text(value: Any, limit: int | None = None) -> str:
    """Escaped ASCII text of any value (``?`` for other characters), cut to ``limit``."""
    if value.__class__ is not str:
        value = text(value)
    if limit is not None:
        value = value[:limit]
    value = xml_text(value)
    if not value.isascii():
        value = value.encode("ascii", "replace").decode("ascii")
    return value


def _unicode_text(value: Any, limit: int | None = None) -> str:
    if value.__class__ is not str:
        value = text(value)
    if limit is not None:
        value = value[:limit]
    return xml_text(value)


def _timestamp_text(value: Any, limit: int | None = None) -> str:
    if limit is None and value.__class__ is datetime and value.tzinfo is None:
        iso = value.isoformat()
        return iso[:23] if value.microsecond else iso
    return _char_text(format_timestamp(value), limit)


def _float32_text(value: Any) -> str:
    value = float(value)
    if math.isfinite(value) and abs(value) > _FLT_MAX:
        value = math.copysign(math.inf, value)
    return _float_text(value)


def _array_text(
    convert: Callable[[Any], str], fixed: int | None, bound: int | None, null: str
) -> Callable[[Any], str]:
    """Space-separated items; fixed sizes cut or padded with ``null`` (NaN or 0)."""

    def encode(value: Any) -> str:
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value)
        items = [null if v is None else convert(v) for v in value]
        if bound is not None:
            items = items[:bound]
        if fixed is not None:
            items = items[:fixed] + [null] * (fixed - len(items))
        return " ".join(items)

    return encode


def _generate(fields: Sequence[Field]) -> Callable[[Sequence[Any]], str]:
    ns: dict[str, Any] = {
        "_int": _int_text,
        "_float": _float_text,
        "_float32": _float32_text,
        "FLT_MAX": _FLT_MAX,
        "_nonfinite": _nonfinite,
        "_char": _char_text,
        "_uni": _unicode_text,
        "_ts": _timestamp_text,
    }
    exprs: list[str] = []
    for i, field in enumerate(fields):
        v = f"v{i}"
        dt = field.datatype
        size = arraysize_info(field.arraysize)
        is_array, fixed = size.is_array, size.fixed
        if dt in ("char", "unicodeChar"):
            func = (
                "_uni" if dt == "unicodeChar" else "_ts" if field.xtype == "timestamp" else "_char"
            )
            limit = size.limit
            expr = f"{func}({v})" if limit is None else f"{func}({v}, {limit})"
        elif dt == "boolean" and not is_array:
            expr = f"'T' if {v} else 'F'"
        elif dt in _INTS and not is_array:
            expr = f"{v} if {v}.__class__ is int else _int({v})"
        elif dt == "double" and not is_array:
            expr = f"{v} if {v}.__class__ is float and {v} - {v} == 0 else _float({v})"
        elif dt == "float" and not is_array:
            expr = (
                f"{v} if {v}.__class__ is float and -FLT_MAX <= {v} <= FLT_MAX else _float32({v})"
            )
        elif dt in _INTS:
            ns[f"_arr{i}"] = _array_text(_int_text, fixed, size.bound, "0")
            expr = f"_arr{i}({v})"
        elif dt in _FLOATS:
            convert = _float32_text if dt == "float" else _float_text
            ns[f"_arr{i}"] = _array_text(convert, fixed, size.bound, "NaN")
            expr = f"_arr{i}({v})"
        else:
            raise ValueError(
                f"field {field.name!r}: datatype {dt!r} with arraysize {field.arraysize!r}"
                " is not supported by the TABLEDATA writer"
            )
        # NULL is an empty cell, except for fixed-size float arrays (votlint wants n NaNs)
        null_text = " ".join(["NaN"] * fixed) if dt in _FLOATS and fixed else ""
        exprs.append(f"{null_text!r} if {v} is None else ({expr})")
    template = "<TR>" + "<TD>%s</TD>" * len(fields) + "</TR>\n"
    ns["TPL"] = template
    unpack = ", ".join(f"v{i}" for i in range(len(fields)))
    source = "\n".join(
        [
            "def encode(rows):",
            "    out = []",
            "    append = out.append",
            "    for row in rows:",
            f"        {unpack}, = row",
            f"        append(TPL % ({', '.join(exprs)},))",
            "    return ''.join(out)",
        ]
    )
    exec(compile(source, "<tabledata encoder>", "exec"), ns)
    return ns["encode"]


@functools.lru_cache(maxsize=256)
def _cached_generate(fields: tuple[Field, ...]) -> Callable[[Sequence[Any]], str]:
    """Row encoder of a field list, generated once per list."""
    return _generate(fields)


class TabledataRows:
    """Encoder of rows to TABLEDATA ``<TR>`` elements (UTF-8 bytes) for a field list."""

    def __init__(self, fields: Sequence[Field]) -> None:
        if not fields:
            raise ValueError("a table needs at least one field")
        self.fields = tuple(fields)
        self._encode = _cached_generate(self.fields)

    def encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        """``<TR>`` elements of ``rows``; empty cells written ``<TD/>`` (NULL)."""
        return self._encode(rows).replace("<TD></TD>", "<TD/>").encode("utf-8")
