#!/usr/bin/env python
"""A year of nights: ingest synthetic lstosa nights one after the other into ONE archive.

What it does, in order:

1. opens the archive: a ``PROVDB_HOME`` in ``--workdir`` (default
   ``/tmp/provdb-bench-year``) whose embedded PostgreSQL this process starts and holds,
   or ``--database-url``; on a fresh start (``--start-night 0``) it empties it (drops
   every provdb table: ``--allow-reset`` is required with ``--database-url``) and runs
   ``provdb db upgrade``;
2. for every night from ``--start-night`` to ``--nights`` - 1: generates it with
   provdb's generator (``make_synthetic.generate_night``: lstosa record grammar,
   ``--runs`` x ``--subruns``, the night's calibration run shared by its data runs
   (``connected_calibration``), DL1 -> DL2 per subrun and DL2 -> DL3 per run, every
   ``--reprocess-every``-th night the calibration and ``--reprocess-runs`` runs redone
   with a newer lstchain, and the run-wise ctapipe ``lstchain_dl1_to_dl2`` log, with one
   failed call every ``--failure-every``-th night); dates go on day by day from
   ``--first-date``, run numbers grow night after night;
3. ingests the night's folder with one ``provdb ingest`` process (``_year_ingest.py``:
   the same command, with a stopwatch on the closure, flag, version and ObsCore
   maintenance steps) and records: records, wall seconds, records/s, seconds of each
   maintenance step, peak RSS (``wait4``), and then the archive: ``pg_database_size``,
   the size and estimated rows of the big tables, and every ``--count-every`` nights the
   exact number of ``archive.lineage`` rows;
4. writes ``bench/results/<date>-year.json`` (``--output``) after **every** night (so a
   run can be stopped and resumed with ``--start-night``) and redraws the plot
   (``--plot``, an SVG of records/s and archive size against nights);
5. with ``--explain-nights 1,N``: on those nights the closure and flag statements run
   under ``EXPLAIN (ANALYZE, BUFFERS)``; their plans are kept in the results file;
6. with ``--queries`` (after the last night, or alone with ``--queries-only``): the
   read side on the final archive, through ``/tap/sync``, ProvSAP and the UI of a real
   ``provdb serve`` with the direct PostgreSQL time beside each (``year_queries.py``);
7. with ``--partitioning``: a by-night partitioned copy of ``provenance.used`` against
   the table: lookups, removing a night, vacuum (``year_partitioning.py``).

Example (the scale the figures in bench/README.md were taken at)::

    python bench/bench_year.py --nights 200 --runs 6 --subruns 40 --explain-nights 1,200 --queries
    python bench/bench_year.py --nights 200 --start-night 57      # resume after a stop
    python bench/bench_year.py --queries-only                     # the read side again
    python bench/bench_year.py --queries-only --only ui           # the UI pages only
    python bench/bench_year.py --queries-only --only provsap,lineage  # two of its groups
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PYTHON = sys.executable
sys.path.insert(0, str(REPO))

from _common import argument_parser, log, machine, provdb_env  # noqa: E402  (bench/ is on sys.path: the script's folder)
from bench_ingest import run_with_rusage, summary_figures  # noqa: E402
from make_synthetic import ctapipe_log, generate_night  # noqa: E402
from year_parallel import content_fingerprint, ingest_batch, retry_lines  # noqa: E402
from year_plot import write_svg  # noqa: E402
from year_queries import QUERY_GROUPS  # noqa: E402

#: the tables whose size is recorded every night
BIG_TABLES = (
    "provenance.entity",
    "provenance.activity",
    "provenance.used",
    "provenance.wasgeneratedby",
    "provenance.wasderivedfrom",
    "provenance.wasassociatedwith",
    "provenance.parameter",
    "archive.lineage",
    "archive.lineage_edge",
    "archive.lineage_closure",
    "archive.entity_number",
    "archive.product_flag",
    "archive.entity_hash",
    "archive.software",
    "archive.activity_source",
    "archive.processing_session",
    "ivoa.obscore",
)


def default_output() -> Path:
    return BENCH / "results" / f"{datetime.now().date().isoformat()}-year.json"


# ----------------------------------------------------------------------------- archive


#: settings recorded with every night (what decides WAL volume and buffer misses)
RECORDED_SETTINGS = (
    "shared_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "wal_compression",
    "full_page_writes",
    "synchronous_commit",
    "server_version_num",
)


class YearArchive:
    """One archive for the whole year: an embedded server held here, or an external URL."""

    def __init__(self, workdir: Path, database_url: str | None) -> None:
        self.home = workdir / "provdb-home"
        self.database_url = database_url
        self.server: Any = None
        self.env = provdb_env(self.home, wide=True, database_url=database_url)
        self.db: Any = None

    def start(self, fresh: bool) -> None:
        if self.database_url is None:
            if fresh:
                shutil.rmtree(self.home, ignore_errors=True)
            from provdb.db import start_embedded

            self.server, _ = start_embedded(self.home / "pgdata")
        if fresh:
            self.provdb(["db", "downgrade", "--revision", "base", "--yes"])
        self.provdb(["db", "upgrade"])
        from provdb.config import Settings
        from provdb.db import connect

        self.db = connect(Settings.from_env(self.env))

    def provdb(self, args: list[str]) -> dict[str, Any]:
        res = run_with_rusage([PYTHON, "-m", "provdb", *args], self.env)
        if res["returncode"] not in (0, 1):
            raise SystemExit(f"provdb {' '.join(args)} failed:\n{res['stdout']}{res['stderr']}")
        return res

    def sql(self, statement: str) -> list[tuple]:
        import sqlalchemy as sa

        with self.db.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(statement))]

    def apply_settings(self, settings: list[str]) -> None:
        """``ALTER SYSTEM SET`` each ``NAME=VALUE`` and reload (settings that need a
        restart are refused: the reload would not apply them)."""
        import sqlalchemy as sa

        for item in settings:
            name, sep, value = (part.strip() for part in item.partition("="))
            well_formed = re.fullmatch(r"[a-z_]+", name) and re.fullmatch(r"[\w.-]+", value)
            if not sep or not well_formed:
                raise SystemExit(f"--setting {item!r}: expected NAME=VALUE")
            rows = self.sql(f"SELECT context FROM pg_settings WHERE name = '{name}'")
            if not rows:
                raise SystemExit(f"--setting {item!r}: PostgreSQL has no setting {name!r}")
            if rows[0][0] == "postmaster":
                raise SystemExit(f"--setting {item!r}: needs a server restart, not a reload")
            with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                # a utility statement takes no parameters: both parts were checked above
                c.exec_driver_sql(f"ALTER SYSTEM SET {name} = '{value}'")
                c.execute(sa.text("SELECT pg_reload_conf()"))

    def server_settings(self) -> dict[str, str]:
        """The server settings that shape write cost (recorded with every night)."""
        names = ", ".join(f"'{n}'" for n in RECORDED_SETTINGS)
        rows = self.sql(
            "SELECT name, current_setting(name) FROM pg_settings "
            f"WHERE name IN ({names}) ORDER BY name"
        )
        return dict(rows)

    def sizes(self, exact_lineage: bool) -> dict[str, Any]:
        """Database size, and size and estimated rows of each big table."""
        out: dict[str, Any] = {
            "database_mb": self.sql("SELECT pg_database_size(current_database())")[0][0] / 1e6
        }
        names = ", ".join(f"'{t}'" for t in BIG_TABLES)
        rows = self.sql(
            "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid), "
            "pg_relation_size(c.oid), c.reltuples::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname || '.' || c.relname IN ({names}) AND c.relkind IN ('r', 'p')"
        )
        out["tables"] = {
            name: {"total_mb": total / 1e6, "heap_mb": heap / 1e6, "rows_estimate": max(est, 0)}
            for name, total, heap, est in sorted(rows)
        }
        if exact_lineage:
            out["lineage_rows"] = self.sql("SELECT count(*) FROM archive.lineage")[0][0]
            out["lineage_edge_rows"] = self.sql("SELECT count(*) FROM archive.lineage_edge")[0][0]
            out["entity_rows"] = self.sql("SELECT count(*) FROM provenance.entity")[0][0]
        return out

    @property
    def log_file(self) -> Path | None:
        """The embedded server's log (None with ``--database-url``: not ours to read)."""
        return self.home / "pgdata" / "log" if self.server is not None else None

    def stop(self) -> None:
        if self.db is not None:
            self.db.dispose()
        if self.server is not None:
            self.server._cleanup()  # stops the server when we are its last user
            self.server = None


