"""Would declarative partitioning by night help? Measured on the year archive.

``bench_year.py --partitioning`` (after the nights, or with ``--queries-only``) builds,
in a scratch schema of the same database, a copy of ``provenance.used`` (the biggest
relation table) partitioned by night (one partition per night, the night taken from the
activity's session; rows of sessions without a night in a default partition), with the
same indexes per partition, and measures side by side with the real, unpartitioned
table:

* lookups the service and the ingest make -- by entity id (ids are md5 of file paths:
  they carry no night, so no partition can be pruned) and by activity id, one id and
  50 ids (``= ANY``), median of 30, with the plan's count of scans (one per partition not pruned);
* removing one night: ``DELETE`` of the night's rows (rolled back) against
  ``DETACH PARTITION`` + ``DROP TABLE`` (rolled back too);
* ``VACUUM (ANALYZE)`` of the whole table against the partitioned copy.

The scratch schema is dropped at the end. Only standard PostgreSQL is used.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import log

SCRATCH = "bench_partitioning"


def _median_ms(run: Callable[[], Any], repeat: int = 30) -> float:
    run()  # warm the cache: both tables are measured warm
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        samples.append(time.perf_counter() - t)
    return round(statistics.median(samples) * 1000, 3)


def _scans(plan: dict[str, Any]) -> int:
    """Table or index scans in a plan: with partitions, one per partition not pruned."""
    node = plan.get("Plan", plan)
    own = 1 if "Relation Name" in node or node.get("Node Type") == "Bitmap Index Scan" else 0
    if node.get("Node Type") == "Bitmap Heap Scan":
        own = 0  # counted with its Bitmap Index Scan
    return own + sum(_scans(p) for p in node.get("Plans", []))


def measure_partitioning(conninfo: str) -> dict[str, Any]:
    """Build the partitioned copy, measure, drop it; returns the figures."""
    import psycopg

    out: dict[str, Any] = {"table": "provenance.used", "partition_key": "night of the session"}
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {SCRATCH} CASCADE")
        cur.execute(f"CREATE SCHEMA {SCRATCH}")
        cur.execute(
            "SELECT DISTINCT s.night FROM archive.processing_session s "
            "WHERE s.night IS NOT NULL ORDER BY 1"
        )
        nights = [r[0] for r in cur.fetchall()]
        t = time.perf_counter()
        cur.execute(
            f"CREATE TABLE {SCRATCH}.used (LIKE provenance.used INCLUDING DEFAULTS, night date) "
            "PARTITION BY LIST (night)"
        )
        for k, night in enumerate(nights):
            cur.execute(  # DDL takes no parameters; night is a date read from the archive
                f"CREATE TABLE {SCRATCH}.used_{k} PARTITION OF {SCRATCH}.used "
                f"FOR VALUES IN ('{night.isoformat()}')"
            )
        cur.execute(f"CREATE TABLE {SCRATCH}.used_default PARTITION OF {SCRATCH}.used DEFAULT")
        cur.execute(
            f"INSERT INTO {SCRATCH}.used SELECT u.*, s.night FROM provenance.used u "
            "LEFT JOIN provenance.activity a ON a.id = u.activity_id "
            "LEFT JOIN archive.processing_session s ON s.id = a.session_id"
        )
        rows = cur.rowcount
        cur.execute(f"CREATE INDEX ON {SCRATCH}.used (entity_id)")
        cur.execute(f"CREATE INDEX ON {SCRATCH}.used (activity_id)")
        cur.execute(f"ANALYZE {SCRATCH}.used")
        out["build_s"] = round(time.perf_counter() - t, 1)
        out["rows"] = rows
        out["partitions"] = len(nights) + 1
        log(f"partitioned copy of provenance.used: {rows:,} rows, {len(nights) + 1} partitions")

        # subjects: ids of the middle night
        middle = nights[len(nights) // 2]
        cur.execute(
            "SELECT u.entity_id, u.activity_id FROM provenance.used u "
            "JOIN provenance.activity a ON a.id = u.activity_id "
            "JOIN archive.processing_session s ON s.id = a.session_id "
            "WHERE s.night = %s ORDER BY u.id LIMIT 50",
            (middle,),
        )
        pairs = cur.fetchall()
        entities = [p[0] for p in pairs]
        activities = [p[1] for p in pairs]

        lookups: dict[str, Any] = {}
        for name, column, values in (
            ("one_entity_id", "entity_id", entities[:1]),
            ("fifty_entity_ids", "entity_id", entities),
            ("one_activity_id", "activity_id", activities[:1]),
            ("fifty_activity_ids", "activity_id", activities),
        ):
            entry: dict[str, Any] = {}
            for label, table in (
                ("unpartitioned", "provenance.used"),
                ("by_night", f"{SCRATCH}.used"),
            ):
                sql = f"SELECT * FROM {table} WHERE {column} = ANY(%s)"

                def run(sql: str = sql, values: list[str] = values) -> None:
                    cur.execute(sql, (values,), prepare=False)
                    cur.fetchall()

                cur.execute("EXPLAIN (FORMAT JSON) " + sql, (values,))
                plan = cur.fetchone()[0][0]
                entry[label] = {"median_ms": _median_ms(run), "scans": _scans(plan)}
            lookups[name] = entry
            log(f"{name}: {entry}")
        out["lookups"] = lookups

        # removing one night, both ways, rolled back
        k = nights.index(middle)
        removal: dict[str, Any] = {}
        cur.execute("BEGIN")
        t = time.perf_counter()
        cur.execute(
            "DELETE FROM provenance.used u USING provenance.activity a, "
            "archive.processing_session s WHERE a.id = u.activity_id "
            "AND s.id = a.session_id AND s.night = %s",
            (middle,),
        )
        removal["delete_rows"] = cur.rowcount
        removal["delete_s"] = round(time.perf_counter() - t, 3)
        cur.execute("ROLLBACK")
        cur.execute("BEGIN")
        t = time.perf_counter()
        cur.execute(f"ALTER TABLE {SCRATCH}.used DETACH PARTITION {SCRATCH}.used_{k}")
        cur.execute(f"DROP TABLE {SCRATCH}.used_{k}")
        removal["detach_drop_s"] = round(time.perf_counter() - t, 3)
        cur.execute("ROLLBACK")
        out["remove_one_night"] = removal
        log(f"remove one night: {removal}")

        vacuum: dict[str, Any] = {}
        for label, table in (("unpartitioned", "provenance.used"), ("by_night", f"{SCRATCH}.used")):
            t = time.perf_counter()
            cur.execute(f"VACUUM (ANALYZE) {table}")
            vacuum[label + "_s"] = round(time.perf_counter() - t, 2)
        out["vacuum_analyze"] = vacuum
        log(f"vacuum: {vacuum}")
        cur.execute(f"DROP SCHEMA {SCRATCH} CASCADE")
    return out
