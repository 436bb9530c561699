"""Cancel a /sync query's PostgreSQL backend as soon as its HTTP client goes away.

Why: a client that disconnects is noticed by the server only when a write fails, and
a query that computes for a minute before its first row writes nothing: abandoned
queries (20 cross joins in the probe of issue 18) kept their backends busy long after
their clients left. A watcher thread polls the client's socket while the query runs
and streams; an orderly close (EOF) or a reset cancels the backend at once.

The backend may belong to a pooled connection that serves another request right
after: the cancel happens only while this request still owns it (``active``, under a
lock that :meth:`ClientWatch.finish` takes before the connection is returned).
"""

from __future__ import annotations

import logging
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
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def started(self, pid: int) -> None:
        """The query runs on backend ``pid`` (the ``on_pid`` hook): start watching."""
        with self._lock:
            self.pid = pid
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tap-client-watch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            if client_gone(self.sock):
                self._cancel("the client disconnected")
                return

    def _cancel(self, why: str) -> None:
        with self._lock:
            if self.pid is None or self.cancelled or self._done.is_set():
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
        to its pool: no cancel can come later."""
        if abandoned:
            self._cancel("the response was not completed")
        with self._lock:
            self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
