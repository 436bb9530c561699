"""Ingests of different files at the same time: an object both files mention (the agent,
a configuration every night uses) must not make one wait for the other's transaction.

Real PostgreSQL, real files from provdb's generator (bench/make_synthetic.py), the real
loader; no mocks. ``lock_timeout`` turns "would wait for the other transaction" into an
error instead of a hang, so the test fails rather than stalls if the wait comes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from provdb.answers import flags
from provdb.ingest.load import Loader
from provdb.ingest.pipeline import ingest_file
from provdb.ingest.records import AgentRow, EntityRow
from tests.conftest import write_synthetic_night


def night(path: Path, date: str, first_run: int, runs: int = 1, subruns: int = 2) -> Path:
    return write_synthetic_night(
        path,
        runs,
        subruns,
        date=date,
        seed=int(date[-2:]),
        first_run=first_run,
        connected_calibration=True,
        dl2=True,
        dl3=True,
    )


@contextmanager
def two_sessions(engine: sa.Engine) -> Iterator[tuple[Any, Any]]:
    """Two psycopg connections: the one that ingests, and a holder for another file's
    transaction left open; both closed on exit."""
    holder_raw = engine.raw_connection()
    ingest_raw = engine.raw_connection()
    try:
        yield ingest_raw.driver_connection, holder_raw.driver_connection
    finally:
        holder_raw.close()
        ingest_raw.close()


def ingest_meanwhile(conn: Any, path: Path, holder: Any) -> None:
    """Ingest ``path`` while ``holder``'s transaction is open; ``lock_timeout`` turns a wait
    for the holder into an error. Then the holder rolls back."""
    with conn.cursor() as cur:
        cur.execute("SET lock_timeout = '30s'")
    conn.commit()
    result = ingest_file(conn, path)
    assert result.error is None, result.error
    assert result.status == "new"
    holder.rollback()


def test_a_night_does_not_wait_for_another_file_that_re_sighted_shared_objects(
    engine: sa.Engine, tmp_path: Path
) -> None:
    first = night(tmp_path / "20250101.prov.log", "20250101", 2000)
    second = night(tmp_path / "20250102.prov.log", "20250102", 2010)
    with two_sessions(engine) as (conn, holder):
        assert ingest_file(conn, first).status == "new"
        with engine.connect() as c:
            agents = c.execute(sa.text("SELECT id, name FROM provenance.agent")).all()
            # every object of the first night: the second mentions some of them again
            shared = c.execute(sa.text("SELECT id, location FROM provenance.entity")).all()
        assert agents and shared
        # another file's ingest in flight: its loader re-sighted those objects, unchanged,
        # and its transaction is still open
        loader = Loader(holder, source_format="lstosa")
        for agent_id, name in agents:
            loader.add(AgentRow(id=agent_id, name=name))
        for entity_id, location in shared:
            loader.add(EntityRow(id=entity_id, location=location))
        loader.flush()
        assert loader.known["provenance.agent"] == len(agents)
        assert loader.inserted["provenance.agent"] == 0
        # it holds no lock on them: each can be locked at once by someone else
        with engine.connect() as c:
            for table, rows in (("agent", agents), ("entity", shared)):
                locked = c.execute(
                    sa.text(
                        f"SELECT count(*) FROM (SELECT 1 FROM provenance.{table} "
                        "WHERE id = ANY(:ids) FOR UPDATE NOWAIT) x"
                    ),
                    {"ids": [row[0] for row in rows]},
                ).scalar_one()
                assert locked == len(rows)
            c.rollback()
        # and the next night, which mentions the same agent, goes in meanwhile
        ingest_meanwhile(conn, second, holder)
    with engine.connect() as c:
        files = c.execute(sa.text("SELECT count(*) FROM archive.ingest_file")).scalar_one()
        agent_rows = c.execute(sa.text("SELECT count(*) FROM provenance.agent")).scalar_one()
    assert files == 2 and agent_rows == len(agents)


def test_a_night_does_not_wait_for_another_files_analyze_of_the_flag_tables(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every file is "big" here (a whole night has thousands of entities to re-flag: the
    # threshold keeps small files from analysing; these nights are small to keep the
    # test short)
    monkeypatch.setattr(flags, "_ANALYZE_ABOVE", 0)
    first = night(tmp_path / "20250101.prov.log", "20250101", 2000, runs=6, subruns=8)
    second = night(tmp_path / "20250102.prov.log", "20250102", 2010)
    with two_sessions(engine) as (conn, holder):
        # the first night on an empty archive: its statistics are stale, it analyses
        assert ingest_file(conn, first).status == "new"
        with engine.connect() as c:
            closure = c.execute(
                sa.text(
                    "SELECT reltuples FROM pg_class WHERE oid = 'archive.lineage_closure'::regclass"
                )
            ).scalar_one()
        assert closure > 0
        with engine.begin() as c:
            c.execute(sa.text("ANALYZE"))  # what autovacuum does on an archive in use
        # another night's ingest in flight that analysed the rules' tables: ANALYZE's
        # lock, held until that file commits
        with holder.cursor() as cur:
            cur.execute(
                "LOCK TABLE " + ", ".join(flags._RULE_TABLES) + " IN SHARE UPDATE EXCLUSIVE MODE"
            )
        # a smaller night on the grown archive changes no table's statistics much: it
        # analyses nothing, and goes in meanwhile instead of waiting for the holder
        ingest_meanwhile(conn, second, holder)
    with engine.connect() as c:
        flagged = c.execute(sa.text("SELECT count(*) FROM archive.product_flag")).scalar_one()
        files = c.execute(sa.text("SELECT count(*) FROM archive.ingest_file")).scalar_one()
    assert files == 2 and flagged > 0
