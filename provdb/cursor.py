"""One way to get a psycopg cursor from whatever connection a caller holds.

provdb's read paths (lineage, versions, answers) run raw SQL through psycopg cursors;
their callers hold a psycopg connection or cursor (ingest, the TAP service) or a
SQLAlchemy Connection or Engine (the CLI, tests).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg

__all__ = ["cursor"]


@contextlib.contextmanager
def cursor(conn: Any) -> Iterator[psycopg.Cursor[Any]]:
    """A psycopg cursor on ``conn``.

    ``conn`` is a psycopg cursor (used as is), a psycopg connection, a SQLAlchemy
    Connection on the psycopg driver, or a SQLAlchemy Engine (a connection is taken
    for the block and given back).
    """
    if isinstance(conn, psycopg.Cursor):
        yield conn
        return
    if isinstance(conn, psycopg.Connection):
        with conn.cursor() as cur:
            yield cur
        return
    if hasattr(conn, "raw_connection") and hasattr(conn, "dispose"):  # SQLAlchemy Engine
        with conn.connect() as sa_conn, cursor(sa_conn) as cur:
            yield cur
        return
    driver = getattr(getattr(conn, "connection", None), "driver_connection", None)
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"not a psycopg or SQLAlchemy/psycopg connection: {type(conn).__name__}")
    with driver.cursor() as cur:
        yield cur
