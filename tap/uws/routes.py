"""Blueprint ``/async``: the UWS 1.1 job list and job resources.

Creation and every state-changing POST answer ``303 See Other`` with an **absolute**
Location (taplint 3.4.7 fails on relative ones); illegal actions answer 403, unknown
jobs 404, both with a DALI error document.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, request, send_file

from tap.clients import client_identity, is_token_identity
from tap.context import base_url, tap_db
from tap.errors import Forbidden, NotFound, PhaseError, UsageError
from tap.params import collect
from tap.uws import documents
from tap.uws.jobs import ACTIVE, JobStore, Phase

bp = Blueprint("uws", __name__)

#: What :meth:`JobStore.create` hands out (``secrets.token_hex(8)``).
JOB_ID = re.compile(r"[0-9a-f]{16}")


@bp.url_value_preprocessor
def _known_shape(endpoint: str | None, values: dict | None) -> None:
    """Answer 404 for a job id no job can have, before it reaches the database.

    A NUL byte (``/async/%00``) made PostgreSQL refuse the parameter: an HTTP 500.
    """
    job_id = (values or {}).get("job_id")
    if job_id is not None and not JOB_ID.fullmatch(job_id):
        raise NotFound(f"no job {job_id!r}: job ids are 16 hexadecimal digits")


@bp.before_request
def _owned() -> None:
    """A job owned by a token identity answers 403 to every other client.

    Runs after the app's authentication (``tap.read_auth``) set the identity. Jobs of
    anonymous clients (owned by an address) stay reachable by their unguessable id.
    """
    job_id = (request.view_args or {}).get("job_id")
    if job_id is None:
        return
    owner = store().owner(job_id)
    if is_token_identity(owner) and owner != client_identity():
        raise Forbidden(f"job {job_id} belongs to another identity")


XML = "text/xml"
TEXT = "text/plain"
_WAITERS_LOCK = threading.Lock()


def store() -> JobStore:
    return JobStore(tap_db().engine)


def jobs_dir() -> Path:
    return Path(current_app.config["PROVDB_SETTINGS"].home) / "uws"


def _async_url() -> str:
    return base_url() + "/async"


def _job_url(job_id: str) -> str:
    return f"{_async_url()}/{job_id}"


def _see_other(url: str) -> Response:
    return Response("", status=303, headers={"Location": url})


def _form() -> list[tuple[str, str]]:
    items = list(request.args.items(multi=True))
    items += list(request.form.items(multi=True))
    return items


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _clamp_duration(text: str) -> int:
    config = current_app.config["TAP_CONFIG"]
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"EXECUTIONDURATION must be an integer, not {text!r}") from None
    if value <= 0 or value > config.execution_hard:
        value = config.execution_hard
    return value


def _clamp_destruction(when: datetime, created: datetime) -> datetime:
    hard = created + timedelta(seconds=current_app.config["TAP_CONFIG"].retention_hard)
    return min(when, hard)


def _save_uploads(job_id: str) -> dict[str, str]:
    saved = {}
    if request.files:
        folder = jobs_dir() / job_id
        folder.mkdir(parents=True, exist_ok=True)
        for part, storage in request.files.items():
            target = folder / f"upload-{len(saved)}"
            storage.save(target)
            saved[part] = target.name
    return saved


def _tap_items(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """TAP parameters of a request, UWS control parameters left out."""
    params = collect(items)
    params.values.pop("PHASE", None)
    params.values.pop("EXECUTIONDURATION", None)
    params.values.pop("DESTRUCTION", None)
    return params.as_list()


# ----------------------------------------------------------------------------- job list


@bp.route("/async", methods=["GET"])
def job_list() -> Response:
    phases = [p.upper() for p in request.args.getlist("PHASE") or request.args.getlist("phase")]
    for p in phases:
        if p not in Phase.__members__:
            raise UsageError(f"unknown PHASE {p!r}")
    after = request.args.get("AFTER") or request.args.get("after")
    last = request.args.get("LAST") or request.args.get("last")
    bound = current_app.config["TAP_CONFIG"].job_list_max
    try:
        last_n = int(last) if last else bound
    except ValueError:
        raise UsageError(f"LAST must be a positive integer, not {last!r}") from None
    if last_n <= 0:
        raise UsageError("LAST must be a positive integer")
    # a client sees its own jobs, the newest PROVDB_TAP_JOB_LIST_MAX at most: page
    # further back with AFTER (creation time) and PHASE
    jobs = store().list(
        phases=phases or None,
        after=_parse_time(after) if after else None,
        last=min(last_n, bound),
        owner_id=client_identity(),
    )
    return Response(documents.job_list(jobs, _async_url()), mimetype=XML)


@bp.route("/async", methods=["POST"])
def create_job() -> Response:
    config = current_app.config["TAP_CONFIG"]
    items = _form()
    params = collect(items)  # also checks duplicates: a bad request gets 400 here
    now = datetime.now(UTC)
    duration = config.execution_default
    if params.get("EXECUTIONDURATION"):
        duration = _clamp_duration(params.get("EXECUTIONDURATION") or "")
    destruction = now + timedelta(seconds=config.retention_default)
    if params.get("DESTRUCTION"):
        destruction = _clamp_destruction(_parse_time(params.get("DESTRUCTION") or ""), now)
    job = store().create(
        parameters=_tap_items(items),
        run_id=params.get("RUNID"),
        execution_duration=duration,
        destruction=destruction,
        owner_id=client_identity(),
        max_active=config.max_jobs_per_client,
        max_stored=config.max_stored_jobs,
    )
    uploads = _save_uploads(job.job_id)
    if uploads:
        store().set_uploads(job.job_id, uploads)
    if (params.get("PHASE") or "").upper() == "RUN":
        store().run(job.job_id)
    return _see_other(_job_url(job.job_id))


# ----------------------------------------------------------------------------- one job


@bp.route("/async/<job_id>", methods=["GET"])
def get_job(job_id: str) -> Response:
    s = store()
    job = s.get(job_id)
    wait = request.args.get("WAIT") or request.args.get("wait")
    if wait is not None:
        try:
            seconds = float(wait)
        except ValueError:
            raise UsageError(f"WAIT must be a number of seconds, not {wait!r}") from None
        until_phase = (request.args.get("PHASE") or request.args.get("phase") or "").upper()
        cap = float(current_app.config["TAP_CONFIG"].wait_max)
        # negative (UWS: "as long as the server allows"), inf and NaN all mean the cap
        limit = cap if not 0 <= seconds < cap else seconds
        if job.phase in ACTIVE and (not until_phase or job.phase == until_phase):
            job = _wait(s, job, limit)
    return Response(documents.job_document(job, _job_url(job_id)), mimetype=XML)


def _waiters() -> threading.BoundedSemaphore:
    """This process's permits to block in WAIT (``PROVDB_TAP_WAITERS_MAX``)."""
    extensions = current_app.extensions
    with _WAITERS_LOCK:
        if "provdb_waiters" not in extensions:
            size = current_app.config["TAP_CONFIG"].waiters_max
            extensions["provdb_waiters"] = threading.BoundedSemaphore(size)
        return extensions["provdb_waiters"]


