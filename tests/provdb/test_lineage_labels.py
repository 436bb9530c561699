"""Edge labels of the SVG graphs: grouped per shared endpoint, placed without overlaps."""

from __future__ import annotations

import itertools
import re

from provdb.lineage.graph import Edge, Node, ProvGraph
from provdb.lineage.labels import LabelBox, place_labels
from provdb.lineage.svg import svg_python


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labels_on_one_spot_are_spread_apart() -> None:
    node = (-40.0, -10.0, 40.0, 10.0)
    labels = [LabelBox(f"role number {i}", (0.0, 20.0), 1) for i in range(30)]
    place_labels(labels, [node])
    rects = [lb.rect() for lb in labels]
    for a, b in itertools.combinations(rects, 2):
        assert not _overlap(a, b)
    assert not any(_overlap(r, node) for r in rects)
    # the first one placed (the widest) stays at its anchor when that is free
    assert min(abs(lb.y - 20.0) + abs(lb.x) for lb in labels) == 0.0


def test_labels_never_cover_nodes_even_when_boxed_in() -> None:
    wall = [(-500.0 + 60 * i, 0.0, -450.0 + 60 * i, 400.0) for i in range(17)]
    labels = [LabelBox("a rather long label", (5.0, 200.0), -1) for _ in range(5)]
    place_labels(labels, wall)
    for lb in labels:
        assert not any(_overlap(lb.rect(), w) for w in wall)


def _fan_in_graph(n: int) -> ProvGraph:
    """n activities that all use the same three files in the same roles."""
    g = ProvGraph(roots=[("entity", "product")], depth=None, direction="BACK", limit=1000)
    g.add_node(Node("entity", "product", {"name": "Product"}, level=0, start=True))
    for f in ("pedestal", "calibration", "pointing"):
        g.add_node(Node("entity", f, {"name": f.title(), "location": f"/data/{f}.h5"}))
    for i in range(n):
        a = f"act{i}"
        g.add_node(Node("activity", a, {"name": "r0_to_dl1", "start_time": f"2020-01-17T0{i}"}))
        g.add_edge(Edge("wasGeneratedBy", "product", a, (("role", "DL1 file"),)))
        for f in ("pedestal", "calibration", "pointing"):
            g.add_edge(Edge("used", a, f, (("role", f"{f} file"),)))
    return g.finish()


def test_repeated_roles_are_one_label_with_a_count() -> None:
    svg = svg_python(_fan_in_graph(4)).decode()
    labels = re.findall(
        r'<g class="edge-label [^"]*"[^>]*><title>[^<]*</title><text[^>]*>([^<]*)</text>', svg
    )
    assert sorted(labels) == sorted(
        ["pedestal file ×4", "calibration file ×4", "pointing file ×4", "DL1 file ×4"]
    )
    # every edge is still drawn, with the ids the viewer needs
    assert svg.count('<g class="edge used"') == 12
    assert 'data-source="activity:act0" data-target="entity:pedestal"' in svg
    assert 'data-start="true"' in svg


def test_inputs_are_ordered_left_to_right_in_time() -> None:
    svg = svg_python(_fan_in_graph(4)).decode()
    xs = []
    for i in range(4):
        m = re.search(rf'id="activity:act{i}".*?<rect x="([0-9.]+)"', svg, re.S)
        assert m
        xs.append(float(m.group(1)))
    assert xs == sorted(xs)


def test_long_file_names_keep_their_end_and_full_text_on_hover() -> None:
    g = ProvGraph(roots=[("entity", "e")], depth=None, direction="BACK", limit=10)
    long = "calibration_filters_52.Run01809.0000.with.a.very.long.suffix.h5"
    g.add_node(Node("entity", "e", {"name": "File", "location": f"/x/{long}"}, 0, True))
    svg = svg_python(g.finish()).decode()
    assert "…" + long[-33:] in svg
    assert f"location: /x/{long}" in svg  # the tooltip
