#!/usr/bin/env python
"""Products of a software version on the year archive: ``archive.product_version``
filtered by package/version, version series (major/minor) and product type, through
``/tap/sync`` of a real ``provdb serve`` and directly in PostgreSQL.

Run it on the archive that ``bench_year.py`` built (``--workdir``, its PROVDB_HOME is
``<workdir>/provdb-home``), once per ``--phase``; each phase is written into the same
results file (``--output``), so a before/after pair is one file::

    python bench/bench_year_versions.py --workdir /tmp/yb --phase before
    python bench/bench_year_versions.py --workdir /tmp/yb --phase after --upgrade

``--upgrade`` times ``provdb db upgrade`` of the archive first (the migration's cost on
a year of data). Each query: one cold call, then the median and best of ``--repeat``;
the 1-minute load average is recorded with every phase (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import log, machine  # noqa: E402  (bench/ is on sys.path: the script's folder)
from year_queries import _timed  # noqa: E402

DEFAULT_OUTPUT = REPO / "bench" / "results" / "2026-12-07-year-versions.json"

_SELECT = "SELECT DISTINCT entity_id, location FROM archive.product_version WHERE "

#: name -> ADQL; the version filters of the year archive: 0.12.3 is the main lstchain
#: version (every night), 0.12.4 the reprocessing one; DL1 is the common product type
#: (a third of the entities), DL3 the rare one (one per run).
QUERIES: dict[str, str] = {
    "one_version": _SELECT + "package = 'lstchain' AND version = '0.12.4'",
    "dl3_of_the_main_version": _SELECT
    + "package = 'lstchain' AND version = '0.12.3' AND product_type = 'DL3'",
    "dl1_of_the_reprocessing_version": _SELECT
    + "package = 'lstchain' AND version = '0.12.4' AND product_type = 'DL1'",
    "dl3_of_a_minor_series": _SELECT
    + "package = 'lstchain' AND major = 0 AND minor = 12 AND product_type = 'DL3'",
    "dl1_of_a_patch_range": _SELECT
    + "package = 'lstchain' AND major = 0 AND minor = 12 AND patch >= 4 "
    "AND product_type = 'DL1'",
    "counts_by_type_of_one_version": (
        "SELECT product_type, COUNT(DISTINCT entity_id) AS n FROM archive.product_version "
        "WHERE package = 'lstchain' AND version = '0.12.4' GROUP BY product_type"
    ),
}


def upgrade(env: dict[str, str]) -> float:
    """Wall seconds of ``provdb db upgrade`` (SystemExit with its output if it fails)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "provdb", "db", "upgrade"], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"provdb db upgrade failed:\n{done.stdout}{done.stderr}")
    return round(time.perf_counter() - started, 2)


def measure(env: dict[str, str], repeat: int) -> dict[str, Any]:
    """Every query of :data:`QUERIES` over HTTP and directly; returns the figures."""
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
    pg = psycopg.connect(conninfo, autocommit=True)
    out: dict[str, Any] = {
        "migration": pg.execute("SELECT version_num FROM alembic_version").fetchone()[0],
        "entities": pg.execute("SELECT count(*) FROM provenance.entity").fetchone()[0],
    }
    service = Service(env, 2, 4, Path(env["PROVDB_HOME"]).parent / "serve-versions.log")
    try:
        service.wait_ready()
        http = requests.Session()
        for name, adql in QUERIES.items():
            sql_text = translate(adql, catalog, maxrec=1_000_000).sql

            def sync(adql: str = adql) -> int:
                r = http.post(f"{service.base}/sync", data=tap_form(adql, 1_000_000, "csv"))
                r.raise_for_status()
                return r.text.count("\n") - 1

            def direct(sql_text: str = sql_text) -> int:
                with pg.cursor() as cur:
                    cur.execute(sql_text, prepare=False)
                    return len(cur.fetchall())

            in_pg, direct_rows = _timed(direct, repeat)
            over_http, rows = _timed(sync, repeat)
            out[name] = {
                "adql": adql,
                "rows": rows,
                "tap_sync": over_http,
                "direct_postgresql": {**in_pg, "rows": direct_rows},
            }
            log(
                f"{name}: {rows:,} rows, /tap/sync {over_http['median_ms']} ms, "
                f"direct {in_pg['median_ms']} ms"
            )
    finally:
        service.stop()
        pg.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, default=Path("/tmp/provdb-bench-year"))
    p.add_argument("--phase", required=True, help="key of these figures (before, after)")
    p.add_argument("--upgrade", action="store_true", help="time provdb db upgrade first")
    p.add_argument("--repeat", type=int, default=5, help="timed calls after the cold one")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = p.parse_args(argv)

    home = args.workdir / "provdb-home"
    if not home.is_dir():
        raise SystemExit(f"no archive in {home}: build one with bench/bench_year.py first")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    env["PROVDB_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    os.environ.pop("PROVDB_DATABASE_URL", None)
    os.environ["PROVDB_HOME"] = str(home)

    phase: dict[str, Any] = {"machine": machine(), "machine_shared": True}
    if args.upgrade:
        phase["upgrade_s"] = upgrade(env)
        log(f"provdb db upgrade: {phase['upgrade_s']} s")
    phase["queries"] = measure(env, args.repeat)
    phase["load_average_1min_after"] = round(os.getloadavg()[0], 2)

    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    results.setdefault("benchmark", "archive.product_version on the year archive")
    results[args.phase] = phase
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
