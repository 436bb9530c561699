"""Two `provdb serve` instances (two ports, two PROVDB_HOME) on one archive (issue 17,
section 3): a job made on one is listed, read and aborted on the other, and when the
instance running a job is killed the other takes the job over and finishes it, also
when the killed one is "on another host" (PROVDB_WORKER_HOST names another host in its
worker ids: no pid of it means anything here).

A job's query is held at a known point by a lock the test takes on the table it reads
(no timing guess): it stays EXECUTING until the test lets it go.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy.engine import URL

from tests.conftest import scratch_database
from tests.servers import serve_provdb

QUERY = "SELECT COUNT(*) AS n FROM provenance.entity"
#: a query that does not wait for the lock the tests take on provenance.entity
FREE_QUERY = "SELECT TOP 1 table_name FROM TAP_SCHEMA.tables"
ENV = {"PROVDB_TAP_RETENTION": "3600"}


@pytest.fixture(scope="module")
def shared_db(provdb_template) -> Iterator[URL]:
    with scratch_database(provdb_template, "provdb_instances") as url:
        yield url


@pytest.fixture
def instances(shared_db: URL) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [stack.enter_context(serve_provdb(shared_db, ENV)).site for _ in range(2)]


def _conn(url: URL) -> psycopg.Connection:
    return psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))


def _job(site: str, job_id: str) -> dict[str, str]:
    r = requests.get(f"{site}/tap/async/{job_id}/phase", timeout=30)
    assert r.status_code == 200, r.text
    return {"phase": r.text.strip()}


def _wait(url: URL, job_id: str, phase: str, *, not_worker: str | None = None) -> str:
    """Wait (bounded) for the job row to reach ``phase``; its worker."""
    deadline = time.monotonic() + 90
    with _conn(url) as conn:
        conn.autocommit = True
        while True:
            row = conn.execute(
                "SELECT phase, worker FROM uws.job WHERE job_id = %s", (job_id,)
            ).fetchone()
            if row and row[0] == phase and (not_worker is None or row[1] != not_worker):
                return row[1] or ""
            assert time.monotonic() < deadline, f"job {job_id} never reached {phase}: {row}"
            time.sleep(0.2)


def _create(site: str, run: bool, query: str = QUERY) -> str:
    data = {"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"}
    if run:
        data["PHASE"] = "RUN"
    r = requests.post(site + "/tap/async", data=data, allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    return r.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def _backends(url: URL, job_id: str) -> int:
    with _conn(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (f"provdb-job-{job_id}",),
        ).fetchone()[0]


def test_a_job_made_on_one_instance_is_listed_read_and_aborted_on_the_other(
    instances: list[str], shared_db: URL
) -> None:
    a, b = instances
    job_id = _create(a, run=False)
    listing = requests.get(b + "/tap/async", timeout=30)
    assert listing.status_code == 200 and job_id in listing.text
    doc = requests.get(f"{b}/tap/async/{job_id}", timeout=30)
    assert doc.status_code == 200 and QUERY.split()[1] in doc.text
    assert _job(b, job_id)["phase"] == "PENDING"

    lock = _conn(shared_db)
    try:
        lock.execute("LOCK TABLE provenance.entity IN ACCESS EXCLUSIVE MODE")
        r = requests.post(f"{b}/tap/async/{job_id}/phase", data={"PHASE": "RUN"}, timeout=30)
        assert r.status_code in (200, 303), r.text
        _wait(shared_db, job_id, "EXECUTING")
        deadline = time.monotonic() + 60
        while _backends(shared_db, job_id) == 0:  # its query waits for the lock
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # abort through A, whichever instance runs it: its query is cancelled at once
        r = requests.post(f"{a}/tap/async/{job_id}/phase", data={"PHASE": "ABORT"}, timeout=30)
        assert r.status_code in (200, 303), r.text
        assert _job(b, job_id)["phase"] == "ABORTED"
        deadline = time.monotonic() + 30
        while _backends(shared_db, job_id):
            assert time.monotonic() < deadline, "the aborted job's query was not cancelled"
            time.sleep(0.2)
    finally:
        lock.close()
    assert _job(a, job_id)["phase"] == "ABORTED"


def _query_waits(url: URL, job_id: str) -> None:
    """Wait (bounded) until the job's query runs (waits for the test's lock) and its
    worker has recorded it."""
    deadline = time.monotonic() + 60
    with _conn(url) as conn:
        conn.autocommit = True
        while not (
            _backends(url, job_id)
            and conn.execute(
                "SELECT query_pid FROM uws.job WHERE job_id = %s", (job_id,)
            ).fetchone()[0]
        ):
            assert time.monotonic() < deadline, f"the query of job {job_id} never started"
            time.sleep(0.2)


def _pid(worker: str) -> int:
    """The process id in a worker id ``host:token:pid``."""
    return int(worker.rpartition(":")[2])


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def test_killing_the_instance_that_runs_a_job_lets_the_other_finish_it(
    instances: list[str], shared_db: URL
) -> None:
    lock = _conn(shared_db)
    try:
        lock.execute("LOCK TABLE provenance.entity IN ACCESS EXCLUSIVE MODE")
        job_id = _create(instances[0], run=True)
        worker = _wait(shared_db, job_id, "EXECUTING")
        pid = _pid(worker)
        master = _parent(pid)  # the instance: gunicorn's master, `provdb serve` itself
        os.kill(master, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        survivor = [site for site in instances if _answers(site)]
        assert len(survivor) == 1, survivor
        # the survivor sees the dead worker, puts the job back and claims it itself
        _wait(shared_db, job_id, "EXECUTING", not_worker=worker)
    finally:
        lock.close()  # lets the query run
    _wait(shared_db, job_id, "COMPLETED")
    r = requests.get(f"{survivor[0]}/tap/async/{job_id}/results/result", timeout=30)
    assert r.status_code == 200, r.text
    assert r.text.splitlines()[0] == "n"


def _answers(site: str) -> bool:
    try:
        return requests.get(site + "/tap/availability", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def test_an_instance_on_another_host_is_alive_while_it_runs_and_dead_once_killed(
    shared_db: URL,
) -> None:
    far_host = "far-host.example.org"
    with ExitStack() as stack:
        lock = _conn(shared_db)
        stack.callback(lock.close)
        far = stack.enter_context(
            serve_provdb(shared_db, {**ENV, "PROVDB_WORKER_HOST": far_host})
        ).site
        lock.execute("LOCK TABLE provenance.entity IN ACCESS EXCLUSIVE MODE")
        job_id = _create(far, run=True)
        worker = _wait(shared_db, job_id, "EXECUTING")
        assert worker.startswith(far_host + ":"), worker
        _query_waits(shared_db, job_id)  # the far worker holds no row lock now
        near = stack.enter_context(serve_provdb(shared_db, ENV)).site
        # freeze the far instance: it runs nothing (not even its housekeeping), but its
        # connection to the primary stays open, as a busy instance's would
        pid = _pid(worker)
        master = _parent(pid)
        for p in (master, pid):
            os.kill(p, signal.SIGSTOP)
        try:
            # a job of a far worker that died: the near instance's housekeeping puts it
            # back and runs it; the same pass saw the live far worker's job and left it
            ghost = _create(near, run=False, query=FREE_QUERY)
            with _conn(shared_db) as conn:
                conn.execute(
                    "UPDATE uws.job SET phase = 'EXECUTING', worker = %s, attempts = 1, "
                    "start_time = now() WHERE job_id = %s",
                    (f"{far_host}:dead00:{pid}", ghost),
                )
            _wait(shared_db, ghost, "COMPLETED")
            assert _wait(shared_db, job_id, "EXECUTING") == worker
        finally:
            for p in (master, pid):
                os.kill(p, signal.SIGKILL)
        assert not _answers(far)
        # killed: its connection is gone, the near instance requeues the job and runs it
        _wait(shared_db, job_id, "EXECUTING", not_worker=worker)
        lock.close()  # lets the query run
        _wait(shared_db, job_id, "COMPLETED")
        r = requests.get(f"{near}/tap/async/{job_id}/results/result", timeout=30)
        assert r.status_code == 200, r.text
        assert r.text.splitlines()[0] == "n"
        with _conn(shared_db) as conn:
            attempts, path = conn.execute(
                "SELECT attempts, result_path FROM uws.job WHERE job_id = %s", (job_id,)
            ).fetchone()
        assert attempts == 2 and path == "result-2.csv"
