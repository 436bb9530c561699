"""``/ui/run/<night>/<run>``: one run's graph per step (subruns folded unless asked)."""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, render_template, request

from tap.ui import queries
from tap.ui.blueprint import PageError, bp, connect
from tap.ui.graph_request import neighbours_beyond
from tap.ui.graphs import collapse_subruns, inline_svg
from tap.ui.helpers import node_pattern, run_href

__all__ = ["STEPS", "run"]

STEPS = ("calibration", "r0_to_dl1", "dl1_to_dl2", "all")

_NIGHT = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


@bp.route("/run/<night>/<run>", methods=["GET"])
def run(night: str, run: str) -> Any:
    from provdb.lineage.export import RunNotFound, run_graph
    from provdb.lineage.svg import render_svg

    m = _NIGHT.match(night)
    digits = run.lower().removeprefix("run")
    if m is None or not digits.isdigit():
        raise PageError(
            400, "Bad run", f"{night}/{run}: the URL is /ui/run/<YYYYMMDD>/<run number>"
        )
    step = request.args.get("step") or "all"
    if step not in STEPS:
        raise PageError(400, "Bad step", f"step={step!r}: use one of {', '.join(STEPS)}")
    subruns = (request.args.get("subruns") or "").lower() in ("1", "true", "yes", "on")
    canonical_night, canonical_run = "".join(m.groups()), digits.zfill(5)
    if (canonical_night, canonical_run) != (night, run):
        return redirect(run_href(canonical_night, canonical_run, step, subruns), code=301)
    with connect() as conn:
        data = queries.run_page(conn, night, run, step)
        if not data["steps"]:
            raise PageError(
                404,
                f"No run {run} on night {night}",
                f"The archive holds no lstosa activity of run {run} on night {night}.",
                search=run,
            )
        graph = svg = None
        try:
            graph = run_graph(conn, run, night=night, step=step)
        except RunNotFound:
            graph = None
        if graph is not None:
            full_size = len(graph.nodes)
            if not subruns:
                graph = collapse_subruns(graph, data["run_id"], step)
            more = neighbours_beyond(conn, graph, "BOTH")
            svg = inline_svg(render_svg(graph, url_pattern=node_pattern(), more=more))
        else:
            full_size = 0
        activities = queries.run_activities(conn, night, run, step) if subruns else []
    return render_template(
        "ui/run.html",
        night=night,
        run=run,
        step=step,
        steps_all=STEPS,
        subruns=subruns,
        graph=graph,
        svg=svg,
        full_size=full_size,
        run_activities=activities,
        **data,
    )
