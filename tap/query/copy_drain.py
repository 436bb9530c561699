"""COPY data from libpq many rows per call: the compiled ``_copydrain`` bound to psycopg's libpq.

PostgreSQL sends a COPY's data one message per row; :func:`drainer` gives a function that
takes every row libpq already holds (up to a count) in one call, where psycopg's
``get_copy_data`` takes one (its per-row cost kept CSV results at several times psql's
speed). The compiled module finds ``PQgetCopyData`` in the libpq psycopg has loaded,
found in ``/proc/self/maps`` (Linux); elsewhere, without a C compiler at install, or with
a libpq it cannot bind, :func:`drainer` returns None and the caller reads row by row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

__all__ = ["Drain", "drainer"]

#: ``drain(pgconn_ptr, max_rows, base) -> (data, ends, status)``; status 1: max_rows
#: taken, 0: wait for the socket, -1: the COPY's data ended, -2: libpq failed
Drain = Callable[[int, int, int], tuple[bytes, bytes, int]]

_lock = threading.Lock()
_bound: list[Drain | None] = []


def _libpq_path() -> str | None:
    """Where the libpq this process has loaded lives (psycopg's), or None."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                name = path.rsplit("/", 1)[-1]
                if name.startswith("libpq") and ".so" in name:
                    return path
    except OSError:
        pass
    return None


def drainer() -> Drain | None:
    """The compiled drain function, bound on first use; None when it cannot be used.

    Call it once psycopg has connected (libpq is loaded by then).
    """
    with _lock:
        if _bound:
            return _bound[0]
        drain: Drain | None = None
        try:
            from . import _copydrain  # built by hatch_build.py; optional
        except ImportError:
            _copydrain = None  # type: ignore[assignment]
        path = _libpq_path() if _copydrain is not None else None
        if _copydrain is not None and path is not None:
            try:
                _copydrain.bind(path)
                drain = _copydrain.drain
            except OSError as exc:  # pragma: no cover - depends on the installation
                log.info("COPY rows are read one by one: %s", exc)
        _bound.append(drain)
        return drain
