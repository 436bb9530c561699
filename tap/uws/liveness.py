"""Which async workers are alive, decided by the primary database, on any host.

Every service process that runs async jobs holds one connection to the primary for its
whole life (the one it LISTENs on), labelled ``application_name =
'provdb-worker-<worker id>'``. A worker is alive while such a backend exists in
``pg_stat_activity``: no clock is compared and no pid is trusted, so the rule is the
same for workers of this host and of any other.

- A killed process (kill -9, out of memory): the kernel closes its socket at once, the
  server ends the backend, and the worker is dead on the next housekeeping pass.
- A crashed host or a cut network: the server's TCP keepalives on that connection
  (idle 10 s, then 3 probes 5 s apart; unacknowledged data at most 25 s) end the
  backend, so the worker is dead after at most :data:`DEAD_AFTER` seconds.

Worker ids are ``host:token:pid``: the random token makes a restarted container (same
host name, same small pid) a new worker, so its predecessor's jobs are not taken for
its own (the pid stays last: ``worker.rpartition(":")[2]``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from collections.abc import Iterable

import psycopg
import sqlalchemy as sa
from psycopg.conninfo import conninfo_to_dict

__all__ = [
    "DEAD_AFTER",
    "PREFIX",
    "connect_presence",
    "live_workers",
    "presence_name",
    "worker_id",
]

#: application_name prefix of the connection that shows a worker is alive
PREFIX = "provdb-worker-"

#: seconds after which the server drops the connection of a worker whose host vanished
#: (keepalive idle + interval x count; also the bound on unacknowledged data)
DEAD_AFTER = 25

_KEEPALIVE_IDLE, _KEEPALIVE_INTERVAL, _KEEPALIVE_COUNT = 10, 5, 3

# The server's side decides (it is the server that must notice a vanished client), so
# its per-session settings are sent as startup options; idle_session_timeout would end
# an idle presence connection and make a live worker look dead. On a Unix socket the
# tcp_* settings are ignored (and not needed: the peer is on the same machine).
_SERVER_OPTIONS = (
    f"-c tcp_keepalives_idle={_KEEPALIVE_IDLE} "
    f"-c tcp_keepalives_interval={_KEEPALIVE_INTERVAL} "
    f"-c tcp_keepalives_count={_KEEPALIVE_COUNT} "
    f"-c tcp_user_timeout={DEAD_AFTER * 1000} "
    "-c idle_session_timeout=0"
)

# libpq's side: the worker notices a vanished primary as quickly, and reconnects
_CLIENT_KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": _KEEPALIVE_IDLE,
    "keepalives_interval": _KEEPALIVE_INTERVAL,
    "keepalives_count": _KEEPALIVE_COUNT,
    "tcp_user_timeout": DEAD_AFTER * 1000,
}

#: PostgreSQL keeps the first NAMEDATALEN - 1 bytes of an application_name
_NAME_BYTES = 63


def worker_id(host: str | None = None) -> str:
    """A new worker id for this process: ``host:token:pid`` (``host``: this machine's
    name unless given)."""
    return f"{host or socket.gethostname()}:{secrets.token_hex(3)}:{os.getpid()}"


def presence_name(worker: str) -> str:
    """The ``application_name`` of ``worker``'s presence connection.

    The server truncates names to 63 bytes and replaces non-ASCII characters, so a
    worker id that would not survive intact (a long host name) is replaced by a hash
    of it; every instance computes the same name for the same id.
    """
    name = PREFIX + worker
    if len(name) <= _NAME_BYTES and name.isascii() and name.isprintable():
        return name
    return PREFIX + hashlib.sha256(worker.encode()).hexdigest()[:40]


def connect_presence(conninfo: str, worker: str) -> psycopg.Connection:
    """Open ``worker``'s presence connection to the primary (autocommit; the caller
    keeps it open as long as the process runs jobs, and closes it)."""
    params = conninfo_to_dict(conninfo)
    options = " ".join(filter(None, [params.pop("options", None), _SERVER_OPTIONS]))
    params.update(_CLIENT_KEEPALIVE)
    return psycopg.connect(
        **params,
        options=options,
        application_name=presence_name(worker),
        autocommit=True,
    )


def live_workers(conn: sa.Connection, workers: Iterable[str]) -> set[str]:
    """Those of ``workers`` whose presence connection is open now (on ``conn``'s
    server, which must be the primary, and database).

    Call it inside the transaction that holds the job rows' locks, before anything else
    in it reads ``pg_stat_activity``: the server takes one snapshot of the activity
    table per transaction, at its first use.
    """
    names = {presence_name(w): w for w in workers}
    if not names:
        return set()
    found = conn.execute(
        sa.text(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = ANY(:names)"
        ),
        {"names": list(names)},
    ).scalars()
    return {names[n] for n in found}
