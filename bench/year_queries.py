"""The read side of the year benchmark (``bench_year.py --queries``): on the final archive.

A real ``provdb serve`` (gunicorn, ``--workers 2 --threads 4``) on a free port; every
request is timed over HTTP (keep-alive ``requests.Session``, median and best of
``REPEAT`` after one cold call), with the time of the same work done directly in
PostgreSQL (psycopg, the SQL that ``tap.adql.translate`` makes of the ADQL) beside it:

* products of one software version over the whole archive (``archive.product_version``,
  ``/tap/sync``);
* full lineage of a DL3 file: ProvSAP ``DEPTH=ALL`` (its ``Server-Timing``), the
  closure rows of the file through ``/tap/sync``, and directly;
* every product affected by one calibration file (``archive.lineage`` on the ancestor);
* ``provdb check`` of a night, of one of its runs and of the DL3 (a process each: wall
  time), and the night's UI page;
* the UI home page and a run page.

``only`` (``bench_year.py --only``) limits the run to some groups of
:data:`QUERY_GROUPS`. ProvSAP is measured in PROV-JSON (the figure of the year table),
PROV-N and PROV-XML, each with the medians of its ``Server-Timing`` parts; every
figure carries the 1-minute load average when it was taken (the machine is shared).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import log

REPEAT = 7
#: groups of the read side (``--only``): the ADQL queries by subject, ProvSAP, UI pages,
#: ``provdb check``
QUERY_GROUPS = ("products", "lineage", "affected", "provsap", "ui", "check")
_ADQL_GROUP = {
    "products_of_one_version": "products",
    "dl3_of_the_main_version": "products",
    "dl3_lineage_closure": "lineage",
    "affected_by_calibration_file": "affected",
}
#: seconds a UI page may take before it is recorded as timed out
PAGE_TIMEOUT = 20


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples) * 1000, 1),
        "best_ms": round(min(samples) * 1000, 1),
        "n": len(samples),
    }


def _timed(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[dict[str, Any], Any]:
    t = time.perf_counter()
    out = fn()
    cold = time.perf_counter() - t
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t)
    return {"cold_ms": round(cold * 1000, 1), **_stats(samples)}, out


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _server_timing(headers: list[str]) -> dict[str, float]:
    """Median of each ``name;dur=ms`` part over the ``Server-Timing`` headers given."""
    parts: dict[str, list[float]] = {}
    for header in headers:
        for item in header.split(","):
            name, _, dur = item.strip().partition(";dur=")
            if dur:
                parts.setdefault(name, []).append(float(dur))
    return {name: round(statistics.median(v), 1) for name, v in parts.items()}


def measure_queries(
    env: dict[str, str],
    sql: Callable[[str], list[tuple]],
    results: dict,
    only: set[str] | None = None,
    repeat: int = REPEAT,
) -> dict:
    """Measure the read side on the archive ``env`` points at; returns the figures.

    ``only``: the groups of :data:`QUERY_GROUPS` to measure (``None``: all); ``repeat``:
    timed calls of each query, ProvSAP request and UI page after the cold one.
    """
    wanted = set(QUERY_GROUPS) if only is None else set(only)
    import psycopg
    import requests
    from bench_tap import Service, tap_form

    from provdb.config import Settings
    from provdb.db import connect
    from tap.adql import translate
    from tap.catalog import catalog_from_metadata

    database = connect(Settings.from_env(env))
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    database.dispose()
    catalog = catalog_from_metadata()
    out: dict[str, Any] = {}

    # subjects: the last night's first DL3 file, its run, a calibration file of that night
    night, run, dl3 = sql(
        "SELECT to_char(s.night, 'YYYYMMDD'), s.observation_run, e.id "
        "FROM provenance.entity e JOIN provenance.wasgeneratedby g ON g.entity_id = e.id "
        "JOIN provenance.activity a ON a.id = g.activity_id "
        "JOIN archive.processing_session s ON s.id = a.session_id "
        "WHERE e.name = 'DL3RunFile' ORDER BY s.night DESC, e.location LIMIT 1"
    )[0]
    (pedestal,) = sql(
        "SELECT e.id FROM provenance.entity e WHERE e.name = 'PedestalFile' "
        f"AND e.location LIKE '%/{night}/%' ORDER BY e.location LIMIT 1"
    )[0]
    out["subjects"] = {"night": night, "run": run, "dl3": dl3, "pedestal_file": pedestal}
    out["groups"] = sorted(wanted)

    pg = psycopg.connect(conninfo, autocommit=True)  # one persistent connection, like the pool

    def direct(statement: str) -> Callable[[], int]:
        def run_it() -> int:
            with pg.cursor() as cur:
                cur.execute(statement, prepare=False)
                return len(cur.fetchall())

        return run_it

    service = Service(env, 2, 4, Path(env["PROVDB_HOME"]).parent / "serve.log")
    try:
        ready = service.wait_ready()
        log(f"provdb serve ready on {service.base} in {ready:.1f} s")
        http = requests.Session()

        def sync(adql: str, maxrec: int) -> Callable[[], int]:
            def run_it() -> int:
                r = http.post(f"{service.base}/sync", data=tap_form(adql, maxrec, "csv"))
                r.raise_for_status()
                return r.text.count("\n") - 1

            return run_it

        adql_queries = {
            "products_of_one_version": (
                "SELECT DISTINCT entity_id, location FROM archive.product_version "
                "WHERE package = 'lstchain' AND version = '0.12.4'",
                1_000_000,
            ),
            "dl3_of_the_main_version": (
                "SELECT DISTINCT entity_id, location FROM archive.product_version "
                "WHERE package = 'lstchain' AND version = '0.12.3' AND product_type = 'DL3'",
                1_000_000,
            ),
            "dl3_lineage_closure": (
                f"SELECT l.ancestor_id, l.depth, e.location FROM archive.lineage AS l "
                f"JOIN provenance.entity AS e ON e.id = l.ancestor_id "
                f"WHERE l.entity_id = '{dl3}'",
                100_000,
            ),
            "affected_by_calibration_file": (
                f"SELECT l.entity_id, e.location FROM archive.lineage AS l "
                f"JOIN provenance.entity AS e ON e.id = l.entity_id "
                f"WHERE l.ancestor_id = '{pedestal}'",
                1_000_000,
            ),
        }
        for name, (adql, maxrec) in adql_queries.items():
            if _ADQL_GROUP[name] not in wanted:
                continue
            sql_text = translate(adql, catalog, maxrec=maxrec).sql
            over_http, rows = _timed(sync(adql, maxrec), repeat)
            in_pg, direct_rows = _timed(direct(sql_text), repeat)
            out[name] = {
                "adql": adql,
                "rows": rows,
                "tap_sync": over_http,
                "direct_postgresql": {**in_pg, "rows": direct_rows},
                "load_average_1m": _load(),
            }
            log(
                f"{name}: {rows:,} rows, /tap/sync {over_http['median_ms']} ms, "
                f"direct {in_pg['median_ms']} ms"
            )

        def provsap(fmt: str, timings: list[str]) -> Callable[[], dict[str, Any]]:
            def run_it() -> dict[str, Any]:
                r = http.get(
                    f"{service.base}/provsap",
                    params={"ID": dl3, "DEPTH": "ALL", "DIRECTION": "BACK", "RESPONSEFORMAT": fmt},
                )
                r.raise_for_status()
                timings.append(r.headers.get("Server-Timing", ""))
                return {
                    "bytes": len(r.content),
                    "nodes": int(r.headers.get("X-Provdb-Nodes", 0)),
                    "truncated": r.headers.get("X-Provdb-Truncated") == "true",
                    "server_timing": r.headers.get("Server-Timing"),
                }

            return run_it

        for key, fmt in (
            ("dl3_lineage_provsap", "PROV-JSON"),
            ("dl3_lineage_provsap_provn", "PROV-N"),
            ("dl3_lineage_provsap_provxml", "PROV-XML"),
        ):
            if "provsap" not in wanted:
                break
            timings: list[str] = []
            timing, info = _timed(provsap(fmt, timings), repeat)
            out[key] = {
                "format": fmt,
                "provsap_http": timing,
                **info,
                "server_timing_median_ms": _server_timing(timings[1:]),  # without the cold one
                "load_average_1m": _load(),
            }
            log(f"ProvSAP DL3 lineage {fmt}: {timing['median_ms']} ms ({info['server_timing']})")

        base = service.base.rsplit("/tap", 1)[0]

        def page(path: str) -> Callable[[], int]:
            def run_it() -> int:
                r = http.get(base + path, timeout=PAGE_TIMEOUT)
                r.raise_for_status()
                return len(r.content)

            return run_it

        pages = (
            ("ui_run_page", f"/ui/run/{night}/{run}"),
            ("ui_night_page", f"/ui/night/{night}"),
            ("ui_home", "/ui/"),
        )
        for name, path in pages if "ui" in wanted else ():
            try:
                timing, size = _timed(page(path), repeat)
            except requests.Timeout:
                # a page that takes minutes is a finding, not a reason to lose the rest
                out[name] = {"path": path, "timed_out_after_s": PAGE_TIMEOUT}
                log(f"{name} {path}: no answer within {PAGE_TIMEOUT} s")
                http = requests.Session()  # the timed-out connection is not reused
                continue
            load = _load()
            out[name] = {"path": path, "bytes": size, "http": timing, "load_average_1m": load}
            log(f"{name} {path}: {timing['median_ms']} ms (load {load})")
    finally:
        service.stop()
        pg.close()

    def check(scope: list[str]) -> dict[str, Any]:
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "provdb", "check", *scope, "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode not in (0, 1):
            raise SystemExit(f"provdb check failed: {proc.stderr}")
        return {"wall_s": round(time.perf_counter() - t, 2), "exit_status": proc.returncode}

    if "check" not in wanted:
        return out
    # the three scopes a user has: a night, one of its runs, one product (the DL3 above);
    # a process each, so the figure includes Python's start-up as a user sees it
    scopes = (
        ("night_check_cli", ["--night", night]),
        ("run_check_cli", ["--run", f"{night}_{int(run):05d}"]),
        ("product_check_cli", ["--id", dl3]),
    )
    for name, scope in scopes:
        runs = [check(scope) for _ in range(2)]
        out[name] = {
            "command": f"provdb check {' '.join(scope)} --format json",
            "wall_s_best": min(r["wall_s"] for r in runs),
            "wall_s_each": [r["wall_s"] for r in runs],
            "exit_status": runs[0]["exit_status"],
        }
        log(f"provdb check {' '.join(scope)}: best {out[name]['wall_s_best']} s")
    return out
