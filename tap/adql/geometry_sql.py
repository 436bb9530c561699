"""PostgreSQL for the ADQL geometry functions (see :mod:`tap.adql.geometry`).

Used by the generator of :class:`tap.adql.dialect.ADQL`:

* :func:`geo_function_sql` — a geometry function as a value: ``DISTANCE`` (degrees,
  Vincenty), ``COORD1``/``COORD2``, ``COORDSYS`` (``'ICRS'``), and ``CONTAINS`` /
  ``INTERSECTS`` as an integer 0/1 (NULL when a coordinate is NULL);
* :func:`comparison_sql` — the comparisons users write, ``CONTAINS(...) = 1`` (or
  ``= 0``, ``<> 0``, ``1 = ...``) and ``DISTANCE(...) < r`` (``<=``, ``>``, ``>=`` with
  the sides swapped), as a boolean condition: the exact test ANDed with an index-usable
  prefilter (:func:`tap.adql.sphere.cone_prefilter_sql`) when one side is constant, so
  that a cone search on indexed ``s_ra``/``s_dec`` reads only the rows near the cone.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.generator import Generator

from tap.adql.geometry import (
    GeoFunction,
    circle_parts,
    constant,
    point_parts,
    polygon_vertices,
    shape_kind,
)
from tap.adql.sphere import (
    SphericalPolygon,
    cone_prefilter_sql,
    distance_sql,
    lat_band_sql,
)

__all__ = ["comparison_sql", "geo_function_sql"]

_DOUBLE_TYPES = (exp.DType.DOUBLE, exp.DType.FLOAT)


def _double(gen: Generator, node: exp.Expr) -> str:
    sql = gen.sql(node)
    kind = node.type.this if node.type is not None else None
    if kind in _DOUBLE_TYPES:
        return sql
    return f"CAST({sql} AS DOUBLE PRECISION)"


@dataclass(frozen=True)
class _Point:
    lon: str
    lat: str
    lon_value: float | None
    lat_value: float | None

    @property
    def fixed(self) -> bool:
        return self.lon_value is not None and self.lat_value is not None


@dataclass(frozen=True)
class _Circle:
    centre: _Point
    radius: str
    radius_value: float | None


def _point(gen: Generator, lon: exp.Expr, lat: exp.Expr) -> _Point:
    return _Point(_double(gen, lon), _double(gen, lat), constant(lon), constant(lat))


def _shape(gen: Generator, node: exp.Expr) -> _Point | _Circle | SphericalPolygon:
    geo = t.cast(GeoFunction, node)
    kind = shape_kind(geo)
    if kind == "point":
        return _point(gen, *point_parts(geo))
    if kind == "circle":
        lon, lat, radius = circle_parts(geo)
        return _Circle(_point(gen, lon, lat), _double(gen, radius), constant(radius))
    if kind == "polygon":
        return SphericalPolygon.from_vertices(polygon_vertices(geo))
    raise ValueError(f"not a geometry: {node.sql()}")  # pragma: no cover - validated


def _distance(a: _Point, b: _Point) -> str:
    return distance_sql(a.lon, a.lat, b.lon, b.lat)


def _near(point: _Point, centre: _Point, radius: str, radius_value: float | None) -> str:
    """Prefilter for "point within radius of centre", on whichever side varies."""
    if radius_value is not None:
        for varying, fixed in ((point, centre), (centre, point)):
            if fixed.fixed:
                cone = cone_prefilter_sql(
                    varying.lon,
                    varying.lat,
                    t.cast(float, fixed.lon_value),
                    t.cast(float, fixed.lat_value),
                    radius_value,
                )
                return cone or "TRUE"
    return lat_band_sql(point.lat, centre.lat, radius)


def _predicate(gen: Generator, node: GeoFunction) -> tuple[str, str | None]:
    """(exact test, prefilter or None) of CONTAINS / INTERSECTS."""
    first, second = (_shape(gen, arg) for arg in node.expressions)
    if node.name == "INTERSECTS" and not isinstance(first, _Point):
        first, second = second, first  # INTERSECTS(shape, point) = CONTAINS(point, shape)
    if isinstance(first, _Point) and isinstance(second, _Circle):
        exact = f"{_distance(first, second.centre)} <= {second.radius}"
        return exact, _near(first, second.centre, second.radius, second.radius_value)
    if isinstance(first, _Point) and isinstance(second, SphericalPolygon):
        exact = second.contains_sql(first.lon, first.lat)
        cap = second.cap()
        prefilter = cone_prefilter_sql(first.lon, first.lat, *cap) if cap else None
        return exact, prefilter
    if isinstance(first, _Circle) and isinstance(second, _Circle):
        d = _distance(first.centre, second.centre)
        if node.name == "CONTAINS":
            return f"{d} + {first.radius} <= {second.radius}", None
        return f"{d} <= {first.radius} + {second.radius}", None
    raise ValueError(f"unsupported geometry predicate: {node.sql()}")  # pragma: no cover


def geo_function_sql(gen: Generator, node: GeoFunction) -> str:
    """A geometry function used as a value."""
    name = node.name
    args = node.expressions
    if name == "DISTANCE":
        return _distance(*_distance_points(gen, node))
    if name in ("COORD1", "COORD2"):
        point = _shape(gen, args[0])
        assert isinstance(point, _Point)
        return point.lon if name == "COORD1" else point.lat
    if name == "COORDSYS":
        return "'ICRS'"
    if name in ("CONTAINS", "INTERSECTS"):
        exact, _ = _predicate(gen, node)
        return f"CAST(({exact}) AS INTEGER)"
    raise ValueError(f"a {name} value has no SQL form")  # pragma: no cover - validated


def _distance_points(gen: Generator, node: GeoFunction) -> tuple[_Point, _Point]:
    args = node.expressions
    if len(args) == 4:
        return _point(gen, args[0], args[1]), _point(gen, args[2], args[3])
    first, second = (_shape(gen, arg) for arg in args)
    assert isinstance(first, _Point) and isinstance(second, _Point)
    return first, second


# ----------------------------------------------------------------------------- comparisons

_FLIP: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.EQ: exp.EQ,
    exp.NEQ: exp.NEQ,
}
_SYMBOL = {exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=", exp.EQ: "=", exp.NEQ: "<>"}


def _geo(node: exp.Expr, names: tuple[str, ...]) -> GeoFunction | None:
    node = node.unnest() if isinstance(node, exp.Paren) else node
    return node if isinstance(node, GeoFunction) and node.name in names else None


def comparison_sql(gen: Generator, expression: exp.Expr) -> str | None:
    """The boolean SQL of a comparison with CONTAINS/INTERSECTS/DISTANCE, or None."""
    kind = type(expression)
    left, right = expression.this, expression.expression
    func = _geo(left, ("CONTAINS", "INTERSECTS", "DISTANCE"))
    other = right
    if func is None:
        func = _geo(right, ("CONTAINS", "INTERSECTS", "DISTANCE"))
        other = left
        kind = _FLIP[kind]
    if func is None:
        return None
    if func.name == "DISTANCE":
        return _distance_comparison(gen, func, kind, other)
    value = constant(other)
    if kind not in (exp.EQ, exp.NEQ) or value not in (0.0, 1.0):
        return None  # e.g. CONTAINS(...) = 2: the integer comparison says it
    exact, prefilter = _predicate(gen, func)
    if (value == 1.0) == (kind is exp.EQ):
        return f"({prefilter} AND {exact})" if prefilter else f"({exact})"
    return f"(NOT ({exact}))"


def _distance_comparison(
    gen: Generator, func: GeoFunction, kind: type[exp.Expr], other: exp.Expr
) -> str | None:
    """``DISTANCE(p, q) < r`` / ``<=``: the distance test plus a cone prefilter."""
    if kind not in (exp.LT, exp.LTE):
        return None
    first, second = _distance_points(gen, func)
    radius = _double(gen, other)
    exact = f"{_distance(first, second)} {_SYMBOL[kind]} {radius}"
    return f"({_near(first, second, radius, constant(other))} AND {exact})"
