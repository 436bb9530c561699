"""``/ui/stats``: timing and failures of the pipeline's activities, with SVG plots.

``/ui/stats?night=YYYYMMDD&run=RUN&by=step|run|night``: the summary and per-group table of
:func:`provdb.answers.stats.activity_stats`, the durations plot and (for a night or a run)
the timeline (:mod:`provdb.answers.plots`), the slowest activities, the failures and the
activities that never ended, each linking to its activity page. No JavaScript.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from markupsafe import Markup

from tap.ui.blueprint import PageError, bp, connect
from tap.ui.helpers import adql_literal, node_href, run_href

__all__ = ["stats"]


def _group_href(by: str, night: str | None, run: str | None) -> Any:
    """URL of the page listing a group's activities (for the durations plot's labels)."""

    def href(group: str) -> str | None:
        if group == "-":
            return None
        if by == "night":
            return url_for("ui.stats", night=group)
        if by == "run":
            date, _, number = group.partition("_")
            return run_href(date, number) if number else None
        if run:
            # a run's activities and its night's calibration: the view archive.run_activity
            date, _, number = run.rpartition("_")
            where = [
                f"activity_name = {adql_literal(group)}",
                f"observation_run = {adql_literal(number)}",
            ]
            where += [f"observation_date = {adql_literal(d)}" for d in {date, night} if d]
            query = (
                "SELECT activity_id AS id, activity_name AS name, run_id, start_time, end_time\n"
                f"FROM archive.run_activity\nWHERE {' AND '.join(where)}\nORDER BY start_time"
            )
            return url_for("ui.adql", query=query)
        # the activities provdb stats counts (no run-wise copies; see provdb.answers.stats)
        where = [
            f"a.name = {adql_literal(group)}",
            "a.start_time IS NOT NULL",
            "(s.id IS NULL OR (s.source_format <> 'lstosa-run-wise' AND NOT "
            "(s.source_format LIKE 'prov-%' AND s.observation_run IS NOT NULL)))",
        ]
        if night:
            where.append(f"s.observation_date = {adql_literal(night)}")
        query = (
            "SELECT a.id, a.name, a.start_time, a.end_time, a.status, a.exit_code\n"
            "FROM provenance.activity AS a\n"
            "LEFT OUTER JOIN archive.processing_session AS s ON s.id = a.session_id\n"
            f"WHERE {' AND '.join(where)}\nORDER BY a.start_time"
        )
        return url_for("ui.adql", query=query)

    return href


@bp.route("/stats", methods=["GET"])
def stats() -> Any:
    from provdb.answers.plots import durations_svg, timeline_svg
    from provdb.answers.stats import StatsError, activity_stats, timeline
    from provdb.answers.stats_format import format_duration

    night = (request.args.get("night") or "").strip() or None
    run = (request.args.get("run") or "").strip() or None
    by = (request.args.get("by") or "step").strip()
    try:
        with connect() as conn:
            report = activity_stats(conn, night=night, run=run, by=by, top=20)
            rows = timeline(conn, night=night, run=run) if (night or run) else []
    except StatsError as exc:
        raise PageError(400, "Cannot show these stats", str(exc)) from None

    def activity_href(ident: str) -> str:
        return node_href("activity", ident)

    durations = durations_svg(
        report.groups,
        title=f"Durations per {by} (bar to p95, tick at median, whisker to max)",
        href=_group_href(by, report.night, report.run),
    )
    lines = (
        timeline_svg(rows, lane_by="run" if by == "run" else "step", href=activity_href)
        if rows
        else None
    )
    return render_template(
        "ui/stats.html",
        report=report,
        night=night or "",
        run=run or "",
        by=by,
        durations_svg=Markup(durations),
        timeline_svg=Markup(lines) if lines else None,
        duration=format_duration,
    )
