"""ProvGraph -> Graphviz DOT text, with the W3C PROV styling and links to the UI.

The styling is the one of ``prov.dot`` (and so of lstosa's provprocess graphs, spec
§3.5): entities are yellow ellipses, activities blue boxes, agents orange houses;
``used`` edges are red and ``wasGeneratedBy`` edges green, both labelled with their role;
the other relations are labelled with their name. The layout runs bottom to top
(``rankdir=BT``): inputs above, products below, as time flows down.

Every node links to its page: ``url_pattern`` (default ``/ui/{kind}/{id}``) is formatted
with ``kind`` (``entity``, ``activity``, ``agent``) and the percent-encoded ``id``, so a
deployment under a prefix passes e.g. ``https://host/archive/ui/{kind}/{id}``. Node
tooltips carry the id, location, times, software version and parameters. A truncated
graph (node limit reached) says so in the graph's caption.

Pure text generation: no Graphviz needed (:mod:`provdb.lineage.svg` renders it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from provdb.lineage.graph import Edge, Node, ProvGraph

__all__ = [
    "DEFAULT_URL_PATTERN",
    "EDGE_STYLE",
    "NODE_STYLE",
    "edge_label",
    "node_label",
    "node_tooltip",
    "node_url",
    "to_dot",
]

DEFAULT_URL_PATTERN = "/ui/{kind}/{id}"

#: Node styles (as prov.dot).
NODE_STYLE: dict[str, dict[str, str]] = {
    "entity": {"shape": "ellipse", "style": "filled", "fillcolor": "#FFFC87", "color": "#808080"},
    "activity": {"shape": "box", "style": "filled", "fillcolor": "#9FB1FC", "color": "#0000FF"},
    "agent": {"shape": "house", "style": "filled", "fillcolor": "#FED37F", "color": "#000000"},
}
#: Edge styles (as prov.dot); ``label`` is the default label.
EDGE_STYLE: dict[str, dict[str, str]] = {
    "used": {"color": "#8B0000", "fontcolor": "#FF0000"},
    "wasGeneratedBy": {"color": "#006400", "fontcolor": "#006400"},
    "wasDerivedFrom": {"color": "#000000", "fontcolor": "#000000"},
    "wasAssociatedWith": {"color": "#FED37F", "fontcolor": "#000000"},
    "wasAttributedTo": {"color": "#FED37F", "fontcolor": "#000000"},
    "wasInformedBy": {"color": "#000000", "fontcolor": "#000000"},
    "hadMember": {"color": "#000000", "fontcolor": "#000000"},
}


def node_url(kind: str, ident: str, url_pattern: str = DEFAULT_URL_PATTERN) -> str:
    """The page of a node: ``url_pattern`` with ``{kind}`` and the percent-encoded ``{id}``."""
    return url_pattern.format(kind=kind, id=quote(ident, safe=""))


def node_label(node: Node) -> str:
    """Display label (lines separated by ``\\n``)."""
    a = node.attrs
    name = a.get("name")
    if node.kind == "entity":
        location = a.get("location")
        tail = str(location).rstrip("/").rsplit("/", 1)[-1] if location else None
        lines = [str(x) for x in (name, tail) if x]
        return "\n".join(lines) if lines else _short(node.id)
    if node.kind == "activity":
        short = a.get("original_id") or _short(node.id)
        return f"{name}\n{short}" if name else str(short)
    return str(name or node.id)


def _short(ident: str, width: int = 24) -> str:
    return ident if len(ident) <= width else ident[: width - 1] + "…"


def node_tooltip(node: Node, graph: ProvGraph) -> str:
    """Tooltip text: kind, id and the attributes a person looks for."""
    a = node.attrs
    lines = [f"{node.kind} {node.id}"]
    for key in ("name", "location", "type", "start_time", "end_time", "generated_at_time"):
        if a.get(key) is not None:
            lines.append(f"{key}: {a[key]}")
    if node.kind == "activity":
        session = graph.session_of(node)
        if session:
            for key in ("software_version", "observation_date", "observation_run"):
                if session.get(key):
                    lines.append(f"{key}: {session[key]}")
        for p in graph.parameters.get(node.id, [])[:20]:
            lines.append(f"{p['name']} = {p.get('parameter_value')}")
        for c in graph.config_files.get(node.id, [])[:5]:
            lines.append(f"config: {c.get('location') or c['name']}")
    if node.level is not None:
        lines.append(f"level: {node.level}")
    return "\n".join(lines)


def edge_label(edge: Edge) -> str:
    """``used`` and ``wasGeneratedBy`` edges show their role; others the relation name."""
    if edge.relation in ("used", "wasGeneratedBy", "wasAssociatedWith", "wasAttributedTo"):
        role = edge.role
        if role:
            return str(role)
    return edge.relation


def _q(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_q(v)}" for k, v in values.items())


def node_ids(graph: ProvGraph) -> dict[tuple[str, str], str]:
    """Short, stable DOT node names: ``e1``, ``a1``, ``g1`` ... in (kind, level, id) order."""
    out: dict[tuple[str, str], str] = {}
    for prefix, kind in (("e", "entity"), ("a", "activity"), ("g", "agent")):
        for i, node in enumerate(graph.of_kind(kind), 1):
            out[node.key] = f"{prefix}{i}"
    return out


def caption(graph: ProvGraph) -> str | None:
    parts = []
    if graph.title:
        parts.append(graph.title)
    if graph.truncated:
        parts.append(f"truncated: node limit {graph.limit} reached, more nodes are reachable")
    return " — ".join(parts) if parts else None


def to_dot(
    graph: ProvGraph,
    *,
    url_pattern: str = DEFAULT_URL_PATTERN,
    rankdir: str = "BT",
    name: str = "provenance",
) -> str:
    """DOT text of ``graph`` (nodes link to ``url_pattern``; see the module docstring)."""
    ids = node_ids(graph)
    lines = [
        f"digraph {_q(name)} {{",
        f'  graph [rankdir={rankdir}, fontname="Helvetica", fontsize="12"];',
        '  node [fontname="Helvetica", fontsize="11"];',
        '  edge [fontname="Helvetica", fontsize="9"];',
    ]
    cap = caption(graph)
    if cap:
        lines.append(f"  label={_q(cap)}; labelloc=t;")
    for kind in ("entity", "activity", "agent"):
        for node in graph.of_kind(kind):
            style = dict(NODE_STYLE[kind])
            if node.start:
                style["penwidth"] = "3"
            style.update(
                {
                    "label": node_label(node),
                    "URL": node_url(kind, node.id, url_pattern),
                    "target": "_top",
                    "tooltip": node_tooltip(node, graph),
                    "id": f"{kind}:{node.id}",
                }
            )
            lines.append(f"  {ids[node.key]} [{_attrs(style)}];")
    for edge in graph.edges:
        src, dst = ids.get(edge.source_key), ids.get(edge.target_key)
        if src is None or dst is None:
            continue
        style = dict(EDGE_STYLE[edge.relation])
        style["label"] = edge_label(edge)
        style["tooltip"] = edge.relation
        lines.append(f"  {src} -> {dst} [{_attrs(style)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
