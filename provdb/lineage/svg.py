"""ProvGraph -> SVG, with or without Graphviz.

Two renderers, one look (the PROV styling of :mod:`provdb.lineage.dot`: yellow entity
ellipses, blue activity boxes, orange agent houses, red ``used`` / green
``wasGeneratedBy`` edges labelled by role; every node an ``<a href>`` to its UI page):

``dot``
    Graphviz's ``dot -Tsvg`` on :func:`provdb.lineage.dot.to_dot`'s text, when a ``dot``
    executable is found: ``$PROVDB_DOT``, the system's Graphviz (``dot`` on PATH), or the
    optional ``graphviz-pure`` wheel (a Rust port of Graphviz 16 shipping a static
    ``dot`` command: ``pip install graphviz-pure``; found as ``graphviz-pure`` on PATH or
    next to the Python executable). Best layout (network-simplex ranking, spline
    routing, label placement), but it costs a process start and grows fast with the
    graph: graphviz-pure takes ~40 ms for 50 nodes and ~2 s for 500.
``python``
    A layered (Sugiyama) layout written here, needing nothing beyond the standard
    library: cycle breaking, longest-path layering (nodes of a layer first ordered by
    time), dummy nodes for long edges, barycentre crossing reduction, barycentre
    x-placement with overlap removal, Catmull-Rom edge curves, and edge labels grouped
    per (file, relation, role) and placed where they overlap nothing
    (:mod:`provdb.lineage.labels`). ~20 ms for 50 nodes, ~0.3 s for 500, ~2 s for 2,000
    (Graphviz: 0.1 s, 2-3 s, > 2 min). Always there after a plain ``pip install``.

``engine="python"`` is the default: the same drawing whatever is installed, and 10-20x
faster than Graphviz at every size (``bench/bench_layout.py``). ``engine="auto"``
uses ``dot`` when one is found and the graph has at most :data:`DOT_MAX_NODES` nodes
(100; ``$PROVDB_SVG_DOT_MAX_NODES``), and the ``python`` layout otherwise (also when
``dot`` fails or times out). ``$PROVDB_SVG_ENGINE`` (``auto``, ``dot``, ``python``)
changes the default. See ``bench/README.md`` for the measurements behind the choice.
"""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from provdb import settings
from provdb.lineage.dot import (
    DEFAULT_URL_PATTERN,
    EDGE_STYLE,
    NODE_STYLE,
    caption,
    edge_label,
    node_label,
    node_tooltip,
    node_url,
    to_dot,
)
from provdb.lineage.graph import MORE_CAP, ProvGraph
from provdb.lineage.labels import LabelBox, place_labels

__all__ = [
    "DOT_MAX_NODES",
    "ENGINES",
    "edge_marker",
    "find_dot",
    "node_fragment",
    "render_svg",
    "svg_dot",
    "svg_python",
]

ENGINES = ("auto", "dot", "python")
#: Largest graph ``auto`` gives to Graphviz (its time grows fast with the size).
DOT_MAX_NODES: int = settings.default("PROVDB_SVG_DOT_MAX_NODES")


def find_dot() -> str | None:
    """A Graphviz ``dot`` executable: $PROVDB_DOT, ``dot`` on PATH, or graphviz-pure's."""
    configured = settings.value("PROVDB_DOT")
    if configured:
        return configured if shutil.which(configured) else None
    found = shutil.which("dot")
    if found:
        return found
    found = shutil.which("graphviz-pure")
    if found:
        return found
    beside = Path(sys.executable).parent / "graphviz-pure"
    return str(beside) if beside.exists() else None


