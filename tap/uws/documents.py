"""UWS 1.1 XML documents: job, job list, parameters, results (pure functions)."""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from tap.uws.jobs import Job

__all__ = ["iso", "job_document", "job_list", "parameters_document", "results_document"]

NS = (
    'xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def iso(value: datetime | None) -> str:
    """UWS time: ISO 8601 UTC with milliseconds and 'Z'; empty for None."""
    if value is None:
        return ""
    from datetime import UTC

    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _nillable(tag: str, value: str) -> str:
    if value == "":
        return f'<uws:{tag} xsi:nil="true"/>'
    return f"<uws:{tag}>{escape(value)}</uws:{tag}>"


def _parameters(job: Job) -> str:
    items = []
    for name, value in job.parameters:
        items.append(f"<uws:parameter id={quoteattr(name.lower())}>{escape(value)}</uws:parameter>")
    return "".join(items)


def _results(job: Job, job_url: str) -> str:
    if job.phase == "COMPLETED" and job.result_path:
        size = f' size="{job.result_size}"' if job.result_size is not None else ""
        mime = f" mime-type={quoteattr(job.result_mime)}" if job.result_mime else ""
        return (
            f'<uws:result id="result" xlink:type="simple" '
            f"xlink:href={quoteattr(job_url + '/results/result')}{size}{mime}/>"
        )
    return ""


def job_document(job: Job, job_url: str) -> str:
    """``<uws:job>`` with the element order of the UWS 1.1 schema."""
    error = ""
    if job.phase in ("ERROR", "ABORTED") and job.error_message:
        error = (
            f'<uws:errorSummary type="{job.error_type or "fatal"}" hasDetail="true">'
            f"<uws:message>{escape(job.error_message)}</uws:message></uws:errorSummary>"
        )
    run_id = f"<uws:runId>{escape(job.run_id)}</uws:runId>" if job.run_id else ""
    quote = iso(job.quote)
    return "".join(
        [
            HEAD,
            f'<uws:job {NS} version="1.1">',
            f"<uws:jobId>{escape(job.job_id)}</uws:jobId>",
            run_id,
            _nillable("ownerId", public_owner(job.owner_id)),
            f"<uws:phase>{job.phase.value}</uws:phase>",
            _nillable("quote", quote),
            f"<uws:creationTime>{iso(job.creation_time)}</uws:creationTime>",
            _nillable("startTime", iso(job.start_time)),
            _nillable("endTime", iso(job.end_time)),
            f"<uws:executionDuration>{job.execution_duration}</uws:executionDuration>",
            _nillable("destruction", iso(job.destruction)),
            f"<uws:parameters>{_parameters(job)}</uws:parameters>",
            f"<uws:results>{_results(job, job_url)}</uws:results>",
            error,
            "</uws:job>",
        ]
    )


def public_owner(owner_id: str | None) -> str:
    """The ownerId shown: a token's name; an address identity is not shown to anyone."""
    if owner_id and owner_id.startswith("token:"):
        return owner_id[len("token:") :]
    return ""


def job_list(jobs: list[Job], async_url: str) -> str:
    refs = []
    for job in jobs:
        run_id = f"<uws:runId>{escape(job.run_id)}</uws:runId>" if job.run_id else ""
        refs.append(
            f'<uws:jobref id={quoteattr(job.job_id)} xlink:type="simple" '
            f"xlink:href={quoteattr(async_url + '/' + job.job_id)}>"
            f"<uws:phase>{job.phase.value}</uws:phase>{run_id}"
            f"{_nillable('ownerId', public_owner(job.owner_id))}"
            f"<uws:creationTime>{iso(job.creation_time)}</uws:creationTime></uws:jobref>"
        )
    return HEAD + f'<uws:jobs {NS} version="1.1">' + "".join(refs) + "</uws:jobs>"


def parameters_document(job: Job) -> str:
    return HEAD + f"<uws:parameters {NS}>{_parameters(job)}</uws:parameters>"


def results_document(job: Job, job_url: str) -> str:
    return HEAD + f"<uws:results {NS}>{_results(job, job_url)}</uws:results>"
