#!/usr/bin/env python
"""How fast a /sync query's PostgreSQL backend stops after its client disconnects.

What it does:

1. a fresh ``PROVDB_HOME`` (``--workdir``, default ``/tmp/provdb-bench-cancel``) with the
   embedded PostgreSQL, ``provdb db upgrade`` and ``provdb ingest`` of the shipped samples;
2. ``provdb serve --workers 1 --threads 4`` on a free port;
3. ``--trials`` times: sends a /sync query that computes for minutes before its first row
   (a 5-way cross join of ``provenance.entity`` with COUNT) over a raw socket, waits until
   its backend is active in ``pg_stat_activity``, closes the socket and measures the time
   until the backend no longer runs it. Before issue 18 it ran until the statement
   timeout (600 s then).

Writes ``bench/results/<date>-cancel_latency.json`` (``--output`` to change).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, log, machine, save_results

SLOW = (
    "SELECT COUNT(*) AS zzslow FROM provenance.entity AS a, provenance.entity AS b, "
    "provenance.entity AS c, provenance.entity AS d, provenance.entity AS e"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running(conninfo: str) -> bool:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND pid <> pg_backend_pid() AND query ILIKE '%zzslow%'"
        ).fetchone()
    return bool(row and row[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/provdb-bench-cancel"))
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)

    from provdb.config import Settings
    from provdb.db import connect, start_embedded

    home = args.workdir / "provdb-home"
    shutil.rmtree(args.workdir, ignore_errors=True)
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    env["PROVDB_HOME"] = str(home)
    env["PROVDB_METRICS"] = "0"
    os.environ.pop("PROVDB_DATABASE_URL", None)
    os.environ["PROVDB_HOME"] = str(home)
    server, _ = start_embedded(home / "pgdata")  # held for the whole benchmark
    database = connect(Settings.from_env())
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    py = [sys.executable, "-m", "provdb"]
    subprocess.run([*py, "db", "upgrade"], env=env, check=True, cwd=REPO)
    subprocess.run(
        [*py, "ingest", "-q", str(REPO / "provdb/samples")], env=env, check=False, cwd=REPO
    )
    port = _free_port()
    serve_log = open(args.workdir / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*py, "serve", "--port", str(port), "--workers", "1", "--threads", "4"],
        env=env,
        stdout=serve_log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}/tap"
    latencies: list[float] = []
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/availability", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        query = urllib.parse.urlencode({"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": SLOW})
        for trial in range(args.trials):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(f"GET /tap/sync?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            for _ in range(600):
                if _running(conninfo):
                    break
                time.sleep(0.05)
            closed = time.perf_counter()
            sock.close()
            while _running(conninfo):
                if time.perf_counter() - closed > 120:
                    raise SystemExit("the backend was not cancelled within 120 s")
                time.sleep(0.01)
            latencies.append(round(time.perf_counter() - closed, 3))
            log(f"trial {trial + 1}: backend gone {latencies[-1]} s after the disconnect")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        serve_log.close()
        database.dispose()
        server.cleanup()  # type: ignore[attr-defined]
    results: dict[str, Any] = {
        "machine": machine(("provdb", "psycopg", "gunicorn")),
        "query": SLOW,
        "poll_interval_s": 0.2,
        "latency_s": {
            "median": statistics.median(latencies),
            "max": max(latencies),
            "trials": latencies,
        },
    }
    path = save_results(results, args.output, "cancel_latency")
    log(f"results written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
