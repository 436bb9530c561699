"""Streaming reader of lstosa / logprov ``prov.log`` files."""

from provdb.ingest.lstosa.reader import (
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
