"""URLs and value formatting shared by the UI pages and their templates.

No routes here: :mod:`tap.ui.blueprint` hands these to every template (``href``,
``run_href``, ``when``, ``size``, ``as_json``); the pages build links with them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import url_for
from markupsafe import Markup

from tap.context import base_url

__all__ = [
    "adql_literal",
    "as_json",
    "node_href",
    "node_pattern",
    "provsap_url",
    "run_href",
    "size",
    "sync_url",
    "when",
]


def node_href(kind: str, ident: str) -> str:
    """The page of an entity, activity or agent."""
    return url_for(f"ui.{kind}", ident=ident)


def run_href(night: str, run: str, step: str | None = None, subruns: bool = False) -> str:
    """The page of a run (``step``: one step of it; ``subruns``: every subrun drawn)."""
    args: dict[str, Any] = {}
    if step and step != "all":
        args["step"] = step
    if subruns:
        args["subruns"] = 1
    return url_for("ui.run", night=night, run=run, **args)


def node_pattern() -> str:
    """URL pattern of graph node links (``{kind}``, percent-encoded ``{id}``)."""
    return url_for("ui.home").rstrip("/") + "/{kind}/{id}"


def provsap_url(ids: list[str], depth: str, direction: str, fmt: str) -> str:
    """The ProvSAP URL of the lineage of ``ids`` in the format ``fmt``."""
    params = [("ID", i) for i in ids]
    params += [("DEPTH", depth), ("DIRECTION", direction), ("RESPONSEFORMAT", fmt)]
    return f"{base_url()}/provsap?{urlencode(params)}"


def sync_url(query: str, fmt: str) -> str:
    """The ``/sync`` URL that runs the ADQL ``query`` and answers in ``fmt``."""
    return f"{base_url()}/sync?" + urlencode(
        {"LANG": "ADQL", "RESPONSEFORMAT": fmt, "QUERY": query}
    )


def when(value: Any) -> str:  # Markup (a str) for datetimes
    """A timestamp for people: ``2026-11-23 19:29:56`` (UTC)."""
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), text)
    return str(value)


def size(value: Any) -> str:
    """A byte count for people: ``1.5 MB`` (decimal units)."""
    if value is None:
        return ""
    n = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(value)


def as_json(value: Any) -> str:
    """``value`` as indented JSON text (keys sorted; other types as their text)."""
    return json.dumps(value, indent=1, sort_keys=True, default=str)


def adql_literal(text: str) -> str:
    """``text`` as an ADQL string literal (quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"
