#!/usr/bin/env python
"""Text md5 keys against ascending integer keys for the lineage closure (issue 17).

Why: the year benchmark's closure ``archive.lineage (entity_id text, ancestor_id text,
depth int)`` gains ~214k rows a night, keyed by lstosa's entity ids (md5 hex: 32 random
characters). On the 222-night archive its INSERT cost twice what it cost on an empty
archive, with ~6x the WAL (mostly full-page images) and ~50x the buffer misses: every row
lands on a random leaf page of ``pk_lineage`` (5.5 GB, bigger than the heap). Entity
numbers given in ingest order would put a night's rows at the right edge of the index.

What: one scratch embedded PostgreSQL (provdb's settings for it, recorded in the results:
e.g. shared_buffers, max_wal_size 1GB, autovacuum on) holding two tables with the same
rows:

* ``closure_text (entity_id text, ancestor_id text, depth int, PRIMARY KEY (entity_id,
  ancestor_id))`` + an index on ``ancestor_id``: today's design;
* ``closure_int (entity_no bigint, ancestor_no bigint, depth int, PRIMARY KEY
  (entity_no, ancestor_no))`` + an index on ``ancestor_no``: the proposal.

Each night adds ``--entities-per-night`` entities numbered after the previous night's;
entity number k has the text id ``md5(k::text)``. The first 50 of a night are its
calibration files (no ancestors); every other entity has ``--ancestors`` ancestors of the
same night: 2 calibration files (depth 2, 3) and the entities just before it (depth 1..4),
~209k rows a night by default. The rows are generated in SQL into two temporary tables
(not timed); then each variant's ``INSERT ... SELECT`` from its own temporary table runs
in its own committed transaction, the two in alternating order night by night (fair under
the machine's noise), each after any running autovacuum has finished (its WAL would be
counted in the insert's). Per night and variant: the insert's seconds (EXPLAIN ANALYZE
with TIMING OFF, plus the COMMIT), WAL bytes (``pg_current_wal_lsn()`` difference), WAL
records, full-page images and shared blocks read by the statement itself (EXPLAIN's WAL
and BUFFERS), full-page images of the cluster (``pg_stat_wal.wal_fpi`` difference), the
table's heap and index blocks read (``pg_statio_user_tables`` difference), checkpoints so
far, the load average; every ``--every`` nights (and the first and last) also the
tables' and each index's size and the autovacuum counts.

Examples::

    python bench/bench_closure_keys.py --nights 10                 # a check (~30 s)
    python bench/bench_closure_keys.py --nights 120 --every 10     # the measurement (~8 min)
    python bench/bench_closure_keys.py --nights 3 --entities-per-night 2000 \\
        --workdir /tmp/ck-small --output /tmp/ck-small.json

The workdir is emptied first; the server is stopped at the end (the data stay in the
workdir until the next run). Disk: the tables take ~70 MB a night at the default size
(8.5 GB after 120 nights), the WAL up to ~2 GB more.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import (  # noqa: E402
    argument_parser,
    log,
    machine,
    save_results,
    scratch_server,
    wait_for_autovacuum,
)
from bench_year import code_revision  # noqa: E402

VARIANTS = ("text", "int")
#: calibration files at the start of every night: ancestors shared by the night's files
CALIBRATION = 50
SCHEMA = (
    "CREATE TABLE closure_text (entity_id text, ancestor_id text, depth int, "
    "PRIMARY KEY (entity_id, ancestor_id))",
    "CREATE INDEX closure_text_ancestor ON closure_text (ancestor_id)",
    "CREATE TABLE closure_int (entity_no bigint, ancestor_no bigint, depth int, "
    "PRIMARY KEY (entity_no, ancestor_no))",
    "CREATE INDEX closure_int_ancestor ON closure_int (ancestor_no)",
)
INSERTS = {
    "text": "INSERT INTO closure_text SELECT entity_id, ancestor_id, depth FROM night_text",
    "int": "INSERT INTO closure_int SELECT entity_no, ancestor_no, depth FROM night_int",
}
SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "autovacuum", "work_mem")


def night_rows_sql(night: int, entities: int, ancestors: int) -> str:
    """The statement that fills ``night_int`` with night ``night``'s (0-based) closure rows.

    Entities ``night * entities + 1 ..``; position j of the night is entity number
    ``night * entities + 1 + j``. Positions below :data:`CALIBRATION` have no ancestors;
    the others have two calibration positions ``j mod 50``, ``(j + 1) mod 50`` and the
    ``ancestors - 2`` positions just before them (never a calibration one, so no pair
    repeats). Integers only, formatted in: no user text reaches the statement.
    """
    base, cal = int(night) * int(entities), min(2, int(ancestors))
    chain = int(ancestors) - cal
    return f"""
        CREATE TEMP TABLE night_int AS
        SELECT {base} + 1 + j AS entity_no, {base} + 1 + a.pos AS ancestor_no, a.depth
        FROM generate_series({CALIBRATION}, {int(entities) - 1}) j
        CROSS JOIN LATERAL (
            SELECT (j + c) % {CALIBRATION} AS pos, 2 + c AS depth
            FROM generate_series(0, {cal - 1}) c
            UNION ALL
            SELECT j - i, 1 + (i - 1) % 4 FROM generate_series(1, {chain}) i
            WHERE j - i >= {CALIBRATION}
        ) a
        ORDER BY 1, 2
    """


def counters(cur: Any, variant: str) -> dict[str, int]:
    """WAL position, cluster full-page images and the table's blocks read, after flushing
    this backend's pending statistics (they reach the shared counters at most once a
    second otherwise, so a read right after the insert could miss it). The flush happens
    when the backend goes idle outside a transaction: ``cur``'s connection is in
    autocommit mode."""
    cur.execute("SELECT pg_stat_force_next_flush()")
    cur.execute(
        "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, w.wal_fpi, "
        "coalesce(t.heap_blks_read, 0), coalesce(t.idx_blks_read, 0), "
        "c.num_timed + c.num_requested "
        "FROM pg_stat_wal w, pg_stat_checkpointer c, pg_statio_user_tables t "
        "WHERE t.relname = %s",
        (f"closure_{variant}",),
    )
    lsn, fpi, heap, idx, checkpoints = cur.fetchone()
    return {"lsn": int(lsn), "fpi": fpi, "heap": heap, "idx": idx, "checkpoints": checkpoints}


def timed_insert(conn: Any, variant: str) -> dict[str, Any]:
    """One variant's insert of the night in its own transaction, committed; its figures.
    ``conn`` is in autocommit mode: the statistics are read outside any transaction."""
    cur = conn.cursor()
    waited = wait_for_autovacuum(cur)
    before = counters(cur, variant)
    started = time.perf_counter()
    with conn.transaction():
        explain = "EXPLAIN (ANALYZE, WAL, BUFFERS, TIMING OFF, FORMAT JSON) "
        cur.execute(explain + INSERTS[variant])
        plan = cur.fetchone()[0][0]["Plan"]
    seconds = time.perf_counter() - started
    after = counters(cur, variant)
    return {
        "insert_s": round(seconds, 3),
        "wal_bytes": after["lsn"] - before["lsn"],
        "wal_records": plan.get("WAL Records"),
        "wal_fpi": plan.get("WAL FPI"),
        "cluster_wal_fpi": after["fpi"] - before["fpi"],
        "shared_read": plan.get("Shared Read Blocks"),
        "shared_hit": plan.get("Shared Hit Blocks"),
        "heap_blks_read": after["heap"] - before["heap"],
        "idx_blks_read": after["idx"] - before["idx"],
        "checkpoints_so_far": after["checkpoints"],
        "autovacuum_wait_s": waited,
    }


def sizes(cur: Any) -> dict[str, Any]:
    """Each table's and index's size in bytes and the tables' autovacuum counts."""
    cur.execute(
        "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relname LIKE 'closure\\_%%' ORDER BY 1"
    )
    out: dict[str, Any] = {"bytes": dict(cur.fetchall())}
    cur.execute(
        "SELECT relname, autovacuum_count FROM pg_stat_user_tables "
        "WHERE relname LIKE 'closure\\_%%' ORDER BY 1"
    )
    out["autovacuum_count"] = dict(cur.fetchall())
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the scratch server, insert ``args.nights`` nights, return the figures."""
    with scratch_server(args.workdir) as conn:
        cur = conn.cursor()
        for statement in SCHEMA:
            cur.execute(statement)
        cur.execute("SHOW server_version")
        settings = {"server_version": cur.fetchone()[0]}
        for name in SETTINGS:
            cur.execute(f"SHOW {name}")
            settings[name] = cur.fetchone()[0]
        nights: list[dict[str, Any]] = []
        started = time.perf_counter()
        for night in range(args.nights):
            cur.execute(night_rows_sql(night, args.entities_per_night, args.ancestors))
            rows = cur.rowcount
            cur.execute(
                "CREATE TEMP TABLE night_text AS SELECT md5(entity_no::text) AS entity_id, "
                "md5(ancestor_no::text) AS ancestor_id, depth FROM night_int"
            )
            order = VARIANTS if night % 2 == 0 else VARIANTS[::-1]
            record: dict[str, Any] = {"night": night + 1, "rows": rows, "first": order[0]}
            for variant in order:
                record[variant] = timed_insert(conn, variant)
            cur.execute("DROP TABLE night_int, night_text")
            last = night + 1 == args.nights
            if (night + 1) % args.every == 0 or night == 0 or last:
                record.update(sizes(cur))
            record["load_average_1m"] = round(os.getloadavg()[0], 2)
            nights.append(record)
            log(
                f"night {night + 1}/{args.nights}: {rows} rows; "
                + ", ".join(
                    f"{v} {record[v]['insert_s']:.2f} s "
                    f"{record[v]['wal_bytes'] / 1e6:.0f} MB WAL "
                    f"{record[v]['wal_fpi']} FPI"
                    for v in VARIANTS
                )
            )
        elapsed = time.perf_counter() - started
    return {"settings": settings, "nights": nights, "elapsed_s": round(elapsed, 1)}


def summary(nights: list[dict[str, Any]]) -> dict[str, Any]:
    """Per variant: medians of the first and last 10 nights (fewer if the run is short),
    their ratio, totals, and the sizes at the end."""
    span = min(10, len(nights))
    first, last = nights[:span], nights[-span:]
    out: dict[str, Any] = {"median_of_nights": span}
    end = nights[-1]["bytes"]
    for variant in VARIANTS:
        figures: dict[str, Any] = {}
        for key in ("insert_s", "wal_bytes", "wal_fpi", "shared_read", "idx_blks_read"):
            a = statistics.median(n[variant][key] for n in first)
            b = statistics.median(n[variant][key] for n in last)
            figures[key] = {
                "first": a,
                "last": b,
                "last_over_first": round(b / a, 2) if a else None,
            }
        figures["insert_s_total"] = round(sum(n[variant]["insert_s"] for n in nights), 1)
        figures["wal_bytes_total"] = sum(n[variant]["wal_bytes"] for n in nights)
        figures["table_bytes"] = end[f"closure_{variant}"]
        figures["pk_bytes"] = end[f"closure_{variant}_pkey"]
        figures["ancestor_index_bytes"] = end[f"closure_{variant}_ancestor"]
        out[variant] = figures
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument("--nights", type=int, default=200, help="nights to insert (default 200)")
    p.add_argument(
        "--entities-per-night", type=int, default=15000, help="new entities a night (15000)"
    )
    p.add_argument("--ancestors", type=int, default=14, help="ancestors an entity has (14)")
    p.add_argument(
        "--workdir", type=Path, default=Path("/tmp/closure-keys"), help="emptied, then used"
    )
    p.add_argument("--every", type=int, default=10, help="sizes every K nights (default 10)")
    p.add_argument(
        "--output",
        type=Path,
        default=REPO / "bench" / "results" / f"{date.today().isoformat()}-closure-keys.json",
        help="results JSON (default bench/results/<date>-closure-keys.json)",
    )
    args = p.parse_args(argv)
    if args.nights < 1 or args.every < 1:
        p.error("--nights and --every must be at least 1")
    if args.entities_per_night <= CALIBRATION:
        p.error(f"--entities-per-night must be more than {CALIBRATION} (the calibration files)")
    if not 1 <= args.ancestors <= args.entities_per_night - CALIBRATION:
        p.error("--ancestors must be between 1 and the entities of a night minus 50")
    return args


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    args = parse_args(given)
    info = machine()
    revision = code_revision()
    figures = run(args)
    results = {
        "what": "closure INSERT per night: text md5 keys (today) vs ascending bigint keys",
        "command": " ".join(["python bench/bench_closure_keys.py", *given]),
        "note": (
            "a shared machine (2 cores, other benchmarks running): insert seconds are noisy; "
            "WAL, full-page images, blocks read and sizes do not depend on the load. "
            "Server settings are provdb's for its embedded server (what users get)."
        ),
        "code_revision": revision,
        "machine": info,
        "nights": args.nights,
        "entities_per_night": args.entities_per_night,
        "ancestors": args.ancestors,
        "calibration_per_night": CALIBRATION,
        "settings": figures["settings"],
        "elapsed_s": figures["elapsed_s"],
        "summary": summary(figures["nights"]),
        "per_night": figures["nights"],
    }
    log(f"wrote {save_results(results, args.output, 'closure-keys')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
