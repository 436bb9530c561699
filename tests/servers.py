"""The one way tests start a real ``provdb serve``: a subprocess on a free port.

:func:`serve_provdb` starts ``python -m provdb serve`` (gunicorn) with a clean
environment (no PROVDB_* or PROMETHEUS_* of the caller's shell), waits until
``/tap/availability`` answers 200, yields a :class:`Served`, and stops the service on
exit. Its output goes to ``serve.log`` in the service's PROVDB_HOME, quoted when it does
not start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

REPO = Path(__file__).resolve().parent.parent

#: how long a service may take to answer (2 shared cores under a full test run)
START_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    """A running ``provdb serve``.

    Attributes
    ----------
    site:
        ``http://127.0.0.1:PORT`` (the UI is under ``/ui``, TAP under ``/tap``).
    home:
        Its PROVDB_HOME (spool folders, client slots, the embedded server's data).
    log:
        Its stdout and stderr.
    process:
        The ``provdb serve`` process (the gunicorn master).
    """

    site: str
    home: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def tap(self) -> str:
        """The TAP base URL."""
        return self.site + "/tap"

    def log_text(self, tail: int = 3000) -> str:
        """The last ``tail`` characters of its output."""
        return _tail(self.log, tail)


def as_user(user: str | None) -> list[str]:
    """The command prefix that runs a command as ``user`` (none for None; needs root).

    The user must reach the checkout and the virtualenv: a CI clone may sit under a
    root-only folder, so their folders are opened for traversal (what the embedded
    server itself does for its data folder when run as root).
    """
    if user is None:
        return []
    import pwd

    for target in (REPO, Path(sys.prefix)):
        for folder in (target, *target.parents):
            folder.chmod(folder.stat().st_mode | 0o005)
    entry = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def serve_provdb(
    db_url: URL | str | None,
    env: Mapping[str, str] | None = None,
    *,
    workers: int = 1,
    threads: int | None = None,
    args: Sequence[str] = (),
    home: Path | None = None,
    prefix: str = "provdb-test-serve-",
    user: str | None = None,
) -> Iterator[Served]:
    """Run ``provdb serve`` until the block ends.

    Parameters
    ----------
    db_url:
        The archive (PROVDB_DATABASE_URL); None for the embedded server of ``home``.
    env:
        More environment for the service (settings), applied last.
    workers, threads:
        ``--workers`` and ``--threads`` (None: the service's default).
    args:
        Further command-line arguments of ``provdb serve``.
    home:
        Its PROVDB_HOME, kept afterwards; default a temporary folder (named with
        ``prefix``), removed afterwards. Not under pytest's basetemp: run as root, that
        is 0700, and the embedded server's own user must reach its data.
    user:
        Run it as this system user (``setpriv``, needs root; ``setpriv`` execs, so
        ``process`` is provdb itself); ``home`` must be theirs.
    """
    own_home = home is None
    home = Path(tempfile.mkdtemp(prefix=prefix)) if home is None else home
    home.mkdir(parents=True, exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PROVDB_", "PROMETHEUS"))}
    full["PROVDB_HOME"] = str(home)
    if db_url is not None:
        text = db_url.render_as_string(hide_password=False) if isinstance(db_url, URL) else db_url
        full["PROVDB_DATABASE_URL"] = text
    full.update(env or {})
    port = free_port()
    command = [*as_user(user), sys.executable, "-m", "provdb", "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads)]
    command += list(args)
    site = f"http://127.0.0.1:{port}"
    log_path = home / "serve.log"
    try:
        with running(command, full, log_path, site + "/tap/availability", "provdb serve") as proc:
            yield Served(site, home, log_path, proc)
    finally:
        if own_home:
            shutil.rmtree(home, ignore_errors=True)


@contextmanager
def running(
    command: Sequence[str],
    env: Mapping[str, str],
    log_path: Path,
    url: str,
    name: str,
    *,
    start_seconds: float = START_SECONDS,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (from the checkout, its output into ``log_path``) until the block
    ends, entering it once ``url`` answers 200.

    Fails the test, quoting the output, if the process (``name`` in the message) exits
    or ``start_seconds`` pass first; on exit it is terminated (killed if it lingers).
    """
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            list(command), env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )
    try:
        deadline = time.monotonic() + start_seconds
        while not _answers(url):
            if proc.poll() is not None:
                pytest.fail(f"{name} exited with {proc.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not answer in {start_seconds} s:\n{_tail(log_path)}")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _tail(log_path: Path, tail: int = 3000) -> str:
    return log_path.read_text(errors="replace")[-tail:]
