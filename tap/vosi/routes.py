"""Blueprint: the TAP landing page and the VOSI endpoints."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, render_template, request

from provdb import __version__
from tap.context import base_url, tap_db
from tap.errors import NotFound
from tap.vosi import documents
from tap.vosi.rowcounts import approximate_rows

bp = Blueprint("vosi", __name__)
log = logging.getLogger("provdb.tap")

XML = "text/xml"


@bp.route("", methods=["GET"])
@bp.route("/", methods=["GET"])
def landing() -> str:
    db = tap_db()
    catalog = db.catalog
    from tap.examples import load_examples

    return render_template(
        "tap.html",
        base=base_url(),
        catalog=catalog,
        examples=load_examples(),
        config=current_app.config["TAP_CONFIG"],
        version=__version__,
    )


@bp.route("/availability", methods=["GET"])
def availability() -> Response:
    db = tap_db()
    ok, note = db.ping()
    # each replica's state and lag (numbered, no host names: this page is public)
    for i, rep in enumerate(db.replica_report(refresh=True), start=1):
        lag = f", lag {rep['lag']:.1f} s" if rep["lag"] is not None else ""
        note += f"; read replica-{i} {rep['status']}{lag}"
    doc = documents.availability(
        ok, up_since=current_app.config["UP_SINCE"] if ok else None, note=note
    )
    return Response(doc, mimetype=XML)


@bp.route("/capabilities", methods=["GET"])
def capabilities() -> Response:
    doc = documents.capabilities(base_url(), current_app.config["TAP_CONFIG"])
    return Response(doc, mimetype=XML)


def _row_counts() -> dict[str, int]:
    """Approximate rows per published table; none at all if the statistics query fails."""
    try:
        with tap_db().engine.connect() as conn:
            conn.execute(sa.text("SET LOCAL statement_timeout = 10000"))
            return approximate_rows(conn)
    except sa.exc.DBAPIError as exc:  # the table list matters more than its counts
        log.warning("no row counts for /tables: %s", str(exc).splitlines()[0])
        return {}


@bp.route("/tables", methods=["GET"])
def tables() -> Response:
    detail = (request.args.get("detail") or "max").lower() != "min"
    doc = documents.tableset(tap_db().catalog, detail=detail, nrows=_row_counts())
    return Response(doc, mimetype=XML)


@bp.route("/tables/<name>", methods=["GET"])
def table(name: str) -> Response:
    found = tap_db().catalog.table(name)
    if found is None:
        raise NotFound(f"no table {name!r}: see {base_url()}/tables for the list")
    doc = documents.table_document(found, nrows=_row_counts().get(found.name))
    return Response(doc, mimetype=XML)
