"""The W3C PROV reader under its former name: see :mod:`provdb.ingest.w3c`."""

from provdb.ingest.w3c import (
    FORMATS,
    PROV_NS,
    VOPROV_NS,
    detect,
    document_id,
    parse_bytes,
    parse_file,
)

__all__ = ["FORMATS", "PROV_NS", "VOPROV_NS", "detect", "document_id", "parse_bytes", "parse_file"]
