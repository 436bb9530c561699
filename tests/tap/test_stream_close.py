"""Closing a result stream whose database connection died must not raise.

A client that stops reading, or a writer that stops at MAXREC, closes the row stream
while the server-side cursor is open. When the database went away meanwhile, the cursor's
CLOSE fails; raising then would cut a response that was already complete (the failure
CI saw: the last chunk of a 200 never sent while PostgreSQL restarted).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import URL

from tap.query.execute import QueryPlan, stream_rows
from tests.tap.test_binary2_db import conninfo_of


@pytest.fixture
def conninfo(empty_db_url: URL) -> Iterator[str]:
    yield conninfo_of(empty_db_url)


def _terminate(conninfo: str, pid: int) -> None:
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_closing_a_stream_after_its_connection_died_is_quiet(conninfo: str) -> None:
    pids: list[int] = []
    plan = QueryPlan(sql="SELECT g FROM generate_series(1, 100) g", timeout_s=10, batch=10)
    rows = stream_rows(conninfo, plan, on_pid=pids.append)
    first = next(rows)
    assert [r[0] for r in first] == list(range(1, 11))
    _terminate(conninfo, pids[0])
    rows.close()  # the server-side cursor cannot be closed any more: no error for it


def test_a_connection_lost_while_reading_is_still_reported(conninfo: str) -> None:
    from tap.errors import Unavailable

    pids: list[int] = []
    plan = QueryPlan(sql="SELECT g FROM generate_series(1, 100) g", timeout_s=10, batch=10)
    rows = stream_rows(conninfo, plan, on_pid=pids.append)
    next(rows)
    _terminate(conninfo, pids[0])
    with pytest.raises(Unavailable, match="connection was lost"):
        list(rows)
