"""``/ui/adql``: an ADQL query run as ``/sync`` runs it, its rows shown as a table.

At most ``PROVDB_UI_MAX_ROWS`` rows are shown (the settings registry; ``tap/app.py`` puts
it in ``app.config``); the VOTable and CSV links fetch the whole result from ``/sync``.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from flask import current_app, render_template, request

from tap.context import tap_db
from tap.ui import queries
from tap.ui.blueprint import bp, connect
from tap.ui.helpers import sync_url

__all__ = ["adql", "run_adql"]

log = logging.getLogger("provdb.tap")

_POSITION = re.compile(r"line (\d+), column (\d+)")


def run_adql(query: str, max_rows: int) -> dict[str, Any]:
    """Run ``query`` like ``/sync`` does (same parser, role, limits), rows as values.

    Returns ``columns``, ``rows`` (values as the JSON result format has them: None for
    NULL, numbers, booleans, text, lists), ``overflow``, ``error`` (the service's
    message), ``position`` (``(line, column)`` of an ADQL error) and ``elapsed_ms``.
    """
    from tap.errors import TapError
    from tap.params import collect
    from tap.query.rows import result_rows
    from tap.query.run import prepare

    db = tap_db()
    config = current_app.config["TAP_CONFIG"]
    params = collect(
        [
            ("LANG", "ADQL"),
            ("QUERY", query),
            ("RESPONSEFORMAT", "json"),
            ("MAXREC", str(max_rows)),
        ]
    )
    out: dict[str, Any] = {"columns": [], "rows": [], "overflow": False, "error": None}
    t0 = time.perf_counter()
    try:
        prepared = prepare(params, db.catalog, config, timeout_s=config.sync_execution)
        found = result_rows(prepared, lambda: db.connect_read(pooled=False), role=db.reader_role)
        out["columns"] = found.columns
        out["rows"] = found.rows
        out["overflow"] = found.overflow
        out["error"] = found.error
    except TapError as exc:
        out["error"] = exc.message
    out["elapsed_ms"] = (time.perf_counter() - t0) * 1000
    m = _POSITION.search(out["error"] or "")
    out["position"] = (int(m.group(1)), int(m.group(2))) if m else None
    return out


@bp.route("/adql", methods=["GET", "POST"])
def adql() -> str:
    from tap.examples import load_examples

    query = (request.values.get("query") or request.values.get("QUERY") or "").strip()
    max_rows = int(current_app.config["PROVDB_UI_MAX_ROWS"])
    result = links = None
    marker = None
    if query:
        result = run_adql(query, max_rows)
        values = sorted(
            {v for row in result["rows"] for v in row if isinstance(v, str) and 0 < len(v) <= 512}
        )
        if values:
            with connect() as conn:
                links = queries.known_nodes(conn, values)
        if result["position"]:
            line, column = result["position"]
            lines = query.splitlines()
            if 1 <= line <= len(lines):
                marker = (lines[line - 1], " " * max(column - 1, 0) + "^")
        log.info("ui adql %s rows%s", len(result["rows"]), " (error)" if result["error"] else "")
    return render_template(
        "ui/adql.html",
        query=query,
        result=result,
        links=links or {},
        marker=marker,
        max_rows=max_rows,
        examples=load_examples(),
        votable_url=sync_url(query, "votable") if query else None,
        csv_url=sync_url(query, "csv") if query else None,
    )
