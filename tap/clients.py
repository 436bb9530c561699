"""Who a client is, and how many sync queries it may run at once.

A client is the authenticated identity when the request carries a valid token
(``token:<name>``, set by :mod:`tap.read_auth`), else its address (``addr:<ip>``): the
peer's address, or the last ``X-Forwarded-For`` entry when the operator says a proxy
in front sets it (``PROVDB_TAP_TRUST_FORWARDED_FOR=1``; off by default, because any
client can send that header).

Concurrent sync queries are counted with slot files under
``PROVDB_HOME/clients/``: a query holds an exclusive ``flock`` on one of the client's
``PROVDB_TAP_MAX_SYNC_PER_CLIENT`` slot files while it runs. The kernel releases the lock
when the process dies, so a killed worker never leaks a slot, and every process of the
service on that host shares the count.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import os
from pathlib import Path

from flask import current_app, g, request

from tap.config import TapConfig
from tap.errors import LimitError

__all__ = ["SyncSlot", "client_identity", "is_token_identity"]


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


def is_token_identity(owner: str | None) -> bool:
    """True for an identity that came from a token (shown as the UWS ownerId)."""
    return bool(owner) and owner.startswith("token:")


class SyncSlot:
    """One of a client's sync query slots, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, folder: Path, identity: str, slots: int) -> None:
        self.folder = folder
        self.identity = identity
        self.slots = slots
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take a free slot.

        Raises
        ------
        LimitError
            Every slot of this client is held by a running query (HTTP 429).
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(self.identity.encode()).hexdigest()[:24]
        for slot in range(self.slots):
            fd = os.open(self.folder / f"{key}-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._fd = fd
            return
        raise LimitError(
            f"this client ({self.identity}) already runs {self.slots} sync queries; at most "
            f"{self.slots} at once (PROVDB_TAP_MAX_SYNC_PER_CLIENT): wait for one to end, "
            "or use /async"
        )

    def release(self) -> None:
        """Give the slot back (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
