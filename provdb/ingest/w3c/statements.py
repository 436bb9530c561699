"""The neutral statement model the three W3C PROV readers produce and the mapper reads.

A document in any serialisation becomes a list of :class:`Stmt` (kind, identifier,
attribute pairs, line); qualified names are :class:`QName` resolved against the
document's (or bundle's) :class:`Namespaces`, and attribute keys of the PROV and voprov
namespaces are canonical (``prov:x`` / ``voprov:x``) whatever prefix the document used.
Also here: the statement kinds every reader must recognise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: W3C PROV namespace.
PROV_NS: Final = "http://www.w3.org/ns/prov#"
#: IVOA Provenance DM namespace as used by voprov.
VOPROV_NS: Final = "http://www.ivoa.net/documents/ProvenanceDM/index.html#"
_XSD_NS: Final = "http://www.w3.org/2001/XMLSchema#"
XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
PROV_NAMESPACES: Final = (PROV_NS, VOPROV_NS)


# ---------------------------------------------------------------------------------------
# Statement kinds
# ---------------------------------------------------------------------------------------

# element keyword -> (class used by the mapper, implied prov:type or None)
ELEMENT_KINDS: Final[dict[str, tuple[str, str | None]]] = {
    "entity": ("entity", None),
    "valueEntity": ("entity", "voprov:ValueEntity"),
    "datasetEntity": ("entity", "voprov:DatasetEntity"),
    "activity": ("activity", None),
    "agent": ("agent", None),
    "parameter": ("parameter", None),
    "configFile": ("configFile", None),
    "activityDescription": ("activityDescription", None),
    "usageDescription": ("usageDescription", None),
    "generationDescription": ("generationDescription", None),
    "entityDescription": ("entityDescription", None),
    "valueDescription": ("entityDescription", "voprov:ValueDescription"),
    "datasetDescription": ("entityDescription", "voprov:DatasetDescription"),
    "parameterDescription": ("parameterDescription", None),
    "configFileDescription": ("configFileDescription", None),
}

RELATION_KINDS: Final = frozenset(
    {
        "used",
        "wasGeneratedBy",
        "wasInformedBy",
        "wasStartedBy",
        "wasEndedBy",
        "wasInvalidatedBy",
        "wasDerivedFrom",
        "wasAttributedTo",
        "wasAssociatedWith",
        "actedOnBehalfOf",
        "wasInfluencedBy",
        "specializationOf",
        "alternateOf",
        "mentionOf",
        "hadMember",
        "isDescribedBy",
        "isRelatedTo",
        "wasConfiguredBy",
        "hadReference",
    }
)

# Formal attributes whose values are qualified names (references to other records).
_REF_ATTRS: Final = frozenset(
    {
        "entity",
        "activity",
        "agent",
        "informed",
        "informant",
        "trigger",
        "starter",
        "ender",
        "plan",
        "delegate",
        "responsible",
        "generatedEntity",
        "usedEntity",
        "generation",
        "usage",
        "collection",
        "influencee",
        "influencer",
        "specificEntity",
        "generalEntity",
        "alternate1",
        "alternate2",
        "bundle",
        "described",
        "descriptor",
        "related",
        "relator",
        "configured",
        "configurator",
        "referenced",
        "referrer",
    }
)


# ---------------------------------------------------------------------------------------
# Neutral statement model
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QName:
    """A qualified name as written (``prefix``/``local``) with its namespace URI if known."""

    prefix: str | None
    local: str
    uri: str | None

    @property
    def written(self) -> str:
        return f"{self.prefix}:{self.local}" if self.prefix else self.local

    @property
    def key(self) -> str:
        """Identity inside one document (two prefixes for one URI name the same thing)."""
        return self.uri + self.local if self.uri is not None else self.written


Value = str | QName


@dataclass(slots=True)
class Stmt:
    """One PROV statement as read: kind (keyword), identifier, attribute pairs, line."""

    kind: str
    ident: QName | None
    attrs: list[tuple[str, Value]]
    line: int | None


PREDEFINED: Final = {"prov": PROV_NS, "xsd": _XSD_NS, "xsi": XSI_NS}


class Namespaces:
    """Prefix map of a document or bundle (a bundle inherits its document's prefixes)."""

    def __init__(self, parent: Namespaces | None = None) -> None:
        self.prefixes: dict[str, str] = dict(parent.prefixes if parent else PREDEFINED)
        self.default: str | None = parent.default if parent else None

    def qname(self, text: str) -> QName:
        text = text.strip()
        if ":" in text:
            prefix, local = text.split(":", 1)
            return QName(prefix, local, self.prefixes.get(prefix))
        return QName(None, text, self.default)

    def key(self, text: str) -> str:
        q = self.qname(text)
        return canonical_key(q.prefix, q.local, q.uri)


def canonical_key(prefix: str | None, local: str, uri: str | None) -> str:
    """Attribute key: ``prov:x`` / ``voprov:x`` for the two PROV namespaces, else as written."""
    if uri == PROV_NS:
        return "prov:" + local
    if uri == VOPROV_NS:
        return "voprov:" + local
    return f"{prefix}:{local}" if prefix else local


def is_ref_key(key: str) -> bool:
    """Whether an attribute key is a formal PROV/voprov attribute naming another record."""
    prefix, _, local = key.partition(":")
    return prefix in ("prov", "voprov") and local in _REF_ATTRS


def value_text(value: Value) -> str:
    """An attribute value as text (a qualified name as written)."""
    return value.written if isinstance(value, QName) else value


def place(path: str, line: int | None) -> str:
    """``path:line`` for messages, or ``path`` when the line is unknown."""
    return f"{path}:{line}" if line is not None else path
