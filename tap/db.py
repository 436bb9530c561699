"""The service's database handle: engine, raw connections, and the Catalog cache."""

from __future__ import annotations

import os
import select
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy as sa
from psycopg import pq
from psycopg.pq import TransactionStatus

from provdb.db import Database
from provdb.migrate import READER_ROLE
from tap.catalog import Catalog, load_catalog

if TYPE_CHECKING:
    from tap.replicas import ReadRouter

__all__ = ["ConnectionPool", "ReadConnection", "TapDatabase"]

#: an idle pooled connection unused for this long (s) is checked before it is handed out
PING_AFTER = 1.0


class ReadConnection(psycopg.Connection):
    """A psycopg connection that remembers which server it reached (``provdb_read``:
    ``primary`` or ``replica-N``; psycopg's own class takes no new attributes)."""

    provdb_read: str = "primary"


class _PooledConnection(ReadConnection):
    """A psycopg connection whose ``close()`` gives it back to its pool when it is clean."""

    _pool: ConnectionPool | None = None
    _born: float = 0.0
    _idle_since: float = 0.0

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None or not pool._put(self):
            super().close()

    def discard(self) -> None:
        """Close for good: never back in the pool (its session state is in doubt)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool._forget()
        super().close()


def _alive(conn: _PooledConnection) -> bool:
    """An empty query (one round trip, no transaction): False if the server dropped the
    connection, e.g. it was restarted. Without it every idle connection of every process
    would fail one client query after a restart."""
    try:
        # an idle connection has nothing to read: data waiting means the server said
        # goodbye (shut down, terminated), so it is probed even when idle only briefly
        readable = select.select([conn.pgconn.socket], [], [], 0)[0]
    except (OSError, ValueError, psycopg.Error):
        return False
    if not readable and time.monotonic() - conn._idle_since < PING_AFTER:
        return True
    try:
        return conn.pgconn.exec_(b"").status == pq.ExecStatus.EMPTY_QUERY
    except psycopg.Error:
        return False


class ConnectionPool:
    """A small thread-safe pool of idle psycopg connections for ``/sync`` queries.

    Opening a PostgreSQL connection costs a backend fork and authentication (~4-5 ms),
    the largest part of a one-row query. ``get()`` hands out an idle connection or opens
    a new one; the caller's ``close()`` returns it, but only when it is idle (its
    transaction committed or rolled back: ``SET LOCAL`` role and timeout, temporary
    upload tables ``ON COMMIT DROP`` and the named cursor are gone with it), not broken,
    younger than ``max_age`` seconds, and fewer than ``max_idle`` are kept; otherwise
    it is really closed. Connections are never shared across ``fork()``. A connection
    idle for more than ``PING_AFTER`` seconds is probed with an empty query before it is
    handed out, so a restarted server costs no client query.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        max_idle: int = 8,
        max_age: float = 300.0,
        application_name: str = "provdb-tap",
        connect_timeout: int | None = None,
    ) -> None:
        self._conninfo = conninfo
        self.application_name = application_name
        self._connect_args: dict[str, Any] = {"application_name": application_name}
        if connect_timeout:
            self._connect_args["connect_timeout"] = connect_timeout
        self.max_idle = max_idle
        self.max_age = max_age
        self._idle: list[_PooledConnection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._in_use = 0  # handed out and not yet closed (the /metrics pool gauge)

    def stats(self) -> dict[str, int]:
        """``in_use`` (handed out), ``idle`` (kept for reuse) and ``max_idle`` connections."""
        with self._lock:
            return {"in_use": self._in_use, "idle": len(self._idle), "max_idle": self.max_idle}

    def get(self) -> psycopg.Connection:
        now = time.monotonic()
        conn = None
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's sockets are not ours
                self._idle = []
                self._pid = os.getpid()
                self._in_use = 0
            self._in_use += 1
        while conn is None:
            with self._lock:
                candidate = self._idle.pop() if self._idle else None
            if candidate is None:
                break
            if candidate.closed or now - candidate._born > self.max_age or not _alive(candidate):
                psycopg.Connection.close(candidate)
            else:
                conn = candidate
        if conn is None:
            try:
                conn = _PooledConnection.connect(self._conninfo, **self._connect_args)
            except BaseException:
                with self._lock:
                    self._in_use = max(0, self._in_use - 1)
                raise
            conn._born = now
        conn._pool = self
        return conn

    def _forget(self) -> None:
        """A handed-out connection was closed for good (``discard``)."""
        with self._lock:
            self._in_use = max(0, self._in_use - 1)

    def _put(self, conn: _PooledConnection) -> bool:
        with self._lock:
            self._in_use = max(0, self._in_use - 1)
        if (
            conn.closed
            or conn.broken
            or conn.info.transaction_status != TransactionStatus.IDLE
            or time.monotonic() - conn._born > self.max_age
        ):
            return False
        with self._lock:
            if self._pid != os.getpid() or len(self._idle) >= self.max_idle:
                return False
            conn._idle_since = time.monotonic()
            self._idle.append(conn)
            return True

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            psycopg.Connection.close(conn)


@dataclass
class TapDatabase:
    """Wraps the archive database for the service.

    ``catalog`` is read from TAP_SCHEMA once and re-read at most every
    ``catalog_ttl`` seconds, so ``provdb db upgrade`` on a running service shows up.
    """

    database: Database
    catalog_ttl: float = 30.0
    _catalog: Catalog | None = None
    _catalog_time: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    reader_role: str | None = None
    pool_size: int = 8
    #: hot standbys that take the reads (PROVDB_READ_URLS); None: the primary reads too
    router: ReadRouter | None = None

    def __post_init__(self) -> None:
        url = self.database.engine.url
        # psycopg conninfo for raw connections (streaming queries need their own)
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with self.database.engine.connect() as conn:
            ok = conn.execute(
                sa.text(
                    "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles "
                    "WHERE rolname = :r"
                ),
                {"r": READER_ROLE},
            ).scalar()
        self.reader_role = READER_ROLE if ok else None
        self._pool = ConnectionPool(self._conninfo, max_idle=self.pool_size)
        # the connections that hold per-client sync slots (advisory locks, tap/clients.py)
        self._slot_pool = ConnectionPool(
            self._conninfo, max_idle=self.pool_size, application_name="provdb-tap-slots"
        )

    @property
    def engine(self) -> sa.Engine:
        return self.database.engine

    @property
    def primary_conninfo(self) -> str:
        """The primary's libpq connection string (with its password: keep it in memory)."""
        return self._conninfo

    def connect_raw(self) -> psycopg.Connection:
        """A new psycopg connection (the caller closes it)."""
        return psycopg.connect(self._conninfo, application_name="provdb-tap")

    def connect_pooled(self) -> psycopg.Connection:
        """A connection from the pool; ``close()`` returns it (``/sync`` queries).

        Not for queries that may be cancelled by backend pid (async jobs): a late
        cancel could hit the next query of a reused connection.
        """
        return self._pool.get()

    def connect_slots(self) -> psycopg.Connection:
        """A pooled connection to hold a client's sync slot on (:class:`tap.clients.SyncSlot`);
        ``close()`` returns it, ``discard()`` closes it for good."""
        return self._slot_pool.get()

    def pool_stats(self) -> dict[str, int]:
        """Use of the ``/sync`` connection pool (see :meth:`ConnectionPool.stats`)."""
        return self._pool.stats()

    # -- reads: a replica when one is configured and healthy, else the primary --------

    def connect_read(
        self, *, pooled: bool, primary: bool = False, application_name: str | None = None
    ) -> psycopg.Connection:
        """A psycopg connection for a read-only query: a replica's, else the primary's.

        ``pooled``: from a pool (``close()`` returns it; ``/sync``, DataLink); else a
        connection of its own labelled ``application_name`` from its start (async jobs:
        :meth:`cancel_labelled` finds it on whichever server it runs). ``primary``: the
        query must run on the primary (temporary upload tables cannot be created on a
        standby). The connection's ``provdb_read`` attribute names where it went.
        """
        if self.router and not primary:
            got = self.router.connect(pooled=pooled, application_name=application_name)
            if got is not None:
                conn, replica = got
                conn.provdb_read = f"replica-{self.router.replicas.index(replica) + 1}"  # type: ignore[attr-defined]
                return conn
        if pooled:
            conn = self.connect_pooled()
        else:
            conn = ReadConnection.connect(
                self._conninfo, application_name=application_name or "provdb-tap"
            )
        conn.provdb_read = "primary"  # type: ignore[attr-defined]
        return conn

    def read_engine_connect(self) -> sa.Connection:
        """A SQLAlchemy connection for reads (ProvSAP, UI pages): a replica's, else the
        primary's."""
        if self.router:
            conn = self.router.engine_connect()
            if conn is not None:
                return conn
        return self.engine.connect()

    def cancel_labelled(self, application_name: str) -> None:
        """Cancel the query labelled ``application_name`` wherever it runs (an async job's
        query may run on a replica; its pid there means nothing on the primary)."""
        with self.engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :n AND pid <> pg_backend_pid()"
                ),
                {"n": application_name},
            )
        if self.router:
            self.router.cancel_labelled(application_name)

    def replica_report(self, *, refresh: bool = False) -> list[dict[str, Any]]:
        """Each replica's state (see :meth:`tap.replicas.ReadRouter.report`)."""
        if not self.router:
            return []
        if refresh:
            self.router.refresh()
        return self.router.report()

    def slot_pool_stats(self) -> dict[str, int]:
        """Use of the pool of :meth:`connect_slots` (``in_use``: sync slots held now)."""
        return self._slot_pool.stats()

    @property
    def catalog(self) -> Catalog:
        now = time.monotonic()
        with self._lock:
            if self._catalog is None or now - self._catalog_time > self.catalog_ttl:
                # TAP_SCHEMA is replicated too: reads keep working while the primary is away
                with self.read_engine_connect() as conn:
                    self._catalog = load_catalog(conn)
                self._catalog_time = now
            return self._catalog

    def ping(self) -> tuple[bool, str]:
        """Really ask the database something (VOSI availability)."""
        try:
            with self.engine.connect() as conn:
                n = conn.execute(sa.text("SELECT count(*) FROM tap_schema.tables")).scalar()
            return True, f"database reachable; {n} tables published"
        except Exception as exc:  # any failure means "not available", with the reason
            return False, f"database not reachable: {str(exc).splitlines()[0]}"

    def info(self) -> dict[str, Any]:
        return {"kind": self.database.kind, "location": self.database.location}
