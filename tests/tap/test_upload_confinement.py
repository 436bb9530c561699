"""Issue 18: a query with uploads runs as the read-only reader role, and the uploads'
COPY runs under the query's statement timeout (real PostgreSQL, stream_rows itself)."""

from __future__ import annotations

from tap.errors import QueryError
from tap.query.execute import QueryPlan, UploadTable, stream_rows

READER = "provdb_tap_reader"


def _conninfo(db_url) -> str:
    return db_url.set(drivername="postgresql").render_as_string(hide_password=False)


def test_upload_query_runs_as_reader_under_the_timeout(db_url, engine) -> None:
    with engine.connect() as c:  # migrated: the role exists on the test server
        assert (
            c.exec_driver_sql(f"SELECT 1 FROM pg_roles WHERE rolname = '{READER}'").scalar_one()
            == 1
        )
    plan = QueryPlan(
        sql=(
            "SELECT current_user, current_setting('statement_timeout'), "
            "(SELECT count(*) FROM pg_temp.tap_upload_mine)"
        ),
        timeout_s=7,
        role=READER,
        uploads=[UploadTable("tap_upload_mine", [("x", "integer")], [(1,), (2,)])],
    )
    rows = [r for batch in stream_rows(_conninfo(db_url), plan) for r in batch]
    assert rows == [(READER, "7s", 2)]


def test_upload_query_cannot_write_the_archive(db_url) -> None:
    plan = QueryPlan(
        # row locks need UPDATE rights: the reader has SELECT only (a cursor cannot DELETE)
        sql="SELECT id FROM provenance.entity FOR UPDATE",
        timeout_s=7,
        role=READER,
        uploads=[UploadTable("tap_upload_mine", [("x", "integer")], [(1,)])],
    )
    try:
        list(stream_rows(_conninfo(db_url), plan))
    except QueryError as exc:
        assert "not allowed" in str(exc) and "permission denied" in str(exc)
    else:
        raise AssertionError("the reader role deleted archive rows")
