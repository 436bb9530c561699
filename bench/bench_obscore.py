"""ivoa.obscore on a large archive: a view computed from the entities, or the table that
ingest and scan keep current (provdb's choice)? Measures both on ``--products`` DL3
products (default 1,000,000).

The archive is synthetic and loaded in SQL (``generate_series``), in an embedded
``PROVDB_HOME`` under ``--home``: one entity per DL3 file with the EVENTS keywords that
``provdb scan`` records (pointing spread over the sky, 1 % of it within 3 degrees of
the Crab), its generating activity, one session per 1,000 activities with its lstchain
version, a quality flag on 1 % of the products. Then:

1. **view**: ``CREATE VIEW`` of exactly the SELECT that fills the table
   (:mod:`provdb.obscore.refresh`, all entities), queried as ADQL users query ObsCore;
2. **table**: ``ivoa.obscore`` rebuilt once (timed), the same queries on it; and the
   cost of keeping it current: the refresh of the rows of ``--touched`` entities, as an
   ingest or scan of a file with that many products does in its transaction.

Queries (each ``--repeat`` times, median and max in ms): a cone of 2 degrees around the
Crab (box on s_dec/s_ra, then the exact distance), a lookup by obs_publisher_did, DL3
products of one lstchain version that are not flagged.

    python bench/bench_obscore.py                       # 1M products (~10 minutes)
    python bench/bench_obscore.py --products 20000 --repeat 3 --output /tmp/o.json

Results: ``bench/results/<date>-obscore.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, log, machine, save_results

sys.path.insert(0, str(REPO))

QUERIES = {
    "cone_2deg_crab": """
        SELECT obs_publisher_did, s_ra, s_dec FROM {t}
        WHERE s_dec BETWEEN 20.0145 AND 24.0145
          AND s_ra BETWEEN 83.633 - 2.2 AND 83.633 + 2.2
          AND degrees(acos(least(1, sin(radians(s_dec)) * sin(radians(22.0145))
              + cos(radians(s_dec)) * cos(radians(22.0145))
              * cos(radians(s_ra - 83.633))))) < 2""",
    "by_publisher_did": "SELECT * FROM {t} WHERE obs_publisher_did = %(did)s",
    "version_not_flagged_top100": """
        SELECT obs_publisher_did FROM {t}
        WHERE software_version = '0.9.13' AND n_flags = 0 AND data_level = 'DL3'
        LIMIT 100""",
}

LOAD = """
INSERT INTO archive.processing_session (id, original_id, source_format, name, software_version)
SELECT 'bench-s' || s, 'bench-s' || s, 'ctapipe', 'bench', CASE WHEN s %% 2 = 0
       THEN 'v0.9.13' ELSE 'v0.10.5' END
FROM generate_series(0, (%(n)s - 1) / 1000) s;

INSERT INTO archive.software (session_id, source, keyword, package, version, major, minor, patch)
SELECT id, 'session', 'software_version', 'lstchain', substr(software_version, 2), 0,
       CASE WHEN software_version = 'v0.9.13' THEN 9 ELSE 10 END,
       CASE WHEN software_version = 'v0.9.13' THEN 13 ELSE 5 END
FROM archive.processing_session WHERE id LIKE 'bench-s%%';

INSERT INTO provenance.activity (id, name, start_time, end_time, status, session_id)
SELECT 'bench-a' || i, 'lstchain_create_dl3_file', timestamp '2024-01-01' + i * interval '1 s',
       timestamp '2024-01-01' + i * interval '1 s' + interval '30 s', 'completed',
       'bench-s' || (i / 1000)
FROM generate_series(0, %(n)s - 1) i;

INSERT INTO provenance.entity (id, name, location, entity_type, content_type, size_bytes,
                               attributes)
SELECT md5('bench' || i), 'dl3_LST-1.Run' || lpad(i::text, 7, '0') || '.fits',
       '/data/dl3/dl3_LST-1.Run' || lpad(i::text, 7, '0') || '.fits', 'File',
       'application/fits', 2000000 + i %% 1000,
       jsonb_build_object('scan', jsonb_build_object('data_level', 'DL3', 'observation',
           jsonb_build_object(
             'OBS_ID', i, 'OBJECT', CASE WHEN i %% 100 = 0 THEN 'Crab' ELSE 'field' END,
             'RA_PNT', CASE WHEN i %% 100 = 0 THEN 83.633 + (random() - 0.5) * 6
                            ELSE random() * 360 END,
             'DEC_PNT', CASE WHEN i %% 100 = 0 THEN 22.0145 + (random() - 0.5) * 6
                             ELSE degrees(asin(2 * random() - 1)) END,
             'TSTART', 1.6e9 + i * 1500.0, 'TSTOP', 1.6e9 + i * 1500.0 + 1200,
             'MJDREFI', 40587, 'MJDREFF', 0.0, 'LIVETIME', 1140.0,
             'E_MIN', 0.02, 'E_MAX', 80.0, 'E_UNIT', 'TeV')))
