"""Issue 18: a provdb killed with SIGKILL leaves no orphaned embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import REPO

HOLD = """
import sys, time
from pathlib import Path
from provdb.db import start_embedded
start_embedded(Path(sys.argv[1]))
print("up", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _postmaster_running(pgdata: Path) -> bool:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return False
    pid = int(pidfile.read_text().split()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
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


def test_a_killed_provdb_does_not_keep_the_server_running() -> None:
    # not under pytest's basetemp (0700 when run as root: the server's own user must
    # reach the data), as in conftest.pg_server
    home = Path(tempfile.mkdtemp(prefix="provdb-test-orphan-"))
    pgdata = home / "pgdata"
    killed = _hold(pgdata, 300)
    try:
        assert _postmaster_running(pgdata)
        killed.send_signal(signal.SIGKILL)  # its pid stays in the handle file
        killed.wait(timeout=30)
        handles = json.loads((pgdata / ".handle_pids.json").read_text())
        assert killed.pid in handles
        # the next provdb forgets the dead handle; the server stops when it leaves
        last = _hold(pgdata, 0)
        last.communicate(timeout=60)
        assert last.returncode == 0
        for _ in range(100):  # bounded: ~20 s
            if not _postmaster_running(pgdata):
                break
            time.sleep(0.2)
        assert not _postmaster_running(pgdata), "the server outlived every provdb"
        assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait(timeout=30)
        killed.stdout.close()  # type: ignore[union-attr]
        if _postmaster_running(pgdata):  # leave no server behind whatever happened
            pid = int((pgdata / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGTERM)
        shutil.rmtree(home, ignore_errors=True)
