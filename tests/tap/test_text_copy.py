"""CSV, TSV and JSON rows written by PostgreSQL's COPY (tap/votable/text_copy.py) against
the Python writers (tap/votable/textformats.py): the same bytes, on a real server.

A table holds every column kind the COPY path writes with its awkward values (NULL and
empty text, quotes, commas, CR/LF inside values, tabs, backslashes, control characters,
non-ASCII, ``\\.``, timestamps with and without fractions, zones) in a session with a far
time zone and a non-ISO DateStyle; each format is written once by Python from fetched
rows and once from the COPY, in batches of several sizes, and the bytes must be equal.
Overflow (MAXREC), errors in the middle of the stream and the service over HTTP are
checked the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from sqlalchemy.engine import URL

from provdb.votable.fields import Field
from tap.formats import resolve_format
from tap.query.execute import QueryPlan, stream_rows
from tap.query.run import PreparedQuery, result_stream, text_rewrite
from tap.votable.text_copy import csv_rows, plan_text_copy
from tests.tap.test_binary2_db import conninfo_of, create_values_table

TEXTS = [
    "'plain'",
    "''",
    "NULL",
    "'com,ma \"quoted\" end'",
    "E'line\\nbreak\\r\\ncrlf\\rcr'",
    "E'tab\\there back\\\\slash \\\\n not a newline'",
    "E'ctl \\x01\\x08\\x0b\\x0c\\x1f del\\x7f'",
    "'non-ascii é and 😀 ok'",
    "E'\\\\.'",
    "'\"'",
    "E'\\n'",
    "' lead and trail '",
]
N = len(TEXTS)

# (column, PostgreSQL type, field, values: one per row)
COLUMNS: list[tuple[str, str, Field, list[str]]] = [
    ("b", "bool", Field("b", "boolean"), ["true", "false", "NULL"] * (N // 3)),
    ("s", "int2", Field("s", "short"), ["-32768", "32767", "NULL", "0"] * (N // 4)),
    (
        "l",
        "int8",
        Field("l", "long"),
        ["-9223372036854775808", "9223372036854775807", "NULL", "42"] * (N // 4),
    ),
    ("i_as_short", "int4", Field("i_as_short", "short"), ["70000", "NULL", "-5"] * (N // 3)),
    ("t", "text", Field("t", "char", "*"), TEXTS),
    ("u", "varchar(40)", Field("u", "unicodeChar", "*"), TEXTS[::-1]),
    (
        "ts",
        "timestamp",
        Field("ts", "char", "*", xtype="timestamp"),
        [
            "'2020-01-17 21:05:07'",
            "'2020-01-17 21:05:07.5'",
            "'2020-01-17 21:05:07.123456'",
            "NULL",
            "'0999-12-31 23:59:59.001'",
            "'2020-01-17 00:00:00.000999'",
        ]
        * (N // 6),
    ),
    (
        "tz",
        "timestamptz",
        Field("tz", "char", "*", xtype="timestamp"),
        ["'2020-01-17 21:05:07+05'", "NULL", "'2021-06-30 23:59:59.9999-03'"] * (N // 3),
    ),
    (
        "d",
        "date",
        Field("d", "char", "*", xtype="timestamp"),
        ["'2020-01-17'", "NULL", "'0001-01-01'", "'9999-12-31'"] * (N // 4),
    ),
]
FIELDS = [f for _, _, f, _ in COLUMNS]
FORMATS = ["csv", "tsv", "json"]


@pytest.fixture(params=["drain", "per-row"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of reading the COPY: the compiled drain (many rows per call) when it is
    built, and psycopg's get_copy_data (a row per call), the fallback without it."""
    from tap.query import copy_drain, execute

    if request.param == "drain":
        if copy_drain.drainer() is None:
            pytest.skip("tap/query/_copydrain.c is not built (no C compiler at install)")
    else:
        monkeypatch.setattr(execute, "drainer", lambda: None)
    return request.param


