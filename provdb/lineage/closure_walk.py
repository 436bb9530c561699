"""ProvSAP's node set from the lineage closure (``archive.lineage``), checked, in a few queries.

:func:`provdb.lineage.traverse.lineage` walks the graph with one recursive statement; on
a year archive its DEPTH=ALL walk of a DL3 file (256 ancestor entities, 366 activities)
took ~40 ms of PostgreSQL time, level after level. The closure already holds every
ancestor entity of every entity (:mod:`provdb.lineage.closure`), so :func:`closure_nodes`
takes the *candidate* entities from it in one index scan, fetches the relations that the
walk follows between them in a few set-based queries (``= ANY(...)``), and runs the
breadth-first search in Python over those rows: levels, DEPTH and the walk's relations
are exactly the walk's.

The closure is only trusted where it is checked. It answers nothing (``None``: the
caller walks instead) when

* a node the search expands has a neighbour that is not a candidate: the closure is
  missing (a bulk-loaded archive, ``bench_lineage.py --no-closure``) or stale for it;
* the candidates touch relations the closure does not cover (hadMember towards a
  collection, wasInformedBy), or a closure row is at its depth bound (``MAX_DEPTH``);
* the request is not one it covers: a start node that is not an entity, AGENT=TRUE,
  MEMBERS=TRUE, or more nodes than the node limit (the walk cuts a level in its own
  stable order).

Relations followed (as the walk's, :mod:`provdb.lineage.traverse`): BACK, entity ->
wasGeneratedBy -> activity, entity -> wasDerivedFrom -> entity, activity -> used ->
entity; FORTH the reverse. The rows fetched are returned too, so that
:func:`~provdb.lineage.traverse.fill_graph` does not fetch them again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from provdb.lineage.closure import MAX_DEPTH
from provdb.lineage.traverse import Rows, fetch_rows, text_array

__all__ = ["ClosureNodes", "closure_nodes"]


@dataclass
class ClosureNodes:
    """What :func:`closure_nodes` found.

    ``levels``: ``(kind, id)`` -> level (relations from the nearest start node);
    ``relations``: relation name -> archive rows (``SELECT *``, as
    :func:`~provdb.lineage.traverse.fetch_rows` returns them) fetched for the candidates,
    a superset of the rows between returned nodes.
    """

    levels: dict[tuple[str, str], int] = field(default_factory=dict)
    relations: dict[str, Rows] = field(default_factory=dict)


def _candidates_sql(direction: str, depth: int | None) -> tuple[str, str]:
    """The candidate query (each closure row: its id and whether it is at the depth bound)
    and the SQL array expression of the same candidates, start entities included.

    The array expression lets the relation queries go in the same round trip as the
    candidate query; it is empty when the closure holds ``%(cap)s`` (the node limit + 1)
    or more candidates, so that a lineage too large for the closure path (the caller
    then walks) costs the relation queries nothing.
    """
    mine, other = ("entity_id", "ancestor_id")
    if direction != "BACK":
        mine, other = other, mine
    # an entity at ProvSAP level L is at most L derivation steps away: DEPTH bounds it
    bound = "" if depth is None else " AND depth <= %(depth)s"
    where = f"FROM archive.lineage WHERE {mine} = ANY(%(roots)s::text[]){bound}"
    rows_sql = f"SELECT DISTINCT {other} AS id, depth >= %(max)s AS at_bound {where}"
    # past the node limit the closure path gives up: the relation queries then get no ids
    array_sql = (
        f"(SELECT CASE WHEN cardinality(c.ids) < %(cap)s THEN c.ids || %(roots)s::text[] "
        f"ELSE '{{}}'::text[] END FROM (SELECT ARRAY(SELECT DISTINCT {other} {where} "
        "LIMIT %(cap)s) AS ids) AS c)::text[]"  # the cast: an array, not ANY(subquery)
    )
    return rows_sql, array_sql


def _candidates(rows: list[tuple[str, bool]], roots: list[str], limit: int) -> list[str] | None:
    """The start entities and their closure ancestors (BACK) or descendants (FORTH), from
    the candidate query's rows (id, at bound); ``None`` when the closure cannot answer."""
    found = set(roots)
    for ident, at_bound in rows:
        if at_bound:
            return None  # the closure stopped there: the chain may go on
        found.add(ident)
    if len(found) > limit:
        return None  # more candidates than the limit: the walk truncates in its own order
    return sorted(found)


