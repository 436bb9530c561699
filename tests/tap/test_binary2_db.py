"""BINARY2 rows written with the database's help against the Python writer
(tap/votable/binary2.py): the same bytes, value by value, on a real server. Two writers:

* ``sql``: PostgreSQL writes the rows (tap/votable/binary2_sql.py);
* ``copy``: a binary COPY turned into BINARY2 by the compiled transcoder
  (tap/votable/binary2_copy.py, tap/votable/_binary2copy.c).

Every value kind they encode is stored in a table with its awkward cases (nulls, extremes,
NaN and infinities, non-ASCII and control characters, timestamps with and without
fractions, zones); the table is read once as Python objects and encoded by
:class:`Binary2Rows`, once through each writer, and the bytes must be equal.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL

from provdb.votable.fields import Field
from tap.errors import QueryError
from tap.query.execute import QueryCancelled, QueryPlan, result_types, stream_rows
from tap.query.run import binary2_rewrite
from tap.votable import binary2_copy
from tap.votable.binary2 import Binary2Rows
from tap.votable.binary2_copy import CopyDecoder, plan_binary2_copy
from tap.votable.binary2_sql import plan_binary2_sql

# (column, PostgreSQL type, VOTable field, values: one per row)
COLUMNS: list[tuple[str, str, Field, list[str]]] = [
    ("b", "bool", Field("b", "boolean"), ["true", "false", "NULL", "true", "false", "NULL"]),
    ("s", "int2", Field("s", "short"), ["-32768", "32767", "NULL", "0", "1", "-1"]),
    ("i", "int4", Field("i", "int"), ["-2147483648", "2147483647", "NULL", "0", "7", "-7"]),
    (
        "l",
        "int8",
        Field("l", "long"),
        ["-9223372036854775808", "9223372036854775807", "NULL", "0", "42", "-42"],
    ),
    ("i_as_long", "int4", Field("i_as_long", "long"), ["1", "NULL", "-5", "0", "2", "3"]),
    ("s_as_int", "int2", Field("s_as_int", "int"), ["1", "NULL", "-5", "0", "2", "3"]),
    (
        "f4",
        "float4",
        Field("f4", "float"),
        ["1.5", "'NaN'", "NULL", "'Infinity'", "'-Infinity'", "-0.0"],
    ),
    (
        "f8",
        "float8",
        Field("f8", "double"),
        ["1e300", "'NaN'", "NULL", "'-Infinity'", "5e-324", "0.1"],
    ),
    (
        "n",
        "numeric",
        Field("n", "double"),
        ["0.1", "NULL", "12345678901234567890.5", "-2", "0", "1"],
    ),
    (
        "i_as_double",
        "int8",
        Field("i_as_double", "double"),
        ["1", "NULL", "9007199254740993", "0", "2", "3"],
    ),
    (
        "t",
        "text",
        Field("t", "char", "*"),
        [
            "'abc'",
            "''",
            "NULL",
            "E'tab\\tnl\\ncr\\r ctl\\x01\\x1f del\\x7f'",
            "'non-ascii é and 😀 ok'",
            "'md5 61d40995281b0b561ea9a6aba0f0f7cc'",
        ],
    ),
    ("vc", "varchar(40)", Field("vc", "char", "*"), ["'x'", "NULL", "'ü'", "''", "'a b'", "'z'"]),
    (
        "ts",
        "timestamp",
        Field("ts", "char", "*", "timestamp"),
        [
            "'2020-01-20 20:42:01'",
            "'2020-01-20 20:42:01.1'",
            "NULL",
            "'2020-01-20 20:42:01.000500'",
            "'2020-01-20 20:42:01.123456'",
            "'0001-01-01 00:00:00.99'",
        ],
    ),
    (
        "tz",
        "timestamptz",
        Field("tz", "char", "*", "timestamp"),
        [
            "'2020-01-20 23:59:59.5+05:30'",
            "'2020-06-01 00:00:00+00'",
            "NULL",
            "'1999-12-31 23:00:00.25-02'",
            "'2020-01-01 00:00:00.0001+00'",
            "'2038-01-19 03:14:08+00'",
        ],
    ),
    (
        "d",
        "date",
        Field("d", "char", "*", "timestamp"),
        ["'2021-05-06'", "NULL", "'0001-01-01'", "'9999-12-31'", "'2000-02-29'", "'1970-01-01'"],
    ),
    (
        "by",
        "bytea",
        Field("by", "unsignedByte", "*"),
        ["'\\x0001ff'", "''", "NULL", "'\\x80'", "'\\x7f7f'", "'\\x'"],
    ),
    (
        "u",
        "text",
        Field("u", "unicodeChar", "*"),
        [
            "'héllo wörld'",
            "''",
            "NULL",
            "'emoji 😀 here'",
            "E'ctl\\x01 tab\\t end'",
            "'plain ascii'",
        ],
    ),
    (
        "u3",
        "text",
        Field("u3", "unicodeChar", "3*"),
        ["'abcdef'", "'é'", "NULL", "''", "'😀😀😀😀'", "'ab'"],
    ),
    ("tail", "int4", Field("tail", "int"), ["1", "2", "3", "4", "5", "6"]),
]
NROWS = 6


def conninfo_of(url: URL, **options: str) -> str:
    """psycopg conninfo of a SQLAlchemy URL of the test server (as tap/db.py makes it),
    with server settings for the session."""
    uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
    if not options:
        return uri
    return make_conninfo(uri, options=" ".join(f"-c {k}={v}" for k, v in options.items()))


@pytest.fixture
def values_db(empty_db_url: URL) -> Iterator[str]:
    """conninfo of a database holding table ``v`` (COLUMNS) in an awkward session setup:
    a far time zone and a non-ISO DateStyle, which the rewritten query must not see."""
    conninfo = conninfo_of(empty_db_url, TimeZone="America/Santiago", DateStyle="SQL\\,DMY")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert conn.execute("SHOW DateStyle").fetchone() == ("SQL, DMY",)
        create_values_table(conn, COLUMNS, NROWS)
    yield conninfo


def create_values_table(
    conn: psycopg.Connection, columns: list[tuple[str, str, Field, list[str]]], nrows: int
) -> None:
    """Table ``v``: a key ``k`` and one column per ``(name, type, field, values)`` of
    ``columns``, its first ``nrows`` values (SQL literals) in rows 0, 1, ..."""
    cols = ", ".join(f"{name} {pgtype}" for name, pgtype, _, _ in columns)
    conn.execute(f"CREATE TABLE v (k int PRIMARY KEY, {cols})")
    for r in range(nrows):
        values = ", ".join(values[r] for _, _, _, values in columns)
        conn.execute(f"INSERT INTO v VALUES ({r}, {values})")


#: the writers with the database's help (see the module docstring)
WRITERS = ["sql", "copy"]
#: planners by writer
PLANNERS = {"sql": plan_binary2_sql, "copy": plan_binary2_copy}


def fetch(
    conninfo: str, sql: str, fields: Sequence[Field], *, writer: str | None, batch: int = 4
) -> tuple[bytes, bool]:
    """BINARY2 bytes of ``sql``: Python encoder (``writer`` None), or the given writer as
    the service chooses it (tap.query.run.binary2_rewrite).

    Returns the bytes and whether the rewritten query ran.
    """
    rewrite, encoders = binary2_rewrite(sql, fields, copy=writer == "copy", in_sql=writer == "sql")
    plan = QueryPlan(sql=sql, timeout_s=10, batch=batch, rewrite=rewrite if writer else None)
    batches = list(stream_rows(conninfo, plan))
    if plan.rewritten:
        return b"".join(encoders[0](b) for b in batches), True
    encoder = Binary2Rows(fields)
    return b"".join(encoder.encode(b) for b in batches), False


@pytest.fixture(params=WRITERS)
def writer(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_transcoder_is_built_where_a_compiler_is() -> None:
    """Installing provdb compiles tap/votable/_binary2copy.c (hatch_build.py) when a C
    compiler is at hand; it is optional elsewhere, not here."""
    import shutil
    import sysconfig

    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc}) on this machine")
    assert binary2_copy.available()


@pytest.mark.parametrize("batch", [1, 4, 5000])
def test_every_supported_kind_gives_the_python_bytes(values_db: str, writer: str, batch: int):
    fields = [Field("k", "int")] + [field for _, _, field, _ in COLUMNS]
    sql = "SELECT * FROM v ORDER BY k"
    expected, used_sql = fetch(values_db, sql, fields, writer=None)
    assert not used_sql
    got, used_sql = fetch(values_db, sql, fields, writer=writer, batch=batch)
    assert used_sql, "the rewrite should apply to every column of the table"
    assert got == expected


@pytest.mark.parametrize("column", [c[0] for c in COLUMNS])
def test_each_kind_alone(values_db: str, column: str, writer: str) -> None:
    """One column at a time, so that a difference names its kind."""
    field = next(f for name, _, f, _ in COLUMNS if name == column)
    sql = f"SELECT {column} FROM v ORDER BY k"
    expected, _ = fetch(values_db, sql, [field], writer=None)
    got, used_sql = fetch(values_db, sql, [field], writer=writer)
    assert used_sql
    assert got == expected


def test_known_bytes_of_a_row(values_db: str, writer: str) -> None:
    """Spot checks written out by hand, independent of the Python writer."""
    fields = [
        Field("l", "long"),
        Field("t", "char", "*"),
        Field("ts", "char", "*", "timestamp"),
        Field("u", "unicodeChar", "*"),
        Field("b", "boolean"),
    ]
    sql = "SELECT l, t, ts, u, b FROM v WHERE k = 4"
    got, used_sql = fetch(values_db, sql, fields, writer=writer)
    assert used_sql
    ucs2 = "ctl\ufffd tab\t end".encode("utf-16-be")
    assert got == (
        b"\x00"  # no null
        + struct.pack(">q", 42)
        + struct.pack(">I", 20)
        + b"non-ascii ? and ? ok"  # one '?' per non-ASCII character
        + struct.pack(">I", 23)
        + b"2020-01-20T20:42:01.123"  # truncated to milliseconds
        + struct.pack(">I", 13)
        + ucs2  # the control character XML cannot carry is U+FFFD
        + b"F"
    )


def test_null_flags_and_placeholders(values_db: str, writer: str) -> None:
    fields = [
        Field("b", "boolean"),
        Field("i", "int"),
        Field("f8", "double"),
        Field("t", "char", "*"),
        Field("ts", "char", "*", "timestamp"),
        Field("u", "unicodeChar", "*"),
        Field("by", "unsignedByte", "*"),
        Field("s", "short"),
        Field("f4", "float"),
    ]
    sql = "SELECT b, i, f8, t, ts, u, by, s, f4 FROM v WHERE k = 2"
    got, used_sql = fetch(values_db, sql, fields, writer=writer)
    assert used_sql
    assert got[:2] == bytes([0xFF, 0x80])  # nine nulls: eight bits, then the top bit
    (flag, i, f8, t, ts, u, by, s, f4) = struct.unpack(">cidIIIIhf", got[2:])
    assert (flag, i, t, ts, u, by, s) == (b"?", 0, 0, 0, 0, 0, 0)
    assert math.isnan(f8) and math.isnan(f4)


@pytest.mark.parametrize(
    ("pgtype", "field"),
    [
        ("int8", Field("x", "int")),  # narrowing: Python decides
        ("float8", Field("x", "float")),
        ("float4", Field("x", "double")),  # Python widens the shortest text
        ("text", Field("x", "char", "8")),  # fixed size
        ("text", Field("x", "char")),  # scalar char
        ("text", Field("x", "char", "4*")),
        ("json", Field("x", "unicodeChar", "*")),
        ("jsonb", Field("x", "char", "*")),
        ("int4", Field("x", "char", "*")),
        ("text", Field("x", "char", "*", "timestamp")),
        ("uuid", Field("x", "char", "*")),
        ("int4[]", Field("x", "int", "*")),
    ],
)
def test_other_pairs_are_left_to_python(
    values_db: str, pgtype: str, field: Field, writer: str
) -> None:
    sql = f"SELECT NULL::{pgtype} AS x"
    with psycopg.connect(values_db) as conn:
        oids = result_types(conn, sql)
    assert PLANNERS[writer](sql, [field], oids) is None
    got, used_sql = fetch(values_db, sql, [field], writer=writer)
    assert not used_sql
    assert got == fetch(values_db, sql, [field], writer=None)[0]


def test_row_order_and_duplicate_names_survive_the_wrapping(values_db: str, writer: str):
    fields = [Field("k", "int"), Field("k", "int"), Field("t", "char", "*")]
    sql = "SELECT k, k, t FROM v ORDER BY k DESC"
    expected, _ = fetch(values_db, sql, fields, writer=None)
    got, used_sql = fetch(values_db, sql, fields, writer=writer)
    assert used_sql and got == expected


def test_a_query_the_database_refuses_is_a_query_error(values_db: str) -> None:
    """The describe step meets parse-analysis errors first: same message as running."""
    sql = "SELECT k + 'x'::text FROM v"
    fields = [Field("x", "int")]
    messages = []
    for writer in (None, *WRITERS):
        with pytest.raises(QueryError) as info:
            fetch(values_db, sql, fields, writer=writer)
        messages.append(str(info.value))
    assert len(set(messages)) == 1
    assert "operator does not exist" in messages[0]


def test_result_types_are_described_without_running(values_db: str) -> None:
    with psycopg.connect(values_db) as conn:
        # would fail when run (division by zero), describes fine
        assert result_types(conn, "SELECT 1/0 AS x, 'a'::text, now()") == (23, 25, 1184)


# ----------------------------------------------------------------------------- the archive


def test_every_published_table_is_written_with_the_database(archive_url: URL) -> None:
    """No table of the archive silently falls back to the Python writer."""
    from tap.adql import translate
    from tap.catalog import catalog_from_metadata

    catalog = catalog_from_metadata()
    names = [t.name for t in catalog.tables]
    assert len(names) > 25
    with psycopg.connect(conninfo_of(archive_url)) as conn:
        for name in names:
            tr = translate(f"SELECT * FROM {name}", catalog, maxrec=10)
            oids = result_types(conn, tr.sql)
            for writer, plan in PLANNERS.items():
                assert plan(tr.sql, tr.fields, oids) is not None, (writer, name)


def _cells(doc: bytes) -> list[tuple[str, ...]]:
    """Rows of a VOTable as sorted tuples of cell texts (masked cells as None)."""
    import io

    import numpy as np
    from astropy.io.votable import parse

    table = parse(io.BytesIO(doc), verify="exception").get_first_table()
    data = table.array
    rows = []
    for i in range(len(data)):
        row = []
        for name in data.dtype.names:
            masked = np.ma.getmaskarray(data[name])[i]
            row.append(None if bool(np.all(masked)) else repr(data[name].data[i]))
        rows.append(tuple(row))
    return sorted(rows, key=repr)


#: views with a column that follows the clock (two queries never agree on it)
_STABLE = {"archive.ingest_file_age": "ingest_file_id, path, status, last_ingest"}


def test_binary2_from_postgresql_reads_like_tabledata(tap_server: str) -> None:
    """Over real HTTP, for every table: BINARY2 (rows written by PostgreSQL) and TABLEDATA
    (written by Python) give astropy the same values."""
    import requests

    from tap.catalog import catalog_from_metadata

    for table in catalog_from_metadata().tables:
        docs = []
        for fmt in ("votable/b2", "votable/td"):
            r = requests.post(
                tap_server + "/sync",
                data={
                    "LANG": "ADQL",
                    "QUERY": f"SELECT {_STABLE.get(table.name, '*')} FROM {table.name}",
                    "FORMAT": fmt,
                },
                timeout=60,
            )
            assert r.status_code == 200, (table.name, r.text[:500])
            docs.append(r.content)
        assert _cells(docs[0]) == _cells(docs[1]), table.name


# ----------------------------------------------------------------------------- whole stream


@pytest.mark.parametrize("writer", [*WRITERS, None])
def test_large_result_with_an_error_midway_ends_well_formed(values_db: str, writer: str | None):
    """Several read-ahead batches, then the database fails (division by zero at row
    12,001): the rows before it are in the document, and an ERROR INFO ends it."""
    import io

    from astropy.io.votable import parse

    from tap.formats import resolve_format
    from tap.query.run import PreparedQuery, result_stream

    with psycopg.connect(values_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big AS SELECT g AS n, 'row ' || g AS t FROM generate_series(1, 30000) g"
        )
    prepared = PreparedQuery(
        query="(test)",
        sql="SELECT n, t, 1 / (n - 12001) AS boom FROM big",  # no sort: rows stream
        fields=[Field("n", "int"), Field("t", "char", "*"), Field("boom", "int")],
        format=resolve_format("votable"),
        maxrec=100_000,
        limit=100_000,
        overflow_possible=True,
        timeout_s=60,
        run_id=None,
        binary2_sql=writer == "sql",
        binary2_copy=writer == "copy",
    )
    status: dict = {}
    doc = b"".join(
        result_stream(prepared, lambda: psycopg.connect(values_db), role=None, status=status)
    )
    assert doc.rstrip().endswith(b"</VOTABLE>")
    assert b'<INFO name="QUERY_STATUS" value="ERROR">' in doc and b"division by zero" in doc
    assert 10_000 <= status["rows"] <= 12_000 and status["error"] is not None
    table = parse(io.BytesIO(doc)).get_first_table()
    assert len(table.array) == status["rows"]
    assert table.array["n"][0] == 1 and table.array["t"][-1] == f"row {status['rows']}"


def test_shapes_with_small_results_are_then_written_by_python(values_db: str) -> None:
    """The first run of a query shape uses the rewrite; once a shape is known to give
    small results, its runs skip it (it costs PostgreSQL more than it saves there)."""
    from tap.formats import resolve_format
    from tap.query import run

    def prepared(sql: str, key: tuple) -> run.PreparedQuery:
        return run.PreparedQuery(
            query="(test)",
            sql=sql,
            fields=[Field("k", "int"), Field("t", "char", "*")],
            format=resolve_format("votable"),
            maxrec=100_000,
            limit=100_000,
            overflow_possible=True,
            timeout_s=60,
            run_id=None,
            types_key=key,
        )

    small, big = (object(), "small shape"), (object(), "big shape")
    docs = []
    for _ in range(2):
        q = prepared("SELECT k, t FROM v ORDER BY k", small)
        docs.append(b"".join(run.result_stream(q, lambda: psycopg.connect(values_db), role=None)))
    assert docs[0] == docs[1]
    assert run._small_shape(small)
    with psycopg.connect(values_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE many AS SELECT g AS k, 'x' AS t FROM generate_series(1, 3000) g")
    q = prepared("SELECT k, t FROM many", big)
    b"".join(run.result_stream(q, lambda: psycopg.connect(values_db), role=None))
    assert not run._small_shape(big)
    assert not run._small_shape(None)


# ----------------------------------------------------------------------------- COPY path


def _copy_data(conninfo: str, copy: str) -> bytes:
    """The raw data of a ``COPY ... TO STDOUT (FORMAT binary)``, as PostgreSQL sends it."""
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("SET DateStyle = ISO")
        with cur.copy(copy) as data:
            return b"".join(bytes(chunk) for chunk in data)


def _raw_copy(sql: str) -> str:
    return f"COPY ({sql}) TO STDOUT (FORMAT binary)"


def _copy_plan(conninfo: str, sql: str, fields: Sequence[Field]) -> binary2_copy.CopyBinary2:
    with psycopg.connect(conninfo) as conn:
        planned = plan_binary2_copy(sql, fields, result_types(conn, sql))
    assert planned is not None
    return planned


def test_timestamps_beyond_dali_are_written_as_postgresql_writes_them(values_db: str):
    """Years outside 1-9999 and the infinities (which Python cannot even read): both
    database writers send PostgreSQL's own text, the same bytes."""
    with psycopg.connect(values_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE far (k int, ts timestamp, tz timestamptz, d date)")
        conn.execute(
            """INSERT INTO far VALUES
            (1, 'infinity', '-infinity', 'infinity'),
            (2, '-infinity', 'infinity', '-infinity'),
            (3, '10000-01-01 00:00:00.5', '12345-06-07 08:09:10+00', '10000-01-01'),
            (4, '0044-03-15 12:00:00.000250 BC', '0001-01-01 00:00:00+00 BC', '4713-11-24 BC'),
            (5, '9999-12-31 23:59:59.999999', '0001-01-01 00:00:00+00', '0001-01-01')"""
        )
    fields = [
        Field("k", "int"),
        Field("ts", "char", "*", "timestamp"),
        Field("tz", "char", "*", "timestamp"),
        Field("d", "char", "*", "timestamp"),
    ]
    sql = "SELECT k, ts, tz, d FROM far ORDER BY k"
    by_sql, rewritten = fetch(values_db, sql, fields, writer="sql")
    assert rewritten
    by_copy, rewritten = fetch(values_db, sql, fields, writer="copy")
    assert rewritten
    assert by_copy == by_sql
    for text in (
        b"infinity",
        b"-infinity",
        b"10000-01-01 00:00:00.5",
        b"0044-03-15 12:00:00.00025 BC",
        b"9999-12-31T23:59:59.999",
        b"4713-11-24 BC",
        b"0001-01-01T00:00:00",
    ):
        assert struct.pack(">I", len(text)) + text in by_copy, text


def test_copy_data_split_anywhere_gives_the_same_rows(values_db: str) -> None:
    """PostgreSQL sends one row per message, but the decoder does not rely on it: the
    COPY data cut at every byte position (header included) gives the same rows."""
    fields = [Field("k", "int")] + [field for _, _, field, _ in COLUMNS]
    sql = "SELECT * FROM v ORDER BY k"
    planned = _copy_plan(values_db, sql, fields)
    data = _copy_data(values_db, planned.sql)
    whole = planned.decoder()
    rows = whole.feed([data])
    whole.close()
    assert len(rows) == NROWS
    expected, _ = fetch(values_db, sql, fields, writer=None)
    assert rows.data == expected
    for cut in range(len(data) + 1):
        decoder = planned.decoder()
        first = decoder.feed([data[:cut]])
        second = decoder.feed([memoryview(data)[cut:]])
        decoder.close()
        assert first.data + second.data == expected, cut
        assert len(first) + len(second) == NROWS


def test_encoded_rows_slice_at_row_boundaries(values_db: str) -> None:
    fields = [Field("k", "int"), Field("t", "char", "*")]
    sql = "SELECT k, t FROM v ORDER BY k"
    planned = _copy_plan(values_db, sql, fields)
    rows = planned.decoder().feed([_copy_data(values_db, planned.sql)])
    singles = [rows[i] for i in range(len(rows))]
    assert b"".join(singles) == rows.data and rows[-1] == singles[-1]
    assert singles[0] == b"\x00" + struct.pack(">iI", 0, 3) + b"abc"
    for start in range(NROWS + 1):
        for stop in range(NROWS + 2):
            part = rows[start:stop]
            assert part.data == b"".join(singles[start:stop]), (start, stop)
            assert len(part) == len(singles[start:stop])
            assert [part[i] for i in range(len(part))] == singles[start:stop]
    assert rows[2:][1:3].data == b"".join(singles[3:5])  # a slice of a slice
    with pytest.raises(IndexError):
        rows[NROWS]
    with pytest.raises(ValueError, match="step"):
        rows[::2]


def test_data_that_is_not_what_was_planned_is_refused(values_db: str) -> None:
    fields = [Field("k", "int"), Field("t", "char", "*")]
    sql = "SELECT k, t FROM v ORDER BY k"
    planned = _copy_plan(values_db, sql, fields)
    data = _copy_data(values_db, planned.sql)
    with pytest.raises(ValueError, match="PGCOPY signature"):
        planned.decoder().feed([b"NOTACOPY" + data[8:]])
    three_columns = _copy_data(values_db, _raw_copy("SELECT k, t, k FROM v"))
    with pytest.raises(ValueError, match="3 fields where 2 were expected"):
        planned.decoder().feed([three_columns])
    longs = _copy_plan(values_db, "SELECT 1::int8, 't'::text", [Field("k", "long"), fields[1]])
    with pytest.raises(ValueError, match="column 0: 4 bytes where 8 were expected"):
        CopyDecoder(longs.spec).feed([data])
    cut = planned.decoder()
    cut.feed([data[:-5]])
    with pytest.raises(ValueError, match="ended in the middle of a row"):
        cut.close()
    done = planned.decoder()
    done.feed([data])
    with pytest.raises(ValueError, match="after the trailer"):
        done.feed([b"\x00"])


def test_a_copy_stopped_early_leaves_a_clean_connection(values_db: str) -> None:
    """The reader stops after the first batch (client gone, MAXREC reached): the COPY is
    cancelled and drained, the transaction rolled back, the pooled connection reused."""
    from tap.db import ConnectionPool

    with psycopg.connect(values_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE long AS SELECT g AS n FROM generate_series(1, 200000) g")
    pool = ConnectionPool(values_db)
    try:
        sql = "SELECT n FROM long"
        rewrite, _ = binary2_rewrite(sql, [Field("n", "int")], copy=True, in_sql=False)
        plan = QueryPlan(sql=sql, timeout_s=30, batch=1000, rewrite=rewrite)
        pids: list[int] = []
        rows = stream_rows(pool.get, plan, on_pid=pids.append)
        assert len(next(rows)) == 1000 and plan.rewritten
        rows.close()
        again = pool.get()
        assert again.info.backend_pid == pids[0]  # the same connection, back in the pool
        assert again.execute("SELECT count(*) FROM long").fetchone() == (200000,)
        again.close()
    finally:
        pool.close()


def test_a_copy_past_its_execution_duration_is_cancelled(values_db: str) -> None:
    sql = "SELECT g AS n FROM generate_series(1, 100000) g WHERE pg_sleep(0.001) IS NOT NULL"
    rewrite, _ = binary2_rewrite(sql, [Field("n", "int")], copy=True, in_sql=False)
    plan = QueryPlan(sql=sql, timeout_s=1, batch=5000, rewrite=rewrite)
    with pytest.raises(QueryCancelled, match="execution duration of 1 s"):
        list(stream_rows(values_db, plan))
    assert plan.rewritten


def test_rewrites_need_a_utf8_connection(values_db: str, writer: str) -> None:
    """Binary text values come in the client encoding: on another one the Python writer
    encodes the rows (from values psycopg decoded)."""
    latin1 = make_conninfo(values_db, client_encoding="LATIN1")
    fields = [Field("k", "int"), Field("t", "char", "*"), Field("u", "unicodeChar", "*")]
    sql = "SELECT k, t, u FROM v WHERE k IN (0, 1, 5) ORDER BY k"
    got, rewritten = fetch(latin1, sql, fields, writer=writer)
    assert not rewritten
    assert got == fetch(values_db, sql, fields, writer=writer)[0]
