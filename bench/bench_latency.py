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
   port; ``--single`` sequential one-row requests over one keep-alive connection
   (median, p95), beside the same SQL through one persistent psycopg connection (the
   floor), with the **CPU milliseconds per request of each side** (``cpu_ms_per_request``:
   the client, the service's processes (gunicorn master and workers, from /proc) and
   PostgreSQL's (postmaster and backends)) and the **bytes on the wire** per request;
   these CPU figures hardly depend on the machine's load, unlike the latencies;
4. with ``--strace`` (needs ``strace``), the **system calls per request** of the
   service's processes (``strace -c -f`` attached to the workers for ``--single``
   more requests; strace slows them, so this runs after the timed measures);
5. ``--clients`` concurrent client processes doing the same for ``--duration`` s:
   requests/s and the CPU per request of clients, workers and PostgreSQL.

``--client`` chooses the HTTP client of 3 and 5: ``http.client`` (the default, the
standard library's, ~0.2 ms of CPU per request) or ``requests`` (python-requests, as the
first runs did: ~1 ms per request, which the clients take from the same 2 CPUs).

The load average of the machine (``os.getloadavg()``) is recorded at the start and the
end: on a shared VM it says how far the latency figures can be trusted (the round trip
and call counts do not depend on it).

``--label`` names the run (e.g. ``before`` / ``after`` a change); runs are merged into
one results file (``bench/results/<date>-latency.json`` or ``--output``) under that key.

The measurement of issue 17 (one-row median over keep-alive, requests/s with 8
clients, CPU per request of each side, system calls), in one command, writing
``bench/results/<date>-latency.json``::

    python bench/bench_latency.py --strace --label after

Comparing two versions of the code::

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
    client_loop,
    generate,
    measure_concurrent,
    postgres_cpu,
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
    p.add_argument(
        "--client",
        choices=("http.client", "requests"),
        default="http.client",
        help="HTTP client of the sequential and concurrent runs (default http.client)",
    )
    p.add_argument(
        "--strace",
        action="store_true",
        help="also count the service's system calls per request (strace -c -f)",
    )
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


class _Poster:
    """One keep-alive HTTP connection that POSTs TAP forms: the standard library's
    http.client (light) or a python-requests session (what the first runs used)."""

    def __init__(self, base: str, kind: str) -> None:
        from urllib.parse import urlsplit

        self.kind = kind
        self.base = base
        url = urlsplit(base)
        self.path = url.path + "/sync"
        if kind == "requests":
            import requests

            self._session = requests.Session()
        else:
            import http.client

            self._conn = http.client.HTTPConnection(url.hostname, url.port)

    def post(self, form: dict[str, str]) -> tuple[int, bytes, int, int]:
        """``(status, body, bytes sent, bytes received)`` of one request (headers
        included, as sent and received on the wire)."""
        from urllib.parse import urlencode

        if self.kind == "requests":
            r = self._session.post(f"{self.base}/sync", data=form)
            req = r.request
            sent = len(req.body or b"") + sum(len(k) + len(v) + 4 for k, v in req.headers.items())
            body = r.content
            head = sum(len(k) + len(v) + 4 for k, v in r.headers.items())
            return r.status_code, body, sent + 40, head + 17 + len(body)
        data = urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        self._conn.request("POST", self.path, body=data, headers=headers)
        r = self._conn.getresponse()
        body = r.read()
        head = sum(len(k) + len(v) + 4 for k, v in r.getheaders())
        # request line + the Host, Accept-Encoding and Content-Length http.client adds
        sent = len(data) + len(self.path) + 76
        sent += sum(len(k) + len(v) + 4 for k, v in headers.items())
        return r.status, body, sent, head + 17 + len(body)

    def close(self) -> None:
        if self.kind == "requests":
            self._session.close()
        else:
            self._conn.close()


def _service_cpu(service: Service) -> float:
    """CPU seconds of the service's processes so far: the gunicorn master and workers."""
    import psutil

    total = sum(service.cpu_times().values())
    try:
        t = psutil.Process(service.proc.pid).cpu_times()
        total += t.user + t.system
    except psutil.Error:
        pass
    return total


