#!/usr/bin/env python
"""Benchmark the TAP service (``/tap/sync``) against the same SQL run directly with psycopg.

What it does, in order:

1. creates a fresh ``PROVDB_HOME`` (``--workdir``, default ``/tmp/provdb-bench-tap``) with
   provdb's embedded PostgreSQL, started and held by this process, and runs
   ``provdb db upgrade`` (no ``PROVDB_DATABASE_URL``: always a scratch archive);
2. fills ``provenance.activity``, ``entity``, ``used``, ``wasgeneratedby`` and
   ``parameter`` **in SQL** (``INSERT ... SELECT ... FROM generate_series``), shaped like
   lstosa data: entity ids are the md5 of lstosa-like file paths (R0, DL1a, DL1b, muons,
   DL1 check, DL2 of a run/subrun), activity ids ``<6 hex>@<start time>`` with the four
   subrun steps (``r0_to_dl1``, ``dl1ab``, ``dl1_datacheck``, ``dl1_to_dl2``), lstosa's
   usage/generation roles and parameter names. Going through ``provdb ingest`` would
   need ~37 synthetic nights of ``prov.log`` (~12 GB) and many minutes, so it is not
   used; the lineage closure tables stay empty (the TAP queries measured do not read
   them). Secondary indexes and unique constraints are dropped during the load and
   rebuilt after it, foreign-key triggers are off (``session_replication_role =
   replica``); then ``VACUUM ANALYZE``;
3. starts ``provdb serve --workers 2 --threads 8`` (gunicorn gthread, the production
   server) as a subprocess on a free port and waits for ``/tap/availability``;
   ``--binary2-writer`` chooses how the service writes BINARY2 rows: ``copy`` (default:
   binary COPY and the compiled transcoder), ``sql`` (PostgreSQL writes the rows,
   ``PROVDB_TAP_BINARY2_COPY=0``) or ``python`` (both off);
4. measures, each with a direct psycopg baseline in the same run (the baseline runs the
   SQL that ``tap.adql.translate`` makes of the ADQL, with the service's ``MAXREC``):

   a. **one entity by id**: ``SELECT * FROM provenance.entity WHERE id = '<id>'``,
      ``--single N`` (200) sequential POSTs over one keep-alive ``requests.Session``
      (random ids of the archive), median / p95 ms; baseline: execute + fetchall on one
      persistent connection (and, for reference, a new connection per query, which is
      what the service did before the pool of ``tap/db.py``);
   b. **100,000 rows as VOTable BINARY2** (``SELECT TOP 100000 * FROM provenance.used``
      and ``... provenance.entity``): wall time of the streamed HTTP download (bytes
      discarded) against a psycopg server-side cursor ``fetchmany(5000)`` of the same SQL
      (rows discarded), best of ``--repeat``; the ratio is what the target is about;
   c. **1,000,000 rows streamed**: ``SELECT * FROM provenance.used`` with
      ``MAXREC=1000000`` (BINARY2): time, MB/s, and the peak RSS of the gunicorn workers,
      sampled with psutil every 50 ms (the worker that served the request is the one
      whose CPU time grew); baseline: the same SQL through a server-side cursor;
   d. **8 concurrent clients** (``--clients``, processes, each with its own keep-alive
      session) doing query (a) for ``--duration`` s (10): requests/s, errors, p50/p95; the
      CPU time of the clients, of the gunicorn workers and of PostgreSQL over the window
      is reported as a share of the machine, since the clients share its cores.

Results go to ``bench/results/<date>-tap.json`` (or ``--output``) and a table is printed.

Example (the scale of the issue: 1M entities, 2M used, 1M generations, 1M parameters;
~1 min to build on 2 cores)::

    python bench/bench_tap.py
    python bench/bench_tap.py --entities 100000 --used 200000 --generations 100000 \\
        --parameters 100000 --duration 5      # a quick iteration
    python bench/bench_tap.py --keep          # keep the archive ...
    python bench/bench_tap.py --reuse         # ... and measure it again (no rebuild)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(REPO))

from _common import (  # noqa: E402  (bench/ is on sys.path: the script's folder)
    argument_parser,
    bench_home,
    drop_secondary_keys,
    log,
    machine,
    save_results,
    upgrade_archive,
)

#: tables the load fills (their secondary indexes are rebuilt after the load)
LOADED = ("activity", "entity", "used", "wasgeneratedby", "parameter")

ONE_ROW = "SELECT * FROM provenance.entity WHERE id = '{id}'"
ROWS_100K = "SELECT TOP {n} * FROM provenance.{table}"
ROWS_1M = "SELECT * FROM provenance.used"


# ----------------------------------------------------------------------------- data

_BASE = "/fefs/aswg/data/real"
#: entity kinds of one subrun: (description name, path template(night, run, subrun))
_KINDS = (
    ("R0SubrunDataset", _BASE + "/R0/%s/LST-1.1.Run%s.%s.fits.fz", "application/fits"),
    (
        "DL1SubrunDataset",
        _BASE + "/running_analysis/%s/v0.9.0/dl1_LST-1.Run%s.%s.h5",
        "application/x-hdf5",
    ),
    (
        "DL1SubrunDataset",
        _BASE + "/DL1/%s/v0.9.0/tailcut84/dl1_LST-1.Run%s.%s.h5",
        "application/x-hdf5",
    ),
    ("MuonsSubrunDataset", _BASE + "/DL1/%s/v0.9.0/muons_LST-1.Run%s.%s.fits", "application/fits"),
    (
        "DL1CheckSubrunDataset",
        _BASE + "/DL1/%s/v0.9.0/tailcut84/datacheck_dl1_LST-1.Run%s.%s.h5",
        "application/x-hdf5",
    ),
    (
        "DL2SubrunDataset",
        _BASE + "/DL2/%s/v0.9.0/tailcut84/dl2_LST-1.Run%s.%s.h5",
        "application/x-hdf5",
    ),
)
_STEPS = ("r0_to_dl1", "dl1ab", "dl1_datacheck", "dl1_to_dl2")
_USED_ROLES = (
    "R0 subrun dataset",
    "Pedestal file",
    "Coefficients calibration file",
    "Pointing file",
    "Time calibration file",
    "Run summary file",
    "Systematic correction factor file",
    "DL1 subrun dataset",
)
_GEN_ROLES = (
    "R0 subrun dataset",
    "DL1 subrun dataset",
    "DL1b subrun dataset",
    "Muons subrun dataset",
    "DL1Check subrun dataset",
    "DL2 subrun dataset",
)
_PARAMS = (
    ("ObservationRun", "'0' || (1800 + s / 200)"),
    ("ObservationSubRun", "(s % 200)::text"),
    ("ProdID", "'v0.9.0'"),
    ("CalibrationRun", "'0' || (1798 + s / 200 / 30 * 30)"),
    ("PedestalRun", "'0' || (1797 + s / 200 / 30 * 30)"),
    ("StoreImage", "'False'"),
    (
        "RunSummaryFile",
        "'/fefs/aswg/data/real/monitoring/RunSummary/RunSummary_' || night || '.ecsv'",
    ),
    ("DL1ProdID", "'tailcut84'"),
)


def _sql_array(values: Any) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _suffix(j: str, n: int) -> str:
    """SQL text expression: '' for the first n repetitions, ' #j' after (keeps rows unique)."""
    return f"CASE WHEN {j} >= {n} THEN ' #' || {j} ELSE '' END"


def generate(cur: Any, n: dict[str, int]) -> dict[str, Any]:
    """Bulk-generate the archive in the current transaction; returns timings and counts."""
    t0 = time.perf_counter()
    E, A, U, G, P = (n[k] for k in ("entities", "activities", "used", "generations", "parameters"))
    cur.execute("SET LOCAL session_replication_role = replica")  # no FK triggers while loading
    cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
    cur.execute("SET LOCAL work_mem = '256MB'")
    rebuild = drop_secondary_keys(cur, LOADED)

    # a subrun s has 6 files and 4 activities; run = 1800 + s / 200, one night per 30 runs
    subrun = """
        lpad((1800 + s / 200)::text, 5, '0') AS run, lpad((s % 200)::text, 4, '0') AS sub,
        to_char(date '2020-01-17' + s / 200 / 30, 'YYYYMMDD') AS night
    """
    names = _sql_array(k[0] for k in _KINDS)
    paths = _sql_array(k[1] for k in _KINDS)
    mimes = _sql_array(k[2] for k in _KINDS)
    cur.execute(
        f"""
        INSERT INTO provenance.entity (id, name, location, generated_at_time, entity_type,
            content_type, size_bytes)
        SELECT md5(loc), ({names})[kind + 1], loc,
               timestamp '2020-01-17 20:00' + k * interval '1.3 s', 'File', ({mimes})[kind + 1],
               10000000 + (k::bigint * 7919) % 900000000
        FROM (
            SELECT k, kind, format(({paths})[kind + 1], night, run, sub) AS loc
            FROM (SELECT k, k % 6 AS kind, k / 6 AS s FROM generate_series(0, {E - 1}) k) x,
                 LATERAL (SELECT {subrun}) y
        ) z
        """
    )
    log(f"  entity: {cur.rowcount:,} rows ({time.perf_counter() - t0:.0f} s)")
    steps = _sql_array(_STEPS)
    cur.execute(
        f"""
        INSERT INTO provenance.activity (id, name, start_time, end_time, original_id,
            session_tag, script, command_line, start_time_text, end_time_text)
        SELECT h || '@' || to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.US'), step, t,
               t + interval '95 s', h, step || ':' || run, 'lstchain_data_' || step || '.py',
               'lstchain_data_' || step || ' --input-file ' || run || '.' || sub
                   || ' --output-dir /fefs/aswg/data/real/DL1/' || night,
               to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.US'),
               to_char(t + interval '95 s', 'YYYY-MM-DD"T"HH24:MI:SS.US')
        FROM (
            SELECT a, substr(md5('activity' || a), 1, 6) AS h, ({steps})[a % 4 + 1] AS step,
                   timestamp '2020-01-17 20:00' + a * interval '2.000001 s' AS t, a / 4 AS s
            FROM generate_series(0, {A - 1}) a
        ) x, LATERAL (SELECT {subrun}) y
        """
    )
    log(f"  activity: {cur.rowcount:,} rows ({time.perf_counter() - t0:.0f} s)")
    # ids of entity k and activity a, as computed above, in temporary lookup tables
    cur.execute(
        f"""
        CREATE TEMP TABLE eid ON COMMIT DROP AS
        SELECT k, md5(format(({paths})[k % 6 + 1], night, run, sub)) AS id
        FROM generate_series(0, {E - 1}) k, LATERAL (SELECT k / 6 AS s) x,
             LATERAL (SELECT {subrun}) y
        """
    )
    cur.execute("ALTER TABLE eid ADD PRIMARY KEY (k)")
    cur.execute(
        """
        CREATE TEMP TABLE aid ON COMMIT DROP AS
        SELECT a, substr(md5('activity' || a), 1, 6) || '@'
                  || to_char(timestamp '2020-01-17 20:00' + a * interval '2.000001 s',
                             'YYYY-MM-DD"T"HH24:MI:SS.US') AS id,
               timestamp '2020-01-17 20:00' + a * interval '2.000001 s' AS t
        FROM generate_series(0, %s) a
        """,
        (A - 1,),
    )
    cur.execute("ALTER TABLE aid ADD PRIMARY KEY (a)")
    cur.execute("ANALYZE eid")
    cur.execute("ANALYZE aid")
    log(f"  id lookups ({time.perf_counter() - t0:.0f} s)")
    roles, nroles = _sql_array(_USED_ROLES), len(_USED_ROLES)
    # used k: activity k % A uses a file of its own subrun (or a neighbour), role by k / A
    cur.execute(
        f"""
        INSERT INTO provenance.used (activity_id, entity_id, role, used_time)
        SELECT aid.id, eid.id, ({roles})[j % {nroles} + 1] || {_suffix("j", nroles)},
               aid.t + interval '1 s'
        FROM (SELECT k % {A} AS a, k / {A} AS j, ((k % {A}) / 4 * 6 + k / {A}) % {E} AS e
              FROM generate_series(0, {U - 1}) k) x
        JOIN aid USING (a) JOIN eid ON eid.k = x.e
        """
    )
    log(f"  used: {cur.rowcount:,} rows ({time.perf_counter() - t0:.0f} s)")
    roles = _sql_array(_GEN_ROLES)
    # generation k: file k % E by the step of its subrun (k >= E: regenerations)
    cur.execute(
        f"""
        INSERT INTO provenance.wasgeneratedby (entity_id, activity_id, role)
        SELECT eid.id, aid.id, ({roles})[x.e % 6 + 1] || {_suffix("j", 1)}
        FROM (SELECT k % {E} AS e, k / {E} AS j, ((k % {E}) / 6 * 4 + (k % {E}) % 6 % 4) % {A} AS a
              FROM generate_series(0, {G - 1}) k) x
        JOIN aid USING (a) JOIN eid ON eid.k = x.e
        """
    )
    log(f"  wasgeneratedby: {cur.rowcount:,} rows ({time.perf_counter() - t0:.0f} s)")
    pnames = _sql_array(p[0] for p in _PARAMS)
    pvalues = "ARRAY[" + ", ".join(p[1] for p in _PARAMS) + "]"
    cur.execute(
        f"""
        INSERT INTO provenance.parameter (activity_id, name, parameter_value)
        SELECT aid.id, ({pnames})[j % {len(_PARAMS)} + 1] || {_suffix("j", len(_PARAMS))},
               ({pvalues})[j % {len(_PARAMS)} + 1]
        FROM (SELECT k % {A} AS a, k / {A} AS j, (k % {A}) / 4 AS s
              FROM generate_series(0, {P - 1}) k) x
        JOIN aid USING (a) CROSS JOIN LATERAL (SELECT {subrun}) y
        """
    )
    log(f"  parameter: {cur.rowcount:,} rows ({time.perf_counter() - t0:.0f} s)")
    load_s = time.perf_counter() - t0
    for statement in rebuild:
        cur.execute(statement)
    index_s = time.perf_counter() - t0 - load_s
    log(f"  indexes and constraints rebuilt in {index_s:.0f} s")
    return {"load_s": round(load_s, 1), "index_s": round(index_s, 1)}


def table_counts(cur: Any) -> dict[str, int]:
    counts = {}
    for table in LOADED:
        cur.execute(f"SELECT count(*) FROM provenance.{table}")
        counts[table] = cur.fetchone()[0]
    return counts


# ----------------------------------------------------------------------------- helpers


def stats_ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0}

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(pct(0.95), 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
        "n": len(ordered),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tap_form(query: str, maxrec: int | None = None, fmt: str | None = None) -> dict[str, str]:
    form = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query}
    if maxrec is not None:
        form["MAXREC"] = str(maxrec)
    if fmt:
        form["RESPONSEFORMAT"] = fmt
    return form


class Service:
    """``provdb serve`` as a subprocess on a free port, with its worker processes."""

    def __init__(self, env: dict[str, str], workers: int, threads: int, logfile: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/tap"
        self.logfile = logfile
        self._log = open(logfile, "wb")  # noqa: SIM115 -- closed in stop()
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "provdb",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.workers_wanted = workers

    def wait_ready(self, timeout: float = 120.0) -> float:
        import requests

        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"provdb serve exited ({self.proc.returncode}); see {self.logfile}"
                )
            try:
                r = requests.get(f"{self.base}/availability", timeout=2)
                if r.status_code == 200 and len(self.workers()) >= self.workers_wanted:
                    return time.perf_counter() - started
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit(f"provdb serve not available after {timeout} s; see {self.logfile}")

    def workers(self) -> list[Any]:
        import psutil

        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def cpu_times(self) -> dict[int, float]:
        out = {}
        for w in self.workers():
            try:
                t = w.cpu_times()
                out[w.pid] = t.user + t.system
            except Exception:
                pass
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class RssSampler(threading.Thread):
    """Peak RSS of each worker process, sampled every ``interval`` s."""

    def __init__(self, service: Service, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.interval = interval
        self.peak: dict[int, int] = {}
        self.first: dict[int, int] = {}
        self.samples = 0
        self._done = threading.Event()

    def run(self) -> None:
        procs = self.service.workers()
        while not self._done.is_set():
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except Exception:
                    continue
                self.first.setdefault(p.pid, rss)
                if rss > self.peak.get(p.pid, 0):
                    self.peak[p.pid] = rss
            self.samples += 1
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def postgres_cpu(pgdata: Path) -> float:
    """CPU seconds used so far by the embedded PostgreSQL's processes (postmaster + children)."""
    import psutil

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        main = psutil.Process(pid)
        total = 0.0
        for p in [main, *main.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total
    except (OSError, ValueError, psutil.Error):
        return float("nan")


# ----------------------------------------------------------------------------- measures


def one_row_over_http(
    base: str, ids: list[str], sample: list[str], *, warmup: int
) -> tuple[list[float], int]:
    """The one-row query of each entity id of ``sample`` over one keep-alive session,
    after ``warmup`` untimed ones: the milliseconds of each, and the bytes read."""
    import requests

    http: list[float] = []
    nbytes = 0
    with requests.Session() as s:
        for i in range(warmup):
            s.post(f"{base}/sync", data=tap_form(ONE_ROW.format(id=ids[i % len(ids)])))
        for eid in sample:
            t = time.perf_counter()
            r = s.post(f"{base}/sync", data=tap_form(ONE_ROW.format(id=eid)))
            body = r.content
            http.append((time.perf_counter() - t) * 1000)
            if r.status_code != 200 or b"STREAM" not in body:
                raise SystemExit(f"one-row query failed: {r.status_code} {body[:500]!r}")
            nbytes += len(body)
    return http, nbytes


def measure_one_row(
    base: str, conninfo: str, sql_of: Any, ids: list[str], n: int
) -> dict[str, Any]:
    import psycopg

    rng = random.Random(1)
    sample = [rng.choice(ids) for _ in range(n)]
    # warm-up: imports, catalog, plans, connections
    http, nbytes = one_row_over_http(base, ids, sample, warmup=10)
    direct: list[float] = []
    translate: list[float] = []
    with psycopg.connect(conninfo) as conn:
        conn.autocommit = True
        for i in range(10):
            conn.execute(sql_of(ONE_ROW.format(id=ids[i % len(ids)]))[0]).fetchall()
        for eid in sample:
            sql, tr_ms = sql_of(ONE_ROW.format(id=eid))
            translate.append(tr_ms)
            t = time.perf_counter()
            rows = conn.execute(sql).fetchall()
            direct.append((time.perf_counter() - t) * 1000)
            assert len(rows) == 1, (eid, rows)
    fresh: list[float] = []
    for eid in sample[: max(20, n // 4)]:
        sql, _ = sql_of(ONE_ROW.format(id=eid))
        t = time.perf_counter()
        with psycopg.connect(conninfo) as conn:
            conn.execute(sql).fetchall()
        fresh.append((time.perf_counter() - t) * 1000)
    return {
        "query": ONE_ROW,
        "tap": {**stats_ms(http), "mean_bytes": round(nbytes / n)},
        "direct_persistent_connection": stats_ms(direct),
        "direct_new_connection_each": stats_ms(fresh),
        "adql_translate_in_client": stats_ms(translate),
    }


def _download(base: str, form: dict[str, str]) -> tuple[float, int, int, bytes]:
    """Stream a /sync result, discarding the bytes: (seconds, bytes, status, tail)."""
    import requests

    t = time.perf_counter()
    total = 0
    tail = b""
    with requests.post(f"{base}/sync", data=form, stream=True) as r:
        for chunk in r.iter_content(chunk_size=1 << 16):
            total += len(chunk)
            tail = (tail + chunk)[-4096:]
        status = r.status_code
    return time.perf_counter() - t, total, status, tail


def _direct_fetch(conninfo: str, sql: str, batch: int = 5000) -> tuple[float, int]:
    """Same SQL through a server-side cursor, fetchmany(batch), rows discarded."""
    import psycopg

    t = time.perf_counter()
    n = 0
    with psycopg.connect(conninfo) as conn, conn.transaction(), conn.cursor(name="bench") as cur:
        cur.itersize = batch
        cur.execute(sql)
        while rows := cur.fetchmany(batch):
            n += len(rows)
    return time.perf_counter() - t, n


def measure_bulk(
    base: str, conninfo: str, sql_of: Any, table: str, rows: int, repeat: int
) -> dict[str, Any]:
    query = ROWS_100K.format(n=rows, table=table)
    sql, _ = sql_of(query)
    form = tap_form(query, fmt="votable/b2")
    http, direct = [], []
    size = 0
    for _ in range(repeat):
        secs, size, status, tail = _download(base, form)
        if status != 200 or b"</VOTABLE>" not in tail or b'value="ERROR"' in tail:
            raise SystemExit(f"{query}: HTTP {status}, tail {tail[-300:]!r}")
        http.append(secs)
        secs, n = _direct_fetch(conninfo, sql)
        assert n == rows, (n, rows)
        direct.append(secs)
    best_http, best_direct = min(http), min(direct)
    return {
        "query": query,
        "format": "VOTable BINARY2",
        "rows": rows,
        "bytes": size,
        "tap_s": {"best": round(best_http, 3), "median": round(statistics.median(http), 3)},
        "direct_s": {"best": round(best_direct, 3), "median": round(statistics.median(direct), 3)},
        "ratio_best": round(best_http / best_direct, 2),
        "ratio_median": round(statistics.median(http) / statistics.median(direct), 2),
        "tap_rows_per_s": round(rows / best_http),
        "tap_mb_per_s": round(size / 1e6 / best_http, 1),
    }


def measure_stream(service: Service, conninfo: str, sql_of: Any, maxrec: int) -> dict[str, Any]:
    base = service.base
    sql, _ = sql_of(ROWS_1M, maxrec)
    form = tap_form(ROWS_1M, maxrec=maxrec, fmt="votable/b2")
    time.sleep(0.5)
    idle = {}
    for w in service.workers():
        idle[w.pid] = w.memory_info().rss
    cpu0 = service.cpu_times()
    sampler = RssSampler(service)
    sampler.start()
    secs, size, status, tail = _download(base, form)
    sampler.stop()
    cpu1 = service.cpu_times()
    if status != 200 or b"</VOTABLE>" not in tail:
        raise SystemExit(f"{ROWS_1M}: HTTP {status}, tail {tail[-300:]!r}")
    overflow = b'value="OVERFLOW"' in tail
    served = max(cpu1, key=lambda pid: cpu1[pid] - cpu0.get(pid, 0.0))
    dsecs, n = _direct_fetch(conninfo, sql)
    mb = 1024 * 1024
    return {
        "query": ROWS_1M,
        "maxrec": maxrec,
        "format": "VOTable BINARY2",
        "overflow_flagged": overflow,
        "bytes": size,
        "tap_s": round(secs, 2),
        "tap_mb_per_s": round(size / 1e6 / secs, 1),
        "tap_rows_per_s": round(maxrec / secs),
        "direct_s": round(dsecs, 2),
        "direct_rows": n,
        "ratio": round(secs / dsecs, 2),
        "worker_pid": served,
        "worker_cpu_s": round(cpu1[served] - cpu0.get(served, 0.0), 2),
        "worker_idle_rss_mb": round(idle.get(served, 0) / mb, 1),
        "worker_peak_rss_mb": round(sampler.peak.get(served, 0) / mb, 1),
        "all_workers_peak_rss_mb": {
            str(pid): round(v / mb, 1) for pid, v in sorted(sampler.peak.items())
        },
        "rss_samples": sampler.samples,
        "rss_interval_s": sampler.interval,
    }


def client_loop(
    open_session: Callable[[], Any],
    post: Callable[[Any, dict[str, str]], tuple[int, bytes]],
    ids: list[str],
    seed: int,
    start_at: float,
    stop_at: float,
    out: Any,
    *,
    reopen_on_error: bool = False,
) -> None:
    """The body of a concurrent client process: one keep-alive session
    (``open_session()``, closed at the end), one-row queries sent with ``post(session,
    form) -> (status, body)`` from ``start_at`` until ``stop_at``; latencies, errors and
    the process's CPU seconds go to the queue ``out``. ``reopen_on_error``: a new session
    after a failed request (a client whose connection does not recover by itself)."""
    rng = random.Random(seed)
    lat: list[float] = []
    errors: list[str] = []
    session = open_session()
    post(session, tap_form(ONE_ROW.format(id=ids[seed % len(ids)])))  # connect
    while time.time() < start_at:
        time.sleep(0.001)
    c0 = os.times()
    while time.time() < stop_at:
        t = time.perf_counter()
        try:
            status, body = post(session, tap_form(ONE_ROW.format(id=rng.choice(ids))))
            if status != 200 or b'value="ERROR"' in body:
                errors.append(f"HTTP {status}: {body[:200]!r}")
            else:
                lat.append((time.perf_counter() - t) * 1000)
        except Exception as exc:  # any failure counts as an error
            errors.append(repr(exc)[:200])
            if reopen_on_error:
                session.close()
                session = open_session()
    c1 = os.times()
    session.close()
    out.put(
        {
            "latencies": lat,
            "errors": errors,
            "cpu_s": (c1.user - c0.user) + (c1.system - c0.system),
        }
    )


def _client(
    base: str, ids: list[str], seed: int, start_at: float, stop_at: float, out: Any
) -> None:
    """One concurrent client process: one keep-alive python-requests session, one-row
    queries until stop_at (:func:`client_loop`)."""
    import requests

    def post(s: Any, form: dict[str, str]) -> tuple[int, bytes]:
        r = s.post(f"{base}/sync", data=form)
        return r.status_code, r.content

    client_loop(requests.Session, post, ids, seed, start_at, stop_at, out)


def measure_concurrent(
    service: Service,
    pgdata: Path,
    ids: list[str],
    clients: int,
    duration: float,
    client: Any = None,
) -> dict[str, Any]:
    """``clients`` processes running ``client`` (default :func:`_client`, python-requests)
    for ``duration`` s: requests/s, latencies and the CPU of each side."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    start_at = time.time() + 2.0
    stop_at = start_at + duration
    target = client or _client
    procs = [
        ctx.Process(target=target, args=(service.base, ids, i, start_at, stop_at, queue))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    while time.time() < start_at - 0.05:
        time.sleep(0.01)
    cpu0, pg0, t0 = service.cpu_times(), postgres_cpu(pgdata), time.perf_counter()
    while time.time() < stop_at:
        time.sleep(0.01)
    cpu1, pg1, wall = service.cpu_times(), postgres_cpu(pgdata), time.perf_counter() - t0
    results = [queue.get(timeout=duration + 120) for _ in procs]
    for p in procs:
        p.join()
    lat = [x for r in results for x in r["latencies"]]
    errors = [e for r in results for e in r["errors"]]
    client_cpu = sum(r["cpu_s"] for r in results)
    worker_cpu = sum(cpu1[p] - cpu0.get(p, 0.0) for p in cpu1)
    ncpu = os.cpu_count() or 1
    capacity = wall * ncpu
    per_request = (client_cpu + worker_cpu + (pg1 - pg0)) / max(len(lat), 1)
    return {
        "query": ONE_ROW,
        "clients": clients,
        "duration_s": round(duration, 1),
        "requests": len(lat),
        "requests_per_s": round(len(lat) / duration, 1),
        "errors": len(errors),
        "error_examples": errors[:5],
        "latency": stats_ms(lat),
        "cpu_share": {
            "clients": round(client_cpu / capacity, 3),
            "tap_workers": round(worker_cpu / capacity, 3),
            "postgresql": round((pg1 - pg0) / capacity, 3),
            "note": f"CPU seconds over the window / ({ncpu} CPUs x {wall:.1f} s)",
        },
        "cpu_s_per_request": {
            "clients": round(client_cpu / max(len(lat), 1) * 1000, 2),
            "tap_workers": round(worker_cpu / max(len(lat), 1) * 1000, 2),
            "postgresql": round((pg1 - pg0) / max(len(lat), 1) * 1000, 2),
            "unit": "ms",
        },
        # what the clients + service + PostgreSQL would reach if they had every CPU alone
        "cpu_bound_requests_per_s": round(ncpu / per_request, 1) if per_request else None,
        "loadavg_1min_after": round(os.getloadavg()[0], 2),
    }


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__, "bench_tap.py")
    p.add_argument("--entities", type=int, default=1_000_000, help="default 1,000,000")
    p.add_argument(
        "--activities", type=int, help="default entities / 4 (4 steps per subrun of 6 files)"
    )
    p.add_argument("--used", type=int, default=2_000_000, help="default 2,000,000")
    p.add_argument("--generations", type=int, default=1_000_000, help="default 1,000,000")
    p.add_argument("--parameters", type=int, default=1_000_000, help="default 1,000,000")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    p.add_argument("--single", type=int, default=200, help="sequential one-row requests (200)")
    p.add_argument(
        "--bulk-rows", type=int, default=100_000, help="rows of the bulk query (100,000)"
    )
    p.add_argument(
        "--stream-rows", type=int, default=1_000_000, help="MAXREC of the streamed query (1M)"
    )
    p.add_argument("--clients", type=int, default=8, help="concurrent client processes (8)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of the concurrent run")
    p.add_argument("--repeat", type=int, default=3, help="repeats of the bulk downloads (3)")
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/provdb-bench-tap"),
        help="scratch PROVDB_HOME and service log (default /tmp/provdb-bench-tap)",
    )
    p.add_argument(
        "--binary2-writer",
        choices=("copy", "sql", "python"),
        default="copy",
        help="how the service writes BINARY2: copy (default; binary COPY and the compiled "
        "transcoder), sql (PostgreSQL writes the rows: PROVDB_TAP_BINARY2_COPY=0) or "
        "python (PROVDB_TAP_BINARY2_COPY=0 and PROVDB_TAP_BINARY2_SQL=0), to measure what "
        "each gains",
    )
    p.add_argument("--keep", action="store_true", help="keep the archive afterwards")
    p.add_argument("--reuse", action="store_true", help="measure an archive kept before")
    p.add_argument(
        "--output", type=Path, help="results JSON (default bench/results/<YYYY-MM-DD>-tap.json)"
    )
    args = p.parse_args(argv)
    if args.activities is None:
        args.activities = max(args.entities // 4, 1)
    if args.stream_rows > args.used:
        p.error("--stream-rows must not exceed --used (the streamed query reads provenance.used)")
    if args.bulk_rows > min(args.used, args.entities):
        p.error("--bulk-rows must not exceed --used and --entities")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import psycopg

    from provdb.config import Settings
    from provdb.db import connect, start_embedded
    from tap.adql import translate
    from tap.catalog import catalog_from_metadata
    from tap.config import TapConfig

    home, env = bench_home(args.workdir, reuse=args.reuse)
    from tap.votable.binary2_copy import available

    transcoder_built = available()
    if args.binary2_writer == "copy" and not transcoder_built:
        log("the compiled transcoder is not built (no C compiler at install?): the service")
        log("will write BINARY2 in SQL; reinstall provdb with a compiler to measure it")
    env["PROVDB_TAP_BINARY2_COPY"] = "1" if args.binary2_writer == "copy" else "0"
    env["PROVDB_TAP_BINARY2_SQL"] = "0" if args.binary2_writer == "python" else "1"
    os.environ.pop("PROVDB_DATABASE_URL", None)
    os.environ["PROVDB_HOME"] = str(home)
    server, _ = start_embedded(home / "pgdata")  # held for the whole benchmark
    database = connect(Settings.from_env())
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    sizes = {
        "entities": args.entities,
        "activities": args.activities,
        "used": args.used,
        "generations": args.generations,
        "parameters": args.parameters,
    }
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": machine(("provdb", "psycopg", "gunicorn", "requests")),
        "parameters": {
            **sizes,
            "workers": args.workers,
            "threads": args.threads,
            "clients": args.clients,
            "duration_s": args.duration,
            "binary2_writer": args.binary2_writer,
            "transcoder_built": transcoder_built,
        },
    }
    service: Service | None = None
    try:
        results["machine"]["postgresql"], existing = upgrade_archive(env, conninfo)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if existing and args.reuse:
                log(f"reusing the archive in {home} ({existing:,} entities)")
                results["generation"] = {"reused": True}
            else:
                log(
                    "generating {entities:,} entities, {activities:,} activities, {used:,} "
                    "used, {generations:,} generations, {parameters:,} parameters in SQL".format(
                        **sizes
                    )
                )
                t = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur:
                    gen = generate(cur, sizes)
                conn.execute("VACUUM ANALYZE")
                gen["total_s"] = round(time.perf_counter() - t, 1)
                results["generation"] = gen
                log(f"generated in {gen['total_s']} s")
            with conn.cursor() as cur:
                results["archive_rows"] = table_counts(cur)
                cur.execute("SELECT pg_database_size(current_database())")
                results["database_bytes"] = cur.fetchone()[0]
                cur.execute(
                    "SELECT id FROM provenance.entity TABLESAMPLE SYSTEM (1) REPEATABLE (7) "
                    "LIMIT 2000"
                )
                ids = [r[0] for r in cur.fetchall()]
        log(f"archive: {results['archive_rows']}, {results['database_bytes'] / 1e9:.2f} GB")

        catalog = catalog_from_metadata()
        maxrec_default = TapConfig.from_env(env).maxrec_default

        def sql_of(query: str, maxrec: int | None = None) -> tuple[str, float]:
            t = time.perf_counter()
            tr = translate(query, catalog, maxrec=maxrec or maxrec_default)
            return tr.sql, (time.perf_counter() - t) * 1000

        service = Service(env, args.workers, args.threads, args.workdir / "serve.log")
        ready = service.wait_ready()
        log(f"provdb serve ready on {service.base} in {ready:.1f} s")
        results["service"] = {
            "command": f"provdb serve --workers {args.workers} --threads {args.threads}",
            "startup_s": round(ready, 1),
        }

        log(f"one entity by id: {args.single} sequential requests ...")
        results["one_row"] = measure_one_row(service.base, conninfo, sql_of, ids, args.single)
        bulk = {}
        for table in ("used", "entity"):
            log(f"{args.bulk_rows:,} rows of {table} as BINARY2 (x{args.repeat}) ...")
            bulk[table] = measure_bulk(
                service.base, conninfo, sql_of, table, args.bulk_rows, args.repeat
            )
        results["bulk"] = bulk
        log(f"{args.stream_rows:,} rows streamed ...")
        results["stream"] = measure_stream(service, conninfo, sql_of, args.stream_rows)
        log(f"{args.clients} concurrent clients for {args.duration:.0f} s ...")
        results["concurrent"] = measure_concurrent(
            service, home / "pgdata", ids, args.clients, args.duration
        )
        results["machine"]["loadavg_at_end"] = os.getloadavg()
    finally:
        if service is not None:
            service.stop()
        database.dispose()
        server._cleanup()  # stops the embedded server when we are its last user
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)

    one, conc, st = results["one_row"], results["concurrent"], results["stream"]
    b_used = results["bulk"]["used"]
    results["targets"] = {
        "one_row_median_le_10ms": one["tap"]["median_ms"] <= 10.0,
        "bulk_100k_binary2_within_2x": b_used["ratio_best"] <= 2.0,
        "bulk_100k_binary2_within_2x_entity": results["bulk"]["entity"]["ratio_best"] <= 2.0,
        "stream_1m_rss_under_200mb": st["worker_peak_rss_mb"] < 200.0,
        "concurrent_ge_200_rps_no_errors": conc["requests_per_s"] >= 200 and conc["errors"] == 0,
    }
    output = save_results(results, args.output, "tap")
    print_table(results)
    print(f"\nresults: {output}")
    return 0


def print_table(results: dict[str, Any]) -> None:
    rows = results["archive_rows"]
    m = results["machine"]
    print(
        f"\narchive: {', '.join(f'{k} {v:,}' for k, v in rows.items())}; "
        f"{m.get('cpus')} CPUs, {m.get('cpu', '')}"
    )
    one, conc, st = results["one_row"], results["concurrent"], results["stream"]
    head = f"{'measure':44} {'TAP /sync':>22} {'direct psycopg':>22} {'target':>10}"
    print(head)
    print("-" * len(head))
    ok = results["targets"]

    def mark(flag: bool) -> str:
        return "met" if flag else "MISSED"

    print(
        f"{'one entity by id, median / p95 ms':44} "
        f"{one['tap']['median_ms']:>10.2f} / {one['tap']['p95_ms']:<9.2f} "
        f"{one['direct_persistent_connection']['median_ms']:>10.2f} / "
        f"{one['direct_persistent_connection']['p95_ms']:<9.2f} "
        f"{mark(ok['one_row_median_le_10ms']):>10}"
    )
    print(
        f"{'  (direct, new connection per query)':44} {'':22} "
        f"{one['direct_new_connection_each']['median_ms']:>10.2f} / "
        f"{one['direct_new_connection_each']['p95_ms']:<9.2f}"
    )
    for table, b in results["bulk"].items():
        key = "bulk_100k_binary2_within_2x" + ("" if table == "used" else "_entity")
        label = f"{b['rows']:,} rows of {table}, BINARY2, s (ratio)"
        print(
            f"{label:44} "
            f"{b['tap_s']['best']:>10.2f} ({b['ratio_best']:.2f}x)    "
            f"{b['direct_s']['best']:>10.2f}{'':12} {mark(ok[key]):>10}"
        )
    label = f"{st['maxrec']:,} rows streamed, s / MB/s"
    print(
        f"{label:44} "
        f"{st['tap_s']:>10.2f} / {st['tap_mb_per_s']:<9.1f} {st['direct_s']:>10.2f}{'':12}"
    )
    print(
        f"{'  worker peak RSS MB (idle before)':44} "
        f"{st['worker_peak_rss_mb']:>10.1f} ({st['worker_idle_rss_mb']:.1f}){'':4} {'':22} "
        f"{mark(ok['stream_1m_rss_under_200mb']):>10}"
    )
    label = f"{conc['clients']} clients, req/s (errors), p50/p95 ms"
    print(
        f"{label:44} "
        f"{conc['requests_per_s']:>10.1f} ({conc['errors']}) "
        f"{conc['latency'].get('median_ms', 0):.1f}/{conc['latency'].get('p95_ms', 0):.1f}"
        f"{'':10} {'':12} {mark(ok['concurrent_ge_200_rps_no_errors']):>10}"
    )
    share = conc["cpu_share"]
    print(
        f"{'  CPU share clients / workers / PostgreSQL':44} "
        f"{share['clients']:.0%} / {share['tap_workers']:.0%} / {share['postgresql']:.0%}"
        f"  (CPU-bound estimate {conc['cpu_bound_requests_per_s']} req/s)"
    )


if __name__ == "__main__":
    sys.exit(main())
