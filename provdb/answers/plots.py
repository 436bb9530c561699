"""SVG plots of :mod:`provdb.answers.stats` (hand-written SVG; pure functions, no DB).

* :func:`durations_svg`: one row per group (step, run or night): a bar from 0 to the
  p95 duration, a tick at the median, a whisker to the maximum, the count of failures
  in red at the end of the row; each label links to its group's page when ``href`` is
  given.
* :func:`timeline_svg`: the activities on the night's time axis, one lane per step or
  per run. **Rule for large nights**: a lane of at most ``max_bars`` activities
  (default 300) gets one bar per activity; a larger lane is drawn as its activity
  density in ``bins`` time bins (default 200: a cell per bin, darker when more
  activities run in it, its tooltip says how many), and its failures and never-ended
  activities are still drawn one by one on top (at most ``max_bars`` of them). A note
  under the plot says which lanes were binned (one line for all when more than 3). In
  a drawn lane, activities that overlap in time (parallel subruns) are stacked on up to
  8 sub-rows. Failed bars are red; never-ended ones run to the last timestamp of the
  plot in orange and end with a marker. Each bar carries a ``<title>`` tooltip (id,
  name, duration) and links to its activity page when ``href`` is given.

Every text is escaped (activity names are data). Labels longer than the label column
are cut with ``…`` (the full text is in the tooltip), so nothing overflows the drawing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape

from provdb.answers.stats import ActivityRow, GroupStats
from provdb.answers.stats_format import format_duration

__all__ = ["durations_svg", "timeline_svg"]

#: Colours (completed, failed, never ended, density).
COLOURS = {"completed": "#3b73b9", "failed": "#d62728", "never_ended": "#ff7f0e"}
_CHAR_W = 7.6  # widest digit-heavy glyph run of the 12 px sans-serif font, to size columns
_FONT = 'font-family="sans-serif" font-size="12"'
_NICE_SECONDS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)


def _e(text: object) -> str:
    """Text or attribute value escaped for XML (``<``, ``&``, both quotes)."""
    return escape(str(text), quote=True)


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def _link(inner: str, url: str | None) -> str:
    return f'<a href="{_e(url)}">{inner}</a>' if url else inner


def _nice_step(span: float, ticks: int = 6) -> float:
    """A 1-2-5 step giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** _floor_log10(raw)
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _floor_log10(x: float) -> int:
    n = 0
    while x >= 10:
        x /= 10
        n += 1
    while x < 1:
        x *= 10
        n -= 1
    return n


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = "#333", extra: str = "") -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"{extra}/>'
    )


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" {_FONT}>'
        f"<title>{_e(title)}</title>"
        f'<rect width="100%" height="100%" fill="#fff"/>' + "".join(body) + "</svg>"
    )


