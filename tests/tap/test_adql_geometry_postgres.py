"""ADQL geometry executed on a real PostgreSQL, checked against astropy.

A temporary table of points (uploaded as ``TAP_UPLOAD.pts``) holds the hard cases:
both poles, RA 0 / 0.1 / 359.9 / 360, antipodal pairs, the Crab, and random points.
Angular distances come from ``astropy.coordinates.SkyCoord.separation``; polygon
membership from a gnomonic (TAN) projection with ``astropy.wcs``, which maps great
circles to straight lines, and a planar ray-casting test.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

import astropy.units as u
import numpy as np
import pytest
import sqlalchemy as sa
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from provdb.votable.fields import Field
from tap.adql import translate, upload_table_name
from tap.catalog import catalog_from_metadata

CATALOG = catalog_from_metadata()
FIELDS = [
    Field("id", "int"),
    Field("ra", "double"),
    Field("dec", "double"),
    Field("ra180", "double"),
]
TABLE = upload_table_name("pts")

SPECIAL = [
    (0.0, 90.0), (123.0, 90.0), (0.0, -90.0), (300.0, -90.0), (0.0, 89.95), (180.0, 89.95),
    (0.0, 0.0), (0.1, 0.0), (359.9, 0.0), (360.0, 0.0), (359.95, 0.05), (0.05, -0.05),
    (180.0, 0.0), (90.0, 45.0), (270.0, -45.0), (83.633, 22.0145), (83.633, 24.0),
    (85.0, 23.0), (10.0, 10.0), (190.0, -10.0), (359.99, 60.0), (0.01, 60.0),
    (45.0, -89.9), (225.0, -89.9), (11.0, 11.0), (11.5, 10.5), (12.5, 11.5), (10.5, 12.5),
]  # fmt: skip


def _points() -> list[tuple[int, float, float]]:
    rng = random.Random(14)
    points = list(SPECIAL)
    for _ in range(600):
        points.append((rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))))
    for _ in range(200):  # dense around the Crab and around RA 0
        points.append((83.633 + rng.uniform(-3, 3), 22.0145 + rng.uniform(-3, 3)))
        points.append((rng.uniform(-1, 1) % 360, rng.uniform(-1, 1)))
    return [(i, ra, dec) for i, (ra, dec) in enumerate(points)]


POINTS = _points()
COORDS = SkyCoord([p[1] for p in POINTS] * u.deg, [p[2] for p in POINTS] * u.deg)


@pytest.fixture
def conn(engine: sa.Engine) -> Iterator[Any]:
    """A DBAPI connection with the point table."""
    with engine.connect() as connection:
        raw = connection.connection
        cursor = raw.cursor()
        cursor.execute(
            f"CREATE TEMP TABLE {TABLE} (id integer, ra double precision, "
            "dec double precision, ra180 double precision)"
        )
        cursor.executemany(
            f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s)",
            [(i, ra, dec, ra - 360 if ra >= 180 else ra) for i, ra, dec in POINTS],
        )
        cursor.close()
        yield raw
        raw.rollback()


def query(conn: Any, adql: str) -> list[tuple[Any, ...]]:
    sql = translate(adql, CATALOG, maxrec=None, uploads={"pts": FIELDS}).sql
    cursor = conn.cursor()
    cursor.execute(sql)
    rows = [tuple(r) for r in cursor.fetchall()]
    cursor.close()
    return rows


def ids(conn: Any, where: str) -> set[int]:
    return {r[0] for r in query(conn, f"SELECT id FROM TAP_UPLOAD.pts AS p WHERE {where}")}


def expected_cone(ra: float, dec: float, radius: float) -> tuple[set[int], set[int]]:
    """(ids within radius, ids so close to the edge that either answer is right)."""
    sep = COORDS.separation(SkyCoord(ra * u.deg, dec * u.deg)).deg
    inside = {POINTS[i][0] for i in np.nonzero(sep <= radius)[0]}
    edge = {POINTS[i][0] for i in np.nonzero(np.abs(sep - radius) < 1e-9)[0]}
    return inside, edge


def assert_same(got: set[int], expected: set[int], edge: set[int]) -> None:
    assert got - edge == expected - edge, (sorted(got - expected), sorted(expected - got))


# ----------------------------------------------------------------------------- DISTANCE


def test_distance_matches_astropy_for_every_special_pair(conn: Any) -> None:
    rows = query(
        conn,
        "SELECT a.id, b.id, DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)), "
        "DISTANCE(a.ra180, a.dec, b.ra, b.dec) "
        f"FROM TAP_UPLOAD.pts AS a, TAP_UPLOAD.pts AS b WHERE a.id < {len(SPECIAL)} "
        f"AND b.id < {len(SPECIAL)}",
    )
    assert len(rows) == len(SPECIAL) ** 2
    for a, b, d, d4 in rows:
        expected = COORDS[a].separation(COORDS[b]).deg
        assert d == pytest.approx(expected, abs=1e-10), (POINTS[a], POINTS[b])
        assert d4 == pytest.approx(expected, abs=1e-10)
        assert 0 <= d <= 180


def test_distance_edge_values(conn: Any) -> None:
    (row,) = query(
        conn,
        "SELECT DISTANCE(POINT(0, 90), POINT(123, 90)), DISTANCE(POINT(359.9, 0), POINT(0.1, 0)),"
        " DISTANCE(POINT(0, 0), POINT(180, 0)), DISTANCE(POINT(10, 20), POINT(190, -20)),"
        " DISTANCE(POINT(360, 0), POINT(0, 0)), DISTANCE(POINT(0, -90), POINT(0, 90)),"
        " COORD1(POINT(12.5, -3)), COORD2(POINT(12.5, -3)), COORDSYS(POINT('ICRS', 1, 2)) "
        "FROM TAP_UPLOAD.pts AS p WHERE p.id = 0",
    )
    assert row[0] == pytest.approx(0, abs=1e-12)
    assert row[1] == pytest.approx(0.2, abs=1e-12)
    assert row[2] == pytest.approx(180, abs=1e-12)
    assert row[3] == pytest.approx(180, abs=1e-12)
    assert row[4] == pytest.approx(0, abs=1e-12)
    assert row[5] == pytest.approx(180, abs=1e-12)
    assert row[6:] == (12.5, -3.0, "ICRS")


# ----------------------------------------------------------------------------- cones

CONES = [
    (83.633, 22.0145, 2.0),  # the Crab
    (0.0, 0.0, 0.1),  # across RA 0
    (359.95, 0.0, 0.2),
    (0.0, 89.9, 0.5),  # holds the north pole
    (200.0, -89.0, 1.5),  # holds the south pole
    (10.0, 89.0, 0.9),  # reaches 89.9: longitude window near its widest
    (83.633, 22.0145, 0.0),  # zero radius: the point itself
    (180.0, 0.0, 179.99),  # almost everything but the antipode
    (0.0, 0.0, 180.0),  # everything
    (90.0, 45.0, 30.0),
]


@pytest.mark.parametrize(("ra", "dec", "radius"), CONES)
def test_cone_forms_agree_with_astropy(conn: Any, ra: float, dec: float, radius: float) -> None:
    expected, edge = expected_cone(ra, dec, radius)
    circle = f"CIRCLE('ICRS', {ra}, {dec}, {radius})"
    forms = [
        f"CONTAINS(POINT('ICRS', p.ra, p.dec), {circle}) = 1",
        f"1 = CONTAINS(POINT(p.ra180, p.dec), {circle})",  # longitudes in [-180, 180)
        f"INTERSECTS({circle}, POINT(p.ra, p.dec)) = 1",
        f"CONTAINS(POINT(p.ra, p.dec), CIRCLE(POINT({ra}, {dec}), {radius})) <> 0",
        f"DISTANCE(POINT(p.ra, p.dec), POINT({ra}, {dec})) <= {radius}",
        f"{radius} >= DISTANCE(POINT({ra}, {dec}), POINT(p.ra, p.dec))",
        f"CONTAINS(POINT({ra}, {dec}), CIRCLE(p.ra, p.dec, {radius})) = 1",
    ]
    for form in forms:
        assert_same(ids(conn, form), expected, edge)
    everything = {p[0] for p in POINTS}
    outside = ids(conn, f"CONTAINS(POINT(p.ra, p.dec), {circle}) = 0")
    assert_same(outside, everything - expected, edge)
    if radius == 0:
        assert expected == {15}  # the Crab's own row


def test_contains_as_a_value(conn: Any) -> None:
    rows = query(
        conn,
        "SELECT p.id, CONTAINS(POINT(p.ra, p.dec), CIRCLE(0, 0, 0.1)) AS inside "
        "FROM TAP_UPLOAD.pts AS p ORDER BY p.id",
    )
    expected, edge = expected_cone(0, 0, 0.1)
    assert_same({r[0] for r in rows if r[1] == 1}, expected, edge)
    assert {r[1] for r in rows} == {0, 1}


def test_circle_truth_tables(conn: Any) -> None:
    cases = {
        "CONTAINS(CIRCLE(10, 10, 1), CIRCLE(10, 10.5, 2))": 1,
        "CONTAINS(CIRCLE(10, 10, 2), CIRCLE(10, 10.5, 1))": 0,
        "CONTAINS(CIRCLE(359.9, 0, 0.1), CIRCLE(0.1, 0, 0.5))": 1,
        "INTERSECTS(CIRCLE(359.9, 0, 0.1), CIRCLE(0.1, 0, 0.05))": 0,
        "INTERSECTS(CIRCLE(359.9, 0, 0.1), CIRCLE(0.1, 0, 0.11))": 1,
        "INTERSECTS(CIRCLE(0, 89, 1), CIRCLE(180, 89, 1.01))": 1,
        "INTERSECTS(CIRCLE(0, 89, 1), CIRCLE(180, 89, 0.9))": 0,
        "INTERSECTS(POINT(0, 90), CIRCLE(77, 89.5, 0.50001))": 1,
        "INTERSECTS(POINT(0, 90), CIRCLE(77, 89.5, 0.49999))": 0,
        "CONTAINS(POINT(0.05, 0), BOX(0, 0, 0.2, 0.2))": 1,
        "CONTAINS(POINT(359.95, 0), BOX(0, 0, 0.2, 0.2))": 1,
        "CONTAINS(POINT(0.15, 0), BOX(0, 0, 0.2, 0.2))": 0,
        "INTERSECTS(POLYGON(0, 89, 120, 89, 240, 89), POINT(17, 90))": 1,
        "INTERSECTS(POLYGON(0, 89, 120, 89, 240, 89), POINT(17, 88.9))": 0,
    }
    select = ", ".join(cases)
    (row,) = query(conn, f"SELECT {select} FROM TAP_UPLOAD.pts AS p WHERE p.id = 0")
    assert dict(zip(cases, row, strict=True)) == cases


# ----------------------------------------------------------------------------- polygons


def _inside_plane(x: float, y: float, poly: Sequence[tuple[float, float]]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(poly, [*poly[1:], poly[0]], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def expected_polygon(
    vertices: Sequence[tuple[float, float]], centre: tuple[float, float]
) -> set[int]:
    """Points inside, from a gnomonic projection centred on ``centre``."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = list(centre)
    wcs.wcs.cdelt = [1.0, 1.0]
    projected = [tuple(map(float, wcs.wcs_world2pix([v], 0)[0])) for v in vertices]
    centre_coord = SkyCoord(centre[0] * u.deg, centre[1] * u.deg)
    near = COORDS.separation(centre_coord).deg < 89  # TAN projects one hemisphere
    xy = wcs.wcs_world2pix(np.column_stack([COORDS.ra.deg, COORDS.dec.deg]), 0)
    return {
        POINTS[i][0]
        for i in np.nonzero(near)[0]
        if _inside_plane(float(xy[i][0]), float(xy[i][1]), projected)
    }


