"""UWS 1.1 jobs: phases, allowed transitions, and their storage in ``uws.job``.

Every state change is one SQL statement whose WHERE clause states the phases it may
start from, so concurrent requests and several service processes sharing the table
cannot make an illegal transition (e.g. RUN after ABORT).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from tap.errors import LimitError, NotFound, PhaseError, Unavailable
from tap.uws.liveness import live_workers

__all__ = ["ACTIVE", "FINAL", "Job", "JobStore", "Phase", "died_message"]


class Phase(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    ABORTED = "ABORTED"
    UNKNOWN = "UNKNOWN"
    HELD = "HELD"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


ACTIVE = (Phase.PENDING, Phase.QUEUED, Phase.EXECUTING)
FINAL = (Phase.COMPLETED, Phase.ERROR, Phase.ABORTED, Phase.ARCHIVED)


@dataclass
class Job:
    job_id: str
    run_id: str | None
    owner_id: str | None
    phase: Phase
    creation_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    execution_duration: int
    destruction: datetime
    parameters: list[list[str]]
    uploads: dict[str, str]
    error_message: str | None
    error_type: str | None
    result_path: str | None
    result_mime: str | None
    result_size: int | None
    result_rows: int | None
    worker: str | None
    query_pid: int | None
    attempts: int = 0

    @property
    def quote(self) -> datetime | None:
        """Estimated completion: now + the allowed duration while not finished."""
        if self.phase in FINAL:
            return self.end_time
        if self.execution_duration <= 0:
            return None
        start = self.start_time or datetime.now(UTC)
        return start + timedelta(seconds=self.execution_duration)


_COLUMNS = (
    "job_id, run_id, owner_id, phase, creation_time, start_time, end_time, "
    "execution_duration, destruction, parameters, uploads, error_message, error_type, "
    "result_path, result_mime, result_size, result_rows, worker, query_pid, attempts"
)


def _job(row: Any) -> Job:
    data = dict(row._mapping)
    data["phase"] = Phase(data["phase"])
    return Job(**data)


def died_message(attempts: int) -> str:
    """The error of a job given up after its worker died ``attempts`` times."""
    times = "once" if attempts == 1 else f"{attempts} times"
    return (
        f"the worker running this job died {times}; the query may need more "
        "memory than the service allows (or crashes the worker): simplify it, add TOP or "
        "MAXREC, or ask the operators; the service gives up after "
        f"{attempts} attempts (PROVDB_TAP_JOB_MAX_ATTEMPTS)"
    )


class JobStore:
    """Job persistence on the archive database (SQLAlchemy engine)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(
        self,
        *,
        parameters: list[tuple[str, str]],
        run_id: str | None,
        execution_duration: int,
        destruction: datetime,
        owner_id: str | None = None,
        max_active: int | None = None,
        max_stored: int | None = None,
    ) -> Job:
        """Store a new PENDING job.

        Raises
        ------
        LimitError
            ``owner_id`` already has ``max_active`` PENDING, QUEUED or EXECUTING jobs.
        Unavailable
            ``max_stored`` jobs are stored in all.
        """
        job_id = secrets.token_hex(8)
        with self.engine.begin() as conn:
            if owner_id is not None and max_active is not None:
                # one creation at a time per client, so two requests cannot both pass
                conn.execute(
                    sa.text(
                        "SELECT pg_advisory_xact_lock(hashtext('provdb_uws_owner'), hashtext(:o))"
                    ),
                    {"o": owner_id},
                )
                active = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM uws.job WHERE owner_id = :o "
                        "AND phase IN ('PENDING', 'QUEUED', 'EXECUTING')"
                    ),
                    {"o": owner_id},
                ).scalar_one()
                if active >= max_active:
                    raise LimitError(
                        f"this client ({owner_id}) has {active} pending or running jobs; at "
                        f"most {max_active} (PROVDB_TAP_MAX_JOBS_PER_CLIENT): wait for some "
                        "to finish, or delete (or abort) them"
                    )
            if max_stored is not None:
                stored = conn.execute(
                    sa.text("SELECT count(*) FROM (SELECT 1 FROM uws.job LIMIT :n) AS j"),
                    {"n": max_stored},
                ).scalar_one()
                if stored >= max_stored:
                    raise Unavailable(
                        f"the service stores {max_stored} jobs, its limit "
                        "(PROVDB_TAP_MAX_STORED_JOBS): try again when old jobs are destroyed, "
                        "or use /sync"
                    )
            row = conn.execute(
                sa.text(
                    f"INSERT INTO uws.job (job_id, run_id, owner_id, phase, execution_duration, "
                    f"destruction, parameters) VALUES (:id, :run, :owner, 'PENDING', :dur, "
                    f":destr, CAST(:params AS jsonb)) RETURNING {_COLUMNS}"
                ),
                {
                    "id": job_id,
                    "run": run_id,
                    "owner": owner_id,
                    "dur": execution_duration,
                    "destr": destruction,
                    "params": json.dumps([list(p) for p in parameters]),
                },
            ).one()
        return _job(row)

    def owner(self, job_id: str) -> str | None:
        """The owner of a job (None: anonymous, or no such job)."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT owner_id FROM uws.job WHERE job_id = :id"), {"id": job_id}
            ).scalar_one_or_none()

    def get(self, job_id: str) -> Job:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(f"SELECT {_COLUMNS} FROM uws.job WHERE job_id = :id"), {"id": job_id}
            ).one_or_none()
        if row is None:
            raise NotFound(f"no job {job_id!r} (never created, deleted, or destroyed)")
        return _job(row)

    def list(
        self,
        *,
        phases: list[str] | None = None,
        after: datetime | None = None,
        last: int | None = None,
        owner_id: str | None = None,
    ) -> list[Job]:
        """Jobs by creation time; ``last``: only the newest ``last`` of them;
        ``owner_id``: only that client's."""
        clauses, params = [], {}
        if owner_id is not None:
            clauses.append("owner_id = :owner")
            params["owner"] = owner_id
        if phases:
            clauses.append("phase = ANY(:phases)")
            params["phases"] = phases
        else:
            clauses.append("phase <> 'ARCHIVED'")
        if after is not None:
            clauses.append("creation_time > :after")
            params["after"] = after
        sql = f"SELECT {_COLUMNS} FROM uws.job WHERE {' AND '.join(clauses)}"
        if last is not None:
            sql += " ORDER BY creation_time DESC LIMIT :last"
            params["last"] = last
        else:
            sql += " ORDER BY creation_time"
        with self.engine.connect() as conn:
            jobs = [_job(r) for r in conn.execute(sa.text(sql), params)]
        if last is not None:
            jobs.reverse()
        return jobs

    def _update(
        self,
        job_id: str,
        sets: str,
        allowed: tuple[Phase, ...] | None,
        params: dict[str, Any],
        action: str,
    ) -> Job:
        where = "job_id = :id"
        if allowed is not None:
            where += " AND phase = ANY(:allowed)"
            params["allowed"] = [p.value for p in allowed]
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(f"UPDATE uws.job SET {sets} WHERE {where} RETURNING {_COLUMNS}"),
                {"id": job_id, **params},
            ).one_or_none()
        if row is None:
            job = self.get(job_id)  # raises NotFound
            raise PhaseError(f"cannot {action} job {job_id}: it is {job.phase}")
        return _job(row)

    def set_parameters(
        self, job_id: str, parameters: list[tuple[str, str]], run_id: str | None
    ) -> Job:
        return self._update(
            job_id,
            "parameters = CAST(:params AS jsonb), run_id = :run",
            (Phase.PENDING,),
            {"params": json.dumps([list(p) for p in parameters]), "run": run_id},
            "change the parameters of",
        )

    def set_uploads(self, job_id: str, uploads: dict[str, str]) -> Job:
        return self._update(
            job_id,
            "uploads = CAST(:u AS jsonb)",
            (Phase.PENDING,),
            {"u": json.dumps(uploads)},
            "add uploads to",
        )

    def run(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.phase in (Phase.QUEUED, Phase.EXECUTING, Phase.COMPLETED):
            return job  # RUN is idempotent once accepted
        out = self._update(job_id, "phase = 'QUEUED'", (Phase.PENDING,), {}, "run")
        with self.engine.begin() as conn:
            conn.execute(sa.text("NOTIFY provdb_uws"))
        return out

    def abort(self, job_id: str) -> tuple[Job, int | None]:
        """Abort; returns the job and the backend pid to cancel if it was executing."""
        before = self.get(job_id)
        job = self._update(
            job_id,
            "phase = 'ABORTED', end_time = now(), query_pid = NULL",
            (Phase.PENDING, Phase.QUEUED, Phase.EXECUTING, Phase.HELD, Phase.SUSPENDED),
            {},
            "abort",
        )
        return job, before.query_pid if before.phase == Phase.EXECUTING else None

    def set_execution_duration(self, job_id: str, seconds: int) -> Job:
        return self._update(
            job_id,
            "execution_duration = :d",
            (Phase.PENDING,),
            {"d": seconds},
            "change the execution duration of",
        )

    def set_destruction(self, job_id: str, when: datetime) -> Job:
        return self._update(
            job_id, "destruction = :w", None, {"w": when}, "change the destruction time of"
        )

    def delete(self, job_id: str) -> Job:
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(f"DELETE FROM uws.job WHERE job_id = :id RETURNING {_COLUMNS}"),
                {"id": job_id},
            ).one_or_none()
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        return _job(row)

    # ----------------------------------------------------------- worker side

    def claim(self, worker: str) -> Job | None:
        """Take the oldest QUEUED job (other workers skip it while we hold it); counts
        the attempt, so that a job whose workers keep dying is not requeued forever."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    "UPDATE uws.job SET phase = 'EXECUTING', start_time = now(), worker = :w, "
                    "attempts = attempts + 1 "
                    "WHERE job_id = (SELECT job_id FROM uws.job WHERE phase = 'QUEUED' "
                    "ORDER BY creation_time FOR UPDATE SKIP LOCKED LIMIT 1) "
                    f"RETURNING {_COLUMNS}"
                ),
                {"w": worker},
            ).one_or_none()
        return _job(row) if row is not None else None

    def set_query_pid(self, job_id: str, pid: int, worker: str | None = None) -> None:
        """Record the backend pid of a job's query (``worker``: only while the job is
        still that worker's)."""
        mine = " AND worker = :w" if worker is not None else ""
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE uws.job SET query_pid = :p "
                    f"WHERE job_id = :id AND phase = 'EXECUTING'{mine}"
                ),
                {"p": pid, "id": job_id, "w": worker},
            )

    def finish(
        self,
        job_id: str,
        *,
        phase: Phase,
        error: str | None = None,
        error_type: str | None = None,
        result_path: str | None = None,
        result_mime: str | None = None,
        result_size: int | None = None,
        result_rows: int | None = None,
        worker: str | None = None,
    ) -> bool:
        """Record the end of an execution; False if the job was aborted meanwhile, or
        (``worker`` given) is no longer that worker's: a worker taken for dead (its
        connection to the primary was cut) that finishes late must not overwrite the
        run of the worker that took the job over."""
        mine = " AND worker = :worker" if worker is not None else ""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    "UPDATE uws.job SET phase = :phase, end_time = now(), query_pid = NULL, "
                    "error_message = :err, error_type = :etype, result_path = :path, "
                    "result_mime = :mime, result_size = :size, result_rows = :rows "
                    f"WHERE job_id = :id AND phase = 'EXECUTING'{mine} RETURNING job_id"
                ),
                {
                    "worker": worker,
                    "phase": phase.value,
                    "err": error,
                    "etype": error_type,
                    "path": result_path,
                    "mime": result_mime,
                    "size": result_size,
                    "rows": result_rows,
                    "id": job_id,
                },
            ).one_or_none()
        return row is not None

    def requeue_orphans(
        self, alive: Callable[[str], bool] | None = None, max_attempts: int | None = None
    ) -> tuple[list[str], list[str]]:
        """Jobs EXECUTING on a worker that no longer runs go back to QUEUED, or end
        ERROR once they have had ``max_attempts`` attempts (None: no limit); their
        queries on the primary are cancelled.

        A worker runs while its presence connection is open on the primary
        (:mod:`tap.uws.liveness`), whatever host it is on; ``alive(worker)`` replaces
        that rule (tests). The workers are judged after the rows are read here, under
        their row locks: a job claimed a moment ago by a live worker is never taken for
        an orphan (a worker claims only while its presence connection is open).
        Returns the ids (requeued, failed), so the caller can cancel their queries on
        read replicas too.
        """
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT job_id, worker, attempts FROM uws.job WHERE phase = 'EXECUTING' "
                    "FOR UPDATE SKIP LOCKED"
                )
            ).all()
            workers = {r.worker for r in rows if r.worker}
            if alive is None:
                living = live_workers(conn, workers)
            else:
                living = {w for w in workers if alive(w)}
            orphans = [r for r in rows if r.worker and r.worker not in living]
            spent = [r.job_id for r in orphans if max_attempts and r.attempts >= max_attempts]
            again = [r.job_id for r in orphans if r.job_id not in spent]
            if again:
                conn.execute(
                    sa.text(
                        "UPDATE uws.job SET phase = 'QUEUED', worker = NULL, "
                        "query_pid = NULL WHERE job_id = ANY(:ids) AND phase = 'EXECUTING'"
                    ),
                    {"ids": again},
                )
            if spent:
                conn.execute(
                    sa.text(
                        "UPDATE uws.job SET phase = 'ERROR', end_time = now(), worker = NULL, "
                        "query_pid = NULL, error_type = 'fatal', error_message = :msg "
                        "WHERE job_id = ANY(:ids) AND phase = 'EXECUTING'"
                    ),
                    {"ids": spent, "msg": died_message(max_attempts or 0)},
                )
            if orphans:
                # the dead worker's query may still run in PostgreSQL (up to the job's
                # duration): cancel it, found by its label, not by a pid that may since
                # belong to another session
                conn.execute(
                    sa.text(
                        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = ANY(:names) AND pid <> pg_backend_pid()"
                    ),
                    {"names": [f"provdb-job-{r.job_id}" for r in orphans]},
                )
        return again, spent

    def expired(self) -> list[Job]:
        """Jobs whose destruction time has passed."""
        with self.engine.connect() as conn:
            return [
                _job(r)
                for r in conn.execute(
                    sa.text(f"SELECT {_COLUMNS} FROM uws.job WHERE destruction <= now()")
                )
            ]
