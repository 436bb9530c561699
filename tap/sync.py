"""Blueprint ``/sync``: run a query and stream the result in the response."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request, stream_with_context

from tap.app import tap_db
from tap.datalink import links_url
from tap.params import collect
from tap.query.run import prepare, result_stream

bp = Blueprint("sync", __name__)
log = logging.getLogger("provdb.tap")


def request_params():
    """TAP parameters of this request (query string and form body together)."""
    items = list(request.args.items(multi=True))
    if request.method == "POST":
        items += list(request.form.items(multi=True))
    return collect(items)


@bp.route("/sync", methods=["GET", "POST"])
def sync() -> Response:
    params = request_params()
    db = tap_db()
    config = current_app.config["TAP_CONFIG"]
    prepared = prepare(params, db.catalog, config, files=request.files)
    prepared.datalink = links_url()
    log.info(
        "sync RUNID=%s MAXREC=%s QUERY=%s",
        prepared.run_id,
        prepared.maxrec,
        prepared.query.replace("\n", " ")[:500],
    )
    body = result_stream(prepared, db.connect_pooled, role=db.reader_role)
    # every header is set before the first chunk: errors after this point are reported
    # inside the document (trailing QUERY_STATUS=ERROR), never as an HTTP status
    first = next(body, b"")

    def chain():
        yield first
        yield from body

    return Response(
        stream_with_context(chain()),
        mimetype=prepared.format.mime,
        headers={"Cache-Control": "no-store"},
    )
