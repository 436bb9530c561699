"""Async job execution: worker threads that coordinate through the database.

Every service process runs a few worker threads. A worker claims the oldest QUEUED job
with ``FOR UPDATE SKIP LOCKED`` (so several processes, even on several hosts, share
one job list without running a job twice), runs it with ``statement_timeout`` = the
job's execution duration, writes the result to ``<PROVDB_HOME>/uws/<job>/result`` and
records the outcome. The process holds one connection to the primary for its whole
life: it shows the process's workers are alive (:mod:`tap.uws.liveness`) and it
LISTENs on it, so workers wake on ``NOTIFY provdb_uws`` (sent when a job is queued) or
every second. One thread per process also destroys expired jobs and puts back in the
queue the jobs of workers that died, on this host or any other (their presence
connection is gone), at most ``PROVDB_TAP_JOB_MAX_ATTEMPTS`` times in all: a query that
kills its worker every time (out of memory, a crash) then ends ERROR saying so.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from flask import Flask

from provdb import settings
from tap.datalink import job_links_url
from tap.errors import TapError
from tap.params import collect
from tap.query.execute import QueryCancelled
from tap.query.run import job_application_name, prepare, result_stream
from tap.uws.jobs import Job, JobStore, Phase
from tap.uws.liveness import connect_presence, worker_id

__all__ = ["Presence", "Worker", "run_job", "start_workers"]

log = logging.getLogger("provdb.tap.uws")

_EXT = {
    "application/x-votable+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
}


def run_job(app: Flask, job: Job, store: JobStore) -> None:
    """Execute one claimed job and record its outcome."""
    db = app.extensions["provdb_tap_db"]
    config = app.config["TAP_CONFIG"]
    folder = Path(app.config["PROVDB_SETTINGS"].home) / "uws" / job.job_id
    folder.mkdir(parents=True, exist_ok=True)
    params = collect([tuple(p) for p in job.parameters])
    # paths, not contents: the upload budget decides how much of each file is read
    files = {part: folder / name for part, name in job.uploads.items() if (folder / name).is_file()}
    status: dict[str, Any] = {}
    # a later attempt writes a file of its own: the worker of an earlier one, taken for
    # dead while it still ran, may be writing (or dropping) its file in a shared home
    stem = "result" if job.attempts <= 1 else f"result-{job.attempts}"
    mine = job.worker
    try:
        prepared = prepare(
            params, db.catalog, config, files=files, timeout_s=job.execution_duration
        )
        prepared.datalink = job_links_url(app)
        mime = prepared.format.mime
        target = folder / f"{stem}.{_EXT.get(mime.split(';')[0], 'dat')}"
        size = 0
        with open(target, "wb") as out:
            label = job_application_name(job.job_id)
            for chunk in result_stream(
                prepared,
                # labelled from its start: an abort on any instance finds it by label
                lambda: db.connect_read(
                    pooled=False, primary=bool(prepared.uploads), application_name=label
                ),
                role=db.reader_role,
                on_pid=lambda pid: store.set_query_pid(job.job_id, pid, mine),
                status=status,
                application_name=label,
            ):
                out.write(chunk)
                size += len(chunk)
    except QueryCancelled as exc:
        # statement_timeout (execution duration) or an abort: UWS says ABORTED
        if not store.finish(
            job.job_id,
            phase=Phase.ABORTED,
            error=exc.message,
            error_type="transient",
            worker=mine,
        ):
            log.info("job %s was aborted, or taken over by another worker", job.job_id)
        return
    except TapError as exc:
        store.finish(
            job.job_id, phase=Phase.ERROR, error=exc.message, error_type="fatal", worker=mine
        )
        return
    except Exception as exc:  # a bug or an outage: the job fails, the worker lives on
        log.exception("job %s failed", job.job_id)
        store.finish(
            job.job_id,
            phase=Phase.ERROR,
            error=f"internal error: {exc}",
            error_type="transient",
            worker=mine,
        )
        return
    if status.get("error"):
        store.finish(
            job.job_id,
            phase=Phase.ERROR,
            error=str(status["error"]),
            error_type="fatal",
            worker=mine,
        )
        return
    if not store.finish(
        job.job_id,
        phase=Phase.COMPLETED,
        result_path=target.name,
        result_mime=mime,
        result_size=size,
        result_rows=status.get("rows"),
        worker=mine,
    ):
        log.info("job %s finished after being aborted or taken over; result dropped", job.job_id)
        target.unlink(missing_ok=True)


class Worker(threading.Thread):
    """Claims and runs queued jobs until the process exits."""

    def __init__(
        self,
        app: Flask,
        name: str,
        presence: Presence,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.app = app
        self.presence = presence
        self.wake = presence.wake
        self.stop = stop
        self.store = JobStore(app.extensions["provdb_tap_db"].engine)
        self.ident_name = presence.worker

    def run(self) -> None:
        while not self.stop.is_set():
            if not self.presence.up.is_set():
                # without its presence connection this worker looks dead to every
                # instance: a job it claimed would be taken away again at once
                self.presence.up.wait(1.0)
                continue
            try:
                job = self.store.claim(self.ident_name)
            except Exception:
                log.exception("cannot claim jobs; retrying")
                self.stop.wait(5)
                continue
            if job is None:
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            run_job(self.app, job, self.store)


class Presence(threading.Thread):
    """Holds this process's presence connection on the primary (its workers are alive
    while it is open, :mod:`tap.uws.liveness`) and wakes the workers on
    ``NOTIFY provdb_uws`` received on it; reconnects when it is lost."""

    def __init__(self, app: Flask, worker: str, stop: threading.Event) -> None:
        super().__init__(name="uws-presence", daemon=True)
        self.app = app
        self.worker = worker
        self.stop = stop
        #: set while the connection is open (workers claim only then)
        self.up = threading.Event()
        #: set on a notification: a job was queued
        self.wake = threading.Event()

    def run(self) -> None:
        db = self.app.extensions["provdb_tap_db"]
        while not self.stop.is_set():
            try:
                conn = connect_presence(db.primary_conninfo, self.worker)
            except Exception as exc:
                log.warning(
                    "async workers wait: cannot reach the primary (%s); retrying",
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                )
                self.stop.wait(5)
                continue
            try:
                conn.execute("LISTEN provdb_uws")
                self.up.set()
                self.wake.set()  # jobs queued while the connection was down
                while not self.stop.is_set():
                    for _ in conn.notifies(timeout=1.0):
                        self.wake.set()
            except Exception:
                log.warning(
                    "worker %s lost its connection to the primary: other instances may "
                    "take its jobs over; reconnecting",
                    self.worker,
                )
                self.stop.wait(1)
            finally:
                self.up.clear()
                conn.close()


def _housekeeping(app: Flask, stop: threading.Event, interval: float = 2.0) -> None:
    db = app.extensions["provdb_tap_db"]
    store = JobStore(db.engine)
    root = Path(app.config["PROVDB_SETTINGS"].home) / "uws"
    max_attempts = app.config["TAP_CONFIG"].job_max_attempts
    while not stop.is_set():
        try:
            requeued, failed = store.requeue_orphans(None, max_attempts)
            if requeued:
                log.warning("re-queued %d jobs of workers that died", len(requeued))
            if failed:
                log.warning(
                    "%d jobs failed: their workers died %d times (PROVDB_TAP_JOB_MAX_ATTEMPTS)",
                    len(failed),
                    max_attempts,
                )
            if db.router:  # the primary's were cancelled by requeue_orphans
                for job_id in [*requeued, *failed]:
                    db.router.cancel_labelled(job_application_name(job_id))
            for job in store.expired():
                if job.phase == Phase.EXECUTING:
                    _, pid = store.abort(job.job_id)
                    if pid:
                        db.cancel_labelled(job_application_name(job.job_id))
                store.delete(job.job_id)
                shutil.rmtree(root / job.job_id, ignore_errors=True)
        except Exception:
            log.exception("housekeeping failed; retrying")
        stop.wait(interval)


def start_workers(app: Flask) -> threading.Event:
    """Start this process's workers, its presence connection (which also listens for
    queued jobs) and the housekeeping thread.

    Returns the event that stops them all (also kept as ``app.extensions['uws_stop']``).
    """
    stop = threading.Event()
    presence = Presence(app, worker_id(settings.value("PROVDB_WORKER_HOST")), stop)
    threads: list[threading.Thread] = [presence]
    threads += [
        Worker(app, f"uws-worker-{i}", presence, stop)
        for i in range(app.config["TAP_CONFIG"].async_workers)
    ]
    threads.append(
        threading.Thread(
            target=_housekeeping, args=(app, stop), name="uws-housekeeping", daemon=True
        )
    )
    for t in threads:
        t.start()
    app.extensions["uws_stop"] = stop
    app.extensions["uws_threads"] = threads
    return stop
