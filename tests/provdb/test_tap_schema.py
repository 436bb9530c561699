"""TAP_SCHEMA is derived from the models and written by `provdb db upgrade`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from provdb.schema import DM_TABLES, metadata
from provdb.schema.tap_schema import tap_schema_rows


def _count(conn: sa.Connection, table: str) -> int:
    return int(conn.execute(sa.text(f"SELECT count(*) FROM tap_schema.{table}")).scalar())


def test_upgrade_writes_tap_schema_from_the_models(engine: sa.Engine) -> None:
    rows = tap_schema_rows()
    with engine.connect() as conn:
        for name, expected in rows.items():
            assert _count(conn, name) == len(expected), name
        names = {r[0] for r in conn.execute(sa.text("SELECT table_name FROM tap_schema.tables"))}
    assert {f"provenance.{t}" for t in DM_TABLES} <= names
    assert {"archive.processing_session", "archive.run_step", "tap_schema.columns"} <= names
    # the operator's ingest bookkeeping is published (issue 13), the scan bookkeeping not
    assert {
        "archive.ingest_file",
        "archive.ingest_reject",
        "archive.ingest_conflict",
        "archive.ingest_file_age",
    } <= names
    assert "archive.scan_file" not in names


def test_every_published_column_matches_the_model(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        got = {
            (r.table_name, r.column_name): r
            for r in conn.execute(sa.text("SELECT * FROM tap_schema.columns"))
        }
    entity = metadata.tables["provenance.entity"]
    for col in entity.columns:
        row = got[("provenance.entity", col.name)]
        assert row.description == col.comment
        assert row.ucd == col.info.get("ucd")
        assert row.utype == col.info.get("utype")
    assert got[("provenance.entity", "id")].indexed == 1
    assert got[("provenance.entity", "generated_at_time")].xtype == "timestamp"
    assert got[("tap_schema.columns", '"size"')].std == 1  # published delimited


def test_every_foreign_key_is_declared_with_equal_datatypes(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        pairs = conn.execute(
            sa.text(
                "SELECT k.from_table, kc.from_column, k.target_table, kc.target_column, "
                "f.datatype AS fd, t.datatype AS td FROM tap_schema.keys k "
                "JOIN tap_schema.key_columns kc ON kc.key_id = k.key_id "
                "JOIN tap_schema.columns f ON f.table_name = k.from_table "
                "  AND f.column_name = kc.from_column "
                "JOIN tap_schema.columns t ON t.table_name = k.target_table "
                "  AND t.column_name = kc.target_column"
            )
        ).all()
    assert len(pairs) == len(tap_schema_rows()["key_columns"])
    assert all(p.fd == p.td for p in pairs), [p for p in pairs if p.fd != p.td]
    assert ("provenance.used", "entity_id", "provenance.entity", "id") in {p[:4] for p in pairs}


def test_refresh_is_idempotent(engine: sa.Engine) -> None:
    from provdb.migrate import refresh_tap_schema

    with engine.begin() as conn:
        before = _count(conn, "columns")
        assert refresh_tap_schema(conn)
        assert _count(conn, "columns") == before


def test_reader_role_reads_only_published_tables(engine: sa.Engine) -> None:
    from sqlalchemy.exc import ProgrammingError

    from provdb.migrate import READER_ROLE

    with engine.connect() as conn:
        conn.execute(sa.text(f"SET ROLE {READER_ROLE}"))
        assert conn.execute(sa.text("SELECT count(*) FROM provenance.entity")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM archive.run_step")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM tap_schema.tables")).scalar() > 0
        # the ingest bookkeeping is published (issue 13)
        assert conn.execute(sa.text("SELECT count(*) FROM archive.ingest_reject")).scalar() == 0
        for private in ("archive.scan_file", "uws.job"):
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(sa.text(f"SELECT count(*) FROM {private}"))
            conn.rollback()
            conn.execute(sa.text(f"SET ROLE {READER_ROLE}"))


def test_every_ucd_is_valid_ucd1plus() -> None:
    """astropy's UCD1+ checker (controlled vocabulary, primary/secondary word order):
    strict VOTable readers refuse a table whose FIELD has an invalid UCD."""
    from astropy.io.votable.ucd import check_ucd

    bad = [
        (r["table_name"], r["column_name"], r["ucd"])
        for r in tap_schema_rows()["columns"]
        if r.get("ucd") and not check_ucd(r["ucd"], check_controlled_vocabulary=True)
    ]
    assert bad == []
