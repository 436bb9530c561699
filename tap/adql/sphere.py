"""Spherical geometry as plain PostgreSQL expressions (no pgSphere), and the constant
math the translator does beforehand.

Pure functions: they take SQL text for the varying parts (columns, expressions, already
double precision) and Python floats for the constants, and return SQL text. Angles are
in degrees everywhere; PostgreSQL's degree functions (``sind``, ``cosd``, ``atan2d``)
are exact at the special angles (``sind(180) = 0``), which keeps RA 0 / 360 and the
poles exact.

* :func:`distance_sql` — great-circle distance with Vincenty's formula, an ``atan2``
  of two well-conditioned terms: accurate at zero separation and at antipodes alike,
  with no ``asin``/``acos`` whose argument rounding could leave [-1, 1].
* :func:`cone_prefilter_sql` — a superset of a cone that a btree on the latitude (or on
  latitude then longitude) can serve: a latitude band, and a longitude window widened by
  the cone's true longitude half-width (``asin(sin r / cos dec)``), repeated at ±360 for
  windows across RA 0/360 and for longitudes stored in [-180, 180); no longitude window
  when the cone reaches a pole.
* :class:`SphericalPolygon` — a polygon with great-circle edges, oriented so that its
  inside is the smaller of the two regions its edges bound, with the SQL test for a
  point inside it (half-spaces for a convex polygon, a winding number otherwise) and the
  cap that encloses it (for a prefilter).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "EPSILON_DEG",
    "SphericalPolygon",
    "cone_prefilter_sql",
    "distance",
    "distance_sql",
    "lat_band_sql",
    "number",
]

#: Margin (degrees, ~3.6 µas) by which prefilters are widened: far above the rounding of
#: the exact test (~1e-14 deg), far below anything a cone search asks for.
EPSILON_DEG = 1e-9

Vector = tuple[float, float, float]


def number(value: float) -> str:
    """A finite float as an SQL numeric literal that reads back to the same double."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value}")
    text = repr(float(value))
    return f"CAST({text} AS DOUBLE PRECISION)"


def distance_sql(lon1: str, lat1: str, lon2: str, lat2: str) -> str:
    """Angular distance in degrees between (lon1, lat1) and (lon2, lat2), SQL degrees in."""
    dlon = f"({lon2}) - ({lon1})"
    y1 = f"cosd({lat2}) * sind({dlon})"
    y2 = f"cosd({lat1}) * sind({lat2}) - sind({lat1}) * cosd({lat2}) * cosd({dlon})"
    x = f"sind({lat1}) * sind({lat2}) + cosd({lat1}) * cosd({lat2}) * cosd({dlon})"
    return f"atan2d(sqrt(power({y1}, 2) + power({y2}, 2)), {x})"


def lat_band_sql(lat: str, lat0: str, radius: str) -> str:
    """``lat`` within ``radius`` (+ margin) of ``lat0``: a superset of any cone there."""
    eps = number(EPSILON_DEG)
    return f"({lat}) BETWEEN ({lat0}) - ({radius}) - {eps} AND ({lat0}) + ({radius}) + {eps}"


def lon_half_width(lat0: float, radius: float) -> float | None:
    """Largest longitude offset of a point within ``radius`` of latitude ``lat0``.

    ``None`` when the cone holds a pole (every longitude is in it). Clamped: the ratio
    below 1 can round above it right before a cone reaches a pole.
    """
    if abs(lat0) + radius >= 90.0:
        return None
    ratio = math.sin(math.radians(radius)) / math.cos(math.radians(lat0))
    half = math.degrees(math.asin(min(1.0, ratio)))
    return half * (1 + 1e-12) + EPSILON_DEG


def cone_prefilter_sql(lon: str, lat: str, lon0: float, lat0: float, radius: float) -> str | None:
    """Index-usable superset of "(lon, lat) within ``radius`` of (lon0, lat0)".

    ``lon``/``lat`` are the SQL of the varying point (plain columns for an index to be
    used), the centre and radius constants. ``None`` when no restriction helps (a radius
    of 180 degrees or more). Longitudes are compared in three windows, the centre's and
    the ones 360 degrees either side: points stored with RA in [0, 360) or in
    [-180, 180) are both found across RA 0.
    """
    if radius >= 180.0 or radius < 0:
        return None
    eps = EPSILON_DEG
    low, high = lat0 - radius - eps, lat0 + radius + eps
    parts = [f"{lat} BETWEEN {number(low)} AND {number(high)}"]
    half = lon_half_width(lat0, radius)
    if half is not None and half < 180.0:
        centre = lon0 % 360.0
        windows = [
            f"{lon} BETWEEN {number(centre - half + shift)} AND {number(centre + half + shift)}"
            for shift in (-360.0, 0.0, 360.0)
        ]
        parts.append("(" + " OR ".join(windows) + ")")
    return " AND ".join(parts)


# ----------------------------------------------------------------------------- vectors


def unit(lon: float, lat: float) -> Vector:
    """The unit vector of a sky position (degrees)."""
    lo, la = math.radians(lon), math.radians(lat)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


def _cross(a: Vector, b: Vector) -> Vector:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Vector, b: Vector) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _norm(a: Vector) -> float:
    return math.sqrt(_dot(a, a))