def durations_svg(
    groups: Sequence[GroupStats],
    *,
    title: str = "Activity durations (median, p95, max)",
    href: Callable[[str], str | None] | None = None,
    width: int = 760,
    max_label: int = 28,
) -> str:
    """Horizontal box/whisker rows of the groups' durations, as an SVG document.

    Parameters
    ----------
    groups:
        The groups, drawn top to bottom in this order.
    title:
        Title drawn above the plot (and the SVG's ``<title>``).
    href:
        ``href(group)`` -> URL of the group's page (or ``None``): the label links to it.
    width:
        Width of the drawing in pixels.
    max_label:
        Labels longer than this many characters are cut (full text in the tooltip).
    """
    row_h, top = 22, 40
    label_w = min(max((len(g.group) for g in groups), default=4), max_label) * _CHAR_W + 12
    right_w = 90  # "12 failed" column
    x0, x1 = label_w, width - right_w
    vmax = max((g.max_s or 0.0 for g in groups), default=0.0) or 1.0
    # whole minutes/hours for long steps, 1-2-5 steps for sub-10-second ones
    step = _tick_step(vmax) if vmax >= 10 else _nice_step(vmax)
    vmax = step * -(-vmax // step)  # round the axis up to a whole tick

    def x(v: float | None) -> float:
        return x0 + (x1 - x0) * max(v or 0.0, 0.0) / vmax

    height = top + row_h * max(len(groups), 1) + 40
    body = [
        f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" font-size="14">{_e(title)}</text>'
    ]
    axis_y = top + row_h * max(len(groups), 1) + 4
    body.append(f'<line x1="{x0:.1f}" y1="{axis_y}" x2="{x1:.1f}" y2="{axis_y}" stroke="#333"/>')
    t = 0.0
    while t <= vmax + step / 2:
        xt = x(t)
        body.append(
            f'<line x1="{xt:.1f}" y1="{top - 4}" x2="{xt:.1f}" y2="{axis_y + 4}" stroke="#ddd"/>'
            f'<text x="{xt:.1f}" y="{axis_y + 16}" text-anchor="middle">'
            f"{_e(format_duration(t) if t else '0')}</text>"
        )
        t += step
    body.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{axis_y + 32}" text-anchor="middle">duration</text>'
    )
    if not groups:
        body.append(f'<text x="{x0:.0f}" y="{top + 14}">no activities</text>')
    for i, g in enumerate(groups):
        y = top + i * row_h
        tip = (
            f"{g.group}: {g.activities} activities, median {format_duration(g.median_s)}, "
            f"p95 {format_duration(g.p95_s)}, max {format_duration(g.max_s)}, "
            f"{g.failed} failed, {g.never_ended} never ended"
        )
        label = (
            f'<text x="{label_w - 6:.1f}" y="{y + 15}" text-anchor="end">'
            f"{_e(_cut(g.group, max_label))}<title>{_e(tip)}</title></text>"
        )
        body.append(_link(label, href(g.group) if href else None))
        if g.max_s is None:
            body.append(f'<text x="{x0 + 4:.1f}" y="{y + 15}" fill="#666">no duration</text>')
        else:
            body.append(
                f'<g class="group"><title>{_e(tip)}</title>'
                + _line(x(g.p95_s), y + 11, x(g.max_s), y + 11)
                + _line(x(g.max_s), y + 6, x(g.max_s), y + 16)
                + f'<rect class="bar" x="{x0:.1f}" y="{y + 4}" height="14" fill="#9ecae1" '
                f'width="{max(x(g.p95_s) - x0, 1):.1f}"/>'
                + _line(
                    x(g.median_s),
                    y + 2,
                    x(g.median_s),
                    y + 20,
                    "#08306b",
                    ' class="median" stroke-width="2"',
                )
                + "</g>"
            )
        if g.failed or g.never_ended:
            marks = []
            if g.failed:
                marks.append(f'<tspan fill="{COLOURS["failed"]}">{g.failed} failed</tspan>')
            if g.never_ended:
                marks.append(
                    f'<tspan fill="{COLOURS["never_ended"]}"> {g.never_ended} open</tspan>'
                )
            body.append(
                f'<text class="failures" x="{x1 + 6:.1f}" y="{y + 15}">{"".join(marks)}</text>'
            )
    return _svg(width, height, title, body)


def _tick_step(span: float) -> float:
    for s in _NICE_SECONDS:
        if span / s <= 8:
            return float(s)
    return 86400.0


_TRACK_H = 8  # pixels per sub-row of a lane whose activities overlap
_MAX_TRACKS = 8


def _pack(items: Sequence[ActivityRow], last: dt.datetime) -> list[int]:
    """Sub-row of each activity (in ``items`` order): the first row free at its start.

    Greedy interval packing in start order; past :data:`_MAX_TRACKS` rows an activity
    goes on the row that frees first (and overlaps there). Never-ended activities run
    to ``last``.
    """
    order = sorted(range(len(items)), key=lambda i: items[i].start)  # type: ignore[arg-type,return-value]
    ends: list[dt.datetime] = []
    out = [0] * len(items)
    for i in order:
        a = items[i]
        end = a.end or last
        free = next((k for k, e in enumerate(ends) if e <= a.start), None)  # type: ignore[operator]
        if free is None and len(ends) < _MAX_TRACKS:
            ends.append(end)
            free = len(ends) - 1
        elif free is None:
            free = min(range(len(ends)), key=ends.__getitem__)
        ends[free] = max(ends[free], end) if ends[free] > a.start else end  # type: ignore[operator]
        out[i] = free
    return out


