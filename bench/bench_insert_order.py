#!/usr/bin/env python
"""What the order of a night's closure rows costs when they go into a large archive.

The closure ``archive.lineage_closure`` is keyed on ``(entity_no, ancestor_no)``. A night
adds ~15,000 entities with ~14 ancestors each. Inserted in the order a hash aggregate
leaves them, rows of one entity land on different leaf pages of the primary key; sorted
by the key, they are neighbours and share one. (Until migration 0023 the keys were
lstosa's md5 ids, random, and the results of 2026-12-07 were measured so: once that index
was larger than the buffer cache, nearly each row was a buffer miss and, on its page's
first change after a checkpoint, a full-page image in the WAL.)

On an existing archive (the year benchmark's PROVDB_HOME), each trial takes one night's
closure rows, renumbers every entity in them past the last number (new entities, as a
new night's are), inserts the rows into ``archive.lineage_closure`` under ``EXPLAIN
(ANALYZE, BUFFERS, WAL)``, and rolls back: the archive is unchanged. Variants: ``hash``
(the rows in the order the aggregate gives) and ``sorted`` (``ORDER BY entity_no,
ancestor_no``). Trials alternate which variant goes first and use different
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

#: their closure rows with every entity renumbered past the last number (as new ones)
RENAMED_ROWS = """
CREATE TEMP TABLE _rows ON COMMIT DROP AS
SELECT l.entity_no + m.top AS entity_no, l.ancestor_no + m.top AS ancestor_no,
       min(l.depth) AS depth
FROM archive.lineage_closure l
JOIN archive.entity_number e ON e.no = l.entity_no
JOIN _night n ON n.id = e.entity_id
CROSS JOIN (SELECT max(no) AS top FROM archive.entity_number) m
GROUP BY 1, 2
"""

#: the measured statements: the aggregate's hash order, and the key's order
VARIANTS = {
    "hash": "INSERT INTO archive.lineage_closure (entity_no, ancestor_no, depth) "
    "SELECT entity_no, ancestor_no, min(depth) FROM _rows GROUP BY entity_no, ancestor_no",
    "sorted": "INSERT INTO archive.lineage_closure (entity_no, ancestor_no, depth) "
    "SELECT entity_no, ancestor_no, min(depth) FROM _rows GROUP BY entity_no, ancestor_no "
    "ORDER BY entity_no, ancestor_no",
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


def trial(conn: Any, night: Any, variant: str) -> dict[str, Any]:
    """One night's renamed closure rows inserted in ``variant``'s order; rolled back."""
    with conn.cursor() as cur:
        cur.execute(NIGHT_ENTITIES, (night,))
        cur.execute(RENAMED_ROWS)
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
                "SELECT pg_relation_size('archive.lineage_closure'), "
                "pg_relation_size('archive.pk_lineage_closure'), "
                "pg_relation_size('archive.ix_archive_lineage_closure_ancestor_no'), "
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
                res = trial(conn, chosen[2 * i + j], variant)
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
