"""PROV-XML reader: a PROV-XML document, in the W3C ``prov`` namespace or in voprov's
(``<voprov:document>``, ``voprov:id`` / ``voprov:ref``), into statements.

``bundleContent`` is flattened; subtype elements (``person``, ``plan``, ``wasRevisionOf``
...) become their base statement with the implied ``prov:type``. The parser resolves no
entities and loads no DTD or network resource. Pure: no database, no printing.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

from provdb.errors import ParseError
from provdb.ingest.w3c.statements import (
    ELEMENT_KINDS,
    PREDEFINED,
    PROV_NAMESPACES,
    PROV_NS,
    RELATION_KINDS,
    VOPROV_NS,
    XSI_NS,
    QName,
    Stmt,
    Value,
    canonical_key,
    is_ref_key,
    place,
)

# PROV-XML element names that are subtypes of a base record.
_XML_SUBTYPES: Final[dict[str, tuple[str, str]]] = {
    "person": ("agent", "prov:Person"),
    "organization": ("agent", "prov:Organization"),
    "softwareAgent": ("agent", "prov:SoftwareAgent"),
    "plan": ("entity", "prov:Plan"),
    "collection": ("entity", "prov:Collection"),
    "emptyCollection": ("entity", "prov:EmptyCollection"),
    "bundle": ("entity", "prov:Bundle"),
    "wasRevisionOf": ("wasDerivedFrom", "prov:Revision"),
    "wasQuotedFrom": ("wasDerivedFrom", "prov:Quotation"),
    "hadPrimarySource": ("wasDerivedFrom", "prov:PrimarySource"),
}


# ---------------------------------------------------------------------------------------
# PROV-XML reader
# ---------------------------------------------------------------------------------------


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )


def _xml_qname(element: etree._Element, text: str) -> QName:
    text = text.strip()
    nsmap = element.nsmap
    if ":" in text:
        prefix, local = text.split(":", 1)
        uri = nsmap.get(prefix)
        if uri is None:
            uri = PREDEFINED.get(prefix)
        return QName(prefix, local, uri)
    return QName(None, text, nsmap.get(None))


def _xml_attr(element: etree._Element, name: str) -> str | None:
    for ns in PROV_NAMESPACES:
        value = element.get(f"{{{ns}}}{name}")
        if value is not None:
            return value
    return None


class XmlReader:
    """Reads one PROV-XML document (bytes) into statements; ``read`` raises ParseError."""

    def __init__(self, data: bytes, path: str, warnings: list[str]) -> None:
        self.data = data
        self.path = path
        self.warnings = warnings

    def read(self) -> list[Stmt]:
        try:
            root = etree.fromstring(self.data, _xml_parser())
        except etree.XMLSyntaxError as exc:
            line = exc.lineno if exc.lineno else None
            raise ParseError(self.path, line, f"invalid XML: {exc.msg}") from None
        if root is None:
            raise ParseError(self.path, None, "invalid XML: empty document")
        qname = etree.QName(root)
        if qname.localname != "document" or qname.namespace not in PROV_NAMESPACES:
            raise ParseError(
                self.path,
                root.sourceline,
                f"root element is {root.tag!r}, not a PROV <document> "
                f"in the {PROV_NS} or {VOPROV_NS} namespace",
            )
        out: list[Stmt] = []
        self._container(root, out, nested=False)
        return out

    def _container(self, parent: etree._Element, out: list[Stmt], *, nested: bool) -> None:
        for element in parent:
            if not isinstance(element.tag, str):
                continue
            qname = etree.QName(element)
            where = place(self.path, element.sourceline)
            local = qname.localname
            if qname.namespace not in PROV_NAMESPACES:
                self.warnings.append(f"{where}: non-PROV element {element.tag!r} skipped")
                continue
            if local == "bundleContent":
                if nested:
                    self.warnings.append(f"{where}: nested bundle flattened")
                self._container(element, out, nested=True)
                continue
            if local == "other":
                self.warnings.append(f"{where}: <{local}> element skipped")
                continue
            implied: str | None = None
            if local in _XML_SUBTYPES:
                kind, implied = _XML_SUBTYPES[local]
            else:
                kind = local
            if kind not in ELEMENT_KINDS and kind not in RELATION_KINDS:
                self.warnings.append(f"{where}: unknown PROV-XML element <{local}> skipped")
                continue
            rec_id = _xml_attr(element, "id")
            ident = _xml_qname(element, rec_id) if rec_id else None
            attrs: list[tuple[str, Value]] = []
            if implied is not None:
                attrs.append(("prov:type", implied))
            xsi_type = element.get(f"{{{XSI_NS}}}type")
            if xsi_type is not None:
                attrs.append(("prov:type", xsi_type))
            for child in element:
                if not isinstance(child.tag, str):
                    continue
                attrs.extend(self._attribute(child))
            out.append(Stmt(kind, ident, attrs, element.sourceline))

    def _attribute(self, child: etree._Element) -> list[tuple[str, Value]]:
        cq = etree.QName(child)
        key = canonical_key(child.prefix, cq.localname, cq.namespace)
        ref = _xml_attr(child, "ref")
        if ref is None and len(child):
            # ProvToolbox style: the prov:ref sits on a single nested element
            for grandchild in child:
                if isinstance(grandchild.tag, str):
                    ref = _xml_attr(grandchild, "ref")
                    break
        if is_ref_key(key):
            target = ref if ref is not None else (child.text or "").strip()
            if not target:
                self.warnings.append(
                    f"{place(self.path, child.sourceline)}: <{key}> without a reference skipped"
                )
                return []
            return [(key, _xml_qname(child, target))]
        value = ref if ref is not None else "".join(child.itertext())
        return [(key, value)]
