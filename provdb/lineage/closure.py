"""Maintenance of the lineage closure ``archive.lineage_closure`` (shown by the views
``archive.lineage`` and ``archive.lineage_edge``).

The closure holds every ancestor of every entity with the length of the shortest
chain, keyed by entity numbers (``archive.entity_number``, given in ingest order); its
rows of depth 1 are the direct derivations. The ingest loader calls :func:`add_edges`
after each batch of relations, which notes the batch's activities and wasDerivedFrom
pairs, and :func:`update_closure` once per file: the direct edges of the noted
activities (an activity that used P and generated C gives C <- P) and derivations get
numbers for their new entities; those that the closure does not have yet make their
entities *dirty*; every dirty entity and every descendant of one is *affected* and has
its ancestor set recomputed by one recursive query, which follows direct edges only
between affected entities and takes the closure rows of any other ancestor as they are
(they cannot have changed: an entity whose ancestors changed is affected). Cycles
(reprocessing can make them) are bounded by ``MAX_DEPTH``.

Why numbers: keyed by lstosa's md5 ids, a night's rows went to random leaf pages of
indexes larger than the server's buffers (migration 0023, docs/performance.md). Why no
edge table: it was a second copy of the depth-1 rows (migration 0022).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CLOSURE_SQL",
    "MAX_DEPTH",
    "add_edges",
    "rebuild_all",
    "update_closure",
]

#: Longest derivation chain followed (guards against cycles in the graph).
MAX_DEPTH = 64


def _edges_sql(activities: str, derivations: str) -> str:
    """The direct edges (entity_id <- parent_id) of the activities that ``activities``
    selects (a condition on ``g.activity_id``) and of the derivations in table
    ``derivations``; self-loops (lstosa's dl1ab uses and generates the same id) are
    left out. Each activity's rows are found by index (wasGeneratedBy by activity, used
    by its unique constraint's leading column)."""
    return f"""
SELECT g.entity_id, u.entity_id AS parent_id
FROM provenance.wasgeneratedby g
JOIN provenance.used u ON u.activity_id = g.activity_id
WHERE {activities}
  AND g.entity_id <> u.entity_id
UNION
SELECT generated_entity_id, used_entity_id FROM {derivations}
WHERE generated_entity_id <> used_entity_id
"""


#: The edges of the activities and derivations a file's batches noted (temp tables
#: _lineage_acts and _lineage_derived).
NEW_EDGES_SQL = _edges_sql(
    # = ANY of an array: as IN (subquery) the planner hashed the temp table and scanned
    # all of wasGeneratedBy for it, a cost growing with the archive (on the year
    # benchmark's, closure upkeep 4.4-7.4 s -> 3.0-3.4 s a night; docs/performance.md)
    "g.activity_id = ANY(ARRAY(SELECT activity_id FROM _lineage_acts))",
    "_lineage_derived",
)

#: Recompute the ancestors of the entities in temp table _lineage_affected, whose direct
#: parents are in _lineage_parents, and whose closure rows have been deleted (all by
#: entity number). ``anc`` follows the direct edges between affected entities; an
#: ancestor outside that set brings its own closure rows (looked up by index: the
#: LATERAL subquery with OFFSET 0 is not flattened into a join, which the planner could
#: make a scan of the whole closure). Rows go in in key order, an entity's ~14
#: ancestors on one leaf page (bench/bench_insert_order.py).
CLOSURE_SQL = f"""
WITH RECURSIVE anc(entity_no, ancestor_no, depth) AS (
    SELECT entity_no, parent_no, 1 FROM _lineage_parents
  UNION
    SELECT anc.entity_no, p.parent_no, anc.depth + 1
    FROM anc JOIN _lineage_parents p ON p.entity_no = anc.ancestor_no
    WHERE anc.depth < {MAX_DEPTH}
), outside AS (
    SELECT DISTINCT ancestor_no FROM anc
    WHERE ancestor_no NOT IN (SELECT entity_no FROM _lineage_affected)
), jump AS (
    SELECT o.ancestor_no AS via, l.ancestor_no, l.depth
    FROM outside o CROSS JOIN LATERAL (
        SELECT ancestor_no, depth FROM archive.lineage_closure
        WHERE entity_no = o.ancestor_no OFFSET 0
    ) l
)
INSERT INTO archive.lineage_closure (entity_no, ancestor_no, depth)
SELECT entity_no, ancestor_no, min(depth) FROM (
    SELECT entity_no, ancestor_no, depth FROM anc
  UNION ALL
    SELECT anc.entity_no, j.ancestor_no, anc.depth + j.depth
    FROM anc JOIN jump j ON j.via = anc.ancestor_no
) rows
WHERE entity_no <> ancestor_no AND depth <= {MAX_DEPTH}
GROUP BY entity_no, ancestor_no
ORDER BY entity_no, ancestor_no
"""


def _temp_tables(cur: Any) -> None:
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _lineage_acts (activity_id text PRIMARY KEY) "
        "ON COMMIT DROP"
    )
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _lineage_derived "
        "(generated_entity_id text, used_entity_id text) ON COMMIT DROP"
    )


