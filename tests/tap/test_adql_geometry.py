"""ADQL geometry without a database: forms, positioned errors, the SQL written, and the
spherical math the translator does beforehand (checked against astropy)."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from tap.adql import LANGUAGE_FEATURES, ADQLError, translate
from tap.adql.sphere import SphericalPolygon, cone_prefilter_sql, distance, lon_half_width
from tap.catalog import Catalog, catalog_from_metadata
from tap.config import TapConfig
from tap.vosi.documents import capabilities

CATALOG = catalog_from_metadata()
T = "provenance.entity"


def sql(where: str, select: str = "id") -> str:
    return translate(f"SELECT {select} FROM {T} WHERE {where}", CATALOG, maxrec=10).sql


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("adql", "message", "line", "column"),
    [
        ("SELECT POINT(1, 2) FROM provenance.entity", "does not return geometry values", 1, 8),
        (
            "SELECT id FROM provenance.entity WHERE POINT(1, 2) = 1",
            "POINT(...) is a geometry value here",
            1,
            40,
        ),
        (
            "SELECT id FROM provenance.entity WHERE\n  DISTANCE(POINT(1, 2)) < 1",
            "DISTANCE takes",
            2,
            3,
        ),
        (
            "SELECT id FROM provenance.entity WHERE CONTAINS(POINT(1, 2), POINT(1, 2)) = 1",
            "CONTAINS(POINT, POINT) is not supported",
            1,
            40,
        ),
        (
            "SELECT id FROM provenance.entity WHERE "
            "CONTAINS(CIRCLE(1, 2, 3), POLYGON(1, 2, 3, 4, 5, 6)) = 1",
            "CONTAINS(CIRCLE, POLYGON) is not supported",
            1,
            40,
        ),
        (
            "SELECT id FROM provenance.entity WHERE "
            "INTERSECTS(POLYGON(1, 2, 3, 4, 5, 6), BOX(1, 2, 3, 4)) = 1",
            "INTERSECTS(POLYGON, POLYGON) is not supported",
            1,
            40,
        ),
        (
            "SELECT id FROM provenance.entity WHERE CONTAINS(POINT(1, 2), CIRCLE(1, 2, 3))",
            "WHERE needs a condition: CONTAINS returns 0 or 1",
            1,
            40,
        ),
        (
            "SELECT id FROM provenance.entity WHERE CONTAINS(POINT(1, 91), CIRCLE(1, 2, 3)) = 1",
            "latitude 91 is outside [-90, 90]",
            1,
            58,
        ),
        (
            "SELECT id FROM provenance.entity WHERE CONTAINS(POINT(1, 2), CIRCLE(1, 2, -3)) = 1",
            "radius must not be negative",
            1,
            76,
        ),
        (
            "SELECT id FROM provenance.entity WHERE "
            "CONTAINS(POINT(1, 2), CIRCLE('GALACTIC', 1, 2, 3)) = 1",
            "coordinate system 'GALACTIC' is not supported",
            1,
            69,
        ),
        (
            "SELECT id FROM provenance.entity WHERE CONTAINS(POINT(1, 2), POLYGON(1, 2, 3, 4)) = 1",
            "POLYGON takes 3 or more vertices",
            1,
            62,
        ),
        (
            "SELECT id FROM provenance.entity WHERE "
            "CONTAINS(POINT(1, 2), POLYGON(size_bytes, 2, 3, 4, 5, 6)) = 1",
            "POLYGON coordinates must be constant",
            1,
            70,
        ),
        (
            "SELECT id FROM provenance.entity WHERE "
            "CONTAINS(POINT(1, 2), POLYGON(0, 0, 180, 0, 10, 10)) = 1",
            "antipodal",
            1,
            62,
        ),
        (
            "SELECT id FROM provenance.entity WHERE CONTAINS(POINT(1, 2), BOX(1, 89, 3, 4)) = 1",
            "outside [-90, 90]",
            1,
            62,
        ),
        ("SELECT COORD1(CIRCLE(1, 2, 3)) FROM provenance.entity", "COORD1 needs a POINT", 1, 15),
        ("SELECT COORD2(POINT(1, 'y')) FROM provenance.entity", "number as latitude", 1, 24),
        ("SELECT REGION('CIRCLE 1 2 3') FROM provenance.entity", "REGION is not supported", 1, 8),
    ],
)
def test_geometry_errors_say_where(adql: str, message: str, line: int, column: int) -> None:
    with pytest.raises(ADQLError) as info:
        translate(adql, CATALOG, maxrec=10)
    assert message in info.value.message
    assert (info.value.line, info.value.column) == (line, column), str(info.value)


# ----------------------------------------------------------------------------- SQL


def test_cone_search_sql_has_an_index_prefilter_and_the_exact_test() -> None:
    text = sql(
        "CONTAINS(POINT('ICRS', size_bytes, size_bytes), CIRCLE('ICRS', 83.633, 22.0145, 2)) = 1"
    )
    assert "BETWEEN CAST(20.014499999 AS" in text  # dec0 - r - margin
    assert "atan2d(" in text and "sind(" in text  # Vincenty, degrees
    assert "asin" not in text and "acos" not in text
    assert text.count(" OR ") == 2  # three RA windows: -360, 0, +360


def test_cone_at_a_pole_has_no_ra_window() -> None:
    text = sql("CONTAINS(POINT(size_bytes, size_bytes), CIRCLE(0, 89.5, 1)) = 1")
    assert " OR " not in text and "BETWEEN" in text


def test_contains_zero_and_values() -> None:
    assert "NOT (" in sql("CONTAINS(POINT(size_bytes, 1), CIRCLE(0, 0, 1)) = 0")
    assert "AS INTEGER)" in sql("CONTAINS(POINT(size_bytes, 1), CIRCLE(0, 0, 1)) = 2")
    t = translate(
        f"SELECT DISTANCE(POINT(1, 2), POINT(3, 4)), COORD1(POINT(1, 2)), COORDSYS(POINT(1, 2)),"
        f" CONTAINS(POINT(1, 2), CIRCLE(1, 2, 1)) FROM {T}",
        CATALOG,
        maxrec=10,
    )
    assert [(f.name, f.datatype, f.unit) for f in t.fields] == [
        ("distance", "double", "deg"),
        ("coord1", "double", "deg"),
        ("coordsys", "unicodeChar", None),
        ("contains", "int", None),
    ]
    assert t.fields[0].ucd == "pos.angDistance"


def test_adql20_forms_with_coordinate_systems_are_accepted() -> None:
    for where in (
        "CONTAINS(POINT('ICRS GEOCENTER', 1, 2), CIRCLE('', 1, 2, 3)) = 1",
        "CONTAINS(POINT('icrs', 1, 2), BOX('ICRS', 1, 2, 3, 4)) = 1",
        "CONTAINS(POINT(1, 2), POLYGON('ICRS', 1, 2, 3, 4, 5, 6)) = 1",
        "INTERSECTS(CIRCLE(POINT(1, 2), 3), CIRCLE(1, 2, 3)) = 1",
        "DISTANCE(1, 2, size_bytes, 4) < 1",
    ):
        assert sql(where)


# ----------------------------------------------------------------------------- math


def test_python_distance_matches_astropy() -> None:
    rng = random.Random(3)
    for _ in range(500):
        a = (rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1))))
        b = (rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1))))
        expected = SkyCoord(a[0] * u.deg, a[1] * u.deg).separation(
            SkyCoord(b[0] * u.deg, b[1] * u.deg)
        )
        assert distance(*a, *b) == pytest.approx(expected.deg, abs=1e-10)


def test_longitude_half_width_is_the_cone_extent() -> None:
    """Points on the cone's edge never leave the longitude window (sampled densely)."""
    for lat0, radius in ((0, 5), (60, 2), (85, 4.9), (-70, 10), (30, 0.1)):
        half = lon_half_width(lat0, radius)
        assert half is not None
        bearings = np.linspace(0, 2 * math.pi, 20000, endpoint=False) * u.rad
        edge = SkyCoord(0 * u.deg, lat0 * u.deg).directional_offset_by(bearings, radius * u.deg)
        widest = float(np.max(np.abs((edge.ra.deg + 180) % 360 - 180)))
        assert widest <= half < widest + 1e-6
    assert lon_half_width(85, 5) is None and lon_half_width(-80, 10.5) is None