POLYGONS = [
    # convex, around the Crab, counter-clockwise
    ([(82.0, 20.5), (85.5, 20.0), (85.0, 24.0), (82.5, 23.5)], (83.6, 22.0)),
    # the same, clockwise: the inside is still the smaller region
    ([(82.5, 23.5), (85.0, 24.0), (85.5, 20.0), (82.0, 20.5)], (83.6, 22.0)),
    # across RA 0
    ([(359.5, -0.5), (0.5, -0.5), (0.5, 0.5), (359.5, 0.5)], (0.0, 0.0)),
    # non-convex (an L) across RA 0
    ([(359.2, -0.8), (0.8, -0.8), (0.8, -0.2), (0.3, -0.2), (0.3, 0.8), (359.2, 0.8)], (0.0, 0.0)),
    # around the north pole
    ([(0.0, 89.9), (90.0, 89.9), (180.0, 89.9), (270.0, 89.9)], (0.0, 90.0)),
    # non-convex (a C) around the Crab
    (
        [(81.0, 20.0), (86.0, 20.0), (86.0, 21.0), (82.0, 21.0), (82.0, 23.0), (86.0, 23.0),
         (86.0, 24.0), (81.0, 24.0)],
        (83.5, 22.0),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("vertices", "centre"), POLYGONS)
def test_polygon_contains_agrees_with_a_gnomonic_projection(
    conn: Any, vertices: list[tuple[float, float]], centre: tuple[float, float]
) -> None:
    expected = expected_polygon(vertices, centre)
    assert expected  # the table has points in every test polygon
    flat = ", ".join(f"{lon}, {lat}" for lon, lat in vertices)
    points = ", ".join(f"POINT({lon}, {lat})" for lon, lat in vertices)
    assert ids(conn, f"CONTAINS(POINT(p.ra, p.dec), POLYGON({flat})) = 1") == expected
    assert ids(conn, f"INTERSECTS(POINT(p.ra180, p.dec), POLYGON('ICRS', {points})) = 1") == (
        expected
    )


def test_box_is_the_polygon_of_its_corners(conn: Any) -> None:
    box = ids(conn, "CONTAINS(POINT(p.ra, p.dec), BOX(83.633, 22.0145, 4, 3)) = 1")
    corners = [(81.633, 20.5145), (85.633, 20.5145), (85.633, 23.5145), (81.633, 23.5145)]
    assert box == expected_polygon(corners, (83.633, 22.0145))
    assert box


# ----------------------------------------------------------------------------- index


def test_cone_search_uses_a_btree_on_dec(conn: Any) -> None:
    cursor = conn.cursor()
    cursor.execute(f"CREATE INDEX ON {TABLE} (dec, ra)")
    cursor.execute(f"ANALYZE {TABLE}")
    cursor.execute("SET LOCAL enable_seqscan = off")
    for ra, dec, radius in ((83.633, 22.0145, 2.0), (0.0, 0.0, 0.1), (0.0, 89.9, 0.5)):
        sql = translate(
            f"SELECT id FROM TAP_UPLOAD.pts AS p WHERE "
            f"CONTAINS(POINT(p.ra, p.dec), CIRCLE({ra}, {dec}, {radius})) = 1",
            CATALOG,
            maxrec=None,
            uploads={"pts": FIELDS},
        ).sql
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(r[0] for r in cursor.fetchall())
        assert "Index" in plan and "Seq Scan" not in plan, plan
    cursor.close()
