"""Connection pools for ``/sync`` queries: provdb's own (tap/db.py) against psycopg_pool.

For each pool, and for a fresh connection per query as the baseline, the script times

1. ``checkout``: take a connection and give it back, nothing else;
2. ``query``: take a connection, run ``SELECT 1`` in a transaction, end it and give the
   connection back (what a one-row ``/sync`` query costs in connection handling),

with 1 thread and with 4 threads sharing one pool (8 connections kept, the service's
default), on the embedded PostgreSQL (Unix socket). It writes the median and 95th
percentile latency per operation and the operations per second to
``bench/results/<date>-pool.json`` and prints a table.

    python bench/bench_pool.py                      # ~1 minute
    python bench/bench_pool.py --ops 2000 --output /tmp/pool.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import log, machine, save_results

POOL_SIZE = 8


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ops", type=int, default=5000, help="operations per thread and case")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 4], help="thread counts")
    p.add_argument(
        "--workdir", type=Path, default=Path("/tmp/provdb-bench-pool"), help="embedded server data"
    )
    p.add_argument(
        "--output", type=Path, help="results file (default bench/results/<date>-pool.json)"
    )
    return p.parse_args(argv)


def _clients(conninfo: str) -> dict[str, tuple[Callable[[], Any], Callable[[Any], None], Any]]:
    """name -> (take a connection, give it back, pool to close)."""
    import psycopg
    import psycopg_pool

    from tap.db import ConnectionPool

    ours = ConnectionPool(conninfo, max_idle=POOL_SIZE)
    theirs = psycopg_pool.ConnectionPool(
        conninfo,
        min_size=POOL_SIZE,
        max_size=POOL_SIZE,
        kwargs={"application_name": "provdb-bench"},
        open=True,
    )
    theirs.wait()
    return {
        "new connection each time": (
            lambda: psycopg.connect(conninfo, application_name="provdb-bench"),
            lambda conn: conn.close(),
            None,
        ),
        "provdb ConnectionPool (tap/db.py)": (ours.get, lambda conn: conn.close(), ours),
        "psycopg_pool.ConnectionPool": (theirs.getconn, theirs.putconn, theirs),
    }


def _run(
    take: Callable[[], Any], give: Callable[[Any], None], query: bool, threads: int, ops: int
) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = []
        for _ in range(ops):
            t0 = time.perf_counter()
            conn = take()
            if query:
                conn.execute("SELECT 1").fetchone()
                conn.rollback()
            give(conn)
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "median_us": round(statistics.median(latencies) * 1e6, 1),
        "p95_us": round(latencies[int(len(latencies) * 0.95)] * 1e6, 1),
        "ops_per_s": round(len(latencies) / wall),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from provdb.config import Settings
    from provdb.db import connect, start_embedded

    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True)
    os.environ.pop("PROVDB_DATABASE_URL", None)
    os.environ["PROVDB_HOME"] = str(args.workdir)
    server, _ = start_embedded(args.workdir / "pgdata")  # held for the whole benchmark
    database = connect(Settings.from_env())
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    with database.engine.connect() as conn:
        pg_version = conn.exec_driver_sql("SHOW server_version").scalar()
    clients = _clients(conninfo)
    cases = []
    try:
        for operation in ("checkout", "query"):
            for threads in args.threads:
                for name, (take, give, _pool) in clients.items():
                    ops = (
                        args.ops if name != "new connection each time" else max(args.ops // 10, 50)
                    )
                    _run(take, give, operation == "query", threads, min(ops, 200))  # warm up
                    figures = _run(take, give, operation == "query", threads, ops)
                    case = {"operation": operation, "threads": threads, "pool": name, **figures}
                    log(f"{operation:8} {threads} thread(s) {name:36} {figures}")
                    cases.append(case)
    finally:
        for _take, _give, pool in clients.values():
            if pool is not None:
                pool.close()
        database.dispose()
    import psycopg_pool

    results = {
        "benchmark": "bench/bench_pool.py",
        "machine": machine(),
        "psycopg_pool": psycopg_pool.__version__,
        "postgresql": pg_version,
        "pool_size": POOL_SIZE,
        "ops_per_thread": args.ops,
        "cases": cases,
    }
    path = save_results(results, args.output, "pool")
    print(
        f"{'operation':9} {'threads':>7}  {'pool':36} {'median µs':>10} {'p95 µs':>8} {'ops/s':>8}"
    )
    for c in cases:
        print(
            f"{c['operation']:9} {c['threads']:>7}  {c['pool']:36} {c['median_us']:>10} "
            f"{c['p95_us']:>8} {c['ops_per_s']:>8}"
        )
    log(f"results in {path}")
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
