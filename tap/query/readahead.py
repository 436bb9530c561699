"""Read ahead: fetch the next row batches in a background thread while this one is sent.

A server-side cursor is request/response: PostgreSQL computes the next batch only when
asked, and the service encodes and sends a batch only once it has it, so each side waits
for the other. With a thread fetching up to ``depth`` batches ahead, PostgreSQL (its own
process, on the other core) works while Python encodes and writes: a large result then
takes about the longer of the two instead of their sum. psycopg releases the GIL while it
waits for the server.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

__all__ = ["ReadAhead"]

T = TypeVar("T")

_DONE = object()


class ReadAhead(Iterator[T]):
    """Iterate ``source`` in a daemon thread, at most ``depth`` items ahead of the reader.

    An exception raised by ``source`` is raised to the reader at the point where it
    happened in the sequence. :meth:`close` (also called at the end, and by ``with``)
    tells the thread to stop: it closes ``source`` itself once its current ``next()``
    returns, so a source that holds a connection releases it from the thread that used
    it, and the reader never waits for a slow fetch it no longer wants.
    """

    def __init__(self, source: Iterator[T], depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, not {depth}")
        self._source = source
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._run, name="provdb-read-ahead", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        """Queue ``item`` unless the reader has gone; True when queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put((item, None)):
                    return
            self._put((_DONE, None))
        except BaseException as exc:  # handed to the reader, raised there
            self._put((_DONE, exc))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item, exc = self._queue.get()
        if item is _DONE:
            self._finished = True
            self._stop.set()
            if exc is not None:
                raise exc
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop reading ahead; the thread closes the source and ends on its own."""
        self._finished = True
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (tests); True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
