#!/usr/bin/env python
"""What the single-column index on ``provenance.used (entity_id)`` cost and served
(migration 0017 dropped it: 0016's ``(entity_id, activity_id)`` index starts with the
same column). Two parts, each written into the same results file (``--output``):

``--plans HOME``: on an existing archive (the year archive's PROVDB_HOME), every
statement of provdb that reads ``used`` by entity (UI neighbour counts and consumers,
ProvSAP's closure path and walk step, DataLink, the foreign-key check of a deleted
entity) and three that read it by activity (closure edges, ProvSAP backwards, a UI run page's
files), under
``EXPLAIN (ANALYZE, BUFFERS)``: first as the archive is, then in one transaction after
``DROP INDEX provenance.ix_provenance_used_entity_id``, rolled back (the archive is
unchanged; the DROP holds an exclusive lock on ``used`` until then, so that transaction
only runs the statements, with a lock timeout), then with the index again (times that
differ between the two runs with the index are the shared machine's). Each: the median
time of 7 after a warming run. The archive must still have the index
(migration 0016). Buffers are what to compare: they do not depend on the machine's load::

    python bench/bench_used_index.py --plans /tmp/yb-year/provdb-home

``--ingest WORKDIR``: two fresh embedded archives under WORKDIR, one at migration 0017
and one with the index put back, ingest the same generated nights (``--nights`` of
``--runs`` x ``--subruns``, the year benchmark's nights), one night into each archive in
turn; per night the WAL bytes written (``pg_current_wal_lsn()`` before and after, a
CHECKPOINT first so both archives write the same full-page images; no other checkpoint
and no autovacuum during the run, which would add WAL at random moments) and the wall
time with the 1-minute load average; at the end the size of every index of ``used``::

    python bench/bench_used_index.py --ingest /tmp/usedidx-bench --nights 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import argument_parser, embedded_archive, home_conninfo, log, machine  # noqa: E402
from bench_year import compact_plan, night_plan, write_night  # noqa: E402

INDEX = "provenance.ix_provenance_used_entity_id"
RECREATE = f"CREATE INDEX {INDEX.split('.')[1]} ON provenance.used (entity_id)"
QUIET = ("checkpoint_timeout = '1h'", "max_wal_size = '16GB'", "autovacuum = off")
SIZES = (
    "SELECT json_object_agg(indexrelid::regclass::text, pg_relation_size(indexrelid)) "
    "FROM pg_index WHERE indrelid = 'provenance.used'::regclass"
)
DEFAULT_OUTPUT = REPO / "bench" / "results" / "2026-12-07-used-index.json"


# ----------------------------------------------------------------------------- plans


def subjects(cur: Any) -> dict[str, Any]:
    """The entities the statements start from: the last night's first DL3 file, a
    pedestal file of that night (used by every subrun of the night) and a DL1 file of
    the DL3's lineage (used by a few activities)."""
    cur.execute(
        "SELECT to_char(s.night, 'YYYYMMDD'), s.observation_run, e.id "
        "FROM provenance.entity e JOIN provenance.wasgeneratedby g ON g.entity_id = e.id "
        "JOIN provenance.activity a ON a.id = g.activity_id "
        "JOIN archive.processing_session s ON s.id = a.session_id "
        "WHERE e.name = 'DL3RunFile' ORDER BY s.night DESC, e.location LIMIT 1"
    )
    night, run, dl3 = cur.fetchone()
    cur.execute(
        "SELECT e.id FROM provenance.entity e WHERE e.name = 'PedestalFile' "
        "AND e.location LIKE %s ORDER BY e.location LIMIT 1",
        (f"%/{night}/%",),
    )
    (pedestal,) = cur.fetchone()
    cur.execute(
        "SELECT l.ancestor_id FROM archive.lineage l JOIN provenance.entity e "
        "ON e.id = l.ancestor_id WHERE l.entity_id = %s AND e.location LIKE '%%dl1%%' "
        "ORDER BY l.depth, l.ancestor_id LIMIT 1",
        (dl3,),
    )
    (dl1,) = cur.fetchone()
    out = {"night": night, "run": run, "dl3": dl3, "pedestal_file": pedestal, "dl1_file": dl1}
    for key in ("pedestal_file", "dl1_file"):
        cur.execute("SELECT count(*) FROM provenance.used WHERE entity_id = %s", (out[key],))
        out[f"{key}_uses"] = cur.fetchone()[0]
    return out


