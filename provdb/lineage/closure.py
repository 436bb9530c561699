"""Maintenance of the lineage closure ``archive.lineage`` (and so of ``archive.lineage_edge``).

``archive.lineage`` holds every ancestor of every entity with the length of the shortest
chain; its rows of depth 1 are the direct derivations, which ``archive.lineage_edge``
(a view since migration 0022) shows. The ingest loader calls :func:`add_edges` after
each batch of relations, which notes the batch's activities and wasDerivedFrom pairs,
and :func:`update_closure` once per file: the direct edges of the noted activities (an
activity that used P and generated C gives C <- P) and derivations that the closure
does not have yet make their entities *dirty*; every dirty entity and every descendant
of one is *affected* and has its ancestor set recomputed by one recursive query, which
follows direct edges only between affected entities and takes the closure rows of any
other ancestor as they are (they cannot have changed: an entity whose ancestors changed
is affected). Cycles (reprocessing can make them) are bounded by ``MAX_DEPTH``.

Why no edge table: it was a second copy of the depth-1 rows, keyed like the closure by
md5 ids, so on a large archive each night's edges went to random pages of one more big
index (on the year benchmark's archive: closure upkeep 15.8-19.3 s a night with it,
13.6-15.0 s without, and 6.5 GB less; docs/performance.md).
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
    "g.activity_id IN (SELECT activity_id FROM _lineage_acts)", "_lineage_derived"
)

#: Recompute the ancestors of the entities in temp table _lineage_affected, whose direct
#: parents are in _lineage_parents, and whose closure rows have been deleted. ``anc``
#: follows the direct edges between affected entities; an ancestor outside that set
#: brings its own closure rows (looked up by index: the LATERAL subquery with OFFSET 0
#: is not flattened into a join, which the planner could make a scan of the whole
#: closure). Rows go in in key order: entity ids are md5 strings, so in the aggregate's
#: hash order nearly every row would land on another leaf page of the primary key;
#: sorted, an entity's ~14 ancestors share one (bench/bench_insert_order.py).
CLOSURE_SQL = f"""
WITH RECURSIVE anc(entity_id, ancestor_id, depth) AS (
    SELECT entity_id, parent_id, 1 FROM _lineage_parents
  UNION
    SELECT anc.entity_id, p.parent_id, anc.depth + 1
    FROM anc JOIN _lineage_parents p ON p.entity_id = anc.ancestor_id
    WHERE anc.depth < {MAX_DEPTH}
), outside AS (
    SELECT DISTINCT ancestor_id FROM anc
    WHERE ancestor_id NOT IN (SELECT entity_id FROM _lineage_affected)
), jump AS (
    SELECT o.ancestor_id AS via, l.ancestor_id, l.depth
    FROM outside o CROSS JOIN LATERAL (
        SELECT ancestor_id, depth FROM archive.lineage WHERE entity_id = o.ancestor_id OFFSET 0
    ) l
)
INSERT INTO archive.lineage (entity_id, ancestor_id, depth)
SELECT entity_id, ancestor_id, min(depth) FROM (
    SELECT entity_id, ancestor_id, depth FROM anc
  UNION ALL
    SELECT anc.entity_id, j.ancestor_id, anc.depth + j.depth
    FROM anc JOIN jump j ON j.via = anc.ancestor_id
) rows
WHERE entity_id <> ancestor_id AND depth <= {MAX_DEPTH}
GROUP BY entity_id, ancestor_id
ORDER BY entity_id, ancestor_id
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


def _recompute(cur: Any) -> int:
    """Delete and rewrite the closure rows of _lineage_affected (parents in
    _lineage_parents); returns rows written."""
    cur.execute("CREATE INDEX ON _lineage_parents (entity_id)")
    cur.execute("ANALYZE _lineage_parents")
    cur.execute("ANALYZE _lineage_affected")
    # by index (= ANY of an array): with the temp table's statistics the planner may
    # otherwise hash-join it with a scan of the whole closure (15 s a night at 325)
    cur.execute(
        "DELETE FROM archive.lineage "
        "WHERE entity_id = ANY(ARRAY(SELECT entity_id FROM _lineage_affected))"
    )
    cur.execute(CLOSURE_SQL)
    written = max(cur.rowcount, 0)
    cur.execute("DROP TABLE _lineage_parents, _lineage_affected")
    return written