# ----------------------------------------------------------------------------- nights


def code_revision() -> str:
    """The provdb commit the nights are ingested with (``-dirty``: the code that runs,
    ``provdb/`` and ``bench/``, has local changes): a resumed year may mix code versions,
    so every night records its own."""
    import subprocess

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        )

    head = git("rev-parse", "--short", "HEAD").stdout.strip()
    if not head:
        return "unknown"
    changed = git("diff", "--quiet", "HEAD", "--", "provdb", "bench/*.py").returncode != 0
    return head + ("-dirty" if changed else "")


def night_plan(args: argparse.Namespace, index: int) -> dict[str, Any]:
    """What night ``index`` (0-based) holds: date, runs, reprocessing, failures."""
    date = datetime.strptime(args.first_date, "%Y%m%d") + timedelta(days=index)
    return {
        "night": index + 1,
        "date": date.strftime("%Y%m%d"),
        "runs": args.runs,  # kept per night: a resumed year may change the size
        "subruns": args.subruns,
        "first_run": 2000 + index * (args.runs + 4),  # calibration pair just below
        "reprocess": args.reprocess_runs
        if args.reprocess_every and (index + 1) % args.reprocess_every == 0
        else 0,
        "failures": 1 if args.failure_every and (index + 1) % args.failure_every == 0 else 0,
    }


