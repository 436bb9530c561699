"""The plot of bench_year.py: ingest speed and archive size against nights (plain SVG).

matplotlib is not a provdb dependency, so the three panels are written by hand: records/s
of every night (with the first night's 80 % line, the year benchmark's goal), the
database size with the share of the lineage closure, and the seconds of the upkeep steps
(closure, flags, ObsCore) per night. Standard library only.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

__all__ = ["write_svg"]

W, H = 760, 300  # one panel
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 34, 40


def _nice(top: float) -> float:
    """A round axis maximum at or above ``top``."""
    if top <= 0:
        return 1.0
    step = 10 ** len(str(int(top))) / 10
    for k in (1, 2, 2.5, 5, 10):
        if k * step >= top:
            return k * step
    return 10 * step


def _panel(
    y0: int,
    title: str,
    xs: list[int],
    series: list[tuple[str, str, list[float]]],
    unit: str,
    guide: tuple[float, str] | None = None,
    marks: list[int] | None = None,
) -> list[str]:
    top = _nice(max([max(v) for _, _, v, *_ in series if v] + [guide[0] if guide else 0]))
    n = max(xs) if xs else 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - 1) / max(n - 1, 1) * pw

    def py(v: float) -> float:
        return y0 + TOP + ph - v / top * ph

    out = [
        f'<text x="{LEFT}" y="{y0 + 20}" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{y0 + TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
    ]
    for k in range(5):
        v = top * k / 4
        label = f"{v:,.0f}" if top >= 20 else f"{v:.1f}"
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{py(v) + 4:.1f}" font-size="11" text-anchor="end">'
            f"{label}</text>"
        )
    for k in range(6):
        x = 1 + (n - 1) * k / 5
        out.append(
            f'<text x="{px(x):.1f}" y="{y0 + TOP + ph + 16}" font-size="11" '
            f'text-anchor="middle">{x:.0f}</text>'
        )
    out.append(
        f'<text x="{LEFT + pw / 2}" y="{y0 + H - 6}" font-size="11" text-anchor="middle">'
        f"nights ingested</text>"
        f'<text x="14" y="{y0 + TOP + ph / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {y0 + TOP + ph / 2})">{escape(unit)}</text>'
    )
    if guide:
        v, label = guide
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
            f'stroke="#c33" stroke-dasharray="5,4"/><text x="{LEFT + pw - 4}" y="{py(v) - 4:.1f}" '
            f'font-size="11" fill="#c33" text-anchor="end">{escape(label)}</text>'
        )
    for night in marks or []:  # nights from which a fix was in effect
        out.append(
            f'<line x1="{px(night):.1f}" x2="{px(night):.1f}" y1="{y0 + TOP}" '
            f'y2="{y0 + TOP + ph}" stroke="#888" stroke-dasharray="2,3"/>'
            f'<text x="{px(night) + 2:.1f}" y="{y0 + TOP + ph - 4}" font-size="9" '
            f'fill="#666">fix</text>'
        )
    for i, (name, colour, values, *own_xs) in enumerate(series):
        at = own_xs[0] if own_xs else xs
        dash = ' stroke-dasharray="4,3"' if own_xs else ""
        points = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(at, values, strict=True))
        out.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>'
        )
        out.append(
            f'<rect x="{LEFT + 10}" y="{y0 + TOP + 8 + 16 * i}" width="12" height="3" '
            f'fill="{colour}"/><text x="{LEFT + 28}" y="{y0 + TOP + 13 + 16 * i}" '
            f'font-size="11">{escape(name)}</text>'
        )
    return out


def write_svg(results: dict[str, Any], path: Path, before: dict[str, Any] | None = None) -> Path:
    """Draw the nights of ``results`` (bench_year.py's JSON) into ``path``; ``before``: the
    results of a run with older code, whose flag upkeep is drawn dashed for comparison."""
    nights = results["nights"]
    xs = [n["night"] for n in nights]
    speed = [n.get("records_per_s", 0.0) for n in nights]
    size = [n["archive"]["database_mb"] / 1000 for n in nights]
    closure = [
        sum(
            t["total_mb"]
            for name, t in n["archive"]["tables"].items()
            if name.startswith("archive.lineage") or name == "archive.entity_number"
        )
        / 1000
        for n in nights
    ]
    params = results.get("parameters", {})
    scale = f"{params.get('runs')} runs x {params.get('subruns')} subruns per night"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{3 * H}" '
        f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>'
    ]
    first = speed[0] if speed else 0
    parts += _panel(
        0,
        f"Ingest speed per night ({scale}; shared 2-vCPU machine)",
        xs,
        [("records/s (whole provdb ingest process)", "#1f6fb4", speed)],
        "records/s",
        (0.8 * first, "80 % of night 1") if first else None,
    )
    parts += _panel(
        H,
        "Archive size",
        xs,
        [
            ("pg_database_size", "#2a8a3e", size),
            ("lineage closure (with entity numbers)", "#d9822b", closure),
        ],
        "GB",
    )
    parts += _panel(
        2 * H,
        "Archive upkeep inside each ingest (what could grow with the archive)",
        xs,
        [
            ("lineage closure", "#d9822b", [n["closure_s"] for n in nights]),
            ("product flags", "#7b3fa0", [n["steps_s"].get("flags", 0.0) for n in nights]),
            ("ObsCore rows", "#2a8a3e", [n["steps_s"].get("obscore", 0.0) for n in nights]),
        ]
        + (
            [
                (
                    "product flags before the fixes (dashed)",
                    "#c33",
                    [n["steps_s"].get("flags", 0.0) for n in before["nights"]],
                    [n["night"] for n in before["nights"]],
                )
            ]
            if before
            else []
        ),
        "seconds per night",
        marks=[c["from_night"] for c in results.get("code_changes", [])],
    )
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")
    return path
