"""``/ui/graph/expand``: the neighbours of one drawn node that its drawing lacks, in JSON.

The graph viewer (``static/graph.js``) calls it when a user Alt+clicks a node marked as
having more neighbours (``data-more``, set by the pages from
:func:`provdb.lineage.neighbours.unexplored`). ProvSAP's PROV-JSON would give the nodes
but not what the viewer needs to draw them as the server does: the label lines, the
tooltip, the page link, the box size and the edge styles, nor which nodes are already
drawn. So this small UI endpoint answers with each new node already drawn as an SVG
fragment (:func:`provdb.lineage.svg.node_fragment`), centred on (0, 0) for the viewer to
place, and the new relations with their label, colours and arrow marker.

Request: ``GET`` (query parameters) or ``POST`` (a JSON object, what the viewer sends):

=========  ==============================================================================
node       the node to expand, as the drawing names it: ``KIND:ID`` (required)
direction  ``BACK``, ``FORTH`` or ``BOTH`` (default; the pages pass theirs)
drawn      the nodes the drawing holds (``KIND:ID``; repeatable, a list in JSON)
limit      most nodes the drawing may hold (default and most: the UI graph limit)
=========  ==============================================================================

Answer (200): ``node``, ``label``, ``direction``, ``limit``, ``total`` (neighbours not
drawn), ``added``, ``limit_reached``, ``message`` (one line for the user), ``nodes``
(``key``, ``kind``, ``id``, ``href``, ``more``, ``width``, ``height``, ``svg``) and
``edges`` (``relation``, ``source``, ``target``, ``label``, ``color``, ``fontcolor``,
``marker``). Errors are JSON ``{"error": ...}``: 400 for a bad request, 404 for a node
the archive does not hold.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, json, request

from provdb.lineage.dot import EDGE_STYLE, edge_label, node_url
from provdb.lineage.neighbours import STEP_DIRECTIONS, expand
from provdb.lineage.svg import edge_marker, node_fragment
from provdb.lineage.traverse import UnknownNode
from tap.ui.blueprint import bp, connect
from tap.ui.helpers import node_pattern

__all__ = ["MAX_DRAWN", "graph_expand"]

#: Most ``drawn`` entries one request may list (a run page with every subrun is ~2,000).
MAX_DRAWN = 20_000
_KINDS = ("entity", "activity", "agent")


class _Bad(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> Response:
    return Response(
        json.dumps({"error": message}) + "\n", status=status, mimetype="application/json"
    )


def _key(text: Any, what: str) -> tuple[str, str]:
    if not isinstance(text, str) or ":" not in text:
        raise _Bad(400, f"{what}={text!r}: give a node as KIND:ID, e.g. activity:<id>")
    kind, ident = text.split(":", 1)
    if kind not in _KINDS or not ident:
        raise _Bad(400, f"{what}={text!r}: KIND must be entity, activity or agent (KIND:ID)")
    return kind, ident


def _page_limit() -> int:
    from tap.provsap import node_limit

    configured = int(current_app.config["PROVDB_UI_GRAPH_LIMIT"])
    return max(1, min(configured, node_limit()))


def _parse() -> dict[str, Any]:
    """The request's parameters, checked; raises _Bad with a message that says what to do."""
    if request.method == "POST":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _Bad(400, "the body must be a JSON object: {node, direction, drawn, limit}")
        node, direction = body.get("node"), body.get("direction")
        drawn, limit = body.get("drawn") or [], body.get("limit")
        if not isinstance(drawn, list):
            raise _Bad(400, "drawn must be a list of KIND:ID")
    else:
        node, direction = request.args.get("node"), request.args.get("direction")
        drawn, limit = request.args.getlist("drawn"), request.args.get("limit")
    if not node:
        raise _Bad(400, "missing node: give the node to expand as KIND:ID, e.g. node=activity:<id>")
    key = _key(node, "node")
    direction = str(direction or "BOTH").strip().upper()
    if direction not in STEP_DIRECTIONS:
        raise _Bad(400, f"direction={direction!r}: use BACK, FORTH or BOTH")
    if len(drawn) > MAX_DRAWN:
        raise _Bad(400, f"drawn lists {len(drawn)} nodes, more than {MAX_DRAWN}: draw less")
    most = _page_limit()
    if limit is None or limit == "":
        wanted = most
    else:
        try:
            wanted = int(limit)
        except (TypeError, ValueError):
            raise _Bad(400, f"limit={limit!r} is not a number") from None
        if wanted < 1:
            raise _Bad(400, f"limit={limit!r} must be >= 1")
    keys = []
    for item in drawn:
        # the drawing may hold nodes that are no archive node (a run's folded subruns)
        if isinstance(item, str) and item.split(":", 1)[0] in _KINDS and ":" in item:
            keys.append(_key(item, "drawn"))
    return {
        "key": key,
        "direction": direction,
        "drawn": list(dict.fromkeys(keys)),
        "n_drawn": len(set(map(str, drawn)) | {node}),
        "limit": min(wanted, most),
    }


