"""ProvGraph -> PROV-VOTABLE: one VOTable 1.4 document, one TABLE per ProvDM class.

PROV-VOTABLE is the ProvDAL/ProvSAP convention of serialising a provenance graph as a
VOTable with one TABLE per class and relation. provdb writes a single
``RESOURCE type="results"`` holding, in this order, the TABLEs ``activity``, ``entity``,
``agent`` (always present, possibly empty), then — only when they have rows — ``used``,
``wasGeneratedBy``, ``wasDerivedFrom``, ``wasAssociatedWith``, ``wasAttributedTo``,
``wasInformedBy``, ``hadMember``, ``parameter``, ``configFile``,
``activityDescription``, ``entityDescription``, ``usageDescription``,
``generationDescription``, ``parameterDescription``, ``configFileDescription`` and
``session``.

Every TABLE has the columns of the matching ProvTAP table (``provenance.<name>``; the
session table for ``session``) with their descriptions, UCDs and utypes taken from the
SQLAlchemy models, so a PROV-VOTABLE table reads like the result of
``SELECT * FROM provenance.<name>`` through TAP. The node tables add a column ``level``
(relations followed from the nearest start node; empty for agents that only come along).

INFOs: ``QUERY_STATUS`` = ``OK``, or ``OVERFLOW`` (after the tables, DALI style) when the
node limit truncated the graph; ``truncated`` (true/false, with a sentence),
``node_limit``, and the request (``ID``, ``DEPTH``, ``DIRECTION``, ``AGENT``,
``MEMBERS``). The document passes ``stilts votlint``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from provdb.lineage.graph import DESCRIPTION_CLASSES, RELATIONS, Node, ProvGraph
from provdb.votable import Field, TabledataRows, xml_attr, xml_text

__all__ = ["to_prov_votable"]

VOTABLE_NAMESPACE = "http://www.ivoa.net/xml/VOTable/v1.3"


def _fields(table: Any, extra: Sequence[Any] = ()) -> list[Any]:
    from provdb.schema.tap_schema import votable_type

    out = []
    for column in table.columns:
        datatype, arraysize, xtype = votable_type(column)
        info = column.info or {}
        out.append(
            Field(
                column.name,
                datatype,
                arraysize,
                xtype,
                ucd=info.get("ucd"),
                unit=info.get("unit"),
                utype=info.get("utype"),
                description=column.comment,
            )
        )
    out.extend(extra)
    return out


def _table_xml(
    name: str, utype: str | None, fields: list[Any], rows: Iterable[Sequence[Any]]
) -> str:

    parts = [f'<TABLE name="{xml_attr(name)}"']
    if utype:
        parts.append(f' utype="{xml_attr(utype)}"')
    parts.append(">\n")
    for f in fields:
        attrs = [f'name="{xml_attr(f.name)}"', f'datatype="{xml_attr(f.datatype)}"']
        for attr in ("arraysize", "xtype", "ucd", "unit", "utype"):
            value = getattr(f, attr)
            if value is not None:
                attrs.append(f'{attr}="{xml_attr(value)}"')
        start = "<FIELD " + " ".join(attrs)
        if f.description:
            parts.append(
                f"{start}>\n  <DESCRIPTION>{xml_text(f.description)}</DESCRIPTION>\n</FIELD>\n"
            )
        else:
            parts.append(start + "/>\n")
    parts.append("<DATA><TABLEDATA>\n")
    parts.append(TabledataRows(fields).encode(list(rows)).decode("utf-8"))
    parts.append("</TABLEDATA></DATA>\n</TABLE>\n")
    return "".join(parts)


def _info(name: str, value: str, text: str | None = None) -> str:

    start = f'<INFO name="{xml_attr(name)}" value="{xml_attr(value)}"'
    return start + "/>\n" if text is None else f"{start}>{xml_text(text)}</INFO>\n"


def _node_rows(nodes: list[Node], columns: list[str]) -> list[tuple]:
    rows = []
    for node in nodes:
        values = {**node.attrs, "id": node.id}
        rows.append((*(values.get(c) for c in columns), node.level))
    return rows


def to_prov_votable(graph: ProvGraph, *, request: dict[str, str] | None = None) -> bytes:
    """The PROV-VOTABLE document of ``graph`` (UTF-8).

    Parameters
    ----------
    request:
        Request parameters echoed as INFOs (name -> value), e.g. ``{"ID": ..., "DEPTH": ...}``.
    """
    from provdb.schema import Base, ProcessingSession

    tables = Base.metadata.tables
    level = Field(
        "level",
        "int",
        ucd="meta.number",
        description="Relations followed from the nearest start node (empty: an agent "
        "returned with an entity or activity)",
    )
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NAMESPACE}">\n',
        '<RESOURCE type="results" name="provenance">\n',
        "<DESCRIPTION>IVOA Provenance DM graph fragment (PROV-VOTABLE: one TABLE per "
        "class and relation)</DESCRIPTION>\n",
        _info("QUERY_STATUS", "OK"),
        _info("standardID", "ivo://ivoa.net/std/ProvenanceDM#ProvDAL-1.0"),
    ]
    for key, value in (request or {}).items():
        out.append(_info(key, str(value)))
    if graph.title:
        out.append(_info("title", graph.title))
    out.append(
        _info(
            "truncated",
            "true" if graph.truncated else "false",
            f"the node limit ({graph.limit}) was reached: more nodes are reachable"
            if graph.truncated
            else "every node reachable within DEPTH is returned",
        )
    )
    out.append(_info("node_limit", str(graph.limit)))

    for kind, utype in (
        ("activity", "voprov:Activity"),
        ("entity", "voprov:Entity"),
        ("agent", "voprov:Agent"),
    ):
        table = tables[f"provenance.{kind}"]
        fields = _fields(table, [level])
        columns = [c.name for c in table.columns]
        out.append(_table_xml(kind, utype, fields, _node_rows(graph.of_kind(kind), columns)))

    for relation, (_, _, (src_col, dst_col), name) in RELATIONS.items():
        edges = graph.edges_of(relation)
        if not edges:
            continue
        table = tables[f"provenance.{name}"]
        columns = [c.name for c in table.columns]
        rows = []
        for edge in edges:
            values = dict(edge.attrs)
            values.update({"id": edge.row_id, src_col: edge.source, dst_col: edge.target})
            rows.append(tuple(values.get(c) for c in columns))
        out.append(
            _table_xml(
                relation, f"voprov:{relation[0].upper()}{relation[1:]}", _fields(table), rows
            )
        )

    for name, table_name, source in (
        ("parameter", "parameter", graph.parameters),
        ("configFile", "configfile", graph.config_files),
    ):
        items = [row for key in sorted(source) for row in source[key]]
        if not items:
            continue
        table = tables[f"provenance.{table_name}"]
        columns = [c.name for c in table.columns]
        out.append(
            _table_xml(
                name,
                f"voprov:{name[0].upper()}{name[1:]}",
                _fields(table),
                [tuple(r.get(c) for c in columns) for r in items],
            )
        )

    for cls, table_name in DESCRIPTION_CLASSES.items():
        rows_by_id = graph.descriptions.get(cls) or {}
        if not rows_by_id:
            continue
        table = tables[f"provenance.{table_name}"]
        columns = [c.name for c in table.columns]
        out.append(
            _table_xml(
                cls,
                f"voprov:{cls[0].upper()}{cls[1:]}",
                _fields(table),
                [tuple(rows_by_id[i].get(c) for c in columns) for i in sorted(rows_by_id)],
            )
        )

    if graph.sessions:
        table = ProcessingSession.__table__
        columns = [c.name for c in table.columns]
        out.append(
            _table_xml(
                "session",
                None,
                _fields(table),
                [tuple(graph.sessions[i].get(c) for c in columns) for i in sorted(graph.sessions)],
            )
        )
    if graph.truncated:
        out.append(_info("QUERY_STATUS", "OVERFLOW"))
    out.append("</RESOURCE>\n</VOTABLE>\n")
    return "".join(out).encode("utf-8")
