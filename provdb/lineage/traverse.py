"""ProvSAP lineage: walk the provenance graph in PostgreSQL, one relation per step.

:func:`lineage` answers a ProvSAP request (IDs, DEPTH, DIRECTION, AGENT, MEMBERS) with a
:class:`~provdb.lineage.graph.ProvGraph`. The walk is **one SQL statement**: a recursive
CTE that carries the whole frontier and the set of visited nodes from one level to the
next (breadth-first search), so that

* **DEPTH counts ProvSAP steps: one relation followed = one step**, whatever its type.
  From a DL1 file, DEPTH=1 reaches the activity that generated it (wasGeneratedBy) and
  the files it was derived from (wasDerivedFrom, a shortcut); DEPTH=2 adds the inputs
  that activity used; and so on. A node's ``level`` is its distance from the nearest
  start node. DEPTH=0 returns the start nodes only; DEPTH=ALL walks until nothing new
  is reached;
* it is **cycle safe**: a node is expanded once, at its first (shortest) level. lstosa's
  dl1ab uses and generates the same file: the loop is walked once and stops;
* it stops at the **node limit**: a level that would go past it is cut (in a stable order:
  level, then kind and id) and the graph says ``truncated``.

Which relations are followed (ProvSAP draft, §3 of ``ivoa-standards.md``):

=============  ============================================  ===========================
from           BACK (towards progenitors, the default)       FORTH (towards products)
=============  ============================================  ===========================
entity         wasGeneratedBy -> activity,                   used <- activity,
               wasDerivedFrom -> used entity                 wasDerivedFrom <- generated
activity       used -> entity, wasInformedBy -> informant    wasGeneratedBy <- entity,
                                                             wasInformedBy <- informed
=============  ============================================  ===========================

* hadMember is always followed upwards (member -> collection), and downwards
  (collection -> members) only with MEMBERS=true;
* the agents of every returned entity and activity (wasAttributedTo, wasAssociatedWith)
  are always returned, as terminal nodes outside the node limit; with AGENT=true agents
  are walked through as well (agent -> the activities and entities it is responsible
  for, one step each);
* the returned relations are **every relation between two returned nodes** (the induced
  subgraph), so a relation between two nodes reached along different paths is not lost.

Attached objects (parameters, config files, session context, descriptions) are fetched
in bulk (``= ANY(...)``) after the walk; see :mod:`provdb.lineage.graph`.

The functions take a psycopg 3 connection, a SQLAlchemy ``Connection`` or an ``Engine``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from provdb.cursor import cursor
from provdb.lineage.graph import DESCRIPTION_CLASSES, RELATIONS, Edge, Node, ProvGraph

if TYPE_CHECKING:  # closure_walk imports this module
    from provdb.lineage.closure_walk import ClosureNodes

__all__ = [
    "DEFAULT_LIMIT",
    "DIRECTIONS",
    "Rows",
    "UnknownNode",
    "as_dicts",
    "by_id_query",
    "check_lineage_request",
    "fetch_many",
    "fetch_rows",
    "fill_graph",
    "lineage",
    "lineage_graph",
    "node_queries",
    "resolve_ids",
    "session_table",
    "start_lineage",
    "text_array",
]

#: Default node limit (ProvSAP responses and the CLI).
DEFAULT_LIMIT = 1000
DIRECTIONS = ("BACK", "FORTH")

#: Identifier prefixes the serialisers write; accepted (and stripped) in IDs.
ID_PREFIXES = ("urn:provdb:", "provdb:")

_KIND_TOKEN = {"entity": "e", "activity": "a", "agent": "g"}
_TOKEN_KIND = {v: k for k, v in _KIND_TOKEN.items()}


class UnknownNode(LookupError):
    """An ID names no entity, activity or agent of the archive."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        listed = ", ".join(repr(i) for i in self.ids)
        super().__init__(
            f"no entity, activity or agent with id {listed} in the archive "
            "(ids are provdb's: an entity's md5 id or its location, an activity's "
            "'<id>@<start time>', an agent's name)"
        )


