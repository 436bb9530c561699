"""What a small /sync query costs the database: round trips, read from libpq's own trace
of the connection the service used (deterministic, unlike a latency)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import pq
from sqlalchemy.engine import URL

from provdb.config import Settings
from tap.app import create_app
from tap.clients import slot_key
from tap.config import TapConfig

QUERY = {"LANG": "ADQL", "QUERY": "SELECT id, name FROM provenance.entity WHERE id = 'x'"}


@pytest.fixture
def app(archive_url: URL, tmp_path: Path) -> Iterator:
    settings = Settings(
        database_url=archive_url.render_as_string(hide_password=False), home=tmp_path
    )
    made = create_app(settings, TapConfig(max_sync_per_client=1), start_workers=False)
    yield made
    made.extensions["provdb_tap_db"].database.dispose()


def _round_trips(trace: Path) -> list[str]:
    """The client messages that wait for the server (a simple Query, or the Sync that
    ends an extended-protocol exchange), as ``Query <text>`` / ``Sync``."""
    out = []
    for line in trace.read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "F" and parts[2].split(" ")[0] in ("Query", "Sync"):
            out.append(" ".join(parts[2:4]))  # the message and its text
    return out


def _traced_request(app, tmp_path: Path, form: dict[str, str], **headers: str):
    """Run one /sync request with every connection the service hands out traced."""
    db = app.extensions["provdb_tap_db"]
    trace = tmp_path / "libpq.trace"
    fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    get = db._pool.get

    def traced():
        conn = get()
        conn.pgconn.trace(fd)
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        return conn

    db._pool.get = traced
    try:
        response = app.test_client().post("/tap/sync", data=form, headers=headers)
    finally:
        db._pool.get = get
        for conn in db._pool._idle:
            conn.pgconn.untrace()
        os.close(fd)
    return response, _round_trips(trace)


def test_a_small_query_costs_three_round_trips(app, tmp_path: Path) -> None:
    app.test_client().post("/tap/sync", data=QUERY)  # warm: catalog, translation, pool
    response, trips = _traced_request(app, tmp_path, QUERY)
    assert response.status_code == 200, response.data[:300]
    assert b'name="QUERY_STATUS" value="OK"' in response.data
    # BEGIN + settings + the client's slot; the query (a COPY for BINARY2, or streamed
    # rows: no server cursor to declare, describe, fetch and close); COMMIT
    assert len(trips) == 3, trips
    assert trips[0].startswith("Query") and "BEGIN READ ONLY" in trips[0]
    assert "pg_try_advisory_xact_lock" in trips[0]
    assert trips[1].strip() == "Sync" or "COPY" in trips[1], trips
    assert trips[2].startswith("Query") and "COMMIT" in trips[2]
    # the slot did not need a connection of its own
    assert app.extensions["provdb_tap_db"].slot_pool_stats()["idle"] == 0


def test_a_refused_slot_rolls_back_and_runs_nothing(app, tmp_path: Path, archive_url: URL) -> None:
    """The client's only slot is held elsewhere (a session lock, as another instance or a
    replica-routed query takes it): 429, and the connection goes back clean."""
    conninfo = archive_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, 0)", (slot_key("addr:127.0.0.1"),))
        response, trips = _traced_request(app, tmp_path, QUERY)
        # given back here: a closed connection's backend frees its locks only when it has
        # exited, a moment after the client hung up
        other.execute("SELECT pg_advisory_unlock(%s, 0)", (slot_key("addr:127.0.0.1"),))
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert b"at most 1 at once (PROVDB_TAP_MAX_SYNC_PER_CLIENT)" in response.data
    assert len(trips) == 2 and "ROLLBACK" in trips[1], trips  # the query never ran
    db = app.extensions["provdb_tap_db"]
    assert db.pool_stats()["in_use"] == 0 and db.pool_stats()["idle"] >= 1
    # the slot is free again: the next query runs on the same, clean connection
    assert app.test_client().post("/tap/sync", data=QUERY).status_code == 200
