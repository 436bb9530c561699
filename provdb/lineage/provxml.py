"""ProvGraph -> PROV-XML through the ``prov`` library.

Same document as :func:`provdb.lineage.provjson.prov_document` (see there for the
namespaces, identifiers and the IVOA / W3C models), written by ``prov``'s PROV-XML
serialiser (needs lxml). Media type ``application/provenance+xml`` (ProvSAP also accepts
``application/xml`` and ``text/xml`` in RESPONSEFORMAT).
"""

from __future__ import annotations

from provdb.lineage.graph import ProvGraph
from provdb.lineage.provjson import DEFAULT_NAMESPACE, prov_document

__all__ = ["to_prov_xml"]


def to_prov_xml(
    graph: ProvGraph, *, model: str = "IVOA", namespace: str = DEFAULT_NAMESPACE
) -> bytes:
    """PROV-XML document of ``graph`` (UTF-8, with an XML declaration)."""
    import io

    doc = prov_document(graph, model=model, namespace=namespace)
    buffer = io.BytesIO()
    doc.serialize(buffer, format="xml")
    text = buffer.getvalue()
    # prov declares encoding='ASCII' (non-ASCII is written as character references)
    return text
