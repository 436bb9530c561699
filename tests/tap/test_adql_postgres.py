"""ADQL translations executed on a real PostgreSQL (a fresh migrated database per test).

The translated SQL must run as-is in a read-only transaction, return the rows ADQL
means, with the types its FIELDs declare, and honour TOP / MAXREC / OFFSET.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from provdb.votable.fields import Field
from tap.adql import ADQLError, Translation, translate, upload_table_name
from tap.adql.schema import split_name
from tap.catalog import catalog_from_metadata, load_catalog

CATALOG = catalog_from_metadata()


def column_names(table: str) -> list[str]:
    """Column names of a published table, as results name them (delimited names unquoted)."""
    return [split_name(c.name)[-1] for c in CATALOG.table(table).columns]


_SETUP = """
INSERT INTO archive.processing_session (id, name, software_version) VALUES
  ('s1', 'run1', 'v0.9.2'), ('s2', 'run2', 'v0.10.1');
INSERT INTO provenance.activity (id, name, start_time, end_time, session_id, exit_code) VALUES
  ('a1', 'r0_to_dl1', '2020-01-17 21:00:00', '2020-01-17 22:00:00', 's1', 0),
  ('a2', 'dl1_to_dl2', '2020-01-18 01:00:00', '2020-01-18 01:30:00', 's2', 1),
  ('a3', 'dl1ab', '2021-06-01 00:00:00', NULL, 's1', NULL);
INSERT INTO provenance.entity (id, name, location, generated_at_time, size_bytes, attributes)
VALUES
  ('e1', 'DL1SubrunDataset', '/data/dl1/a.h5', '2020-01-17 22:00:00', 1000,
   '{"telescope": "LST-1", "quality": 3}'),
  ('e2', 'DL2SubrunDataset', '/data/dl2/b.h5', '2020-01-18 01:30:00', 2500, NULL),
  ('e3', 'R0Dataset', '/data/r0/c.fits.fz', NULL, 7, '{"telescope": "LST-2"}'),
  ('e4', 'Naïve ''quoted'' name', 'C:\\\\raw\\data', NULL, NULL, NULL);
INSERT INTO provenance.wasgeneratedby (entity_id, activity_id, role) VALUES
  ('e1', 'a1', 'output'), ('e2', 'a2', 'output'), ('e4', 'a3', 'log');
INSERT INTO provenance.used (activity_id, entity_id, role, used_time) VALUES
  ('a1', 'e3', 'input', '2020-01-17 21:00:01'), ('a2', 'e1', 'input', NULL);
