"""Text and JSON of a :class:`~provdb.answers.stats.StatsReport` (pure functions, no DB).

The JSON keys are stable (documented in docs/answers.md, "Timing and failures"):

* ``night``, ``run``, ``by``, ``top``: the question;
* ``summary``: the counts and durations over every counted activity (``group`` = ``all``);
* ``groups``: the same per group, largest total duration first;
* ``slowest``, ``failures``, ``never_ended``: activities with ``id``, ``name``,
  ``night``, ``run``, ``start``, ``end`` (ISO 8601, UTC), ``duration_s``, ``state``,
  ``status``, ``exit_code``.

Group keys: ``group``, ``activities``, ``completed``, ``failed``, ``never_ended``,
``median_s``, ``p95_s``, ``max_s``, ``total_s``, ``first_start``, ``last_end``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

from provdb.answers.stats import ActivityRow, GroupStats, StatsReport

__all__ = ["format_duration", "report_json", "report_text"]


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() + ("Z" if value.tzinfo is None else "") if value else None


def _jsonable(obj: GroupStats | ActivityRow) -> dict[str, Any]:
    out = dataclasses.asdict(obj)
    for key, value in out.items():
        if isinstance(value, dt.datetime):
            out[key] = _iso(value)
    return out


def report_json(report: StatsReport) -> dict[str, Any]:
    """The report as a JSON-ready dict with the keys of the module docstring."""
    return {
        "night": report.night,
        "run": report.run,
        "by": report.by,
        "top": report.top,
        "summary": _jsonable(report.summary),
        "groups": [_jsonable(g) for g in report.groups],
        "slowest": [_jsonable(a) for a in report.slowest],
        "failures": [_jsonable(a) for a in report.failures],
        "never_ended": [_jsonable(a) for a in report.never_ended],
    }


def format_duration(seconds: float | None) -> str:
    """Seconds for people: ``-``, ``0.000123 s``, ``12.3 s``, ``4m05s``, ``2h03m``.

    >>> format_duration(245.2)
    '4m05s'
    """
    if seconds is None:
        return "-"
    if abs(seconds) < 1:
        return f"{seconds:.6f} s".rstrip("0").rstrip(".") if seconds else "0 s"
    if abs(seconds) < 60:
        return f"{seconds:.1f} s"
    if abs(seconds) < 3600:
        m, s = divmod(round(seconds), 60)
        return f"{m}m{s:02d}s"
    h, rest = divmod(round(seconds), 3600)
    return f"{h}h{rest // 60:02d}m"


def _time(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """An aligned plain-text table; columns in ``right`` are right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _scope(report: StatsReport) -> str:
    parts = [
        f"night {report.night}" if report.night else "",
        f"run {report.run}" * bool(report.run),
    ]
    return " ".join(p for p in parts if p) or "the whole archive"


def _activity_rows(rows: Sequence[ActivityRow], *, status: bool) -> list[list[str]]:
    out = []
    for a in rows:
        cells = [a.id, a.name or "-", a.run or a.night or "-"]
        if status:
            cells += [
                a.status or a.state.replace("_", " "),
                "-" if a.exit_code is None else str(a.exit_code),
            ]
        cells += [_time(a.start), format_duration(a.duration_s)]
        out.append(cells)
    return out


def report_text(report: StatsReport) -> str:
    """Aligned tables under a one-line summary, for the terminal."""
    s = report.summary
    head = (
        f"{s.activities:,} activities in {_scope(report)}: {s.completed:,} completed, "
        f"{s.failed:,} failed, {s.never_ended:,} never ended; median "
        f"{format_duration(s.median_s)}, p95 {format_duration(s.p95_s)}, max "
        f"{format_duration(s.max_s)}, total {format_duration(s.total_s)}; "
        f"{_time(s.first_start)} .. {_time(s.last_end)} UTC"
    )
    if not s.activities:
        return head + "\n"
    parts = [head, ""]
    parts.append(
        _table(
            [
                report.by,
                "activities",
                "completed",
                "failed",
                "never ended",
                "median",
                "p95",
                "max",
                "total",
                "first start",
                "last end",
            ],
            [
                [
                    g.group,
                    f"{g.activities:,}",
                    f"{g.completed:,}",
                    f"{g.failed:,}",
                    f"{g.never_ended:,}",
                    format_duration(g.median_s),
                    format_duration(g.p95_s),
                    format_duration(g.max_s),
                    format_duration(g.total_s),
                    _time(g.first_start),
                    _time(g.last_end),
                ]
                for g in report.groups
            ],
            set(range(1, 9)),
        )
    )
    if report.slowest:
        parts += ["", f"{len(report.slowest)} slowest activities"]
        parts.append(
            _table(
                ["id", "name", "run", "start", "duration"],
                _activity_rows(report.slowest, status=False),
                {4},
            )
        )
    for title, rows, total in (
        ("failed", report.failures, s.failed),
        ("never ended", report.never_ended, s.never_ended),
    ):
        if not total:
            continue
        shown = f" (first {len(rows):,} shown)" if len(rows) < total else ""
        parts += ["", f"{total:,} {title}{shown}"]
        parts.append(
            _table(
                ["id", "name", "run", "status", "exit code", "start", "duration"],
                _activity_rows(rows, status=True),
                {4, 6},
            )
        )
    return "\n".join(parts) + "\n"
