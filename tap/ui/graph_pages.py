"""``/ui/graph``: the lineage graph alone, as an embeddable SVG document or a page."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request, url_for

from tap.ui.blueprint import PageError, bp, connect
from tap.ui.graph_request import graph_context, graph_params, lineage_svg

__all__ = ["graph"]


@bp.route("/graph", methods=["GET"])
def graph() -> Any:
    from provdb.lineage.traverse import UnknownNode

    ids = [v.strip() for k, v in request.args.items(multi=True) if k.lower() == "id" and v.strip()]
    fmt = (request.args.get("format") or "html").strip().lower()
    if fmt not in ("svg", "html"):
        raise PageError(400, "Bad format", f"format={fmt!r}: use svg or html")
    if not ids:
        if fmt == "svg":
            return Response("missing parameter id\n", status=400, mimetype="text/plain")
        raise PageError(400, "No id given", "Give one or more ids: /ui/graph?id=<id>&depth=2")
    params = graph_params()
    try:
        with connect() as conn:
            graph, svg = lineage_svg(conn, ids, params, expandable=fmt == "html")
    except UnknownNode as exc:
        if fmt == "svg":
            return Response(str(exc) + "\n", status=404, mimetype="text/plain")
        raise PageError(404, "Unknown id", str(exc), search=ids[0]) from None
    if fmt == "svg":
        return Response(
            svg,
            mimetype="image/svg+xml",
            headers={
                "X-Provdb-Truncated": "true" if graph.truncated else "false",
                "X-Provdb-Nodes": str(len(graph.nodes)),
            },
        )
    return render_template(
        "ui/graph.html",
        ids=ids,
        svg_url=url_for("ui.graph", **{**request.args.to_dict(flat=False), "format": "svg"}),
        **graph_context(ids, graph, svg, params),
    )
