"""Read replicas: which PostgreSQL server a read-only query runs on.

``PROVDB_READ_URLS`` names hot standbys of the primary (PostgreSQL streaming
replication, e.g. made with ``pg_basebackup -R``). Reads (``/sync`` and async queries,
ProvSAP, the UI, DataLink) go to them in turn; writes (UWS job rows, ingest, tokens)
stay on the primary (``PROVDB_DATABASE_URL``).

A replica never fails a query: a replica whose connection fails is left alone for
``PROVDB_READ_RETRY`` seconds, one whose replay lags more than ``PROVDB_READ_MAX_LAG``
seconds is skipped until it has caught up, and when no replica can take a query the
primary runs it. The lag is measured on the connection a query is about to use, at
most every :data:`CHECK_EVERY` seconds per replica, so routing costs no extra round
trip on most queries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa

from tap.db import ConnectionPool, ReadConnection

__all__ = ["CHECK_EVERY", "LAG_SQL", "ReadRouter", "Replica"]

log = logging.getLogger("provdb.tap")

#: seconds between two lag measurements of one replica
CHECK_EVERY = 5.0
#: seconds a connection attempt to a replica may take before it counts as down
CONNECT_TIMEOUT = 3

#: (in recovery, lag in seconds). A standby that has replayed all it received is not
#: behind however old its last replayed transaction is (an idle primary writes none);
#: otherwise the lag is the age of the last replayed transaction.
LAG_SQL = (
    "SELECT pg_is_in_recovery(), CASE "
    "WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
    "ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)


@dataclass
class Replica:
    """One standby: its connections and what the last check found."""

    url: sa.URL
    name: str  # host:port/database, no password: logs, notes, metric labels
    conninfo: str
    pool: ConnectionPool
    engine: sa.Engine
    down_until: float = 0.0  # monotonic time before which it is not tried
    lag: float | None = None  # seconds behind the primary at the last check
    in_recovery: bool | None = None
    checked: float = float("-inf")  # monotonic time of the last lag check
    error: str | None = None  # why it is down or skipped
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, max_lag: float) -> str:
        """``up``, ``down`` or ``lagging`` as the last attempt or check found it."""
        if self.down_until > time.monotonic():
            return "down"
        if self.lag is not None and self.lag > max_lag:
            return "lagging"
        return "up"


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ReadRouter:
    """Hands out connections to a healthy replica, in turn; None means "use the primary".

    Parameters
    ----------
    urls:
        SQLAlchemy or libpq URLs of the standbys.
    retry_s:
        Seconds a replica whose connection failed is not tried again.
    max_lag_s:
        A replica further behind than this (seconds) gets no queries.
    pool_size:
        Idle connections kept per replica (as the primary's ``/sync`` pool).
    """

    def __init__(
        self,
        urls: tuple[str, ...] | list[str],
        *,
        retry_s: float = 30.0,
        max_lag_s: float = 30.0,
        pool_size: int = 8,
    ) -> None:
        from provdb.db import describe_url, normalise_url

        self.retry_s = retry_s
        self.max_lag_s = max_lag_s
        self.replicas: list[Replica] = []
        for text in urls:
            url = normalise_url(text)
            conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
            engine = sa.create_engine(
                url,
                pool_pre_ping=True,
                connect_args={"connect_timeout": CONNECT_TIMEOUT, "application_name": "provdb-tap"},
            )
            self.replicas.append(
                Replica(
                    url=url,
                    name=describe_url(url),
                    conninfo=conninfo,
                    pool=ConnectionPool(
                        conninfo, max_idle=pool_size, connect_timeout=CONNECT_TIMEOUT
                    ),
                    engine=engine,
                )
            )
        self._turn = 0
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self.replicas)

    def _order(self) -> list[Replica]:
        """Every replica, starting with the next one in turn (round robin)."""
        with self._lock:
            start = self._turn
            self._turn = (self._turn + 1) % max(len(self.replicas), 1)
        return self.replicas[start:] + self.replicas[:start]

    def _usable(self, replica: Replica, now: float) -> bool:
        if replica.down_until > now:
            return False
        lagging = replica.lag is not None and replica.lag > self.max_lag_s
        # a lagging replica is measured again once its check is stale
        return not (lagging and now - replica.checked < CHECK_EVERY)

    def mark_down(self, replica: Replica, exc: BaseException) -> None:
        """Leave ``replica`` alone for ``retry_s`` seconds (its connection failed)."""
        replica.down_until = time.monotonic() + self.retry_s
        replica.error = _first_line(exc)
        log.warning(
            "read replica %s is down (%s): its queries go elsewhere for %g s",
            replica.name,
            replica.error,
            self.retry_s,
        )

    def _record(self, replica: Replica, in_recovery: bool, lag: float) -> bool:
        """Store a check's result; True when the replica may take queries."""
        replica.in_recovery, replica.lag, replica.checked = in_recovery, lag, time.monotonic()
        if lag > self.max_lag_s:
            replica.error = f"replay lags {lag:.1f} s (more than PROVDB_READ_MAX_LAG)"
            log.warning("read replica %s lags %.1f s: skipped", replica.name, lag)
            return False
        replica.error = None
        return True

    def _acquire(
        self, open_: Callable[[Replica], Any], check: Callable[[Any], tuple[bool, float]]
    ) -> tuple[Any, Replica] | None:
        """The first replica in turn that connects (and is not lagging), or None."""
        for replica in self._order():
            now = time.monotonic()
            if not self._usable(replica, now):
                continue
            try:
                conn = open_(replica)
            except (psycopg.Error, sa.exc.DBAPIError) as exc:
                self.mark_down(replica, exc)
                continue
            if now - replica.checked >= CHECK_EVERY:
                try:
                    ok = self._record(replica, *check(conn))
                except (psycopg.Error, sa.exc.DBAPIError) as exc:
                    conn.close()
                    self.mark_down(replica, exc)
                    continue
                if not ok:
                    conn.close()
                    continue
            return conn, replica
        return None

    def connect(
        self, *, pooled: bool, application_name: str | None = None
    ) -> tuple[psycopg.Connection, Replica] | None:
        """A psycopg connection to a healthy replica (pooled: ``close()`` returns it)."""

        def open_(replica: Replica) -> psycopg.Connection:
            if pooled:
                return replica.pool.get()
            return ReadConnection.connect(
                replica.conninfo,
                connect_timeout=CONNECT_TIMEOUT,
                application_name=application_name or "provdb-tap",
            )

        def check(conn: psycopg.Connection) -> tuple[bool, float]:
            row = conn.execute(LAG_SQL).fetchone()
            conn.rollback()
            return bool(row[0]), float(row[1])

        return self._acquire(open_, check)

    def engine_connect(self) -> sa.Connection | None:
        """A SQLAlchemy connection to a healthy replica (ProvSAP, UI pages), or None."""

        def check(conn: sa.Connection) -> tuple[bool, float]:
            row = conn.execute(sa.text(LAG_SQL)).one()
            conn.rollback()
            return bool(row[0]), float(row[1])

        got = self._acquire(lambda r: r.engine.connect(), check)
        return got[0] if got else None

    def refresh(self) -> None:
        """Measure every replica now, down ones included (availability, metrics)."""
        for replica in self.replicas:
            try:
                with psycopg.connect(
                    replica.conninfo, connect_timeout=CONNECT_TIMEOUT, autocommit=True
                ) as conn:
                    row = conn.execute(LAG_SQL).fetchone()
            except psycopg.Error as exc:
                self.mark_down(replica, exc)
                continue
            replica.down_until = 0.0
            self._record(replica, bool(row[0]), float(row[1]))

    def report(self) -> list[dict[str, Any]]:
        """Per replica: ``name``, ``status`` (up/down/lagging), ``lag`` (s), ``error``."""
        return [
            {
                "name": r.name,
                "status": r.status(self.max_lag_s),
                "lag": r.lag,
                "in_recovery": r.in_recovery,
                "error": r.error,
            }
            for r in self.replicas
        ]

    def cancel_labelled(self, application_name: str) -> None:
        """Cancel the queries labelled ``application_name`` on every reachable replica."""
        for replica in self.replicas:
            if replica.down_until > time.monotonic():
                continue
            try:
                with psycopg.connect(
                    replica.conninfo, connect_timeout=CONNECT_TIMEOUT, autocommit=True
                ) as conn:
                    conn.execute(
                        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = %s AND pid <> pg_backend_pid()",
                        (application_name,),
                    )
            except psycopg.Error as exc:
                log.warning("cannot cancel %s on %s: %s", application_name, replica.name, exc)

    def close(self) -> None:
        for replica in self.replicas:
            replica.pool.close()
            replica.engine.dispose()