def render_svg(
    graph: ProvGraph,
    *,
    url_pattern: str = DEFAULT_URL_PATTERN,
    engine: str | None = None,
    timeout: float = 30.0,
    more: Mapping[tuple[str, str], int] | None = None,
) -> bytes:
    """SVG document (UTF-8) of ``graph``.

    Parameters
    ----------
    url_pattern:
        Node links: formatted with ``kind`` and the percent-encoded ``id``.
    more:
        Neighbours each node has beyond the drawing (:func:`provdb.lineage.neighbours.unexplored`),
        written as ``data-more`` on the nodes of the python layout for the UI's viewer.
    engine:
        ``"python"`` (default, or $PROVDB_SVG_ENGINE), ``"auto"`` (dot for graphs of at most
        :data:`DOT_MAX_NODES` nodes when one is found, else python), ``"dot"`` or
        ``"python"``.
    timeout:
        Seconds allowed to ``dot`` before falling back to the python layout.

    Raises
    ------
    ValueError
        An unknown engine, or ``"dot"`` asked for and no ``dot`` found.
    """
    engine = (engine or settings.value("PROVDB_SVG_ENGINE")).lower()
    if engine not in ENGINES:
        raise ValueError(f"SVG engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "auto" and len(graph.nodes) > settings.value("PROVDB_SVG_DOT_MAX_NODES"):
        engine = "python"
    if engine in ("auto", "dot"):
        dot = find_dot()
        if dot is None and engine == "dot":
            raise ValueError(
                "no Graphviz dot found: install Graphviz or `pip install graphviz-pure`, "
                "or use the python layout"
            )
        if dot is not None:
            try:
                return svg_dot(graph, dot, url_pattern=url_pattern, timeout=timeout)
            except (OSError, subprocess.SubprocessError):
                if engine == "dot":
                    raise
    return svg_python(graph, url_pattern=url_pattern, more=more)


def svg_dot(
    graph: ProvGraph, dot: str, *, url_pattern: str = DEFAULT_URL_PATTERN, timeout: float = 30.0
) -> bytes:
    """Render with a Graphviz ``dot`` executable."""
    text = to_dot(graph, url_pattern=url_pattern)
    done = subprocess.run(
        [dot, "-Tsvg"],
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0 or not done.stdout:
        raise subprocess.SubprocessError(
            f"{dot} failed ({done.returncode}): {done.stderr.decode(errors='replace')[:300]}"
        )
    return done.stdout


# ----------------------------------------------------------------------------- python layout

_FONT = 11.0
_CHAR_W = 6.4  # average Helvetica advance at 11 px
_LINE_H = 14.0
_NODE_SEP = 24.0
_RANK_SEP = 90.0  # room for the edge labels between two ranks
_MARGIN = 20.0
_WRAP = 40  # most nodes in one row of a layer
_ROW_SEP = 16.0


class _Box:
    __slots__ = ("h", "key", "lines", "w", "x", "y")

    def __init__(self, key: Any, lines: list[str], kind: str | None) -> None:
        self.key = key
        self.lines = lines
        if kind is None:  # a dummy (bend point of a long edge)
            self.w, self.h = 8.0, 8.0
        else:
            text_w = max((len(line) for line in lines), default=1) * _CHAR_W
            self.w = max(60.0, text_w + 24.0)
            self.h = len(lines) * _LINE_H + 14.0
            if kind == "entity":
                self.w *= 1.2
                self.h += 8.0
            elif kind == "agent":
                self.h += 12.0
        self.x = 0.0
        self.y = 0.0


_MAX_LINE = 34  # longest label line; the full text is in the node's tooltip


def _shorten(line: str) -> str:
    """Keep the end of a long line (a file name's run and extension tell files apart)."""
    return line if len(line) <= _MAX_LINE else "…" + line[-(_MAX_LINE - 1) :]


def _when(node: Any) -> str:
    """Sort key: the node's time (activity start, entity generation), then its id."""
    a = node.attrs
    t = a.get("start_time") or a.get("generated_at_time") or a.get("end_time")
    stamp = t.isoformat() if hasattr(t, "isoformat") else str(t or "")
    return f"{stamp or '~'}|{node.id}"


def _layers(nodes: list[Any], edges: list[tuple[Any, Any]]) -> dict[Any, int]:
    """Rank of each node: longest path from the sources, after breaking cycles."""
    succ: dict[Any, list[Any]] = defaultdict(list)
    for u, v in edges:
        succ[u].append(v)
    # break cycles: drop the edges DFS finds pointing back to the stack
    state: dict[Any, int] = {}
    keep: list[tuple[Any, Any]] = []
    for root in nodes:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                continue
            if state.get(nxt) == 1:
                continue  # back edge: ignored for layering
            keep.append((node, nxt))
            if nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    preds: dict[Any, list[Any]] = defaultdict(list)
    outs: dict[Any, list[Any]] = defaultdict(list)
    indeg = dict.fromkeys(nodes, 0)
    for u, v in set(keep):
        preds[v].append(u)
        outs[u].append(v)
        indeg[v] += 1
    order: list[Any] = [n for n in nodes if indeg[n] == 0]
    i = 0
    while i < len(order):
        for v in outs[order[i]]:
            indeg[v] -= 1
            if indeg[v] == 0:
                order.append(v)
        i += 1
    rank: dict[Any, int] = {}
    for n in order:
        rank[n] = max((rank[p] + 1 for p in preds[n]), default=0)
    # pull sources down next to their successors
    for n in reversed(order):
        if not preds[n] and outs[n]:
            rank[n] = max(0, min(rank[s] for s in outs[n]) - 1)
    return rank


def _layout(graph: ProvGraph) -> tuple[dict[Any, _Box], list[tuple[Any, list[Any]]], float, float]:
    """Boxes with centres, edge routes (list of node keys incl. dummies), width, height."""
    boxes: dict[Any, _Box] = {}
    # initial order inside a layer: by time, so that inputs read left to right in the
    # order they were made (the crossing reduction sorts stably and keeps it on ties)
    nodes = sorted(
        (n.key for kind in ("entity", "activity", "agent") for n in graph.of_kind(kind)),
        key=lambda k: _when(graph.nodes[k]),
    )
    for key in nodes:
        node = graph.nodes[key]
        boxes[key] = _Box(key, [_shorten(line) for line in node_label(node).split("\n")], node.kind)
    pairs: dict[tuple[Any, Any], None] = {}
    for e in graph.edges:
        if e.source_key != e.target_key and e.source_key in boxes and e.target_key in boxes:
            pairs[(e.source_key, e.target_key)] = None
    edges = list(pairs)
    rank = _layers(nodes, edges)

    # dummy nodes along edges that span several ranks (in either direction)
    layers: dict[int, list[Any]] = defaultdict(list)
    for key in nodes:
        layers[rank[key]].append(key)
    routes: list[tuple[Any, list[Any]]] = []
    adj_up: dict[Any, list[Any]] = defaultdict(list)  # neighbours in rank - 1
    adj_down: dict[Any, list[Any]] = defaultdict(list)  # neighbours in rank + 1
    far: dict[Any, list[Any]] = defaultdict(list)  # hubs: their nodes, whatever the rank
    degree: dict[Any, int] = defaultdict(int)
    for u, v in edges:
        degree[u] += 1
        degree[v] += 1
    hubs = {k for k, n in degree.items() if k[0] == "agent" or n > _WRAP}
    n_dummy = 0
    for u, v in edges:
        ru, rv = rank[u], rank[v]
        chain = [u]
        if u in hubs or v in hubs:
            # agents and hubs (a pedestal file used by hundreds of activities): straight
            # lines, no bend points, so that they do not fill the layers with dummies
            far[u].append(v)
            far[v].append(u)
            if abs(ru - rv) > 1:
                routes.append(((u, v), [u, v]))
                continue
        if ru != rv:
            step = 1 if rv > ru else -1
            for r in range(ru + step, rv, step):
                n_dummy += 1
                d = ("dummy", n_dummy)
                boxes[d] = _Box(d, [], None)
                rank[d] = r
                layers[r].append(d)
                chain.append(d)
        chain.append(v)
        for a, b in itertools.pairwise(chain):
            if rank[a] == rank[b]:
                continue
            lo, hi = (a, b) if rank[a] < rank[b] else (b, a)
            adj_down[lo].append(hi)
            adj_up[hi].append(lo)
        routes.append(((u, v), chain))

    ranks = sorted(layers)
    pos: dict[Any, float] = {}
    for r in ranks:
        for i, key in enumerate(layers[r]):
            pos[key] = float(i)

    def sweep(order_ranks: list[int], neighbours: dict[Any, list[Any]]) -> None:
        for r in order_ranks:
            layer = layers[r]
            bary = {}
            for key in layer:
                ns = neighbours.get(key)
                bary[key] = sum(pos[n] for n in ns) / len(ns) if ns else pos[key]
            layer.sort(key=lambda k: (bary[k], pos[k]))
            for i, key in enumerate(layer):
                pos[key] = float(i)

    for _ in range(6):
        sweep(ranks[1:], adj_up)
        sweep(list(reversed(ranks[:-1])), adj_down)

    # x coordinates: pack, then pull towards neighbours keeping order and separation
    x: dict[Any, float] = {}
    for r in ranks:
        cur = 0.0
        for key in layers[r]:
            b = boxes[key]
            x[key] = cur + b.w / 2
            cur += b.w + _NODE_SEP

    def place(layer: list[Any], want: dict[Any, float]) -> None:
        left: list[float] = []
        for i, key in enumerate(layer):
            w = want[key]
            if i:
                prev = layer[i - 1]
                w = max(w, left[-1] + (boxes[prev].w + boxes[key].w) / 2 + _NODE_SEP)
            left.append(w)
        right: list[float] = [0.0] * len(layer)
        for i in range(len(layer) - 1, -1, -1):
            key = layer[i]
            w = want[key]
            if i < len(layer) - 1:
                nxt = layer[i + 1]
                w = min(w, right[i + 1] - (boxes[nxt].w + boxes[key].w) / 2 - _NODE_SEP)
            right[i] = w
        for i, key in enumerate(layer):
            x[key] = (left[i] + right[i]) / 2
        # the average may overlap where both passes disagreed: one more left pass
        for i in range(1, len(layer)):
            a, b = layer[i - 1], layer[i]
            x[b] = max(x[b], x[a] + (boxes[a].w + boxes[b].w) / 2 + _NODE_SEP)

    for it in range(8):
        seq = ranks if it % 2 == 0 else list(reversed(ranks))
        for r in seq:
            layer = layers[r]
            want = {}
            for key in layer:
                ns = adj_up.get(key, []) + adj_down.get(key, [])
                if key in hubs:
                    ns = far.get(key, ns)
                want[key] = sum(x[n] for n in ns) / len(ns) if ns else x[key]
            place(layer, want)

    # wide layers (a pedestal used by hundreds of activities) wrap into several rows,
    # centred on the layers that do not wrap
    row_of: dict[Any, int] = dict.fromkeys(x, 0)
    rows_in: dict[int, int] = dict.fromkeys(ranks, 1)
    wrapped = [
        r for r in ranks if len(layers[r]) > _WRAP and not any(k[0] == "dummy" for k in layers[r])
    ]
    spine = [x[k] for r in ranks if r not in wrapped for k in layers[r]]
    centre = (min(spine) + max(spine)) / 2 if spine else 0.0
    for r in wrapped:
        layer = layers[r]
        rows_in[r] = math.ceil(len(layer) / _WRAP)
        for i in range(rows_in[r]):
            chunk = layer[i * _WRAP : (i + 1) * _WRAP]
            total = sum(boxes[k].w for k in chunk) + _NODE_SEP * (len(chunk) - 1)
            cur = centre - total / 2
            for key in chunk:
                row_of[key] = i
                x[key] = cur + boxes[key].w / 2
                cur += boxes[key].w + _NODE_SEP
    min_x = min((x[k] - boxes[k].w / 2 for k in x), default=0.0)
    heights = {r: max(boxes[k].h for k in layers[r]) for r in ranks}
    # rankdir BT: rank 0 (products) at the bottom
    y = 0.0
    ycentre: dict[int, float] = {}
    for r in reversed(ranks):
        ycentre[r] = y + heights[r] / 2
        y += heights[r] * rows_in[r] + _ROW_SEP * (rows_in[r] - 1) + _RANK_SEP
    top = _MARGIN + (24.0 if caption(graph) else 0.0)
    for key, b in boxes.items():
        r = rank[key]
        b.x = x[key] - min_x + _MARGIN
        b.y = ycentre[r] + top + row_of[key] * (heights[r] + _ROW_SEP)
    width = max((b.x + b.w / 2 for b in boxes.values()), default=0.0) + _MARGIN
    height = y - _RANK_SEP + top + _MARGIN if ranks else top + _MARGIN
    return boxes, routes, max(width, 200.0), height


def _clip(box: _Box, kind: str | None, toward: tuple[float, float]) -> tuple[float, float]:
    """Point where the segment from the box centre to ``toward`` leaves the node outline."""
    dx, dy = toward[0] - box.x, toward[1] - box.y
    if kind is None or (dx == 0 and dy == 0):
        return box.x, box.y
    hw, hh = box.w / 2, box.h / 2
    if kind == "entity":
        t = 1 / math.sqrt((dx / hw) ** 2 + (dy / hh) ** 2)
    else:
        t = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    t = min(t, 1.0)
    return box.x + dx * t, box.y + dy * t


def _path(points: list[tuple[float, float]]) -> str:
    if len(points) == 2:
        (x0, y0), (x1, y1) = points
        return f"M{x0:.1f},{y0:.1f} L{x1:.1f},{y1:.1f}"
    out = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for i in range(len(points) - 1):  # Catmull-Rom -> cubic Bezier
        p0 = points[i - 1] if i else points[i]
        p1, p2 = points[i], points[i + 1]
        p3 = points[i + 2] if i + 2 < len(points) else p2
        c1 = (p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6)
        c2 = (p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6)
        out.append(f"C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} {p2[0]:.1f},{p2[1]:.1f}")
    return " ".join(out)


def _shape(kind: str, b: _Box, style: dict[str, str], start: bool) -> str:
    stroke = (
        f'fill="{style["fillcolor"]}" stroke="{style["color"]}" stroke-width="{3 if start else 1}"'
    )
    if kind == "entity":
        return (
            f'<ellipse cx="{b.x:.1f}" cy="{b.y:.1f}" rx="{b.w / 2:.1f}" ry="{b.h / 2:.1f}" '
            f"{stroke}/>"
        )
    if kind == "agent":
        x0, x1 = b.x - b.w / 2, b.x + b.w / 2
        top, bot = b.y - b.h / 2, b.y + b.h / 2
        eave = top + 12.0
        pts = (
            f"{x0:.1f},{bot:.1f} {x1:.1f},{bot:.1f} {x1:.1f},{eave:.1f} "
            f"{b.x:.1f},{top:.1f} {x0:.1f},{eave:.1f}"
        )
        return f'<polygon points="{pts}" {stroke}/>'
    return (
        f'<rect x="{b.x - b.w / 2:.1f}" y="{b.y - b.h / 2:.1f}" width="{b.w:.1f}" '
        f'height="{b.h:.1f}" {stroke}/>'
    )


def _label_groups(
    graph: ProvGraph, boxes: dict[Any, _Box], routes: list[tuple[Any, list[Any]]]
) -> list[LabelBox]:
    """One label per (shared endpoint, relation, label text), anchored at that endpoint.

    The shared end of ``used`` and ``wasGeneratedBy`` is the entity (the file several
    activities use in the same role); of the other relations, the target.
    """
    groups: dict[tuple[Any, str, str], list[Any]] = defaultdict(list)
    texts: dict[tuple[Any, Any], list[tuple[str, str]]] = defaultdict(list)
    for e in graph.edges:
        pair = (e.source_key, e.target_key)
        item = (e.relation, edge_label(e))
        if item not in texts[pair]:
            texts[pair].append(item)
    for (u, v), _chain in routes:
        for relation, text in texts[(u, v)]:
            end, other = (u, v) if relation == "wasGeneratedBy" else (v, u)
            groups[(end, relation, text)].append(other)
    out: list[LabelBox] = []
    for (end, relation, text), others in groups.items():
        b = boxes[end]
        below = sum(boxes[o].y for o in others) / len(others) > b.y
        side = 1 if below else -1
        n = len(set(others))
        label = LabelBox(
            f"{text} ×{n}" if n > 1 else text,
            (b.x, b.y + side * (b.h / 2 + 9.0)),
            side,
            keys=[relation, end, others],
        )
        if n == 1:  # a lone edge: the label sits on the edge, just off the node
            o = boxes[others[0]]
            dx, dy = o.x - b.x, o.y - b.y
            t = (b.h / 2 + 9.0) / abs(dy) if dy else 0.0
            label.anchor = (b.x + dx * min(t, 0.5), b.y + dy * min(t, 0.5))
        out.append(label)
    return out


def edge_marker(relation: str) -> str:
    """Id of the arrow-head ``<marker>`` of a relation's edges in :func:`svg_python`'s SVG."""
    colors = sorted({s["color"] for s in EDGE_STYLE.values()})
    return f"arrow{colors.index(EDGE_STYLE[relation]['color'])}"


def _node_markup(node: Any, graph: ProvGraph, b: _Box, url_pattern: str, more: int = 0) -> str:
    """``<g class="node KIND" id="KIND:ID">`` with its link, tooltip, shape and label."""
    style = NODE_STYLE[node.kind]
    url = escape(node_url(node.kind, node.id, url_pattern))
    start = ' data-start="true"' if node.start else ""
    extra = f' data-more="{int(more)}"' if more else ""
    if more > MORE_CAP:  # counted up to the cap only: the viewer says "more than ..."
        extra += f' data-more-over="{MORE_CAP}"'
    out = [
        f'<g class="node {node.kind}" id="{escape(f"{node.kind}:{node.id}")}"{start}{extra}>'
        f'<a href="{url}" xlink:href="{url}" target="_top">'
        f"<title>{escape(node_tooltip(node, graph))}</title>"
        + _shape(node.kind, b, style, node.start)
    ]
    n = len(b.lines)
    for i, line in enumerate(b.lines):
        ty = b.y + (i - (n - 1) / 2) * _LINE_H + 4 + (4 if node.kind == "agent" else 0)
        out.append(
            f'<text x="{b.x:.1f}" y="{ty:.1f}" text-anchor="middle" '
            f'font-size="{_FONT:g}">{escape(line)}</text>'
        )
    out.append("</a></g>")
    return "".join(out)


def node_fragment(
    node: Any, graph: ProvGraph, *, url_pattern: str = DEFAULT_URL_PATTERN, more: int = 0
) -> tuple[str, float, float]:
    """One node drawn as :func:`svg_python` draws it, centred on (0, 0): markup, width, height.

    The UI's viewer adds such nodes to a drawn graph when it expands a node
    (``/ui/graph/expand``), so that they look and link exactly as the others.
    """
    b = _Box(node.key, [_shorten(line) for line in node_label(node).split("\n")], node.kind)
    return _node_markup(node, graph, b, url_pattern, more), b.w, b.h


def svg_python(
    graph: ProvGraph,
    *,
    url_pattern: str = DEFAULT_URL_PATTERN,
    more: Mapping[tuple[str, str], int] | None = None,
) -> bytes:
    """Render with the built-in layered layout (no Graphviz needed).

    Nodes are ``<g class="node KIND" id="KIND:ID">`` (``data-start`` on the graph's
    start nodes, ``data-more`` on those with ``more`` neighbours beyond it), edges
    ``<g class="edge REL" data-source=... data-target=...>`` and the grouped edge labels
    ``<g class="edge-label">``: the UI's viewer (``tap/ui/static/graph.js``) uses them
    for collapse, expand and path highlighting.
    """
    boxes, routes, width, height = _layout(graph)
    relation_of: dict[tuple[Any, Any], str] = {}
    for e in graph.edges:
        relation_of.setdefault((e.source_key, e.target_key), e.relation)
    obstacles = [
        (b.x - b.w / 2, b.y - b.h / 2, b.x + b.w / 2, b.y + b.h / 2)
        for k, b in boxes.items()
        if k[0] != "dummy"
    ]
    cap = caption(graph)
    if cap:
        obstacles.append((0.0, 0.0, _MARGIN + len(cap) * 7.0, _MARGIN + 16.0))
    labels = place_labels(_label_groups(graph, boxes, routes), obstacles)
    x0 = min([0.0] + [lb.rect()[0] - _MARGIN / 2 for lb in labels])
    y0 = min([0.0] + [lb.rect()[1] - _MARGIN / 2 for lb in labels])
    x1 = max([width] + [lb.rect()[2] + _MARGIN / 2 for lb in labels])
    y1 = max([height] + [lb.rect()[3] + _MARGIN / 2 for lb in labels])
    w, h = x1 - x0, y1 - y0
    colors = sorted({s["color"] for s in EDGE_STYLE.values()})
    marker = {c: f"arrow{i}" for i, c in enumerate(colors)}  # as edge_marker()
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'class="provgraph" width="{w:.0f}" height="{h:.0f}" '
        f'viewBox="{x0:.0f} {y0:.0f} {w:.0f} {h:.0f}" '
        f'font-family="Helvetica, Arial, sans-serif">\n',
        "<title>provenance</title>\n<defs>\n",
    ]
    for c, mid in marker.items():
        out.append(
            f'<marker id="{mid}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
            f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{c}"/></marker>\n'
        )
    out.append("</defs>\n")
    out.append(
        f'<rect class="background" x="{x0:.0f}" y="{y0:.0f}" width="{w:.0f}" '
        f'height="{h:.0f}" fill="white"/>\n'
    )
    if cap:
        out.append(
            f'<text class="caption" x="{_MARGIN}" y="{_MARGIN + 10}" font-size="13" '
            f'fill="{"#B00000" if graph.truncated else "#000000"}">{escape(cap)}</text>\n'
        )

    def node_id(key: Any) -> str:
        return escape(f"{key[0]}:{key[1]}")

    out.append('<g class="edges">\n')
    for (u, v), chain in routes:
        rel = relation_of[(u, v)]
        style = EDGE_STYLE[rel]
        pts = [(boxes[k].x, boxes[k].y) for k in chain]
        pts[0] = _clip(boxes[u], graph.nodes[u].kind, pts[1])
        pts[-1] = _clip(boxes[v], graph.nodes[v].kind, pts[-2])
        out.append(
            f'<g class="edge {rel}" data-source="{node_id(u)}" data-target="{node_id(v)}">'
            f"<title>{escape(rel)}</title>"
            f'<path d="{_path(pts)}" fill="none" stroke="{style["color"]}" '
            f'marker-end="url(#{marker[style["color"]]})"/></g>\n'
        )
    out.append('</g>\n<g class="edge-labels">\n')
    for lb in labels:
        relation, end, others = lb.keys
        style = EDGE_STYLE[relation]
        ends = " ".join(sorted({node_id(end)} | {node_id(o) for o in others}))
        out.append(
            f'<g class="edge-label {relation}" data-nodes="{ends}"><title>{escape(relation)}: '
            f"{escape(lb.text)}</title>"
            f'<text x="{lb.x:.1f}" y="{lb.y + 3:.1f}" text-anchor="middle" font-size="9" '
            f'fill="{style["fontcolor"]}">{escape(lb.text)}</text></g>\n'
        )
    out.append('</g>\n<g class="nodes">\n')
    more = more or {}
    for key, b in boxes.items():
        if key[0] == "dummy":
            continue
        out.append(_node_markup(graph.nodes[key], graph, b, url_pattern, more.get(key, 0)) + "\n")
    out.append("</g>\n</svg>\n")
    return "".join(out).encode("utf-8")
