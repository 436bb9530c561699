"""Who a client is, and how many sync queries it may run at once.

A client is the authenticated identity when the request carries a valid token
(``token:<name>``, set by :mod:`tap.read_auth`), else its address (``addr:<ip>``): the
peer's address, or the last ``X-Forwarded-For`` entry when the operator says a proxy
in front sets it (``PROVDB_TAP_TRUST_FORWARDED_FOR=1``; off by default, because any
client can send that header).

Concurrent sync queries are counted with PostgreSQL session advisory locks, so the
limit holds across every ``provdb serve`` instance (and host) that shares the archive
database: a query holds ``pg_try_advisory_lock(k1, slot)`` for one of the client's
``PROVDB_TAP_MAX_SYNC_PER_CLIENT`` slots while it runs, ``k1`` a 32-bit hash of the
client's identity. The lock lives on a connection of a small pool of its own
(``TapDatabase.connect_slots``), held until the response is closed; PostgreSQL frees it
when that connection dies (a killed worker, a lost host), so a slot never leaks.

Cost per sync request: none of its own when the query runs on the primary (no read
replicas): the slot is a transaction-level lock, ``pg_try_advisory_xact_lock(k1, slot)``,
taken by the query's own connection in the round trip that starts its transaction
(:class:`tap.query.execute.SlotClaim`; a single statement tries the slots in order and
stops at the first free one) and freed by PostgreSQL when the transaction ends, after
the last row. When queries go to read replicas, the slot stays on the primary:
:class:`SyncSlot` takes a session lock on a connection of its own pool (one round trip,
and one to give it back after the last byte of the response is out). Session and
transaction locks with the same keys exclude each other, so both kinds count towards one
limit. Two clients whose identities hash to the same ``k1`` (about 1 in 4 billion for a
pair) share their slots.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import ipaddress
import logging
from collections.abc import Callable

import psycopg
from flask import current_app, g, request

from tap.config import TapConfig
from tap.errors import LimitError
from tap.query.execute import SlotClaim

__all__ = [
    "SyncSlot",
    "client_identity",
    "is_token_identity",
    "limit_error",
    "slot_claim",
    "slot_key",
]

log = logging.getLogger("provdb.tap")

#: the slots tried in order in one statement; LIMIT stops at the first lock taken, so a
#: request never holds more than one (generate_series yields 0..n-1 in order)
_TAKE = "SELECT s FROM generate_series(0, %s) AS s WHERE pg_try_advisory_lock(%s, s) LIMIT 1"


def client_identity() -> str:
    """The identity of this request's client (see the module docstring)."""
    token_name = g.get("provdb_token_name")
    if token_name:
        return f"token:{token_name}"
    config: TapConfig = current_app.config["TAP_CONFIG"]
    address = request.remote_addr or "unknown"
    if config.trust_forwarded_for:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if forwarded:
            with contextlib.suppress(ValueError):  # not an address: keep the peer's
                address = str(ipaddress.ip_address(forwarded[-1]))
    return f"addr:{address}"


def limit_error(identity: str, slots: int) -> LimitError:
    """The error (HTTP 429) for a client whose ``slots`` sync slots are all held."""
    return LimitError(
        f"this client ({identity}) already runs {slots} sync queries; at most {slots} at "
        "once (PROVDB_TAP_MAX_SYNC_PER_CLIENT): wait for one to end, or use /async"
    )


def slot_claim(identity: str, slots: int) -> SlotClaim:
    """A client's sync slot to take in its query's own transaction (no round trip of its
    own; see the module docstring)."""
    return SlotClaim(slot_key(identity), slots, lambda: limit_error(identity, slots))


def is_token_identity(owner: str | None) -> bool:
    """True for an identity that came from a token (shown as the UWS ownerId)."""
    return bool(owner) and owner.startswith("token:")


@functools.lru_cache(maxsize=4096)  # one hash per client, not per request
def slot_key(identity: str) -> int:
    """The first advisory-lock key of a client's sync slots (a signed 32-bit integer,
    the same on every host and in every process)."""
    digest = hashlib.sha256(b"provdb-sync-slot\0" + identity.encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


class SyncSlot:
    """One of a client's sync query slots, held from :meth:`acquire` to :meth:`release`.

    ``connect`` gives the connection that holds the lock (``TapDatabase.connect_slots``:
    a pooled one, whose ``close()`` returns it to its pool; any psycopg connection works).
    """

    def __init__(
        self, connect: Callable[[], psycopg.Connection], identity: str, slots: int
    ) -> None:
        self.connect = connect
        self.identity = identity
        self.slots = slots
        self.key = slot_key(identity)
        self._conn: psycopg.Connection | None = None
        self._slot: int | None = None

    def acquire(self) -> None:
        """Take a free slot (one round trip).

        Raises
        ------
        LimitError
            Every slot of this client is held by a running query, on any instance of the
            service (HTTP 429).
        psycopg.OperationalError
            The database cannot be reached (the service answers 503).
        """
        conn = self.connect()
        try:
            conn.autocommit = True  # a session lock, no transaction left open
            row = conn.execute(_TAKE, (self.slots - 1, self.key)).fetchone()
        except BaseException:
            _discard(conn)
            raise
        if row is None:
            conn.close()
            raise limit_error(self.identity, self.slots)
        self._conn, self._slot = conn, row[0]

    def release(self) -> None:
        """Give the slot back (idempotent; never raises: it runs when a response closes)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            freed = conn.execute("SELECT pg_advisory_unlock(%s, %s)", (self.key, self._slot))
            if freed.fetchone() != (True,):
                raise RuntimeError("the lock was not held")
        except Exception as exc:
            # the connection is gone or in doubt: close it for good, which frees whatever
            # lock it still holds, rather than pool a connection that holds a slot
            log.warning("sync slot of %s not unlocked (%s); connection closed", self.identity, exc)
            _discard(conn)
            return
        conn.close()


def _discard(conn: psycopg.Connection) -> None:
    """Close a connection for good, even a pooled one (never back in its pool)."""
    discard = getattr(conn, "discard", None)
    with contextlib.suppress(Exception):
        if discard is not None:
            discard()
        else:
            conn.close()
