"""Rejected lines as safe text: what ``archive.ingest_reject.raw_text`` holds.

A rejected line is kept byte for byte (``raw``); its text form is for reading in TAP
clients and the browser, where invalid UTF-8 and control characters would break a
VOTable, a CSV row or a terminal. Literal backslashes are kept as they are (lstosa lines
are Python literals full of them): the text is for display, ``raw`` is the evidence.
"""

from __future__ import annotations

__all__ = ["raw_text"]


def _escape(code: int) -> str:
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    if code in named:
        return named[code]
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


#: C0 controls, DEL and C1 controls -> their escape (NUL cannot be stored in PostgreSQL text)
_CONTROLS = {code: _escape(code) for code in (*range(0x20), *range(0x7F, 0xA0))}


def raw_text(raw: bytes) -> str:
    """The line as printable text.

    Invalid UTF-8 bytes become ``\\xNN`` (``backslashreplace``), control characters
    ``\\t``, ``\\r``, ``\\n`` or ``\\xNN`` (C1: ``\\u0080``...), everything else is kept.

    >>> raw_text(b"caf\\xe9\\x00\\tok \\xc3\\xa9")
    'caf\\\\xe9\\\\x00\\\\tok é'
    """
    return raw.decode("utf-8", "backslashreplace").translate(_CONTROLS)
