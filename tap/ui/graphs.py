"""Graphs of the UI pages: ProvSAP lineage, activity neighbourhoods, run summaries.

The graphs are built by :mod:`provdb.lineage` (one traversal, attributes in bulk) and
drawn by its SVG renderer, whose nodes link to ``<ui>/{kind}/{id}``.

A run's summary graph folds its subrun activities into one node per activity name and
its subrun files into one node per kind and folder, as lstosa's provprocess does, but
with stable ids (``runstep:<night>_<run>:<step>:activity:<name>``). Such a node's link
leads to the entity/activity page, which does not know the id and sends the browser to
the run page with the subrun detail (:func:`group_target`).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from provdb.lineage.graph import Edge, Node, ProvGraph

__all__ = [
    "activity_graph",
    "collapse_subruns",
    "group_target",
    "inline_svg",
    "is_subrun_entity",
]

GROUP_PREFIX = "runstep:"
_GROUP = re.compile(r"^runstep:(\d{8})_(\d+):([A-Za-z0-9_]+):(activity|entity):(.+)$")


def inline_svg(svg: bytes) -> str:
    """An SVG document as an element to put inside HTML (no XML declaration, DOCTYPE)."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def activity_graph(conn: Any, ident: str) -> ProvGraph:
    """The activity with what it used and generated (and its agents, informants)."""
    from provdb.lineage.traverse import fill_graph

    graph = ProvGraph(roots=[("activity", ident)], depth=1, direction="BACK", limit=1 << 30)
    graph.add_node(Node("activity", ident, level=0, start=True))
    linked = list(
        conn.execute(
            sa.text(
                "SELECT entity_id FROM provenance.used WHERE activity_id = :a "
                "UNION SELECT entity_id FROM provenance.wasgeneratedby WHERE activity_id = :a "
                "UNION SELECT informant_id FROM provenance.wasinformedby WHERE informed_id = :a "
                "UNION SELECT informed_id FROM provenance.wasinformedby WHERE informant_id = :a"
            ),
            {"a": ident},
        ).scalars()
    )
    activities = set(
        conn.execute(
            sa.text("SELECT id FROM provenance.activity WHERE id = ANY(:i)"), {"i": linked}
        ).scalars()
    )
    for other in linked:
        kind = "activity" if other in activities else "entity"
        graph.add_node(Node(kind, other, level=1))
    return fill_graph(conn, graph, agents=True)


def is_subrun_entity(node: Node) -> bool:
    """Files provprocess drops (archive.run_entity.subrun_level: name contains 'Subrun')."""
    return node.kind == "entity" and "Subrun" in str(node.attrs.get("name") or "")


def _folder(location: Any) -> str:
    text = str(location or "").rstrip("/")
    parent = text.rsplit("/", 1)[0] if "/" in text else ""
    return parent.rsplit("/", 1)[-1] if parent else ""


def collapse_subruns(graph: ProvGraph, run_id: str, step: str) -> ProvGraph:
    """One node per subrun activity name and per subrun file kind and folder."""
    subrun_entities = {n.key for n in graph.nodes.values() if is_subrun_entity(n)}
    subrun_activities: set[tuple[str, str]] = set()
    for edge in graph.edges:
        if edge.relation in ("used", "wasGeneratedBy"):
            act = edge.source_key if edge.relation == "used" else edge.target_key
            ent = edge.target_key if edge.relation == "used" else edge.source_key
            if ent in subrun_entities:
                subrun_activities.add(act)
    prefix = f"{GROUP_PREFIX}{run_id}:{step}:"
    members: dict[tuple[str, str], list[Node]] = {}
    mapping: dict[tuple[str, str], tuple[str, str]] = {}
    for node in graph.nodes.values():
        if node.key in subrun_activities:
            key = ("activity", f"{prefix}activity:{node.attrs.get('name') or 'activity'}")
        elif node.key in subrun_entities:
            folder = _folder(node.attrs.get("location"))
            key = ("entity", f"{prefix}entity:{node.attrs.get('name')}@{folder}")
        else:
            key = node.key
        mapping[node.key] = key
        members.setdefault(key, []).append(node)
    out = ProvGraph(
        roots=[],
        depth=graph.depth,
        direction=graph.direction,
        limit=graph.limit,
        truncated=graph.truncated,
        title=(graph.title or f"run {run_id}, step {step}") + " — subruns folded",
        descriptions=graph.descriptions,
    )
    for key, nodes in members.items():
        first = nodes[0]
        if key == first.key:
            out.add_node(Node(first.kind, first.id, dict(first.attrs), first.level, first.start))
            if first.kind == "activity":
                for store, target in (
                    (graph.parameters, out.parameters),
                    (graph.config_files, out.config_files),
                ):
                    if first.id in store:
                        target[first.id] = store[first.id]
                session = graph.session_of(first)
                if session:
                    out.sessions[first.attrs["session_id"]] = session
            continue
        name = first.attrs.get("name") or first.kind
        if first.kind == "activity":
            attrs = {"name": name, "original_id": f"{len(nodes)} subrun activities"}
        else:
            folder = _folder(first.attrs.get("location"))
            where = f" in {folder}" if folder else ""
            attrs = {"name": name, "location": f"{len(nodes)} files{where}"}
        out.add_node(Node(key[0], key[1], attrs, first.level))
    seen: set[tuple] = set()
    for edge in graph.edges:
        src, dst = mapping.get(edge.source_key), mapping.get(edge.target_key)
        if src is None or dst is None:
            continue
        role = edge.role
        ident = (edge.relation, src[1], dst[1], role)
        if ident in seen:
            continue
        seen.add(ident)
        attrs: tuple[tuple[str, Any], ...] = (("role", role),) if role else ()
        if src == edge.source_key and dst == edge.target_key:
            attrs = edge.attrs
        out.add_edge(Edge(edge.relation, src[1], dst[1], attrs, edge.row_id))
    return out.finish()


def group_target(ident: str) -> tuple[str, str, str] | None:
    """``(night, run, step)`` of a folded run node id, else ``None``."""
    m = _GROUP.match(ident)
    if m is None:
        return None
    return m.group(1), m.group(2), m.group(3)
