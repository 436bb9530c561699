"""What every benchmark script shares: progress lines, the machine description, and a
fresh embedded archive served by ``provdb serve``.

Imported by the ``bench_*.py`` scripts (run from the repository root or anywhere: each
script puts its own folder on ``sys.path`` first, as Python does for the script's folder).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "drop_secondary_keys",
    "embedded_archive",
    "free_port",
    "log",
    "machine",
    "save_results",
    "scratch_server",
    "served",
    "trials_on_archive",
    "wait_for_autovacuum",
]

REPO = Path(__file__).resolve().parent.parent


def argument_parser(doc: str | None, prog: str | None = None) -> argparse.ArgumentParser:
    """A benchmark script's parser: its module docstring ``doc`` as the description,
    printed by ``--help`` as written."""
    return argparse.ArgumentParser(
        prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def save_results(results: dict[str, Any], output: Path | None, name: str) -> Path:
    """Write ``results`` as JSON to ``output``, by default ``bench/results/<date>-<name>.json``;
    returns the path written."""
    if output is None:
        output = REPO / "bench" / "results" / f"{datetime.now().date().isoformat()}-{name}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    return output


def trials_on_archive(
    doc: str | None,
    prog: str,
    benchmark: str,
    run: Callable[[Path, int], dict[str, Any]],
    *,
    trials: int,
    trials_help: str,
    name: str,
    argv: list[str] | None = None,
) -> tuple[dict[str, Any], Path]:
    """The command line of a benchmark that runs trials on an existing archive
    (``--home``, ``--trials``, ``--output``): ``run(home, trials)``'s figures with the
    machine and code revision, saved as ``name``; returns them and the path written."""
    from bench_year import code_revision  # bench_year imports this module

    p = argument_parser(doc, prog)
    p.add_argument("--home", type=Path, required=True, help="PROVDB_HOME of a large archive")
    p.add_argument("--trials", type=int, default=trials, help=trials_help)
    p.add_argument(
        "--output", type=Path, help=f"results file (default bench/results/<date>-{name}.json)"
    )
    args = p.parse_args(argv)
    out = {
        "benchmark": benchmark,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code_revision(),
        "parameters": {"home": str(args.home), "trials": args.trials},
        **run(args.home, args.trials),
    }
    return out, save_results(out, args.output, name)


def log(message: str) -> None:
    """A progress line on stderr (stdout is kept for the results table)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def machine(packages: Sequence[str] = ("provdb", "psycopg")) -> dict[str, Any]:
    """The machine and software the figures were measured with.

    Platform, Python, CPU model and count, memory, the load average when the script
    started (the VM may be shared: it says how far the figures can be trusted) and the
    version of each of ``packages`` that imports (psycopg with its implementation).
    """
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", text)
        info["cpu"] = m.group(1).strip() if m else platform.processor()
        mem = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
        info["memory_gb"] = round(int(mem.group(1)) / 1024**2, 1) if mem else None
    except OSError:
        info["cpu"] = platform.processor()
    for name in packages:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        version = getattr(module, "__version__", None)
        if name == "psycopg":
            version = f"{version} ({module.pq.__impl__})"
        info[name] = version
    return info


