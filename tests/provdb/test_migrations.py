"""Alembic migrations: upgrade from empty, downgrade, no drift, refusal of newer databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from provdb import migrate
from provdb.errors import DatabaseError
from provdb.schema import DM_TABLES, SCHEMAS, metadata
from provdb.schema.base import in_database


def _include_name(name, type_, parent_names):
    return name in SCHEMAS if type_ == "schema" else True


@pytest.fixture
def eng(empty_db_url: URL) -> Iterator[sa.Engine]:
    """An engine on an empty database, disposed after the test."""
    engine = sa.create_engine(empty_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _scalars(eng: sa.Engine, sql: str, **params: object) -> list:
    """The first column of ``sql``'s rows."""
    with eng.connect() as conn:
        return list(conn.execute(sa.text(sql), params).scalars())


def _plan(eng: sa.Engine, sql: str) -> str:
    """``EXPLAIN sql`` with sequential scans made prohibitive: it names the index that
    can serve the query, if there is one."""
    with eng.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        return "\n".join(conn.execute(sa.text("EXPLAIN " + sql)).scalars())


def test_models_and_migrations_do_not_drift(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": _include_name,
                "include_object": in_database,
                "compare_type": True,
            },
        )
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_upgrade_from_empty_then_downgrade_to_base(empty_db_url: URL) -> None:
    eng = sa.create_engine(empty_db_url)
    try:
        assert migrate.current(eng) is None
        before, after = migrate.upgrade(eng)
        assert (before, after) == (None, migrate.head())
        tables = set(sa.inspect(eng).get_table_names(schema="provenance"))
        assert set(DM_TABLES) <= tables
        # a second upgrade is a no-op
        assert migrate.upgrade(eng) == (after, after)
        before, after = migrate.downgrade(eng, "base")
        assert after is None
        schemas = set(sa.inspect(eng).get_schema_names())
        assert "provenance" not in schemas and "archive" not in schemas
        # and back up again: downgrade left nothing behind that blocks a new upgrade
        migrate.upgrade(eng)
        assert migrate.state(eng).up_to_date
    finally:
        eng.dispose()


def test_downgrade_one_step(empty_db_url: URL) -> None:
    eng = sa.create_engine(empty_db_url)
    try:
        migrate.upgrade(eng)
        before, after = migrate.downgrade(eng, "-1")
        assert before == migrate.head()
        # exactly the revision the newest one revises
        script = ScriptDirectory.from_config(migrate.alembic_config())
        previous = script.get_revision(migrate.head()).down_revision
        assert isinstance(previous, str) and previous.isdigit()
        assert after == previous
    finally:
        eng.dispose()


def test_database_from_a_newer_provdb_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    st = migrate.state(engine)
    assert not st.known
    with pytest.raises(DatabaseError, match=r"newer provdb.*pip install -U provdb"):
        migrate.upgrade(engine)


def _used_indexes(eng: sa.Engine) -> set[str]:
    return {ix["name"] for ix in sa.inspect(eng).get_indexes("used", schema="provenance")}


def test_0017_drops_the_entity_index_that_the_composite_one_covers(eng: sa.Engine) -> None:
    migrate.upgrade(eng, "0016")
    assert {"ix_provenance_used_entity_id", "ix_used_entity_activity"} <= _used_indexes(eng)
    migrate.upgrade(eng, "0017")
    indexes = _used_indexes(eng)
    assert "ix_provenance_used_entity_id" not in indexes
    assert "ix_used_entity_activity" in indexes
    # a lookup by entity_id alone still has an index: the composite one, whose prefix it is
    plan = _plan(eng, "SELECT activity_id FROM provenance.used WHERE entity_id = 'x'")
    assert "ix_used_entity_activity" in plan
    migrate.downgrade(eng, "0016")
    assert "ix_provenance_used_entity_id" in _used_indexes(eng)


def test_0018_the_failed_ancestor_rule_reads_the_partial_index(empty_db_url: URL) -> None:
    """The rule's condition must imply the index's, or PostgreSQL cannot use the index:
    the plan of the rule, with sequential scans made prohibitive, shows whether it can."""
    from provdb.answers.checks import rule_sql
    from provdb.schema.core import FAILED_ACTIVITY_INDEX

    eng = sa.create_engine(empty_db_url)
    try:
        migrate.upgrade(eng, "0018")
        sql, params = rule_sql("failed-ancestor", ids=["x"])
        with eng.begin() as conn:
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            raw = conn.connection.driver_connection.cursor()
            raw.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in raw.fetchall())
        assert FAILED_ACTIVITY_INDEX in plan
        migrate.downgrade(eng, "0017")
        with eng.connect() as conn:
            found = conn.execute(
                sa.text("SELECT count(*) FROM pg_indexes WHERE indexname = :n"),
                {"n": FAILED_ACTIVITY_INDEX},
            ).scalar()
        assert found == 0
    finally:
        eng.dispose()