@pytest.fixture(params=["compiled", "sql"])
def converter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of writing the format: the compiled converter of plain COPY text rows
    (tap/votable/_textcopy.c) when it is built, and PostgreSQL writing each format (the
    plans without it)."""
    from tap.votable import text_copy

    if request.param == "compiled" and not text_copy.COMPILED:
        pytest.skip("tap/votable/_textcopy.c is not built (no C compiler at install)")
    monkeypatch.setattr(text_copy, "COMPILED", request.param == "compiled")
    return request.param


@pytest.fixture
def values_db(empty_db_url: URL) -> Iterator[str]:
    """conninfo of a database holding table ``v`` (COLUMNS) in an awkward session setup."""
    conninfo = conninfo_of(empty_db_url, TimeZone="Asia/Kolkata", DateStyle="SQL\\,DMY")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        create_values_table(conn, COLUMNS, N)
    yield conninfo


def write(
    conninfo: str, fmt: str, sql: str, fields: Sequence[Field], *, copy: bool, batch: int = 4
) -> tuple[bytes, bool]:
    """The document ``fmt`` of ``sql``: Python writer, or COPY as the service chooses it.

    Returns the bytes and whether the COPY ran."""
    rewrite, encoders = text_rewrite(fmt, sql, fields)
    plan = QueryPlan(sql=sql, timeout_s=10, batch=batch, rewrite=rewrite if copy else None)
    batches = list(stream_rows(conninfo, plan))
    options = {"row_encoder": encoders[0]} if plan.rewritten else {}
    stream = resolve_format(fmt).writer(fields, batches, **options)
    return b"".join(stream), plan.rewritten


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("batch", [1, 5, 1000])
def test_copy_writes_the_python_bytes(
    reader: str, converter: str, values_db: str, fmt: str, batch: int
) -> None:
    sql = f"SELECT {', '.join(name for name, *_ in COLUMNS)} FROM v ORDER BY k"
    expected, rewritten = write(values_db, fmt, sql, FIELDS, copy=False)
    assert not rewritten
    got, rewritten = write(values_db, fmt, sql, FIELDS, copy=True, batch=batch)
    assert rewritten
    assert got == expected


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("column", [name for name, *_ in COLUMNS])
def test_each_kind_alone(
    reader: str, converter: str, values_db: str, fmt: str, column: str
) -> None:
    """One column (CSV writes a lone empty field ``""``, not an empty line)."""
    field = next(f for name, _, f, _ in COLUMNS if name == column)
    sql = f"SELECT {column} FROM v ORDER BY k"
    got, rewritten = write(values_db, fmt, sql, [field], copy=True)
    assert rewritten
    assert got == write(values_db, fmt, sql, [field], copy=False)[0]


def test_known_csv_bytes(reader: str, converter: str, values_db: str) -> None:
    """RFC 4180: CRLF row ends, quotes doubled, line breaks kept inside quotes; NULL and
    empty text are empty fields; a one-column NULL is ``""``."""
    sql = "SELECT k, t FROM v WHERE k IN (0, 1, 2, 3, 4, 8) ORDER BY k"
    data, rewritten = write(values_db, "csv", sql, [Field("k", "int"), FIELDS[4]], copy=True)
    assert rewritten
    assert data == (
        b"k,t\r\n0,plain\r\n1,\r\n2,\r\n"
        b'3,"com,ma ""quoted"" end"\r\n'
        b'4,"line\nbreak\r\ncrlf\rcr"\r\n'
        b"8,\\.\r\n"
    )
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert rows[4] == ["3", 'com,ma "quoted" end'] and rows[5][1] == "line\nbreak\r\ncrlf\rcr"
    one, _ = write(
        values_db, "csv", "SELECT t FROM v WHERE k < 3 ORDER BY k", [FIELDS[4]], copy=True
    )
    assert one == b't\r\nplain\r\n""\r\n""\r\n'


def test_known_tsv_and_json_bytes(reader: str, converter: str, values_db: str) -> None:
    sql = "SELECT k, t, ts FROM v WHERE k IN (2, 5, 6, 7) ORDER BY k"
    fields = [Field("k", "int"), FIELDS[4], FIELDS[6]]
    tsv, _ = write(values_db, "tsv", sql, fields, copy=True)
    assert tsv == (
        b"k\tt\tts\n"
        b"2\t\t2020-01-17T21:05:07.123\n"
        b"5\ttab\\there back\\\\slash \\\\n not a newline\t2020-01-17T00:00:00.000\n"
        b"6\tctl \x01\\b\\v\\f\x1f del\x7f\t2020-01-17T21:05:07\n"
        b"7\tnon-ascii \xc3\xa9 and \xf0\x9f\x98\x80 ok\t2020-01-17T21:05:07.500\n"
    )
    doc, _ = write(values_db, "json", sql, fields, copy=True)
    assert (
        b'\n[5, "tab\\there back\\\\slash \\\\n not a newline", "2020-01-17T00:00:00.000"],' in doc
    )
    assert b'\n[6, "ctl \\u0001\\b\\u000b\\f\\u001f del\x7f", "2020-01-17T21:05:07"],' in doc
    assert json.loads(doc)["data"][3][1] == "non-ascii é and 😀 ok"


@pytest.mark.parametrize("compiled", [True, False])
def test_columns_python_writes_otherwise_are_declined(compiled: bool) -> None:
    """numeric, float4, arrays, json, uuid: the Python writer keeps them (None); without
    the compiled converter also float8 and jsonb."""

    def plan(fmt: str, field: Field, oid: int) -> object:
        return plan_text_copy(fmt, "SELECT 1", [field], [oid], compiled=compiled)

    assert (plan("csv", Field("x", "double"), 701) is None) is not compiled
    assert (plan("csv", Field("x", "char", "*"), 3802) is None) is not compiled
    assert plan("csv", Field("x", "float"), 700) is None
    assert plan("csv", Field("x", "char", "*"), 114) is None  # json: text kept as written
    assert plan("csv", Field("x", "char", "*"), 2950) is None
    assert plan("csv", Field("x", "double", "*"), 1022) is None
    assert plan("json", Field("x", "long"), 1700) is None
    assert plan("votable", Field("x", "long"), 20) is None
    assert plan("tsv", Field("x", "long"), 20) is not None


#: jsonb and float8 values, written by the compiled converter only
JSONB = [
    """'{"b": [1, 2.50, -0.0, 1e3, 12345678901234567890.125], "a": "x, \\"y\\"\\n\\t\\\\"}'""",
    """'"a top-level string, with \\"quotes\\" and \\u0001 é"'""",
    "'null'",
    "NULL",
    "'[]'",
    """'{"deep": {"k": [true, false, null, {}], "e": ""}, "u": "😀\\u001f"}'""",
    "'3.25'",
    "'-17'",
    """'""'""",
    "'1e-7'",
]
FLOATS = [
    "'NaN'",
    "'Infinity'",
    "'-Infinity'",
    "NULL",
    "'-0'",
    "'0.1'",
    "'1e15'",
    "'1e16'",
    "'1.7976931348623157e308'",
    "'5e-324'",
]


@pytest.fixture
def json_float_db(values_db: str) -> str:
    with psycopg.connect(values_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE jf (k int PRIMARY KEY, j jsonb, f float8, t text)")
        for k, (j, f) in enumerate(zip(JSONB, FLOATS, strict=True)):
            conn.execute(f"INSERT INTO jf VALUES ({k}, {j}, {f}, {TEXTS[k]})")
    return values_db


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("columns", ["k, j, f, t", "j", "f"])
def test_compiled_jsonb_and_float8_are_the_python_bytes(
    reader: str, json_float_db: str, fmt: str, columns: str
) -> None:
    """jsonb as Python's json.dumps writes what psycopg read (compact, floats as repr, a
    top-level string as its text, ``null`` as NULL); float8 as repr, NaN/+Inf/-Inf
    (JSON: null)."""
    from tap.votable import text_copy

    if not text_copy.COMPILED:
        pytest.skip("tap/votable/_textcopy.c is not built (no C compiler at install)")
    known = {
        "k": Field("k", "int"),
        "j": Field("j", "char", "*", xtype="json"),
        "f": Field("f", "double"),
        "t": Field("t", "char", "*"),
    }
    fields = [known[c.strip()] for c in columns.split(",")]
    sql = f"SELECT {columns} FROM jf ORDER BY k"
    got, rewritten = write(json_float_db, fmt, sql, fields, copy=True, batch=3)
    assert rewritten
    assert got == write(json_float_db, fmt, sql, fields, copy=False)[0]


def test_csv_line_ends_only_outside_quotes() -> None:
    rows = [b'1,"a\nb"\n', b'2,"x""\n"\n', b"3,c\n"]
    assert csv_rows(rows) == b'1,"a\nb"\r\n2,"x""\n"\r\n3,c\r\n'
    assert csv_rows([b"\n", b'"\\."\n', b"a\n"], single=True) == b'""\r\n\\.\r\na\r\n'


# ----------------------------------------------------------------------------- whole stream


def prepared(fmt: str, sql: str, fields: list[Field], *, copy: bool, limit: int) -> PreparedQuery:
    return PreparedQuery(
        query="(test)",
        sql=sql,
        fields=fields,
        format=resolve_format(fmt),
        maxrec=limit,
        limit=limit,
        overflow_possible=True,
        timeout_s=60,
        run_id=None,
        text_copy=copy,
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_overflow_is_the_same(reader: str, converter: str, values_db: str, fmt: str) -> None:
    """MAXREC cuts the COPY's rows where it cuts Python's; JSON says overflow."""
    with psycopg.connect(values_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big AS SELECT g AS n, 'row ' || g AS t FROM generate_series(1, 12000) g"
        )
    fields = [Field("n", "int"), Field("t", "char", "*")]
    docs, statuses = [], []
    for copy in (True, False):
        status: dict = {}
        q = prepared(fmt, "SELECT n, t FROM big ORDER BY n", fields, copy=copy, limit=7001)
        connect = lambda: psycopg.connect(values_db)  # noqa: E731
        docs.append(b"".join(result_stream(q, connect, role=None, status=status)))
        statuses.append(status)
    assert docs[0] == docs[1]
    assert statuses[0] == statuses[1] == {"rows": 7001, "overflow": True, "error": None}
    if fmt == "json":
        doc = json.loads(docs[0])
        assert doc["overflow"] is True and doc["data"][-1] == [7001, "row 7001"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_midway_ends_the_document_well(
    reader: str, converter: str, values_db: str, fmt: str
) -> None:
    """The database fails at row 12,001 of 30,000: the rows before it are written, the
    JSON document ends with "error", CSV/TSV just end; the status has the error."""
    with psycopg.connect(values_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big AS SELECT g AS n, 'row ' || g AS t FROM generate_series(1, 30000) g"
        )
    fields = [Field("n", "int"), Field("t", "char", "*"), Field("boom", "int")]
    status: dict = {}
    q = prepared(fmt, "SELECT n, t, 1 / (n - 12001) FROM big", fields, copy=True, limit=100_000)
    doc = b"".join(result_stream(q, lambda: psycopg.connect(values_db), role=None, status=status))
    assert status["error"] is not None and "division by zero" in str(status["error"])
    assert 10_000 <= status["rows"] <= 12_000
    if fmt == "json":
        parsed = json.loads(doc)
        assert "division by zero" in parsed["error"] and len(parsed["data"]) == status["rows"]
        assert parsed["data"][0] == [1, "row 1", 0]
    else:
        lines = doc.split(b"\r\n" if fmt == "csv" else b"\n")
        assert lines[-1] == b"" and len(lines) == status["rows"] + 2


#: views with a column that follows the clock (two queries never agree on it)
_STABLE = {"archive.ingest_file_age": "ingest_file_id, path, status, last_ingest"}


def test_service_answers_the_python_bytes_for_every_table(
    tap_server: str, archive_url: URL
) -> None:
    """Over real HTTP (COPY on) against the Python writer in this process, for every
    published table and each format."""
    import requests

    from tap.catalog import catalog_from_metadata
    from tap.config import TapConfig
    from tap.params import TapParams
    from tap.query.run import prepare

    catalog = catalog_from_metadata()
    conninfo = conninfo_of(archive_url)
    for table in catalog.tables:
        query = f"SELECT {_STABLE.get(table.name, '*')} FROM {table.name}"
        for fmt in FORMATS:
            form = {"LANG": "ADQL", "QUERY": query, "FORMAT": fmt, "MAXREC": "100000"}
            r = requests.post(tap_server + "/sync", data=form, timeout=60)
            assert r.status_code == 200, (table.name, r.text[:500])
            q = prepare(TapParams(form), catalog, TapConfig(maxrec_hard=100_000))
            q.text_copy = False
            expected = b"".join(result_stream(q, lambda: psycopg.connect(conninfo), role=None))
            if fmt != "json":  # rows in the order the scan met them: compare as sets
                assert sorted(r.content.splitlines()) == sorted(expected.splitlines()), table.name
            else:
                got, want = json.loads(r.content), json.loads(expected)
                assert sorted(map(repr, got["data"])) == sorted(map(repr, want["data"]))
                assert got["metadata"] == want["metadata"], table.name