def session_table() -> str:
    """The fully qualified name of the session table (renamed by a migration: never hardcode)."""
    from provdb.schema import ProcessingSession

    return ProcessingSession.__table__.fullname


# ----------------------------------------------------------------------------- connection


def execute(cur: Any, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> None:
    """Run one statement, never as a server-side prepared statement.

    psycopg prepares a statement after 5 executions on a connection, and PostgreSQL then
    switches to a *generic* plan, which ignores the sizes of the id arrays: the walk of
    a 10M-relation archive went from 6 ms to 40 ms. A custom plan per call is cheap.
    """
    cur.execute(sql, params, prepare=False)


def text_array(values: Iterable[str]) -> str:
    """``values`` as one PostgreSQL array literal (``'{"a","b"}'``), for ``%(x)s::text[]``.

    psycopg dumps a Python list element by element in Python (a quoting check per
    string): for the few hundred ids of a lineage, each in several queries, that was
    ~5 ms of a ProvSAP answer; one string is passed as is.
    """
    return "{" + ",".join(_quoted(v) for v in values) + "}"


def _quoted(value: str) -> str:
    if "\\" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


def _rows(cur: Any, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict]:
    execute(cur, sql, params)
    if cur.description is None:
        return []
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# ----------------------------------------------------------------------------- ids


def _candidates(ident: str) -> list[str]:
    out = [ident]
    for prefix in ID_PREFIXES:
        if ident.startswith(prefix):
            out.append(ident[len(prefix) :])
    for value in list(out):
        if "%" in value:
            out.append(unquote(value))
    # PostgreSQL text cannot hold NUL (a decoded "%00" would fail the whole lookup with
    # an error) and no stored id contains one: such a candidate can only miss
    return [c for c in dict.fromkeys(out) if "\x00" not in c]


def resolve_ids(
    conn: Any, ids: Iterable[str], *, by_location: bool = True
) -> list[tuple[str, str]]:
    """The ``(kind, id)`` nodes named by ``ids``.

    An ID is looked up as an entity, activity and agent id (also without a ``provdb:`` /
    ``urn:provdb:`` prefix and percent-decoded, as the serialisers write them), then, if
    nothing matched and ``by_location``, as an entity location (a file path). One ID may
    name several nodes (an agent and an entity with the same id).

    Raises
    ------
    UnknownNode
        Listing every ID that matched nothing.
    """
    ids = [i for i in ids]
    found: list[tuple[str, str]] = []
    missing: list[str] = []
    with cursor(conn) as cur:
        for ident in ids:
            cands = _candidates(ident)
            execute(
                cur,
                "SELECT 'entity', id FROM provenance.entity WHERE id = ANY(%(c)s::text[]) "
                "UNION ALL SELECT 'activity', id FROM provenance.activity "
                "WHERE id = ANY(%(c)s::text[]) "
                "UNION ALL SELECT 'agent', id FROM provenance.agent WHERE id = ANY(%(c)s::text[])",
                {"c": cands},
            )
            hits = [(k, i) for k, i in cur.fetchall()]
            if not hits and by_location:
                execute(
                    cur,
                    "SELECT 'entity', id FROM provenance.entity "
                    "WHERE location = ANY(%(c)s::text[]) ORDER BY id",
                    {"c": cands},
                )
                hits = [(k, i) for k, i in cur.fetchall()]
            if not hits:
                missing.append(ident)
            found.extend(h for h in hits if h not in found)
    if missing:
        raise UnknownNode(missing)
    return found


# ----------------------------------------------------------------------------- the walk


def _step_sql(direction: str, *, agent: bool, members: bool) -> str:
    """SELECT of the node tokens one relation away from the frontier arrays fr.ents/acts/agts."""
    back = direction == "BACK"
    parts = []
    if back:
        parts += [
            "SELECT 'a' || x.activity_id FROM provenance.wasgeneratedby x "
            "WHERE x.entity_id = ANY(fr.ents)",
            "SELECT 'e' || x.used_entity_id FROM provenance.wasderivedfrom x "
            "WHERE x.generated_entity_id = ANY(fr.ents)",
            "SELECT 'e' || x.entity_id FROM provenance.used x WHERE x.activity_id = ANY(fr.acts)",
            "SELECT 'a' || x.informant_id FROM provenance.wasinformedby x "
            "WHERE x.informed_id = ANY(fr.acts)",
        ]
    else:
        parts += [
            "SELECT 'a' || x.activity_id FROM provenance.used x WHERE x.entity_id = ANY(fr.ents)",
            "SELECT 'e' || x.generated_entity_id FROM provenance.wasderivedfrom x "
            "WHERE x.used_entity_id = ANY(fr.ents)",
            "SELECT 'e' || x.entity_id FROM provenance.wasgeneratedby x "
            "WHERE x.activity_id = ANY(fr.acts)",
            "SELECT 'a' || x.informed_id FROM provenance.wasinformedby x "
            "WHERE x.informant_id = ANY(fr.acts)",
        ]
    # membership: always upwards, downwards on request
    parts.append(
        "SELECT 'e' || x.collection_id FROM provenance.hadmember x WHERE x.entity_id = ANY(fr.ents)"
    )
    if members:
        parts.append(
            "SELECT 'e' || x.entity_id FROM provenance.hadmember x "
            "WHERE x.collection_id = ANY(fr.ents)"
        )
    if agent:
        parts += [
            "SELECT 'g' || x.agent_id FROM provenance.wasassociatedwith x "
            "WHERE x.activity_id = ANY(fr.acts)",
            "SELECT 'g' || x.agent_id FROM provenance.wasattributedto x "
            "WHERE x.entity_id = ANY(fr.ents)",
            "SELECT 'a' || x.activity_id FROM provenance.wasassociatedwith x "
            "WHERE x.agent_id = ANY(fr.agts)",
            "SELECT 'e' || x.entity_id FROM provenance.wasattributedto x "
            "WHERE x.agent_id = ANY(fr.agts)",
        ]
    return "\n          UNION ".join(parts)


def walk_sql(direction: str, *, agent: bool, members: bool) -> str:
    """The recursive breadth-first walk.

    Parameters (psycopg, named): ``start`` (text[] of node tokens: ``'e'``, ``'a'`` or
    ``'g'`` followed by the id), ``depth`` (int; a large number for ALL), ``limit`` (int).
    Returns one row per level: ``(level, frontier text[], n_visited int)``.
    """
    step = _step_sql(direction, agent=agent, members=members)
    return f"""
WITH RECURSIVE walk(level, frontier, visited) AS (
    SELECT 0, %(start)s::text[], %(start)s::text[]
  UNION ALL
    SELECT w.level + 1, nx.next, w.visited || nx.next
    FROM walk w
    CROSS JOIN LATERAL (
        SELECT ARRAY(SELECT substr(f, 2) FROM unnest(w.frontier) f WHERE left(f, 1) = 'e') ents,
               ARRAY(SELECT substr(f, 2) FROM unnest(w.frontier) f WHERE left(f, 1) = 'a') acts,
               ARRAY(SELECT substr(f, 2) FROM unnest(w.frontier) f WHERE left(f, 1) = 'g') agts
    ) fr
    CROSS JOIN LATERAL (
        SELECT ARRAY(
            SELECT t FROM (
                SELECT t FROM (
          {step}
                ) reached(t)
                EXCEPT SELECT unnest(w.visited)
            ) fresh
            ORDER BY t
            LIMIT greatest(%(limit)s + 1 - cardinality(w.visited), 0)
        ) AS next
    ) nx
    WHERE cardinality(w.frontier) > 0 AND w.level < %(depth)s
      AND cardinality(w.visited) <= %(limit)s
)
SELECT level, frontier FROM walk ORDER BY level
"""


def lineage(
    conn: Any,
    ids: Sequence[str],
    *,
    depth: int | None = 1,
    direction: str = "BACK",
    agent: bool = False,
    members: bool = False,
    limit: int = DEFAULT_LIMIT,
    statement_timeout_ms: int | None = None,
    use_closure: bool = True,
) -> ProvGraph:
    """The provenance graph around ``ids`` (ProvSAP).

    Parameters
    ----------
    conn:
        psycopg 3 connection, SQLAlchemy Connection or Engine on the archive.
    ids:
        Entity, activity or agent ids (see :func:`resolve_ids`), at least one.
    depth:
        Relations to follow from the start nodes (``None``: ALL).
    direction:
        ``"BACK"`` (towards progenitors) or ``"FORTH"`` (towards products).
    agent:
        Also walk through agents (otherwise agents are returned as terminal nodes).
    members:
        Also walk from collections down to their members.
    limit:
        Most nodes (entities, activities, and agents reached by the walk) returned; the
        graph says ``truncated`` when more were reachable.
    statement_timeout_ms:
        PostgreSQL ``statement_timeout`` for the walk's queries (``None``: server default).
    use_closure:
        Take the nodes from the lineage closure when it can answer (entity start nodes,
        no AGENT/MEMBERS; checked, see :mod:`provdb.lineage.closure_walk`); ``False``
        always walks. Both give the same graph.

    Raises
    ------
    UnknownNode
        An id names nothing in the archive.
    ValueError
        A bad direction, depth or limit.
    """
    direction, roots, found = start_lineage(
        conn,
        ids,
        depth=depth,
        direction=direction,
        agent=agent,
        members=members,
        limit=limit,
        statement_timeout_ms=statement_timeout_ms,
        use_closure=use_closure,
    )
    return lineage_graph(
        conn,
        roots,
        found,
        depth=depth,
        direction=direction,
        agent=agent,
        members=members,
        limit=limit,
    )


def check_lineage_request(direction: str, depth: int | None, limit: int, ids: Sequence[str]) -> str:
    """Check a lineage request (:func:`lineage`'s parameters); the direction, upper case.

    Raises ValueError with a message on a bad direction, depth, limit or no id."""
    direction = direction.upper()
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be BACK or FORTH, not {direction!r}")
    if depth is not None and depth < 0:
        raise ValueError("depth must be >= 0")
    if limit < 1:
        raise ValueError("limit must be >= 1")
    if not ids:
        raise ValueError("at least one id is needed")
    return direction


def start_lineage(
    conn: Any,
    ids: Sequence[str],
    *,
    depth: int | None,
    direction: str,
    agent: bool,
    members: bool,
    limit: int,
    statement_timeout_ms: int | None,
    use_closure: bool = True,
) -> tuple[str, list[tuple[str, str]], ClosureNodes | None]:
    """What every lineage answer starts with (:func:`lineage`, the PROV-JSON answer of
    :mod:`provdb.lineage.provjson_answer`): check the request (ValueError), set the
    transaction's statement timeout, resolve ``ids`` (UnknownNode) and, with
    ``use_closure``, take the nodes from the lineage closure.

    Returns the direction (upper case), the resolved start nodes, and the closure's
    :class:`~provdb.lineage.closure_walk.ClosureNodes` (``None`` when it cannot answer,
    or without ``use_closure``), to hand to :func:`lineage_graph`.
    """
    direction = check_lineage_request(direction, depth, limit, ids)
    with cursor(conn) as cur:
        if statement_timeout_ms:
            cur.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
    roots = resolve_ids(conn, ids)
    if not use_closure:
        return direction, roots, None
    from provdb.lineage.closure_walk import closure_nodes  # it imports this module

    with cursor(conn) as cur:
        found = closure_nodes(
            cur,
            roots,
            direction=direction,
            depth=depth,
            agent=agent,
            members=members,
            limit=limit,
        )
    return direction, roots, found


def lineage_graph(
    conn: Any,
    roots: list[tuple[str, str]],
    found: ClosureNodes | None,
    *,
    depth: int | None,
    direction: str,
    agent: bool,
    members: bool,
    limit: int,
) -> ProvGraph:
    """The graph of a checked request from resolved ``roots``: its nodes from ``found``
    (:class:`~provdb.lineage.closure_walk.ClosureNodes`) or, when ``None``, by the
    recursive walk; then their attributes, relations and attached objects."""
    graph = ProvGraph(
        roots=roots,
        depth=depth,
        direction=direction,
        agent=agent,
        members=members,
        limit=limit,
    )
    if found is not None:
        # the walk's order: level, then kind and id
        for (kind, ident), level in sorted(
            found.levels.items(), key=lambda kv: (kv[1], _KIND_TOKEN[kv[0][0]], kv[0][1])
        ):
            graph.add_node(Node(kind, ident, level=level, start=level == 0))
        return fill_graph(conn, graph, agents=True, fetched=found.relations)
    start = sorted({_KIND_TOKEN[k] + i for k, i in roots})
    with cursor(conn) as cur:
        execute(
            cur,
            walk_sql(direction, agent=agent, members=members),
            {"start": start, "depth": 1 << 30 if depth is None else depth, "limit": limit},
        )
        levels = cur.fetchall()
    kept = 0
    for level, frontier in levels:
        for token in frontier:
            if kept >= limit and level > 0:
                graph.truncated = True
                break
            kind = _TOKEN_KIND[token[0]]
            graph.add_node(Node(kind, token[1:], level=level, start=level == 0))
            kept += 1
    fill_graph(conn, graph, agents=True)
    return graph


# ----------------------------------------------------------------------------- attributes


def _ids(graph: ProvGraph, kind: str) -> list[str]:
    return sorted(i for k, i in graph.nodes if k == kind)


#: A query's result as :func:`fetch_rows` returns it: the column names, and the rows as tuples.
Rows = tuple[tuple[str, ...], list[tuple[Any, ...]]]


def fetch_rows(cur: Any, queries: Sequence[tuple[str, dict[str, Any]]]) -> list[Rows]:
    """Run independent SELECTs in one round trip (psycopg pipeline); per query, its column
    names and its rows as tuples.

    A lineage needs a dozen queries; sent one after the other, each waited for the
    server's answer (and, on a busy machine, for the server process to be scheduled):
    pipelined, PostgreSQL runs them back to back. Results come in binary (timestamps
    decode faster; the Python values are the same).
    """
    conn = cur.connection
    cursors = []
    try:
        out: list[Rows] = []
        with conn.pipeline():
            for sql, params in queries:
                one = conn.cursor(binary=True)
                cursors.append(one)
                execute(one, sql, params)
            # fetched inside the pipeline: the first results are decoded here while
            # PostgreSQL still runs the last queries
            for one in cursors:
                rows = one.fetchall()
                out.append((tuple(d.name for d in one.description), rows))
        return out
    finally:
        for one in cursors:
            one.close()


def as_dicts(rows: Rows) -> list[dict[str, Any]]:
    """The rows of :func:`fetch_rows` as dicts (column name -> value)."""
    names, values = rows
    return [dict(zip(names, row, strict=True)) for row in values]


def fetch_many(cur: Any, queries: Sequence[tuple[str, dict[str, Any]]]) -> list[list[dict]]:
    """:func:`fetch_rows`, with the rows as dicts."""
    return [as_dicts(rows) for rows in fetch_rows(cur, queries)]


def node_queries(
    ids: dict[str, list[str]], *, agents: bool, skip: Iterable[str] = ()
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The first round trip of a graph's attributes: its nodes' rows, the relations between
    them (not those in ``skip``), parameters and config files; name -> (SQL, params).

    ``ids``: sorted ids per kind (``entity``, ``activity``, ``agent``). With ``agents``,
    the agent relations are those of every entity and activity, whatever the agent.
    """
    ents, acts = ids["entity"], ids["activity"]
    p = {"e": text_array(ents), "a": text_array(acts), "g": text_array(ids["agent"])}
    queries: dict[str, tuple[str, dict[str, Any]]] = {
        "entity": ("SELECT * FROM provenance.entity WHERE id = ANY(%(e)s::text[])", p),
        "activity": ("SELECT * FROM provenance.activity WHERE id = ANY(%(a)s::text[])", p),
    }
    if not agents:
        queries["agent"] = (_BY_ID.format("provenance.agent"), {"i": p["g"]})
    params = {"entity": "e", "activity": "a", "agent": "g"}
    skipped = set(skip)
    for relation, (src_kind, dst_kind, (src_col, dst_col), table) in RELATIONS.items():
        if relation in skipped:
            continue
        where = f"{src_col} = ANY(%({params[src_kind]})s::text[])"
        # with agents, every agent of the graph's nodes comes along (read from these rows)
        if not (agents and dst_kind == "agent"):
            where += f" AND {dst_col} = ANY(%({params[dst_kind]})s::text[])"
        queries[relation] = (f"SELECT * FROM provenance.{table} WHERE {where}", p)
    if acts:
        for name, table in (("parameter", "parameter"), ("configfile", "configfile")):
            queries[name] = (
                f"SELECT * FROM provenance.{table} WHERE activity_id = ANY(%(a)s::text[]) "
                "ORDER BY activity_id, name, id",
                p,
            )
    return queries


def by_id_query(table: str, ids: Iterable[str]) -> tuple[str, dict[str, Any]]:
    """``SELECT *`` of the rows of ``table`` (schema-qualified) with these ids."""
    return (_BY_ID.format(table), {"i": text_array(sorted(ids))})


_BY_ID = "SELECT * FROM {} WHERE id = ANY(%(i)s::text[])"


def fill_graph(
    conn: Any,
    graph: ProvGraph,
    *,
    agents: bool = True,
    fetched: dict[str, Rows] | None = None,
) -> ProvGraph:
    """Fetch, in bulk, the attributes, relations and attached objects of ``graph``'s nodes.

    Adds every relation between two nodes of the graph, and (``agents``) the agents of
    its entities and activities with their wasAttributedTo / wasAssociatedWith. Then the
    parameters, config files and sessions of the activities and every description
    object referenced. Nodes that the archive does not know are dropped. ``fetched``:
    rows (``SELECT *``) of some relations already read, a superset of those between the
    graph's nodes; those relations are not queried again.

    Up to three round trips (:func:`fetch_many`): everything that depends on the node ids
    only; the agents and sessions those rows name; the descriptions the rows reference.
    """
    fetched_rows = {name: as_dicts(rows) for name, rows in (fetched or {}).items()}
    ids = {kind: _ids(graph, kind) for kind in ("entity", "activity", "agent")}
    ents, acts = ids["entity"], ids["activity"]
    queries = node_queries(ids, agents=agents, skip=fetched_rows)
    with cursor(conn) as cur:
        rows = dict(zip(queries, fetch_many(cur, list(queries.values())), strict=True))
        # the agents and sessions the rows name, by id: a second round trip, cheaper for
        # PostgreSQL than finding them again from the activities and entities
        second: dict[str, tuple[str, dict[str, Any]]] = {}
        if agents:
            agent_ids = set(ids["agent"])
            act_set, ent_set = set(acts), set(ents)
            for relation, col, owners in (
                ("wasAssociatedWith", "activity_id", act_set),
                ("wasAttributedTo", "entity_id", ent_set),
            ):
                for row in fetched_rows.get(relation, rows.get(relation, ())):
                    if row[col] in owners:
                        agent_ids.add(row["agent_id"])
            if agent_ids:
                second["agent"] = by_id_query("provenance.agent", agent_ids)
            else:
                rows["agent"] = []
        session_ids = {row["session_id"] for row in rows["activity"] if row["session_id"]}
        if session_ids:
            second["session"] = by_id_query(session_table(), session_ids)
        if second:
            rows.update(zip(second, fetch_many(cur, list(second.values())), strict=True))

        # node attributes; nodes the archive does not know are dropped
        for kind in ("entity", "activity", "agent"):
            known = set()
            for row in rows[kind]:
                key = (kind, row["id"])
                node = graph.nodes.get(key) or graph.add_node(Node("agent", row["id"]))
                node.attrs.update({k: v for k, v in row.items() if v is not None and k != "id"})
                known.add(row["id"])
            for ident in set(ids[kind]) - known:
                del graph.nodes[(kind, ident)]
        ids = {kind: set(_ids(graph, kind)) for kind in ("entity", "activity", "agent")}

        # relations between returned nodes (the induced subgraph)
        for relation, (src_kind, dst_kind, (src_col, dst_col), _) in RELATIONS.items():
            src, dst = ids[src_kind], ids[dst_kind]
            relation_rows = fetched_rows.get(relation, rows.get(relation, ()))
            if not relation_rows:
                continue
            # the attribute columns, in the table's order (every row has the same keys)
            columns = [k for k in relation_rows[0] if k not in ("id", src_col, dst_col)]
            for row in relation_rows:
                source, target = row[src_col], row[dst_col]
                if source not in src or target not in dst:
                    continue
                attrs = tuple((k, row[k]) for k in columns if row[k] is not None)
                graph.add_edge(Edge(relation, source, target, attrs, row["id"]))

        known_acts = ids["activity"]
        for row in rows.get("parameter", ()):
            if row["activity_id"] in known_acts:
                graph.parameters.setdefault(row["activity_id"], []).append(_clean(row))
        for row in rows.get("configfile", ()):
            if row["activity_id"] in known_acts:
                graph.config_files.setdefault(row["activity_id"], []).append(_clean(row))
        for row in rows.get("session", ()):
            graph.sessions[row["id"]] = _clean(row)

        # descriptions referenced by nodes, relations, parameters and config files
        wanted: dict[str, set[str]] = {name: set() for name in DESCRIPTION_CLASSES}
        for node in graph.nodes.values():
            for name in ("activityDescription", "entityDescription"):
                ref = node.attrs.get(_desc_col(name))
                if ref:
                    wanted[name].add(ref)
        edge_refs = {_desc_col(n): n for n in ("usageDescription", "generationDescription")}
        for edge in graph.edges:
            for key, ref in edge.attrs:
                if ref and key in edge_refs:
                    wanted[edge_refs[key]].add(ref)
        for items_by_activity, name in (
            (graph.parameters, "parameterDescription"),
            (graph.config_files, "configFileDescription"),
        ):
            for items in items_by_activity.values():
                for item in items:
                    ref = item.get(_desc_col(name))
                    if ref:
                        wanted[name].add(ref)
        names = [name for name in DESCRIPTION_CLASSES if wanted[name]]
        described = [
            by_id_query(f"provenance.{DESCRIPTION_CLASSES[name]}", wanted[name]) for name in names
        ]
        found = fetch_many(cur, described) if described else []
        for name, description_rows in zip(names, found, strict=True):
            for row in description_rows:
                graph.descriptions[name][row["id"]] = _clean(row)
    return graph.finish()


@cache
def _desc_col(name: str) -> str:
    """Column referencing a description: activityDescription -> activity_description_id."""
    # cached: called for every node, relation and parameter of a graph
    out = "".join("_" + c.lower() if c.isupper() else c for c in name)
    return out + "_id"


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None}
