"""Blueprint: the TAP landing page and the VOSI endpoints."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from tap.app import base_url, tap_db
from tap.errors import NotFound
from tap.vosi import documents

bp = Blueprint("vosi", __name__)

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
    )


@bp.route("/availability", methods=["GET"])
def availability() -> Response:
    ok, note = tap_db().ping()
    doc = documents.availability(
        ok, up_since=current_app.config["UP_SINCE"] if ok else None, note=note
    )
    return Response(doc, mimetype=XML)


@bp.route("/capabilities", methods=["GET"])
def capabilities() -> Response:
    doc = documents.capabilities(base_url(), current_app.config["TAP_CONFIG"])
    return Response(doc, mimetype=XML)


@bp.route("/tables", methods=["GET"])
def tables() -> Response:
    detail = (request.args.get("detail") or "max").lower() != "min"
    return Response(documents.tableset(tap_db().catalog, detail=detail), mimetype=XML)


@bp.route("/tables/<name>", methods=["GET"])
def table(name: str) -> Response:
    found = tap_db().catalog.table(name)
    if found is None:
        raise NotFound(f"no table {name!r}: see {base_url()}/tables for the list")
    return Response(documents.table_document(found), mimetype=XML)
