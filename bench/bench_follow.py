"""How soon is a record appended to a followed log queryable through TAP?

Reproduce (from the repository root, with provdb's virtual environment)::

    python bench/bench_follow.py                       # 5 products/s for 300 s
    python bench/bench_follow.py --rate 20 --seconds 300 --interval 1

The script

1. creates a fresh ``PROVDB_HOME`` (``--workdir``, default ``/tmp/provdb-bench-follow``)
   whose embedded PostgreSQL it starts and holds, and migrates the archive;
2. starts ``provdb serve --workers 1`` and ``provdb ingest --follow DIR --interval S -q``
   as subprocesses, as an operator would;
3. appends to ``DIR/prov.log``, at a steady rate, one subrun product at a time in
   lstosa's grammar (activity start, output entity, generation, activity end: 4 lines,
   each write one ``write()`` as lstosa's logger does), remembering when each was written;
4. meanwhile polls ``/tap/sync`` every 0.1 s with one ADQL query for the ids not seen
   yet (``SELECT id FROM provenance.entity WHERE id IN (...)``): a product's latency is
   the time from its write to the first answer that holds it;
5. samples the follower's RSS (psutil) every second, to show that memory stays flat;
6. stops the follower with SIGTERM (its exit status and final line are recorded) and
   writes ``bench/results/<date>-follow.json``.

The goal (issue 13): a record appended to a followed file is queryable within 5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, log, machine, provdb_env, save_results

PYTHON = sys.executable


def product_lines(i: int) -> tuple[str, bytes]:
    """lstosa's four records of subrun product ``i``: its entity id and the bytes."""
    path = f"/data/lst/DL1/20261207/v0.1.0/dl1_LST-1.Run{10000 + i // 200:05d}.{i % 200:04d}.h5"
    entity = hashlib.md5(path.encode()).hexdigest()
    activity = hashlib.md5(f"activity {i}".encode()).hexdigest()[:6]
    start = datetime(2026, 12, 7, 20, 0, tzinfo=UTC).timestamp() + i
    t0 = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    t1 = datetime.fromtimestamp(start + 0.5, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    tag = f"r0_to_dl1:{10000 + i // 200:05d}.{i % 200:04d}"
    records = [
        {
            "activity_id": activity,
            "name": "r0_to_dl1",
            "startTime": t0,
            "in_session": "20261207",
            "agent_name": "Anonymous",
            "script": "/opt/lstosa/bin/datasequence",
            "session_tag": tag,
        },
        {
            "entity_id": entity,
            "name": "DL1SubrunDataset",
            "filepath": path,
            "hash": entity,
            "hash_type": "md5",
            "type": "File",
            "contentType": "application/x-hdf",
            "session_tag": tag,
        },
        {
            "activity_id": activity,
            "generated_id": entity,
            "generated_role": "DL1 subrun dataset",
            "session_tag": tag,
        },
        {"activity_id": activity, "endTime": t1, "session_tag": tag},
    ]
    text = "".join(f"INFO provLogger __PROV__{t0}__PROV__{r!r}\n" for r in records)
    return entity, text.encode()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_tap(base: str, proc: subprocess.Popen, logfile: Path, timeout: float = 120) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"provdb serve exited ({proc.returncode}); see {logfile}")
        try:
            if requests.get(f"{base}/availability", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"provdb serve not available after {timeout} s; see {logfile}")


