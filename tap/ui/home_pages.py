"""The UI's front pages: ``/ui/`` (archive totals, runs, recent ingests) and ``/ui/search``."""

from __future__ import annotations

from flask import render_template, request

from tap.context import tap_db
from tap.ui import home_queries, queries
from tap.ui.blueprint import bp, connect

__all__ = ["home", "search"]


@bp.route("/", methods=["GET"])
def home() -> str:
    with connect() as conn:
        data = home_queries.home_page(conn)
        source = queries.versions_source(conn, tap_db().catalog)
        data["software"] = home_queries.version_totals(conn, source)
    return render_template("ui/home.html", **data)


@bp.route("/search", methods=["GET"])
def search() -> str:
    q = (request.args.get("q") or "").strip()
    found = None
    if q:
        with connect() as conn:
            found = queries.search(conn, q)
    return render_template("ui/search.html", q=q, found=found)
