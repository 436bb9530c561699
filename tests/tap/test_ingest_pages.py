"""The ingest bookkeeping through TAP (examples 25-27) and the UI's ingest pages, over
real HTTP, on an archive with known bad lines, a torn file and a conflicting value."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from provdb.ingest.pipeline import ingest_file
from tests.conftest import free_port
from tests.tap.test_ui import hrefs, make_app, text_of

NIGHT = Path("generated/lstosa_simulate_processing/prov.log")
EXAMPLES = Path(__file__).resolve().parents[2] / "tap" / "example_queries"
GARBAGE = b"<script>alert(1)</script> \x1b[2J \xff not a log line\n"
DAMAGED = b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__!!garbage{]\n"
RAW_ID = "14ce42cc4e3b42a03e3fb86f75e61459"


def _ingest(engine: sa.Engine, path: Path) -> Any:
    raw = engine.raw_connection()
    try:
        return ingest_file(raw.driver_connection, path)
    finally:
        raw.close()


@pytest.fixture
def known(engine: sa.Engine, samples: Path, tmp_path: Path) -> dict[str, Any]:
    """The night, a log with two bad lines, a torn log and one conflicting value."""
    lines = (samples / NIGHT).read_bytes().splitlines(keepends=True)
    night = _ingest(engine, samples / NIGHT)
    bad = tmp_path / "bad" / "prov.log"
    bad.parent.mkdir()
    bad.write_bytes(b"".join(lines[:5]) + GARBAGE + b"".join(lines[5:10]) + DAMAGED)
    assert _ingest(engine, bad).rejects == 2
    torn = tmp_path / "torn" / "prov.log"
    torn.parent.mkdir()
    torn.write_bytes(b"".join(lines[:20]) + lines[20][:25])
    assert _ingest(engine, torn).status == "partial"
    other = tmp_path / "other" / "prov.log"
    other.parent.mkdir()
    other.write_bytes(lines[2].replace(b"'application/fits'", b"'application/x-fits'"))
    assert _ingest(engine, other).conflicts == 1
    with engine.connect() as c:
        ids = dict(c.execute(sa.text("SELECT path, id FROM archive.ingest_file")).all())
    return {
        "night": str(samples / NIGHT),
        "bad": str(bad),
        "torn": str(torn),
        "other": str(other),
        "ids": ids,
        "night_result": night,
    }


@pytest.fixture
def http(known: dict[str, Any], db_url, tmp_path: Path) -> Iterator[str]:
    """The TAP service and the UI of this test's archive on a real port."""
    from werkzeug.serving import make_server

    app = make_app(db_url, tmp_path / "home", PROVDB_UI_INGEST_PAGE=2)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.extensions["provdb_tap_db"].database.dispose()


def _example(number: str) -> str:
    path = next(EXAMPLES.glob(f"{number}_*.adql"))
    return "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("--"))


def _csv(base: str, query: str) -> list[dict[str, str]]:
    r = requests.post(
        base + "/tap/sync",
        data={"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"},
        timeout=60,
    )
    assert r.status_code == 200, (query, r.text[:800])
    return list(csv.DictReader(io.StringIO(r.text)))


def _page(base: str, url: str, status: int = 200) -> str:
    r = requests.get(base + url, timeout=30)
    assert r.status_code == status, (url, r.status_code, r.text[:1000])
    return r.text


# ----------------------------------------------------------------------------- TAP


def test_tonights_rejected_lines_example(http: str, known: dict[str, Any]) -> None:
    found = _csv(http, _example("25"))
    assert [(r["path"], r["line_number"]) for r in found] == [
        (known["bad"], "6"),
        (known["bad"], "12"),
    ]
    garbage, damaged = found
    assert "neither a provenance record nor a log diagnostic" in garbage["reason"]
    assert garbage["raw_text"] == "<script>alert(1)</script> \\x1b[2J \\xff not a log line"
    assert damaged["raw_text"] == DAMAGED[:-1].decode()


def test_files_that_did_not_read_completely_and_conflicts_examples(
    http: str, known: dict[str, Any]
) -> None:
    incomplete = {r["path"]: r for r in _csv(http, _example("26"))}
    assert set(incomplete) == {known["bad"], known["torn"]}
    torn = incomplete[known["torn"]]
    assert torn["status"] == "partial" and torn["lines_read"] == "20"
    assert int(torn["offset_reached"]) == int(torn["size_bytes"]) - 25
    assert incomplete[known["bad"]]["n_rejects"] == "2"
    conflicts = _csv(http, _example("27"))
    assert [
        (
            r["path"],
            r["line_number"],
            r["object_id"],
            r["attribute"],
            r["kept_value"],
            r["new_value"],
        )
        for r in conflicts
    ] == [(known["other"], "1", RAW_ID, "content_type", "application/fits", "application/x-fits")]