def test_0019_closure_keys_are_published_but_not_enforced(eng: sa.Engine) -> None:
    """After 0019 the closure tables have no foreign-key constraints (their rows are
    derived from checked ones), TAP_SCHEMA still offers their joins to entities, and a
    downgrade puts the four constraints back."""
    closure_keys = (
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid "
        "IN ('archive.lineage'::regclass, 'archive.lineage_edge'::regclass)"
    )
    migrate.upgrade(eng, "0019")
    assert set(_scalars(eng, closure_keys)) == set()
    published = _scalars(
        eng,
        "SELECT k.from_table || '.' || c.from_column FROM tap_schema.keys k "
        "JOIN tap_schema.key_columns c ON c.key_id = k.key_id "
        "WHERE k.target_table = 'provenance.entity'",
    )
    assert {
        "archive.lineage.entity_id",
        "archive.lineage.ancestor_id",
        "archive.lineage_edge.entity_id",
        "archive.lineage_edge.parent_id",
    } <= set(published)
    migrate.downgrade(eng, "0018")
    assert set(_scalars(eng, closure_keys)) == {
        "fk_lineage_entity_id",
        "fk_lineage_ancestor_id",
        "fk_lineage_edge_entity_id",
        "fk_lineage_edge_parent_id",
    }


def test_0020_lookups_by_a_dropped_index_column_use_the_unique_constraint(
    eng: sa.Engine,
) -> None:
    """0020 drops five single-column relation indexes; the unique constraint that starts
    with the same column serves the lookup instead, TAP_SCHEMA still calls the column
    indexed, and a downgrade brings the indexes back."""
    dropped = (
        ("ix_provenance_used_activity_id", "used", "activity_id"),
        ("ix_provenance_parameter_activity_id", "parameter", "activity_id"),
        ("ix_provenance_configfile_activity_id", "configfile", "activity_id"),
        ("ix_provenance_wasassociatedwith_activity_id", "wasassociatedwith", "activity_id"),
        ("ix_provenance_wasgeneratedby_entity_id", "wasgeneratedby", "entity_id"),
    )
    names = [name for name, _t, _c in dropped]
    present = "SELECT indexname FROM pg_indexes WHERE indexname = ANY(:names)"

    migrate.upgrade(eng, "0020")
    assert set(_scalars(eng, present, names=names)) == set()
    for _name, table, column in dropped:
        plan = _plan(eng, f"SELECT * FROM provenance.{table} WHERE {column} = 'x'")
        assert f"uq_{table}" in plan, plan
    with eng.connect() as conn:
        flags = conn.execute(
            sa.text(
                "SELECT table_name || '.' || column_name, indexed FROM tap_schema.columns "
                "WHERE table_name || '.' || column_name = ANY(:cols)"
            ),
            {"cols": [f"provenance.{t}.{c}" for _n, t, c in dropped]},
        ).all()
    assert sorted(flags) == sorted((f"provenance.{t}.{c}", 1) for _n, t, c in dropped)
    migrate.downgrade(eng, "0019")
    assert set(_scalars(eng, present, names=names)) == set(names)


def test_0021_the_parameter_value_index_is_a_radix_tree(eng: sa.Engine) -> None:
    """0021 rebuilds ix_parameter_parameter_value with SP-GiST (0013 made it a hash index,
    whose duplicate chains every insert walked); a downgrade makes it a hash index again."""
    method = (
        "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
        "WHERE c.oid = 'provenance.ix_parameter_parameter_value'::regclass"
    )
    migrate.upgrade(eng, "0021")
    assert _scalars(eng, method) == ["spgist"]
    migrate.downgrade(eng, "0020")
    assert _scalars(eng, method) == ["hash"]


def _chain_closure(eng: sa.Engine, revision: str, entities: str) -> None:
    """At ``revision``, the entities a, b, c (inserted in the order of ``entities``) and
    the closure rows of the chain a <- b <- c in the table archive.lineage."""
    migrate.upgrade(eng, revision)
    values = ", ".join(f"('{e}')" for e in entities)
    with eng.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO provenance.entity (id) VALUES {values}"))
        conn.execute(
            sa.text(
                "INSERT INTO archive.lineage (entity_id, ancestor_id, depth) "
                "VALUES ('c', 'b', 1), ('c', 'a', 2), ('b', 'a', 1)"
            )
        )


