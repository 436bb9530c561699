"""Issue 18: a provdb killed with SIGKILL leaves no orphaned embedded PostgreSQL.

Two safety nets, each tested with real processes: the watchdog started with the server
(provdb/watchdog.py) stops it within seconds of the last user's death, with no next
start; and, should the watchdog itself be gone, the next provdb start forgets the dead
pids so the server stops when that provdb leaves.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from provdb.watchdog import log_file, pid_file, watchdog_pid
from tests.conftest import REPO, run_cli
from tests.servers import serve_provdb

HOLD = """
import sys, time
from pathlib import Path
from provdb.db import start_embedded
start_embedded(Path(sys.argv[1]))
print("up", flush=True)
time.sleep(float(sys.argv[2]))
"""

#: generous bound for "within a few seconds" (2 shared cores under a full test run)
BOUND_S = 30


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return None if _gone(pid) else pid


def _wait_for(condition, what: str, bound: float = BOUND_S) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {bound} s: {what}")
        time.sleep(0.2)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaped yet has exited too)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _hold(pgdata: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(pgdata), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "up"
    return proc


def _handles(pgdata: Path) -> list[int]:
    return json.loads((pgdata / ".handle_pids.json").read_text() or "[]")


def _home(owner: str | None = None) -> Path:
    # not under pytest's basetemp (0700 when run as root: the server's own user must
    # reach the data), as in conftest.pg_server
    home = Path(tempfile.mkdtemp(prefix="provdb-test-orphan-"))
    home.chmod(0o755)
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(home, entry.pw_uid, entry.pw_gid)
    return home


def _cleanup(home: Path, *procs: subprocess.Popen[str]) -> None:
    """Leave no process and no server behind whatever happened."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    pgdata = home / "pgdata"
    watchdog = watchdog_pid(pgdata)
    if watchdog is not None:
        os.kill(watchdog, signal.SIGKILL)
    postmaster = _postmaster_pid(pgdata)
    if postmaster is not None:
        os.kill(postmaster, signal.SIGINT)
        _wait_for(lambda: _postmaster_pid(pgdata) is None, "the left-over server stopped")
    shutil.rmtree(home, ignore_errors=True)


def _upgrade_as(user: str | None, home: Path) -> None:
    """``provdb db upgrade`` on the embedded server of ``home``, as ``user``."""
    done = run_cli("db", "upgrade", env={"PROVDB_HOME": str(home)}, user=user)
    assert done.returncode == 0, done.stderr


USERS = [
    pytest.param(None, id="current-user"),
    pytest.param(
        "nobody",
        id="normal-user",
        marks=pytest.mark.skipif(
            os.geteuid() != 0 or shutil.which("setpriv") is None,
            reason="needs root to switch to an unprivileged user",
        ),
    ),
]


@pytest.mark.parametrize("user", USERS)
def test_the_watchdog_stops_the_server_of_a_killed_provdb_serve(user: str | None) -> None:
    home = _home(user)
    pgdata = home / "pgdata"
    try:
        _upgrade_as(user, home)
        quiet = {"PROVDB_METRICS": "0"}
        with serve_provdb(None, quiet, workers=2, home=home, user=user) as served:
            postmaster = _postmaster_pid(pgdata)
            watchdog = watchdog_pid(pgdata)
            assert postmaster is not None and watchdog is not None
            if user:  # the watchdog runs as the user of the provdb that started the server
                assert psutil.Process(watchdog).uids().real == pwd.getpwnam(user).pw_uid
            workers = psutil.Process(served.process.pid).children(recursive=True)
            served.process.send_signal(signal.SIGKILL)  # no exit handler runs: no clean stop
            served.process.wait(timeout=30)
            # nobody starts provdb again: the watchdog alone stops the server, then itself
            _wait_for(lambda: _gone(postmaster), "the postmaster of a killed provdb stopped")
            assert not (pgdata / "postmaster.pid").exists()  # a clean shutdown, not a crash
            _wait_for(lambda: _gone(watchdog), "the watchdog exited after stopping the server")
            assert not pid_file(pgdata).exists()
            assert not log_file(pgdata).exists()  # it wrote no failure
            assert _handles(pgdata) == []
            # its orphaned gunicorn workers leave too (their exit handlers take the
            # server's lock, which would bring a deleted PROVDB_HOME back)
            _wait_for(lambda: all(_gone(w.pid) for w in workers), "the workers exited")
    finally:
        _cleanup(home)


