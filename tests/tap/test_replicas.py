"""Read replicas for real: a primary and a streaming standby (Debian's PostgreSQL,
``pg_basebackup -R``), provdb pointed at both (issue 17, section 2).

Reads go to the standby (its backend says ``pg_is_in_recovery()``), writes to the
primary; a log ingested on the primary becomes visible through the standby; a stopped
standby fails no query (the primary answers) and is reported down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from tests.conftest import run_cli
from tests.pg_cluster import Pair, start_pair, stop_pair
from tests.servers import serve_provdb
from tests.tap.test_operations import scrape

DB = "provdb_replicas"
COUNT = "SELECT COUNT(*) AS n FROM provenance.activity"


@pytest.fixture(scope="module")
def pair(samples: Path) -> Iterator[Pair]:
    """Primary + standby; the primary migrated (real CLI) and holding the lstosa night."""
    pair = start_pair(DB)
    try:
        env = {"PROVDB_DATABASE_URL": pair.primary.url(DB)}
        done = run_cli("db", "upgrade", env=env)
        assert done.returncode == 0, done.stderr
        done = run_cli(
            "ingest", "-q", str(samples / "generated/lstosa_simulate_processing/prov.log"), env=env
        )
        assert done.returncode == 0, done.stderr
        pair.wait_replayed(DB)
        yield pair
    finally:
        stop_pair(pair)


def _sync(site: str, query: str) -> requests.Response:
    r = requests.get(
        site + "/tap/sync",
        params={"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r


def _count(response: requests.Response) -> int:
    return int(response.text.splitlines()[1])


def test_reads_go_to_the_standby_and_writes_to_the_primary(pair: Pair) -> None:
    from provdb.config import Settings
    from provdb.db import connect
    from tap.db import TapDatabase
    from tap.replicas import ReadRouter

    database = connect(Settings(database_url=pair.primary.url(DB), home=pair.base))
    router = ReadRouter([pair.standby.url(DB)], retry_s=30, max_lag_s=30)
    db = TapDatabase(database, router=router)
    try:
        for pooled in (True, False):
            conn = db.connect_read(pooled=pooled, application_name="provdb-test-read")
            try:
                assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is True
                assert conn.provdb_read == "replica-1"
                conn.rollback()
            finally:
                conn.close()
        # uploads need temporary tables: the primary, which is not in recovery
        conn = db.connect_read(pooled=True, primary=True)
        try:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
            conn.rollback()
        finally:
            conn.close()
        with db.read_engine_connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_is_in_recovery()").scalar() is True
        with db.engine.connect() as conn:  # job rows, tokens, ingest
            assert conn.exec_driver_sql("SELECT pg_is_in_recovery()").scalar() is False
        [report] = db.replica_report(refresh=True)
        assert report["status"] == "up" and report["in_recovery"] is True
        assert 0 <= report["lag"] < 30
    finally:
        router.close()
        database.engine.dispose()


def test_a_lagging_standby_gets_no_queries_until_it_has_caught_up(pair: Pair) -> None:
    from provdb.config import Settings
    from provdb.db import connect
    from tap.db import TapDatabase
    from tap.replicas import ReadRouter

    database = connect(Settings(database_url=pair.primary.url(DB), home=pair.base))
    router = ReadRouter([pair.standby.url(DB)], retry_s=30, max_lag_s=0.5)
    db = TapDatabase(database, router=router)
    standby = pair.standby.connect(DB)
    try:
        standby.execute("SELECT pg_wal_replay_pause()")
        with pair.primary.connect(DB) as primary:  # a write the standby does not replay
            primary.execute("CREATE TABLE public.lag_probe (x int)")
            primary.execute("INSERT INTO public.lag_probe VALUES (1)")
        deadline = time.monotonic() + 30
        while True:
            [report] = db.replica_report(refresh=True)
            if report["status"] == "lagging":
                break
            assert time.monotonic() < deadline, report
            time.sleep(0.2)
        assert report["lag"] > 0.5 and "PROVDB_READ_MAX_LAG" in report["error"]
        conn = db.connect_read(pooled=True)
        try:
            assert conn.provdb_read == "primary"
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0] is False
            conn.rollback()
        finally:
            conn.close()
        standby.execute("SELECT pg_wal_replay_resume()")
        pair.wait_replayed(DB)
        [report] = db.replica_report(refresh=True)
        assert report["status"] == "up", report
        conn = db.connect_read(pooled=True)
        try:
            assert conn.provdb_read == "replica-1"
            conn.rollback()
        finally:
            conn.close()
    finally:
        standby.execute("SELECT pg_wal_replay_resume()")
        standby.close()
        router.close()
        database.engine.dispose()


def test_a_bad_read_url_is_a_clear_configuration_error() -> None:
    from provdb.errors import ConfigError
    from tap.config import TapConfig

    with pytest.raises(
        ConfigError, match=r"PROVDB_READ_URLS=.*'standby/provdb' is not a PostgreSQL URL"
    ):
        TapConfig.from_env(
            {"PROVDB_READ_URLS": "postgresql://a@s1/provdb, mysql://u:pw@standby/provdb"}
        )
    with pytest.raises(ConfigError) as refused:  # a password is never echoed
        TapConfig.from_env({"PROVDB_READ_URLS": "postgresql://u:secret@s1/p, http://x"})
    assert "secret" not in str(refused.value)
    config = TapConfig.from_env({"PROVDB_READ_URLS": "postgresql://a@s1/p, postgresql://b@s2/p"})
    assert config.read_urls == ("postgresql://a@s1/p", "postgresql://b@s2/p")


def test_service_reads_the_standby_sees_new_ingests_and_survives_its_loss(
    pair: Pair, samples: Path
) -> None:
    env = {
        "PROVDB_READ_URLS": pair.standby.url(DB),
        "PROVDB_READ_RETRY": "2",
    }
    with serve_provdb(make_url(pair.primary.url(DB)), env, workers=1) as served:
        site = served.site
        first = _sync(site, COUNT)
        assert first.headers["X-Provdb-Read"] == "replica-1"
        before = _count(first)
        assert before > 0
        r = requests.get(site + "/tap/availability", timeout=30)
        assert "read replica-1 up, lag" in r.text, r.text
        values = scrape(site)
        assert values[("provdb_replica_up", (("replica", "replica-1"),))] == 1
        assert ("provdb_replica_lag_seconds", (("replica", "replica-1"),)) in values

        # an ingest on the primary (the only server that takes writes) ...
        done = run_cli(
            "ingest",
            "-q",
            str(samples / "ctapipe/provenance.log"),
            env={"PROVDB_DATABASE_URL": pair.primary.url(DB)},
        )
        assert done.returncode == 0, done.stderr
        # ... reaches the readers through streaming replication
        deadline = time.monotonic() + 60
        while True:
            r = _sync(site, COUNT)
            assert r.headers["X-Provdb-Read"] == "replica-1"
            if _count(r) > before:
                break
            assert time.monotonic() < deadline, "the ingest never became visible on the standby"
            time.sleep(0.2)
        after = _count(r)
        ident = _sync(site, "SELECT TOP 1 id FROM provenance.entity").text.splitlines()[1]
        provsap = requests.get(site + "/tap/provsap", params={"ID": ident.strip('"')}, timeout=30)
        assert provsap.status_code == 200, provsap.text

        # the standby goes away: queries keep working on the primary
        pair.standby.stop()
        try:
            for _ in range(3):
                r = _sync(site, COUNT)
                assert r.headers["X-Provdb-Read"] == "primary"
                assert _count(r) == after
            page = requests.get(site + "/ui/", timeout=30)
            assert page.status_code == 200
            r = requests.get(site + "/tap/availability", timeout=30)
            assert "<vosi:available>true</vosi:available>" in r.text
            assert "read replica-1 down" in r.text, r.text
            assert scrape(site)[("provdb_replica_up", (("replica", "replica-1"),))] == 0
        finally:
            pair.standby.start()
        # back: after PROVDB_READ_RETRY seconds it takes queries again
        deadline = time.monotonic() + 60
        while _sync(site, COUNT).headers["X-Provdb-Read"] != "replica-1":
            assert time.monotonic() < deadline, "the restarted standby never took queries again"
            time.sleep(0.5)