def test_cone_prefilter_bounds() -> None:
    assert cone_prefilter_sql("ra", "dec", 10, 0, 200) is None
    assert cone_prefilter_sql("ra", "dec", 10, 0, -1) is None
    assert "ra BETWEEN" in (cone_prefilter_sql("ra", "dec", 359.9, 0, 1) or "")


def test_polygon_orientation_and_convexity() -> None:
    ccw = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    a = SphericalPolygon.from_vertices(ccw)
    b = SphericalPolygon.from_vertices(list(reversed(ccw)))
    assert a.vertices == tuple(ccw) and a.convex
    assert set(b.vertices) == set(ccw) and b.vertices != tuple(reversed(ccw))
    closed = SphericalPolygon.from_vertices([*ccw, ccw[0]])
    assert closed.vertices == tuple(ccw)
    ell = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]
    assert not SphericalPolygon.from_vertices([(float(x), float(y)) for x, y in ell]).convex
    cap = a.cap()
    assert cap is not None and cap[2] == pytest.approx(distance(cap[0], cap[1], 0, 0))
    with pytest.raises(ValueError, match="3 distinct"):
        SphericalPolygon.from_vertices([(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)])


# ----------------------------------------------------------------------------- TAPRegExt


def test_geometry_is_declared_in_tapregext() -> None:
    forms = LANGUAGE_FEATURES["ivo://ivoa.net/std/TAPRegExt#features-adqlgeo"]
    assert set(forms) == {
        "BOX", "CIRCLE", "CONTAINS", "COORD1", "COORD2", "COORDSYS", "DISTANCE",
        "INTERSECTS", "POINT", "POLYGON",
    }  # fmt: skip
    xml = capabilities("http://example.org/tap", TapConfig())
    assert 'type="ivo://ivoa.net/std/TAPRegExt#features-adqlgeo"' in xml
    assert "<form>CONTAINS</form>" in xml and "<form>AREA</form>" not in xml


