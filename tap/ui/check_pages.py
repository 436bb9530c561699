"""Quality pages of the UI: ``/ui/night/<night>`` and the flags on entity pages.

The night page lists the night's runs and the findings of ``provdb check --night``,
each linked to its page: the products' rules read from ``archive.product_flag`` (kept
current by every ingest) and the activity and run findings of
:func:`provdb.answers.checks.night_session_findings`, a page of
:data:`FINDINGS_PAGE` at a time (``?offset=``, ``?rule=``). The
entity page shows the product's flags (``archive.product_flag``) through the template
helper ``product_flags`` registered here, so that the entity route stays as it is.
"""

from __future__ import annotations

import re
from typing import Any

from flask import render_template, request

from provdb.answers.checks import (
    RULES,
    SEVERITIES,
    CheckError,
    finding_order,
    night_session_findings,
)
from tap.ui import check_queries
from tap.ui.blueprint import PageError, bp, connect

__all__ = ["FINDINGS_PAGE", "night"]

#: Findings per night page (a night at LST-1 scale has thousands)
FINDINGS_PAGE = 200

_NIGHT = re.compile(r"^\d{8}$")


@bp.app_context_processor
def _flag_helpers() -> dict[str, Any]:
    def product_flags(ident: str) -> list[dict[str, Any]]:
        with connect() as conn:
            return check_queries.entity_flags(conn, ident)

    return {"product_flags": product_flags}


def _paging() -> tuple[str | None, int]:
    """``?rule=`` (one of the rules) and ``?offset=`` (a number >= 0), checked."""
    rule = request.args.get("rule") or None
    if rule is not None and rule not in RULES:
        raise PageError(400, "Bad rule", f"rule={rule!r}: use one of {', '.join(RULES)}")
    text = request.args.get("offset") or "0"
    if not text.isdigit():
        raise PageError(400, "Bad offset", f"offset={text!r}: use a number of findings >= 0")
    return rule, int(text)


@bp.route("/night/<night>", methods=["GET"])
def night(night: str) -> Any:
    """The runs of a night and the findings of ``provdb check --night``, a page at a time."""
    if not _NIGHT.match(night):
        raise PageError(400, "Bad night", f"{night!r}: the URL is /ui/night/<YYYYMMDD>")
    rule, offset = _paging()
    with connect() as conn:
        runs = check_queries.night_runs(conn, night)
        if not runs:
            raise PageError(
                404,
                f"No night {night}",
                f"The archive holds no lstosa run processed on night {night}.",
                search=night,
            )
        try:
            others = night_session_findings(conn, night)
        except CheckError as exc:
            raise PageError(404, f"Night {night}", str(exc)) from None
        # the first offset + page of the flags suffice: merged with the other findings
        # in report order, the page is cut from the front of both
        products, counts, flags = check_queries.night_flags(
            conn, night, rule, offset + FINDINGS_PAGE
        )
    wanted = [f for f in others if rule is None or f.rule == rule]
    for f in others:
        counts[(f.rule, f.severity)] = counts.get((f.rule, f.severity), 0) + 1
    by_rule = {r: sum(n for (k, _), n in counts.items() if k == r) for r in RULES}
    summary = {
        "products_checked": products,
        "findings": sum(counts.values()),
        "by_severity": {s: sum(n for (_, v), n in counts.items() if v == s) for s in SEVERITIES},
        "by_rule": by_rule,
    }
    total = summary["findings"] if rule is None else by_rule[rule]
    findings = sorted(flags + wanted, key=finding_order)[offset : offset + FINDINGS_PAGE]
    return render_template(
        "ui/night.html",
        night=night,
        runs=runs,
        summary=summary,
        findings=findings,
        rule=rule,
        offset=offset,
        page=FINDINGS_PAGE,
        total=total,
    )