"""


@pytest.fixture
def db(engine: sa.Engine) -> Iterator[sa.Engine]:
    """The test database with a few provenance rows."""
    with engine.begin() as connection:
        for statement in _SETUP.split(";"):
            if statement.strip():
                connection.exec_driver_sql(statement)
    yield engine


def run(
    engine: sa.Engine,
    adql: str,
    maxrec: int | None = None,
    uploads: dict[str, Sequence[Field]] | None = None,
    setup: Sequence[str] = (),
) -> tuple[Translation, list[tuple[Any, ...]], list[str]]:
    """Translate and execute in a read-only transaction: (translation, rows, column names)."""
    translation = translate(adql, CATALOG, maxrec=maxrec, uploads=uploads)
    with engine.connect() as connection:
        for statement in setup:
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql("SET LOCAL statement_timeout = '5s'")
        # the SQL holds literal '%' and ':': run it without parameters, on the DBAPI cursor
        cursor = connection.connection.cursor()
        cursor.execute(translation.sql)
        rows = [tuple(r) for r in cursor.fetchall()]
        names = [d.name for d in cursor.description]
        cursor.close()
        connection.rollback()
    assert names == [f.name for f in translation.fields]
    return translation, rows, names


_PYTHON_TYPES = {
    "boolean": bool,
    "short": int,
    "int": int,
    "long": int,
    "float": float,
    "double": float,
    "char": str,
    "unicodeChar": str,
}


def check_types(translation: Translation, rows: list[tuple[Any, ...]]) -> None:
    """Every value has the Python type its declared VOTable datatype implies."""
    for row in rows:
        for value, f in zip(row, translation.fields, strict=True):
            if value is None:
                continue
            if f.xtype == "timestamp":
                assert isinstance(value, dt.datetime | dt.date), (f, value)
                continue
            assert not isinstance(value, Decimal), (f, value)
            expected = _PYTHON_TYPES[f.datatype]
            assert isinstance(value, expected), (f, value, type(value))


# ----------------------------------------------------------------------------- basics


def test_select_top_order(db: sa.Engine) -> None:
    t, rows, _ = run(db, "SELECT TOP 2 id, size_bytes FROM provenance.entity ORDER BY id")
    assert rows == [("e1", 1000), ("e2", 2500)]
    check_types(t, rows)


def test_select_star_matches_catalog_and_returns_text(db: sa.Engine) -> None:
    t, rows, names = run(db, "SELECT * FROM provenance.entity WHERE id = 'e1'")
    assert names == column_names("provenance.entity")
    (row,) = rows
    # the JSONB document is published (and returned) as text
    attributes = row[names.index("attributes")]
    assert isinstance(attributes, str) and '"telescope": "LST-1"' in attributes
    check_types(t, rows)


def test_json_column_as_text_in_predicates(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.entity WHERE attributes LIKE '%LST-1%' "
        "OR LOWER(attributes) || '!' = '{\"telescope\": \"lst-2\"}!' ORDER BY id",
    )
    assert rows == [("e1",), ("e3",)]


def test_strings_quotes_backslashes_and_unicode(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.entity WHERE name = 'Naïve ''quoted'' name' "
        "AND location = 'C:\\\\raw\\data'",
    )
    assert rows == [("e4",)]


def test_string_injection_stays_a_string(db: sa.Engine) -> None:
    _, rows, _ = run(db, "SELECT id FROM provenance.entity WHERE name = 'a'';DROP TABLE x;--'")
    assert rows == []
    # ADQL has no backslash escapes: 'x\' is a whole string, the rest is ADQL again
    _, rows, _ = run(db, "SELECT id FROM provenance.entity WHERE name = 'x\\' -- '")
    assert rows == []
    _, rows, _ = run(db, "SELECT id FROM provenance.entity WHERE name = 'x\\' OR 1=1 --'")
    assert len(rows) == 4


def test_backslash_literal_independent_of_standard_conforming_strings(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.entity WHERE location = 'C:\\\\raw\\data'",
        setup=["SET standard_conforming_strings = off"],
    )
    assert rows == [("e4",)]


def test_text_cast_keeps_index_use(db: sa.Engine) -> None:
    t = translate("SELECT name FROM provenance.entity WHERE id = 'e1'", CATALOG, maxrec=None)
    with db.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        cursor = connection.connection.cursor()
        cursor.execute("EXPLAIN " + t.sql)
        plan = "\n".join(r[0] for r in cursor.fetchall())
    assert "pk_entity" in plan


def test_group_by_primary_key_functional_dependency(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT e.id, e.name, COUNT(g.activity_id) AS n FROM provenance.entity AS e "
        "LEFT OUTER JOIN provenance.wasgeneratedby AS g ON g.entity_id = e.id "
        "GROUP BY e.id ORDER BY e.id",
    )
    assert [r[2] for r in rows] == [1, 1, 0, 1]
    # #16: kept valid by the GROUP BY checks (the primary key id is grouped)
    _, rows, _ = run(db, "SELECT name FROM provenance.entity GROUP BY id ORDER BY id")
    assert rows == [
        ("DL1SubrunDataset",),
        ("DL2SubrunDataset",),
        ("R0Dataset",),
        ("Naïve 'quoted' name",),
    ]


# ----------------------------------------------------------------------------- joins


def test_provenance_query_software_version(db: sa.Engine) -> None:
    t, rows, _ = run(
        db,
        """
        SELECT e.id, e.location, a.name AS activity, s.software_version
        FROM provenance.entity AS e
        JOIN provenance.wasgeneratedby AS g ON g.entity_id = e.id
        JOIN provenance.activity AS a ON a.id = g.activity_id
        JOIN archive.processing_session AS s ON s.id = a.session_id
        WHERE s.software_version LIKE 'v0.9%'
        ORDER BY e.id
        """,
    )
    assert rows == [
        ("e1", "/data/dl1/a.h5", "r0_to_dl1", "v0.9.2"),
        ("e4", "C:\\\\raw\\data", "dl1ab", "v0.9.2"),
    ]
    check_types(t, rows)


@pytest.mark.parametrize(
    ("adql", "expected"),
    [
        (
            "SELECT e.id, u.activity_id FROM provenance.entity e "
            "LEFT JOIN provenance.used u ON u.entity_id = e.id ORDER BY e.id",
            [("e1", "a2"), ("e2", None), ("e3", "a1"), ("e4", None)],
        ),
        (
            "SELECT u.entity_id, a.id FROM provenance.used u "
            "RIGHT OUTER JOIN provenance.activity a ON a.id = u.activity_id ORDER BY a.id",
            [("e3", "a1"), ("e1", "a2"), (None, "a3")],
        ),
        (
            "SELECT COUNT(*) FROM provenance.used u "
            "FULL OUTER JOIN provenance.wasgeneratedby g ON g.entity_id = u.entity_id",
            [(4,)],
        ),
        (
            "SELECT entity_id, activity_id FROM provenance.wasgeneratedby "
            "NATURAL JOIN (SELECT entity_id, activity_id FROM provenance.used) AS u",
            [],
        ),
        (
            "SELECT activity_id, g.role FROM provenance.wasgeneratedby g "
            "JOIN provenance.used u USING (activity_id) ORDER BY activity_id",
            [("a1", "output"), ("a2", "output")],
        ),
        (
            "SELECT e.id, a.id FROM provenance.entity e, provenance.activity a "
            "WHERE a.id = 'a3' AND e.id = 'e2'",
            [("e2", "a3")],
        ),
        (
            "SELECT a.id FROM (provenance.entity e JOIN provenance.wasgeneratedby g "
            "ON g.entity_id = e.id) JOIN provenance.activity a ON a.id = g.activity_id "
            "WHERE e.id = 'e2'",
            [("a2",)],
        ),
    ],
)
def test_joins(db: sa.Engine, adql: str, expected: list[tuple[Any, ...]]) -> None:
    _, rows, _ = run(db, adql)
    assert rows == expected


def test_subqueries_exists_in_from(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.entity AS e WHERE EXISTS "
        "(SELECT 1 FROM provenance.used u WHERE u.entity_id = e.id) "
        "AND e.id NOT IN (SELECT entity_id FROM provenance.wasgeneratedby WHERE role = 'log') "
        "ORDER BY id",
    )
    assert rows == [("e1",), ("e3",)]
    t, rows, _ = run(
        db,
        "SELECT x.n, x.biggest FROM (SELECT COUNT(*) AS n, MAX(size_bytes) AS biggest "
        "FROM provenance.entity) AS x",
    )
    assert rows == [(4, 2500)]
    assert t.fields[1].unit == "byte"
    check_types(t, rows)


def test_with_and_set_operations(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "WITH gen AS (SELECT entity_id FROM provenance.wasgeneratedby), "
        "inp AS (SELECT entity_id FROM provenance.used) "
        "SELECT entity_id FROM gen INTERSECT SELECT entity_id FROM inp",
    )
    assert rows == [("e1",)]
    _, rows, _ = run(
        db,
        "SELECT entity_id FROM provenance.wasgeneratedby EXCEPT "
        "SELECT entity_id FROM provenance.used ORDER BY entity_id",
    )
    assert rows == [("e2",), ("e4",)]
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.activity UNION ALL SELECT id FROM provenance.entity "
        "ORDER BY 1 OFFSET 5",
    )
    assert rows == [("e3",), ("e4",)]
    _, rows, _ = run(
        db,
        "SELECT TOP 1 id FROM provenance.activity UNION SELECT id FROM archive.processing_session",
    )
    assert len(rows) == 3


def test_union_widens_numeric_types(db: sa.Engine) -> None:
    t, rows, _ = run(
        db,
        "SELECT exit_code FROM provenance.activity UNION SELECT size_bytes FROM provenance.entity",
    )
    assert t.fields[0].datatype == "long"
    check_types(t, rows)


# ----------------------------------------------------------------------------- functions


def test_math_function_types(db: sa.Engine) -> None:
    t, rows, _ = run(
        db,
        "SELECT ROUND(size_bytes / 3.0, 2), ROUND(2.5), ROUND(size_bytes, 1), "
        "TRUNCATE(size_bytes / 7.0, 3), TRUNCATE(-2.7), "
        "MOD(size_bytes, 7), MOD(size_bytes, 2.5), MOD(7.5, 2), MOD(exit_code, 2), "
        "LOG(size_bytes), LOG10(size_bytes), LOG(2.5), EXP(1), SQRT(size_bytes), "
        "POWER(size_bytes, 2), POWER(2, 0.5), ABS(-3), ABS(-2.5), ABS(exit_code), "
        "CEILING(2.1), FLOOR(size_bytes), CEILING(7), DEGREES(PI()), RADIANS(180), "
        "SIN(0), COS(0), TAN(0.5), COT(1), ASIN(1), ACOS(1), ATAN(1), ATAN2(1, 1), RAND(), "
        "size_bytes / 2, size_bytes * 1.5, 1e3, 10000000000, -1 "
        "FROM provenance.entity AS e JOIN provenance.wasgeneratedby AS g "
        "ON g.entity_id = e.id JOIN provenance.activity AS a ON a.id = g.activity_id "
        "WHERE e.id = 'e1'",
    )
    check_types(t, rows)
    values = dict(zip([f.name for f in t.fields], rows[0], strict=True))
    assert values["round"] == 333.33
    assert values["round_2"] == 3.0  # PostgreSQL rounds half away from zero
    assert values["round_3"] == 1000.0
    assert values["truncate"] == 142.857
    assert values["truncate_2"] == -2.0
    assert values["mod"] == 6 and isinstance(values["mod"], int)
    assert values["mod_2"] == 0.0
    assert values["mod_3"] == 1.5
    assert values["mod_4"] == 0
    assert values["log"] == pytest.approx(6.907755278982137)
    assert values["log10"] == pytest.approx(3.0)
    assert values["sqrt"] == pytest.approx(31.6227766)
    assert values["power_2"] == pytest.approx(2**0.5)
    assert values["abs"] == 3 and values["abs_2"] == 2.5
    assert values["ceiling"] == 3.0 and values["ceiling_2"] == 7.0
    assert values["degrees"] == pytest.approx(180.0)
    assert values["atan2"] == pytest.approx(0.7853981633974483)
    assert 0 <= values["rand"] < 1
    assert values["expr_34"] == 500
    assert values["expr_35"] == 1500.0
    assert values["expr_36"] == 1000.0
    assert values["expr_37"] == 10000000000
    assert values["expr_38"] == -1
    declared = {f.name: f.datatype for f in t.fields}
    assert declared["mod"] == "long" and declared["mod_4"] == "int"
    assert declared["abs"] == "int" and declared["expr_37"] == "long"
    assert declared["expr_34"] == "long" and declared["expr_36"] == "double"


def test_aggregates_types(db: sa.Engine) -> None:
    t, rows, _ = run(
        db,
        "SELECT COUNT(*), COUNT(DISTINCT entity.name), SUM(size_bytes), AVG(size_bytes), "
        "MIN(size_bytes), MAX(generated_at_time), SUM(exit_code), "
        "SUM(DISTINCT size_bytes), AVG(DISTINCT size_bytes), SUM(DISTINCT exit_code) "
        "FROM provenance.entity, provenance.activity WHERE activity.id = 'a1'",
    )
    check_types(t, rows)
    assert rows == [(4, 4, 3507, 1169.0, 7, dt.datetime(2020, 1, 18, 1, 30), 0, 3507, 1169.0, 0)]
    assert [f.datatype for f in t.fields] == [
        "long", "long", "long", "double", "long", "char", "long", "long", "double", "long",
    ]  # fmt: skip
    assert t.fields[5].xtype == "timestamp"


def test_string_functions_cast_coalesce(db: sa.Engine) -> None:
    t, rows, _ = run(
        db,
        "SELECT LOWER(entity.name) || '_' || UPPER(entity.id), CAST(size_bytes AS VARCHAR(10)), "
        "CAST('42' AS INTEGER), CAST('2020-01-01' AS TIMESTAMP), CAST(size_bytes AS REAL), "
        "CAST(size_bytes AS DOUBLE PRECISION), CAST(exit_code AS SMALLINT), "
        "CAST(7 AS BIGINT), CAST(entity.id AS CHAR(4)), "
        "COALESCE(entity.comment, location, 'none') "
        "FROM provenance.entity, provenance.activity "
        "WHERE entity.id = 'e1' AND activity.id = 'a1'",
    )
    check_types(t, rows)
    assert rows == [
        (
            "dl1subrundataset_E1",
            "1000",
            42,
            dt.datetime(2020, 1, 1),
            1000.0,
            1000.0,
            0,
            7,
            "e1  ",
            "/data/dl1/a.h5",
        )
    ]
    assert [(f.datatype, f.arraysize, f.xtype) for f in t.fields] == [
        ("unicodeChar", "*", None),
        ("unicodeChar", "10*", None),
        ("int", None, None),
        ("char", "*", "timestamp"),
        ("float", None, None),
        ("double", None, None),
        ("short", None, None),
        ("long", None, None),
        ("unicodeChar", "4", None),
        ("unicodeChar", "*", None),
    ]


def test_like_ilike_between_in_null(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.entity WHERE name ILIKE '%subrun%' "
        "AND size_bytes BETWEEN 500 AND 3000 AND id IN ('e1', 'e2', 'e9') "
        "AND location NOT LIKE '%.fits%' AND invalidated_at_time IS NULL ORDER BY id DESC",
    )
    assert rows == [("e2",), ("e1",)]


def test_timestamp_comparisons(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.activity WHERE start_time >= '2020-01-18' "
        "AND start_time < CAST('2021-12-31T00:00:00' AS TIMESTAMP) ORDER BY start_time",
    )
    assert rows == [("a2",), ("a3",)]
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.activity "
        "WHERE start_time BETWEEN '2020-01-17T00:00:00' AND '2020-01-17T23:59:59'",
    )
    assert rows == [("a1",)]


def test_group_by_having_order_by_alias_and_expression(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT a.session_id AS s, COUNT(*) AS n, MAX(a.exit_code) FROM provenance.activity a "
        "GROUP BY a.session_id HAVING COUNT(*) >= 1 ORDER BY n DESC, s",
    )
    assert rows == [("s1", 2, 0), ("s2", 1, 1)]
    _, rows, _ = run(
        db,
        "SELECT id, size_bytes FROM provenance.entity WHERE size_bytes IS NOT NULL "
        "ORDER BY MOD(size_bytes, 1000) DESC, size_bytes * 2",
    )
    assert rows == [("e2", 2500), ("e3", 7), ("e1", 1000)]


def test_distinct_and_delimited_names(db: sa.Engine) -> None:
    _, rows, _ = run(
        db, 'SELECT DISTINCT "role" FROM "provenance"."wasgeneratedby" ORDER BY "role"'
    )
    assert rows == [("log",), ("output",)]
    _, rows, _ = run(db, "SELECT DISTINCT E.SESSION_ID FROM PROVENANCE.ACTIVITY AS E")
    assert sorted(rows) == [("s1",), ("s2",)]


# ----------------------------------------------------------------------------- TAP_SCHEMA


def test_tap_schema_queries(db: sa.Engine) -> None:
    t, rows, names = run(
        db, "SELECT * FROM TAP_SCHEMA.columns WHERE table_name = 'provenance.entity'"
    )
    assert names == column_names("tap_schema.columns")
    assert {r[names.index("column_name")] for r in rows} == {*column_names("provenance.entity")}
    check_types(t, rows)
    t, rows, _ = run(db, 'SELECT "size" FROM tap_schema.columns')
    assert rows and all(r == (None,) for r in rows)
    assert t.fields[0].name == "size" and t.fields[0].datatype == "int"
    _, rows, _ = run(
        db,
        "SELECT t.table_name, COUNT(*) AS ncol FROM tap_schema.tables AS t "
        "JOIN tap_schema.columns AS c ON c.table_name = t.table_name "
        "WHERE t.schema_name = 'archive' GROUP BY t.table_name ORDER BY t.table_name",
    )
    assert (
        "archive.processing_session",
        len(CATALOG.table("archive.processing_session").columns),
    ) in rows


def test_catalog_loaded_from_database_translates_the_same(db: sa.Engine) -> None:
    with db.connect() as connection:
        catalog = load_catalog(connection)
    adql = "SELECT TOP 3 e.id, e.size_bytes FROM provenance.entity AS e ORDER BY e.id"
    assert translate(adql, catalog, maxrec=10) == translate(adql, CATALOG, maxrec=10)


def test_archive_views(db: sa.Engine) -> None:
    for view in ("run_activity", "run_step", "run_entity"):
        t, rows, names = run(db, f"SELECT * FROM archive.{view}")
        assert names == column_names(f"archive.{view}")
        check_types(t, rows)


# ----------------------------------------------------------------------------- limits


def test_maxrec_overflow_detection(db: sa.Engine) -> None:
    t, rows, _ = run(db, "SELECT id FROM provenance.entity ORDER BY id", maxrec=2)
    assert len(rows) == 3 and t.limit == 2 and t.overflow(len(rows))
    t, rows, _ = run(db, "SELECT id FROM provenance.entity", maxrec=4)
    assert len(rows) == 4 and not t.overflow(len(rows))
    t, rows, _ = run(db, "SELECT id FROM provenance.entity", maxrec=None)
    assert len(rows) == 4 and t.limit is None and not t.overflow(len(rows))


def test_top_below_maxrec_is_not_overflow(db: sa.Engine) -> None:
    t, rows, _ = run(db, "SELECT TOP 2 id FROM provenance.entity", maxrec=3)
    assert len(rows) == 2 and t.top == 2 and not t.overflow(len(rows))
    t, rows, _ = run(db, "SELECT TOP 3 id FROM provenance.entity", maxrec=3)
    assert len(rows) == 3 and not t.overflow(len(rows))


def test_maxrec_clips_top(db: sa.Engine) -> None:
    t, rows, _ = run(db, "SELECT TOP 4 id FROM provenance.entity", maxrec=2)
    assert len(rows) == 3 and t.overflow(len(rows)) and t.limit == 2 and t.top == 4


def test_top_zero_and_maxrec_zero(db: sa.Engine) -> None:
    t, rows, _ = run(db, "SELECT TOP 0 id, size_bytes FROM provenance.entity")
    assert rows == [] and [f.name for f in t.fields] == ["id", "size_bytes"]
    assert not t.overflow(0)
    t, rows, _ = run(db, "SELECT id FROM provenance.entity", maxrec=0)
    assert len(rows) == 1 and t.overflow(len(rows))
    t, rows, _ = run(db, "SELECT id FROM provenance.entity WHERE id = 'none'", maxrec=0)
    assert rows == [] and not t.overflow(0)


def test_offset(db: sa.Engine) -> None:
    _, rows, _ = run(db, "SELECT id FROM provenance.entity ORDER BY id OFFSET 1", maxrec=2)
    assert rows == [("e2",), ("e3",), ("e4",)]
    _, rows, _ = run(db, "SELECT TOP 2 id FROM provenance.entity ORDER BY id OFFSET 1")
    assert rows == [("e2",), ("e3",)]
    _, rows, _ = run(db, "SELECT TOP 2 id FROM provenance.entity ORDER BY id OFFSET 10")
    assert rows == []


def test_top_in_subquery(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT COUNT(*) FROM (SELECT TOP 2 id FROM provenance.entity ORDER BY id) AS x",
        maxrec=1,
    )
    assert rows == [(2,)]


# ----------------------------------------------------------------------------- uploads


def test_upload_table(db: sa.Engine) -> None:
    fields = [Field("Id", "char", "*", ucd="meta.id"), Field("Weight", "double")]
    name = upload_table_name("Mine")
    setup = [
        f'CREATE TEMP TABLE {name} ("Id" text, "Weight" double precision)',
        f"INSERT INTO {name} VALUES ('e1', 0.5), ('e3', 2.0), ('zz', 1.0)",
    ]
    t, rows, _ = run(
        db,
        'SELECT m.id, m."Weight" * e.size_bytes AS w FROM TAP_UPLOAD.mine AS m '
        "JOIN provenance.entity AS e ON e.id = m.Id ORDER BY w",
        uploads={"Mine": fields},
        setup=setup,
    )
    assert rows == [("e3", 14.0), ("e1", 500.0)]
    assert t.uploads == ["Mine"] and t.tables == ["provenance.entity"]
    assert t.fields[0].ucd == "meta.id"
    check_types(t, rows)


# ----------------------------------------------------------------------------- security


def test_hostile_sql_never_reaches_the_database(db: sa.Engine) -> None:
    for adql in (
        "SELECT pg_sleep(10) FROM provenance.entity",
        "SELECT * FROM pg_class",
        "SELECT id FROM provenance.entity; SELECT pg_sleep(10)",
        "SELECT current_user FROM provenance.entity",
        'SELECT "current_user" FROM provenance.entity',
        "SELECT e FROM provenance.entity AS e",
    ):
        with pytest.raises(ADQLError):
            translate(adql, CATALOG, maxrec=10)


# ----------------------------------------------------------------------------- #16


def _seeded(seed: float) -> float:
    """RAND(seed) as documented: md5 of the seed's double precision text, 52 bits."""
    text = repr(float(seed)).removesuffix(".0")  # PostgreSQL prints 3::float8 as '3'
    return int(hashlib.md5(text.encode()).hexdigest()[:13], 16) / 2**52