def _wait(s: JobStore, job: Any, limit: float) -> Any:
    """Block until the job's phase changes or ``limit`` seconds pass.

    A blocked request holds one of the process's few server threads: only
    ``waiters_max`` may wait at once, so waiting clients can never take every thread
    from the queries. Without a permit the job document is returned at once, which
    UWS allows (a client then simply polls again).
    """
    permits = _waiters()
    if not permits.acquire(blocking=False):
        return job
    try:
        start, initial = time.monotonic(), job.phase
        while time.monotonic() - start < limit:
            time.sleep(0.05 if time.monotonic() - start < 1 else 0.2)
            job = s.get(job.job_id)
            if job.phase != initial:
                break
        return job
    finally:
        permits.release()


def _delete(job_id: str) -> Response:
    s = store()
    job, pid = s.abort(job_id) if s.get(job_id).phase in ACTIVE else (None, None)
    if pid:
        _cancel(job_id)
    s.delete(job_id)
    _remove_files(job_id)
    del job
    return _see_other(_async_url())


@bp.route("/async/<job_id>", methods=["DELETE"])
def delete_job(job_id: str) -> Response:
    return _delete(job_id)


@bp.route("/async/<job_id>", methods=["POST"])
def post_job(job_id: str) -> Response:
    action = (collect_action() or "").upper()
    if action == "DELETE":
        return _delete(job_id)
    store().get(job_id)  # 404 first if unknown
    raise UsageError(
        "POST to a job accepts only ACTION=DELETE; post parameters to "
        f"{_job_url(job_id)}/parameters"
    )


def collect_action() -> str | None:
    for name, value in _form():
        if name.upper() == "ACTION":
            return value
    return None


