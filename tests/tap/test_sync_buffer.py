"""/sync sends a small result whole with Content-Length and streams larger ones
(PROVDB_TAP_SYNC_BUFFER_BYTES): same bytes either way, errors midway still end the
document with the DALI error INFO."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy.engine import URL

from tap.sync import _read_small
from tests.servers import serve_provdb

SMALL = {"LANG": "ADQL", "QUERY": "SELECT TOP 3 * FROM provenance.entity ORDER BY id"}


@pytest.fixture(scope="module")
def streaming(archive_url: URL) -> Iterator[str]:
    """A service that streams every result (PROVDB_TAP_SYNC_BUFFER_BYTES=0)."""
    env = {"PROVDB_TAP_MAXREC": "100000", "PROVDB_TAP_SYNC_BUFFER_BYTES": "0"}
    with serve_provdb(archive_url, env, prefix="provdb-test-stream-") as served:
        yield served.tap


def _chunks(*parts: bytes, fail_after: int | None = None) -> Iterator[bytes]:
    for i, part in enumerate(parts):
        if fail_after is not None and i == fail_after:
            raise RuntimeError("the database went away")
        yield part


def test_read_small_reads_a_body_that_fits_and_leaves_a_larger_one_streaming() -> None:
    assert _read_small(b"ab", _chunks(b"cd", b"e"), 5) == ([b"ab", b"cd", b"e"], None)
    body = _chunks(b"cd", b"ef", b"gh")
    chunks, rest = _read_small(b"ab", body, 5)
    assert chunks == [b"ab", b"cd", b"ef"] and rest is body
    assert list(rest) == [b"gh"]
    # 0: every body streams, nothing read beyond the first chunk
    body = _chunks(b"cd")
    assert _read_small(b"ab", body, 0) == ([b"ab"], body)


def test_read_small_raises_a_midway_error_after_the_chunks_before_it() -> None:
    chunks, rest = _read_small(b"ab", _chunks(b"cd", b"ef", fail_after=1), 100)
    assert chunks == [b"ab", b"cd"]
    assert rest is not None
    with pytest.raises(RuntimeError, match="went away"):
        next(rest)


def test_a_small_result_comes_whole_with_content_length(tap_server: str, streaming: str) -> None:
    whole = requests.post(tap_server + "/sync", data=SMALL, timeout=30)
    streamed = requests.post(streaming + "/sync", data=SMALL, timeout=30)
    assert whole.status_code == streamed.status_code == 200
    assert whole.headers["Content-Length"] == str(len(whole.content))
    assert "Transfer-Encoding" not in whole.headers
    assert streamed.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in streamed.headers
    assert b'name="QUERY_STATUS" value="OK"' in whole.content
    # the DataLink URLs name each service's own port
    site = tap_server.removesuffix("/tap").encode()
    other = streaming.removesuffix("/tap").encode()
    assert other in streamed.content
    assert whole.content == streamed.content.replace(other, site)
    assert whole.headers["Content-Type"] == streamed.headers["Content-Type"]


def test_a_large_result_still_streams(tap_server: str) -> None:
    query = {
        "LANG": "ADQL",
        "RESPONSEFORMAT": "votable/td",
        "QUERY": "SELECT * FROM provenance.entity AS a, provenance.entity AS b",
        "MAXREC": "20000",
    }
    r = requests.post(tap_server + "/sync", data=query, timeout=60)
    assert r.status_code == 200
    assert len(r.content) > 64 * 1024  # beyond the default buffer
    assert r.headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in r.headers
    assert b'name="QUERY_STATUS" value="ERROR"' not in r.content
    assert r.content.endswith(b"</VOTABLE>\n")


@pytest.mark.parametrize("fmt, whole", [("votable", True), ("votable/td", False)])
def test_an_error_midway_ends_with_the_error_info(tap_server: str, fmt: str, whole: bool) -> None:
    """The database fails at row 5,001 of an upload, after a first batch of rows: the
    document ends with QUERY_STATUS=ERROR, HTTP 200, whether it fit the buffer (BINARY2,
    ~40 kB: sent whole) or not (TABLEDATA, ~100 kB: streamed)."""
    from astropy.io.votable import parse
    from astropy.table import Table

    buf = io.BytesIO()
    Table({"n": list(range(1, 6001))}).write(buf, format="votable")
    r = requests.post(
        tap_server + "/sync",
        data={
            "LANG": "ADQL",
            "UPLOAD": "t,param:t",
            "RESPONSEFORMAT": fmt,
            "QUERY": "SELECT 1 / (n - 5001) AS boom FROM TAP_UPLOAD.t",
        },
        files={"t": ("t.xml", buf.getvalue())},
        timeout=60,
    )
    assert r.status_code == 200, r.text[:500]
    assert (len(r.content) < 64 * 1024) is whole
    if whole:
        assert r.headers["Content-Length"] == str(len(r.content))
    else:
        assert r.headers["Transfer-Encoding"] == "chunked"
    assert b'name="QUERY_STATUS" value="ERROR"' in r.content
    assert b"division by zero" in r.content
    table = parse(io.BytesIO(r.content)).get_first_table()
    assert len(table.array) >= 1  # rows before the error are kept