def statements(subject: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """provdb's statements that read ``used``, as provdb builds them, with parameters."""
    from provdb.lineage import neighbours
    from provdb.lineage.closure import MAX_DEPTH
    from provdb.lineage.closure_walk import _candidates_sql
    from provdb.lineage.run_sql import run_entity_sql
    from provdb.lineage.traverse import text_array

    ped, dl1, dl3 = subject["pedestal_file"], subject["dl1_file"], subject["dl3"]
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    # UI run page: neighbours of drawn nodes beyond the drawing, capped (tap/ui)
    out["ui_neighbour_counts"] = (
        neighbours._capped_sql("BOTH"),
        {"entity": [ped, dl1], "activity": [], "agent": [], "seen": [], "raw": 1001},
    )
    # UI entity page: the activities that used the entity (tap/ui/queries.py)
    out["ui_entity_consumers"] = (
        "SELECT u.role, a.id, a.name, a.start_time, s.observation_date, s.observation_run "
        "FROM provenance.used u JOIN provenance.activity a ON a.id = u.activity_id "
        "LEFT JOIN archive.processing_session s ON s.id = a.session_id "
        "WHERE u.entity_id = %(id)s ORDER BY a.start_time NULLS LAST, a.id LIMIT 501",
        {"id": ped},
    )
    # ProvSAP DIRECTION=FORTH from the closure (provdb/lineage/closure_walk.py)
    _, e = _candidates_sql("FORTH", None)
    params = {"roots": text_array([dl1]), "depth": None, "max": MAX_DEPTH, "cap": 1001}
    out["provsap_closure_forth_used"] = (
        f"SELECT * FROM provenance.used WHERE entity_id = ANY({e})",
        params,
    )
    acts = f"SELECT activity_id FROM provenance.used WHERE entity_id = ANY({e})"
    out["provsap_closure_forth_generated"] = (
        f"SELECT * FROM provenance.wasgeneratedby WHERE activity_id = ANY(ARRAY({acts}))",
        params,
    )
    # ProvSAP walk, one FORTH step from an entity frontier (provdb/lineage/traverse.py)
    out["provsap_walk_step_forth"] = (
        "SELECT 'a' || x.activity_id FROM provenance.used x "
        "WHERE x.entity_id = ANY(%(ents)s::text[])",
        {"ents": text_array([ped])},
    )
    # DataLink: what was derived from the entities (tap/datalink/links.py)
    out["datalink_derivations"] = (
        "SELECT 'derivation', u.entity_id, g.entity_id, g.role, a.name, e.location "
        "FROM provenance.used u "
        "JOIN provenance.wasgeneratedby g ON g.activity_id = u.activity_id "
        "JOIN provenance.activity a ON a.id = u.activity_id "
        "JOIN provenance.entity e ON e.id = g.entity_id "
        "WHERE u.entity_id = ANY(%(ids)s) AND g.entity_id <> u.entity_id",
        {"ids": [dl1]},
    )
    # the foreign-key check PostgreSQL runs for a deleted entity (without FOR KEY SHARE,
    # which would lock, so write, the rows of the shared archive)
    out["fk_check_deleted_entity"] = (
        "SELECT 1 FROM ONLY provenance.used x WHERE entity_id = %(id)s",
        {"id": ped},
    )
    # by activity, for comparison: ProvSAP BACK from the closure; the closure's edges
    _, e = _candidates_sql("BACK", None)
    of_ents = f"FROM provenance.wasgeneratedby WHERE entity_id = ANY({e})"
    out["provsap_closure_back_used"] = (
        f"SELECT * FROM provenance.used WHERE activity_id = ANY(ARRAY(SELECT activity_id "
        f"{of_ents}))",
        {"roots": text_array([dl3]), "depth": None, "max": MAX_DEPTH, "cap": 1001},
    )
    out["closure_edges_of_activities"] = (
        "SELECT g.entity_id, u.entity_id FROM provenance.wasgeneratedby g "
        "JOIN provenance.used u ON u.activity_id = g.activity_id "
        "WHERE g.activity_id = ANY(ARRAY(SELECT activity_id FROM provenance.used "
        "WHERE entity_id = %(ped)s)) AND g.entity_id <> u.entity_id",
        {"ped": ped},
    )
    # UI run page: the run's files (archive.run_entity's statement, tap/ui/queries.py)
    out["ui_run_files"] = (
        "SELECT entity_id, count(*) FROM ("
        + run_entity_sql("%(nights)s", "%(runs)s", "%(s)s")
        + ") f GROUP BY entity_id",
        {"nights": [subject["night"]], "runs": [subject["run"]], "s": "all"},
    )
    return out


def explain(cur: Any, sql: str, params: dict[str, Any], repeat: int = 7) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) ``repeat`` times after a warming run: the median time
    (the machine is shared), and the buffers, indexes and plan of the last run."""
    cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
    times = []
    for _ in range(repeat):
        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params)
        plan = cur.fetchone()[0][0]
        times.append(plan["Execution Time"])
    top = plan["Plan"]
    lines = compact_plan(plan)
    return {
        "execution_ms_median": round(statistics.median(times), 3),
        "shared_hit": top.get("Shared Hit Blocks"),
        "shared_read": top.get("Shared Read Blocks"),
        "indexes": sorted({x.split(" using ")[1].split(" ")[0] for x in lines if " using " in x}),
        "plan": lines,
    }


def compare_plans(home: Path) -> dict[str, Any]:
    """Each statement with and without the index, on the archive of PROVDB_HOME ``home``."""
    import psycopg

    with home_conninfo(home) as conninfo, psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (INDEX,))
        if cur.fetchone()[0] is None:
            raise SystemExit(f"{INDEX} is not in that archive (already at migration 0017?)")
        cur.execute("SELECT version_num FROM alembic_version")
        migration = cur.fetchone()[0]
        subject = subjects(cur)
        stmts = statements(subject)
        conn.commit()
        # views that could read used (archive.product_version and the others)
        cur.execute(
            "SELECT schemaname || '.' || viewname FROM pg_views WHERE schemaname IN "
            "('provenance', 'archive', 'ivoa', 'tap_schema') AND definition ~ '\\mused\\M' "
            "UNION SELECT schemaname || '.' || matviewname FROM pg_matviews "
            "WHERE definition ~ '\\mused\\M' ORDER BY 1"
        )
        views = [r[0] for r in cur.fetchall()]
        cur.execute(SIZES)
        sizes = cur.fetchone()[0]
        conn.commit()
        with_index = {}
        for name, (sql, params) in stmts.items():
            with_index[name] = explain(cur, sql, params)
            log(f"{name} with the index: {with_index[name]['indexes']}")
        conn.commit()
        without = {}
        cur.execute("SET LOCAL lock_timeout = '5s'")
        cur.execute("SET LOCAL statement_timeout = '60s'")
        cur.execute(f"DROP INDEX {INDEX}")
        try:
            for name, (sql, params) in stmts.items():
                without[name] = explain(cur, sql, params)
        finally:
            conn.rollback()  # the archive keeps its index
        # and with it again: a time that differs as much between the two runs with the
        # index as between with and without is the machine's, not the plan's
        again = {}
        for name, (sql, params) in stmts.items():
            again[name] = explain(cur, sql, params)
        conn.commit()
        for name in stmts:
            log(f"{name} without: {without[name]['indexes']}")
    return {
        "archive": str(home),
        "migration": migration,
        "subjects": subject,
        "views_reading_used": views,
        "used_index_bytes": dict(sorted(sizes.items())),
        "statements": {
            name: {
                "sql": sql,
                "with_index": with_index[name],
                "without_index": without[name],
                "with_index_again_ms_median": again[name]["execution_ms_median"],
            }
            for name, (sql, _) in stmts.items()
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


# ----------------------------------------------------------------------------- ingest


def write_nights(folder: Path, nights: int, runs: int, subruns: int) -> list[Path]:
    """The year benchmark's nights (connected calibration, DL2, DL3; no reprocessing, no
    failure), one folder each, dated from 2025-07-01: ``bench_year.write_night``."""
    args = argparse.Namespace(
        first_date="20250701",
        runs=runs,
        subruns=subruns,
        interleave=1,
        reprocess_every=0,
        reprocess_runs=0,
        failure_every=0,
    )
    out = []
    for index in range(nights):
        plan = night_plan(args, index)
        night = folder / plan["date"]
        write_night(args, plan, night)
        out.append(night)
    return out


def _sql(env: dict[str, str], statement: str) -> Any:
    """One statement on the archive of ``env`` (its own connection); the first value."""
    import psycopg

    from provdb.config import Settings
    from provdb.db import connect

    database = connect(Settings.from_env(env), check=False)
    try:
        url = database.engine.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as c:
            cur = c.execute(statement)
            row = cur.fetchone() if cur.description else None
            return row[0] if row else None
    finally:
        database.dispose()


def ingest_night(env: dict[str, str], night: Path) -> dict[str, Any]:
    """``provdb ingest`` of one night: WAL bytes written, wall time, load average."""
    _sql(env, "CHECKPOINT")
    before = _sql(env, "SELECT pg_current_wal_lsn()::text")
    load = os.getloadavg()[0]
    started = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "provdb", "ingest", str(night)],
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if res.returncode:
        raise SystemExit(f"ingest of {night} failed:\n{res.stdout}{res.stderr}")
    wal = _sql(env, f"SELECT pg_current_wal_lsn() - '{before}'::pg_lsn")
    return {
        "wal_bytes": int(wal),
        "wall_s": round(wall, 2),
        "load_average_1m": round((load + os.getloadavg()[0]) / 2, 2),
    }


def index_sizes(env: dict[str, str]) -> dict[str, Any]:
    """Rows of ``used`` and the size in bytes of the table and each of its indexes."""
    sizes = _sql(env, SIZES)
    return {
        "used_rows": _sql(env, "SELECT count(*) FROM provenance.used"),
        "used_table_bytes": _sql(env, "SELECT pg_relation_size('provenance.used')"),
        "index_bytes": dict(sorted(sizes.items())),
        "database_bytes": _sql(env, "SELECT pg_database_size(current_database())"),
    }


def compare_ingest(workdir: Path, nights: int, runs: int, subruns: int) -> dict[str, Any]:
    """The same nights into an archive at 0017 and one with the index put back."""
    folders = write_nights(workdir / "nights", nights, runs, subruns)
    arms = {"with_index": workdir / "with", "without_index": workdir / "without"}
    out: dict[str, Any] = {"nights": nights, "runs": runs, "subruns": subruns}
    with ExitStack() as stack:
        envs = {arm: dict(stack.enter_context(embedded_archive(d))) for arm, d in arms.items()}
        for env in envs.values():
            # no checkpoint or autovacuum at a random moment of an ingest: the WAL of a night
            # is then the ingest's own, with full-page images after the CHECKPOINT before it
            for setting in QUIET:
                _sql(env, f"ALTER SYSTEM SET {setting}")
            _sql(env, "SELECT pg_reload_conf()")
        _sql(envs["with_index"], RECREATE)
        per_night: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
        for i, night in enumerate(folders):
            # alternate which archive goes first: both see the same share of the load
            order = list(arms) if i % 2 == 0 else list(reversed(arms))
            for arm in order:
                per_night[arm].append(ingest_night(envs[arm], night))
            log(
                f"night {i + 1}/{nights}: WAL "
                + ", ".join(f"{a} {per_night[a][-1]['wal_bytes'] / 1e6:.1f} MB" for a in arms)
            )
        for arm in arms:
            rows = per_night[arm]
            out[arm] = {
                "wal_bytes_total": sum(r["wal_bytes"] for r in rows),
                "wall_s_total": round(sum(r["wall_s"] for r in rows), 1),
                "per_night": rows,
                **index_sizes(envs[arm]),
            }
    w, wo = out["with_index"], out["without_index"]
    out["wal_saved_fraction"] = round(1 - wo["wal_bytes_total"] / w["wal_bytes_total"], 4)
    out["index_bytes_saved"] = w["index_bytes"].get(INDEX, 0)
    return out


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument("--plans", type=Path, metavar="HOME", help="PROVDB_HOME of an archive at 0016")
    p.add_argument("--ingest", type=Path, metavar="WORKDIR", help="emptied, then used")
    p.add_argument("--nights", type=int, default=10, help="nights to ingest (default 10)")
    p.add_argument("--runs", type=int, default=10, help="runs per night (default 10)")
    p.add_argument("--subruns", type=int, default=60, help="subruns per run (default 60)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results JSON")
    args = p.parse_args(argv)
    if not args.plans and not args.ingest:
        p.error("give --plans HOME, --ingest WORKDIR or both")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = json.loads(args.output.read_text()) if args.output.exists() else {}
    note = "a shared machine (2 cores, other jobs running): wall times are noisy"
    results["note"] = note + "; WAL bytes, buffers and sizes do not depend on the load"
    if args.plans:
        results["plans"] = {"machine": machine(), **compare_plans(args.plans)}
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    if args.ingest:
        figures = compare_ingest(args.ingest, args.nights, args.runs, args.subruns)
        results["ingest"] = {"machine": machine(), **figures}
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