def _cancel(job_id: str) -> None:
    """Cancel the job's query on whichever server runs it (found by its label)."""
    from tap.query.run import job_application_name

    tap_db().cancel_labelled(job_application_name(job_id))


def _remove_files(job_id: str) -> None:
    import shutil

    shutil.rmtree(jobs_dir() / job_id, ignore_errors=True)


@bp.route("/async/<job_id>/phase", methods=["GET", "POST"])
def phase(job_id: str) -> Response:
    s = store()
    if request.method == "GET":
        return Response(s.get(job_id).phase.value, mimetype=TEXT)
    value = ""
    for name, v in _form():
        if name.upper() == "PHASE":
            value = v.upper()
    if value == "RUN":
        s.run(job_id)
    elif value == "ABORT":
        _, pid = s.abort(job_id)
        if pid:
            _cancel(job_id)
    else:
        s.get(job_id)
        raise UsageError(f"PHASE must be RUN or ABORT, not {value!r}")
    return _see_other(_job_url(job_id))


@bp.route("/async/<job_id>/executionduration", methods=["GET", "POST"])
def execution_duration(job_id: str) -> Response:
    s = store()
    if request.method == "GET":
        return Response(str(s.get(job_id).execution_duration), mimetype=TEXT)
    value = next((v for n, v in _form() if n.upper() == "EXECUTIONDURATION"), None)
    if value is None:
        raise UsageError("missing EXECUTIONDURATION")
    s.set_execution_duration(job_id, _clamp_duration(value))
    return _see_other(_job_url(job_id))


@bp.route("/async/<job_id>/destruction", methods=["GET", "POST"])
def destruction(job_id: str) -> Response:
    s = store()
    job = s.get(job_id)
    if request.method == "GET":
        return Response(documents.iso(job.destruction), mimetype=TEXT)
    value = next((v for n, v in _form() if n.upper() == "DESTRUCTION"), None)
    if value is None:
        raise UsageError("missing DESTRUCTION")
    s.set_destruction(job_id, _clamp_destruction(_parse_time(value), job.creation_time))
    return _see_other(_job_url(job_id))


@bp.route("/async/<job_id>/quote", methods=["GET"])
def quote(job_id: str) -> Response:
    return Response(documents.iso(store().get(job_id).quote), mimetype=TEXT)


@bp.route("/async/<job_id>/owner", methods=["GET"])
def owner(job_id: str) -> Response:
    return Response(documents.public_owner(store().get(job_id).owner_id), mimetype=TEXT)


@bp.route("/async/<job_id>/error", methods=["GET"])
def error(job_id: str) -> Response:
    from tap.votable import error_document

    job = store().get(job_id)
    if job.phase not in (Phase.ERROR, Phase.ABORTED):
        raise NotFound(f"job {job_id} has no error: it is {job.phase}")
    message = job.error_message or f"job {job.phase.value.lower()}"
    return Response(error_document(message), mimetype="application/x-votable+xml")


@bp.route("/async/<job_id>/parameters", methods=["GET", "POST"])
def parameters(job_id: str) -> Response:
    s = store()
    job = s.get(job_id)
    if request.method == "GET":
        return Response(documents.parameters_document(job), mimetype=XML)
    if job.phase != Phase.PENDING:
        raise PhaseError(
            f"job {job_id} is {job.phase}: parameters can only change while it is PENDING"
        )
    current = collect([tuple(p) for p in job.parameters])
    current.update(collect(_tap_items(_form())))
    s.set_parameters(job_id, current.as_list(), current.get("RUNID"))
    uploads = _save_uploads(job_id)
    if uploads:
        s.set_uploads(job_id, {**job.uploads, **uploads})
    return _see_other(_job_url(job_id))


@bp.route("/async/<job_id>/results", methods=["GET"])
def results(job_id: str) -> Response:
    job = store().get(job_id)
    return Response(documents.results_document(job, _job_url(job_id)), mimetype=XML)


@bp.route("/async/<job_id>/results/result", methods=["GET"])
def result(job_id: str) -> Response:
    job = store().get(job_id)
    if job.phase != Phase.COMPLETED or not job.result_path:
        raise NotFound(f"job {job_id} has no result: it is {job.phase}")
    path = jobs_dir() / job_id / job.result_path
    if not path.is_file():
        raise NotFound(
            f"the result of job {job_id} is not here: it was destroyed, or another service "
            "instance ran the job (instances behind one load balancer must share the "
            "PROVDB_HOME/uws folder)"
        )
    return send_file(path, mimetype=job.result_mime or "application/octet-stream")