def write_night(args: argparse.Namespace, plan: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Generate the night's prov.log and ctapipe log in ``folder``; returns sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = generate_night(
        args.runs,
        args.subruns,
        date=plan["date"],
        seed=plan["night"],
        first_run=plan["first_run"],
        connected_calibration=True,
        dl2=True,
        dl3=True,
        reprocess=plan["reprocess"],
        interleave=args.interleave,
    )
    n = 0
    with open(folder / f"{plan['date']}.prov.log", "wb") as out:
        for line in lines:
            out.write(line)
            n += 1
    chunks = ctapipe_log(
        args.runs,
        date=plan["date"],
        seed=plan["night"],
        first_run=plan["first_run"],
        failures=plan["failures"],
    )
    (folder / f"{plan['date']}.dl1_to_dl2.provenance.log").write_text("".join(chunks))
    size = sum(p.stat().st_size for p in folder.iterdir())
    return {"prov_log_lines": n, "bytes": size}


def ingest_night(
    archive: YearArchive, folder: Path, workdir: Path, explain: bool, tag: str = ""
) -> dict[str, Any]:
    """One ``provdb ingest`` process over the night's folder, with its step timings
    (``tag`` names its timing files: processes running at once need their own)."""
    phases = workdir / f"phases{tag}.json"
    plans = workdir / f"explain{tag}.json"
    env = dict(archive.env, BENCH_YEAR_PHASES=str(phases))
    if explain:
        env["BENCH_YEAR_EXPLAIN"] = str(plans)
    res = run_with_rusage([PYTHON, str(BENCH / "_year_ingest.py"), "ingest", str(folder)], env)
    if res["returncode"] != 0:
        raise SystemExit(
            f"ingest of {folder} failed ({res['returncode']}):\n{res['stdout']}{res['stderr']}"
        )
    figures = summary_figures(res["stdout"])
    steps = json.loads(phases.read_text())
    out: dict[str, Any] = {
        "records": figures["records"],
        "wall_s": round(res["wall_s"], 3),
        "provdb_time_s": figures["provdb_time_s"],
        "user_s": round(res["user_s"], 2),
        "peak_rss_mb": round(res["peak_rss_mb"], 1),
        "status": figures["status"],
        "steps_s": {k: round(v, 3) for k, v in steps["seconds"].items()},
        "retry_lines": retry_lines(res["stdout"] + res["stderr"]),
    }
    if figures["records"]:
        out["records_per_s"] = round(figures["records"] / res["wall_s"], 1)
    closure_s = steps["seconds"].get("closure_edges", 0) + steps["seconds"].get("closure_update", 0)
    out["closure_s"] = round(closure_s, 3)
    if explain and plans.exists():
        out["explain"] = json.loads(plans.read_text())
        plans.unlink()
    return out


