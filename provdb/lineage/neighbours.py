"""One step beyond a drawn graph: the neighbours of a node that a drawing does not show yet.

The UI draws a lineage graph of a chosen DEPTH; its viewer (``tap/ui/static/graph.js``)
can then *expand* a node: fetch the node's neighbours that are not drawn and add them.
Two questions, both set-based (one statement each, ids in arrays):

* :func:`unexplored` — for every node of a drawing, how many neighbours it has outside
  that drawing (the page marks those nodes as expandable);
* :func:`expand` — the neighbours of one node outside a drawing, cut at a node budget,
  as a :class:`~provdb.lineage.graph.ProvGraph` with their attributes, the relations
  between them and the drawn nodes, and the agents that come along (as ProvSAP does).

A step follows the relations of ProvSAP's walk (:mod:`provdb.lineage.traverse`):
``BACK`` towards progenitors, ``FORTH`` towards products, ``BOTH`` either way; an
agent's neighbours are the activities and entities it is responsible for, whatever the
direction. Agents reached from entities and activities are not counted as "more":
they come along with the nodes they belong to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from provdb.cursor import cursor
from provdb.lineage.graph import MORE_CAP, Node, ProvGraph
from provdb.lineage.traverse import UnknownNode, execute, fill_graph

__all__ = ["MORE_CAP", "STEP_DIRECTIONS", "Expansion", "expand", "unexplored"]

#: Directions of a step: ProvSAP's two, and both at once (activity and run pages).
STEP_DIRECTIONS = ("BACK", "FORTH", "BOTH")

_TOKEN = {"entity": "e", "activity": "a", "agent": "g"}
_KIND = {v: k for k, v in _TOKEN.items()}

# (from kind, table, from column, to kind, to column) of one relation followed one way
_BACK = (
    ("entity", "wasgeneratedby", "entity_id", "activity", "activity_id"),
    ("entity", "wasderivedfrom", "generated_entity_id", "entity", "used_entity_id"),
    ("activity", "used", "activity_id", "entity", "entity_id"),
    ("activity", "wasinformedby", "informed_id", "activity", "informant_id"),
)
_FORTH = (
    ("entity", "used", "entity_id", "activity", "activity_id"),
    ("entity", "wasderivedfrom", "used_entity_id", "entity", "generated_entity_id"),
    ("activity", "wasgeneratedby", "activity_id", "entity", "entity_id"),
    ("activity", "wasinformedby", "informant_id", "activity", "informed_id"),
)
_ALWAYS = (
    ("entity", "hadmember", "entity_id", "entity", "collection_id"),  # member -> collection
    ("agent", "wasassociatedwith", "agent_id", "activity", "activity_id"),
    ("agent", "wasattributedto", "agent_id", "entity", "entity_id"),
)


def _steps(direction: str) -> tuple[tuple[str, str, str, str, str], ...]:
    direction = direction.upper()
    if direction not in STEP_DIRECTIONS:
        choices = ", ".join(STEP_DIRECTIONS)
        raise ValueError(f"direction must be one of {choices}, not {direction!r}")
    back = _BACK if direction in ("BACK", "BOTH") else ()
    forth = _FORTH if direction in ("FORTH", "BOTH") else ()
    return back + forth + _ALWAYS


def _pairs_sql(direction: str) -> str:
    """UNION ALL of ``(f, t)`` node tokens, ``f`` among %(entity)s, %(activity)s, %(agent)s."""
    parts = [
        f"SELECT '{_TOKEN[fk]}' || x.{fc} AS f, '{_TOKEN[tk]}' || x.{tc} AS t "
        f"FROM provenance.{table} x WHERE x.{fc} = ANY(%({fk})s::text[])"
        for fk, table, fc, tk, tc in _steps(direction)
    ]
    return "\n  UNION ALL ".join(parts)


def _split(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {kind: [] for kind in _TOKEN}
    for kind, ident in keys:
        if kind in out:
            out[kind].append(ident)
    return {kind: sorted(set(ids)) for kind, ids in out.items()}


def _tokens(keys: Iterable[tuple[str, str]]) -> list[str]:
    return sorted({_TOKEN[k] + i for k, i in keys if k in _TOKEN})


def _capped_sql(direction: str) -> str:
    """Per node (a LATERAL of its own index lookups), at most ``%(raw)s`` link rows.

    The LIMIT stops each node's index scans early; it needs plain (not bitmap) index
    scans, which the ``(entity_id, activity_id)`` index of ``used`` gives (migration 0016).
    """
    parts = []
    for kind, token in _TOKEN.items():
        links = [
            f"SELECT '{_TOKEN[tk]}' || x.{tc} AS t FROM provenance.{table} x WHERE x.{fc} = k.id"
            for fk, table, fc, tk, tc in _steps(direction)
            if fk == kind
        ]
        if not links:
            continue
        union = "\n        UNION ALL ".join(links)
        parts.append(
            f"SELECT '{token}' || k.id AS f, p.t FROM unnest(%({kind})s::text[]) AS k(id)\n"
            f"  CROSS JOIN LATERAL (SELECT t FROM (\n        {union}) u\n"
            "    WHERE NOT (t = ANY(%(seen)s::text[])) LIMIT %(raw)s) p"
        )
    body = "\n  UNION ALL ".join(parts)
    return f"SELECT f, count(DISTINCT t), count(*) FROM (\n  {body}\n) p GROUP BY f"


def unexplored(
    conn: object,
    keys: Iterable[tuple[str, str]],
    direction: str,
    *,
    drawn: Iterable[tuple[str, str]] | None = None,
    cap: int = MORE_CAP,
) -> dict[tuple[str, str], int]:
    """How many neighbours each of ``keys`` has outside ``drawn`` (default: ``keys``).

    Only nodes with at least one such neighbour are in the answer. Ids the archive does
    not know (a run page's folded nodes) have none. Counts stop above ``cap``: a node
    with more neighbours than that (a calibration file every run of a night used, the
    agent of every activity) gets ``cap + 1``, so that a drawing's cost does not grow
    with the archive; :func:`expand` gives the exact number when asked.
    """
    keys = list(keys)
    seen = _tokens(keys if drawn is None else drawn)
    if not keys:
        return {}
    if cap < 1:
        raise ValueError("cap must be >= 1")
    # cap + 1 link rows decide "more than cap" unless some of them link the same pair
    # twice (roles, several relations): only such a node is counted again, exactly
    raw = cap + 1
    params = {**_split(keys), "seen": seen}
    out: dict[tuple[str, str], int] = {}
    unsure: list[tuple[str, str]] = []
    with cursor(conn) as cur:
        execute(cur, _capped_sql(direction), {**params, "raw": raw})
        for f, distinct, links in cur.fetchall():
            key = (_KIND[f[0]], f[1:])
            if distinct > cap:
                out[key] = cap + 1
            elif links >= raw:  # cut among repeated pairs: count this one exactly
                unsure.append(key)
            else:
                out[key] = int(distinct)
        if unsure:
            sql = (
                f"SELECT f, count(DISTINCT t) FROM (\n  {_pairs_sql(direction)}\n) p "
                "WHERE NOT (t = ANY(%(seen)s::text[])) GROUP BY f"
            )
            execute(cur, sql, {**_split(unsure), "seen": seen})
            for f, n in cur.fetchall():
                out[(_KIND[f[0]], f[1:])] = min(int(n), cap + 1)
    return out


@dataclass
class Expansion:
    """The answer of :func:`expand`.

    Attributes
    ----------
    node:
        The expanded node, with its attributes.
    graph:
        The expanded node, the new nodes and the drawn ones the archive knows, with every
        relation between them (read ``new`` for what to add).
    new:
        The nodes to add, in a stable order (kind, id): neighbours first, then the
        agents that come along.
    total:
        How many neighbours the node has outside the drawing.
    added:
        How many of them are in ``new`` (fewer than ``total`` when the budget ran out).
    more:
        For each new node, how many neighbours it has beyond the drawing grown by this
        expansion (only those with some).
    """

    node: Node
    graph: ProvGraph
    new: list[tuple[str, str]] = field(default_factory=list)
    total: int = 0
    added: int = 0
    more: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def cut(self) -> bool:
        """True when the budget left neighbours out."""
        return self.added < self.total


def _exists(conn: object, key: tuple[str, str]) -> bool:
    kind, ident = key
    with cursor(conn) as cur:
        execute(cur, f"SELECT 1 FROM provenance.{kind} WHERE id = %(i)s", {"i": ident})
        return cur.fetchone() is not None


def expand(
    conn: object,
    key: tuple[str, str],
    direction: str,
    *,
    drawn: Sequence[tuple[str, str]],
    budget: int,
) -> Expansion:
    """The neighbours of ``key`` that ``drawn`` lacks, at most ``budget`` new nodes.

    Neighbours are taken in (kind, id) order up to the budget; the agents of the new
    nodes come along while the budget lasts. A budget of 0 only counts them.

    Raises
    ------
    UnknownNode
        ``key`` names no node of the archive.
    ValueError
        A bad kind, direction or budget.
    """
    kind, ident = key
    if kind not in _TOKEN:
        raise ValueError(f"kind must be entity, activity or agent, not {kind!r}")
    if budget < 0:
        raise ValueError("budget must be >= 0")
    if not _exists(conn, key):
        raise UnknownNode([ident])
    have = set(drawn) | {key}
    sql = (
        f"SELECT DISTINCT t FROM (\n  {_pairs_sql(direction)}\n) p "
        "WHERE NOT (t = ANY(%(seen)s::text[])) ORDER BY t"
    )
    with cursor(conn) as cur:
        execute(cur, sql, {**_split([key]), "seen": _tokens(have)})
        found = [(_KIND[t[0]], t[1:]) for (t,) in cur.fetchall()]
    kept = found[:budget]
    graph = ProvGraph(roots=[key], depth=1, direction="BACK", limit=budget)
    graph.add_node(Node(kind, ident, level=0))
    for k in kept:
        graph.add_node(Node(k[0], k[1], level=1))
    for k in drawn:
        graph.add_node(Node(k[0], k[1]))
    fill_graph(conn, graph, agents=True)
    # agents of drawn nodes that the drawing left out are not this node's business:
    # only the agents of the node itself and of its new neighbours come along
    linked = set(kept) | {key}
    agents = sorted(
        {e.target_key for e in graph.edges if e.target_key[0] == "agent" and e.source_key in linked}
        - have
        - set(kept)
    )
    room = budget - len(kept)
    new = kept + agents[: max(room, 0)]
    keep = have | set(new)
    for k in [k for k in graph.nodes if k not in keep]:
        del graph.nodes[k]
    graph.edges = [e for e in graph.edges if e.source_key in keep and e.target_key in keep]
    new = [k for k in new if k in graph.nodes]
    more = unexplored(conn, new, direction, drawn=keep) if new else {}
    added = sum(1 for k in kept if k in graph.nodes)
    return Expansion(graph.nodes[key], graph, new, len(found), added, more)