def measure_http(
    service: Service, pgdata: Path, conninfo: str, ids: list[str], n: int, client: str
) -> dict[str, Any]:
    import psycopg

    from tap.adql import translate
    from tap.catalog import catalog_from_metadata

    rng = random.Random(1)
    sample = [rng.choice(ids) for _ in range(n)]
    http: list[float] = []
    sent = received = 0
    poster = _Poster(service.base, client)
    try:
        for i in range(20):
            poster.post(tap_form(ONE_ROW.format(id=ids[i])))
        cpu0, pg0, me0 = _service_cpu(service), postgres_cpu(pgdata), time.process_time()
        for eid in sample:
            t = time.perf_counter()
            status, body, out, back = poster.post(tap_form(ONE_ROW.format(id=eid)))
            http.append((time.perf_counter() - t) * 1000)
            if status != 200 or b"STREAM" not in body:
                raise SystemExit(f"one-row query failed: {status} {body[:300]!r}")
            sent += out
            received += back
        cpu1, pg1, me1 = _service_cpu(service), postgres_cpu(pgdata), time.process_time()
    finally:
        poster.close()
    catalog = catalog_from_metadata()
    direct: list[float] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for eid in sample:
            sql = translate(ONE_ROW.format(id=eid), catalog, maxrec=100000).sql
            t = time.perf_counter()
            rows = conn.execute(sql).fetchall()
            direct.append((time.perf_counter() - t) * 1000)
            assert len(rows) == 1
    return {
        "client": client,
        "tap_keep_alive": stats_ms(http),
        "direct_psycopg": stats_ms(direct),
        "cpu_ms_per_request": {
            "client": round((me1 - me0) / n * 1000, 3),
            "service": round((cpu1 - cpu0) / n * 1000, 3),
            "postgresql": round((pg1 - pg0) / n * 1000, 3),
            "note": "CPU time (user+system, from /proc) over the sequential requests / n; "
            "/proc counts in clock ticks (10 ms), hence n of several hundred",
        },
        "bytes_per_request": {
            "sent": round(sent / n),
            "received": round(received / n),
            "note": "HTTP headers and body as parsed (chunk framing not counted)",
        },
    }


def _light_client(
    base: str, ids: list[str], seed: int, start_at: float, stop_at: float, out: Any
) -> None:
    """bench_tap's concurrent client with http.client instead of python-requests (a new
    connection after a failed request)."""
    client_loop(
        lambda: _Poster(base, "http.client"),
        lambda poster, form: poster.post(form)[:2],
        ids,
        seed,
        start_at,
        stop_at,
        out,
        reopen_on_error=True,
    )


def measure_syscalls(service: Service, ids: list[str], n: int, client: str) -> dict[str, Any]:
    """System calls per request of the service's processes: ``strace -c -f`` attached to
    the gunicorn workers while ``n`` sequential one-row requests run."""
    import signal
    import subprocess

    strace = shutil.which("strace")
    if strace is None:
        return {"skipped": "strace is not installed (apt-get install strace)"}
    pids = [str(w.pid) for w in service.workers()]
    out = Path(tempfile.mkstemp(prefix="provdb-strace-", suffix=".txt")[1])
    cmd = [strace, "-c", "-f", "-o", str(out)]
    for pid in pids:
        cmd += ["-p", pid]
    tracer = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached
    rng = random.Random(2)
    poster = _Poster(service.base, client)
    try:
        for _ in range(n):
            status, body, _, _ = poster.post(tap_form(ONE_ROW.format(id=rng.choice(ids))))
            if status != 200:
                raise SystemExit(f"one-row query failed under strace: {status} {body[:300]!r}")
    finally:
        poster.close()
        time.sleep(0.5)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)
    text = out.read_text(errors="replace")
    out.unlink()
    calls: dict[str, int] = {}
    total = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1] == "total":
            total = int(parts[3])
        elif len(parts) >= 5 and parts[3].isdigit() and not line.startswith("%"):
            calls[parts[-1]] = int(parts[3])
    if total is None:
        return {"skipped": f"strace gave no summary: {text[:300]!r}"}
    top = sorted(calls.items(), key=lambda kv: kv[1], reverse=True)[:10]
    return {
        "requests": n,
        "syscalls_per_request": round(total / n, 1),
        "top": {name: round(count / n, 2) for name, count in top},
        "note": "strace -c -f on the gunicorn workers; includes their idle polling",
    }


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
        run["one_row"] = measure_http(
            service, home / "pgdata", conninfo, ids, args.single, args.client
        )
        log(f"{args.clients} concurrent clients for {args.duration:.0f} s ...")
        run["concurrent"] = measure_concurrent(
            service,
            home / "pgdata",
            ids,
            args.clients,
            args.duration,
            client=_light_client if args.client == "http.client" else None,
        )
        run["concurrent"]["client"] = args.client
        if args.strace:
            log(f"system calls of {args.single} requests (strace) ...")
            run["syscalls"] = measure_syscalls(service, ids, args.single, args.client)
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
        f"{args.clients} clients, {conc['errors']} errors; CPU ms per request (sequential): "
        f"{one['cpu_ms_per_request']}; load {run['load_average_at_end']}"
    )
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
