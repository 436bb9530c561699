"""UWS jobs put straight into the job store, for the tests of the job queue and its workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tap.uws.jobs import Job, JobStore

#: a query every archive answers quickly
ONE_TABLE = "SELECT TOP 1 * FROM TAP_SCHEMA.tables"


def queued_job(store: JobStore, query: str = ONE_TABLE, run_id: str | None = None) -> Job:
    """A new ADQL job for ``query``, QUEUED (PHASE=RUN) for the next worker that claims one."""
    job = store.create(
        parameters=[("LANG", "ADQL"), ("QUERY", query)],
        run_id=run_id,
        execution_duration=60,
        destruction=datetime.now(UTC) + timedelta(hours=1),
    )
    store.run(job.job_id)
    return job
