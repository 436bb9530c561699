"""gunicorn's gthread worker for ``provdb serve``, with a cheaper heartbeat.

gunicorn's worker tells the master it is alive by touching a file (``utime``) every
time its main loop wakes up: twice per keep-alive request (the client's socket ready,
the request done). The system call releases the GIL right after the request was handed
to a thread, so the main loop then waits for the GIL the request thread holds, and both
threads pay futex hand-offs. The master only looks at that file's age against the
worker timeout (``PROVDB_TAP_WORKER_TIMEOUT``, at least 1 s): touching it a few times
a second says the same.
"""

from __future__ import annotations

import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker as GThreadWorker

__all__ = ["ThreadWorker"]

#: the longest time between two heartbeats (less when the worker timeout is short)
HEARTBEAT_SECONDS = 0.5


class ThreadWorker(GThreadWorker):
    """gunicorn's ``gthread`` worker whose heartbeat (:meth:`notify`) touches the
    master's file at most every :data:`HEARTBEAT_SECONDS` (a quarter of the worker's
    timeout when that is shorter), not at every wake-up of its main loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # self.timeout is what the master allows between heartbeats (half the setting)
        self._heartbeat_every = min(HEARTBEAT_SECONDS, self.timeout / 4)
        self._last_heartbeat = float("-inf")

    def notify(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat >= self._heartbeat_every:
            self._last_heartbeat = now
            super().notify()