def drop_secondary_keys(cur: Any, tables: Sequence[str], schema: str = "provenance") -> list[str]:
    """Drop the unique constraints and the non-primary-key indexes of ``tables`` before a
    bulk load (building them once afterwards is several times faster than maintaining
    them row by row). Returns the statements that recreate them, indexes first, to run
    in order once the rows are in.
    """
    cur.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
        JOIN pg_namespace ns ON ns.oid = t.relnamespace
        WHERE ns.nspname = %s AND t.relname = ANY(%s) AND c.contype = 'u'
        """,
        (schema, list(tables)),
    )
    constraints = cur.fetchall()
    for table, name, _ in constraints:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    cur.execute(
        """
        SELECT schemaname || '.' || indexname, indexdef FROM pg_indexes
        WHERE schemaname = %s AND tablename = ANY(%s) AND indexname NOT LIKE 'pk\\_%%'
        """,
        (schema, list(tables)),
    )
    indexes = cur.fetchall()
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    return [definition for _, definition in indexes] + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition in constraints
    ]


def provdb_env(
    home: Path,
    *,
    wide: bool = False,
    database_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a benchmark's ``provdb`` subprocesses: the caller's without its
    PROVDB_*, PROVDB_HOME=``home``, ``extra``, this checkout first on the import path.

    ``wide`` sets COLUMNS=200 (provdb's summary table keeps one line per row);
    ``database_url`` sets PROVDB_DATABASE_URL (an external server).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    env["PROVDB_HOME"] = str(home)
    if wide:
        env["COLUMNS"] = "200"
    env.update(extra or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    if database_url:
        env["PROVDB_DATABASE_URL"] = database_url
    return env


def bench_home(workdir: Path, *, reuse: bool) -> tuple[Path, dict[str, str]]:
    """The PROVDB_HOME of a benchmark under ``workdir`` (emptied unless ``reuse``) and the
    environment of the service it will start: no PROVDB_* of the caller's, this checkout
    first on the import path."""
    home = workdir / "provdb-home"
    if home.exists() and not reuse:
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    return home, provdb_env(home)


def upgrade_archive(env: Mapping[str, str], conninfo: str) -> tuple[str, int]:
    """``provdb db upgrade`` of the benchmark archive (SystemExit with its output if it
    fails), then the server's version and how many entities the archive already holds."""
    import psycopg

    up = subprocess.run(
        [sys.executable, "-m", "provdb", "db", "upgrade"],
        env=dict(env),
        capture_output=True,
        text=True,
    )
    if up.returncode:
        raise SystemExit(f"provdb db upgrade failed:\n{up.stdout}{up.stderr}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        existing = conn.execute("SELECT count(*) FROM provenance.entity").fetchone()[0]
    return version, existing


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def home_conninfo(home: Path) -> Iterator[str]:
    """A libpq conninfo for the existing archive of PROVDB_HOME ``home`` (this process's
    PROVDB_* ignored; its embedded server is started if needed), valid until the block
    ends."""
    from provdb.config import Settings
    from provdb.db import connect

    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    database = connect(Settings.from_env({**env, "PROVDB_HOME": str(home)}), check=False)
    try:
        yield database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    finally:
        database.dispose()


@contextmanager
def embedded_archive(
    workdir: Path, env: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """A fresh, migrated archive on the embedded server in ``workdir/provdb-home``.

    ``workdir`` is emptied first. The server is held (and this process's PROVDB_*
    pointed at it) until the block ends. Yields the environment for ``provdb``
    subprocesses: the caller's without PROVDB_*, this PROVDB_HOME, ``env``, and this
    checkout first on PYTHONPATH.
    """
    from provdb import migrate
    from provdb.config import Settings
    from provdb.db import connect, start_embedded

    if workdir.exists():
        shutil.rmtree(workdir)
    home = workdir / "provdb-home"
    home.mkdir(parents=True)
    child = provdb_env(home, extra=env)
    os.environ.pop("PROVDB_DATABASE_URL", None)
    os.environ["PROVDB_HOME"] = str(home)
    server, _ = start_embedded(home / "pgdata")
    try:
        database = connect(Settings.from_env())
        migrate.upgrade(database.engine)
        database.dispose()
        yield child
    finally:
        server.cleanup()  # type: ignore[attr-defined]


@contextmanager
def served(
    env: Mapping[str, str], log_path: Path, *, workers: int = 1, start_seconds: float = 120
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``provdb serve --workers N`` with ``env`` until the block ends.

    Waits until ``/tap/availability`` answers 200 (exits with a message naming
    ``log_path``, its output, if it does not); yields ``(site URL, the process)``.
    """
    import urllib.request

    port = free_port()
    site = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "provdb", "serve", "--port", str(port)]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                with urllib.request.urlopen(site + "/tap/availability", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"provdb serve did not start; see {log_path}")
            time.sleep(0.3)
        yield site, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@contextmanager
def scratch_server(workdir: Path) -> Iterator[Any]:
    """A bare embedded PostgreSQL in ``workdir`` (emptied first; the settings provdb gives
    its embedded server, no archive schema): an autocommit psycopg connection to its
    ``postgres`` database until the block ends, then the server is stopped (its data stay
    in ``workdir`` until the next run)."""
    import psycopg

    from provdb.db import start_embedded

    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    server, socket_dir = start_embedded(workdir / "pgdata")
    try:
        with psycopg.connect(
            host=socket_dir, dbname="postgres", user="postgres", autocommit=True
        ) as conn:
            yield conn
    finally:
        server.cleanup()  # type: ignore[attr-defined]


def wait_for_autovacuum(cur: Any, limit_s: float = 120) -> float:
    """Wait until no autovacuum worker runs (at most ``limit_s``); the seconds waited.
    Each poll must be its own transaction (autocommit): ``pg_stat_activity`` is read
    once per transaction."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
        )
        if cur.fetchone()[0] == 0:
            break
        time.sleep(0.5)
    return round(time.perf_counter() - started, 2)
