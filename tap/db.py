"""The service's database handle: engine, raw connections, and the Catalog cache."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa

from provdb.db import Database
from provdb.migrate import READER_ROLE
from tap.catalog import Catalog, load_catalog

__all__ = ["TapDatabase"]


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

    @property
    def engine(self) -> sa.Engine:
        return self.database.engine

    def connect_raw(self) -> psycopg.Connection:
        """A new psycopg connection (the caller closes it)."""
        return psycopg.connect(self._conninfo, application_name="provdb-tap")

    @property
    def catalog(self) -> Catalog:
        now = time.monotonic()
        with self._lock:
            if self._catalog is None or now - self._catalog_time > self.catalog_ttl:
                with self.engine.connect() as conn:
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
