"""Issue 18: no request pins a worker. Real `provdb serve` (gunicorn), real sockets.

Each server here has its own small limits (environment), so every test can show
the limit at work within a few seconds; the loops that wait are bounded.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import run_cli
from tests.servers import serve_provdb

#: a query that computes for minutes before its first row on the sample archive
SLOW = (
    "SELECT COUNT(*) AS zzslow FROM provenance.entity AS a, provenance.entity AS b, "
    "provenance.entity AS c, provenance.entity AS d, provenance.entity AS e"
)


#: every server here: one worker, no /metrics (the tests count nothing there)
QUIET = {"PROVDB_METRICS": "0"}


def active(engine: sa.Engine, marker: str) -> list[int]:
    """Backends running a query that contains ``marker``."""
    with engine.connect() as c:
        return list(
            c.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                    "AND pid <> pg_backend_pid() AND query ILIKE :m"
                ),
                {"m": f"%{marker}%"},
            ).scalars()
        )


def get(url: str, timeout: float = 15, headers: dict[str, str] | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace"), dict(e.headers)


def post_sync(base: str, query: str) -> tuple[int, str]:
    data = urllib.parse.urlencode({"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query})
    try:
        with urllib.request.urlopen(base + "/sync", data=data.encode(), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sync_url(base: str, query: str, **extra: str) -> str:
    params = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": query, **extra}
    return base + "/sync?" + urllib.parse.urlencode(params)


# ----------------------------------------------------------------------------- CPU


def test_join_bomb_is_refused_at_once_with_a_dali_error(archive_url) -> None:
    joins = " ".join(f"JOIN provenance.entity AS t{i}" for i in range(1, 21))
    with serve_provdb(archive_url, QUIET, threads=4) as served:
        base = served.tap
        status, body, _ = get(sync_url(base, f"SELECT * FROM provenance.entity AS t0 {joins}"))
        assert status == 400
        assert 'QUERY_STATUS" value="ERROR"' in body
        assert "more than 8 JOINs in a row without ON or USING" in body
        # an OR chain (quadratic in sqlglot's scope analysis) and a long text
        ors = " OR ".join(f"name = 'n{i}'" for i in range(2000))
        status, body = post_sync(base, f"SELECT name FROM provenance.entity WHERE {ors}")
        assert status == 400 and "PROVDB_TAP_QUERY_MAX_DEPTH" in body
        # the service still answers
        status, body, _ = get(sync_url(base, "SELECT TOP 1 name FROM provenance.entity"))
        assert status == 200


def test_translation_deadline_names_its_setting(archive_url) -> None:
    ors = " OR ".join(f"name = 'n{i}'" for i in range(90))
    with serve_provdb(
        archive_url, {**QUIET, "PROVDB_TAP_TRANSLATE_SECONDS": "0.001"}, threads=4
    ) as served:
        base = served.tap
        status, body = post_sync(base, f"SELECT name FROM provenance.entity WHERE {ors}")
        assert status == 400, body
        assert "PROVDB_TAP_TRANSLATE_SECONDS" in body


# ----------------------------------------------------------------------------- time


def test_sync_query_is_cancelled_when_its_client_disconnects(archive_url) -> None:
    engine = sa.create_engine(archive_url)
    try:
        with serve_provdb(archive_url, QUIET, threads=4) as served:
            base = served.tap
            url = urllib.parse.urlsplit(sync_url(base, SLOW))
            sock = socket.create_connection((url.hostname, url.port), timeout=10)
            sock.sendall(f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            for _ in range(100):  # the query reaches PostgreSQL (~20 s at most)
                if active(engine, "zzslow"):
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the slow query never started")
            sock.close()  # the client goes away before the first row
            for _ in range(50):  # cancelled within ~10 s (it would run 60 s otherwise)
                if not active(engine, "zzslow"):
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the backend of an abandoned query was not cancelled")
    finally:
        engine.dispose()


def test_wait_is_capped_and_waiters_cannot_starve_queries(archive_url) -> None:
    env = {
        "PROVDB_TAP_WAIT_MAX": "4",
        "PROVDB_TAP_WAITERS_MAX": "1",
        # shorter than the longest WAIT: gthread heartbeats do not depend on requests
        "PROVDB_TAP_WORKER_TIMEOUT": "2",
    }
    with serve_provdb(archive_url, {**QUIET, **env}, threads=2) as served:
        base = served.tap
        data = urllib.parse.urlencode(
            {
                "REQUEST": "doQuery",
                "LANG": "ADQL",
                "QUERY": "SELECT TOP 1 name FROM provenance.entity",
            }
        ).encode()
        opener = urllib.request.build_opener(_NoRedirect)
        with contextlib.suppress(urllib.error.HTTPError):
            opener.open(base + "/async", data=data, timeout=10)
        job = _NoRedirect.location
        assert job and "/async/" in job  # PENDING: it never runs, WAIT blocks
        results: dict[str, int] = {}

        def wait(value: str) -> None:
            results[value] = get(f"{job}?WAIT={value}", timeout=12)[0]

        waiters = [threading.Thread(target=wait, args=(v,)) for v in ("-1", "inf", "1e308", "nan")]
        for t in waiters:
            t.start()
        # two server threads, four WAITs: a query still gets through
        status, body, _ = get(sync_url(base, "SELECT TOP 1 name FROM provenance.entity"), 10)
        assert status == 200, body
        for t in waiters:
            t.join(timeout=20)
        # every WAIT answered within the client's 12 s (uncapped: 120 s or forever)
        assert results == {"-1": 200, "inf": 200, "1e308": 200, "nan": 200}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    location: str | None = None

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        type(self).location = headers.get("Location")
        return None


# ----------------------------------------------------------------------------- trust


def test_foreign_host_header_never_ends_up_in_urls(archive_url) -> None:
    with serve_provdb(archive_url, QUIET, threads=4) as served:
        base = served.tap
        status, body, _ = get(base + "/capabilities", headers={"Host": "evil.example"})
        assert status == 400
        assert "evil.example" not in body
        status, body, _ = get(base + "/capabilities", headers={"Host": "localhost"})
        assert status == 200 and "http://localhost/tap" in body
    with serve_provdb(
        archive_url, {**QUIET, "PROVDB_TAP_BASE_URL": "https://archive.example.org/tap"}, threads=4
    ) as served:
        base = served.tap
        status, body, _ = get(base + "/capabilities", headers={"Host": "evil.example"})
        assert status == 400 and "evil.example" not in body
        status, body, _ = get(base + "/capabilities")
        assert status == 200 and "https://archive.example.org/tap/examples" in body


def test_requeued_job_of_a_killed_worker_has_its_backend_cancelled(archive_url) -> None:
    engine = sa.create_engine(archive_url)
    try:
        with serve_provdb(archive_url, QUIET, threads=4) as served:
            base = served.tap
            data = urllib.parse.urlencode(
                {"LANG": "ADQL", "QUERY": SLOW, "PHASE": "RUN", "EXECUTIONDURATION": "40"}
            ).encode()
            opener = urllib.request.build_opener(_NoRedirect)
            with contextlib.suppress(urllib.error.HTTPError):
                opener.open(base + "/async", data=data, timeout=10)
            job_id = (_NoRedirect.location or "").rsplit("/", 1)[-1]
            name = f"provdb-job-{job_id}"
            old: list[int] = []
            for _ in range(100):  # the job's query reaches PostgreSQL
                with engine.connect() as c:
                    old = list(
                        c.execute(
                            sa.text(
                                "SELECT pid FROM pg_stat_activity WHERE application_name = :n "
                                "AND state = 'active'"
                            ),
                            {"n": name},
                        ).scalars()
                    )
                if old:
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the job's query never started")
            with engine.connect() as c:
                worker = c.execute(
                    sa.text("SELECT worker FROM uws.job WHERE job_id = :id"), {"id": job_id}
                ).scalar_one()
            os.kill(int(worker.rpartition(":")[2]), signal.SIGKILL)  # gunicorn starts another
            for _ in range(75):  # the new worker requeues the job and cancels the old query
                with engine.connect() as c:
                    still = c.execute(
                        sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"),
                        {"p": old[0]},
                    ).scalar_one()
                    running = c.execute(
                        sa.text("SELECT state FROM pg_stat_activity WHERE pid = :p"),
                        {"p": old[0]},
                    ).scalar()
                if not still or running != "active":
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the orphaned job's backend kept running")
    finally:
        engine.dispose()


def test_embedded_server_death_gives_dali_503_then_a_restart() -> None:
    home = Path(tempfile.mkdtemp(prefix="provdb-test-embedded-"))
    done = run_cli("db", "upgrade", env={"PROVDB_HOME": str(home), "PROVDB_METRICS": "0"})
    assert done.returncode == 0, done.stderr
    try:
        with serve_provdb(None, QUIET, home=home) as served:
            _kill_the_embedded_server_and_see_it_back(served.tap, home)
    finally:
        # the server restarted by a worker is stopped with it; clean up whatever is left
        with contextlib.suppress(OSError, ValueError):
            pid = int((home / "pgdata" / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGTERM)
            time.sleep(2)
        shutil.rmtree(home, ignore_errors=True)


def _kill_the_embedded_server_and_see_it_back(base: str, home: Path) -> None:
    query = sync_url(base, "SELECT TOP 1 table_name FROM TAP_SCHEMA.tables")
    for _ in range(300):  # the worker has connected once
        with contextlib.suppress(OSError):
            if get(query, timeout=5)[0] == 200:
                break
        time.sleep(0.2)
    pidfile = home / "pgdata" / "postmaster.pid"
    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
    statuses = []
    for _ in range(150):  # bounded: ~60 s until the server is back
        try:
            status, body, headers = get(query, timeout=10)
        except (OSError, http.client.HTTPException):
            # the response in flight when the postmaster died may be cut short
            time.sleep(0.4)
            continue
        statuses.append(status)
        if status == 503:
            # a pooled connection that died says "lost", a new one "not reachable"
            assert "QUERY_STATUS" in body
            assert "not reachable" in body or "connection was lost" in body, body[:500]
            assert headers.get("Content-Type", "").startswith("application/x-votable+xml")
        if status == 200 and 503 in statuses:
            break
        assert status in (200, 503), body[:500]
        time.sleep(0.4)
    assert 503 in statuses and statuses[-1] == 200, statuses
