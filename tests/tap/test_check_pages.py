"""Quality pages of the UI: the night page and the flags on entity pages, on the
constructed reprocessing night of tests/provdb/check_scenario.py."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.answers.checks import run_checks
from tap.ui import check_pages
from tests.provdb import check_scenario as sc
from tests.provdb.test_checks import ingest
from tests.tap.test_ui import make_app


@pytest.fixture
def client(engine: sa.Engine, db_url, tmp_path: Path):
    files = sc.paths()
    ingest(engine, sc.write(tmp_path / "a", "prov.log", sc.part1(files)))
    ingest(engine, sc.write(tmp_path / "b", "prov.log", sc.part2(files)))
    app = make_app(db_url, tmp_path / "home")
    with app.test_client() as c:
        yield c, files
    app.extensions["provdb_tap_db"].database.dispose()


def _get(client, url: str, status: int = 200) -> str:
    resp = client.get(url)
    assert resp.status_code == status, resp.data[:500]
    return unescape(resp.get_data(as_text=True))


def test_entity_page_shows_its_flags_with_cause_links(client) -> None:
    c, files = client
    dl1 = sc.fid(files["DL1.0002"])
    html = _get(c, f"/ui/entity/{dl1}")
    assert "Quality flags" in html
    for rule in ("stale", "mixed-versions", "missing-input"):
        assert f"<td>{rule}</td>" in html
    assert f'href="/ui/entity/{sc.fid(files["PED"])}"' in html  # missing input's cause
    assert f'href="/ui/entity/{sc.fid(files["CAL"])}"' in html  # stale's cause
    # a product without flags has no flag table
    assert "Quality flags" not in _get(c, f"/ui/entity/{sc.fid(files['R0.0000'])}")


def test_night_page_lists_runs_and_findings(client) -> None:
    c, files = client
    html = _get(c, "/ui/night/20200117")
    assert 'href="/ui/run/20200117/01807"' in html
    assert "dl1_datacheck missing for subrun(s) 0002" in html
    assert f'href="/ui/entity/{sc.fid(files["DCHK.0001"])}"' in html
    assert "failed-ancestor" in html and "never ended" in html
    # home page links the night
    assert 'href="/ui/night/20200117"' in _get(c, "/ui/")


def test_night_page_errors(client) -> None:
    c, _ = client
    assert "/ui/night/<YYYYMMDD>" in _get(c, "/ui/night/2020-01", status=400)
    assert "No night 20210101" in _get(c, "/ui/night/20210101", status=404)


def _rows(html: str) -> list[tuple[str, str, str]]:
    """(severity, rule, detail) of each finding row of a night page."""
    return re.findall(
        r'<tr class="(\w+)"><td>\w+</td><td>([\w-]+)</td>\n<td>.*?</td>\n<td>(.*?)</td>', html
    )


def test_night_page_shows_what_provdb_check_finds(client, engine: sa.Engine) -> None:
    c, _ = client
    report = run_checks(engine, night="20200117")
    html = _get(c, "/ui/night/20200117")
    s = report.summary()
    assert f"{s['findings']} finding(s) over {s['products_checked']} products" in html
    assert _rows(html) == [(f.severity, f.rule, f.detail) for f in report.findings]
    # every rule with findings links to the night's findings of that rule only
    for rule, n in s["by_rule"].items():
        if n:
            assert f'href="/ui/night/20200117?rule={rule}">{rule} {n}</a>' in html
            only = _get(c, f"/ui/night/20200117?rule={rule}")
            assert _rows(only) == [
                (f.severity, f.rule, f.detail) for f in report.findings if f.rule == rule
            ]


def test_night_page_pages_through_findings(client, engine: sa.Engine, monkeypatch) -> None:
    c, _ = client
    report = run_checks(engine, night="20200117")
    assert len(report.findings) > 4
    monkeypatch.setattr(check_pages, "FINDINGS_PAGE", 2)
    seen: list[tuple[str, str, str]] = []
    url = "/ui/night/20200117"
    while url:
        html = _get(c, url)
        seen += _rows(html)
        more = re.search(r'<a class="more" href="([^"]+)">show (\d+) more</a>', html)
        url = more.group(1) if more else None
        assert len(seen) <= len(report.findings)
    assert seen == [(f.severity, f.rule, f.detail) for f in report.findings]
    assert f"findings 3-4 of {len(report.findings)}" in _get(c, "/ui/night/20200117?offset=2")
    assert "No finding beyond the first" in _get(c, "/ui/night/20200117?offset=100000")


def test_night_page_refuses_bad_paging(client) -> None:
    c, _ = client
    assert "rule='nonsense': use one of stale" in _get(
        c, "/ui/night/20200117?rule=nonsense", status=400
    )
    assert "offset='-1': use a number" in _get(c, "/ui/night/20200117?offset=-1", status=400)
