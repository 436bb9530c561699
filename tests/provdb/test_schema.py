"""The ProvDM schema on a real PostgreSQL: tables, constraints, metadata annotations."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from provdb.schema import DM_TABLES, PROVENANCE, metadata

ADQL_RESERVED = {
    "time",
    "value",
    "min",
    "max",
    "default",
    "size",
    "date",
    "user",
    "position",
    "level",
    "first",
    "last",
    "count",
    "sum",
    "avg",
    "timestamp",
    "zone",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "key",
    "order",
    "group",
    "session",
    "usage",
    "names",
    "section",
    "system_user",
    "absolute",
    "action",
    "top",
    "offset",
    "region",
    "point",
}


def test_all_18_dm_tables_exist(engine: sa.Engine) -> None:
    names = set(sa.inspect(engine).get_table_names(schema=PROVENANCE))
    assert set(DM_TABLES) <= names
    assert len(DM_TABLES) == 18


def test_archive_tables_exist(engine: sa.Engine) -> None:
    names = set(sa.inspect(engine).get_table_names(schema="archive"))
    assert {"processing_session", "environment", "ingest_file", "ingest_reject"} <= names


def test_every_table_and_column_is_described() -> None:
    for table in metadata.tables.values():
        assert table.comment, f"{table.fullname} has no description"
        for column in table.columns:
            assert column.comment, f"{table.fullname}.{column.name} has no description"


def test_column_names_are_lower_case_and_not_adql_reserved() -> None:
    for table in metadata.tables.values():
        assert table.name == table.name.lower()
        for column in table.columns:
            assert column.name == column.name.lower()
            if table.fullname == "tap_schema.columns" and column.name == "size":
                continue  # TAP 1.1 mandates this one, written "size" in queries
            assert column.name not in ADQL_RESERVED, f"{table.fullname}.{column.name}"


def test_every_fk_column_is_indexed() -> None:
    for table in metadata.tables.values():
        if table.schema not in (PROVENANCE, "archive") or table.info.get("is_view"):
            continue  # a view (archive.lineage_edge) is served by its table's indexes
        # an index whose first column is the FK column serves lookups on it (an index on
        # an expression, e.g. entity's product type, has no column and serves none), and
        # so does the index of a unique constraint that starts with it (migration 0020)
        leading = {next(iter(ix.columns)).name for ix in table.indexes if len(ix.columns)}
        leading.add(next(iter(table.primary_key.columns)).name)
        leading |= {
            next(iter(uq.columns)).name
            for uq in table.constraints
            if isinstance(uq, sa.UniqueConstraint) and len(uq.columns)
        }
        for fk in table.foreign_keys:
            assert fk.parent.name in leading, f"{table.fullname}.{fk.parent.name}"


def test_dm_utypes_are_declared() -> None:
    for name in DM_TABLES:
        table = metadata.tables[f"{PROVENANCE}.{name}"]
        assert table.info["utype"].startswith("voprov:")
    assert metadata.tables["provenance.entity"].c.location.info["utype"] == (
        "voprov:Entity.location"
    )


def test_mandatory_attributes_are_not_null() -> None:
    tables = metadata.tables
    assert not tables["provenance.agent"].c.name.nullable
    assert not tables["provenance.parameter"].c.parameter_value.nullable
    assert not tables["provenance.usagedescription"].c.role.nullable
    assert not tables["provenance.used"].c.entity_id.nullable


def _insert(conn: sa.Connection, sql: str, **params: object) -> None:
    conn.execute(sa.text(sql), params)


def test_used_with_unknown_entity_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _insert(conn, "INSERT INTO provenance.activity (id, name) VALUES ('a1', 'r0_to_dl1')")
    with pytest.raises(IntegrityError, match="fk_used_entity_id"), engine.begin() as conn:
        _insert(conn, "INSERT INTO provenance.used (activity_id, entity_id) VALUES ('a1', 'nope')")


def test_generation_with_unknown_activity_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _insert(conn, "INSERT INTO provenance.entity (id) VALUES ('e1')")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _insert(
            conn,
            "INSERT INTO provenance.wasgeneratedby (entity_id, activity_id) VALUES ('e1', 'nope')",
        )


def test_agent_needs_a_name(engine: sa.Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _insert(conn, "INSERT INTO provenance.agent (id) VALUES ('x')")


def test_same_relation_twice_is_one_row_but_regeneration_is_kept(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _insert(conn, "INSERT INTO provenance.entity (id) VALUES ('e1')")
        _insert(conn, "INSERT INTO provenance.activity (id) VALUES ('a1'), ('a2')")
        for act in ("a1", "a1", "a2"):
            conn.execute(
                sa.text(
                    "INSERT INTO provenance.wasgeneratedby (entity_id, activity_id) "
                    "VALUES ('e1', :a) ON CONFLICT DO NOTHING"
                ),
                {"a": act},
            )
        count = conn.execute(sa.text("SELECT count(*) FROM provenance.wasgeneratedby")).scalar()
    # a NULL role does not make the duplicate distinct (NULLS NOT DISTINCT)
    assert count == 2


def test_activity_links_to_its_session_and_environment(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _insert(conn, "INSERT INTO archive.environment (id, system) VALUES ('env-1', '{}')")
        _insert(
            conn,
            "INSERT INTO archive.processing_session (id, original_id, software_version, "
            "environment_id) VALUES ('s1', '2020011701807', 'v0.9.1', 'env-1')",
        )
        _insert(
            conn,
            "INSERT INTO provenance.activity (id, original_id, session_id) "
            "VALUES ('9d3257@2026', '9d3257', 's1')",
        )
        version = conn.execute(
            sa.text(
                "SELECT s.software_version FROM provenance.activity a "
                "JOIN archive.processing_session s ON a.session_id = s.id WHERE a.original_id = '9d3257'"
            )
        ).scalar()
    assert version == "v0.9.1"
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _insert(conn, "INSERT INTO provenance.activity (id, session_id) VALUES ('a9', 'nope')")