def _lane_height(packed: list[int] | None) -> float:
    n = max(packed, default=0) + 1 if packed else 1
    return 26.0 if n == 1 else 10.0 + _TRACK_H * n


def timeline_svg(
    rows: Sequence[ActivityRow],
    *,
    lane_by: str = "step",
    title: str = "Timeline of the activities (UTC)",
    href: Callable[[str], str | None] | None = None,
    width: int = 960,
    max_bars: int = 300,
    bins: int = 200,
    max_label: int = 24,
) -> str:
    """Activities as bars on the time axis, one lane per step or run (see module docstring).

    Parameters
    ----------
    rows:
        The activities (:func:`provdb.answers.stats.timeline`); those without a start
        time are not drawn.
    lane_by:
        ``step`` (activity name) or ``run`` (run id, else night, else ``-``).
    href:
        ``href(activity_id)`` -> URL of the activity's page (or ``None``).
    max_bars:
        Lanes with more activities than this are drawn binned.
    bins:
        Number of time bins of a binned lane.
    """
    acts = [r for r in rows if r.start is not None]
    lane_of: Callable[[ActivityRow], str] = (
        (lambda r: r.name or "-") if lane_by == "step" else (lambda r: r.run or r.night or "-")
    )
    lanes: dict[str, list[ActivityRow]] = {}
    for r in acts:
        lanes.setdefault(lane_of(r), []).append(r)
    names = sorted(lanes, key=lambda k: (min(a.start for a in lanes[k]), k))  # type: ignore[type-var]
    top = 40
    label_w = min(max((len(n) for n in names), default=4), max_label) * _CHAR_W + 12
    x0, x1 = label_w, width - 18  # room for the never-ended marker
    if acts:
        t0 = min(a.start for a in acts)  # type: ignore[type-var]
        t1 = max(max((a.end or a.start) for a in acts), max(a.start for a in acts))  # type: ignore[type-var]
    else:
        t0 = t1 = dt.datetime(1970, 1, 1)
    span = max((t1 - t0).total_seconds(), 1e-6)
    # layout: a drawn lane stacks overlapping activities on sub-rows, a binned one has one
    tracks = {n: _pack(lanes[n], t1) if len(lanes[n]) <= max_bars else None for n in names}
    heights = {n: _lane_height(tracks[n]) for n in names}
    lane_top, y = {}, float(top)
    for n in names:
        lane_top[n] = y
        y += heights[n]

    def x(t: dt.datetime) -> float:
        return x0 + (x1 - x0) * (t - t0).total_seconds() / span

    axis_y = (y if names else top + 26) + 4
    notes: list[str] = []
    body = [
        f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" font-size="14">{_e(title)}</text>'
    ]
    body.append(f'<line x1="{x0:.1f}" y1="{axis_y}" x2="{x1:.1f}" y2="{axis_y}" stroke="#333"/>')
    if acts:
        step = _tick_step(span)
        first = t0.replace(microsecond=0) + dt.timedelta(
            seconds=(-(t0.replace(microsecond=0) - dt.datetime(1970, 1, 1)).total_seconds()) % step
        )
        t = first if first >= t0 else first + dt.timedelta(seconds=step)
        while t <= t1:
            xt = x(t)
            body.append(
                _line(xt, top - 4, xt, axis_y + 4, "#ddd")
                + f'<text x="{xt:.1f}" y="{axis_y + 16}" text-anchor="middle">{t:%H:%M:%S}</text>'
            )
            t += dt.timedelta(seconds=step)
        body.append(
            f'<text x="{x0:.0f}" y="{axis_y + 32}">{t0:%Y-%m-%d %H:%M:%S} .. '
            f"{t1:%Y-%m-%d %H:%M:%S} UTC</text>"
        )
    else:
        body.append(f'<text x="{x0:.0f}" y="{top + 14}">no activities</text>')

    def bar(a: ActivityRow, y: float, h: float = 14) -> str:
        """The bar of ``a`` with its top at ``y``, ``h`` pixels high."""
        end = a.end or t1
        xa, xb = x(a.start), x(end)  # type: ignore[arg-type]
        tip = (
            f"{a.id} {a.name or ''}: "
            + (f"{format_duration(a.duration_s)}" if a.end else "never ended")
            + (f", {a.status or 'failed'} (exit code {a.exit_code})" if a.state == "failed" else "")
        )
        shape = (
            f'<rect class="bar {a.state}" x="{xa:.2f}" y="{y:.1f}" width="{max(xb - xa, 1.0):.2f}" '
            f'height="{h:.0f}" fill="{COLOURS[a.state]}"><title>{_e(tip)}</title></rect>'
        )
        if a.state == "never_ended":
            shape += (
                f'<path class="open-marker" d="M{xb:.2f},{y - 2:.1f} l5,{h / 2 + 2:.1f} '
                f'l-5,{h / 2 + 2:.1f} z" fill="{COLOURS["never_ended"]}"/>'
            )
        return _link(shape, href(a.id) if href else None)

    for name in names:
        y = lane_top[name]
        items = lanes[name]
        body.append(
            f'<text x="{label_w - 6:.1f}" y="{y + heights[name] / 2 + 4:.1f}" text-anchor="end">'
            f"{_e(_cut(name, max_label))}<title>{_e(name)} ({len(items)} activities)</title></text>"
        )
        packed = tracks[name]
        if packed is not None:
            n_tracks = max(packed, default=0) + 1
            if n_tracks == 1:
                body.extend(bar(a, y + 5) for a in items)
            else:
                body.extend(
                    bar(a, y + 5 + _TRACK_H * k, _TRACK_H - 1)
                    for a, k in zip(items, packed, strict=True)
                )
            continue
        counts = [0] * bins
        width_s = span / bins
        for a in items:
            s = (a.start - t0).total_seconds()  # type: ignore[operator]
            e = ((a.end or t1) - t0).total_seconds()
            for b in range(min(int(s / width_s), bins - 1), min(int(e / width_s), bins - 1) + 1):
                counts[b] += 1
        peak = max(counts) or 1
        bw = (x1 - x0) / bins
        for b, n in enumerate(counts):
            if not n:
                continue
            start = t0 + dt.timedelta(seconds=b * width_s)
            body.append(
                f'<rect class="bin" x="{x0 + b * bw:.2f}" y="{y + 5:.1f}" width="{bw:.2f}" '
                f'height="14" fill="{COLOURS["completed"]}" '
                f'fill-opacity="{0.15 + 0.85 * n / peak:.2f}">'
                f"<title>{n} activities running from {start:%H:%M:%S}</title></rect>"
            )
        odd = [a for a in items if a.state != "completed"]
        body.extend(bar(a, y + 5) for a in odd[:max_bars])
        notes.append(
            f"{name}: {len(items):,} activities drawn as density in {bins} time bins"
            + (f", {len(odd):,} failed or never ended drawn one by one" if odd else "")
            + (f" (first {max_bars})" if len(odd) > max_bars else "")
        )
    if len(notes) > 3:  # one line per binned lane would dwarf the plot: say it once
        binned = [n for n in names if tracks[n] is None]
        odd_total = sum(1 for n in binned for a in lanes[n] if a.state != "completed")
        notes = [
            f"{len(binned)} lanes of more than {max_bars} activities ({binned[0]} .. "
            f"{binned[-1]}) drawn as density in {bins} time bins"
            + (f", {odd_total:,} failed or never ended drawn one by one" if odd_total else "")
        ]
    height = axis_y + 44 + 16 * len(notes)
    for k, note in enumerate(notes):
        body.append(
            f'<text class="note" x="{x0:.0f}" y="{axis_y + 50 + 16 * k}" fill="#555">'
            f"{_e(_cut(note, int((x1 - x0) / _CHAR_W)))}</text>"
        )
    legend_x = x1 - 330
    for k, (state, label) in enumerate(
        (("completed", "completed"), ("failed", "failed"), ("never_ended", "never ended"))
    ):
        lx = legend_x + k * 110
        body.append(
            f'<rect x="{lx:.0f}" y="{axis_y + 23}" width="10" height="10" fill="{COLOURS[state]}"/>'
            f'<text x="{lx + 14:.0f}" y="{axis_y + 32}">{label}</text>'
        )
    return _svg(width, height, title, body)
