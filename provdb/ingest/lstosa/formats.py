"""The three line formats of ``prov.log`` files: their prefixes, and recognising them.

lstosa writes ``<LEVEL> provLogger __PROV__<time>__PROV__<payload>``, logprov
``<LEVEL> _PROV_<time>_PROV_<payload>``, lstosa's run-wise ``*_prov.log`` one bare dict
per line (see :mod:`provdb.ingest.lstosa`).
"""

from __future__ import annotations

import re

from provdb.ingest.compression import decompress_head

LSTOSA_PREFIX = b"__PROV__"
"""Prefix of lstosa ``prov.log`` records (``logger.yaml`` ``PREFIX``)."""
LOGPROV_PREFIX = b"_PROV_"
"""Prefix of logprov records."""
BARE_DICT = b""
"""Pass as ``prefix`` for run-wise ``*_prov.log`` files: one bare dict per line."""


#: the format name of each prefix, as the reader reports it
PREFIX_TO_NAME = {LSTOSA_PREFIX: "lstosa", LOGPROV_PREFIX: "logprov", BARE_DICT: "run-wise"}


_DETECT_PREFIXED = re.compile(
    rb"^[A-Z]+ (?:provLogger )?(__PROV__|_PROV_)\d{4}-\d\d-\d\dT[\d:.]+\1\{"
)
_DETECT_LSTOSA_DIAG = re.compile(rb"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) provLogger \S")
_DETECT_BARE = re.compile(rb"^\{'(?:session_id|activity_id|entity_id)': ")


def detect(head: bytes) -> bool:
    """Tell whether the first bytes of a file look like a log this module parses.

    Parameters
    ----------
    head : bytes
        The first few kB of the file (gzip/bzip2/xz compressed heads are decompressed).
        The last line may be cut: lstosa session lines are ~20 kB long.

    Returns
    -------
    bool
        ``True`` for an lstosa ``prov.log`` (a ``... __PROV__<time>__PROV__{`` line, or
        ``<LEVEL> provLogger`` diagnostics only), a logprov log (``<LEVEL> _PROV_<time>_PROV_{``)
        or a run-wise lstosa ``*_prov.log`` (first line ``{'session_id': ...``,
        ``{'activity_id': ...`` or ``{'entity_id': ...``); ``False`` otherwise, e.g. for a
        ctapipe JSON provenance log or a PROV-JSON document.
    """
    head = decompress_head(head)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    lines = head.split(b"\n", 64)[:64]
    first = next((ln for ln in lines if ln.strip()), b"")
    if _DETECT_BARE.match(first.lstrip()):
        return True
    return any(_DETECT_PREFIXED.match(ln) or _DETECT_LSTOSA_DIAG.match(ln) for ln in lines)
