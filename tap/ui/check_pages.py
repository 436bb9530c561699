"""Quality pages of the UI: ``/ui/night/<night>`` and the flags on entity pages.

The night page lists the night's runs and the findings of
:func:`provdb.answers.checks.run_checks` for the night, each linked to its page. The
entity page shows the product's flags (``archive.product_flag``) through the template
helper ``product_flags`` registered here, so that the entity route stays as it is.
"""

from __future__ import annotations

import re
from typing import Any

from flask import render_template

from provdb.answers.checks import CheckError, run_checks
from tap.ui import check_queries
from tap.ui.blueprint import PageError, bp, connect

__all__ = ["night"]

_NIGHT = re.compile(r"^\d{8}$")


@bp.app_context_processor
def _flag_helpers() -> dict[str, Any]:
    def product_flags(ident: str) -> list[dict[str, Any]]:
        with connect() as conn:
            return check_queries.entity_flags(conn, ident)

    return {"product_flags": product_flags}


@bp.route("/night/<night>", methods=["GET"])
def night(night: str) -> Any:
    """The runs of a night and the findings of ``provdb check --night``."""
    if not _NIGHT.match(night):
        raise PageError(400, "Bad night", f"{night!r}: the URL is /ui/night/<YYYYMMDD>")
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
            report = run_checks(conn, night=night)
        except CheckError as exc:
            raise PageError(404, f"Night {night}", str(exc)) from None
    return render_template("ui/night.html", night=night, runs=runs, report=report)