def add_edges(
    cur: Any, *, used_stage: str | None, generated_stage: str | None, derived_stage: str | None
) -> int:
    """Note the activities and derivations of a loader batch, whose direct edges
    :func:`update_closure` reads; returns how many were noted.

    The arguments name the batch's staging tables (``None`` when the batch had none).
    """
    _temp_tables(cur)
    noted = 0
    sources = [f"SELECT activity_id FROM {s}" for s in (used_stage, generated_stage) if s]
    if sources:
        cur.execute(f"INSERT INTO _lineage_acts {' UNION '.join(sources)} ON CONFLICT DO NOTHING")
        noted += max(cur.rowcount, 0)
    if derived_stage:
        cur.execute(
            "INSERT INTO _lineage_derived SELECT generated_entity_id, used_entity_id "
            f"FROM {derived_stage}"
        )
        noted += max(cur.rowcount, 0)
    return noted


def _numbered(cur: Any, edges: str, count: int, into: str) -> None:
    """Write the ``count`` edges of temp table ``edges`` (entity_id, parent_id) by number
    into new temp table ``into`` (entity_no, parent_no), giving a number to each entity
    that has none; drops ``edges``.

    The new numbers follow the last ones given: a night's entities, and so its closure
    rows, go to the right edge of the closure's indexes. Each distinct id is looked up
    once, by index (``= ANY`` of an array: a join could make it a scan of every number);
    joining the edges with the numbers then stays within temp tables. The ids are
    numbered in sorted order, so two ingests that both bring a new id wait for each
    other in the same order (no deadlock); the second one skips it (ON CONFLICT) and
    reads the number the first one gave.
    """
    ids = f"SELECT entity_id FROM {edges} UNION SELECT parent_id FROM {edges}"
    lookup = "SELECT entity_id, no FROM archive.entity_number WHERE entity_id = ANY(ARRAY({ids}))"
    cur.execute(f"CREATE TEMP TABLE _lineage_nos ON COMMIT DROP AS {lookup.format(ids=ids)}")
    missing = f"{ids} EXCEPT SELECT entity_id FROM _lineage_nos"
    cur.execute(
        "WITH made AS (INSERT INTO archive.entity_number (entity_id) "
        f"SELECT entity_id FROM ({missing}) m ORDER BY entity_id "
        "ON CONFLICT (entity_id) DO NOTHING RETURNING entity_id, no) "
        "INSERT INTO _lineage_nos SELECT entity_id, no FROM made"
    )
    # numbered meanwhile by another ingest (skipped above): its numbers, now committed
    cur.execute(f"INSERT INTO _lineage_nos {lookup.format(ids=missing)}")
    cur.execute("ANALYZE _lineage_nos")
    cur.execute(
        f"CREATE TEMP TABLE {into} ON COMMIT DROP AS "
        "SELECT n.no AS entity_no, p.no AS parent_no "
        f"FROM {edges} e JOIN _lineage_nos n ON n.entity_id = e.entity_id "
        "JOIN _lineage_nos p ON p.entity_id = e.parent_id"
    )
    if cur.rowcount != count:  # an edge lost would be a silently wrong closure
        raise RuntimeError("lineage closure: an entity of the new edges got no number")
    cur.execute(f"DROP TABLE {edges}, _lineage_nos")


def _recompute(cur: Any) -> int:
    """Delete and rewrite the closure rows of _lineage_affected (parents in
    _lineage_parents); returns rows written."""
    cur.execute("CREATE INDEX ON _lineage_parents (entity_no)")
    cur.execute("ANALYZE _lineage_parents")
    cur.execute("ANALYZE _lineage_affected")
    # by index (= ANY of an array): with the temp table's statistics the planner may
    # otherwise hash-join it with a scan of the whole closure (15 s a night at 325)
    cur.execute(
        "DELETE FROM archive.lineage_closure "
        "WHERE entity_no = ANY(ARRAY(SELECT entity_no FROM _lineage_affected))"
    )
    cur.execute(CLOSURE_SQL)
    written = max(cur.rowcount, 0)
    cur.execute("DROP TABLE _lineage_parents, _lineage_affected")
    return written


