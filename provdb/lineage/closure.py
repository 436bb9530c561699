"""Maintenance of the lineage closure (``archive.lineage_edge`` and ``archive.lineage``).

The ingest loader calls :func:`add_edges` after each batch of relations (edges come
from the activities the batch touched and from its wasDerivedFrom rows) and
:func:`update_closure` once per file: every entity that got a new direct parent, and
every descendant of such an entity, has its ancestor set recomputed with one recursive
query. Cycles (reprocessing can make them) are bounded by ``MAX_DEPTH``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CLOSURE_SQL",
    "EDGES_SQL",
    "MAX_DEPTH",
    "REBUILD_SQL",
    "add_edges",
    "rebuild_all",
    "update_closure",
]

#: Longest derivation chain followed (guards against cycles in the graph).
MAX_DEPTH = 64

#: Direct edges of the activities listed in temp table _lineage_acts, and derivations.
#: In key order, like the closure's rows (see CLOSURE_SQL): an entity's parents share
#: a leaf page of the primary key.
EDGES_SQL = """
INSERT INTO archive.lineage_edge (entity_id, parent_id)
SELECT entity_id, parent_id FROM (
    SELECT g.entity_id, u.entity_id AS parent_id
    FROM provenance.wasgeneratedby g
    JOIN provenance.used u ON u.activity_id = g.activity_id
    WHERE g.activity_id IN (SELECT activity_id FROM _lineage_acts)
      AND g.entity_id <> u.entity_id
  UNION
    SELECT generated_entity_id, used_entity_id FROM _lineage_derived
    WHERE generated_entity_id <> used_entity_id
) edges
ORDER BY entity_id, parent_id
ON CONFLICT DO NOTHING
RETURNING entity_id
"""


def _ancestors_sql(next_level: str) -> str:
    """Insert the ancestors of the entities in _lineage_affected into archive.lineage;
    ``next_level`` is the FROM clause that finds the parents (``e``) of a level (``anc``)."""
    return f"""
WITH RECURSIVE anc(entity_id, ancestor_id, depth) AS (
    SELECT e.entity_id, e.parent_id, 1
    FROM archive.lineage_edge e
    JOIN _lineage_affected a ON a.entity_id = e.entity_id
  UNION
    SELECT anc.entity_id, e.parent_id, anc.depth + 1
    {next_level}
    WHERE anc.depth < {MAX_DEPTH}
)
INSERT INTO archive.lineage (entity_id, ancestor_id, depth)
SELECT entity_id, ancestor_id, min(depth) FROM anc
WHERE entity_id <> ancestor_id
GROUP BY entity_id, ancestor_id
ORDER BY entity_id, ancestor_id
"""


#: Recompute the ancestors of the entities in temp table _lineage_affected (an ingested
#: file's: a few thousand). The rows go in in key order: entity ids are md5 strings, so
#: in the aggregate's hash order nearly every row lands on another leaf page of the
#: primary key, and once that index outgrows the buffer cache each is a miss; sorted, an
#: entity's ~14 ancestors share one (a night's rows on a 37 GB archive: 146,000 -> 60,000
#: blocks read, 127,000 -> 62,000 dirtied; bench/bench_insert_order.py). Each level's
#: parents are looked up by index: the LATERAL
#: subquery with OFFSET 0 is not flattened into a join, which the planner made a merge
#: join reading the whole edge index at every level -- a cost growing with the archive
#: (3.0 s at 66 nights against 0.3-0.6 s this way; bench/bench_year.py).
CLOSURE_SQL = _ancestors_sql(
    """FROM anc CROSS JOIN LATERAL (
        SELECT parent_id FROM archive.lineage_edge
        WHERE entity_id = anc.ancestor_id OFFSET 0
    ) e"""
)

#: The same for every entity (rebuild_all): whole-table joins are right there.
REBUILD_SQL = _ancestors_sql(
    "FROM anc JOIN archive.lineage_edge e ON e.entity_id = anc.ancestor_id"
)


def _temp_tables(cur: Any) -> None:
    cur.execute("CREATE TEMP TABLE IF NOT EXISTS _lineage_acts (activity_id text) ON COMMIT DROP")
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _lineage_derived "
        "(generated_entity_id text, used_entity_id text) ON COMMIT DROP"
    )
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _lineage_dirty (entity_id text PRIMARY KEY) ON COMMIT DROP"
    )


def add_edges(
    cur: Any, *, used_stage: str | None, generated_stage: str | None, derived_stage: str | None
) -> int:
    """Add the direct edges implied by a loader batch; remember their entities as dirty.

    The arguments name the batch's staging tables (``None`` when the batch had none).
    """
    _temp_tables(cur)
    cur.execute("TRUNCATE _lineage_acts, _lineage_derived")
    sources = [f"SELECT activity_id FROM {s}" for s in (used_stage, generated_stage) if s]
    if sources:
        cur.execute(f"INSERT INTO _lineage_acts {' UNION '.join(sources)}")
    if derived_stage:
        cur.execute(
            "INSERT INTO _lineage_derived SELECT generated_entity_id, used_entity_id "
            f"FROM {derived_stage}"
        )
    if not sources and not derived_stage:
        return 0
    cur.execute(
        f"WITH new AS ({EDGES_SQL}) INSERT INTO _lineage_dirty "
        "SELECT DISTINCT entity_id FROM new ON CONFLICT DO NOTHING"
    )
    return max(cur.rowcount, 0)


def update_closure(cur: Any) -> int:
    """Recompute the closure of dirty entities and their descendants; returns rows written."""
    _temp_tables(cur)
    cur.execute("SELECT count(*) FROM _lineage_dirty")
    row = cur.fetchone()
    if not row or not row[0]:
        return 0
    cur.execute("DROP TABLE IF EXISTS _lineage_affected")
    cur.execute(
        "CREATE TEMP TABLE _lineage_affected ON COMMIT DROP AS "
        "SELECT entity_id FROM _lineage_dirty "
        # by index: as a join this scanned the whole closure per file (0.6 s at 100 nights)
        "UNION SELECT l.entity_id FROM archive.lineage l "
        "WHERE l.ancestor_id = ANY(ARRAY(SELECT entity_id FROM _lineage_dirty))"
    )
    cur.execute(
        "DELETE FROM archive.lineage WHERE entity_id IN (SELECT entity_id FROM _lineage_affected)"
    )
    cur.execute(CLOSURE_SQL)
    written = max(cur.rowcount, 0)
    cur.execute("TRUNCATE _lineage_dirty")
    return written


def rebuild_all(conn: Any) -> None:
    """Rebuild both tables from scratch (SQLAlchemy connection)."""
    import sqlalchemy as sa

    conn.execute(sa.text("TRUNCATE archive.lineage, archive.lineage_edge"))
    conn.execute(
        sa.text(
            "INSERT INTO archive.lineage_edge (entity_id, parent_id) "
            "SELECT g.entity_id, u.entity_id FROM provenance.wasgeneratedby g "
            "JOIN provenance.used u ON u.activity_id = g.activity_id "
            "WHERE g.entity_id <> u.entity_id "
            "UNION SELECT generated_entity_id, used_entity_id FROM provenance.wasderivedfrom "
            "WHERE generated_entity_id <> used_entity_id ON CONFLICT DO NOTHING"
        )
    )
    conn.execute(
        sa.text(
            "CREATE TEMP TABLE _lineage_affected ON COMMIT DROP AS "
            "SELECT DISTINCT entity_id FROM archive.lineage_edge"
        )
    )
    conn.execute(sa.text(REBUILD_SQL))
    conn.execute(sa.text("DROP TABLE _lineage_affected"))
