"""The streaming VOTable writers, checked with real readers: astropy, pyvo, STILTS votlint."""

from __future__ import annotations

import base64
import io
import math
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from astropy.io.votable import parse
from pyvo.dal.exceptions import DALOverflowWarning, DALQueryError
from pyvo.dal.query import DALResults

from tap.votable import (
    VOTABLE_NAMESPACE,
    Field,
    ResultStream,
    error_document,
    format_timestamp,
    votable_stream,
)
from tap.votable import stream as stream_module

NS = {"v": VOTABLE_NAMESPACE}
SERIALIZATIONS = ("binary2", "tabledata")
NAN, INF = math.nan, math.inf

FIELDS = [
    Field("id", "long", ucd="meta.id;meta.main", description="row id & <key>"),
    Field("n", "int", unit="count"),
    Field("s", "short"),
    Field("ra", "double", unit="deg", ucd="pos.eq.ra"),
    Field("mag", "float", unit="mag"),
    Field("name", "char", "*", utype="voprov:Entity.name"),
    Field("label", "unicodeChar", "*"),
    Field("flag", "boolean"),
    Field("t", "char", "*", xtype="timestamp", description="when"),
]

ROWS = [
    (1, 2, 3, 1.5, 2.5, "abc", "héllo wörld", True, datetime(2020, 1, 2, 3, 4, 5, 123456)),
    (None,) * 9,
    (
        -(2**63),
        -(2**31),
        -(2**15),
        NAN,
        INF,
        "a<b&c>d \"q\" 'x' ]]>",
        "emoji 😀 here",
        False,
        date(2021, 5, 6),
    ),
    (
        2**63 - 1,
        2**31 - 1,
        2**15 - 1,
        -INF,
        -1e-30,
        "ctl\x00\x01\x1f end",
        "tab\tnl\ncr\r end",
        True,
        datetime(2020, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    ),
    (5, 0, 0, 0.1, 3.25, "", "", False, "2020-01-02 03:04:05.5+00:00"),
    (6, 1, 1, 1e300, 1.0, "non-ascii é", "\ud800 lone surrogate", None, datetime(1, 1, 1)),
]

# What a reader must find (None = null; floats compared with NaN-awareness).
EXPECTED = {
    "id": [1, None, -(2**63), 2**63 - 1, 5, 6],
    "n": [2, None, -(2**31), 2**31 - 1, 0, 1],
    "s": [3, None, -(2**15), 2**15 - 1, 0, 1],
    "ra": [1.5, None, NAN, -INF, 0.1, 1e300],
    "mag": [2.5, None, INF, -1e-30, 3.25, 1.0],
    "name": ["abc", "", "a<b&c>d \"q\" 'x' ]]>", "ctl??? end", "", "non-ascii ?"],
    "label": [
        "héllo wörld",
        "",
        "emoji \ufffd here",
        "tab\tnl\ncr\r end",
        "",
        "\ufffd lone surrogate",
    ],
    "flag": [True, None, False, True, False, None],
    "t": [
        "2020-01-02T03:04:05.123",
        "",
        "2021-05-06",
        "2020-01-02T03:04:05",
        "2020-01-02T03:04:05.500",
        "0001-01-01T00:00:00",
    ],
}


def write(fields=FIELDS, batches=(ROWS,), **options) -> tuple[bytes, ResultStream]:
    stream = votable_stream(fields, batches, **options)
    return b"".join(stream), stream


def table_of(doc: bytes):
    """astropy's reading of the results table (spec problems raise)."""
    return parse(io.BytesIO(doc), verify="exception").get_first_table()


def column(table, name: str) -> list:
    """Values of a column, ``None`` where astropy masks them."""
    data = table.array[name]
    mask = np.ma.getmaskarray(data)
    out = []
    for value, masked in zip(data.data.tolist(), mask.tolist(), strict=True):
        masked = masked if isinstance(masked, bool) else bool(np.all(masked))  # fixed arrays
        out.append(None if masked else value)
    return out


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def status_infos(doc: bytes) -> list[tuple[str, str | None, bool]]:
    """(value, text, after_table) of every QUERY_STATUS INFO in the results RESOURCE."""
    root = ET.fromstring(doc)
    resource = root.find("v:RESOURCE", NS)
    out, seen_table = [], False
    for child in resource:
        if child.tag.endswith("TABLE"):
            seen_table = True
        if child.tag.endswith("INFO") and child.get("name") == "QUERY_STATUS":
            out.append((child.get("value"), child.text, seen_table))
    return out


def binary2_bytes(doc: bytes) -> bytes:
    stream = ET.fromstring(doc).find(".//v:BINARY2/v:STREAM", NS)
    return base64.b64decode("".join((stream.text or "").split()))


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_values_read_back_by_astropy(serialization):
    doc, stream = write(serialization=serialization)
    assert stream.result.rows == len(ROWS)
    assert stream.result.finished and not stream.overflow and stream.error is None
    table = table_of(doc)
    assert [f.name for f in table.fields] == [f.name for f in FIELDS]
    for name, expected in EXPECTED.items():
        got = column(table, name)
        if name in ("ra", "mag"):
            # astropy masks NaN floats: a NaN value and a null both read as masked
            expected = [None if isinstance(e, float) and math.isnan(e) else e for e in expected]
            got = [float(g) if g is not None else None for g in got]
            expected = [
                float(np.float32(e)) if name == "mag" and e is not None else e for e in expected
            ]
        if name == "name" and serialization == "binary2":
            # BINARY2 is binary: ASCII control characters in char go through as they are
            expected = [e.replace("???", "\x00\x01\x1f") for e in expected]
        assert all(same(g, e) for g, e in zip(got, expected, strict=True)), (name, got)


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_types_seen_by_astropy(serialization):
    table = table_of(write(serialization=serialization)[0])
    dtypes = {name: table.array[name].dtype for name in table.array.dtype.names}
    assert dtypes["id"] == np.int64
    assert dtypes["n"] == np.int32
    assert dtypes["s"] == np.int16
    assert dtypes["ra"] == np.float64
    assert dtypes["mag"] == np.float32
    assert dtypes["flag"] == np.bool_
    assert table.get_field_by_id("t").xtype == "timestamp"


def test_binary2_null_flags_and_layout():
    """Decode the first two rows by hand: flags MSB first, big-endian values."""
    fields = [Field("a", "int"), Field("b", "char", "*"), Field("c", "double")]
    doc, _ = write(fields, [[(7, "xy", None), (None, None, 2.0)]])
    raw = binary2_bytes(doc)
    row1 = struct.pack(">B i I 2s d", 0b0010_0000, 7, 2, b"xy", NAN)
    row2 = struct.pack(">B i I d", 0b1100_0000, 0, 0, 2.0)
    assert raw == row1 + row2


def test_binary2_many_fields_use_several_flag_bytes():
    fields = [Field(f"c{i}", "short") for i in range(11)]
    rows = [tuple(None if j in (0, 8, 10) else j for j in range(11)), tuple(range(11))]
    doc, _ = write(fields, [rows])
    raw = binary2_bytes(doc)
    assert raw[:2] == bytes([0b1000_0000, 0b1010_0000])
    assert raw[24:26] == b"\0\0"
    table = table_of(doc)
    assert column(table, "c8") == [None, 8]
    assert column(table, "c9") == [9, 9]
    assert column(table, "c0") == [None, 0]


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_arrays_fixed_sizes_and_coercion(serialization):
    fields = [
        Field("code", "char", "4"),
        Field("u", "unicodeChar", "3"),
        Field("one", "char", "1"),
        Field("blob", "unsignedByte", "*"),
        Field("pt", "double", "2", xtype="point"),
        Field("ints", "int", "*"),
        Field("js", "char", "*"),
        Field("dec_i", "long"),
        Field("dec_d", "double"),
        Field("big", "float"),
        Field("ub", "unsignedByte"),
        Field("bounded", "char", "8*"),
    ]
    rows = [
        (
            "abcdef",
            "äöüß",
            "xyz",
            b"\x00\x01\xff",
            (1.5, 2.5),
            [1, -2, 3],
            {"k": [1, "é"]},
            Decimal(12),
            Decimal("1.25"),
            1e300,
            200,
            "longer than eight",
        ),
        ("ab", "é", "", bytearray(b"\x07"), [3.0], [], ["a", None], 3.0, 7, -1e300, 0, ""),
        (None,) * 12,
    ]
    table = table_of(write(fields, [rows], serialization=serialization)[0])
    assert column(table, "code")[:2] == ["abcd", "ab"]
    assert column(table, "u")[:2] == ["äöü", "é"]
    assert column(table, "one")[:2] == ["x", ""]
    assert [list(v) for v in column(table, "blob")[:2]] == [[0, 1, 255], [7]]
    pt = column(table, "pt")
    assert list(pt[0]) == [1.5, 2.5]
    assert pt[1][0] == 3.0 and math.isnan(pt[1][1])  # padded with NaN
    assert [list(v) for v in column(table, "ints")[:2]] == [[1, -2, 3], []]
    assert column(table, "js")[:2] == ['{"k":[1,"?"]}', '["a",null]']
    assert column(table, "dec_i")[:2] == [12, 3]
    assert column(table, "dec_d")[:2] == [1.25, 7.0]
    assert column(table, "big")[:2] == [np.float32(INF), np.float32(-INF)]
    assert column(table, "ub")[:2] == [200, 0]
    assert column(table, "bounded")[:2] == ["longer t", ""]  # cut to the declared bound


def test_timestamp_formats():
    assert format_timestamp(datetime(2020, 1, 2, 3, 4, 5)) == "2020-01-02T03:04:05"
    assert format_timestamp(datetime(2020, 1, 2, 3, 4, 5, 999999)) == "2020-01-02T03:04:05.999"
    assert format_timestamp(datetime(2020, 1, 2, 3, 4, 5, 1000, UTC)) == "2020-01-02T03:04:05.001"
    tz = timezone(timedelta(hours=-5))
    assert format_timestamp(datetime(2020, 1, 2, 23, 0, tzinfo=tz)) == "2020-01-03T04:00:00"
    assert format_timestamp(date(2020, 1, 2)) == "2020-01-02"
    assert format_timestamp("2020-01-02T03:04:05Z") == "2020-01-02T03:04:05"
    assert format_timestamp("2020-01-02") == "2020-01-02"
    assert format_timestamp("not a time") == "not a time"


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_field_metadata_and_infos(serialization):
    doc, _ = write(
        serialization=serialization,
        query="SELECT *\n\tFROM provenance.entity WHERE a < 'b&c'",
        infos=[("citation", "doi:10/x", "cite <us>"), ("empty", "", None)],
    )
    votable = parse(io.BytesIO(doc), verify="exception")
    assert votable.version == "1.4"
    resource = votable.resources[0]
    assert resource.type == "results"
    infos = [(i.name, i.value, i.content) for i in resource.infos]
    assert infos[0] == ("QUERY_STATUS", "OK", None)
    assert ("standardID", "ivo://ivoa.net/std/TAP", None) in infos
    assert ("QUERY", "SELECT *\n\tFROM provenance.entity WHERE a < 'b&c'", None) in infos
    assert ("citation", "doi:10/x", "cite <us>") in infos
    fields = {f.name: f for f in resource.tables[0].fields}
    assert fields["id"].ucd == "meta.id;meta.main"
    assert fields["id"].description == "row id & <key>"
    assert str(fields["ra"].unit) == "deg"
    assert fields["name"].utype == "voprov:Entity.name"
    assert fields["name"].arraysize == "*"
    assert fields["t"].xtype == "timestamp"
    assert ET.fromstring(doc).tag == f"{{{VOTABLE_NAMESPACE}}}VOTABLE"


# ----------------------------------------------------------------------------- streaming


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_odd_batches_and_big_batches_stream_continuously(serialization, monkeypatch):
    monkeypatch.setattr(stream_module, "CHUNK_ROWS", 7)
    fields = [Field("i", "int"), Field("s", "char", "*")]
    rows = [(i, "x" * (i % 5)) for i in range(100)]
    batches = [rows[:1], rows[1:3], [], rows[3:10], rows[10:11], rows[11:100]]
    stream = votable_stream(fields, batches, serialization=serialization)
    chunks = list(stream)
    assert len(chunks) > len(batches)  # the big batch went out in pieces
    table = table_of(b"".join(chunks))
    assert column(table, "i") == list(range(100))
    assert column(table, "s") == [r[1] for r in rows]


def counting(batches, pulled: list) -> Iterator[list]:
    for batch in batches:
        pulled.append(len(batch))
        yield batch


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_overflow_stops_reading_and_is_reported_after_the_table(serialization):
    rows = [(i,) for i in range(10)]
    pulled: list[int] = []
    source = counting([rows[:4], rows[4:8], rows[8:], [(99,)]], pulled)
    doc, stream = write([Field("i", "long")], source, serialization=serialization, overflow_after=5)
    assert pulled == [4, 4]  # stopped as soon as row 6 was seen
    assert stream.result.rows == 5 and stream.overflow
    assert status_infos(doc) == [("OK", None, False), ("OVERFLOW", None, True)]
    assert column(table_of(doc), "i") == [0, 1, 2, 3, 4]
    with pytest.warns(DALOverflowWarning):
        results = DALResults(parse(io.BytesIO(doc)))
    assert len(results) == 5


def test_overflow_detected_at_a_batch_boundary():
    rows = [(i,) for i in range(6)]
    pulled: list[int] = []
    doc, stream = write(
        [Field("i", "int")], counting([rows[:5], rows[5:]], pulled), overflow_after=5
    )
    assert pulled == [5, 1] and stream.overflow and stream.rows == 5
    assert status_infos(doc)[-1] == ("OVERFLOW", None, True)


def test_exactly_maxrec_rows_is_not_an_overflow():
    rows = [(i,) for i in range(5)]
    doc, stream = write([Field("i", "int")], [rows[:3], rows[3:], []], overflow_after=5)
    assert not stream.overflow and stream.rows == 5
    assert status_infos(doc) == [("OK", None, False)]
    results = DALResults(parse(io.BytesIO(doc)))
    assert results.status[0] == "OK" and len(results) == 5


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
@pytest.mark.parametrize("has_rows", [True, False])
def test_maxrec_zero_gives_fields_only(serialization, has_rows):
    pulled: list[int] = []
    batches = counting([ROWS, ROWS] if has_rows else [], pulled)
    doc, stream = write(batches=batches, serialization=serialization, overflow_after=0)
    assert stream.rows == 0 and stream.overflow is has_rows
    assert pulled == ([len(ROWS)] if has_rows else [])
    table = table_of(doc)
    assert len(table.fields) == len(FIELDS) and len(table.array) == 0
    expected = [("OK", None, False)] + ([("OVERFLOW", None, True)] if has_rows else [])
    assert status_infos(doc) == expected
    if has_rows:
        with pytest.warns(DALOverflowWarning):
            results = DALResults(parse(io.BytesIO(doc)))
        assert results.status[0] == "OVERFLOW"
    else:
        assert DALResults(parse(io.BytesIO(doc))).status[0] == "OK"


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
def test_empty_result_is_a_valid_table(serialization):
    doc, stream = write(batches=[[], []], serialization=serialization)
    assert stream.rows == 0 and stream.result.finished
    assert len(table_of(doc).array) == 0
    results = DALResults(parse(io.BytesIO(doc)))
    assert results.status[0] == "OK" and len(results) == 0
    assert results.fieldnames == tuple(f.name for f in FIELDS)


def failing(batches, exc: Exception) -> Iterator[list]:
    yield from batches
    raise exc


@pytest.mark.parametrize("serialization", SERIALIZATIONS)
@pytest.mark.parametrize("good_batches", [0, 1, 2])
def test_error_mid_stream_finishes_the_document(serialization, good_batches):
    fields = [Field("i", "int"), Field("s", "char", "*")]
    # 1 and 2 rows so that BINARY2 ends with a partial base64 group
    batches = [[(1, "a")], [(2, "bb"), (3, "ccc")]][:good_batches]
    exc = RuntimeError("server closed the connection <unexpectedly> & more")
    doc, stream = write(fields, failing(batches, exc), serialization=serialization)
    assert stream.error is exc and stream.result.finished
    assert stream.result.error_message == str(exc)
    assert stream.rows == [0, 1, 3][good_batches]
    assert status_infos(doc) == [("OK", None, False), ("ERROR", str(exc), True)]
    table = table_of(doc)  # well-formed, rows before the error readable
    assert column(table, "i") == [1, 2, 3][: stream.rows]
    with pytest.raises(DALQueryError, match="server closed the connection"):
        DALResults(parse(io.BytesIO(doc)))


def test_error_message_hook_and_empty_message():
    doc, stream = write(
        [Field("i", "int")],
        failing([], ValueError()),
        error_message=lambda exc: f"query failed ({type(exc).__name__})",
    )
    assert stream.result.error_message == "query failed (ValueError)"
    assert status_infos(doc)[-1] == ("ERROR", "query failed (ValueError)", True)
    doc, stream = write([Field("i", "int")], failing([], KeyError()))
    assert stream.result.error_message == "KeyError"


def test_a_value_that_cannot_be_encoded_is_an_error_not_a_crash():
    doc, stream = write([Field("i", "int")], [[(1,)], [("not a number",)], [(3,)]])
    assert isinstance(stream.error, ValueError)
    assert stream.rows == 1
    assert status_infos(doc)[-1][0] == "ERROR"
    assert column(table_of(doc), "i") == [1]


def test_closing_the_stream_closes_the_source():
    closed = []

    def source():
        try:
            for i in range(100):
                yield [(i,)]
        finally:
            closed.append(True)

    stream = votable_stream([Field("i", "int")], source())
    next(stream), next(stream)
    stream.close()
    assert closed == [True]
    with pytest.raises(StopIteration):
        next(stream)


def test_overflow_closes_the_source():
    closed = []

    def source():
        try:
            yield [(1,), (2,)]
            yield [(3,)]
        finally:
            closed.append(True)

    write([Field("i", "int")], source(), overflow_after=1)
    assert closed == [True]


def test_bad_arguments_fail_at_call_time():
    with pytest.raises(ValueError, match="not supported"):
        votable_stream([Field("c", "doubleComplex")], [])
    with pytest.raises(ValueError, match="arraysize"):
        votable_stream([Field("c", "char", "2x3")], [])
    with pytest.raises(ValueError, match="serialization"):
        votable_stream(FIELDS, [], serialization="binary")
    with pytest.raises(ValueError, match="overflow_after"):
        votable_stream(FIELDS, [], overflow_after=-1)
    with pytest.raises(ValueError, match="field"):
        votable_stream([], [])


# ----------------------------------------------------------------------------- errors


def test_error_document():
    doc = error_document("syntax error at <line 1> & \x00 column 5", query="DUFF QUERY")
    root = ET.fromstring(doc)
    assert root.get("version") == "1.4"
    assert root.find(".//v:TABLE", NS) is None
    resource = root.find("v:RESOURCE", NS)
    assert resource.get("type") == "results"
    assert status_infos(doc) == [("ERROR", "syntax error at <line 1> & \ufffd column 5", False)]
    votable = parse(io.BytesIO(doc), verify="exception")
    with pytest.raises(DALQueryError, match="syntax error at <line 1>"):
        DALResults(votable)


# ----------------------------------------------------------------------------- votlint


def _variants() -> dict[str, bytes]:
    def err():
        yield ROWS
        raise RuntimeError("lost")

    docs = {"error-document": error_document("bad <query>", query="DUFF QUERY")}
    for ser in SERIALIZATIONS:
        docs[f"{ser}-values"] = write(
            serialization=ser, query="SELECT 1", infos=[("citation", "x", "text")]
        )[0]
        docs[f"{ser}-overflow"] = write(batches=[ROWS, ROWS], serialization=ser, overflow_after=3)[
            0
        ]
        docs[f"{ser}-maxrec0"] = write(serialization=ser, overflow_after=0)[0]
        docs[f"{ser}-empty"] = write(batches=[], serialization=ser)[0]
        docs[f"{ser}-error"] = write(batches=err(), serialization=ser)[0]
        docs[f"{ser}-arrays"] = write(
            [
                Field("c", "char", "4"),
                Field("u", "unicodeChar", "2"),
                Field("b", "unsignedByte", "*"),
                Field("p", "double", "2", xtype="point"),
                Field("one", "char"),
            ],
            # a scalar char is never null here: votlint finds an empty one "questionable"
            [[("abcdef", "éé", b"\x01\x02", (1.0, 2.0), "q"), (None,) * 4 + ("r",)]],
            serialization=ser,
        )[0]
    return docs


@pytest.fixture(scope="module")
def votlint_reports(tmp_path_factory) -> dict[str, str]:
    stilts = shutil.which("stilts")
    if stilts is None:
        pytest.skip("STILTS is not installed (apt-get install stilts)")
    folder: Path = tmp_path_factory.mktemp("votlint")
    procs = {}
    for name, doc in _variants().items():
        path = folder / f"{name}.vot"
        path.write_bytes(doc)
        procs[name] = subprocess.Popen(
            [stilts, "votlint", "version=1.4", f"votable={path}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return {name: proc.communicate(timeout=300)[0] for name, proc in procs.items()}


@pytest.mark.parametrize("name", sorted(_variants()))
def test_votlint_is_silent(votlint_reports, name):
    report = votlint_reports[name]
    problems = [line for line in report.splitlines() if "ERROR" in line or "WARNING" in line]
    assert problems == [], report


def test_votlint_would_complain(tmp_path):
    """Guard: the votlint check above does see errors."""
    stilts = shutil.which("stilts")
    if stilts is None:
        pytest.skip("STILTS is not installed")
    doc = write(serialization="tabledata")[0].replace(b"<TD>T</TD>", b"<TD>maybe</TD>", 1)
    path = tmp_path / "bad.vot"
    path.write_bytes(doc)
    out = subprocess.run([stilts, "votlint", f"votable={path}"], capture_output=True, text=True)
    assert "ERROR" in out.stdout + out.stderr
