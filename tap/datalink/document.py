"""DataLink 1.1 ``{links}`` documents and service descriptors: pure writers.

A links document is a VOTable whose results table has the DataLink columns (ID,
access_url, service_def, error_message, semantics, description, content_type,
content_length, content_qualifier, local_semantics, link_auth, link_authorized) and
provdb's ``entity_id`` (the archive id of the product, referenced by the service
descriptors' ``ID`` input parameters), followed by one ``RESOURCE type="meta"
utype="adhoc:service"`` per service descriptor.

The same descriptor form makes TAP results "DataLink-aware"
(:func:`datalink_descriptor`): its ``ID`` parameter refers to the result column
holding product ids, so that TOPCAT and pyvo offer the links of any row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from provdb.votable.values import xml_attr, xml_text

__all__ = [
    "DATALINK_STANDARD_ID",
    "LINKS_CONTENT_TYPE",
    "Link",
    "ServiceDescriptor",
    "datalink_descriptor",
    "links_document",
]

DATALINK_STANDARD_ID = "ivo://ivoa.net/std/DataLink#links-1.1"
LINKS_CONTENT_TYPE = "application/x-votable+xml;content=datalink"
_NS = "http://www.ivoa.net/xml/VOTable/v1.3"

#: (name, datatype, arraysize, ucd, unit) of the DataLink 1.1 columns, in order
_COLUMNS = (
    ("ID", "char", "*", "meta.id;meta.main", None),
    ("access_url", "char", "*", "meta.ref.url", None),
    ("service_def", "char", "*", "meta.ref", None),
    ("error_message", "char", "*", "meta.code.error", None),
    ("semantics", "char", "*", "meta.code", None),
    ("description", "unicodeChar", "*", "meta.note", None),
    ("content_type", "char", "*", "meta.code.mime", None),
    ("content_length", "long", None, "phys.size;meta.file", "byte"),
    ("content_qualifier", "char", "*", "meta.code.class", None),
    ("local_semantics", "char", "*", "meta.code", None),
    ("link_auth", "char", "*", "meta.code", None),
    ("link_authorized", "boolean", None, "meta.code", None),
    ("entity_id", "char", "*", "meta.id", None),
)
#: XML ID of the entity_id FIELD (service descriptors' ID parameters refer to it)
ENTITY_FIELD_ID = "entity_id"


@dataclass(frozen=True)
class Link:
    """One row of a links document: exactly one of access_url, service_def,
    error_message is set."""

    id: str
    semantics: str
    access_url: str | None = None
    service_def: str | None = None
    error_message: str | None = None
    description: str | None = None
    content_type: str | None = None
    content_length: int | None = None
    local_semantics: str | None = None
    entity_id: str | None = None


@dataclass(frozen=True)
class ServiceDescriptor:
    """A ``RESOURCE type="meta" utype="adhoc:service"``.

    ``id_ref``: XML ID of the FIELD whose value is sent as the ``ID`` parameter;
    ``fixed``: parameters with a fixed value (``RESPONSEFORMAT=SVG``).
    """

    xml_id: str
    name: str
    access_url: str
    description: str
    standard_id: str | None = None
    id_ref: str = ENTITY_FIELD_ID
    id_param: str = "ID"
    fixed: tuple[tuple[str, str], ...] = ()


def _param(name: str, value: str, ref: str | None = None) -> str:
    ref_attr = f' ref="{xml_attr(ref)}"' if ref else ""
    return (
        f'<PARAM name="{xml_attr(name)}" datatype="char" arraysize="*" '
        f'value="{xml_attr(value)}"{ref_attr}/>\n'
    )


def _descriptor(sd: ServiceDescriptor) -> str:
    parts = [
        f'<RESOURCE type="meta" utype="adhoc:service" ID="{xml_attr(sd.xml_id)}" '
        f'name="{xml_attr(sd.name)}">\n',
        f"<DESCRIPTION>{xml_text(sd.description)}</DESCRIPTION>\n",
        _param("accessURL", sd.access_url),
    ]
    if sd.standard_id:
        parts.append(_param("standardID", sd.standard_id))
    parts.append('<GROUP name="inputParams">\n')
    parts.append(_param(sd.id_param, "", sd.id_ref))
    for name, value in sd.fixed:
        parts.append(_param(name, value))
    parts.append("</GROUP>\n</RESOURCE>\n")
    return "".join(parts)


def datalink_descriptor(links_url: str, id_ref: str) -> str:
    """The DataLink service descriptor that TAP results carry (after their results
    RESOURCE): ``ID`` is the value of the FIELD whose XML ID is ``id_ref``."""
    return _descriptor(
        ServiceDescriptor(
            xml_id="datalink",
            name="DataLink",
            access_url=links_url,
            description="DataLink 1.1 links of the product in this row: the file, its "
            "inputs (#progenitor), its outputs (#derivation), its provenance",
            standard_id=DATALINK_STANDARD_ID,
            id_ref=id_ref,
        )
    )


def _cell(value: object) -> str:
    if value is None:
        return "<TD/>"
    if isinstance(value, bool):
        return f"<TD>{'T' if value else 'F'}</TD>"
    return f"<TD>{xml_text(str(value))}</TD>"


def _field(name: str, datatype: str, arraysize: str | None, ucd: str, unit: str | None) -> str:
    attrs = f'name="{name}" datatype="{datatype}"'
    if arraysize:
        attrs += f' arraysize="{arraysize}"'
    attrs += f' ucd="{ucd}"'
    if unit:
        attrs += f' unit="{unit}"'
    if name == ENTITY_FIELD_ID:
        attrs += f' ID="{ENTITY_FIELD_ID}"'
    return f"<FIELD {attrs}/>\n"


def links_document(links: Iterable[Link], descriptors: Sequence[ServiceDescriptor]) -> bytes:
    """The VOTable of a ``{links}`` response."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<VOTABLE version="1.4" xmlns="{_NS}">\n',
        '<RESOURCE type="results">\n',
        '<INFO name="QUERY_STATUS" value="OK"/>\n',
        f'<INFO name="standardID" value="{DATALINK_STANDARD_ID}"/>\n',
        "<TABLE>\n",
        *(_field(*c) for c in _COLUMNS),
        "<DATA><TABLEDATA>\n",
    ]
    for link in links:
        values = (
            link.id,
            link.access_url,
            link.service_def,
            link.error_message,
            link.semantics,
            link.description,
            link.content_type,
            link.content_length,
            None,
            link.local_semantics,
            None,
            None,
            link.entity_id,
        )
        parts.append("<TR>" + "".join(_cell(v) for v in values) + "</TR>\n")
    parts.append("</TABLEDATA></DATA>\n</TABLE>\n</RESOURCE>\n")
    parts.extend(_descriptor(sd) for sd in descriptors)
    parts.append("</VOTABLE>\n")
    return "".join(parts).encode("utf-8")
