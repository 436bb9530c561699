"""Reproduce and diff pages (``/ui/reproduce``, ``/ui/diff``) through the Flask test client.

The archive is the reprocessing log of tests/provdb/recipe_logs.py (calibration made at
t1 and t3 by sessions of lstchain v0.9.1 and v0.12.3, read at t2 and t4), whose answers
are known by construction.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.provdb.recipe_logs import CAL, P2, P4, ingest, reprocessing_log
from tests.tap.test_ui import make_app, text_of


@pytest.fixture
def client(engine: sa.Engine, db_url: URL, tmp_path: Path):
    ingest(engine, reprocessing_log(tmp_path / "prov.log"))
    app = make_app(db_url, tmp_path)
    yield app.test_client()
    app.extensions["provdb_tap_db"].database.dispose()


def test_reproduce_page_lists_steps_with_links(client) -> None:
    r = client.get(f"/ui/reproduce/{P4[0]}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    text = text_of(html)
    assert text.index("calibrate_charge") < text.index("r0_to_dl1")
    assert "lstchain v0.12.3" in text and "v0.9.1" not in text
    assert f'href="/ui/entity/{CAL[0]}"' in html
    assert "/ui/activity/c3" in html and "/ui/activity/c1" not in html
    for fmt in ("md", "sh", "json"):
        assert f"format={fmt}" in html


def test_reproduce_downloads(client, tmp_path: Path) -> None:
    md = client.get(f"/ui/reproduce/{P2[0]}?format=md")
    assert md.content_type.startswith("text/markdown")
    assert md.get_data(as_text=True).startswith("# Recipe for " + P2[1][1])
    js = client.get(f"/ui/reproduce/{P2[0]}?format=json")
    assert js.content_type == "application/json"
    steps = json.loads(js.get_data(as_text=True))["steps"]
    assert [s["activity_id"].split("@")[0] for s in steps] == ["c1", "r2"]
    sh = client.get(f"/ui/reproduce/{P2[0]}?format=sh")
    assert sh.content_type.startswith("text/x-shellscript")
    path = tmp_path / "r.sh"
    path.write_text(sh.get_data(as_text=True))
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    assert client.get(f"/ui/reproduce/{P2[0]}?format=pdf").status_code == 400


def test_affected_page(client) -> None:
    r = client.get(f"/ui/reproduce/{quote(CAL[1][1])}?affected=1")
    assert r.status_code == 200
    text = text_of(r.get_data(as_text=True))
    assert P2[1][1] in text and P4[1][1] in text and "2 product(s)" in text


def test_entity_page_links_to_reproduce_and_compare(client) -> None:
    html = client.get(f"/ui/entity/{P4[0]}").get_data(as_text=True)
    assert f'href="/ui/reproduce/{P4[0]}"' in html
    assert 'action="/ui/diff"' in html and f'name="a" value="{P4[0]}"' in html


def test_diff_page(client) -> None:
    r = client.get(f"/ui/diff?a={P2[0]}&b=dl1_LST-1.Run01807.0004.h5")
    assert r.status_code == 200
    text = text_of(r.get_data(as_text=True))
    assert "the recipes differ" in text
    assert "v0.9.1" in text and "v0.12.3" in text
    same = client.get(f"/ui/diff?a={P4[0]}&b={P4[0]}")
    assert "same recipe" in text_of(same.get_data(as_text=True))
    js = client.get(f"/ui/diff?a={P2[0]}&b={P4[0]}&format=json")
    assert json.loads(js.get_data(as_text=True))["same"] is False


def test_unknown_ids_give_the_helpful_404(client) -> None:
    r = client.get("/ui/reproduce/" + "f" * 32)
    assert r.status_code == 404 and "No product" in r.get_data(as_text=True)
    r = client.get(f"/ui/diff?a={P2[0]}&b=nope.h5")
    assert r.status_code == 404 and "nope.h5" in r.get_data(as_text=True)
    assert client.get("/ui/diff?a=x").status_code == 400


def test_an_id_that_decodes_to_nul_is_unknown_not_a_server_error(client) -> None:
    # "%2500" reaches the page as "%00", which the id lookup percent-decodes: a NUL that
    # PostgreSQL text cannot hold (found by the service fuzz test: it was an HTTP 500)
    for path in ("/ui/reproduce/%2500", "/ui/entity/%2500", "/ui/reproduce/provdb:%2500"):
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code)
