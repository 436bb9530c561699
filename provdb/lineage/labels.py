"""Edge labels of a drawn graph: grouped, then placed where they overlap nothing.

A lineage graph repeats the same role many times (four ``r0_to_dl1`` activities each
use the same pedestal file as "Pedestal file"): drawn on every edge, the labels pile
into an unreadable smear. Here the edges that share an endpoint, a relation and a
label are given one label, written once next to that shared endpoint, with the count
(``Pedestal file ×4``). The labels are then placed greedily: each tries positions
close to its anchor and takes the first that overlaps no node and no label placed
before it. Pure geometry: no SVG, no graph classes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["LabelBox", "char_width", "place_labels"]

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1

_CHAR_W = 5.3  # average Helvetica advance at 9 px
_PAD = 2.0


def char_width(text: str, per_char: float = _CHAR_W) -> float:
    """Width of ``text`` at 9 px, a little generous so that real glyphs fit."""
    return len(text) * per_char + 4.0


@dataclass
class LabelBox:
    """One edge label: its text, where it wants to be and where it was put.

    ``anchor`` is the point next to the shared endpoint; ``side`` is -1 when the edges
    leave that endpoint upwards (the label goes above), +1 when they go down.
    """

    text: str
    anchor: tuple[float, float]
    side: int
    height: float = 11.0
    x: float = 0.0
    y: float = 0.0
    keys: list = field(default_factory=list)

    @property
    def width(self) -> float:
        return char_width(self.text)

    def rect(self, x: float | None = None, y: float | None = None) -> Rect:
        """Bounding box with the text centred on (x, y)."""
        cx = self.x if x is None else x
        cy = self.y if y is None else y
        w, h = self.width / 2, self.height / 2
        return cx - w, cy - h, cx + w, cy + h


def _hits(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] + _PAD and b[0] < a[2] + _PAD and a[1] < b[3] + _PAD and b[1] < a[3] + _PAD


def _candidates(label: LabelBox) -> Iterable[tuple[float, float]]:
    """Positions to try, nearest first: along the edge direction, then sideways."""
    ax, ay = label.anchor
    step_y = label.height + 2.0
    step_x = label.width / 2 + 6.0
    for ring in range(0, 12):
        dy = label.side * ring * step_y
        yield ax, ay + dy
        for k in (1, 2, 3):
            yield ax + k * step_x, ay + dy
            yield ax - k * step_x, ay + dy


class _Grid:
    """Rectangles bucketed in square cells, so that a lookup only sees its neighbours."""

    def __init__(self, cell: float = 64.0) -> None:
        self.cell = cell
        self.cells: dict[tuple[int, int], list[Rect]] = defaultdict(list)

    def _keys(self, r: Rect) -> Iterable[tuple[int, int]]:
        c = self.cell
        for i in range(math.floor(r[0] / c), math.floor(r[2] / c) + 1):
            for j in range(math.floor(r[1] / c), math.floor(r[3] / c) + 1):
                yield i, j

    def add(self, r: Rect) -> None:
        for k in self._keys(r):
            self.cells[k].append(r)

    def hits(self, r: Rect) -> bool:
        grown = (r[0] - _PAD, r[1] - _PAD, r[2] + _PAD, r[3] + _PAD)
        return any(_hits(r, o) for k in self._keys(grown) for o in self.cells.get(k, ()))


def place_labels(labels: Sequence[LabelBox], obstacles: Sequence[Rect]) -> list[LabelBox]:
    """Set ``x``/``y`` of every label so that no two labels and no label and node overlap.

    Labels are placed in order (wider first, as they are the hardest to fit). When
    none of the nearby positions is free, the label moves further out along its side
    until it is: the loop always ends, since the obstacles are finite.
    """
    taken = _Grid()
    for o in obstacles:
        taken.add(o)
    for label in sorted(labels, key=lambda lb: (-lb.width, lb.anchor)):
        spot = None
        for x, y in _candidates(label):
            if not taken.hits(label.rect(x, y)):
                spot = (x, y)
                break
        if spot is None:
            x, y = label.anchor
            while True:
                y += (label.side or 1) * (label.height + 2.0)
                if not taken.hits(label.rect(x, y)):
                    spot = (x, y)
                    break
        label.x, label.y = spot
        taken.add(label.rect())
    return list(labels)
