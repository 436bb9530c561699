"""A real PostgreSQL primary and a streaming hot standby, made with Debian's PostgreSQL.

``initdb`` a primary, ``pg_basebackup -R`` a standby from it (it then streams from the
primary), each on its own loopback port. As root the servers run as the ``postgres``
system user (PostgreSQL refuses to run as root). Missing binaries are a test failure
with the command that installs them, never a skip: CI must run the replica tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port

INSTALL = "apt-get install -y postgresql (Debian's PostgreSQL server; .ci/run installs it)"


def server_bin() -> Path:
    """The newest ``/usr/lib/postgresql/N/bin`` holding initdb and pg_basebackup."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found or not (found[-1].parent / "pg_basebackup").exists():
        pytest.fail(f"PostgreSQL server binaries not found in /usr/lib/postgresql: {INSTALL}")
    return found[-1].parent


def _as_server_user() -> list[str]:
    """Command prefix that drops root to the postgres user (nothing when not root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv not found: apt-get install util-linux")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail(f"no postgres system user: {INSTALL}")
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


@dataclass
class Server:
    """One PostgreSQL server of the pair."""

    bindir: Path
    data: Path
    port: int
    log: Path
    prefix: list[str] = field(default_factory=list)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        )

    def run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, cwd="/"
        )
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            pytest.fail(f"{' '.join(args)} failed: {done.stderr or done.stdout}\n{log}")

    def start(self) -> None:
        self.run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self) -> None:
        self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@dataclass
class Pair:
    """A primary and its streaming standby."""

    primary: Server
    standby: Server
    base: Path

    def wait_replayed(self, dbname: str, timeout: float = 60) -> None:
        """Wait until the standby has replayed everything the primary has written now."""
        with self.primary.connect(dbname) as conn:
            lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with self.standby.connect(dbname) as conn:
            while True:
                done = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(lsn),)
                ).fetchone()[0]
                if done:
                    return
                if time.monotonic() > deadline:
                    pytest.fail(f"the standby did not replay up to {lsn} in {timeout} s")
                time.sleep(0.1)


def start_pair(dbname: str) -> Pair:
    """initdb + start a primary with database ``dbname``; pg_basebackup -R a standby."""
    bindir = server_bin()
    prefix = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="provdb-test-replicas-"))
    if prefix:
        shutil.chown(base, "postgres", "postgres")
    primary = Server(bindir, base / "primary", free_port(), base / "primary.log", prefix)
    standby = Server(bindir, base / "standby", free_port(), base / "standby.log", prefix)
    # trust on loopback: a throw-away test cluster reachable from this machine only
    primary.run(
        str(bindir / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E",
        "UTF8", "--no-sync",
    )  # fmt: skip
    primary.start()
    with primary.connect() as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    primary.run(
        str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U",
        "postgres", "-D", str(standby.data), "-R", "-X", "stream", "--no-sync",
    )  # fmt: skip
    standby.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            with standby.connect() as conn:
                if conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                    break
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("the standby did not start:\n" + standby.log.read_text()[-2000:])
        time.sleep(0.2)
    return Pair(primary, standby, base)


def stop_pair(pair: Pair) -> None:
    for server in (pair.standby, pair.primary):
        if server.running():
            with contextlib.suppress(BaseException):  # clean up the rest all the same
                server.stop()
    shutil.rmtree(pair.base, ignore_errors=True)
