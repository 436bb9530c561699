#!/usr/bin/env python
"""The cost of one small ``/tap/sync`` request: round trips, function calls, latency, req/s.

What it does, in order:

1. builds (or, with ``--reuse``, reuses) the synthetic archive of ``bench_tap.py`` in
   ``--workdir`` (default ``/tmp/provdb-bench-latency``; 100,000 entities by default:
   a one-row lookup by primary key does not depend on the table size);
2. **in process** (Flask's test client, no HTTP), ``--requests`` one-row queries
   (``SELECT * FROM provenance.entity WHERE id = '<id>'``, random ids, after a warm-up):
   the database **round trips per request**, counted from libpq's own protocol trace of
   every connection the service hands out (a simple ``Query`` or an extended-protocol
   ``Sync`` sent by the client is one round trip), and the **Python function calls per
   request** (cProfile's call count divided by the requests; its top entries by own
   time go into the results, to say where the time goes). Both are deterministic;
3. **over real HTTP**: ``provdb serve --workers 2 --threads 8`` (gunicorn) on a free
   port; ``--single`` sequential one-row requests over one keep-alive session (median,
   p95), beside the same SQL through one persistent psycopg connection (the floor);
4. ``--clients`` concurrent client processes doing the same for ``--duration`` s:
   requests/s and the CPU share of clients, workers and PostgreSQL (``bench_tap.py``'s
   measure).

The load average of the machine (``os.getloadavg()``) is recorded at the start and the
end: on a shared VM it says how far the latency figures can be trusted (the round trip
and call counts do not depend on it).

``--label`` names the run (e.g. ``before`` / ``after`` a change); runs are merged into
one results file (``bench/results/<date>-latency.json`` or ``--output``) under that key.

Example::

    python bench/bench_latency.py --keep --label before     # build, measure, keep
    python bench/bench_latency.py --reuse --label after      # measure the same archive again
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(REPO))

from _common import argument_parser, bench_home, log, machine, upgrade_archive  # noqa: E402
from bench_tap import (  # noqa: E402
    ONE_ROW,
    Service,
    generate,
    measure_concurrent,
    one_row_over_http,
    stats_ms,
    tap_form,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument("--entities", type=int, default=100_000, help="default 100,000")
    p.add_argument("--requests", type=int, default=2000, help="in-process requests (2,000)")
    p.add_argument("--single", type=int, default=500, help="sequential HTTP requests (500)")
    p.add_argument("--clients", type=int, default=8, help="concurrent client processes (8)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of the concurrent run")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    p.add_argument("--threads", type=int, default=8, help="threads per worker (8)")
    p.add_argument("--max-sync", type=int, default=16, help="PROVDB_TAP_MAX_SYNC_PER_CLIENT (16)")
    p.add_argument("--label", default="run", help="key of this run in the results file")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/provdb-bench-latency"))
    p.add_argument("--keep", action="store_true", help="keep the archive afterwards")
    p.add_argument("--reuse", action="store_true", help="measure an archive kept before")
    p.add_argument("--output", type=Path, default=None, help="results file to merge into")
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- in process


def _round_trips(trace: Path) -> int:
    """Round trips in a libpq trace: each simple Query or extended-protocol Sync the
    client sent waits for the server's ReadyForQuery."""
    count = 0
    for line in trace.read_text(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "F" and parts[2].split(" ")[0] in ("Query", "Sync"):
            count += 1
    return count


def measure_in_process(ids: list[str], n: int) -> dict[str, Any]:
    """Round trips and Python calls per one-row request through Flask's test client."""
    from psycopg import pq

    from tap.app import create_app
    from tap.context import tap_db

    app = create_app(start_workers=False)
    client = app.test_client()
    rng = random.Random(3)
    forms = [tap_form(ONE_ROW.format(id=rng.choice(ids))) for _ in range(n)]

    def run(batch: list[dict[str, str]]) -> None:
        for form in batch:
            r = client.post("/tap/sync", data=form)
            if r.status_code != 200 or (b"STREAM" not in r.data and b"TABLEDATA" not in r.data):
                raise SystemExit(f"one-row query failed: {r.status_code} {r.data[:300]!r}")

    run(forms[:20])  # warm-up: imports, catalog, translation, pooled connections
    with app.app_context():
        db = tap_db()
    traced: set[int] = set()
    fd, name = tempfile.mkstemp(prefix="provdb-libpq-", suffix=".trace")
    trace = Path(name)
    pools = [p for p in (getattr(db, "_pool", None), getattr(db, "_slot_pool", None)) if p]
    originals = [(p, p.get) for p in pools]

    def traced_get(get: Any) -> Any:
        def wrapper() -> Any:
            conn = get()
            if id(conn) not in traced:
                traced.add(id(conn))
                conn.pgconn.trace(fd)
                conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
            return conn

        return wrapper

    for pool, get in originals:
        pool.get = traced_get(get)  # type: ignore[method-assign]
    try:
        k = min(200, n)
        run(forms[:k])
    finally:
        for pool, get in originals:
            pool.get = get  # type: ignore[method-assign]
    # untrace: the trace file is closed below
    for pool, _ in originals:
        for conn in list(pool._idle):
            conn.pgconn.untrace()
    os.close(fd)
    trips = _round_trips(trace)
    trace.unlink()

    profile = cProfile.Profile()
    t0 = time.perf_counter()
    profile.enable()
    run(forms)
    profile.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(profile)
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:15]  # type: ignore[attr-defined]
    app.extensions  # noqa: B018
    return {
        "requests": n,
        "round_trips_per_request": round(trips / k, 2),
        "round_trips_counted_over": k,
        "python_calls_per_request": round(stats.total_calls / n),  # type: ignore[attr-defined]
        "ms_per_request_under_cprofile": round(wall / n * 1000, 3),
        "top_own_time": [
            {
                "function": f"{Path(f[0]).name}:{f[1]}({f[2]})",
                "calls_per_request": round(v[1] / n, 2),
                "own_ms_per_request": round(v[2] / n * 1000, 4),
            }
            for f, v in top
        ],
    }


