"""UWS jobs stored in PostgreSQL: a restarted service finds them, destruction is enforced,
several service processes share one job list without running a job twice."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import URL

from provdb.config import Settings
from tap.app import create_app
from tap.config import TapConfig
from tap.uws.jobs import JobStore, Phase
from tests.tap.queued_jobs import queued_job


def _stop_workers(app, timeout: float = 10.0) -> None:
    """Stop the threads ``start_workers`` started (the service never needs to) and wait."""
    stop = app.extensions.get("uws_stop")
    if stop is None:
        return
    stop.set()
    for t in app.extensions.get("uws_threads", []):
        t.join(timeout)


@pytest.fixture
def start_app(db_url: URL, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """``start_app(workers=...)``: a service on this test's database (with its async
    workers, or none); every one is stopped and disposed of after the test."""
    made: list[Flask] = []

    def start(*, workers: bool) -> Flask:
        url = db_url.render_as_string(hide_password=False)
        settings = Settings(database_url=url, home=tmp_path)
        app = create_app(settings, TapConfig(async_workers=2), start_workers=workers)
        made.append(app)
        return app

    yield start
    for app in made:
        _stop_workers(app)
        app.extensions["provdb_tap_db"].database.dispose()


def _store(app: Flask) -> JobStore:
    return JobStore(app.extensions["provdb_tap_db"].engine)


def _wait_phase(store: JobStore, job_id: str, phases: set[str], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        phase = store.get(job_id).phase.value
        if phase in phases:
            return phase
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} stuck in {phase}")


def test_a_restarted_service_finds_and_runs_queued_jobs(start_app: Callable[..., Flask]) -> None:
    first = start_app(workers=False)
    client = first.test_client()
    r = client.post(
        "/tap/async",
        data={
            "LANG": "ADQL",
            "PHASE": "RUN",
            "QUERY": "SELECT schema_name FROM TAP_SCHEMA.schemas",
        },
    )
    assert r.status_code == 303
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    store = _store(first)
    assert store.get(job_id).phase == Phase.QUEUED  # nobody runs it: no workers
    # "restart": a new service process with workers picks the job up from the database
    second = start_app(workers=True)
    assert _wait_phase(store, job_id, {"COMPLETED", "ERROR"}) == "COMPLETED"
    with second.test_client().get(f"/tap/async/{job_id}/results/result") as result:
        assert result.status_code == 200 and b"<BINARY2>" in result.data


def test_jobs_of_a_dead_worker_go_back_to_the_queue(start_app: Callable[..., Flask]) -> None:
    app = start_app(workers=False)
    store = _store(app)
    job = queued_job(store)
    import socket

    claimed = store.claim(f"{socket.gethostname()}:999999")  # a pid that does not exist
    assert claimed is not None and claimed.phase == Phase.EXECUTING
    start_app(workers=True)  # a service whose workers pick the job up again
    assert _wait_phase(store, job.job_id, {"COMPLETED"}) == "COMPLETED"


def test_a_job_whose_workers_keep_dying_ends_error_after_the_attempt_limit(
    start_app: Callable[..., Flask],
) -> None:
    app = start_app(workers=False)
    store = _store(app)
    job = queued_job(store)
    dead = {"host:1", "host:2"}
    claimed = store.claim("host:1")
    assert claimed is not None and claimed.attempts == 1
    # a live worker's job is never touched, whatever its attempts
    assert store.requeue_orphans(lambda w: True, max_attempts=1) == ([], [])
    # first death: back in the queue (1 of 2 attempts)
    assert store.requeue_orphans(lambda w: w not in dead, max_attempts=2) == ([job.job_id], [])
    again = store.get(job.job_id)
    assert again.phase == Phase.QUEUED and again.worker is None and again.attempts == 1
    assert store.claim("host:2").attempts == 2
    # second death: given up, with the reason
    assert store.requeue_orphans(lambda w: w not in dead, max_attempts=2) == ([], [job.job_id])
    failed = store.get(job.job_id)
    assert failed.phase == Phase.ERROR and failed.end_time is not None
    assert failed.error_message.startswith("the worker running this job died 2 times;")
    assert "PROVDB_TAP_JOB_MAX_ATTEMPTS" in failed.error_message
    assert store.claim("host:3") is None  # nothing left to run
    with app.test_client().get(f"/tap/async/{job.job_id}/error") as r:
        assert r.status_code == 200 and b"died 2 times" in r.data


def test_destruction_time_is_enforced(tmp_path: Path, start_app: Callable[..., Flask]) -> None:
    app = start_app(workers=True)
    client = app.test_client()
    r = client.post(
        "/tap/async",
        data={"LANG": "ADQL", "PHASE": "RUN", "QUERY": "SELECT TOP 1 * FROM TAP_SCHEMA.tables"},
    )
    job_url = r.headers["Location"].split("/tap", 1)[1]
    store = _store(app)
    job_id = job_url.rsplit("/", 1)[1]
    _wait_phase(store, job_id, {"COMPLETED"})
    folder = tmp_path / "uws" / job_id
    assert folder.is_dir()
    soon = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = client.post(f"/tap{job_url}/destruction", data={"DESTRUCTION": soon})
    assert r.status_code == 303
    deadline = time.monotonic() + 20
    while client.get(f"/tap{job_url}").status_code != 404:
        assert time.monotonic() < deadline, "job not destroyed"
        time.sleep(0.2)
    assert not folder.exists()


def test_two_processes_never_run_a_job_twice(
    start_app: Callable[..., Flask], engine: sa.Engine
) -> None:
    a = start_app(workers=False)
    store = _store(a)
    ids = []
    for i in range(12):
        query = f"SELECT TOP {i + 1} * FROM TAP_SCHEMA.columns"
        job = queued_job(store, query, run_id=f"r{i}")
        ids.append(job.job_id)
    start_app(workers=True)
    start_app(workers=True)
    for job_id in ids:
        assert _wait_phase(store, job_id, {"COMPLETED", "ERROR"}) == "COMPLETED"
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT result_rows FROM uws.job ORDER BY run_id")).all()
    assert sorted(r[0] for r in rows) == list(range(1, 13))