class Poller(threading.Thread):
    """Ask TAP for the ids written and not seen yet; note when each first appears."""

    def __init__(self, base: str, written: dict[str, float]) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.written = written
        self.seen: dict[str, float] = {}
        self.queries = 0
        self.errors = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        import requests

        session = requests.Session()
        while not self.stop.is_set():
            with self.lock:
                pending = [i for i in self.written if i not in self.seen]
            if pending:
                ids = ", ".join(f"'{i}'" for i in pending[:500])
                try:
                    r = session.post(
                        f"{self.base}/sync",
                        data={
                            "LANG": "ADQL",
                            "QUERY": f"SELECT id FROM provenance.entity WHERE id IN ({ids})",
                            "RESPONSEFORMAT": "csv",
                        },
                        timeout=30,
                    )
                    now = time.monotonic()
                    self.queries += 1
                    if r.status_code == 200:
                        for line in r.text.splitlines()[1:]:
                            if line.strip():
                                self.seen.setdefault(line.strip().strip('"'), now)
                    else:
                        self.errors += 1
                except requests.RequestException:
                    self.errors += 1
            self.stop.wait(0.1)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rate", type=float, default=5.0, help="products appended per second")
    p.add_argument("--seconds", type=float, default=300.0, help="how long to append")
    p.add_argument("--interval", type=float, default=2.0, help="the follower's --interval")
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/provdb-bench-follow"),
        help="scratch PROVDB_HOME, logs (default /tmp/provdb-bench-follow; emptied first)",
    )
    p.add_argument(
        "--output", type=Path, help="results file (default bench/results/<date>-follow.json)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import psutil

    from provdb import migrate
    from provdb.config import Settings
    from provdb.db import connect, start_embedded

    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    home, night = args.workdir / "provdb-home", args.workdir / "night"
    home.mkdir(parents=True)
    night.mkdir()
    env = provdb_env(home)
    os.environ.pop("PROVDB_DATABASE_URL", None)
    os.environ["PROVDB_HOME"] = str(home)
    server, _ = start_embedded(home / "pgdata")  # held for the whole benchmark
    database = connect(Settings.from_env())
    migrate.upgrade(database.engine)
    with database.engine.connect() as conn:
        pg_version = conn.exec_driver_sql("SHOW server_version").scalar()
    database.dispose()

    port = free_port()
    base = f"http://127.0.0.1:{port}/tap"
    serve_log = open(args.workdir / "serve.log", "wb")  # noqa: SIM115 - closed below
    serve = subprocess.Popen(
        [PYTHON, "-m", "provdb", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=serve_log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    log_path = night / "prov.log"
    log_path.write_bytes(b"")  # lstosa creates the log at the start of the night
    follow_out = open(args.workdir / "follow.out", "wb")  # noqa: SIM115
    follow_err = open(args.workdir / "follow.err", "wb")  # noqa: SIM115
    follow_cmd = ["ingest", "--follow", str(night), "--interval", f"{args.interval:g}", "-q"]
    follow = subprocess.Popen(
        [PYTHON, "-m", "provdb", *follow_cmd],
        env=env,
        stdout=follow_out,
        stderr=follow_err,
        cwd=REPO,
    )
    written: dict[str, float] = {}
    rss: list[tuple[float, int]] = []
    try:
        wait_tap(base, serve, args.workdir / "serve.log")
        log(f"provdb serve on {base}; follower pid {follow.pid}; appending for {args.seconds:g} s")
        poller = Poller(base, written)
        poller.start()
        proc = psutil.Process(follow.pid)
        started = time.monotonic()
        period = 1.0 / args.rate
        next_rss = started
        i = 0
        with open(log_path, "ab", buffering=0) as fh:
            while (now := time.monotonic()) - started < args.seconds:
                entity, data = product_lines(i)
                fh.write(data)
                with poller.lock:
                    written[entity] = time.monotonic()
                i += 1
                if now >= next_rss:
                    rss.append((round(now - started, 1), proc.memory_info().rss))
                    next_rss += 1.0
                time.sleep(max(0.0, started + i * period - time.monotonic()))
        log(f"wrote {i} products ({log_path.stat().st_size:,} bytes); waiting for the last ones")
        deadline = time.monotonic() + 60
        while len(poller.seen) < len(written) and time.monotonic() < deadline:
            time.sleep(0.2)
        rss.append((round(time.monotonic() - started, 1), proc.memory_info().rss))
        poller.stop.set()
        poller.join()
    finally:
        follow.send_signal(signal.SIGTERM)
        follow_code = follow.wait(timeout=120)
        serve.terminate()
        serve.wait(timeout=30)
        for fh in (serve_log, follow_out, follow_err):
            fh.close()
        server.cleanup()  # type: ignore[attr-defined]

    latencies = [poller.seen[e] - t for e, t in written.items() if e in poller.seen]
    mb = 1024 * 1024
    rss_mb = [round(r / mb, 1) for _, r in rss]
    half = len(rss_mb) // 2
    final_line = (args.workdir / "follow.out").read_text().strip().splitlines()[-1:]
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": {**machine(("provdb", "psycopg", "requests")), "postgresql": pg_version},
        "parameters": {
            "rate_products_per_s": args.rate,
            "lines_per_product": 4,
            "seconds": args.seconds,
            "follow_command": "provdb " + " ".join(follow_cmd),
            "serve_command": "provdb serve --workers 1",
            "tap_poll_period_s": 0.1,
        },
        "products_written": len(written),
        "products_seen": len(latencies),
        "latency_s": {
            "median": round(statistics.median(latencies), 3),
            "p95": round(percentile(latencies, 0.95), 3),
            "max": round(max(latencies), 3),
            "min": round(min(latencies), 3),
        }
        if latencies
        else None,
        "goal": "a record appended to a followed file is queryable through TAP within 5 s",
        "goal_met": bool(latencies) and len(latencies) == len(written) and max(latencies) <= 5.0,
        "tap_queries": poller.queries,
        "tap_errors": poller.errors,
        "follower_rss_mb": {
            "first": rss_mb[0] if rss_mb else None,
            "last": rss_mb[-1] if rss_mb else None,
            "max_first_half": max(rss_mb[:half]) if half else None,
            "max_second_half": max(rss_mb[half:]) if rss_mb else None,
            "samples_every_s": 1.0,
            "samples": rss_mb,
        },
        "follower_exit_status": follow_code,
        "follower_final_line": final_line[0] if final_line else None,
    }
    path = save_results(results, args.output, "follow")
    lat = results["latency_s"] or {}
    print(
        f"{len(latencies)}/{len(written)} products seen through TAP; latency median "
        f"{lat.get('median')} s, p95 {lat.get('p95')} s, max {lat.get('max')} s; follower RSS "
        f"{results['follower_rss_mb']['first']} -> {results['follower_rss_mb']['last']} MB; "
        f"exit {follow_code}; {path}"
    )
    return 0 if results["goal_met"] and follow_code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