def test_ingest_tables_are_published(http: str) -> None:
    published = {
        (r["table_name"], r["column_name"]): r
        for r in _csv(
            http,
            "SELECT table_name, column_name, datatype FROM TAP_SCHEMA.columns "
            "WHERE table_name LIKE 'archive.ingest%' ORDER BY table_name, column_name",
        )
    }
    assert published[("archive.ingest_reject", "raw")]["datatype"] == "unsignedByte"
    assert published[("archive.ingest_reject", "raw_text")]["datatype"] == "unicodeChar"
    assert ("archive.ingest_conflict", "new_value") in published
    assert ("archive.ingest_file_age", "hours_since_ingest") in published
    assert ("archive.ingest_file", "offset_reached") in published


def test_tonight_excludes_older_ingests(http: str, known: dict[str, Any], engine) -> None:
    with engine.begin() as c:
        c.execute(
            sa.text(
                "UPDATE archive.ingest_file SET last_ingest = last_ingest - interval '2 days' "
                "WHERE path = :p"
            ),
            {"p": known["bad"]},
        )
    assert _csv(http, _example("25")) == []


# ----------------------------------------------------------------------------- UI


def test_history_page_lists_pages_and_links_rejects(http: str, known: dict[str, Any]) -> None:
    first = _page(http, "/ui/ingest")
    assert "4 ingested file(s)" in text_of(first)
    assert 'rel="next" href="/ui/ingest?page=2"' in first
    pages = first + _page(http, "/ui/ingest?page=2")
    for key in ("night", "bad", "torn", "other"):
        assert f'href="/ui/ingest/{known["ids"][known[key]]}"' in pages
    bad_id = known["ids"][known["bad"]]
    assert f'<a href="/ui/ingest/{bad_id}#rejects">rejected 2</a>' in pages
    partial = _page(http, "/ui/ingest?status=partial")
    assert "1 ingested file(s) with status partial" in text_of(partial)
    assert known["torn"] in partial and known["bad"] not in partial
    rejected = _page(http, "/ui/ingest?rejected=1")
    assert known["bad"] in rejected and known["night"] not in rejected
    assert "give one of complete, partial" in _page(http, "/ui/ingest?status=nope", 400)
    assert "give a whole number" in _page(http, "/ui/ingest?page=0", 400)
    assert "there are 2 page(s)" in _page(http, "/ui/ingest?page=9", 404)
    # the nav and the home page link there; home's "rejected N" goes to the file
    home = _page(http, "/ui/")
    assert 'href="/ui/ingest"' in home
    assert f'<a href="/ui/ingest/{bad_id}#rejects">rejected 2</a>' in home


def test_file_page_shows_offsets_kinds_rejects_escaped_and_conflicts(
    http: str, known: dict[str, Any]
) -> None:
    bad = _page(http, f"/ui/ingest/{known['ids'][known['bad']]}")
    text = text_of(bad)
    assert known["bad"] in text
    assert "rejected 2" in text
    # the raw text is escaped twice over: control bytes as \xNN, HTML by the template
    assert "<script>alert(1)</script>" not in bad
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\x1b[2J \\xff not a log line" in bad
    assert "neither a provenance record nor a log diagnostic" in text
    assert "__PROV__!!garbage{]" in text
    assert "Records by kind" in text and "Entity" in text
    torn = text_of(_page(http, f"/ui/ingest/{known['ids'][known['torn']]}"))
    assert "partial: a torn last line" in torn
    other = _page(http, f"/ui/ingest/{known['ids'][known['other']]}")
    assert f'href="/ui/entity/{RAW_ID}"' in other
    assert "application/x-fits" in other and "content_type" in other
    assert "No ingested file 999999" in _page(http, "/ui/ingest/999999", 404)
    assert "/ui/ingest" in hrefs(bad)


def test_file_page_links_the_raw_log_while_it_is_readable(http: str, known: dict[str, Any]) -> None:
    bad_id = known["ids"][known["bad"]]
    page = _page(http, f"/ui/ingest/{bad_id}")
    assert f"/ui/ingest/{bad_id}/raw" in hrefs(page)
    assert "no longer readable" not in text_of(page)
    raw = requests.get(http + f"/ui/ingest/{bad_id}/raw", timeout=30)
    assert raw.status_code == 200
    assert raw.content == Path(known["bad"]).read_bytes()

    # the log deleted after its ingest: the page says so and links nowhere
    torn_id = known["ids"][known["torn"]]
    Path(known["torn"]).unlink()
    gone = _page(http, f"/ui/ingest/{torn_id}")
    assert "no longer readable by the service" in text_of(gone)
    assert f"/ui/ingest/{torn_id}/raw" not in gone
    assert "partial: a torn last line" in text_of(gone)  # the rest of the page is there
    assert "Log no longer readable" in _page(http, f"/ui/ingest/{torn_id}/raw", 404)
