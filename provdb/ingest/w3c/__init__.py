"""Reader of W3C PROV documents (PROV-JSON, PROV-XML, PROV-N) into archive rows."""

from provdb.ingest.w3c.mapper import (
    FORMATS,
    PROV_NS,
    VOPROV_NS,
    detect,
    document_id,
    parse_bytes,
    parse_file,
)

__all__ = ["FORMATS", "PROV_NS", "VOPROV_NS", "detect", "document_id", "parse_bytes", "parse_file"]