def test_rand_with_seed_is_reproducible(db: sa.Engine) -> None:
    t, rows, _ = run(
        db,
        "SELECT RAND(3), RAND(3.0), RAND(-7), RAND(0.25), RAND(size_bytes), RAND() "
        "FROM provenance.entity ORDER BY id",
    )
    check_types(t, rows)
    sizes = {"e1": 1000, "e2": 2500, "e3": 7, "e4": None}
    assert [r[:4] for r in rows] == [(_seeded(3), _seeded(3), _seeded(-7), _seeded(0.25))] * 4
    assert [r[4] for r in rows] == [
        None if size is None else _seeded(size) for _, size in sorted(sizes.items())
    ]
    assert all(0 <= value < 1 for row in rows for value in row if value is not None)
    assert len({rows[0][0], rows[0][2], rows[0][3]}) == 3  # different seeds, different values
    # the same statement again gives the same values (RAND() aside)
    _, again, _ = run(db, "SELECT RAND(3), RAND(size_bytes) FROM provenance.entity ORDER BY id")
    assert again == [(r[0], r[4]) for r in rows]


def test_coalesce_with_one_argument(db: sa.Engine) -> None:
    _, rows, _ = run(db, "SELECT COALESCE(size_bytes) FROM provenance.entity ORDER BY id")
    assert rows == [(1000,), (2500,), (7,), (None,)]


