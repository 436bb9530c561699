#!/usr/bin/env python
"""What the order of a night's closure rows costs when they go into a large archive.

``archive.lineage`` is keyed on ``(entity_id, ancestor_id)``, and entity ids are lstosa's
md5 strings: random. A night adds ~15,000 entities with ~14 ancestors each. Inserted in
the order a hash aggregate leaves them, nearly every row lands on another leaf page of
the primary key; once that index is larger than the buffer cache, each such row is a
buffer miss and, on its page's first change after a checkpoint, a full-page image in the
WAL. Sorted by the key, the rows of one entity are neighbours and share a leaf page.

On an existing archive (the year benchmark's PROVDB_HOME), each trial takes one night's
closure rows, renames every id in them to a new random one (``md5(id || salt)``: new
entities, as a new night's are, at random places of the index), inserts those entities
into ``provenance.entity`` and then the rows into ``archive.lineage`` under ``EXPLAIN
(ANALYZE, BUFFERS, WAL)``, and rolls back: the archive is unchanged. Variants:
``hash`` (the rows in the order the aggregate gives) and ``sorted`` (``ORDER BY
entity_id, ancestor_id``). Trials alternate which variant goes first and use different
nights; a ``CHECKPOINT`` before each insert gives both variants the same starting point
for full-page images. Buffers and WAL are what to compare: they do not depend on the
machine's load (times do)::

    python bench/bench_insert_order.py --home /tmp/yb-40m/provdb-home --trials 6
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import home_conninfo, log, trials_on_archive  # noqa: E402

#: the night's generated entities (what a night's ingest makes dirty in the closure)
NIGHT_ENTITIES = """
CREATE TEMP TABLE _night ON COMMIT DROP AS
SELECT DISTINCT g.entity_id AS id
FROM archive.processing_session s
JOIN provenance.activity a ON a.session_id = s.id
JOIN provenance.wasgeneratedby g ON g.activity_id = a.id
WHERE s.night = %s
"""

#: their closure rows with every id renamed (new random ids), and the new entities
RENAMED_ROWS = """
CREATE TEMP TABLE _rows ON COMMIT DROP AS
SELECT md5(l.entity_id || %(salt)s) AS entity_id,
       md5(l.ancestor_id || %(salt)s) AS ancestor_id,
       min(l.depth) AS depth