def test_0022_lineage_edge_is_the_closure_at_depth_one(eng: sa.Engine) -> None:
    """0022 replaces the table archive.lineage_edge by a view of the closure's rows of
    depth 1, readable by the TAP role and published with its keys; a downgrade builds
    the table again with the same rows, and the upgrade after it works."""
    kind = "SELECT c.relkind FROM pg_class c WHERE c.oid = 'archive.lineage_edge'::regclass"
    edges = "SELECT entity_id || '<-' || parent_id FROM archive.lineage_edge ORDER BY 1"
    _chain_closure(eng, "0021", "abc")
    migrate.upgrade(eng, "0022")
    assert _scalars(eng, kind) == ["v"]
    assert _scalars(eng, edges) == ["b<-a", "c<-b"]
    published = _scalars(
        eng,
        "SELECT t.table_type || ':' || c.from_column FROM tap_schema.tables t "
        "JOIN tap_schema.keys k ON k.from_table = t.table_name "
        "JOIN tap_schema.key_columns c ON c.key_id = k.key_id "
        "WHERE t.table_name = 'archive.lineage_edge' ORDER BY 1",
    )
    assert published == ["view:entity_id", "view:parent_id"]
    indexed = _scalars(
        eng,
        "SELECT column_name FROM tap_schema.columns "
        "WHERE table_name = 'archive.lineage_edge' AND indexed = 1 ORDER BY 1",
    )
    assert indexed == ["entity_id", "parent_id"]  # served by the closure's indexes
    readable = (
        "SELECT has_table_privilege('provdb_tap_reader', 'archive.lineage_edge', 'SELECT') "
        "FROM pg_roles WHERE rolname = 'provdb_tap_reader'"
    )
    assert _scalars(eng, readable) in ([True], [])  # [] where the role could not be made
    migrate.downgrade(eng, "0021")
    assert _scalars(eng, kind) == ["r"]
    assert _scalars(eng, edges) == ["b<-a", "c<-b"]
    migrate.upgrade(eng)
    assert _scalars(eng, kind) == ["v"]


def test_0023_closure_keyed_by_entity_numbers(eng: sa.Engine) -> None:
    """0023 moves the closure to archive.lineage_closure, keyed by entity numbers in the
    order of the entity rows, behind a view archive.lineage with the same rows (and
    lineage_edge on it); the TAP role reads the view; a downgrade gives the table back
    with the same rows, and the upgrade after it works."""
    kind = "SELECT c.relkind FROM pg_class c WHERE c.oid = 'archive.lineage'::regclass"
    rows = "SELECT entity_id || '<-' || ancestor_id || ':' || depth FROM archive.lineage ORDER BY 1"
    edges = "SELECT entity_id || '<-' || parent_id FROM archive.lineage_edge ORDER BY 1"
    # inserted in an order that is not the ids' order: the numbers follow the rows
    _chain_closure(eng, "0022", "cab")
    closure = ["b<-a:1", "c<-a:2", "c<-b:1"]
    migrate.upgrade(eng, "0023")
    assert _scalars(eng, kind) == ["v"]
    assert _scalars(eng, rows) == closure
    assert _scalars(eng, edges) == ["b<-a", "c<-b"]
    assert _scalars(eng, "SELECT entity_id FROM archive.entity_number ORDER BY no") == [
        "c",
        "a",
        "b",
    ]
    assert _scalars(eng, "SELECT count(*) FROM archive.lineage_closure") == [3]
    published = _scalars(
        eng,
        "SELECT table_type FROM tap_schema.tables WHERE table_name = 'archive.lineage'",
    )
    assert published == ["view"]
    hidden = _scalars(
        eng,
        "SELECT count(*) FROM tap_schema.tables "
        "WHERE table_name IN ('archive.lineage_closure', 'archive.entity_number')",
    )
    assert hidden == [0]  # internal: ADQL reads the ids through the view
    readable = (
        "SELECT has_table_privilege('provdb_tap_reader', 'archive.lineage', 'SELECT') "
        "FROM pg_roles WHERE rolname = 'provdb_tap_reader'"
    )
    assert _scalars(eng, readable) in ([True], [])
    migrate.downgrade(eng, "0022")
    assert _scalars(eng, kind) == ["r"]
    assert _scalars(eng, rows) == closure
    assert _scalars(eng, edges) == ["b<-a", "c<-b"]
    migrate.upgrade(eng)
    assert _scalars(eng, rows) == closure
