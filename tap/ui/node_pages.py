"""Pages of one node: ``/ui/entity/<id>``, ``/ui/activity/<id>``, ``/ui/agent/<id>``,
``/ui/environment/<id>`` and the ``?id=`` forms.

An unknown id is not simply a 404 (:func:`not_found`): a folded run node goes to its run
page, a path, short id or another kind's id to the one node it names, else the error
page lists what it may mean.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Response, redirect, render_template, request, url_for

from tap.ui import queries
from tap.ui.blueprint import PageError, bp, connect
from tap.ui.graph_request import (
    downloads,
    graph_context,
    graph_params,
    lineage_svg,
    neighbours_beyond,
)
from tap.ui.graphs import activity_graph, group_target, inline_svg
from tap.ui.helpers import as_json, node_href, node_pattern, run_href

__all__ = ["activity", "agent", "by_query", "entity", "environment", "not_found"]


def ident_arg() -> str:
    """The ``?id=`` of a request (``ID`` too), or a 400 page."""
    ident = (request.args.get("id") or request.args.get("ID") or "").strip()
    if not ident:
        raise PageError(400, "No id given", "Give the id in the URL: ?id=<id>.")
    return ident


def not_found(kind: str, ident: str) -> Response:
    """An unknown id: a folded run node, another kind, a path, a short id, else a 404."""
    target = group_target(ident)
    if target is not None:
        night, run, step = target
        return redirect(run_href(night, run, step, subruns=True), code=302)
    with connect() as conn:
        hits = queries.resolve(conn, ident)
    if len(hits) == 1:
        return redirect(node_href(hits[0]["kind"], hits[0]["id"]), code=302)
    raise PageError(
        404,
        f"No {kind} {ident!r}",
        f"The archive holds no {kind} with the id {ident!r}."
        + (" It may mean one of these:" if hits else " Search the archive for it:"),
        hits=hits,
        search=ident,
    )


@bp.route("/entity", methods=["GET"], endpoint="entity_by_query")
@bp.route("/activity", methods=["GET"], endpoint="activity_by_query")
@bp.route("/agent", methods=["GET"], endpoint="agent_by_query")
def by_query() -> Response:
    kind = request.endpoint.rsplit(".", 1)[-1].split("_", 1)[0]
    args = {k: v for k, v in request.args.items() if k.lower() != "id"}
    return redirect(url_for(f"ui.{kind}", ident=ident_arg(), **args), code=302)


@bp.route("/entity/<provid:ident>", methods=["GET"], merge_slashes=False)
def entity(ident: str) -> Any:
    params = graph_params()
    t0 = time.perf_counter()
    with connect() as conn:
        data = queries.entity_page(conn, ident)
        if data is not None:
            graph, svg = lineage_svg(conn, [ident], params)
    if data is None:
        return not_found("entity", ident)
    elapsed = (time.perf_counter() - t0) * 1000
    return render_template(
        "ui/entity.html",
        ident=ident,
        elapsed_ms=elapsed,
        **graph_context([ident], graph, svg, params),
        **data,
    )


@bp.route("/activity/<provid:ident>", methods=["GET"], merge_slashes=False)
def activity(ident: str) -> Any:
    from provdb.lineage.svg import render_svg

    with connect() as conn:
        data = queries.activity_page(conn, ident)
        if data is not None:
            graph = activity_graph(conn, ident)
            more = neighbours_beyond(conn, graph, "BOTH")
    if data is None:
        return not_found("activity", ident)
    svg = render_svg(graph, url_pattern=node_pattern(), more=more)
    params = {"depth_text": "1", "direction": "BACK"}
    return render_template(
        "ui/activity.html",
        ident=ident,
        graph=graph,
        svg=inline_svg(svg),
        downloads=downloads([ident], params),
        **data,
    )


@bp.route("/agent/<provid:ident>", methods=["GET"], merge_slashes=False)
def agent(ident: str) -> Any:
    with connect() as conn:
        data = queries.agent_page(conn, ident)
    if data is None:
        return not_found("agent", ident)
    return render_template("ui/agent.html", ident=ident, **data)


@bp.route("/environment/<provid:ident>", methods=["GET"], merge_slashes=False)
def environment(ident: str) -> Any:
    with connect() as conn:
        env = queries.environment(conn, ident)
    if env is None:
        raise PageError(404, f"No environment {ident!r}", "The archive holds no such record.")
    if (request.args.get("format") or "").lower() == "json":
        return Response(as_json(env["system"]), mimetype="application/json")
    return render_template("ui/environment.html", ident=ident, env=env)
