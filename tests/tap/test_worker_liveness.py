"""Async workers are judged alive by their presence connection on the primary, on any
host (issue 17, section 3): real connections to a real PostgreSQL, no clock, no pid.

tests/tap/test_instances.py kills a whole `provdb serve` instance "on another host"."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from tap.uws.jobs import Job, JobStore, Phase
from tap.uws.liveness import connect_presence, live_workers, presence_name, worker_id
from tests.tap.queued_jobs import queued_job


@pytest.fixture
def store(engine: sa.Engine) -> JobStore:
    return JobStore(engine)


@pytest.fixture
def conninfo(db_url: URL) -> str:
    return db_url.set(drivername="postgresql").render_as_string(hide_password=False)


def _executing(store: JobStore, worker: str) -> Job:
    job = queued_job(store)
    claimed = store.claim(worker)
    assert claimed is not None and claimed.job_id == job.job_id
    return claimed


def _gone(engine: sa.Engine, worker: str) -> None:
    """Wait (bounded) until the server has ended the backend of a closed connection."""
    deadline = time.monotonic() + 30
    while True:
        with engine.connect() as conn:
            if not live_workers(conn, [worker]):
                return
        assert time.monotonic() < deadline, f"the backend of {worker} never ended"
        time.sleep(0.1)


@pytest.fixture
def presence(conninfo: str) -> Iterator[list[psycopg.Connection]]:
    opened: list[psycopg.Connection] = []
    yield opened
    for conn in opened:
        conn.close()


def test_a_worker_on_another_host_is_alive_exactly_while_its_connection_is_open(
    store: JobStore, engine: sa.Engine, conninfo: str, presence: list
) -> None:
    far = worker_id("elsewhere.example.org")
    assert far.startswith("elsewhere.example.org:") and far != worker_id("elsewhere.example.org")
    job = _executing(store, far)
    presence.append(connect_presence(conninfo, far))
    for _ in range(3):  # every pass, however many: never taken for dead
        assert store.requeue_orphans(None, max_attempts=3) == ([], [])
    still = store.get(job.job_id)
    assert still.phase == Phase.EXECUTING and still.worker == far
    presence.pop().close()  # the process died: its socket is closed
    _gone(engine, far)
    assert store.requeue_orphans(None, max_attempts=3) == ([job.job_id], [])
    back = store.get(job.job_id)
    assert back.phase == Phase.QUEUED and back.worker is None


def test_a_running_pid_on_this_host_does_not_make_a_worker_alive(
    store: JobStore, engine: sa.Engine
) -> None:
    # a restarted container reuses host name and pid: only the connection counts
    reused = f"{socket.gethostname()}:0a0a0a:{os.getpid()}"
    job = _executing(store, reused)
    assert store.requeue_orphans(None, max_attempts=3) == ([job.job_id], [])


def test_the_attempt_limit_holds_for_workers_of_any_host(store: JobStore) -> None:
    job = _executing(store, worker_id("host-a.example.org"))
    assert store.requeue_orphans(None, max_attempts=2) == ([job.job_id], [])
    assert store.claim(worker_id("host-b.example.org")).attempts == 2
    assert store.requeue_orphans(None, max_attempts=2) == ([], [job.job_id])
    failed = store.get(job.job_id)
    assert failed.phase == Phase.ERROR
    assert failed.error_message.startswith("the worker running this job died 2 times;")


@pytest.mark.parametrize(
    "host", ["node-" + "7" * 200 + ".cluster.example.org", "höst-ü.example.org"]
)
def test_a_host_name_the_server_would_truncate_or_mangle_still_identifies_its_worker(
    store: JobStore, engine: sa.Engine, conninfo: str, presence: list, host: str
) -> None:
    worker = worker_id(host)
    name = presence_name(worker)
    assert len(name.encode()) <= 63 and name.isascii() and name.startswith("provdb-worker-")
    other = worker_id(host)  # same host, another process: another name
    assert presence_name(other) != name
    presence.append(connect_presence(conninfo, worker))
    with engine.connect() as conn:
        labels = conn.execute(
            sa.text("SELECT application_name FROM pg_stat_activity WHERE application_name = :n"),
            {"n": name},
        ).scalars()
        assert list(labels) == [name]
        assert live_workers(conn, [worker, other]) == {worker}
    job = _executing(store, worker)
    assert store.requeue_orphans(None, max_attempts=3) == ([], [])
    assert store.get(job.job_id).worker == worker


def test_the_presence_connection_is_never_ended_for_idleness_and_probes_its_peer(
    conninfo: str, presence: list
) -> None:
    own = make_conninfo(conninfo, options="-c search_path=uws")
    conn = connect_presence(own, "h:abcdef:1")
    presence.append(conn)
    assert conn.autocommit
    # the server keeps it however long it is idle, and the user's own options stay
    assert conn.execute("SHOW idle_session_timeout").fetchone()[0] == "0"
    assert conn.execute("SHOW search_path").fetchone()[0] == "uws"
    params = conn.info.get_parameters()
    assert "-c tcp_keepalives_idle=10" in params["options"]
    assert "-c tcp_keepalives_count=3" in params["options"]
    assert "-c tcp_user_timeout=25000" in params["options"]
    assert params["keepalives_idle"] == "10" and params["keepalives_count"] == "3"


def test_a_worker_taken_for_dead_cannot_overwrite_the_run_that_took_its_job_over(
    store: JobStore, conninfo: str, presence: list
) -> None:
    cut_off = worker_id("partitioned.example.org")  # alive, but lost the primary
    job = _executing(store, cut_off)
    assert store.requeue_orphans(None, max_attempts=3) == ([job.job_id], [])
    taker = worker_id("healthy.example.org")
    presence.append(connect_presence(conninfo, taker))
    assert store.claim(taker).job_id == job.job_id
    store.set_query_pid(job.job_id, 4242, cut_off)  # ignored: no longer its job
    assert store.get(job.job_id).query_pid is None
    assert not store.finish(job.job_id, phase=Phase.ABORTED, error="cancelled", worker=cut_off)
    assert store.get(job.job_id).phase == Phase.EXECUTING
    assert store.finish(job.job_id, phase=Phase.COMPLETED, result_path="result-2.csv", worker=taker)
    done = store.get(job.job_id)
    assert done.phase == Phase.COMPLETED and done.result_path == "result-2.csv"