def ingest_nights(
    args: argparse.Namespace, archive: YearArchive, indexes: list[int], results: dict[str, Any]
) -> None:
    """Generate and ingest the nights ``indexes`` (0-based): one after the other, or with
    ``--parallel`` > 1 all at once as one batch (``year_parallel.ingest_batch``); append
    their figures (and the batch's) to ``results``."""
    explain_nights = {int(x) for x in args.explain_nights.split(",") if x.strip()}
    plans, folders, made = [], [], []
    for index in indexes:
        plan = night_plan(args, index)
        folder = args.workdir / "nights" / plan["date"]
        started = time.perf_counter()
        made.append({**write_night(args, plan, folder), "generate_s": 0.0})
        made[-1]["generate_s"] = round(time.perf_counter() - started, 2)
        plans.append(plan)
        folders.append(folder)
    explain = {f: p["night"] in explain_nights for f, p in zip(folders, plans, strict=True)}
    code = code_revision()
    batch: dict[str, Any] | None = None
    if args.parallel == 1:
        figures = [ingest_night(archive, folders[0], args.workdir, explain[folders[0]])]
    else:
        figures, batch = ingest_batch(
            lambda folder, tag: ingest_night(archive, folder, args.workdir, explain[folder], tag),
            folders,
            archive.sql,
            archive.log_file,
        )
    for folder in folders:
        shutil.rmtree(folder)
    exact = any(p["night"] in (1, args.nights) or p["night"] % args.count_every == 0 for p in plans)
    sizes = archive.sizes(exact_lineage=exact)
    settings = archive.server_settings()
    load = round(os.getloadavg()[0], 2)
    batches = results.setdefault("batches", [])
    for plan, sizes_made, fig in zip(plans, made, figures, strict=True):
        night = {**plan, **sizes_made, **fig, "archive": sizes, "load_average_1m": load}
        night["server_settings"] = settings
        night["code"] = code
        if batch is not None:
            night["batch"] = len(batches) + 1
        results["nights"].append(night)
        steps = fig["steps_s"]
        log(
            f"night {plan['night']}/{args.nights} {plan['date']}: "
            f"{fig['records']:,} records in {fig['wall_s']:.1f} s "
            f"({fig.get('records_per_s', 0):,.0f}/s), "
            f"closure {fig['closure_s']:.2f} s, "
            f"flags {steps.get('flags', 0):.2f} s, RSS {fig['peak_rss_mb']:.0f} MB, "
            f"db {sizes['database_mb']:,.0f} MB"
        )
    if batch is not None:
        batch = {"batch": len(batches) + 1, "nights": [p["night"] for p in plans], **batch}
        batch["load_average_1m"] = load
        batches.append(batch)
        log(
            f"batch {batch['batch']} (nights {batch['nights']} at once): "
            f"{batch['records']:,} records in {batch['wall_s']:.1f} s "
            f"({batch['records_per_s']:,.0f}/s in all), "
            f"deadlocks {batch['postgresql_counters_delta']['deadlocks']}, "
            f"WAL {batch['postgresql_counters_delta']['wal_bytes'] / 1e6:,.0f} MB "
            f"({batch['postgresql_counters_delta']['wal_fpi']:,} full pages), "
            f"lock-wait samples {batch['lock_waits']['samples_with_waits']}"
        )


# ----------------------------------------------------------------------------- main


def compact_plan(node: dict[str, Any], depth: int = 0) -> list[str]:
    """An EXPLAIN (FORMAT JSON) plan as indented one-line nodes: type, relation, actual
    rows x loops and time (the full JSON of every statement would be megabytes)."""
    node = node.get("Plan", node)
    what = node.get("Node Type", "?")
    if node.get("Relation Name"):
        what += f" on {node['Relation Name']}"
    if node.get("Index Name"):
        what += f" using {node['Index Name']}"
    line = (
        f"{'  ' * depth}{what} (rows={node.get('Actual Rows')} "
        f"loops={node.get('Actual Loops')} time={node.get('Actual Total Time')} ms)"
    )
    return [line] + [x for child in node.get("Plans", []) for x in compact_plan(child, depth + 1)]


def compact_explains(nights: list[dict[str, Any]]) -> None:
    """Replace the full JSON plans of ``nights`` by :func:`compact_plan` text, in place."""
    for night in nights:
        for entry in night.get("explain", []):
            if "plan" in entry:
                plan = entry.pop("plan")
                entry["execution_ms"] = plan.get("Execution Time")
                entry["plan_text"] = compact_plan(plan)


