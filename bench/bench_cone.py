#!/usr/bin/env python
"""Benchmark ADQL cone searches (``CONTAINS(POINT, CIRCLE) = 1``) on 1M sky positions.

What it does, in order:

1. creates a fresh ``PROVDB_HOME`` (``--home``, default ``/tmp/provdb-bench-cone``) with
   provdb's embedded PostgreSQL, started and held by this process;
2. fills ``bench.points`` with ``--rows`` (1,000,000) positions uniform on the sphere
   (``setseed``: the same table every run), with the columns ObsCore uses (``s_ra``,
   ``s_dec``, double precision degrees, plus ``obs_publisher_did``), ``VACUUM ANALYZE``;
3. for each index layout — a btree on ``(s_dec)``, then one on ``(s_dec, s_ra)`` — runs
   ``--repeat`` (50) cone searches per radius (0.1, 1, 2, 5 degrees) at random centres,
   a third of them near a pole (|dec| > 85) and a third across RA 0 (RA within a radius
   of 0/360), the rest anywhere: each is translated by ``tap.adql.translate`` from
   ``SELECT obs_publisher_did, s_ra, s_dec FROM bench.points WHERE
   CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', ra, dec, r)) = 1`` (timed) and
   executed with psycopg, rows fetched (timed): median / p95 / max ms and rows per search;
4. checks every answer against a brute-force count (the exact distance on every row,
   no index) for the first searches of each kind, and records the plan PostgreSQL chose.

The service adds HTTP and VOTable writing on top (see ``bench_tap.py`` for those costs);
``bench.points`` is not in TAP_SCHEMA, so ``/tap/sync`` is not exercised here.

Results go to ``bench/results/<date>-cone.json`` (or ``--output``)::

    python bench/bench_cone.py
    python bench/bench_cone.py --rows 100000 --repeat 10   # a quick iteration
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import log, machine, save_results

RADII = (0.1, 1.0, 2.0, 5.0)


def catalog() -> Any:
    """A TAP catalog with bench.points (as TAP_SCHEMA would describe it)."""
    from tap.catalog import Catalog

    columns = [
        ("obs_publisher_did", "char", "*", None),
        ("s_ra", "double", None, "deg"),
        ("s_dec", "double", None, "deg"),
    ]
    return Catalog.from_rows(
        {
            "schemas": [{"schema_name": "bench"}],
            "tables": [
                {"schema_name": "bench", "table_name": "bench.points", "table_type": "table"}
            ],
            "columns": [
                {
                    "table_name": "bench.points",
                    "column_name": name,
                    "datatype": datatype,
                    "arraysize": arraysize,
                    "unit": unit,
                    "indexed": name != "obs_publisher_did",
                    "column_index": i,
                }
                for i, (name, datatype, arraysize, unit) in enumerate(columns)
            ],
            "keys": [],
            "key_columns": [],
        }
    )


def centres(rng: random.Random, radius: float, count: int) -> list[tuple[str, float, float]]:
    """(kind, ra, dec): anywhere, near a pole, across RA 0 — in turn."""
    out = []
    for i in range(count):
        kind = ("anywhere", "pole", "ra0")[i % 3]
        if kind == "anywhere":
            ra, dec = rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))
        elif kind == "pole":
            ra, dec = rng.uniform(0, 360), rng.choice((-1, 1)) * rng.uniform(85, 90)
        else:
            ra = rng.uniform(-radius, radius) % 360
            dec = math.degrees(math.asin(rng.uniform(-0.9, 0.9)))
        out.append((kind, ra, dec))
    return out


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(ordered[-1], 2),
        "n": len(ordered),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=51, help="searches per radius")
    parser.add_argument("--check", type=int, default=6, help="searches checked by brute force")
    parser.add_argument("--home", type=Path, default=Path("/tmp/provdb-bench-cone"))
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    from provdb.config import Settings
    from provdb.db import connect, start_embedded
    from tap.adql import translate
    from tap.adql.sphere import distance_sql

    if args.home.exists():
        shutil.rmtree(args.home)
    args.home.mkdir(parents=True)
    os.environ["PROVDB_HOME"] = str(args.home)
    os.environ.pop("PROVDB_DATABASE_URL", None)
    server, _ = start_embedded(args.home / "pgdata")  # held for the whole benchmark
    database = connect(Settings.from_env())
    cat = catalog()
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine(("provdb", "psycopg", "sqlglot")),
        "parameters": {"rows": args.rows, "repeat": args.repeat, "radii_deg": list(RADII)},
        "query": "SELECT obs_publisher_did, s_ra, s_dec FROM bench.points WHERE "
        "CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', ra, dec, r)) = 1",
        "layouts": {},
    }
    raw = database.engine.raw_connection()
    conn = raw.driver_connection
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            log(f"filling bench.points with {args.rows:,} positions")
            t = time.perf_counter()
            cur.execute("CREATE SCHEMA bench")
            cur.execute(
                "CREATE TABLE bench.points (obs_publisher_did text, "
                "s_ra double precision, s_dec double precision)"
            )
            cur.execute("SELECT setseed(0.14)")
            cur.execute(
                "INSERT INTO bench.points SELECT 'ivo://bench/' || i, 360 * random(), "
                "degrees(asin(2 * random() - 1)) FROM generate_series(1, %s) AS i",
                (args.rows,),
            )
            cur.execute("VACUUM ANALYZE bench.points")
            results["load_s"] = round(time.perf_counter() - t, 1)
            exact = distance_sql("s_ra", "s_dec", "%(ra)s", "%(dec)s") + " <= %(r)s"
            for layout in ("s_dec", "s_dec, s_ra"):
                cur.execute("DROP INDEX IF EXISTS bench.points_pos")
                cur.execute(f"CREATE INDEX points_pos ON bench.points ({layout})")
                cur.execute("ANALYZE bench.points")
                log(f"index on ({layout})")
                rng = random.Random(14)
                per_radius: dict[str, Any] = {}
                for radius in RADII:
                    translate_ms, query_ms, rows, kinds = [], [], [], {}
                    for n, (kind, ra, dec) in enumerate(centres(rng, radius, args.repeat)):
                        adql = (
                            "SELECT obs_publisher_did, s_ra, s_dec FROM bench.points WHERE "
                            f"CONTAINS(POINT('ICRS', s_ra, s_dec), "
                            f"CIRCLE('ICRS', {ra!r}, {dec!r}, {radius})) = 1"
                        )
                        t = time.perf_counter()
                        sql = translate(adql, cat, maxrec=None).sql
                        translate_ms.append((time.perf_counter() - t) * 1000)
                        t = time.perf_counter()
                        cur.execute(sql)
                        found = cur.fetchall()
                        elapsed = (time.perf_counter() - t) * 1000
                        query_ms.append(elapsed)
                        kinds.setdefault(kind, []).append(elapsed)
                        rows.append(len(found))
                        if n < args.check:
                            cur.execute("SET enable_indexscan = off")
                            cur.execute("SET enable_bitmapscan = off")
                            cur.execute(
                                f"SELECT count(*) FROM bench.points WHERE {exact}",
                                {"ra": ra, "dec": dec, "r": radius},
                            )
                            brute = cur.fetchone()[0]
                            cur.execute("RESET enable_indexscan")
                            cur.execute("RESET enable_bitmapscan")
                            if brute != len(found):
                                raise SystemExit(
                                    f"wrong answer at ({ra}, {dec}, {radius}): "
                                    f"{len(found)} rows, brute force {brute}"
                                )
                    cur.execute("EXPLAIN " + sql)
                    plan = [r[0] for r in cur.fetchall()]
                    per_radius[str(radius)] = {
                        "query": stats(query_ms),
                        "by_kind_median_ms": {
                            k: round(statistics.median(v), 2) for k, v in kinds.items()
                        },
                        "translate": stats(translate_ms),
                        "rows_median": statistics.median(rows),
                        "rows_max": max(rows),
                        "plan_last": plan[0].split("  (")[0].strip(),
                        "checked_by_brute_force": min(args.check, args.repeat),
                    }
                    q = per_radius[str(radius)]["query"]
                    log(
                        f"  r={radius:>4} deg: median {q['median_ms']} ms, p95 {q['p95_ms']} ms, "
                        f"{statistics.median(rows):.0f} rows"
                    )
                results["layouts"][f"btree ({layout})"] = per_radius
    finally:
        raw.close()
        database.engine.dispose()
        del server
    path = save_results(results, args.output, "cone")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