FROM archive.lineage l JOIN _night n ON n.id = l.entity_id
GROUP BY 1, 2
"""
NEW_ENTITIES = """
INSERT INTO provenance.entity (id)
SELECT entity_id FROM _rows UNION SELECT ancestor_id FROM _rows
"""

#: the measured statements: the aggregate's hash order, and the key's order
VARIANTS = {
    "hash": "INSERT INTO archive.lineage (entity_id, ancestor_id, depth) "
    "SELECT entity_id, ancestor_id, min(depth) FROM _rows GROUP BY entity_id, ancestor_id",
    "sorted": "INSERT INTO archive.lineage (entity_id, ancestor_id, depth) "
    "SELECT entity_id, ancestor_id, min(depth) FROM _rows GROUP BY entity_id, ancestor_id "
    "ORDER BY entity_id, ancestor_id",
}


def _sum_buffers(plan: dict[str, Any]) -> dict[str, int]:
    """Buffers and WAL of the whole statement: the top node's (they include its
    children's; the foreign-key triggers' time is taken apart, in ``trigger_ms``)."""
    top = plan["Plan"]
    keys = ("Shared Hit Blocks", "Shared Read Blocks", "Shared Dirtied Blocks")
    out = {k.lower().replace(" ", "_"): int(top.get(k, 0)) for k in keys}
    out.update(
        wal_records=int(top.get("WAL Records", 0)),
        wal_fpi=int(top.get("WAL FPI", 0)),
        wal_bytes=int(top.get("WAL Bytes", 0)),
    )
    return out


def trial(conn: Any, night: Any, salt: str, variant: str) -> dict[str, Any]:
    """One night's renamed closure rows inserted in ``variant``'s order; rolled back."""
    with conn.cursor() as cur:
        cur.execute(NIGHT_ENTITIES, (night,))
        cur.execute(RENAMED_ROWS, {"salt": salt})
        cur.execute(NEW_ENTITIES)
        cur.execute("SELECT count(*) FROM _rows")
        rows = cur.fetchone()[0]
    with conn.cursor() as cur:
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) {VARIANTS[variant]}")
        plan = cur.fetchone()[0][0]
    conn.rollback()
    triggers = sum(t.get("Time", 0.0) for t in plan.get("Triggers", []))
    return {
        "night": str(night),
        "variant": variant,
        "rows": rows,
        "execution_ms": round(plan["Execution Time"], 1),
        "trigger_ms": round(triggers, 1),
        **_sum_buffers(plan),
    }


def run(home: Path, trials: int) -> dict[str, Any]:
    """``trials`` pairs of inserts (both variants, alternating first) on ``home``'s archive."""
    import psycopg

    with (
        home_conninfo(home) as conninfo,
        psycopg.connect(conninfo) as conn,
        psycopg.connect(conninfo, autocommit=True) as admin,
    ):
        with conn.cursor() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            migration = cur.fetchone()[0]
            cur.execute(
                "SELECT DISTINCT night FROM archive.processing_session "
                "WHERE night IS NOT NULL ORDER BY night"
            )
            nights = [r[0] for r in cur.fetchall()]
            cur.execute(
                "SELECT pg_relation_size('archive.lineage'), "
                "pg_relation_size('archive.pk_lineage'), "
                "pg_relation_size('archive.ix_archive_lineage_ancestor_id'), "
                "current_setting('shared_buffers'), current_setting('max_wal_size')"
            )
            heap, pk, anc, buffers, max_wal = cur.fetchone()
        conn.rollback()
        # nights from the middle of the archive, two per trial (one per variant)
        step = max(1, len(nights) // (2 * trials + 2))
        chosen = nights[step : step * (2 * trials + 1) : step][: 2 * trials]
        results = []
        for i in range(trials):
            order = ["hash", "sorted"] if i % 2 == 0 else ["sorted", "hash"]
            for j, variant in enumerate(order):
                # outside the trial's transaction (its own connection): a checkpoint
                # now gives both variants the same pages without a full-page image
                admin.execute("CHECKPOINT")
                res = trial(conn, chosen[2 * i + j], f"trial{i}{variant}", variant)
                log(
                    f"trial {i + 1}/{trials} {variant:6}: {res['rows']:,} rows "
                    f"{res['execution_ms']:,.0f} ms, read {res['shared_read_blocks']:,}, "
                    f"dirtied {res['shared_dirtied_blocks']:,}, FPI {res['wal_fpi']:,}, "
                    f"WAL {res['wal_bytes'] / 1e6:,.0f} MB"
                )
                results.append(res)

    def median(variant: str, key: str) -> float:
        return statistics.median(r[key] for r in results if r["variant"] == variant)

    keys = (
        "rows",
        "execution_ms",
        "trigger_ms",
        "shared_read_blocks",
        "shared_dirtied_blocks",
        "wal_fpi",
        "wal_bytes",
    )
    return {
        "archive": {
            "migration": migration,
            "nights": len(nights),
            "lineage_heap_mb": round(heap / 1e6),
            "pk_lineage_mb": round(pk / 1e6),
            "ancestor_index_mb": round(anc / 1e6),
            "shared_buffers": buffers,
            "max_wal_size": max_wal,
        },
        "trials": results,
        "median": {v: {k: median(v, k) for k in keys} for v in VARIANTS},
    }


def main(argv: list[str] | None = None) -> int:
    out, path = trials_on_archive(
        __doc__,
        "bench_insert_order.py",
        "closure rows in hash order against key order (bench/bench_insert_order.py)",
        run,
        trials=6,
        trials_help="pairs of inserts (default 6)",
        name="insert-order",
        argv=argv,
    )
    for variant, figures in out["median"].items():
        log(f"median {variant}: {figures}")
    log(f"results -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
