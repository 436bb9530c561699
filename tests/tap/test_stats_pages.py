"""``/ui/stats`` through Flask's test client, on a fresh archive per test.

The archive: the sample night's ``prov.log`` with one end record removed (one activity
never ended) and a ctapipe log written here whose failed tool has a hostile name.
Expected values come from the log records (see ``tests/provdb/test_stats.py``).
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from lxml import etree
from sqlalchemy.engine import URL

from provdb.ingest.pipeline import ingest_file
from tests.provdb.test_stats import _durations, _records, night_log  # noqa: F401
from tests.tap.test_ui import _sync_csv, get_ok, hrefs, make_app, text_of

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<b>evil</b> & 'tool' \"x\""
NIGHT = "20200117"


@pytest.fixture
def client(engine: sa.Engine, db_url: URL, night_log, tmp_path: Path):  # noqa: F811
    ctapipe = tmp_path / "tool.provenance.log"
    ctapipe.write_text(
        json.dumps(
            [
                {
                    "activity_name": HOSTILE,
                    "activity_uuid": "33333333-3333-3333-3333-333333333333",
                    "status": "error",
                    "start": {"time_utc": "2024-03-01T11:00:00.000"},
                    "stop": {"time_utc": "2024-03-01T11:00:02.000"},
                    "input": [],
                    "output": [],
                    "exit_code": 3,
                }
            ]
        )
    )
    raw = engine.raw_connection()
    try:
        for path in (night_log[0], ctapipe):
            result = ingest_file(raw.driver_connection, path)
            assert result.status == "new" and result.rejects == 0, result.error
    finally:
        raw.close()
    app = make_app(db_url, tmp_path)
    yield app.test_client()
    app.extensions["provdb_tap_db"].database.dispose()


def _svgs(html: str) -> dict[str, etree._Element]:
    out = {}
    for name in ("durations", "timeline"):
        m = re.search(rf'<div class="plot" id="{name}"[^>]*>(<svg\b.*?</svg>)</div>', html, re.S)
        if m:
            out[name] = etree.fromstring(m.group(1).encode())
    return out


def _table_rows(html: str, table_id: str) -> list[list[str]]:
    m = re.search(rf'<table class="stats" id="{table_id}">(.*?)</table>', html, re.S)
    assert m, table_id
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)[1:]
    return [[text_of(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def test_night_page_tables_and_plots(client, night_log) -> None:  # noqa: F811
    expected = _durations(_records(night_log[0]))
    n = sum(len(d) for d in expected.values())
    html = get_ok(client, f"/ui/stats?night={NIGHT}")
    page = text_of(html)
    assert f"{n} activities: {n - 1} completed, 0 failed, 1 never ended" in page
    rows = _table_rows(html, "groups")
    assert {r[0]: int(r[1]) for r in rows} == {k: len(v) for k, v in expected.items()}
    plots = _svgs(html)
    assert set(plots) == {"durations", "timeline"}
    assert len(plots["durations"].findall(f".//{SVG}rect[@class='bar']")) == len(expected)
    # one bar per activity on the timeline (no lane is over the binning threshold)
    bars = [
        r for r in plots["timeline"].iter(f"{SVG}rect") if (r.get("class") or "").startswith("bar")
    ]
    assert len(bars) == n
    assert sum(b.get("class") == "bar never_ended" for b in bars) == 1
    # the never-ended activity is listed and linked to its page, from the table and the plot
    links = hrefs(html)
    victim = [h for h in links if h.startswith(f"/ui/activity/{night_log[1]}@")]
    assert len(victim) >= 2
    assert "/ui/stats" in links  # the nav link "Pipeline stats"
    assert ">Pipeline stats</a>" in html


def test_archive_page_lists_the_escaped_failure(client) -> None:
    html = get_ok(client, "/ui/stats")
    assert "<b>evil</b>" not in html
    assert "&lt;b&gt;evil&lt;/b&gt;" in html
    m = re.search(r'<h2 id="failures">.*?</table>', html, re.S)
    assert m
    failures = text_of(m.group(0))
    assert "Failures (1)" in failures and HOSTILE in unescape(failures) and "error 3" in failures
    assert _svgs(html).keys() == {"durations"}  # no timeline without a night or run
    assert "Choose a night or a run" in text_of(html)


@pytest.mark.parametrize("query", [f"night={NIGHT}", "", "run=01808"])
def test_step_labels_link_to_the_adql_of_their_activities(client, query: str) -> None:
    html = get_ok(client, f"/ui/stats?{query}")
    counts = {r[0]: int(r[1]) for r in _table_rows(html, "groups")}
    labels = _svgs(html)["durations"].findall(f".//{SVG}a")
    assert len(labels) == len(counts)
    for a in labels:
        url = urlsplit(a.get("href"))
        assert url.path == "/ui/adql"
        rows = _sync_csv(client, parse_qs(url.query)["query"][0])
        assert len(rows) == counts[rows[0]["name"]]


def test_by_run_and_run_page_link(client, night_log) -> None:  # noqa: F811
    records = _records(night_log[0])
    tags = [r.get("session_tag", "") for r in records if "startTime" in r and "activity_id" in r]
    cal = sum(1 for t in tags if t.split(":")[0] in ("drs4_pedestal", "calibrate_charge"))
    html = get_ok(client, "/ui/stats?run=20200117_01807&by=run")
    rows = _table_rows(html, "groups")
    assert [(r[0], int(r[1])) for r in rows] == [
        ("20200117_01807", sum(t.endswith(":01807") for t in tags) + cal)
    ]
    timeline = _svgs(html)["timeline"]
    lanes = [t.text for t in timeline.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert "20200117_01807" in lanes
    assert "/ui/run/20200117/01807" in hrefs(html)  # the group label links to the run page
    run_page = get_ok(client, "/ui/run/20200117/01807")
    assert "/ui/stats?run=20200117_01807&by=step" in hrefs(run_page)


def test_bad_night_is_a_400_naming_the_nights(client) -> None:
    r = client.get("/ui/stats?night=20991231")
    assert r.status_code == 400
    assert "unknown night 20991231: the archive's latest nights are 20200117" in unescape(
        r.get_data(as_text=True)
    )
    assert client.get("/ui/stats?by=week").status_code == 400