def summarise(nights: list[dict[str, Any]], window: int = 10) -> dict[str, Any]:
    """First and last ``window`` nights side by side (medians: the machine is shared, so
    single nights vary), and the growth of the closure and of the database."""
    import statistics

    if not nights:
        return {}
    first, last = nights[:window], nights[-window:]

    def med(rows: list[dict[str, Any]], get: Any) -> float:
        return round(statistics.median(get(n) for n in rows), 3)

    def step(name: str) -> Any:
        return lambda n: n["steps_s"].get(name, 0.0)

    out: dict[str, Any] = {
        "nights": len(nights),
        "window": window,
        "records_total": sum(n["records"] or 0 for n in nights),
    }
    for label, get in (
        ("records_per_s", lambda n: n.get("records_per_s", 0.0)),
        ("wall_s", lambda n: n["wall_s"]),
        ("closure_s", lambda n: n["closure_s"]),
        ("flags_s", step("flags")),
        ("obscore_s", step("obscore")),
        ("versions_s", step("versions")),
        ("peak_rss_mb", lambda n: n["peak_rss_mb"]),
        ("load_average_1m", lambda n: n["load_average_1m"]),
    ):
        out[label] = {"first_nights_median": med(first, get), "last_nights_median": med(last, get)}
    speed = out["records_per_s"]
    if speed["first_nights_median"]:
        speed["last_over_first"] = round(
            speed["last_nights_median"] / speed["first_nights_median"], 3
        )
    out["peak_rss_mb"]["max"] = max(n["peak_rss_mb"] for n in nights)
    out["database_gb_final"] = round(nights[-1]["archive"]["database_mb"] / 1000, 2)
    counted = [n for n in nights if "lineage_rows" in n["archive"]]
    if counted:
        out["lineage_rows_per_night"] = [
            [n["night"], n["archive"]["lineage_rows"], n["archive"]["entity_rows"]] for n in counted
        ]
    return out


