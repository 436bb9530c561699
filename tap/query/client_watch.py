"""Cancel a /sync query's PostgreSQL backend as soon as its HTTP client goes away.

Why: a client that disconnects is noticed by the server only when a write fails, and
a query that computes for a minute before its first row writes nothing: abandoned
queries (20 cross joins in the probe of issue 18) kept their backends busy long after
their clients left. A watcher polls the client's socket while the query runs and
streams; an orderly close (EOF) or a reset cancels the backend at once.

One watcher thread per process polls every watched socket (:class:`_Watcher`): a
thread started and joined for every request cost more CPU (thread creation, futex
hand-offs) than a whole one-row query's Python work.

The backend may belong to a pooled connection that serves another request right
after: the cancel happens only while this request still owns it (``active``, under a
lock that :meth:`ClientWatch.finish` takes before the connection is returned).
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
from collections.abc import Callable

__all__ = ["ClientWatch", "client_gone"]

log = logging.getLogger("provdb.tap")


def client_gone(sock: socket.socket) -> bool:
    """Whether the peer of ``sock`` has closed or reset the connection (never blocks).

    Readable with nothing to read means EOF; readable with data is a pipelined next
    request (HTTP keep-alive), which is not a disconnection.
    """
    try:
        readable, _, errored = select.select([sock], [], [sock], 0)
        if not readable and not errored:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):  # reset, or the socket is already closed
        return True


class ClientWatch:
    """Watch one request's client socket; cancel its backend if the client leaves.

    Parameters
    ----------
    sock:
        The client connection (gunicorn puts it in ``environ["gunicorn.socket"]``).
    cancel:
        Cancels the backend with this pid (e.g. ``SELECT pg_cancel_backend(pid)`` on
        another connection).
    interval:
        Seconds between polls: the cancellation latency (bench/cancel_latency.py).
        Watches of one process share one thread, which polls at the shortest interval
        among them.
    """

    def __init__(
        self, sock: socket.socket, cancel: Callable[[int], None], interval: float = 0.2
    ) -> None:
        self.sock = sock
        self.cancel = cancel
        self.interval = interval
        self.pid: int | None = None
        self.cancelled = False
        self._lock = threading.Lock()
        self._done = False
        self._watching = False

    def started(self, pid: int) -> None:
        """The query runs on backend ``pid`` (the ``on_pid`` hook): start watching."""
        with self._lock:
            self.pid = pid
            if self._done or self._watching:
                return
            self._watching = True
        _watcher().add(self)

    def poll(self) -> bool:
        """One look at the socket (the watcher thread's); True when this watch is over."""
        if self._done:
            return True
        if client_gone(self.sock):
            self._cancel("the client disconnected")
            return True
        return False

    def _cancel(self, why: str) -> None:
        with self._lock:
            if self.pid is None or self.cancelled or self._done:
                return
            self.cancelled = True
            try:
                self.cancel(self.pid)
                log.info("sync query on backend %s cancelled: %s", self.pid, why)
            except Exception as exc:  # the database may be gone too: nothing to cancel
                log.warning("could not cancel backend %s: %s", self.pid, exc)

    def finish(self, *, abandoned: bool) -> None:
        """The response ended; with ``abandoned`` (it did not complete: the client went
        away mid-stream) cancel the backend first. Call before the connection returns
        to its pool: no cancel can come later (the watcher cancels only under the lock
        taken here, and only before ``done``)."""
        if abandoned:
            self._cancel("the response was not completed")
        with self._lock:
            self._done = True
            watching = self._watching
        if watching:
            _watcher().discard(self)


class _Watcher:
    """The process's one thread that polls the sockets of its running /sync queries.

    While queries come and go it ticks every interval, so that adding a watch never has
    to wake it: a wake-up per request (futex calls, a context switch and the GIL passed
    back and forth) cost more than the small query it watched. After ``LINGER`` ticks
    with nothing to watch it sleeps on a condition until the next watch (no idle
    wake-ups)."""

    #: idle ticks before the thread sleeps until the next watch (~2 s at 0.2 s)
    LINGER = 10

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: set[ClientWatch] = set()
        self._sleeping = False
        self._thread = threading.Thread(target=self._run, name="tap-client-watch", daemon=True)
        self._thread.start()

    def add(self, watch: ClientWatch) -> None:
        with self._cond:
            self._watches.add(watch)
            if self._sleeping:
                self._cond.notify()

    def discard(self, watch: ClientWatch) -> None:
        with self._cond:
            self._watches.discard(watch)

    def _run(self) -> None:
        idle = self.LINGER
        interval = 0.2
        while True:
            with self._cond:
                if not self._watches and idle >= self.LINGER:
                    self._sleeping = True
                    while not self._watches:
                        self._cond.wait()
                    self._sleeping = False
                if self._watches:
                    interval = min(watch.interval for watch in self._watches)
                # wait a whole interval first: most queries finish before it ends
                self._cond.wait(interval)
                watches = list(self._watches)
            idle = 0 if watches else idle + 1
            over = []
            for watch in watches:
                try:
                    if watch.poll():
                        over.append(watch)
                except Exception:  # one bad socket must not stop the others' watch
                    log.exception("watching a sync client failed")
                    over.append(watch)
            if over:
                with self._cond:
                    self._watches.difference_update(over)


_state: dict[str, object] = {}
_state_lock = threading.Lock()


def _watcher() -> _Watcher:
    """This process's watcher, started on first use (again in a forked child: a thread
    does not survive fork)."""
    pid = os.getpid()
    current = _state.get("watcher")
    if current is not None and _state.get("pid") == pid:
        return current  # type: ignore[return-value]
    with _state_lock:
        if _state.get("watcher") is None or _state.get("pid") != pid:
            _state["watcher"] = _Watcher()
            _state["pid"] = pid
        return _state["watcher"]  # type: ignore[return-value]
