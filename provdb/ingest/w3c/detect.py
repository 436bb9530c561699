"""Recognising a W3C PROV serialisation: from the first bytes of a file, else its suffix."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from provdb.ingest.compression import decompress_head
from provdb.ingest.w3c.statements import ELEMENT_KINDS, PROV_NS, RELATION_KINDS, VOPROV_NS

#: The format names :func:`detect` returns and :func:`~provdb.ingest.w3c.parse.parse_bytes` accepts.
FORMATS: Final = ("prov-json", "prov-xml", "prov-n")


#: How many bytes of a file :func:`detect` is given (it decompresses up to four times that).
HEAD_SIZE: Final = 8192


_JSON_KEY_RE: Final = re.compile(
    rb'"(?:prefix|bundle|'
    + "|".join(sorted(set(ELEMENT_KINDS) | set(RELATION_KINDS))).encode()
    + rb')"\s*:'
)
_XML_DOC_RE: Final = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?document[\s>/]")
_PROVN_COMMENT_RE: Final = re.compile(rb"(?:\s+|//[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)


def detect(head: bytes) -> str | None:
    """Recognise a W3C PROV serialisation from the first bytes of a file.

    Parameters
    ----------
    head
        The first few kilobytes of the file (more is fine). gzip, bzip2 and xz
        compressed heads are decompressed as far as they go.

    Returns
    -------
    str or None
        ``'prov-json'`` (a JSON object with a PROV-JSON top-level key such as ``prefix``,
        ``entity`` or ``activity``, or the empty object), ``'prov-xml'`` (an XML
        ``document`` element with the W3C PROV or voprov namespace), ``'prov-n'`` (text
        starting with the ``document`` keyword, comments allowed), or ``None``.
    """
    data = decompress_head(bytes(head), HEAD_SIZE * 4)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.lstrip()
    if text.startswith(b"{"):
        if _JSON_KEY_RE.search(text) or re.fullmatch(rb"\{\s*\}\s*", text):
            return "prov-json"
        return None
    if text.startswith(b"<"):
        if _XML_DOC_RE.search(text) and (PROV_NS.encode() in text or VOPROV_NS.encode() in text):
            return "prov-xml"
        return None
    m = _PROVN_COMMENT_RE.match(data)
    rest = data[m.end() :] if m else data
    if re.match(rb"document(?:\s|//|/\*|$)", rest):
        return "prov-n"
    return None


_SUFFIX_FORMATS: Final = {
    ".json": "prov-json",
    ".jsonld": None,
    ".xml": "prov-xml",
    ".provx": "prov-xml",
    ".provn": "prov-n",
    ".pn": "prov-n",
}


def format_from_suffix(path: Path) -> str | None:
    """The format a file name suggests (``.json``, ``.xml``/``.provx``, ``.provn``).

    Compression suffixes (``.gz``, ``.bz2``, ``.xz``) are looked through.
    """
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in (".gz", ".bz2", ".xz"):
        suffixes.pop()
    return _SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None
