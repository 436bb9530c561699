"""ProvGraph: a fragment of the archive's provenance graph, ready to serialise.

A :class:`ProvGraph` is what :func:`provdb.lineage.traverse.lineage` (ProvSAP) and
:func:`provdb.lineage.export.run_graph` (run-wise export) build, and what every
serialiser (PROV-JSON/N/XML, PROV-VOTABLE, DOT, SVG, the CLI tree) reads. It is plain
data: no database, no I/O.

* **Nodes** are the ProvDM core classes ``entity``, ``activity`` and ``agent``, keyed by
  ``(kind, id)``; their attributes are the archive's column values (``None`` dropped).
* **Edges** are the ProvDM relations, oriented as in PROV (first argument -> second):

  ============================  ===================  ===================
  relation                      source               target
  ============================  ===================  ===================
  ``used``                      activity             entity
  ``wasGeneratedBy``            entity               activity
  ``wasDerivedFrom``            generated entity     used entity
  ``wasAssociatedWith``         activity             agent
  ``wasAttributedTo``           entity               agent
  ``wasInformedBy``             informed activity    informant activity
  ``hadMember``                 collection           member entity
  ============================  ===================  ===================

* **Attached objects** come along with the node they belong to and are not nodes of the
  traversal (they neither count for DEPTH nor for the node limit): the parameters and
  configuration files of activities, the session context of activities (software
  version, night, run, configuration file: table ``archive`` session), and the
  description objects (activity, entity, usage, generation, parameter and configuration
  file descriptions) referenced by nodes, relations and parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DESCRIPTION_CLASSES",
    "MORE_CAP",
    "NODE_KINDS",
    "RELATIONS",
    "Edge",
    "Node",
    "ProvGraph",
]

#: The ProvDM core classes that are graph nodes.
NODE_KINDS = ("entity", "activity", "agent")

#: Most neighbours beyond a drawing counted for one node
#: (:func:`provdb.lineage.neighbours.unexplored`): a node with more is given
#: ``MORE_CAP + 1``, drawn as "more than 1000" (the user expands it to see them).
MORE_CAP = 1000

#: relation -> (kind of the source node, kind of the target node, (source col, target col),
#: archive table)
RELATIONS: dict[str, tuple[str, str, tuple[str, str], str]] = {
    "used": ("activity", "entity", ("activity_id", "entity_id"), "used"),
    "wasGeneratedBy": ("entity", "activity", ("entity_id", "activity_id"), "wasgeneratedby"),
    "wasDerivedFrom": (
        "entity",
        "entity",
        ("generated_entity_id", "used_entity_id"),
        "wasderivedfrom",
    ),
    "wasAssociatedWith": ("activity", "agent", ("activity_id", "agent_id"), "wasassociatedwith"),
    "wasAttributedTo": ("entity", "agent", ("entity_id", "agent_id"), "wasattributedto"),
    "wasInformedBy": ("activity", "activity", ("informed_id", "informant_id"), "wasinformedby"),
    "hadMember": ("entity", "entity", ("collection_id", "entity_id"), "hadmember"),
}

#: Description classes (ProvDM name -> archive table).
DESCRIPTION_CLASSES = {
    "activityDescription": "activitydescription",
    "entityDescription": "entitydescription",
    "usageDescription": "usagedescription",
    "generationDescription": "generationdescription",
    "parameterDescription": "parameterdescription",
    "configFileDescription": "configfiledescription",
}


@dataclass
class Node:
    """An entity, activity or agent with its archive attributes.

    ``level`` is the number of relations followed from the nearest start node (0 for the
    start nodes); ``None`` for agents that only come along with a returned node.
    """

    kind: str
    id: str
    attrs: dict[str, Any] = field(default_factory=dict)
    level: int | None = None
    start: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)

    @property
    def label(self) -> str:
        """A short human label: the name, else the last path component, else the id."""
        name = self.attrs.get("name")
        if self.kind == "entity":
            location = self.attrs.get("location")
            if location:
                tail = str(location).rstrip("/").rsplit("/", 1)[-1]
                return f"{name}\n{tail}" if name else tail
        if self.kind == "activity" and name:
            return str(name)
        return str(name) if name else self.id


@dataclass(frozen=True)
class Edge:
    """One relation between two nodes; ``attrs`` holds role, time, description ids."""

    relation: str
    source: str
    target: str
    attrs: tuple[tuple[str, Any], ...] = ()
    row_id: int | None = None

    @property
    def source_kind(self) -> str:
        return RELATIONS[self.relation][0]

    @property
    def target_kind(self) -> str:
        return RELATIONS[self.relation][1]

    @property
    def source_key(self) -> tuple[str, str]:
        return (self.source_kind, self.source)

    @property
    def target_key(self) -> tuple[str, str]:
        return (self.target_kind, self.target)

    def get(self, name: str, default: Any = None) -> Any:
        for key, value in self.attrs:
            if key == name:
                return value
        return default

    @property
    def role(self) -> str | None:
        return self.get("role")


@dataclass
class ProvGraph:
    """A provenance graph fragment plus the request that made it.

    Attributes
    ----------
    roots:
        The start nodes (``(kind, id)``) in request order.
    depth, direction, agent, members:
        The traversal request (``depth`` ``None`` = ALL).
    limit:
        The node limit; ``truncated`` is true when more nodes were reachable than it allows.
    title:
        Optional caption (the run-wise export names its run and step).
    """

    roots: list[tuple[str, str]] = field(default_factory=list)
    nodes: dict[tuple[str, str], Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    parameters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    config_files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    descriptions: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in DESCRIPTION_CLASSES}
    )
    depth: int | None = None
    direction: str = "BACK"
    agent: bool = False
    members: bool = False
    limit: int = 1000
    truncated: bool = False
    title: str | None = None

    # -- building ------------------------------------------------------------------------
    def add_node(self, node: Node) -> Node:
        existing = self.nodes.get(node.key)
        if existing is None:
            self.nodes[node.key] = node
            return node
        if node.level is not None and (existing.level is None or node.level < existing.level):
            existing.level = node.level
        existing.start = existing.start or node.start
        for key, value in node.attrs.items():
            existing.attrs.setdefault(key, value)
        return existing

    def add_edge(self, edge: Edge) -> None:
        self.edges.append(edge)

    def finish(self) -> ProvGraph:
        """Sort edges and drop duplicates (deterministic output for every serialiser).

        Order: relation (as :data:`RELATIONS`), source, target, then attributes and row
        id; an edge equal to an earlier one in relation, ends and attributes is dropped.
        """
        order = {name: i for i, name in enumerate(RELATIONS)}
        # sorted by relation and ends first: the attributes (made comparable as text, the
        # costly part of the key) only order the rare edges that share both ends
        edges = sorted(self.edges, key=lambda e: (order[e.relation], e.source, e.target))
        unique: list[Edge] = []
        previous = None
        group: list[Edge] = []
        for edge in edges:
            ends = (edge.relation, edge.source, edge.target)
            if ends != previous:
                _add_group(unique, group)
                group = []
                previous = ends
            group.append(edge)
        _add_group(unique, group)
        self.edges = unique
        return self

    # -- reading -------------------------------------------------------------------------
    def of_kind(self, kind: str) -> list[Node]:
        """Nodes of one kind, sorted by (level, id)."""
        found = [n for n in self.nodes.values() if n.kind == kind]
        return sorted(found, key=lambda n: (n.level if n.level is not None else 1 << 30, n.id))

    @property
    def entities(self) -> list[Node]:
        return self.of_kind("entity")

    @property
    def activities(self) -> list[Node]:
        return self.of_kind("activity")

    @property
    def agents(self) -> list[Node]:
        return self.of_kind("agent")

    def node(self, kind: str, ident: str) -> Node | None:
        return self.nodes.get((kind, ident))

    def edges_of(self, relation: str) -> list[Edge]:
        return [e for e in self.edges if e.relation == relation]

    def collections(self) -> set[str]:
        """Ids of the entities that are collections (have members, or say so)."""
        found = {e.source for e in self.edges if e.relation == "hadMember"}
        for node in self.entities:
            if str(node.attrs.get("entity_type") or "").endswith("Collection"):
                found.add(node.id)
        return found

    def session_of(self, activity: Node) -> dict[str, Any] | None:
        sid = activity.attrs.get("session_id")
        return self.sessions.get(sid) if sid else None

    def counts(self) -> dict[str, int]:
        """Nodes per kind and edges per relation (non-zero only)."""
        out: dict[str, int] = {}
        for kind in NODE_KINDS:
            n = sum(1 for k in self.nodes if k[0] == kind)
            if n:
                out[kind] = n
        for relation in RELATIONS:
            n = sum(1 for e in self.edges if e.relation == relation)
            if n:
                out[relation] = n
        return out

    def __len__(self) -> int:
        return len(self.nodes)


def _sortable(attrs: tuple[tuple[str, Any], ...]) -> tuple:
    return tuple((k, "" if v is None else str(v)) for k, v in attrs)


def _add_group(out: list[Edge], group: list[Edge]) -> None:
    """Append edges that share relation and ends: by attributes and row id, each
    distinct attribute tuple once."""
    if len(group) == 1:
        out.append(group[0])
        return
    seen: set[tuple] = set()
    for edge in sorted(group, key=lambda e: (_sortable(e.attrs), e.row_id or 0)):
        if edge.attrs not in seen:
            seen.add(edge.attrs)
            out.append(edge)


# ----------------------------------------------------------------------------- tree view


def _node_text(graph: ProvGraph, node: Node) -> Any:
    from rich.text import Text

    a = node.attrs
    colour = {"entity": "yellow", "activity": "bright_blue", "agent": "dark_orange"}[node.kind]
    text = Text()
    text.append(node.kind, style=f"bold {colour}")
    text.append(" ")
    if node.kind == "entity":
        text.append(str(a.get("name") or ""), style="bold")
        if a.get("location"):
            text.append(f"  {a['location']}")
        text.append(f"  [{node.id}]", style="dim")
    elif node.kind == "activity":
        text.append(str(a.get("name") or node.id), style="bold")
        text.append(f"  {node.id}", style="dim")
        if a.get("start_time"):
            text.append(
                f"  {a['start_time']:%Y-%m-%d %H:%M:%S}"
                if hasattr(a["start_time"], "strftime")
                else f"  {a['start_time']}"
            )
        session = graph.session_of(node)
        if session and session.get("software_version"):
            text.append(f"  software {session['software_version']}", style="green")
        params = graph.parameters.get(node.id)
        if params:
            shown = ", ".join(f"{p['name']}={p.get('parameter_value')}" for p in params[:4])
            more = f" (+{len(params) - 4})" if len(params) > 4 else ""
            text.append(f"  [{shown}{more}]", style="cyan")
    else:
        text.append(str(a.get("name") or node.id), style="bold")
    return text


def _edge_text(edge: Edge, forward: bool) -> str:
    role = edge.role
    arrow = "→" if forward else "←"
    return f"{arrow} {edge.relation}" + (f" ({role})" if role else "")


def rich_tree(graph: ProvGraph) -> Any:
    """A ``rich.tree.Tree`` of the walk: each node under the node it was reached from.

    A node reached from several nodes is shown in full the first time and as a
    reference afterwards; agents that only come along are listed under their nodes.
    """
    from rich.text import Text
    from rich.tree import Tree

    head = Text()
    head.append("lineage", style="bold")
    depth = "ALL" if graph.depth is None else str(graph.depth)
    head.append(f"  direction {graph.direction}, depth {depth}, {len(graph.nodes)} nodes")
    if graph.title:
        head.append(f"  {graph.title}")
    if graph.truncated:
        head.append(f"  TRUNCATED at the node limit {graph.limit}", style="bold red")
    root = Tree(head)
    # neighbours one level further, through any relation
    children: dict[tuple[str, str], list[tuple[Edge, tuple[str, str], bool]]] = {}
    for edge in graph.edges:
        for here, there, forward in (
            (edge.source_key, edge.target_key, True),
            (edge.target_key, edge.source_key, False),
        ):
            a, b = graph.nodes.get(here), graph.nodes.get(there)
            if a is None or b is None or a.level is None:
                continue
            if b.level == a.level + 1 or (b.level is None and b.kind == "agent"):
                children.setdefault(here, []).append((edge, there, forward))
    shown: set[tuple[str, str]] = set()
    # edges along the walk first: BACK reaches inputs through the PROV direction
    along = graph.direction != "FORTH"

    def add(branch: Any, key: tuple[str, str]) -> None:
        node = graph.nodes[key]
        if key in shown:
            branch.add(Text(f"{node.kind} {node.id} (shown above)", style="dim"))
            return
        shown.add(key)
        sub = branch.add(_node_text(graph, node))
        grouped: dict[tuple[str, str], list[tuple[Edge, bool]]] = {}
        for edge, there, forward in children.get(key, []):
            grouped.setdefault(there, []).append((edge, forward))
        order = sorted(
            grouped,
            key=lambda k: (k[0] == "agent", not any(f == along for _, f in grouped[k]), k[1]),
        )
        for there in order:
            edges = sorted(grouped[there], key=lambda ef: ef[1] != along)
            label = Text(", ".join(_edge_text(e, f) for e, f in edges), style="magenta")
            add(sub.add(label), there)

    for key in graph.roots:
        if key in graph.nodes:
            add(root, key)
    return root