def service_settings(items: list[str]) -> dict[str, str]:
    """``--service-env NAME=VALUE`` items as an environment (PROVDB_* names that provdb
    declares, values it accepts: SystemExit with provdb's message otherwise)."""
    from provdb import settings
    from provdb.errors import ConfigError

    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in settings.SETTINGS:
            raise SystemExit(
                f"--service-env {item!r}: expected NAME=VALUE, NAME a provdb setting "
                "(`provdb settings` lists them)"
            )
        try:
            settings.value(name, {name: value})
        except ConfigError as exc:
            raise SystemExit(f"--service-env: {exc}") from None
        out[name] = value
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__, "bench_year.py")
    p.add_argument("--nights", type=int, default=200, help="nights in the year (default 200)")
    p.add_argument("--runs", type=int, default=30, help="data runs per night (default 30)")
    p.add_argument("--subruns", type=int, default=150, help="subruns per run (default 150)")
    p.add_argument(
        "--start-night",
        type=int,
        default=0,
        help="resume: first night to ingest, 0-based (default 0: a fresh archive); the "
        "results of the nights before it are kept from --output",
    )
    p.add_argument("--first-date", default="20250101", help="date of night 1, YYYYMMDD")
    p.add_argument(
        "--interleave",
        type=int,
        default=4,
        help="concurrent lstosa processes WITHIN a night: how its prov.log lines are "
        "interleaved (default 4)",
    )
    p.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="ingest N nights at once: N provdb ingest processes, one whole night each, "
        "into the one archive; figures per batch in 'batches' (default 1: one by one)",
    )
    p.add_argument(
        "--reprocess-every", type=int, default=10, help="every N-th night is reprocessed"
    )
    p.add_argument("--reprocess-runs", type=int, default=2, help="runs redone when reprocessed")
    p.add_argument(
        "--failure-every", type=int, default=7, help="a failed ctapipe call every N nights"
    )
    p.add_argument(
        "--count-every", type=int, default=10, help="exact lineage row count every N nights"
    )
    p.add_argument(
        "--explain-nights",
        default="",
        help="comma-separated 1-based nights whose closure/flag statements are EXPLAIN ANALYZEd",
    )
    p.add_argument("--workdir", type=Path, default=Path("/tmp/provdb-bench-year"))
    p.add_argument("--database-url", help="an external server instead of the embedded one")
    p.add_argument("--allow-reset", action="store_true", help="allow emptying --database-url")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results JSON (default bench/results/<date>-year.json)",
    )
    p.add_argument(
        "--plot", type=Path, default=None, help="SVG plot (default: the output with .svg)"
    )
    p.add_argument(
        "--label", default="", help="a note stored in the results (e.g. 'before the fix')"
    )
    p.add_argument(
        "--before",
        type=Path,
        default=None,
        help="results of an earlier run (older code) whose flag upkeep the plot draws dashed",
    )
    p.add_argument(
        "--fingerprint",
        action="store_true",
        help="after the nights: exact row counts of every table and digests of the closure "
        "(reads every row: small archives only; to compare two runs)",
    )
    p.add_argument(
        "--queries", action="store_true", help="measure the read side after the last night"
    )
    p.add_argument("--queries-only", action="store_true", help="only measure the read side")
    p.add_argument(
        "--only",
        default="",
        help="with --queries(-only): measure only these groups of the read side, comma "
        f"separated, among {','.join(QUERY_GROUPS)} (e.g. --only provsap,lineage)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=7,
        help="with --queries(-only): timed calls of each query after the cold one "
        "(default 7; more give steadier medians on a busy machine)",
    )
    p.add_argument(
        "--queries-key",
        default="queries",
        help="key of the results file the read side is stored under (default 'queries'; "
        "e.g. 'queries_before' to keep a run of older code next to the current one)",
    )
    p.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting for the run (ALTER SYSTEM SET + reload: it stays in "
        "the archive for later runs; repeatable), e.g. --setting max_wal_size=16GB; the "
        "write-cost settings in force are recorded with every night",
    )
    p.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --queries(-only): a PROVDB_* setting of the served service (repeatable; "
        "recorded with the figures), e.g. --service-env PROVDB_PROVSAP_NODE_LIMIT=5000",
    )
    p.add_argument(
        "--partitioning",
        action="store_true",
        help="after the nights: measure a by-night partitioned copy of provenance.used "
        "against the table (year_partitioning.py)",
    )
    args = p.parse_args(argv)
    if (
        args.database_url
        and args.start_night == 0
        and not args.queries_only
        and not args.allow_reset
    ):
        p.error(
            "--database-url with a fresh start drops every provdb table there: add --allow-reset"
        )
    unknown = set(filter(None, args.only.split(","))) - set(QUERY_GROUPS)
    if unknown:
        p.error(f"--only: unknown group(s) {', '.join(sorted(unknown))}; use {QUERY_GROUPS}")
    if args.only and not (args.queries or args.queries_only):
        p.error("--only chooses among the read side's groups: add --queries-only (or --queries)")
    if args.start_night < 0 or args.nights < 1 or args.runs < 1 or args.subruns < 1:
        p.error("--nights, --runs and --subruns must be positive, --start-night not negative")
    if args.parallel < 1:
        p.error("--parallel must be positive (1: the nights one by one)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    service_env = service_settings(args.service_env)  # checked before any night
    output = args.output or default_output()
    plot = args.plot or output.with_suffix(".svg")
    args.workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    if output.exists() and (args.start_night > 0 or args.queries_only):
        results = json.loads(output.read_text())
        if not args.queries_only:  # resume: keep the nights before --start-night
            results["nights"] = [
                n for n in results.get("nights", []) if n["night"] <= args.start_night
            ]
            results["batches"] = [
                b for b in results.get("batches", []) if max(b["nights"]) <= args.start_night
            ]
    results.setdefault("benchmark", "year of nights (bench/bench_year.py)")
    results.setdefault("started", datetime.now(UTC).isoformat(timespec="seconds"))
    results["machine"] = machine()
    results["machine"]["note"] = (
        "shared machine: 2 vCPUs used at the same time by other jobs (test suites, "
        "benchmarks); figures vary from night to night"
    )
    results["parameters"] = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in ("output", "plot")
    }
    results.setdefault("nights", [])
    archive = YearArchive(args.workdir, args.database_url)
    fresh = args.start_night == 0 and not args.queries_only
    archive.start(fresh)
    archive.apply_settings(args.setting)

    def save() -> None:
        compact_explains(results["nights"])
        results["summary"] = summarise(results["nights"])
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=1) + "\n")
        if results["nights"]:
            before = json.loads(args.before.read_text()) if args.before else None
            write_svg(results, plot, before)

    try:
        indexes = list(range(args.start_night, args.nights if not args.queries_only else 0))
        for first in range(0, len(indexes), args.parallel):
            ingest_nights(args, archive, indexes[first : first + args.parallel], results)
            save()
        if args.fingerprint:
            results["fingerprint"] = content_fingerprint(archive.sql)
            save()
        if args.queries or args.queries_only:
            from year_queries import measure_queries

            only = set(filter(None, args.only.split(","))) or None
            results[args.queries_key] = measure_queries(
                {**archive.env, **service_env},
                archive.sql,
                results,
                only=only,
                repeat=max(1, args.repeat),
            )
            results[args.queries_key]["service_env"] = service_env
            save()
        if args.partitioning:
            from year_partitioning import measure_partitioning

            url = archive.db.engine.url.set(drivername="postgresql")
            results["partitioning"] = measure_partitioning(
                url.render_as_string(hide_password=False)
            )
            save()
    finally:
        archive.stop()
    log(f"results -> {output}, plot -> {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
