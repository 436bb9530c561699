"""A lineage in PROV-JSON: straight from the rows when the closure answers, else via the graph.

:func:`prov_json_answer` is what ProvSAP serves for ``RESPONSEFORMAT=PROV-JSON``. When
the lineage closure can answer the request (:mod:`provdb.lineage.closure_walk`) and the
model is IVOA, it fetches the same rows as :func:`~provdb.lineage.traverse.fill_graph`,
as tuples, and writes the document from them (:mod:`provdb.lineage.provjson_rows`);
otherwise (and for the rare shapes that writer leaves to the general path) it builds
the :class:`~provdb.lineage.graph.ProvGraph` and writes it with
:func:`~provdb.lineage.provjson.to_prov_json`. Both give the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provdb.cursor import cursor
from provdb.lineage.closure_walk import ClosureNodes
from provdb.lineage.graph import DESCRIPTION_CLASSES
from provdb.lineage.provjson import DEFAULT_NAMESPACE, to_prov_json
from provdb.lineage.provjson_rows import LineageRows
from provdb.lineage.traverse import (
    DEFAULT_LIMIT,
    by_id_query,
    fetch_rows,
    lineage_graph,
    node_queries,
    session_table,
    start_lineage,
)

__all__ = ["Answer", "from_rows", "prov_json_answer"]


@dataclass(frozen=True)
class Answer:
    """A PROV-JSON lineage document and what a ProvSAP response says about it.

    ``nodes``: entities, activities and agents in it; ``truncated``: cut at the node
    limit; ``fetched``: ``time.perf_counter()`` when the database part was over (the
    rest is writing), for ``Server-Timing``.
    """

    body: bytes
    nodes: int
    truncated: bool
    fetched: float


def prov_json_answer(
    conn: Any,
    ids: Sequence[str],
    *,
    depth: int | None = 1,
    direction: str = "BACK",
    agent: bool = False,
    members: bool = False,
    limit: int = DEFAULT_LIMIT,
    statement_timeout_ms: int | None = None,
    model: str = "IVOA",
    namespace: str = DEFAULT_NAMESPACE,
) -> Answer:
    """The PROV-JSON of the lineage of ``ids``: the bytes of
    ``to_prov_json(lineage(conn, ids, ...), model=model, namespace=namespace)``.

    Parameters and errors are those of :func:`provdb.lineage.traverse.lineage` (UnknownNode,
    ValueError) and :func:`~provdb.lineage.provjson.to_prov_json`.
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
    )
    if found is not None and model.upper() == "IVOA":
        answer = from_rows(conn, found, namespace)
        if answer is not None:
            return answer
    graph = lineage_graph(
        conn,
        roots,
        found,
        depth=depth,
        direction=direction,
        agent=agent,
        members=members,
        limit=limit,
    )
    fetched = time.perf_counter()
    body = to_prov_json(graph, model=model, namespace=namespace)
    return Answer(body, len(graph.nodes), graph.truncated, fetched)


def from_rows(conn: Any, found: ClosureNodes, namespace: str = DEFAULT_NAMESPACE) -> Answer | None:
    """The document written from the rows (the three round trips of ``fill_graph``), or
    ``None`` when the rows hold a shape left to the general path."""
    rows = LineageRows(found.levels, found.relations)
    ids = {"entity": rows.entity_ids, "activity": rows.activity_ids, "agent": []}
    queries = node_queries(ids, agents=True, skip=found.relations)
    with cursor(conn) as cur:
        first = dict(zip(queries, fetch_rows(cur, list(queries.values())), strict=True))
        if not rows.add_nodes(first):
            return None
        agent_ids, session_ids = rows.agent_ids(), rows.session_ids()
        second = []
        for table, wanted in (("provenance.agent", agent_ids), (session_table(), session_ids)):
            if wanted:
                second.append(by_id_query(table, wanted))
        got = iter(fetch_rows(cur, second)) if second else iter(())
        none: tuple[tuple[str, ...], list[tuple[Any, ...]]] = ((), [])
        agents = next(got) if agent_ids else none
        sessions = next(got) if session_ids else none
        rows.add_agents_and_sessions(agents, sessions)
        wanted_descriptions = rows.wanted_descriptions()
        names = list(wanted_descriptions)
        described = [
            by_id_query(f"provenance.{DESCRIPTION_CLASSES[name]}", wanted_descriptions[name])
            for name in names
        ]
        if described:
            rows.add_descriptions(dict(zip(names, fetch_rows(cur, described), strict=True)))
    fetched = time.perf_counter()
    body = rows.prov_json(namespace)
    if body is None:
        return None
    return Answer(body, rows.node_count(), False, fetched)