# ----------------------------------------------------------------------------- over HTTP


def measure_http(base: str, conninfo: str, ids: list[str], n: int) -> dict[str, Any]:
    import psycopg

    from tap.adql import translate
    from tap.catalog import catalog_from_metadata

    rng = random.Random(1)
    sample = [rng.choice(ids) for _ in range(n)]
    http, _ = one_row_over_http(base, ids, sample, warmup=20)
    catalog = catalog_from_metadata()
    direct: list[float] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for eid in sample:
            sql = translate(ONE_ROW.format(id=eid), catalog, maxrec=100000).sql
            t = time.perf_counter()
            rows = conn.execute(sql).fetchall()
            direct.append((time.perf_counter() - t) * 1000)
            assert len(rows) == 1
    return {"tap_keep_alive": stats_ms(http), "direct_psycopg": stats_ms(direct)}


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import psycopg

    from provdb.config import Settings
    from provdb.db import connect, start_embedded

    home, env = bench_home(args.workdir, reuse=args.reuse)
    for key in [k for k in os.environ if k.startswith("PROVDB_")]:
        os.environ.pop(key)
    os.environ["PROVDB_HOME"] = str(home)
    # the clients all come from 127.0.0.1: one client to the service, whose default
    # limit of concurrent sync queries would refuse some of them (429)
    env["PROVDB_TAP_MAX_SYNC_PER_CLIENT"] = str(args.max_sync)
    server, _ = start_embedded(home / "pgdata")
    database = connect(Settings.from_env())
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    run: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": machine(("provdb", "psycopg", "gunicorn", "flask")),
        "max_sync_per_client": args.max_sync,
    }
    service: Service | None = None
    try:
        run["machine"]["postgresql"], existing = upgrade_archive(env, conninfo)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if not (existing and args.reuse):
                e = args.entities
                sizes = {
                    "entities": e,
                    "activities": e * 2 // 3,
                    "used": e * 2,
                    "generations": e,
                    "parameters": e,
                }
                log(f"generating an archive of {e:,} entities ...")
                with conn.transaction(), conn.cursor() as cur:
                    generate(cur, sizes)
                conn.execute("VACUUM ANALYZE")
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM provenance.entity TABLESAMPLE SYSTEM (5) REPEATABLE (7) "
                    "LIMIT 2000"
                ).fetchall()
            ]
            run["entities"] = conn.execute("SELECT count(*) FROM provenance.entity").fetchone()[0]
        log(f"in process: {args.requests} one-row requests through Flask's test client ...")
        run["in_process"] = measure_in_process(ids, args.requests)
        service = Service(env, args.workers, args.threads, args.workdir / "serve.log")
        service.wait_ready()
        run["service"] = f"provdb serve --workers {args.workers} --threads {args.threads}"
        log(f"over HTTP: {args.single} sequential one-row requests ...")
        run["one_row"] = measure_http(service.base, conninfo, ids, args.single)
        log(f"{args.clients} concurrent clients for {args.duration:.0f} s ...")
        run["concurrent"] = measure_concurrent(
            service, home / "pgdata", ids, args.clients, args.duration
        )
        run["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if service is not None:
            service.stop()
        database.dispose()
        server._cleanup()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)

    output = args.output or REPO / "bench" / "results" / (
        f"{datetime.now().date().isoformat()}-latency.json"
    )
    merged: dict[str, Any] = json.loads(output.read_text()) if output.exists() else {}
    merged.setdefault("runs", {})[args.label] = run
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(merged, indent=2) + "\n")
    ip, one, conc = run["in_process"], run["one_row"], run["concurrent"]
    print(
        f"{args.label}: {ip['round_trips_per_request']} round trips and "
        f"{ip['python_calls_per_request']:,} Python calls per request; one row over "
        f"keep-alive {one['tap_keep_alive']['median_ms']} ms median (psycopg alone "
        f"{one['direct_psycopg']['median_ms']} ms); {conc['requests_per_s']} requests/s with "
        f"{args.clients} clients, {conc['errors']} errors; load {run['load_average_at_end']}"
    )
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
