"""Value conversions shared by the writers: text of any value, timestamps, XML escaping.

Database drivers hand over Python objects (``str``, ``int``, ``float``, ``Decimal``,
``datetime``, ``dict``/``list`` from JSONB, ``UUID``, ``bytes`` ...). Every writer turns them
into the text or binary its format needs; the rules that are the same for all formats
live here so that a value reads the same whatever RESPONSEFORMAT was asked for.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

__all__ = [
    "ArraySize",
    "arraysize_info",
    "clean_text",
    "format_timestamp",
    "text",
    "xml_attr",
    "xml_text",
]

#: Characters XML 1.0 does not allow (controls except TAB/LF/CR, lone surrogates,
#: U+FFFE/U+FFFF) plus everything outside the Basic Multilingual Plane, which VOTable's
#: ``unicodeChar`` (UCS-2) cannot hold. All become U+FFFD; in ``char`` columns (ASCII)
#: that then becomes ``?``.
_BAD_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff\U00010000-\U0010ffff]"
)
_REPLACEMENT = "\ufffd"

_XML_TEXT_SPECIAL = re.compile("[&<>\r]")
_XML_TEXT_MAP = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_XML_ATTR_SPECIAL = re.compile('[&<>"\t\n\r]')
_XML_ATTR_MAP = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "\t": "&#9;",
    "\n": "&#10;",
    "\r": "&#13;",
}


def clean_text(value: str) -> str:
    """``value`` with characters XML 1.0 or UCS-2 cannot carry replaced by U+FFFD.

    Cheap for the common case: an ASCII string without control characters is returned
    as it is after two O(1)/C-speed checks.
    """
    if value.isascii() and value.isprintable():
        return value
    return _BAD_CHARS.sub(_REPLACEMENT, value)


def xml_text(value: str) -> str:
    """Escape ``value`` for XML element content (after :func:`clean_text`).

    ``&``, ``<``, ``>`` become entities, and CR becomes ``&#13;`` so that XML's line-end
    normalisation does not eat it.
    """
    value = clean_text(value)
    if _XML_TEXT_SPECIAL.search(value) is None:
        return value
    return _XML_TEXT_SPECIAL.sub(lambda m: _XML_TEXT_MAP[m.group()], value)


def xml_attr(value: str) -> str:
    """Escape ``value`` for a double-quoted XML attribute (whitespace kept as references)."""
    value = clean_text(value)
    if _XML_ATTR_SPECIAL.search(value) is None:
        return value
    return _XML_ATTR_SPECIAL.sub(lambda m: _XML_ATTR_MAP[m.group()], value)


def format_timestamp(value: Any) -> str:
    """DALI timestamp text: ``YYYY-MM-DDThh:mm:ss[.SSS]``, UTC, without a zone letter.

    ``datetime`` values with a zone are converted to UTC; naive ones are taken as UTC.
    Fractions of a second are truncated to milliseconds (taplint accepts at most three
    digits) and left out when zero. A ``date`` gives ``YYYY-MM-DD``; a string is parsed
    as ISO-8601 and rewritten when possible, else returned unchanged.
    """
    if value.__class__ is datetime and value.tzinfo is None:  # the common case, fast
        iso = value.isoformat()
        return iso[:23] if value.microsecond else iso
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        elif value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if len(value) <= 10 and "T" not in value and " " not in value:
            return parsed.date().isoformat()
        return format_timestamp(parsed)
    return text(value)


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def text(value: Any) -> str:
    """The text form of any database value (``None`` gives ``""``).

    JSON containers (PostgreSQL ``json``/``jsonb``) become compact JSON, datetimes DALI
    timestamps, bytes lower-case hex, booleans ``true``/``false``, non-finite floats
    ``NaN``/``+Inf``/``-Inf``; anything else ``str(value)``.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if isinstance(value, (datetime, date)):
        return format_timestamp(value)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


class ArraySize(NamedTuple):
    """A one-dimensional VOTable ``arraysize``."""

    is_array: bool
    fixed: int | None = None  # "n": exactly n
    bound: int | None = None  # "n*": at most n

    @property
    def limit(self) -> int | None:
        """Most elements allowed (1 for a scalar, None for unbounded)."""
        if not self.is_array:
            return 1
        return self.fixed if self.fixed is not None else self.bound


def arraysize_info(arraysize: str | None) -> ArraySize:
    """Parse a one-dimensional VOTable ``arraysize``.

    ``None`` → scalar; ``"*"`` → variable; ``"n*"`` → variable of at most n; ``"n"`` →
    fixed n. Multi-dimensional sizes raise ``ValueError``.
    """
    if arraysize is None or arraysize == "":
        return ArraySize(False)
    size = arraysize.strip()
    if "x" in size:
        raise ValueError(f"multi-dimensional arraysize {arraysize!r} is not supported")
    if size.endswith("*"):
        bound = size[:-1]
        if bound and not bound.isdigit():
            raise ValueError(f"bad arraysize {arraysize!r}")
        return ArraySize(True, None, int(bound) if bound else None)
    if not size.isdigit() or int(size) < 1:
        raise ValueError(f"bad arraysize {arraysize!r}")
    return ArraySize(True, int(size))
