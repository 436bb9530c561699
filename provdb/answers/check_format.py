"""Text and JSON renderings of a :class:`~provdb.answers.checks.CheckReport` (pure)."""

from __future__ import annotations

import json

from provdb.answers.checks import SEVERITIES, CheckReport

__all__ = ["at_or_above", "format_json", "format_text"]


def at_or_above(report: CheckReport, level: str) -> bool:
    """Whether the report holds a finding at or above ``level`` (``never``: False)."""
    if level == "never":
        return False
    limit = SEVERITIES.index(level)
    return any(SEVERITIES.index(f.severity) <= limit for f in report.findings)


def format_json(report: CheckReport) -> str:
    """``{"findings": [...], "summary": {...}}`` (keys documented in docs/answers.md)."""
    return json.dumps(
        {"findings": [f.as_dict() for f in report.findings], "summary": report.summary()},
        indent=2,
    )


def format_text(report: CheckReport) -> str:
    """An aligned table of the findings, then the counts by rule and severity."""
    head = ("SEVERITY", "RULE", "KIND", "SUBJECT", "DETAIL")
    rows = [
        (
            f.severity,
            f.rule,
            f.subject_kind,
            f.location or f.subject_id,
            f.detail,
        )
        for f in report.findings
    ]
    lines: list[str] = []
    if rows:
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
        for r in [head, *rows]:
            lines.append(
                "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
            )
        lines.append("")
    s = report.summary()
    lines.append(
        f"{s['findings']} finding(s) over {s['products_checked']} entities ({s['scope']}): "
        + ", ".join(f"{n} {sev}" for sev, n in s["by_severity"].items())
    )
    lines.append("by rule: " + ", ".join(f"{r} {n}" for r, n in s["by_rule"].items()))
    return "\n".join(lines)