def test_string_literal_parts_are_one_literal(db: sa.Engine) -> None:
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.entity WHERE name = 'DL1Subrun' -- first part\n"
        "  'Dataset' OR location = '/data/dl2/'\n'b.h5' ORDER BY id",
    )
    assert rows == [("e1",), ("e2",)]
    _, rows, _ = run(db, "SELECT 'it''s' \n 'ok' AS s FROM provenance.entity WHERE id = 'e1'")
    assert rows == [("it'sok",)]


def test_literals_read_as_the_column_type_still_run(db: sa.Engine) -> None:
    # the type checks refuse only what PostgreSQL cannot compare: these must keep working
    _, rows, _ = run(
        db,
        "SELECT id FROM provenance.entity WHERE size_bytes = '7' OR size_bytes IN ('1000', 3) "
        "ORDER BY id",
    )
    assert rows == [("e1",), ("e3",)]


def test_grouped_queries_the_checks_keep_valid_run(db: sa.Engine) -> None:
    # each shows columns it does not group: PostgreSQL allows it through the primary key
    _, rows, _ = run(
        db,
        "SELECT e.id, e.location, COUNT(*) AS n FROM provenance.entity e "
        "JOIN provenance.used u ON u.entity_id = e.id GROUP BY e.id ORDER BY e.id",
    )
    assert rows == [("e1", "/data/dl1/a.h5", 1), ("e3", "/data/r0/c.fits.fz", 1)]
    run(
        db,
        "SELECT f.entity_id, f.rule, f.severity FROM archive.product_flag f "
        "GROUP BY f.entity_id, f.rule",
    )
    _, rows, _ = run(
        db,
        "SELECT table_name, description FROM tap_schema.tables "
        "WHERE table_name = 'provenance.entity' GROUP BY table_name",
    )
    assert [r[0] for r in rows] == ["provenance.entity"]