def _lonlat(v: Vector) -> tuple[float, float]:
    n = _norm(v)
    lon = math.degrees(math.atan2(v[1], v[0])) % 360.0
    lat = math.degrees(math.asin(max(-1.0, min(1.0, v[2] / n))))
    return lon, lat


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Angular distance in degrees (Vincenty), the Python twin of :func:`distance_sql`."""
    a, b = unit(lon1, lat1), unit(lon2, lat2)
    return math.degrees(math.atan2(_norm(_cross(a, b)), _dot(a, b)))


Vector3Sql = tuple[str, str, str]


def _point_xyz(lon: str, lat: str) -> Vector3Sql:
    return (
        f"cosd({lat}) * cosd({lon})",
        f"cosd({lat}) * sind({lon})",
        f"sind({lat})",
    )


def _dot_sql(v: Vector, xyz: Vector3Sql) -> str:
    return (
        f"({number(v[0])} * ({xyz[0]}) + {number(v[1])} * ({xyz[1]}) + {number(v[2])} * ({xyz[2]}))"
    )


@dataclass(frozen=True)
class SphericalPolygon:
    """A polygon on the sphere with great-circle edges between consecutive vertices.

    Its inside is the smaller of the two regions the edges bound, whatever the order
    the vertices were given in (DALI asks for counter-clockwise, clients do not always
    comply). Build it with :meth:`from_vertices`.
    """

    vertices: tuple[tuple[float, float], ...]  # counter-clockwise (inside on the left)
    convex: bool

    @classmethod
    def from_vertices(cls, vertices: Sequence[tuple[float, float]]) -> SphericalPolygon:
        """Orient and classify ``vertices`` (lon, lat degrees).

        Raises
        ------
        ValueError
            Fewer than 3 distinct vertices, two consecutive vertices antipodal (the
            edge between them is undefined) or all vertices on one great circle.
        """
        points: list[tuple[float, float]] = []
        for lon, lat in vertices:
            if points and distance(*points[-1], lon, lat) < 1e-12:
                continue  # a repeated vertex (also the closing one) adds no edge
            points.append((lon, lat))
        if len(points) > 1 and distance(*points[-1], *points[0]) < 1e-12:
            points.pop()
        if len(points) < 3:
            raise ValueError("a polygon needs at least 3 distinct vertices")
        vectors = [unit(*p) for p in points]
        count = len(vectors)
        normals = []
        for i in range(count):
            normal = _cross(vectors[i], vectors[(i + 1) % count])
            if _norm(normal) < 1e-12:
                raise ValueError(
                    f"vertices {i + 1} and {(i + 1) % count + 1} are antipodal: "
                    "the edge between them is undefined"
                )
            normals.append(normal)
        turns = []
        for i in range(count):
            v = vectors[i]
            incoming = _cross(normals[i - 1], v)
            outgoing = _cross(normals[i], v)
            turns.append(math.atan2(_dot(_cross(incoming, outgoing), v), _dot(incoming, outgoing)))
        left_area = 2 * math.pi - sum(turns)  # Gauss-Bonnet: the area on the left of the edges
        if abs(left_area - 2 * math.pi) < 1e-9:
            raise ValueError("the polygon's two sides are equal (vertices on one great circle?)")
        if left_area > 2 * math.pi:
            points.reverse()
            turns = [-t for t in reversed(turns)]
        convex = all(t >= -1e-12 for t in turns)
        return cls(vertices=tuple(points), convex=convex)

    def contains_sql(self, lon: str, lat: str) -> str:
        """SQL: the point (lon, lat) is inside (boundary included for convex polygons)."""
        xyz = _point_xyz(lon, lat)
        vectors = [unit(*p) for p in self.vertices]
        count = len(vectors)
        if self.convex:
            # inside on the left of every edge: (Vi x Vi+1) . P >= 0
            tests = [
                f"{_dot_sql(_cross(vectors[i], vectors[(i + 1) % count]), xyz)} >= 0"
                for i in range(count)
            ]
            return "(" + " AND ".join(tests) + ")"
        # winding number of the edges around P: sum of the signed angles at P between
        # the directions to Vi and Vi+1; 360 degrees inside, 0 (or -360) outside
        terms = []
        for i in range(count):
            a, b = vectors[i], vectors[(i + 1) % count]
            sine = _dot_sql(_cross(a, b), xyz)
            cosine = f"{number(_dot(a, b))} - {_dot_sql(a, xyz)} * {_dot_sql(b, xyz)}"
            terms.append(f"atan2d({sine}, {cosine})")
        return f"({' + '.join(terms)}) > 180"

    def cap(self) -> tuple[float, float, float] | None:
        """(lon, lat, radius) of a cap smaller than a hemisphere holding the polygon.

        The centre is the mean of the vertex vectors, the radius the farthest vertex:
        every edge lies in the cap when it is below 90 degrees (a cap that small is
        convex), and so does the inside. ``None`` for larger polygons.
        """
        vectors = [unit(*p) for p in self.vertices]
        total = (
            sum(v[0] for v in vectors),
            sum(v[1] for v in vectors),
            sum(v[2] for v in vectors),
        )
        if _norm(total) < 1e-9:
            return None
        lon0, lat0 = _lonlat(total)
        radius = max(distance(lon0, lat0, *p) for p in self.vertices)
        if radius >= 89.0:
            return None
        return lon0, lat0, radius + EPSILON_DEG