# ------------------------------------------------------------------------------- docs


def test_docs_geometry_example_translates() -> None:
    """docs/tap-service.md's ADQL example is valid on a table with ObsCore's position columns."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "tap-service.md").read_text()
    (example,) = [b for b in re.findall(r"```adql\n(.*?)```", readme, flags=re.S) if "Crab" in b]
    columns = [
        ("obs_publisher_did", "char", "*"),
        ("s_ra", "double", None),
        ("s_dec", "double", None),
    ]
    catalog = Catalog.from_rows(
        {
            "schemas": [{"schema_name": "ivoa"}],
            "tables": [
                {"schema_name": "ivoa", "table_name": "ivoa.obscore", "table_type": "table"}
            ],
            "columns": [
                {
                    "table_name": "ivoa.obscore",
                    "column_name": n,
                    "datatype": d,
                    "arraysize": a,
                    "column_index": i,
                }
                for i, (n, d, a) in enumerate(columns)
            ],
            "keys": [],
            "key_columns": [],
        }
    )
    t = translate(example, catalog, maxrec=100)
    assert '"s_dec" BETWEEN CAST(20.014499999 AS DOUBLE PRECISION)' in t.sql
    assert [f.name for f in t.fields] == ["obs_publisher_did", "s_ra", "s_dec", "dist"]