def _message(label: str, req: dict[str, Any], total: int, added: int) -> str:
    limit, direction = req["limit"], req["direction"]
    towards = {"BACK": "progenitors", "FORTH": "products", "BOTH": "neighbours"}[direction]
    if total == 0:
        return f"Nothing more beyond {label}: all its {towards} are drawn."
    if added == 0:
        return (
            f"{label} has {total} more {towards}, but the drawing holds the most nodes a graph "
            f"shows here ({limit}, PROVDB_UI_GRAPH_LIMIT): open its page to follow it further."
        )
    if added < total:
        return (
            f"Added {added} of the {total} {towards} of {label}: the drawing reached its node "
            f"limit ({limit}, PROVDB_UI_GRAPH_LIMIT); open its page for the rest."
        )
    return f"Added {added} {towards} of {label}."


@bp.route("/graph/expand", methods=["GET", "POST"])
def graph_expand() -> Response:
    """The neighbours of a drawn node beyond its drawing, drawn as the page draws nodes."""
    try:
        req = _parse()
    except _Bad as exc:
        return _error(exc.status, exc.message)
    budget = max(0, req["limit"] - req["n_drawn"])
    try:
        with connect() as conn:
            found = expand(conn, req["key"], req["direction"], drawn=req["drawn"], budget=budget)
    except UnknownNode:
        kind, ident = req["key"]
        return _error(404, f"no {kind} {ident!r} in the archive: reload the page")
    pattern = node_pattern()
    node = found.node
    label = node.label.replace("\n", " ")
    nodes = []
    for key in found.new:
        new = found.graph.nodes[key]
        more = found.more.get(key, 0)
        svg, width, height = node_fragment(new, found.graph, url_pattern=pattern, more=more)
        nodes.append(
            {
                "key": f"{key[0]}:{key[1]}",
                "kind": key[0],
                "id": key[1],
                "href": node_url(key[0], key[1], pattern),
                "more": more,
                "width": round(width, 1),
                "height": round(height, 1),
                "svg": svg,
            }
        )
    new_keys = set(found.new)
    edges = []
    for e in found.graph.edges:
        if e.source_key == e.target_key or not ({e.source_key, e.target_key} & new_keys):
            continue
        style = EDGE_STYLE[e.relation]
        edges.append(
            {
                "relation": e.relation,
                "source": f"{e.source_key[0]}:{e.source}",
                "target": f"{e.target_key[0]}:{e.target}",
                "label": edge_label(e),
                "color": style["color"],
                "fontcolor": style["fontcolor"],
                "marker": edge_marker(e.relation),
            }
        )
    body = {
        "node": f"{node.kind}:{node.id}",
        "label": label,
        "direction": req["direction"],
        "limit": req["limit"],
        "total": found.total,
        "added": found.added,
        "limit_reached": found.cut,
        "message": _message(label, req, found.total, found.added),
        "nodes": nodes,
        "edges": edges,
    }
    return Response(
        json.dumps(body) + "\n",
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )
