"""Ingest pages of the UI: ``/ui/ingest`` (history), ``/ui/ingest/<id>`` (one file) and
``/ui/ingest/<id>/raw`` (the log itself, while the service can read it: DataLink's
``#documentation`` of the products made by its activities).

What an operator asks after a nightly ingest, without psql: which files were read,
which are partial, which had rejected lines or conflicting values, and for one file
its offsets, counts by kind, every rejected line (line, reason, the raw text escaped)
and every value that conflicted with the archive. Every "rejected N" of the UI links to
the file's page (:func:`ingest_href`, a template helper).

Settings (the registry, :mod:`provdb.settings`; ``tap/app.py`` copies them into
``app.config``): ``PROVDB_UI_INGEST_PAGE`` files per history page, ``PROVDB_UI_MAX_ROWS``
most rejected lines and conflicts a file page lists.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Response, current_app, render_template, request, send_file, url_for

from tap.ui import ingest_queries
from tap.ui.blueprint import PageError, bp, connect

__all__ = ["ingest_file", "ingest_history", "ingest_raw"]

#: the TAP tables an operator reads further (shown as ADQL on the file page)
_ADQL_REJECTS = (
    "SELECT line_number, reason, raw_text FROM archive.ingest_reject "
    "WHERE ingest_file_id = {id} ORDER BY line_number"
)
_ADQL_CONFLICTS = (
    "SELECT line_number, table_name, object_id, attribute, kept_value, new_value "
    "FROM archive.ingest_conflict WHERE ingest_file_id = {id} ORDER BY line_number"
)


@bp.app_context_processor
def _ingest_helpers() -> dict[str, Any]:
    def ingest_href(file_id: int, anchor: str | None = None) -> str:
        url = url_for("ui.ingest_file", file_id=file_id)
        return f"{url}#{anchor}" if anchor else url

    return {"ingest_href": ingest_href}


def _int_arg(name: str, default: int) -> int:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise PageError(400, f"Bad {name}", f"{name}={text!r}: give a whole number >= 1") from None
    if value < 1:
        raise PageError(400, f"Bad {name}", f"{name}={text!r}: give a whole number >= 1")
    return value


@bp.route("/ingest", methods=["GET"])
def ingest_history() -> Any:
    """Ingested files by last ingest: status, counts, rejects, conflicts, duration."""
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in ingest_queries.STATUSES:
        raise PageError(
            400,
            "Bad status",
            f"status={status!r}: give one of {', '.join(ingest_queries.STATUSES)}",
        )
    rejected = request.args.get("rejected", "") in ("1", "true", "yes")
    page = _int_arg("page", 1)
    per_page = int(current_app.config["PROVDB_UI_INGEST_PAGE"])
    with connect() as conn:
        found = ingest_queries.history(
            conn, page=page, per_page=per_page, status=status, rejected=rejected
        )
    pages = max(1, -(-found["total"] // per_page))
    if page > pages and found["total"]:
        raise PageError(404, "No such page", f"page {page}: there are {pages} page(s)")

    def page_url(n: int) -> str:
        args = {"page": n, "status": status or "", "rejected": "1" if rejected else ""}
        return url_for("ui.ingest_history") + "?" + urlencode({k: v for k, v in args.items() if v})

    return render_template(
        "ui/ingest.html",
        files=found["files"],
        total=found["total"],
        page=page,
        pages=pages,
        per_page=per_page,
        status=status,
        rejected=rejected,
        page_url=page_url,
        statuses=ingest_queries.STATUSES,
    )


@bp.route("/ingest/<int:file_id>", methods=["GET"])
def ingest_file(file_id: int) -> Any:
    """One ingested file: status, offsets, counts by kind, rejected lines, conflicts, and
    a link to the log itself while the service can still read it."""
    from tap.datalink.links import log_readable

    limit = int(current_app.config["PROVDB_UI_MAX_ROWS"])
    with connect() as conn:
        found = ingest_queries.file_page(conn, file_id, limit=limit)
    if found is None:
        raise PageError(
            404,
            f"No ingested file {file_id}",
            "The archive has no ingested file with this id: see the ingest history.",
        )
    return render_template(
        "ui/ingest_file.html",
        limit=limit,
        adql_rejects=_ADQL_REJECTS.format(id=file_id),
        adql_conflicts=_ADQL_CONFLICTS.format(id=file_id),
        # checked per view: a log moved or deleted after its ingest is said to be gone
        raw_readable=log_readable(found["file"]["path"]),
        **found,
    )


@bp.route("/ingest/<int:file_id>/raw", methods=["GET"])
def ingest_raw(file_id: int) -> Response:
    """The ingested log file as it is on disk now (only files the archive ingested)."""
    from tap.datalink.links import log_media_type, log_readable

    with connect() as conn:
        path = conn.execute(
            sa.text("SELECT path FROM archive.ingest_file WHERE id = :i"), {"i": file_id}
        ).scalar()
    if path is None:
        raise PageError(
            404,
            f"No ingested file {file_id}",
            "The archive has no ingested file with this id: see the ingest history.",
        )
    if not log_readable(path):
        raise PageError(
            404,
            "Log no longer readable",
            f"{path} was ingested but the service cannot read it any more (moved, "
            f"deleted or not readable): its records are on the ingest page "
            f"{url_for('ui.ingest_file', file_id=file_id)}.",
        )
    response = send_file(
        path,
        mimetype=log_media_type(path),
        as_attachment=False,
        download_name=path.rsplit("/", 1)[-1],
        conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
