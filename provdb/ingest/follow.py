"""Follow growing provenance logs: ``provdb ingest --follow PATH...``.

lstosa writes its ``prov.log`` all night. The follower polls ``stat()`` of the given
files, directories (walked again every round, so new logs are found) and glob patterns,
and hands every file whose size, mtime or inode changed to the ordinary per-file ingest
(:func:`provdb.ingest.pipeline.ingest_file`). Everything the one-shot ingest guarantees
therefore holds in each round: one transaction per file, reading on from the offset
committed last time after checking the sha256 of the part already read, a torn last
line left for the next round, a rotated or truncated file read again from the start.

What the follower adds:

* **bounded work per round**: only files whose stat signature changed are opened; a
  file of a walked directory that is not a provenance log is remembered as such;
* **database restarts**: a connection error ends the round, is reported as one line,
  and the loop reconnects with a capped backoff (1 s doubling to 30 s). Each file's
  offset lives in ``archive.ingest_file`` and is committed with its rows, so the next
  round resumes exactly there: nothing lost, nothing read twice;
* **clean stop**: the first SIGTERM or SIGINT lets the file in progress commit, a second
  one rolls it back; either way the command prints a summary line and exits 0;
* **bounded memory**: nothing accumulates across rounds but one stat signature per
  watched file and the running totals.

No click in here: :mod:`provdb.ingest.ingest_cli` calls :func:`run_follow`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import sqlalchemy as sa

from provdb.ingest.pipeline import FileResult, detect_format, discover, ingest_file

__all__ = ["FollowTotals", "Follower", "Watcher", "run_follow", "stop_on_signals"]

#: How much of a file :func:`detect_format` reads: a walked file that is not a
#: provenance log once this much of it is written stays so while it only grows.
HEAD_BYTES = 64 * 1024

#: Reconnection delays: doubled after each failed attempt, capped.
BACKOFF_START, BACKOFF_MAX = 1.0, 30.0

#: Errors that mean "the database is away" (server stopped or restarting, network cut):
#: the round stops and the follower reconnects. ``OperationalError`` also covers a
#: server in recovery or shutting down (``CannotConnectNow``, ``AdminShutdown``).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
)


class Signature(NamedTuple):
    """What ``stat()`` says of a file; any change makes the follower read it again."""

    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, st: os.stat_result) -> Signature:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


class Watcher:
    """Poll files, directories and glob patterns; report the files that changed.

    Parameters
    ----------
    paths:
        What ``provdb ingest`` was given. Arguments that match nothing yet are looked
        for again every round (tonight's folder may not exist when the follower starts).
    fmt:
        The forced format, or ``None`` to keep only the provenance logs of walked
        directories (detected from their first bytes).
    """

    def __init__(self, paths: list[str], fmt: str | None) -> None:
        self.paths = paths
        self.fmt = fmt
        #: signature of each file at its last ingest attempt
        self._done: dict[Path, Signature] = {}
        #: files of walked directories that are not provenance logs, by signature
        self._other: dict[Path, Signature] = {}
        self.missing: list[str] = []

    def changed(self) -> list[tuple[Path, Signature]]:
        """The files to ingest this round, with the signature seen before reading them."""
        files, self.missing, explicit = discover(self.paths)
        present = set(files)
        for gone in [p for p in self._done if p not in present]:
            del self._done[gone]
        for gone in [p for p in self._other if p not in present]:
            del self._other[gone]
        todo = []
        for path in files:
            try:
                sig = Signature.of(path.stat())
            except OSError:  # removed between the walk and the stat
                continue
            if sig.size == 0 or self._done.get(path) == sig:
                continue  # an empty file is a log not written yet
            if path not in explicit and self.fmt is None and not self._is_provenance(path, sig):
                continue
            todo.append((path, sig))
        return todo

    def _is_provenance(self, path: Path, sig: Signature) -> bool:
        old = self._other.get(path)
        if old is not None and (
            old == sig
            # a full head that was not provenance stays so while the file only grows
            or (
                old.size >= HEAD_BYTES
                and (old.inode, old.device) == (sig.inode, sig.device)
                and sig.size >= old.size
            )
        ):
            return False
        if detect_format(path) is None:
            self._other[path] = sig
            return False
        self._other.pop(path, None)
        return True

    def done(self, path: Path, sig: Signature) -> None:
        """Remember that ``path`` was read (or refused) as it was at ``sig``."""
        self._done[path] = sig

    @property
    def watched(self) -> int:
        """How many provenance files the watcher knows."""
        return len(self._done)


@dataclass
class FollowTotals:
    """Running totals over the follower's life (a few counters: memory stays flat)."""

    rounds: int = 0
    busy_rounds: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    records: int = 0
    rejects: int = 0
    reconnects: int = 0

    def line(self, reason: str) -> str:
        files = sum(n for s, n in self.statuses.items() if s != "unchanged")
        failed = self.statuses.get("failed", 0)
        return (
            f"provdb ingest --follow: stopped ({reason}) after {self.rounds:,} round(s): "
            f"{files:,} file ingest(s), {self.records:,} records, {self.rejects:,} rejected "
            f"lines, {failed:,} failed, {self.reconnects:,} reconnection(s)"
        )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


class Follower:
    """The follow loop on one database.

    Parameters
    ----------
    engine:
        SQLAlchemy engine of the archive; one connection is held and replaced after a
        connection error.
    watcher:
        What to poll.
    interval:
        Seconds between rounds.
    ingest_options:
        Passed to :func:`ingest_file` (format, model, timezone, strict).
    out, err:
        Where round lines and errors/rejects go (one line per call).
    quiet:
        No round lines (errors, rejects and the final line are still written).
    """

    def __init__(
        self,
        engine: sa.Engine,
        watcher: Watcher,
        *,
        interval: float = 2.0,
        ingest_options: dict[str, Any] | None = None,
        out: Callable[[str], None] = print,
        err: Callable[[str], None] = print,
        quiet: bool = False,
    ) -> None:
        self.engine = engine
        self.watcher = watcher
        self.interval = interval
        self.options = ingest_options or {}
        self.out = out
        self.err = err
        self.quiet = quiet
        self.totals = FollowTotals()
        self._raw: Any = None
        self._reported_missing: set[str] = set()

    # ------------------------------------------------------------------ connection

    def _connection(self) -> Any:
        if self._raw is None:
            self._raw = self.engine.raw_connection()
        return self._raw.driver_connection

    def _drop_connection(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(Exception):  # already gone is fine
                self._raw.invalidate()  # never back into the pool: it is broken
            self._raw = None

    def close(self) -> None:
        """Release the connection (a rollback of anything not committed)."""
        if self._raw is not None:
            with contextlib.suppress(Exception):  # closing a dead connection
                self._raw.close()
            self._raw = None

    # ------------------------------------------------------------------ loop

    def run(self, stop: threading.Event) -> FollowTotals:
        """Poll until ``stop`` is set; returns the totals.

        A connection error ends the round and is retried with backoff; other errors
        of a file are reported and the file waits until it changes again.
        """
        backoff = BACKOFF_START
        down_since: float | None = None
        while not stop.is_set():
            try:
                conn = self._connection()
                if down_since is not None:
                    self.totals.reconnects += 1
                    self.err(
                        f"{_now()} database reachable again after "
                        f"{time.monotonic() - down_since:.0f} s: resuming from the "
                        "committed offsets"
                    )
                    down_since, backoff = None, BACKOFF_START
                self.round(conn, stop)
            except CONNECTION_ERRORS as exc:
                self._drop_connection()
                if down_since is None:
                    down_since = time.monotonic()
                    self.err(
                        f"{_now()} database unreachable ({_first_line(exc)}): nothing is "
                        f"lost, retrying every {BACKOFF_START:.0f}-{BACKOFF_MAX:.0f} s"
                    )
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            stop.wait(self.interval)
        return self.totals

    def round(self, conn: Any, stop: threading.Event | None = None) -> dict[str, Any]:
        """One pass: ingest every changed file. Returns this round's counts."""
        self.totals.rounds += 1
        statuses: Counter[str] = Counter()
        records = rejects = 0
        for path, sig in self.watcher.changed():
            if stop is not None and stop.is_set():
                break
            result = self._ingest(conn, path)
            # the signature seen *before* reading: bytes appended while reading make
            # the next round look again
            self.watcher.done(path, sig)
            statuses[result.status] += 1
            records += result.n_records
            rejects += result.rejects
        for arg in self.watcher.missing:
            if arg not in self._reported_missing:
                self.err(f"{arg}: no such file or directory (yet): watching for it")
                self._reported_missing.add(arg)
        self._reported_missing &= set(self.watcher.missing)
        self.totals.statuses.update(statuses)
        self.totals.records += records
        self.totals.rejects += rejects
        worked = {s: n for s, n in statuses.items() if s != "unchanged"}
        if worked:
            self.totals.busy_rounds += 1
            if not self.quiet:
                kinds = ", ".join(f"{n} {s}" for s, n in sorted(worked.items()))
                self.out(
                    f"{_now()} {sum(worked.values())} file(s) ({kinds}), "
                    f"{records:,} records, {rejects:,} rejected lines"
                )
        return {"statuses": statuses, "records": records, "rejects": rejects}

    def _ingest(self, conn: Any, path: Path) -> FileResult:
        try:
            result = ingest_file(conn, path, on_reject=self.err, **self.options)
        except CONNECTION_ERRORS:
            raise
        except psycopg.Error as exc:
            # the database refused this file for another reason: ingest_file rolled it
            # back; report it and go on with the others (it is retried when it changes)
            result = FileResult(path=str(path), status="failed")
            result.error = f"{path}: the database refused this file: {_first_line(exc)}"
        if result.error:
            self.err(f"{result.error} (tried again when the file changes)")
        for warning in result.warnings:
            self.err(f"warning: {warning}")
        return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[list[str]]:
    """Turn SIGTERM/SIGINT into ``stop.set()``; a second signal raises KeyboardInterrupt.

    Yields a list that receives the name of the first signal. The previous handlers
    are restored on exit.
    """
    received: list[str] = []

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            # second signal: abandon the file in progress (its transaction rolls back)
            raise KeyboardInterrupt
        received.append(signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _print_out(line: str) -> None:
    print(line, flush=True)


def _print_err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_follow(
    settings: Any,
    paths: list[str],
    *,
    fmt: str | None,
    model: Any,
    timezone: str,
    strict: bool,
    interval: float,
    quiet: bool,
) -> int:
    """``provdb ingest --follow``: poll ``paths`` until SIGTERM/SIGINT; returns 0.

    Raises :class:`provdb.errors.ConfigError` / ``DatabaseError`` (exit status 2) for a
    bad interval, an unreachable database at start or an archive not migrated.
    """
    from provdb import migrate
    from provdb.db import connect
    from provdb.errors import ConfigError

    if not interval > 0:
        raise ConfigError(f"--interval {interval:g}: give a number of seconds above 0, e.g. 2")
    database = connect(settings)
    try:
        state = migrate.state(database.engine)
        if not state.up_to_date:
            raise ConfigError(
                f"the archive schema is at migration {state.current or 'none'}, not "
                f"{state.head}: run `provdb db upgrade` first"
            )
        watcher = Watcher(paths, fmt)
        follower = Follower(
            database.engine,
            watcher,
            interval=interval,
            ingest_options={"format": fmt, "model": model, "timezone": timezone, "strict": strict},
            out=_print_out,
            err=_print_err,
            quiet=quiet,
        )
        if not quiet:
            _print_err(
                f"{_now()} following {', '.join(paths)} every {interval:g} s "
                f"({database.kind} database {database.location}); SIGTERM or Ctrl-C stops"
            )
        stop = threading.Event()
        with stop_on_signals(stop) as received:
            try:
                totals = follower.run(stop)
                reason = received[0] if received else "stopped"
            except KeyboardInterrupt:
                totals = follower.totals
                reason = "interrupted twice: the file in progress was rolled back"
            finally:
                follower.close()
        _print_out(totals.line(reason))
    finally:
        database.dispose()
    return 0