FROM generate_series(0, %(n)s - 1) i;

INSERT INTO provenance.wasgeneratedby (entity_id, activity_id)
SELECT md5('bench' || i), 'bench-a' || i FROM generate_series(0, %(n)s - 1) i;

INSERT INTO archive.product_flag (entity_id, rule, severity, detail)
SELECT md5('bench' || i), 'stale', 'warning', 'bench'
FROM generate_series(0, %(n)s - 1, 100) i;
"""


def timed(cur: Any, sql: str, params: dict[str, Any], repeat: int) -> dict[str, Any]:
    samples, rows = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        cur.execute(sql, params)
        rows = len(cur.fetchall())
        samples.append((time.perf_counter() - t0) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "max_ms": round(max(samples), 2),
        "rows": rows,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from provdb import migrate
    from provdb.config import ObsCoreSettings, Settings
    from provdb.db import connect, start_embedded
    from provdb.obscore import refresh as oc

    home = Path(args.home)
    if home.exists():
        shutil.rmtree(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    env["PROVDB_HOME"] = str(home)
    server, _ = start_embedded(home / "pgdata")
    database = connect(Settings.from_env(env))
    migrate.upgrade(database.engine)
    settings = ObsCoreSettings()
    out: dict[str, Any] = {"products": args.products, "repeat": args.repeat}
    raw = database.engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            log(f"loading {args.products:,} products")
            t0 = time.perf_counter()
            for statement in LOAD.split(";\n"):
                if statement.strip():
                    cur.execute(statement, {"n": args.products})
            cur.execute("ANALYZE")
            conn.commit()
            out["load_s"] = round(time.perf_counter() - t0, 1)

            select, params = oc._select(settings, None)
            import psycopg

            view_sql = psycopg.ClientCursor(conn).mogrify(select, params)
            cols = oc._COLUMNS
            cur.execute(f"CREATE VIEW public.obscore_view ({cols}) AS {view_sql}")
            conn.commit()
            log("rebuilding ivoa.obscore")
            t0 = time.perf_counter()
            written = oc.refresh(cur, None, settings)
            cur.execute("ANALYZE ivoa.obscore")
            conn.commit()
            out["table_rebuild_s"] = round(time.perf_counter() - t0, 1)
            out["table_rows"] = written
            cur.execute("SELECT obs_publisher_did FROM ivoa.obscore ORDER BY entity_id LIMIT 1")
            qparams = {"did": cur.fetchone()[0]}
            for name, target in (("view", "public.obscore_view"), ("table", "ivoa.obscore")):
                out[name] = {}
                for qname, sql in QUERIES.items():
                    log(f"{name}: {qname}")
                    out[name][qname] = timed(cur, sql.format(t=target), qparams, args.repeat)
                conn.rollback()
            # keeping the table current: what one ingest or scan of a file adds
            samples = []
            for k in range(args.repeat):
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS _touched (entity_id text) ON COMMIT DROP"
                )
                cur.execute(
                    "INSERT INTO _touched SELECT md5('bench' || i) FROM "
                    "generate_series(%s::int, %s::int) i",
                    (
                        (k * args.touched) % args.products,
                        (k * args.touched) % args.products + args.touched - 1,
                    ),
                )
                t0 = time.perf_counter()
                oc.refresh(cur, "_touched", settings)
                samples.append((time.perf_counter() - t0) * 1000)
                conn.commit()
            out["table_refresh"] = {
                "touched": args.touched,
                "median_ms": round(statistics.median(samples), 1),
                "max_ms": round(max(samples), 1),
            }
    finally:
        raw.close()
        database.dispose()
        server._cleanup()  # type: ignore[attr-defined]
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--products", type=int, default=1_000_000, help="DL3 products (1,000,000)")
    p.add_argument("--repeat", type=int, default=5, help="runs of each query (5)")
    p.add_argument("--touched", type=int, default=1000, help="entities per refresh (1000)")
    p.add_argument("--home", default="/tmp/provdb-bench-obscore", help="PROVDB_HOME to use")
    p.add_argument("--keep", action="store_true", help="keep --home afterwards")
    p.add_argument("--output", type=Path, help="results JSON (bench/results/<date>-obscore.json)")
    args = p.parse_args(argv)
    if args.products < 10 or args.repeat < 1 or args.touched < 1:
        p.error("--products must be at least 10, --repeat and --touched at least 1")
    results = {"machine": machine(), "results": run(args)}
    path = save_results(results, args.output, "obscore")
    log(f"results written to {path}")
    r = results["results"]
    for q in QUERIES:
        print(f"{q:28s} view {r['view'][q]['median_ms']:>10.1f} ms   "
              f"table {r['table'][q]['median_ms']:>8.1f} ms")  # fmt: skip
    print(f"table rebuild {r['table_rebuild_s']} s; refresh of {args.touched} products "
          f"{r['table_refresh']['median_ms']} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