def closure_nodes(
    cur: Any,
    roots: Sequence[tuple[str, str]],
    *,
    direction: str,
    depth: int | None,
    agent: bool,
    members: bool,
    limit: int,
) -> ClosureNodes | None:
    """The nodes the ProvSAP walk would return, from the closure; ``None`` if it cannot say.

    Parameters are those of :func:`provdb.lineage.traverse.lineage` (``roots``: resolved
    ``(kind, id)`` start nodes; ``cur``: a psycopg cursor). See the module docstring for
    when the answer is ``None``.
    """
    if agent or members or not roots or any(kind != "entity" for kind, _ in roots):
        return None
    starts = sorted({ident for _, ident in roots})
    rows_sql, e = _candidates_sql(direction, depth)
    p = {"roots": text_array(starts), "depth": depth, "max": MAX_DEPTH, "cap": limit + 1}
    back = direction == "BACK"
    # "= ANY(ARRAY(subquery))", not "IN (subquery)": the planner made the latter a hash
    # semi-join over the whole of provenance.used (250 ms on the year archive)
    if back:
        # activities: those that generated a candidate
        of_ents = f"FROM provenance.wasgeneratedby WHERE entity_id = ANY({e})"
        acts = f"SELECT activity_id {of_ents}"
        generated_sql = f"SELECT * {of_ents}"
        used_sql = f"SELECT * FROM provenance.used WHERE activity_id = ANY(ARRAY({acts}))"
        derived_sql = (
            f"SELECT * FROM provenance.wasderivedfrom WHERE generated_entity_id = ANY({e})"
        )
        informed_col = "informed_id"
    else:
        # activities: those that used a candidate
        acts = f"SELECT activity_id FROM provenance.used WHERE entity_id = ANY({e})"
        used_sql = f"SELECT * FROM provenance.used WHERE entity_id = ANY({e})"
        generated_sql = (
            f"SELECT * FROM provenance.wasgeneratedby WHERE activity_id = ANY(ARRAY({acts}))"
        )
        derived_sql = f"SELECT * FROM provenance.wasderivedfrom WHERE used_entity_id = ANY({e})"
        informed_col = "informant_id"
    # relations the closure does not cover, which the walk would follow from these nodes
    uncovered_sql = (
        "SELECT 1 AS hit WHERE EXISTS (SELECT 1 FROM provenance.hadmember "
        f"WHERE entity_id = ANY({e})) OR EXISTS (SELECT 1 FROM "
        f"provenance.wasinformedby WHERE {informed_col} = ANY(ARRAY({acts})))"
    )
    # one round trip: the candidates, and the relations of the same candidates
    found, generated, used, derived, uncovered = fetch_rows(
        cur,
        [(q, p) for q in (rows_sql, generated_sql, used_sql, derived_sql, uncovered_sql)],
    )
    ents = _candidates(found[1], starts, limit)
    if ents is None or uncovered[1]:
        return None

    # adjacency of the walk's steps, in its direction
    step: dict[tuple[str, str], set[tuple[str, str]]] = {}
    e_col, a_col = _columns(generated, "entity_id", "activity_id")
    for r in generated[1]:
        ent, act = ("entity", r[e_col]), ("activity", r[a_col])
        if back:
            step.setdefault(ent, set()).add(act)
        else:
            step.setdefault(act, set()).add(ent)
    a_col, e_col = _columns(used, "activity_id", "entity_id")
    for r in used[1]:
        act, ent = ("activity", r[a_col]), ("entity", r[e_col])
        if back:
            step.setdefault(act, set()).add(ent)
        else:
            step.setdefault(ent, set()).add(act)
    new_col, old_col = _columns(derived, "generated_entity_id", "used_entity_id")
    for r in derived[1]:
        new, old = r[new_col], r[old_col]
        src, dst = (new, old) if back else (old, new)
        step.setdefault(("entity", src), set()).add(("entity", dst))

    known_ents = set(ents)
    levels: dict[tuple[str, str], int] = {("entity", s): 0 for s in starts}
    queue = deque(levels)
    while queue:
        node = queue.popleft()
        level = levels[node]
        if depth is not None and level >= depth:
            continue
        for nxt in step.get(node, ()):
            if nxt in levels:
                continue
            # BACK: an activity's used entity or a derivation's source; FORTH: a product.
            # Each must be a candidate, or the closure is missing or stale here.
            # (Activities come from the rows of candidate entities: always complete.)
            if nxt[0] == "entity" and nxt[1] not in known_ents:
                return None
            levels[nxt] = level + 1
            queue.append(nxt)
    if len(levels) > limit:
        return None  # the walk cuts at the limit in its own order
    return ClosureNodes(
        levels=levels,
        # none of the candidates has a hadMember or wasInformedBy row (checked above)
        relations={
            "wasGeneratedBy": generated,
            "used": used,
            "wasDerivedFrom": derived,
            "hadMember": ((), []),
            "wasInformedBy": ((), []),
        },
    )


def _columns(rows: Rows, *names: str) -> tuple[int, ...]:
    """The positions of columns ``names`` in ``rows``."""
    return tuple(rows[0].index(name) for name in names)