#: The depth-1 closure rows (direct parents) of the entities in ``{entities}``, one
#: index range scan each (LATERAL with OFFSET 0: never made a join over the closure)
_DIRECT_PARENTS = """
SELECT l.entity_id, l.ancestor_id AS parent_id FROM ({entities}) e
CROSS JOIN LATERAL (
    SELECT entity_id, ancestor_id FROM archive.lineage
    WHERE entity_id = e.entity_id AND depth = 1 OFFSET 0
) l
"""


def update_closure(cur: Any) -> int:
    """Recompute the closure of the entities the noted edges touch and of their
    descendants; returns rows written."""
    _temp_tables(cur)
    cur.execute(
        "DROP TABLE IF EXISTS _lineage_new, _lineage_known, _lineage_parents, _lineage_affected"
    )
    cur.execute(f"CREATE TEMP TABLE _lineage_new ON COMMIT DROP AS {NEW_EDGES_SQL}")
    edges = cur.rowcount
    cur.execute("TRUNCATE _lineage_acts, _lineage_derived")
    if not edges:
        cur.execute("DROP TABLE _lineage_new")
        return 0
    # the direct parents the closure has for those entities now; an entity none of
    # whose edges is new is not dirty (re-ingesting known content writes no row)
    known = _DIRECT_PARENTS.format(entities="SELECT DISTINCT entity_id FROM _lineage_new")
    cur.execute(f"CREATE TEMP TABLE _lineage_known ON COMMIT DROP AS {known}")
    cur.execute(
        "CREATE TEMP TABLE _lineage_affected ON COMMIT DROP AS "
        "SELECT DISTINCT entity_id FROM "
        "(SELECT entity_id, parent_id FROM _lineage_new "
        "EXCEPT SELECT entity_id, parent_id FROM _lineage_known) dirty"
    )
    if not cur.rowcount:
        cur.execute("DROP TABLE _lineage_new, _lineage_known, _lineage_affected")
        return 0
    # descendants by index: as a join this scanned the whole closure per file
    cur.execute(
        "INSERT INTO _lineage_affected SELECT DISTINCT l.entity_id FROM archive.lineage l "
        "WHERE l.ancestor_id = ANY(ARRAY(SELECT entity_id FROM _lineage_affected)) "
        "EXCEPT SELECT entity_id FROM _lineage_affected"
    )
    # the affected entities' direct parents: new and known edges of the dirty ones, the
    # closure's depth-1 rows of the descendants (read before the DELETE removes them)
    descendants = (
        "SELECT entity_id FROM _lineage_affected EXCEPT SELECT entity_id FROM _lineage_new"
    )
    cur.execute(
        "CREATE TEMP TABLE _lineage_parents ON COMMIT DROP AS "
        "SELECT entity_id, parent_id FROM ("
        "SELECT entity_id, parent_id FROM _lineage_new "
        "UNION SELECT entity_id, parent_id FROM _lineage_known) p "
        "WHERE entity_id IN (SELECT entity_id FROM _lineage_affected) "
        f"UNION {_DIRECT_PARENTS.format(entities=descendants)}"
    )
    cur.execute("DROP TABLE _lineage_new, _lineage_known")
    return _recompute(cur)


def rebuild_all(conn: Any) -> None:
    """Rebuild the closure from the provenance tables (SQLAlchemy connection)."""
    import sqlalchemy as sa

    conn.execute(sa.text("TRUNCATE archive.lineage"))
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE _lineage_parents ON COMMIT DROP AS "
            + _edges_sql("true", "provenance.wasderivedfrom")
        )
    )
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE _lineage_affected ON COMMIT DROP AS "
            "SELECT DISTINCT entity_id FROM _lineage_parents"
        )
    )
    with conn.connection.cursor() as cur:
        _recompute(cur)
