"""ADQL 2.1 geometry in the tree: the :class:`GeoFunction` node and its checks.

Supported (TAPRegExt ``features-adqlgeo``): ``POINT``, ``CIRCLE``, ``BOX``, ``POLYGON``
(values), ``CONTAINS``, ``INTERSECTS`` (0/1), ``DISTANCE`` (degrees), ``COORD1``,
``COORD2`` (degrees) and ``COORDSYS`` (``'ICRS'``). Not supported: ``AREA``,
``CENTROID``, ``REGION`` and geometry-typed columns.

Forms (ADQL 2.1, with the deprecated leading coordinate-system string of ADQL 2.0
accepted when it names ICRS or is empty)::

    POINT([sys,] lon, lat)
    CIRCLE([sys,] lon, lat, radius)      CIRCLE([sys,] point, radius)
    BOX([sys,] lon, lat, width, height)  BOX([sys,] point, width, height)
    POLYGON([sys,] lon1, lat1, lon2, lat2, lon3, lat3, ...)
    POLYGON([sys,] point1, point2, point3, ...)
    DISTANCE(point, point)               DISTANCE(lon1, lat1, lon2, lat2)
    CONTAINS(point, circle | box | polygon)   CONTAINS(circle, circle)
    INTERSECTS(point, shape) / (shape, point) / (circle, circle)
    COORD1(point)  COORD2(point)  COORDSYS(geometry)

Geometry values exist only as arguments of these functions: a select list or a
comparison refuses them (this service returns no geometry columns). The vertices of a
BOX or POLYGON are constants (numbers, or arithmetic on numbers), so that the polygon is
oriented and checked once, when the query is translated. A BOX is the polygon of its
four corners (its edges are great circles, like every polygon's). Errors are raised
through the ``fail`` callback of :func:`check_geometry` (the validator's positioned
:class:`~tap.adql.errors.ADQLError`).
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Callable

from sqlglot import exp

from tap.adql.sphere import SphericalPolygon

__all__ = [
    "CONSTRUCTORS",
    "SUPPORTED",
    "GeoFunction",
    "box_vertices",
    "check_geometry",
    "circle_parts",
    "constant",
    "geo_builder",
    "point_parts",
    "polygon_vertices",
    "shape_kind",
]

#: Geometry functions this service translates.
SUPPORTED = (
    "BOX", "CIRCLE", "CONTAINS", "COORD1", "COORD2", "COORDSYS", "DISTANCE", "INTERSECTS",
    "POINT", "POLYGON",
)  # fmt: skip

#: Functions that make a geometry value, and the kind of value they make.
CONSTRUCTORS = {"POINT": "point", "CIRCLE": "circle", "BOX": "polygon", "POLYGON": "polygon"}

_USE = "use it inside CONTAINS, INTERSECTS, DISTANCE, COORD1/COORD2 or COORDSYS"


class GeoFunction(exp.Expression, exp.Func):
    """An ADQL geometry function call; ``this`` is the upper-case ADQL name."""

    arg_types: t.ClassVar[dict[str, bool]] = {"this": True, "expressions": False}
    is_var_len_args = True

    @property
    def name(self) -> str:
        return str(self.this)


def geo_builder(name: str) -> Callable[[list[exp.Expr]], GeoFunction]:
    """The sqlglot parser entry for geometry function ``name``."""

    def build(args: list[exp.Expr]) -> GeoFunction:
        return GeoFunction(this=name, expressions=args)

    return build


def shape_kind(node: exp.Expr | None) -> str | None:
    """``'point'``, ``'circle'`` or ``'polygon'`` for a geometry value, else ``None``."""
    if isinstance(node, GeoFunction):
        return CONSTRUCTORS.get(node.name)
    return None


# ----------------------------------------------------------------------------- constants


def constant(node: exp.Expr | None) -> float | None:
    """The value of a constant numeric expression (literals, signs, + - * /), else None."""
    if node is None:
        return None
    if isinstance(node, exp.Paren):
        return constant(node.this)
    if isinstance(node, exp.Cast) and node.meta.get("typed_literal"):
        return constant(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return None
        try:
            value = float(node.this)
        except ValueError:
            return None
        return value if math.isfinite(value) else None
    if isinstance(node, exp.Neg):
        value = constant(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div):
        left, right = constant(node.this), constant(node.expression)
        if left is None or right is None:
            return None
        if isinstance(node, exp.Add):
            return left + right
        if isinstance(node, exp.Sub):
            return left - right
        if isinstance(node, exp.Mul):
            return left * right
        return left / right if right != 0 else None
    return None


# ----------------------------------------------------------------------------- forms


def _args(node: GeoFunction) -> list[exp.Expr]:
    """Arguments after the optional coordinate-system string of a constructor."""
    args = list(node.expressions)
    if node.name in CONSTRUCTORS and args and _is_string(args[0]):
        return args[1:]
    return args


def _is_string(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


def point_parts(node: GeoFunction) -> tuple[exp.Expr, exp.Expr]:
    """(lon, lat) of ``POINT([sys,] lon, lat)``."""
    lon, lat = _args(node)
    return lon, lat


def circle_parts(node: GeoFunction) -> tuple[exp.Expr, exp.Expr, exp.Expr]:
    """(lon, lat, radius) of either CIRCLE form."""
    args = _args(node)
    if len(args) == 2:
        lon, lat = point_parts(t.cast(GeoFunction, args[0]))
        return lon, lat, args[1]
    return args[0], args[1], args[2]


def box_vertices(node: GeoFunction) -> list[tuple[float, float]]:
    """The four corners of a constant BOX, counter-clockwise."""
    args = _args(node)
    if len(args) == 3:
        lon_node, lat_node = point_parts(t.cast(GeoFunction, args[0]))
        values = [constant(lon_node), constant(lat_node), constant(args[1]), constant(args[2])]
    else:
        values = [constant(a) for a in args]
    lon, lat, width, height = (t.cast(float, v) for v in values)
    w, h = width / 2, height / 2
    return [(lon - w, lat - h), (lon + w, lat - h), (lon + w, lat + h), (lon - w, lat + h)]


def polygon_vertices(node: GeoFunction) -> list[tuple[float, float]]:
    """The vertices of a constant POLYGON or BOX, as given."""
    if node.name == "BOX":
        return box_vertices(node)
    args = _args(node)
    if all(shape_kind(a) == "point" for a in args):
        pairs = [point_parts(t.cast(GeoFunction, a)) for a in args]
        return [(t.cast(float, constant(lo)), t.cast(float, constant(la))) for lo, la in pairs]
    values = [t.cast(float, constant(a)) for a in args]
    return list(zip(values[0::2], values[1::2], strict=True))


# ----------------------------------------------------------------------------- checks

Fail = Callable[..., t.NoReturn]


class _Checker:
    def __init__(self, node: GeoFunction, fail: Fail) -> None:
        self.node = node
        self.name = node.name
        self.fail = fail

    def error(self, message: str, node: exp.Expr | None = None, hint: str | None = None) -> None:
        self.fail(message, node if node is not None else self.node, hint=hint)

    def numeric(self, arg: exp.Expr, what: str) -> None:
        kind = shape_kind(arg)
        if kind is not None:
            self.error(f"{self.name} needs a number as {what}, not a {kind.upper()}", arg)
        if _is_string(arg):
            self.error(f"{self.name} needs a number as {what}, not a string", arg)

    def latitude(self, arg: exp.Expr) -> None:
        value = constant(arg)
        if value is not None and not -90.0 <= value <= 90.0:
            self.error(f"latitude {value:g} is outside [-90, 90] degrees", arg)

    def point(self, arg: exp.Expr, what: str) -> None:
        kind = shape_kind(arg)
        if kind != "point":
            got = f"a {kind.upper()}" if kind else "a number or column"
            self.error(
                f"{self.name} needs a POINT as {what}, not {got}",
                arg,
                hint="e.g. POINT(s_ra, s_dec)",
            )

    def coordsys(self) -> None:
        args = self.node.expressions
        if not args or not _is_string(args[0]):
            return
        system = args[0].name.strip().upper()
        if system and system.split()[0] != "ICRS":
            self.error(
                f"coordinate system '{args[0].name}' is not supported: only ICRS",
                args[0],
                hint="write POINT(ra, dec) with ICRS degrees, or 'ICRS' as the first argument",
            )

    def positive(self, arg: exp.Expr, what: str) -> None:
        value = constant(arg)
        if value is not None and value < 0:
            self.error(f"{self.name} {what} must not be negative (got {value:g})", arg)

    # one method per function -------------------------------------------------

    def check(self) -> None:
        getattr(self, f"check_{self.name.lower()}")()
        if self.name in CONSTRUCTORS:
            self.placement()

    def placement(self) -> None:
        parent = self.node.parent
        if isinstance(parent, GeoFunction):
            return  # the parent checks what it takes
        if isinstance(parent, exp.Alias | exp.Select):
            self.error(
                f"this service does not return geometry values ({self.name})",
                hint="select the coordinates instead, e.g. COORD1(p), COORD2(p) or s_ra, s_dec",
            )
        self.error(f"{self.name}(...) is a geometry value here", hint=_USE)

    def check_point(self) -> None:
        self.coordsys()
        args = _args(self.node)
        if len(args) != 2:
            self.error(f"POINT takes 2 coordinates (lon, lat), got {len(args)}")
        self.numeric(args[0], "longitude")
        self.numeric(args[1], "latitude")
        self.latitude(args[1])

    def check_circle(self) -> None:
        self.coordsys()
        args = _args(self.node)
        if len(args) == 2:
            self.point(args[0], "centre")
        elif len(args) == 3:
            self.numeric(args[0], "longitude")
            self.numeric(args[1], "latitude")
            self.latitude(args[1])
        else:
            self.error(
                f"CIRCLE takes (lon, lat, radius) or (point, radius), got {len(args)} arguments"
            )
        self.numeric(args[-1], "radius")
        self.positive(args[-1], "radius")

    def check_box(self) -> None:
        self.coordsys()
        args = _args(self.node)
        if len(args) == 3:
            self.point(args[0], "centre")
            numbers = [*point_parts(t.cast(GeoFunction, args[0])), *args[1:]]
        elif len(args) == 4:
            numbers = args
        else:
            self.error(
                "BOX takes (lon, lat, width, height) or (point, width, height), "
                f"got {len(args)} arguments"
            )
        for arg, what in zip(numbers, ("longitude", "latitude", "width", "height"), strict=True):
            self.numeric(arg, what)
            self.constant(arg, "BOX")
        self.positive(numbers[2], "width")
        self.positive(numbers[3], "height")
        self.shape()

    def check_polygon(self) -> None:
        self.coordsys()
        args = _args(self.node)
        if args and all(shape_kind(a) == "point" for a in args):
            if len(args) < 3:
                self.error(f"POLYGON needs at least 3 vertices, got {len(args)}")
            for arg in args:
                for part in point_parts(t.cast(GeoFunction, arg)):
                    self.constant(part, "POLYGON")
        else:
            if len(args) < 6 or len(args) % 2:
                self.error(
                    "POLYGON takes 3 or more vertices: lon1, lat1, lon2, lat2, lon3, lat3, ... "
                    f"(an even number of coordinates), got {len(args)}"
                )
            for i, arg in enumerate(args):
                self.numeric(arg, "latitude" if i % 2 else "longitude")
                self.constant(arg, "POLYGON")
                if i % 2:
                    self.latitude(arg)
        self.shape()

    def constant(self, arg: exp.Expr, where: str) -> None:
        if constant(arg) is None:
            self.error(
                f"{where} coordinates must be constant numbers here",
                arg,
                hint="use CIRCLE or DISTANCE for positions taken from columns",
            )

    def shape(self) -> None:
        try:
            vertices = polygon_vertices(self.node)
            for _, lat in vertices:
                if not -90.0 <= lat <= 90.0:
                    raise ValueError(f"a corner latitude ({lat:g}) is outside [-90, 90]")
            SphericalPolygon.from_vertices(vertices)
        except ValueError as err:
            self.error(f"invalid {self.name}: {err}")

    def check_distance(self) -> None:
        args = self.node.expressions
        if len(args) == 2:
            self.point(args[0], "first argument")
            self.point(args[1], "second argument")
        elif len(args) == 4:
            for arg, what in zip(args, ("lon1", "lat1", "lon2", "lat2"), strict=True):
                self.numeric(arg, what)
            self.latitude(args[1])
            self.latitude(args[3])
        else:
            self.error(
                f"DISTANCE takes (point, point) or (lon1, lat1, lon2, lat2), got {len(args)}"
            )

    def check_coord1(self) -> None:
        args = self.node.expressions
        if len(args) != 1:
            self.error(f"{self.name} takes 1 argument (a POINT), got {len(args)}")
        self.point(args[0], "argument")

    check_coord2 = check_coord1

    def check_coordsys(self) -> None:
        args = self.node.expressions
        if len(args) != 1 or shape_kind(args[0]) is None:
            self.error("COORDSYS takes 1 geometry (POINT, CIRCLE, BOX or POLYGON)")

    def check_contains(self) -> None:
        first, second = self.two_shapes()
        if (first, second) in (("point", "circle"), ("point", "polygon"), ("circle", "circle")):
            return
        self.error(
            f"CONTAINS({first.upper()}, {second.upper()}) is not supported",
            hint="supported: CONTAINS(POINT, CIRCLE|BOX|POLYGON) and CONTAINS(CIRCLE, CIRCLE)",
        )

    def check_intersects(self) -> None:
        first, second = self.two_shapes()
        pair = {first, second}
        if pair == {"circle"} or ("point" in pair and pair != {"point"}):
            return
        self.error(
            f"INTERSECTS({first.upper()}, {second.upper()}) is not supported",
            hint="supported: INTERSECTS with a POINT on one side (and a CIRCLE, BOX or "
            "POLYGON on the other), or of two CIRCLEs",
        )

    def two_shapes(self) -> tuple[str, str]:
        args = self.node.expressions
        if len(args) != 2:
            self.error(f"{self.name} takes 2 geometries, got {len(args)}")
        kinds = [shape_kind(a) for a in args]
        for arg, kind in zip(args, kinds, strict=True):
            if kind is None:
                self.error(
                    f"{self.name} needs geometries (POINT, CIRCLE, BOX, POLYGON)",
                    arg,
                    hint="e.g. CONTAINS(POINT(s_ra, s_dec), CIRCLE(83.633, 22.0145, 2)) = 1",
                )
        return t.cast(str, kinds[0]), t.cast(str, kinds[1])


def check_geometry(node: GeoFunction, fail: Fail) -> None:
    """Refuse a geometry call of a wrong form, or a geometry value out of place.

    ``fail(message, node, hint=...)`` raises the positioned error.
    """
    _Checker(node, fail).check()
