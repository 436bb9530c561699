#!/usr/bin/env python
"""Benchmark the ProvSAP lineage on a large archive (>= 10M relation rows).

Ingesting ~90 synthetic nights through ``provdb ingest`` would take hours, so the
archive is bulk-generated **in SQL** (``generate_series``) into a scratch embedded
``PROVDB_HOME``, shaped like the LST chains the ingest produces from lstosa's
``prov.log`` (same ids, names, roles and the dl1ab self-loop):

* per subrun (``--nights`` x ``--runs`` x ``--subruns``): files R0, DL1a, DL1b
  (tailcut84), muons, DL1 check, DL2 (entity ids = md5 of the path, as lstosa);
  activities ``r0_to_dl1`` (uses R0 and the night's pedestal, coefficients, run
  summary, pointing, and the month's time calibration and systematics; generates DL1a
  and muons), ``dl1ab`` (uses and generates DL1b: the self-loop; DL1b wasDerivedFrom
  DL1a; parameter StoreImage), ``dl1_datacheck`` (DL1b + muons -> check),
  ``dl1_to_dl2`` (DL1b + 3 RF models -> DL2); each associated with the agent
  ``lstanalyzer``: 25 relation rows per subrun;
* per night: ``drs4_pedestal`` (pedestal run R0 -> pedestal file) and
  ``calibrate_charge`` (calibration run R0, pedestal, time calibration, systematics ->
  coefficients), one session per run and one calibration session.

The default 100 x 20 x 200 gives 400,000 subruns and 10.0M relation rows (plus 2.4M
entities and 1.6M activities). Indexes and unique constraints of the loaded tables are
dropped during the load and rebuilt after it (as ``pg_restore`` does), foreign keys are
not checked during the load (``session_replication_role = replica``); the archive is
then ``ANALYZE``d. The archive's lineage closure tables are not filled (the ProvSAP walk
does not use them).

Measured (each ``--repeat`` times, median and best reported; the first, cold, call
apart):

1. ``traverse``: :func:`provdb.lineage.traverse.lineage` in-process: BACK lineage,
   DEPTH=ALL, of one DL2 product (the walk statement + the bulk attribute queries);
2. ``http``: the same through HTTP, ``GET /tap/provsap?ID=..&DEPTH=ALL`` (PROV-JSON),
   against the real Flask app served by werkzeug in this process: client wall time and
   the server's own ``Server-Timing`` (walk, serialisation);
3. ``entity page``: a 500-node graph (FORTH, DEPTH=ALL from a night's pedestal file,
   MAXREC=500, truncated) rendered as SVG through HTTP, the server time of the page's
   graph; plus the 50- and 500-node SVG renderings in-process with the python layout
   and, when a Graphviz ``dot`` is found (system, or the graphviz-pure wheel), with it.

Results: ``bench/results/<date>-lineage.json``. Example::

    python bench/bench_lineage.py                       # 10M relations, ~10 min to build
    python bench/bench_lineage.py --nights 5 --repeat 5 # a quick run (0.5M relations)
    python bench/bench_lineage.py --keep                # keep the archive ...
    python bench/bench_lineage.py --reuse               # ... and measure it again
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import drop_secondary_keys, log, machine  # noqa: E402  (bench/ is on sys.path: the script's folder)

BASE = "/fefs/aswg/data/real"
CAL = f"{BASE}/monitoring/PixelCalibration/Cat-A"
#: relation tables the load fills (their indexes are rebuilt after the load)
LOADED = (
    "entity",
    "activity",
    "used",
    "wasgeneratedby",
    "wasassociatedwith",
    "wasderivedfrom",
    "parameter",
)


# ----------------------------------------------------------------------------- generation


def _paths() -> dict[str, str]:
    """SQL expressions of the per-subrun file paths (columns night, run, subrun of sub)."""
    dl1 = f"'{BASE}/DL1/' || night || '/v0.9.0/"
    return {
        "r0": f"'{BASE}/R0G/' || night || '/LST-1.1.Run' || run || '.' || subrun || '.fits.fz'",
        "dl1a": f"{dl1}dl1_LST-1.Run' || run || '.' || subrun || '.h5'",
        "dl1b": f"{dl1}tailcut84/dl1_LST-1.Run' || run || '.' || subrun || '.h5'",
        "muons": f"{dl1}muons/muons_LST-1.Run' || run || '.' || subrun || '.fits'",
        "chk": f"{dl1}tailcut84/datacheck_dl1_LST-1.Run' || run || '.' || subrun || '.h5'",
        "dl2": f"'{BASE}/DL2/' || night || '/v0.9.0/tailcut84/dl2_LST-1.Run' || run || '.' "
        "|| subrun || '.h5'",
    }


#: entity name and content type of each per-subrun file
FILE_KINDS = {
    "r0": ("R0SubrunDataset", "application/fits"),
    "dl1a": ("DL1SubrunDataset", "application/x-hdf"),
    "dl1b": ("DL1SubrunDataset", "application/x-hdf"),
    "muons": ("MuonsSubrunDataset", "application/fits"),
    "chk": ("DL1CheckSubrunDataset", "application/x-hdf"),
    "dl2": ("DL2SubrunDataset", "application/x-hdf"),
}


def _night_paths() -> dict[str, tuple[str, str, str]]:
    """Per-night (and per-month, global) files: key -> (SQL path expr, name, content type)."""
    return {
        "pedr0": (
            f"'{BASE}/R0G/' || night || '/LST-1.1.Run' || pedrun || '.0000.fits.fz'",
            "R0SubrunDataset",
            "application/fits",
        ),
        "calr0": (
            f"'{BASE}/R0G/' || night || '/LST-1.1.Run' || calrun || '.0000.fits.fz'",
            "R0SubrunDataset",
            "application/fits",
        ),
        "ped": (
            f"'{CAL}/drs4_baseline/' || night || '/v0.9.0/drs4_pedestal.Run' || pedrun "
            "|| '.0000.h5'",
            "PedestalFile",
            "application/x-hdf",
        ),
        "coef": (
            f"'{CAL}/calibration/' || night || '/v0.9.0/calibration_filters_52.Run' || calrun "
            "|| '.0000.h5'",
            "CoefficientsCalibrationFile",
            "application/x-hdf",
        ),
        "summary": (
            f"'{BASE}/monitoring/RunSummary/RunSummary_' || night || '.ecsv'",
            "RunSummaryFile",
            "text/plain",
        ),
        "pointing": (
            f"'{BASE}/monitoring/DrivePositioning/DrivePosition_log_' || night || '.txt'",
            "PointingFile",
            "text/plain",
        ),
        "timecal": (
            f"'{CAL}/drs4_time_sampling_from_FF/' || month || "
            "'/pro/time_calibration.Run01625.0000.h5'",
            "TimeCalibrationFile",
            "application/x-hdf",
        ),
        "syst": (
            f"'{CAL}/ffactor_systematics/' || month || '/pro/ffactor_systematics.h5'",
            "SystematicCorrectionFile",
            "application/x-hdf",
        ),
    }


GLOBAL_FILES = {
    "config": ("/software/lstchain/data/lstchain_standard_config.json", "AnalysisConfigFile"),
    "rf1": ("/fefs/aswg/data/models/AllSky/v0.9.0/reg_energy.sav", "RFModel"),
    "rf2": ("/fefs/aswg/data/models/AllSky/v0.9.0/cls_gh.sav", "RFModel"),
    "rf3": ("/fefs/aswg/data/models/AllSky/v0.9.0/reg_disp_norm.sav", "RFModel"),
}


def _act_id(tag: str, key: str, when: str) -> str:
    """An lstosa-like activity id ``<6 hex>@<start time>`` (SQL expression)."""
    return (
        f"substr(md5('{tag}' || ({key})::text), 1, 6) || '@' || "
        f"to_char({when}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    )


def generate(cur: Any, nights: int, runs: int, subruns: int) -> dict[str, Any]:
    """Bulk-generate the archive in the current transaction; returns row counts."""
    from provdb.schema import ProcessingSession

    session_table = ProcessingSession.__table__.fullname
    t0 = time.perf_counter()
    cur.execute("SET LOCAL session_replication_role = replica")  # no FK triggers while loading
    cur.execute("SET LOCAL maintenance_work_mem = '1GB'")
    cur.execute("SET LOCAL work_mem = '256MB'")
    # drop the secondary indexes and unique constraints of the loaded tables
    rebuild = drop_secondary_keys(cur, LOADED)

    cur.execute(
        f"""
        CREATE TEMP TABLE nights ON COMMIT DROP AS
        SELECT n, to_char(date '2020-01-01' + n, 'YYYYMMDD') AS night,
               to_char(date '2020-01-01' + (n / 30) * 30, 'YYYYMMDD') AS month,
               lpad((10000 + n * ({runs} + 2))::text, 5, '0') AS pedrun,
               lpad((10001 + n * ({runs} + 2))::text, 5, '0') AS calrun,
               timestamp '2020-01-01 20:00' + n * interval '1 day' AS t0
        FROM generate_series(0, {nights - 1}) n
        """
    )
    night_paths = _night_paths()
    cols = ", ".join(f"md5({expr}) AS {key}" for key, (expr, _, _) in night_paths.items())
    cur.execute(f"CREATE TEMP TABLE nfiles ON COMMIT DROP AS SELECT n, {cols} FROM nights")
    paths = _paths()
    cols = ", ".join(f"md5({expr}) AS {key}" for key, expr in paths.items())
    acts = ", ".join(
        f"{_act_id(tag, 'k', f't0 + interval {off!r}')} AS {name}, "
        f"t0 + interval {off!r} AS {name}_start"
        for name, tag, off in (
            ("a_r0", "r0", "0 s"),
            ("a_ab", "ab", "60.000001 s"),
            ("a_chk", "chk", "90.000002 s"),
            ("a_dl2", "dl2", "120.000003 s"),
        )
    )
    cur.execute(
        f"""
        CREATE TEMP TABLE sub ON COMMIT DROP AS
        SELECT x.*, {cols}, {acts}
        FROM (
            SELECT nt.n, r, s, nt.night, nt.month, lpad((10002 + nt.n * ({runs} + 2) + r)::text,
                   5, '0') AS run, lpad(s::text, 4, '0') AS subrun,
                   nt.t0 + interval '1 hour' + (r * {subruns} + s) * interval '7 seconds' AS t0,
                   (nt.n * {runs} + r) * {subruns} + s AS k
            FROM nights nt, generate_series(0, {runs - 1}) r, generate_series(0, {subruns - 1}) s
        ) x
        """
    )
    log(f"  temp tables in {time.perf_counter() - t0:.0f} s")

    cur.execute(
        "INSERT INTO provenance.agent (id, name, type) VALUES "
        "('lstanalyzer', 'lstanalyzer', 'Person') ON CONFLICT DO NOTHING"
    )
    cur.execute(
        f"""
        INSERT INTO {session_table} (id, original_id, source_format, name, observation_date,
            night, observation_run, software_version, config_file)
        SELECT DISTINCT night || run || '-bench', night || run, 'lstosa', run, night,
               to_date(night, 'YYYYMMDD'), run, 'v0.9.0', '/software/osa/sequencer.cfg'
        FROM sub
        UNION ALL
        SELECT night || pedrun || calrun || '-bench', pedrun || calrun, 'lstosa', 'ped-cal',
               night, to_date(night, 'YYYYMMDD'), NULL, 'v0.9.0', '/software/osa/sequencer.cfg'
        FROM nights
        """
    )
    # entities
    for key, (name, content) in FILE_KINDS.items():
        cur.execute(
            f"INSERT INTO provenance.entity (id, name, location, entity_type, content_type) "
            f"SELECT md5(p), '{name}', p, 'File', '{content}' "
            f"FROM (SELECT {paths[key]} AS p FROM sub) x"
        )
    for expr, name, content in night_paths.values():
        cur.execute(
            f"INSERT INTO provenance.entity (id, name, location, entity_type, content_type) "
            f"SELECT DISTINCT md5(p), '{name}', p, 'File', '{content}' "
            f"FROM (SELECT {expr} AS p FROM nights) x"
        )
    for path, name in GLOBAL_FILES.values():
        cur.execute(
            "INSERT INTO provenance.entity (id, name, location, entity_type) "
            "VALUES (md5(%s), %s, %s, 'File')",
            (path, name, path),
        )
    log(f"  entities in {time.perf_counter() - t0:.0f} s")
    # activities
    for col, name in (
        ("a_r0", "r0_to_dl1"),
        ("a_ab", "dl1ab"),
        ("a_chk", "dl1_datacheck"),
        ("a_dl2", "dl1_to_dl2"),
    ):
        cur.execute(
            f"""
            INSERT INTO provenance.activity (id, name, start_time, end_time, original_id,
                session_id, session_tag, script)
            SELECT {col}, '{name}', {col}_start, {col}_start + interval '50 s',
                   substr({col}, 1, 6), night || run || '-bench', '{name}:' || run,
                   '/software/osa/bin/datasequence'
            FROM sub
            """
        )
    for name, off in (("drs4_pedestal", "0 s"), ("calibrate_charge", "600 s")):
        when = f"t0 + interval '{off}'"
        cur.execute(
            f"""
            INSERT INTO provenance.activity (id, name, start_time, end_time, original_id,
                session_id, session_tag, script)
            SELECT {_act_id(name, "n", when)}, '{name}', {when}, {when} + interval '500 s',
                   substr(md5('{name}' || n::text), 1, 6),
                   night || pedrun || calrun || '-bench',
                   '{name}:' || pedrun || '-' || calrun, '/software/osa/bin/calibration_pipeline'
            FROM nights
            """
        )
    log(f"  activities in {time.perf_counter() - t0:.0f} s")
    g = {k: f"md5('{path}')" for k, (path, _) in GLOBAL_FILES.items()}
    # relations of the subruns
    cur.execute(
        f"""
        INSERT INTO provenance.used (activity_id, entity_id, role)
        SELECT s.a_r0, u.e, u.role FROM sub s JOIN nfiles f ON f.n = s.n
        CROSS JOIN LATERAL (VALUES (s.r0, 'Observation subrun'), (f.ped, 'Pedestal file'),
            (f.coef, 'Coefficients calibration file'), (f.timecal, 'Time calibration file'),
            (f.syst, 'Systematic correction factor file'), (f.summary, 'Run summary'),
            (f.pointing, 'Pointing file')) u(e, role)
        UNION ALL SELECT a_ab, dl1b, 'DL1 subrun dataset' FROM sub
        UNION ALL SELECT a_ab, {g["config"]}, 'Analysis configuration file' FROM sub
        UNION ALL SELECT a_chk, dl1b, 'DL1AB subrun dataset' FROM sub
        UNION ALL SELECT a_chk, muons, 'Muons subrun dataset' FROM sub
        UNION ALL SELECT a_dl2, dl1b, 'DL1 subrun dataset' FROM sub
        UNION ALL SELECT a_dl2, m.e, 'RF model' FROM sub
            CROSS JOIN (VALUES ({g["rf1"]}), ({g["rf2"]}), ({g["rf3"]})) m(e)
        """
    )
    log(f"  used in {time.perf_counter() - t0:.0f} s")
    cur.execute(
        """
        INSERT INTO provenance.wasgeneratedby (entity_id, activity_id, role)
        SELECT dl1a, a_r0, 'DL1 subrun dataset' FROM sub
        UNION ALL SELECT muons, a_r0, 'Muons subrun dataset' FROM sub
        UNION ALL SELECT dl1b, a_ab, 'DL1AB subrun dataset' FROM sub
        UNION ALL SELECT chk, a_chk, 'DL1Check subrun dataset' FROM sub
        UNION ALL SELECT dl2, a_dl2, 'DL2 subrun dataset' FROM sub
        """
    )
    cur.execute(
        "INSERT INTO provenance.wasderivedfrom (generated_entity_id, used_entity_id) "
        "SELECT dl1b, dl1a FROM sub"
    )
    cur.execute(
        """
        INSERT INTO provenance.wasassociatedwith (activity_id, agent_id)
        SELECT a, 'lstanalyzer' FROM sub CROSS JOIN LATERAL (VALUES (a_r0), (a_ab), (a_chk),
            (a_dl2)) v(a)
        """
    )
    cur.execute(
        "INSERT INTO provenance.parameter (activity_id, name, parameter_value) "
        "SELECT a_ab, 'StoreImage', 'True' FROM sub"
    )
    # relations of the nights' calibration
    ped_act = _act_id("drs4_pedestal", "n", "t0 + interval '0 s'")
    cal_act = _act_id("calibrate_charge", "n", "t0 + interval '600 s'")
    cur.execute(
        f"""
        CREATE TEMP TABLE cal ON COMMIT DROP AS
        SELECT f.*, {ped_act} AS a_ped, {cal_act} AS a_cal FROM nights JOIN nfiles f USING (n)
        """
    )
    cur.execute(
        """
        INSERT INTO provenance.used (activity_id, entity_id, role)
        SELECT a_ped, pedr0, 'DRS4 pedestal run' FROM cal
        UNION ALL SELECT a_cal, calr0, 'Calibration run' FROM cal
        UNION ALL SELECT a_cal, ped, 'Pedestal file' FROM cal
        UNION ALL SELECT a_cal, timecal, 'Time calibration file' FROM cal
        UNION ALL SELECT a_cal, syst, 'Systematic correction factor file' FROM cal
        """
    )
    cur.execute(
        """
        INSERT INTO provenance.wasgeneratedby (entity_id, activity_id, role)
        SELECT ped, a_ped, 'Pedestal file' FROM cal
        UNION ALL SELECT coef, a_cal, 'Coefficients calibration file' FROM cal
        """
    )
    cur.execute(
        "INSERT INTO provenance.wasassociatedwith (activity_id, agent_id) "
        "SELECT a_ped, 'lstanalyzer' FROM cal UNION ALL SELECT a_cal, 'lstanalyzer' FROM cal"
    )
    log(f"  relations in {time.perf_counter() - t0:.0f} s; rebuilding indexes")
    load_s = time.perf_counter() - t0
    for statement in rebuild:
        cur.execute(statement)
    index_s = time.perf_counter() - t0 - load_s
    log(f"  indexes in {index_s:.0f} s")
    counts = {}
    for table in (*LOADED, "agent", "wasattributedto", "wasinformedby", "hadmember"):
        cur.execute(f"SELECT count(*) FROM provenance.{table}")
        counts[table] = cur.fetchone()[0]
    counts["relations"] = sum(
        counts[t]
        for t in (
            "used",
            "wasgeneratedby",
            "wasassociatedwith",
            "wasderivedfrom",
            "wasattributedto",
            "wasinformedby",
            "hadmember",
        )
    )
    return {"counts": counts, "load_s": round(load_s, 1), "index_s": round(index_s, 1)}


# ----------------------------------------------------------------------------- measuring


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "min_ms": round(ordered[0], 2),
        "p95_ms": round(p95, 2),
        "n": len(ordered),
    }


def timed(func: Any, repeat: int) -> tuple[float, list[float], Any]:
    """(first call ms, later calls ms, last result)."""
    t = time.perf_counter()
    result = func()
    first = (time.perf_counter() - t) * 1000
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = func()
        times.append((time.perf_counter() - t) * 1000)
    return first, times, result


def serve(settings: Any) -> tuple[str, Any]:
    """The provdb service (with ProvSAP) on a free local port, in a thread."""
    import logging

    from werkzeug.serving import make_server

    from tap.app import create_app

    app = create_app(settings=settings, start_workers=False)
    if "provsap" not in app.blueprints:  # until tap/app.py registers it
        from tap.provsap import bp

        app.register_blueprint(bp, url_prefix="/tap")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_port}/tap", server


def http_get(url: str) -> tuple[float, dict[str, float], bytes, dict[str, str]]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=300) as resp:
        body = resp.read()
        headers = dict(resp.headers)
    wall = (time.perf_counter() - t) * 1000
    timing = {}
    for part in headers.get("Server-Timing", "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            timing[name] = float(dur)
    return wall, timing, body, headers


def measure_http(url: str, repeat: int) -> dict[str, Any]:
    http_get(url)  # warm
    walls, servers, walks = [], [], []
    body, headers = b"", {}
    for _ in range(repeat):
        wall, timing, body, headers = http_get(url)
        walls.append(wall)
        servers.append(sum(timing.values()))
        walks.append(timing.get("lineage", 0.0))
    return {
        "client_wall": stats(walls),
        "server_total": stats(servers),
        "server_lineage": stats(walks),
        "bytes": len(body),
        "nodes": int(headers.get("X-Provdb-Nodes", 0)),
        "truncated": headers.get("X-Provdb-Truncated"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nights", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20, help="runs per night")
    parser.add_argument("--subruns", type=int, default=200, help="subruns per run")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--home", type=Path, default=Path("/tmp/provdb-bench-lineage"))
    parser.add_argument("--keep", action="store_true", help="keep the archive afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure an archive kept before")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)

    import shutil

    from provdb import migrate
    from provdb.config import Settings
    from provdb.db import connect, start_embedded
    from provdb.lineage.svg import find_dot, svg_dot, svg_python
    from provdb.lineage.traverse import lineage

    if args.home.exists() and not args.reuse:
        shutil.rmtree(args.home)
    args.home.mkdir(parents=True, exist_ok=True)
    os.environ["PROVDB_HOME"] = str(args.home)
    os.environ.pop("PROVDB_DATABASE_URL", None)
    server, _ = start_embedded(args.home / "pgdata")  # held for the whole benchmark
    settings = Settings.from_env()
    database = connect(settings)
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine(("provdb", "psycopg", "requests")),
        "parameters": {"nights": args.nights, "runs": args.runs, "subruns": args.subruns},
    }
    try:
        migrate.upgrade(database.engine)
        raw = database.engine.raw_connection()
        try:
            conn = raw.driver_connection
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM provenance.activity")
                existing = cur.fetchone()[0]
            if existing and args.reuse:
                log(f"reusing the archive in {args.home} ({existing:,} activities)")
                stash = args.home / "generation.json"
                kept = json.loads(stash.read_text()) if stash.exists() else {}
                results["generation"] = {**kept, "reused": True}
                results["parameters"] = kept.get("parameters", results["parameters"])
                args.nights = results["parameters"]["nights"]
                args.runs = results["parameters"]["runs"]
                args.subruns = results["parameters"]["subruns"]
            else:
                log(
                    f"generating {args.nights} nights x {args.runs} runs x {args.subruns} "
                    "subruns in SQL"
                )
                t = time.perf_counter()
                with conn.cursor() as cur:
                    gen = generate(cur, args.nights, args.runs, args.subruns)
                conn.commit()
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("VACUUM ANALYZE")
                conn.autocommit = False
                gen["total_s"] = round(time.perf_counter() - t, 1)
                gen["parameters"] = results["parameters"]
                results["generation"] = gen
                (args.home / "generation.json").write_text(json.dumps(gen))
                log(f"generated in {gen['total_s']} s: {gen['counts']}")
            with conn.cursor() as cur:
                counts = {}
                for table in ("entity", "activity", "used", "wasgeneratedby",
                              "wasassociatedwith", "wasderivedfrom"):  # fmt: skip
                    cur.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        (f"provenance.{table}",),
                    )
                    counts[table] = cur.fetchone()[0]
                results["archive_rows_estimate"] = counts
                cur.execute("SELECT pg_database_size(current_database())")
                results["database_bytes"] = cur.fetchone()[0]
                night, run, subrun = args.nights // 2, args.runs // 2, args.subruns // 2
                nd = date.fromordinal(date(2020, 1, 1).toordinal() + night).strftime("%Y%m%d")
                run_no = f"{10002 + night * (args.runs + 2) + run:05d}"
                product = f"{BASE}/DL2/{nd}/v0.9.0/tailcut84/dl2_LST-1.Run{run_no}.{subrun:04d}.h5"
                pedestal = (
                    f"{CAL}/drs4_baseline/{nd}/v0.9.0/drs4_pedestal.Run"
                    f"{10000 + night * (args.runs + 2):05d}.0000.h5"
                )
                cur.execute("SELECT md5(%s), md5(%s)", (product, pedestal))
                product_id, pedestal_id = cur.fetchone()
                run_products = [
                    f"{BASE}/DL2/{nd}/v0.9.0/tailcut84/dl2_LST-1.Run{run_no}.{s:04d}.h5"
                    for s in range(min(args.subruns, 70))
                ]
                cur.execute("SELECT md5(p) FROM unnest(%s::text[]) p", (run_products,))
                run_ids = [r[0] for r in cur.fetchall()]
            conn.rollback()
        finally:
            raw.close()
        results["product"] = {"location": product, "id": product_id}
        results["pedestal"] = {"location": pedestal, "id": pedestal_id}

        # 1. the walk in-process
        with database.engine.connect() as sa_conn:
            first, times, graph = timed(
                lambda: lineage(sa_conn, [product_id], depth=None, direction="BACK"),
                args.repeat,
            )
        results["traverse_back_all"] = {
            "first_ms": round(first, 2),
            **stats(times),
            "nodes": len(graph.nodes),
            "edges": len(graph.edges),
            "counts": graph.counts(),
        }
        log(f"traverse BACK ALL: {results['traverse_back_all']}")
        with database.engine.connect() as sa_conn:
            first, times, graph500 = timed(
                lambda: lineage(sa_conn, [pedestal_id], depth=None, direction="FORTH", limit=500),
                args.repeat,
            )
        results["traverse_forth_500"] = {
            "first_ms": round(first, 2),
            **stats(times),
            "nodes": len(graph500.nodes),
            "truncated": graph500.truncated,
        }
        log(f"traverse FORTH 500: {results['traverse_forth_500']}")

        with database.engine.connect() as sa_conn:
            first, times, layered = timed(
                lambda: lineage(sa_conn, run_ids, depth=None, direction="BACK", limit=500),
                args.repeat,
            )
        results["traverse_back_run_500"] = {
            "ids": len(run_ids),
            "first_ms": round(first, 2),
            **stats(times),
            "nodes": len(layered.nodes),
            "truncated": layered.truncated,
        }
        log(f"traverse BACK ALL of {len(run_ids)} DL2 files: {results['traverse_back_run_500']}")

        # 2. and 3. over HTTP
        base, http_server = serve(settings)
        try:
            q = urllib.parse.urlencode({"ID": product_id, "DEPTH": "ALL"})
            results["http_back_all_json"] = measure_http(f"{base}/provsap?{q}", args.repeat)
            log(f"HTTP BACK ALL PROV-JSON: {results['http_back_all_json']}")
            q = urllib.parse.urlencode(
                {
                    "ID": pedestal_id,
                    "DEPTH": "ALL",
                    "DIRECTION": "FORTH",
                    "MAXREC": "500",
                    "RESPONSEFORMAT": "SVG",
                }
            )
            results["http_entity_page_svg_500"] = measure_http(
                f"{base}/provsap?{q}", max(3, args.repeat // 2)
            )
            log(f"HTTP 500-node SVG: {results['http_entity_page_svg_500']}")
            q = urllib.parse.urlencode(
                [("ID", i) for i in run_ids]
                + [("DEPTH", "ALL"), ("MAXREC", "500"), ("RESPONSEFORMAT", "SVG")]
            )
            results["http_run_page_svg_500"] = measure_http(
                f"{base}/provsap?{q}", max(3, args.repeat // 2)
            )
            log(f"HTTP layered 500-node SVG: {results['http_run_page_svg_500']}")
        finally:
            http_server.shutdown()

        # SVG renderers on 50- and 500-node graphs
        with database.engine.connect() as sa_conn:
            graph50 = lineage(sa_conn, [pedestal_id], depth=None, direction="FORTH", limit=50)
        renderers: dict[str, Any] = {}
        dot = find_dot()
        for label, graph in (("50", graph50), ("500", graph500), ("500_layered", layered)):
            size = {"nodes": len(graph.nodes), "edges": len(graph.edges)}
            _, times, _ = timed(lambda g=graph: svg_python(g), 5)
            renderers[f"python_{label}"] = {**size, **stats(times)}
            if dot:
                _, times, _ = timed(lambda g=graph: svg_dot(g, dot, timeout=600), 3)
                renderers[f"dot_{label}"] = {**size, **stats(times), "dot": dot}
        if dot:
            import subprocess

            done = subprocess.run([dot, "-V"], capture_output=True, text=True, check=False)
            renderers["dot_version"] = (done.stderr or done.stdout).strip().splitlines()[0]
        results["svg_renderers"] = renderers
        log(f"SVG renderers: {renderers}")
    finally:
        database.dispose()
        if not args.keep:
            server.cleanup()  # type: ignore[attr-defined]
            shutil.rmtree(args.home, ignore_errors=True)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{results['date']}-lineage.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