def test_the_watchdog_never_stops_a_server_that_a_live_provdb_uses() -> None:
    home = _home()
    pgdata = home / "pgdata"
    killed = _hold(pgdata, 300)
    survivor = _hold(pgdata, 300)
    try:
        watchdog = watchdog_pid(pgdata)
        assert watchdog is not None
        postmaster = _postmaster_pid(pgdata)
        assert postmaster is not None
        assert {killed.pid, survivor.pid} <= set(_handles(pgdata))
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        # the watchdog has seen the death once it forgot the pid, and left the server be
        _wait_for(lambda: killed.pid not in _handles(pgdata), "the watchdog forgot the dead pid")
        assert _handles(pgdata) == [survivor.pid]
        assert _postmaster_pid(pgdata) == postmaster
        assert watchdog_pid(pgdata) == watchdog
        with psycopg.connect(host=str(pgdata), user="postgres", dbname="postgres") as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        survivor.send_signal(signal.SIGKILL)
        survivor.wait(timeout=30)
        _wait_for(lambda: _gone(postmaster), "the server stopped after its last user died")
        _wait_for(lambda: _gone(watchdog), "the watchdog exited")
    finally:
        _cleanup(home, killed, survivor)


def test_one_watchdog_per_server_and_it_leaves_after_a_clean_stop() -> None:
    home = _home()
    pgdata = home / "pgdata"
    first = _hold(pgdata, 300)
    second = _hold(pgdata, 0)  # attaches to the running server and leaves normally
    try:
        second.communicate(timeout=60)
        assert second.returncode == 0
        watchdog = watchdog_pid(pgdata)
        assert watchdog is not None
        watchdogs = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit()
            and b"provdb.watchdog" in _read_cmdline(p)
            and str(pgdata).encode() in _read_cmdline(p)
            and not _gone(int(p.name))
        ]
        assert watchdogs == [watchdog]
        assert _postmaster_pid(pgdata) is not None  # second's exit left first's server up
        # SIGINT: KeyboardInterrupt, a normal exit (exit handlers run): the last user
        # stops the server itself, and the watchdog, finding nobody, leaves too
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)
        assert _postmaster_pid(pgdata) is None
        _wait_for(lambda: _gone(watchdog), "the watchdog exited")
        assert not pid_file(pgdata).exists()
        again = _hold(pgdata, 300)  # a new start gets a new watchdog
        try:
            assert watchdog_pid(pgdata) not in (None, watchdog)
        finally:
            _cleanup(home, again)
    finally:
        _cleanup(home, first, second)


def _read_cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""


def test_without_its_watchdog_the_next_start_forgets_a_killed_provdb() -> None:
    home = _home()
    pgdata = home / "pgdata"
    killed = _hold(pgdata, 300)
    try:
        assert _postmaster_pid(pgdata) is not None
        watchdog = watchdog_pid(pgdata)
        assert watchdog is not None
        os.kill(watchdog, signal.SIGKILL)  # the safety net is gone too
        _wait_for(lambda: _gone(watchdog), "the watchdog died")
        killed.send_signal(signal.SIGKILL)  # its pid stays in the handle file
        killed.wait(timeout=30)
        assert killed.pid in _handles(pgdata)
        # the next provdb forgets the dead handle; the server stops when it leaves
        last = _hold(pgdata, 0)
        last.communicate(timeout=60)
        assert last.returncode == 0
        _wait_for(lambda: _postmaster_pid(pgdata) is None, "the server outlived every provdb")
        assert _handles(pgdata) == []
    finally:
        _cleanup(home, killed)


def test_a_watchdog_whose_home_was_deleted_leaves_without_recreating_it(tmp_path: Path) -> None:
    from provdb.watchdog import ExistingFileLock, watch

    home = tmp_path / "gone"  # as after `rm -rf PROVDB_HOME` under a running watchdog
    lock = ExistingFileLock(home / ".pgserver.lock")
    with pytest.raises(FileNotFoundError):
        lock.__enter__()
    assert watch(home / "pgdata", lock) == "data folder gone"
    assert not home.exists()