#: The depth-1 closure rows (direct parents) of the entities in ``{entities}``, one
#: index range scan each (LATERAL with OFFSET 0: never made a join over the closure)
_DIRECT_PARENTS = """
SELECT l.entity_no, l.ancestor_no AS parent_no FROM ({entities}) e
CROSS JOIN LATERAL (
    SELECT entity_no, ancestor_no FROM archive.lineage_closure
    WHERE entity_no = e.entity_no AND depth = 1 OFFSET 0
) l
"""


def update_closure(cur: Any) -> int:
    """Recompute the closure of the entities the noted edges touch and of their
    descendants; returns rows written."""
    _temp_tables(cur)
    cur.execute(
        "DROP TABLE IF EXISTS _lineage_ids, _lineage_nos, _lineage_new, _lineage_known, "
        "_lineage_parents, _lineage_affected"
    )
    cur.execute(f"CREATE TEMP TABLE _lineage_ids ON COMMIT DROP AS {NEW_EDGES_SQL}")
    edges = cur.rowcount
    cur.execute("TRUNCATE _lineage_acts, _lineage_derived")
    if not edges:
        cur.execute("DROP TABLE _lineage_ids")
        return 0
    _numbered(cur, "_lineage_ids", edges, "_lineage_new")
    # the direct parents the closure has for those entities now; an entity none of
    # whose edges is new is not dirty (re-ingesting known content writes no row)
    known = _DIRECT_PARENTS.format(entities="SELECT DISTINCT entity_no FROM _lineage_new")
    cur.execute(f"CREATE TEMP TABLE _lineage_known ON COMMIT DROP AS {known}")
    cur.execute(
        "CREATE TEMP TABLE _lineage_affected ON COMMIT DROP AS "
        "SELECT DISTINCT entity_no FROM "
        "(SELECT entity_no, parent_no FROM _lineage_new "
        "EXCEPT SELECT entity_no, parent_no FROM _lineage_known) dirty"
    )
    if not cur.rowcount:
        cur.execute("DROP TABLE _lineage_new, _lineage_known, _lineage_affected")
        return 0
    # descendants by index: as a join this scanned the whole closure per file
    cur.execute(
        "INSERT INTO _lineage_affected SELECT DISTINCT l.entity_no "
        "FROM archive.lineage_closure l "
        "WHERE l.ancestor_no = ANY(ARRAY(SELECT entity_no FROM _lineage_affected)) "
        "EXCEPT SELECT entity_no FROM _lineage_affected"
    )
    # the affected entities' direct parents: new and known edges of the dirty ones, the
    # closure's depth-1 rows of the descendants (read before the DELETE removes them)
    descendants = (
        "SELECT entity_no FROM _lineage_affected EXCEPT SELECT entity_no FROM _lineage_new"
    )
    cur.execute(
        "CREATE TEMP TABLE _lineage_parents ON COMMIT DROP AS "
        "SELECT entity_no, parent_no FROM ("
        "SELECT entity_no, parent_no FROM _lineage_new "
        "UNION SELECT entity_no, parent_no FROM _lineage_known) p "
        "WHERE entity_no IN (SELECT entity_no FROM _lineage_affected) "
        f"UNION {_DIRECT_PARENTS.format(entities=descendants)}"
    )
    cur.execute("DROP TABLE _lineage_new, _lineage_known")
    return _recompute(cur)


def rebuild_all(conn: Any) -> None:
    """Rebuild the closure from the provenance tables (SQLAlchemy connection); the
    entities keep their numbers."""
    with conn.connection.cursor() as cur:
        cur.execute("TRUNCATE archive.lineage_closure")
        cur.execute(
            "CREATE TEMP TABLE _lineage_ids ON COMMIT DROP AS "
            + _edges_sql("true", "provenance.wasderivedfrom")
        )
        _numbered(cur, "_lineage_ids", cur.rowcount, "_lineage_parents")
        cur.execute(
            "CREATE TEMP TABLE _lineage_affected ON COMMIT DROP AS "
            "SELECT DISTINCT entity_no FROM _lineage_parents"
        )
        _recompute(cur)
