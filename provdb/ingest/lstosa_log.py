"""The lstosa ``prov.log`` reader under its former name: see :mod:`provdb.ingest.lstosa`."""

from provdb.ingest.lstosa import (
    BARE_DICT,
    LOGPROV_PREFIX,
    LSTOSA_PREFIX,
    LstosaLogItem,
    LstosaLogReader,
    detect,
    parse_file,
    parse_lines,
    parse_payload,
)

__all__ = [
    "BARE_DICT",
    "LOGPROV_PREFIX",
    "LSTOSA_PREFIX",
    "LstosaLogItem",
    "LstosaLogReader",
    "detect",
    "parse_file",
    "parse_lines",
    "parse_payload",
]
