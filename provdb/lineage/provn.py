"""ProvGraph -> PROV-N (W3C PROV Notation) through the ``prov`` library.

Same document as :func:`provdb.lineage.provjson.prov_document` (see there for the
namespaces, identifiers and the IVOA / W3C models), written by ``prov``'s PROV-N
serialiser. Media type ``text/provenance-notation``.
"""

from __future__ import annotations

from provdb.lineage.graph import ProvGraph
from provdb.lineage.provjson import DEFAULT_NAMESPACE, prov_document

__all__ = ["to_prov_n"]


def to_prov_n(
    graph: ProvGraph, *, model: str = "IVOA", namespace: str = DEFAULT_NAMESPACE
) -> bytes:
    """PROV-N text of ``graph``, UTF-8."""
    doc = prov_document(graph, model=model, namespace=namespace)
    return (doc.serialize(format="provn") + "\n").encode("utf-8")
