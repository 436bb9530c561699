"""A page's lineage graph: its request parameters, the traversal, the drawing, downloads.

Shared by the entity page (:mod:`tap.ui.node_pages`) and ``/ui/graph``
(:mod:`tap.ui.graph_pages`). The most nodes a page draws is ``PROVDB_UI_GRAPH_LIMIT``
(the settings registry; ``tap/app.py`` puts it in ``app.config``), never more than
ProvSAP's node limit; ``?limit=`` may ask for fewer or more within that.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from tap.ui.blueprint import PageError
from tap.ui.helpers import node_pattern, provsap_url

__all__ = [
    "DEPTH_CHOICES",
    "downloads",
    "graph_context",
    "graph_limit",
    "graph_params",
    "lineage_svg",
    "neighbours_beyond",
]

DEPTH_CHOICES = ("1", "2", "3", "4", "6", "10", "ALL")


def graph_limit() -> int:
    """Most nodes of this page's graph: the setting, or ``?limit=``, within ProvSAP's."""
    from tap.provsap import node_limit

    wanted = request.args.get("limit")
    limit = int(current_app.config["PROVDB_UI_GRAPH_LIMIT"])
    if wanted:
        try:
            limit = int(wanted)
        except ValueError:
            raise PageError(400, "Bad limit", f"limit={wanted!r} is not a number") from None
    return max(1, min(limit, node_limit()))


def graph_params(default_depth: str = "ALL") -> dict[str, Any]:
    """depth, direction, agent, members of a graph request (ProvSAP names, any case)."""
    args = {k.lower(): v for k, v in request.args.items()}
    depth_text = (args.get("depth") or default_depth).strip().upper()
    if depth_text == "ALL":
        depth = None
    else:
        try:
            depth = int(depth_text)
        except ValueError:
            depth = -1
        if depth < 0:
            raise PageError(
                400, "Bad depth", f"depth={depth_text!r}: use a number >= 0 or ALL"
            ) from None
    direction = (args.get("direction") or "BACK").strip().upper()
    if direction not in ("BACK", "FORTH"):
        raise PageError(400, "Bad direction", f"direction={direction!r}: use BACK or FORTH")
    flags = {}
    for name in ("agent", "members"):
        flags[name] = (args.get(name) or "").strip().lower() in ("1", "true", "yes", "on")
    return {
        "depth": depth,
        "depth_text": "ALL" if depth is None else str(depth),
        "direction": direction,
        "limit": graph_limit(),
        **flags,
    }


def neighbours_beyond(conn: Any, graph: Any, direction: str) -> dict[tuple[str, str], int]:
    """Neighbours each drawn node has beyond the drawing (``data-more``: the viewer's expand)."""
    from provdb.lineage.neighbours import unexplored

    return unexplored(conn, list(graph.nodes), direction)


def lineage_svg(
    conn: Any, ids: list[str], params: dict[str, Any], *, expandable: bool = True
) -> tuple[Any, bytes]:
    """Walk the lineage of ``ids`` as ``params`` say and draw it: (graph, SVG)."""
    from provdb.lineage.svg import render_svg
    from tap.provsap import walk

    graph = walk(conn, ids, params)
    more = neighbours_beyond(conn, graph, params["direction"]) if expandable else None
    return graph, render_svg(graph, url_pattern=node_pattern(), more=more)


def graph_context(ids: list[str], graph: Any, svg: bytes, params: dict[str, Any]) -> dict:
    """What a page drawing the lineage of ``ids`` gives its template: the graph, its
    drawing inline, the request parameters, the depth choices and the download links."""
    from tap.ui.graphs import inline_svg

    return {
        "graph": graph,
        "svg": inline_svg(svg),
        "params": params,
        "depth_choices": DEPTH_CHOICES,
        "downloads": downloads(ids, params),
    }


def downloads(ids: list[str], params: dict[str, Any]) -> list[tuple[str, str]]:
    """(format name, ProvSAP URL) of this graph in every ProvSAP format."""
    from provdb.lineage.export import FORMATS

    return [
        (name.upper(), provsap_url(ids, params["depth_text"], params["direction"], name))
        for name in FORMATS
    ]
