"""Blueprint ``ui``: the archive's browser pages (see :mod:`tap.ui`).

This module is the blueprint and what every page shares: the ``provid`` URL converter,
:class:`PageError` and its error page, the template helpers, and :func:`connect`. The
pages are registered on ``bp`` by one module per page kind (``*_pages``, :mod:`tap.ui.expand`),
imported by :mod:`tap.ui`.

Server-rendered Jinja pages, one small stylesheet, no JavaScript needed. Each page
opens one database connection and runs a handful of set-based statements
(:mod:`tap.ui.queries`) plus, for the graphs, one ProvSAP traversal
(:func:`provdb.lineage.traverse.lineage`) drawn by :func:`provdb.lineage.svg.render_svg`.

Identifiers contain ``@``, ``:``, ``/``, ``#``...: node URLs use the ``provid``
converter (any text, slashes included, never merged), built with ``url_for`` and
percent-decoded by the server, so ``/ui/entity/<id>`` round-trips every id; the
``?id=`` form (``/ui/entity?id=...``) is accepted too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from werkzeug.routing import BaseConverter

from provdb import __version__
from tap.context import base_url, tap_db
from tap.ui.helpers import as_json, node_href, run_href, size, when

__all__ = ["IdConverter", "PageError", "bp", "connect"]

bp = Blueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


class IdConverter(BaseConverter):
    """Any identifier, slashes included (a leading ``/`` too), as the last URL part."""

    part_isolating = False
    regex = ".+"
    weight = 200

    def to_url(self, value: Any) -> str:
        from urllib.parse import quote

        text = str(value)
        # a "." or ".." segment would be resolved away by the browser: encode the slashes
        safe = "!$&'()*+,:;=@"
        if not any(seg in (".", "..") for seg in text.split("/")):
            safe += "/"
        return quote(text, safe=safe)


# registered before any page module adds its routes (deferred functions run in order)
bp.record_once(lambda state: state.app.url_map.converters.setdefault("provid", IdConverter))


class PageError(Exception):
    """A page that cannot be shown: rendered as an HTML error page with hints."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        *,
        hits: list[dict[str, Any]] | None = None,
        search: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.hits = hits or []
        self.search = search


@bp.errorhandler(PageError)
def _page_error(exc: PageError) -> tuple[str, int]:
    return (
        render_template(
            "ui/error.html",
            title=exc.title,
            message=exc.message,
            hits=exc.hits,
            search=exc.search,
            status=exc.status,
        ),
        exc.status,
    )


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "href": node_href,
        "run_href": run_href,
        "when": when,
        "size": size,
        "as_json": as_json,
        "tap_base": base_url(),
        "provdb_version": __version__,
    }


@bp.app_context_processor
def _service() -> dict[str, Any]:
    # app-wide: every page built on ui/base.html shows the service's title and contact
    return {"service": current_app.config["TAP_CONFIG"]}


def connect() -> Any:
    """A connection for one page's statements (a read replica when one is configured)."""
    return tap_db().read_engine_connect()
