"""RESPONSEFORMAT resolution and the CSV, TSV and JSON writers (read back with real parsers)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest
from astropy.io.votable import parse

from tap.formats import ACCEPTED, OutputFormat, resolve_format
from tap.votable import Field, csv_stream, json_stream, tsv_stream

FIELDS = [
    Field("id", "long"),
    Field("ra", "double"),
    Field("name", "char", "*"),
    Field("label", "unicodeChar", "*"),
    Field("flag", "boolean"),
    Field("t", "char", "*", xtype="timestamp"),
    Field("conf", "char", "*"),
    Field("blob", "unsignedByte", "*"),
]

ROWS = [
    (
        1,
        1.5,
        "plain",
        "héllo 😀",
        True,
        datetime(2020, 1, 2, 3, 4, 5, 678900),
        {"a": [1, 2]},
        b"\x01\xff",
    ),
    (None, None, None, None, None, None, None, None),
    (
        3,
        math.nan,
        'com,ma "quoted"',
        "line\nbreak\r\nand\ttab \\ slash",
        False,
        date(2021, 5, 6),
        ["x", None],
        b"",
    ),
    (4, math.inf, "", "", True, "2020-01-02T03:04:05Z", "text", None),
    (5, Decimal("2.5"), "\x00ctl", "\ud800", False, None, 7, bytearray(b"\x02")),
]


def failing(batches, exc: Exception) -> Iterator[list]:
    yield from batches
    raise exc


# ----------------------------------------------------------------------------- resolution

VOT = "application/x-votable+xml"


@pytest.mark.parametrize(
    ("value", "name", "mime"),
    [
        (None, "votable", VOT),
        ("", "votable", VOT),
        ("  ", "votable", VOT),
        ("votable", "votable", VOT),
        ("VOTable", "votable", VOT),
        ("votable/b2", "votable", f"{VOT};serialization=BINARY2"),
        ("binary2", "votable", f"{VOT};serialization=BINARY2"),
        ("votable/td", "votable/td", f"{VOT};serialization=TABLEDATA"),
        ("votabletd", "votable/td", f"{VOT};serialization=TABLEDATA"),
        ("tabledata", "votable/td", f"{VOT};serialization=TABLEDATA"),
        (VOT, "votable", VOT),
        ("Application/X-VOTable+XML", "votable", VOT),
        (f"{VOT};serialization=TABLEDATA", "votable/td", f"{VOT};serialization=TABLEDATA"),
        (f"{VOT}; serialization=tabledata", "votable/td", f"{VOT};serialization=TABLEDATA"),
        (f'{VOT};serialization="BINARY2"', "votable", f"{VOT};serialization=BINARY2"),
        ("text/xml", "votable", "text/xml"),
        ("text/xml;serialization=TABLEDATA", "votable/td", "text/xml;serialization=TABLEDATA"),
        ("application/xml", "votable", "application/xml"),
        ("csv", "csv", "text/csv;header=present"),
        ("text/csv", "csv", "text/csv;header=present"),
        ("text/csv;header=present", "csv", "text/csv;header=present"),
        ("text/csv; charset=utf-8", "csv", "text/csv;header=present"),
        ("text/csv;header=absent", "csv", "text/csv;header=absent"),
        ("tsv", "tsv", "text/tab-separated-values"),
        ("text/tab-separated-values", "tsv", "text/tab-separated-values"),
        ("json", "json", "application/json"),
        ("application/json", "json", "application/json"),
    ],
)
def test_resolve_format(value, name, mime):
    fmt = resolve_format(value)
    assert isinstance(fmt, OutputFormat)
    assert (fmt.name, fmt.mime) == (name, mime)
    assert fmt.is_votable is name.startswith("votable")


@pytest.mark.parametrize(
    "value",
    [
        "fits",
        "votable/fits",
        "text/html",
        f"{VOT};serialization=BINARY",
        "text/csv;header=maybe",
        "application/x-votable",
        "xml",
    ],
)
def test_unknown_formats_are_refused_with_the_list(value):
    with pytest.raises(ValueError) as info:
        resolve_format(value)
    message = str(info.value)
    assert repr(value) in message
    for accepted in ("votable", "csv", "tsv", "json", VOT, "text/csv", "application/json"):
        assert accepted in message


#: what each accepted spelling resolves to: (name, Content-Type, serialization)
RESOLVED = {
    "votable": ("votable", VOT, "binary2"),
    **dict.fromkeys(
        ("votable/b2", "votableb2", "binary2", "votable/binary2"),
        ("votable", f"{VOT};serialization=BINARY2", "binary2"),
    ),
    **dict.fromkeys(
        ("votable/td", "votabletd", "tabledata", "votable/tabledata"),
        ("votable/td", f"{VOT};serialization=TABLEDATA", "tabledata"),
    ),
    "csv": ("csv", "text/csv;header=present", None),
    "tsv": ("tsv", "text/tab-separated-values", None),
    "json": ("json", "application/json", None),
    VOT: ("votable", VOT, "binary2"),
    f"{VOT};serialization=BINARY2": ("votable", f"{VOT};serialization=BINARY2", "binary2"),
    f"{VOT};serialization=TABLEDATA": (
        "votable/td",
        f"{VOT};serialization=TABLEDATA",
        "tabledata",
    ),
    "text/xml": ("votable", "text/xml", "binary2"),
    "application/xml": ("votable", "application/xml", "binary2"),
    "text/csv": ("csv", "text/csv;header=present", None),
    "text/csv;header=present": ("csv", "text/csv;header=present", None),
    "text/csv;header=absent": ("csv", "text/csv;header=absent", None),
    "text/tab-separated-values": ("tsv", "text/tab-separated-values", None),
    "application/json": ("json", "application/json", None),
}


def test_every_accepted_value_resolves():
    assert set(ACCEPTED) == set(RESOLVED)
    for value in ACCEPTED:
        fmt = resolve_format(value)
        assert (fmt.name, fmt.mime, fmt.serialization) == RESOLVED[value], value
        assert fmt.is_votable == fmt.name.startswith("votable"), value


@pytest.mark.parametrize(
    ("value", "marker"),
    [
        ("votable", b"<BINARY2>"),
        ("votable/td", b"<TABLEDATA>"),
        (f"{VOT};serialization=TABLEDATA", b"<TABLEDATA>"),
        ("text/xml", b"<BINARY2>"),
    ],
)
def test_votable_formats_write_votable(value, marker):
    fmt = resolve_format(value)
    stream = fmt.writer(FIELDS, [ROWS], overflow_after=3, query="SELECT 1")
    doc = b"".join(stream)
    assert marker in doc
    assert stream.overflow and stream.rows == 3
    table = parse(io.BytesIO(doc)).get_first_table()
    assert list(table.array["id"][:1]) == [1]


@pytest.mark.parametrize("value", ["votable", "csv", "tsv", "json"])
def test_every_writer_takes_the_same_arguments(value):
    stream = resolve_format(value).writer(
        FIELDS,
        [ROWS],
        overflow_after=None,
        infos=[("a", "b", None)],
        query="SELECT 1",
        error_message=str,
    )
    assert b"".join(stream) and stream.result.rows == len(ROWS)


# ----------------------------------------------------------------------------- CSV


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_csv_values():
    stream = csv_stream(FIELDS, [ROWS[:2], ROWS[2:]])
    data = b"".join(stream)
    assert data.startswith(b"id,ra,name,label,flag,t,conf,blob\r\n")
    rows = read_csv(data)
    assert rows[0] == [f.name for f in FIELDS]
    assert rows[1] == [
        "1",
        "1.5",
        "plain",
        "héllo 😀",
        "true",
        "2020-01-02T03:04:05.678",
        '{"a":[1,2]}',
        "1 255",
    ]
    assert rows[2] == [""] * 8
    assert rows[3] == [
        "3",
        "NaN",
        'com,ma "quoted"',
        "line\nbreak\r\nand\ttab \\ slash",
        "false",
        "2021-05-06",
        '["x",null]',
        "",
    ]
    assert rows[4] == ["4", "+Inf", "", "", "true", "2020-01-02T03:04:05", "text", ""]
    assert rows[5] == ["5", "2.5", "\x00ctl", "?", "false", "", "7", "2"]
    assert len(rows) == 6
    assert stream.result.rows == 5


def test_csv_without_header_overflow_and_error():
    stream = csv_stream(FIELDS, [ROWS, ROWS], overflow_after=6, header=False)
    rows = read_csv(b"".join(stream))
    assert len(rows) == 6 and rows[0][0] == "1"
    assert stream.overflow
    stream = csv_stream(FIELDS, failing([ROWS[:1]], RuntimeError("lost")))
    rows = read_csv(b"".join(stream))
    assert len(rows) == 2 and str(stream.error) == "lost" and stream.result.finished


# ----------------------------------------------------------------------------- TSV


def test_tsv_values():
    data = b"".join(tsv_stream(FIELDS, [ROWS]))
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == ""
    rows = [line.split("\t") for line in lines[:-1]]
    assert all(len(r) == len(FIELDS) for r in rows)
    assert rows[0] == [f.name for f in FIELDS]
    assert rows[1][:6] == ["1", "1.5", "plain", "héllo 😀", "true", "2020-01-02T03:04:05.678"]
    assert rows[2] == [""] * 8
    assert rows[3][3] == "line\\nbreak\\r\\nand\\ttab \\\\ slash"
    assert rows[3][1] == "NaN"
    assert rows[5][:4] == ["5", "2.5", "\x00ctl", "?"]


def test_tsv_overflow():
    stream = tsv_stream(FIELDS, [ROWS], overflow_after=2)
    assert len(b"".join(stream).splitlines()) == 3 and stream.overflow


# ----------------------------------------------------------------------------- JSON


def test_json_document():
    stream = json_stream(FIELDS, [ROWS[:1], [], ROWS[1:]])
    doc = json.loads(b"".join(stream))
    assert [m["name"] for m in doc["metadata"]] == [f.name for f in FIELDS]
    assert doc["metadata"][5] == {
        "name": "t",
        "datatype": "char",
        "arraysize": "*",
        "xtype": "timestamp",
        "unit": None,
        "ucd": None,
        "utype": None,
        "description": None,
    }
    assert doc["overflow"] is False and "error" not in doc
    data = doc["data"]
    assert data[0] == [
        1,
        1.5,
        "plain",
        "héllo 😀",
        True,
        "2020-01-02T03:04:05.678",
        '{"a":[1,2]}',
        [1, 255],
    ]
    assert data[1] == [None] * 8
    assert data[2][:3] == [3, None, 'com,ma "quoted"']  # NaN → null
    assert data[3][1] is None  # inf → null
    assert data[4][:4] == [5, 2.5, "\x00ctl", "\ud800"]
    assert data[4][7] == [2]


@pytest.mark.parametrize("overflow_after", [0, 2])
def test_json_overflow(overflow_after):
    stream = json_stream(FIELDS, [ROWS], overflow_after=overflow_after)
    doc = json.loads(b"".join(stream))
    assert len(doc["data"]) == overflow_after and doc["overflow"] is True


@pytest.mark.parametrize("good", [0, 1])
def test_json_error_keeps_the_document_valid(good):
    stream = json_stream(FIELDS, failing([ROWS[:2]][:good], RuntimeError('lost "it"')))
    doc = json.loads(b"".join(stream))
    assert doc["error"] == 'lost "it"' and len(doc["data"]) == 2 * good
    assert stream.result.finished and stream.rows == 2 * good


def test_json_empty():
    doc = json.loads(b"".join(json_stream(FIELDS, [])))
    assert doc["data"] == [] and doc["overflow"] is False
