#!/usr/bin/env python
"""Worker memory of the worst uploads the default limits allow (issues #12 and #18).

1. creates a fresh ``PROVDB_HOME`` (``--workdir``, default ``/tmp/provdb-bench-upload``)
   with a migrated, empty archive and starts ``provdb serve --workers 1``;
2. builds the largest uploads one request may carry under the default budget
   (``PROVDB_TAP_UPLOAD_BYTES`` 20 MB, ``PROVDB_TAP_UPLOAD_ROWS`` 1,000,000 for all
   tables of a request): ``rows`` (1,000,000 rows of an int and a double, BINARY2) and
   ``bytes`` (TABLEDATA with text, just under 20 MB);
3. for each, sends ``SELECT COUNT(*) FROM TAP_UPLOAD.t`` to ``/tap/sync`` with the table
   inline, sampling the worker's RSS every 20 ms: before, peak during, after;
4. measures in this process, with tracemalloc, what the rows of the parsed table cost
   as the Python list of tuples the service built before (``list(rows)``) and as the
   stream it hands to COPY now (one row alive at a time).

Results: ``bench/results/<date>-upload-memory.json`` (or ``--output``).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import argument_parser, embedded_archive, log, machine, save_results, served


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument("--rows", type=int, default=1_000_000, help="rows of the 'rows' case")
    p.add_argument("--bytes", type=int, default=19_900_000, help="size of the 'bytes' case")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/provdb-bench-upload"))
    p.add_argument("--output", type=Path, help="default bench/results/<date>-upload-memory.json")
    return p.parse_args(argv)


def votable_rows(n: int) -> bytes:
    import numpy as np
    from astropy.io.votable import from_table
    from astropy.table import Table

    t = Table({"n": np.arange(n, dtype=np.int32), "x": np.linspace(0, 1, n)})
    vot = from_table(t)
    vot.get_first_table().format = "binary2"
    buf = io.BytesIO()
    vot.to_xml(buf)
    return buf.getvalue()


def votable_bytes(size: int) -> bytes:
    from astropy.table import Table

    row_text = "/data/lst/DL1/20200117/dl1_LST-1.Run01807.0002.h5"
    n = size // 120
    while True:
        t = Table({"path": [f"{row_text}.{i}" for i in range(n)], "n": list(range(n))})
        buf = io.BytesIO()
        t.write(buf, format="votable")
        data = buf.getvalue()
        if len(data) <= size:
            return data
        n = int(n * size / len(data) * 0.995)


def worker_of(serve: subprocess.Popen):
    import psutil

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = psutil.Process(serve.pid).children()
        if children:
            return children[0]
        time.sleep(0.2)
    raise SystemExit("no gunicorn worker found")


def measure_request(site: str, worker, data: bytes) -> dict:
    import requests

    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append(worker.memory_info().rss)
            time.sleep(0.02)

    before = worker.memory_info().rss
    thread = threading.Thread(target=sample)
    thread.start()
    t0 = time.monotonic()
    r = requests.post(
        site + "/tap/sync",
        data={
            "LANG": "ADQL",
            "UPLOAD": "t,param:t",
            "QUERY": "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t",
            "RESPONSEFORMAT": "csv",
        },
        files={"t": ("t.xml", data)},
        timeout=600,
    )
    seconds = time.monotonic() - t0
    stop.set()
    thread.join()
    time.sleep(0.5)
    after = worker.memory_info().rss
    mb = 1024 * 1024
    return {
        "status": r.status_code,
        "answer": r.text.strip().splitlines()[-1] if r.status_code == 200 else r.text[:300],
        "upload_bytes": len(data),
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before / mb, 1),
        "rss_peak_mb": round(max([*samples, before]) / mb, 1),
        "rss_after_mb": round(after / mb, 1),
    }


def rows_cost(data: bytes) -> dict:
    """tracemalloc peak of the parsed rows as a list (before) and as a stream (now)."""
    from tap.query.upload import read_votable

    _, _, rows = read_votable(data, "t")
    tracemalloc.start()
    as_list = list(rows)
    list_peak = tracemalloc.get_traced_memory()[1]
    del as_list
    tracemalloc.stop()
    tracemalloc.start()
    count = 0
    for _ in rows:
        count += 1
    stream_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    mb = 1024 * 1024
    return {
        "rows": count,
        "python_list_mb": round(list_peak / mb, 1),
        "stream_mb": round(stream_peak / mb, 3),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict = {}
    with embedded_archive(args.workdir) as env:
        log("building the uploads")
        cases = {"rows": votable_rows(args.rows), "bytes": votable_bytes(args.bytes)}
        with served(env, args.workdir / "serve.log", workers=1) as (site, serve):
            worker = worker_of(serve)
            figures = {}
            for name, data in cases.items():
                figures[name] = measure_request(site, worker, data)
                figures[name]["in_process_rows"] = rows_cost(data)
                log(f"{name}: {figures[name]}")
            results = {
                "benchmark": "upload_memory",
                "machine": machine(("provdb", "psycopg", "astropy")),
                "limits": {
                    "PROVDB_TAP_UPLOAD_BYTES": 20_000_000,
                    "PROVDB_TAP_UPLOAD_ROWS": 1_000_000,
                },
                "cases": figures,
            }
    out = save_results(results, args.output, "upload-memory")
    log(f"-> {out}")
    return 0 if all(c["status"] == 200 for c in results["cases"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
