"""``/ui/graph/expand`` over real HTTP (``provdb serve`` on the sample archive).

The endpoint gives the graph viewer a drawn node's neighbours beyond the drawing; the
browser side is in test_ui_browser.py. Here: what it answers, its bounds, its errors.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from html import unescape
from urllib.parse import quote, urlencode

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tap.ui.expand import MAX_DRAWN

ROOT = "/tmp/lst-osa-run/test_osa/test_files0"
DL1B = f"{ROOT}/DL1/20200117/v0.1.0/tailcut84/dl1_LST-1.Run01807.0002.h5"


@pytest.fixture(scope="module")
def ui(tap_server: str) -> str:
    return tap_server.removesuffix("/tap") + "/ui"


@pytest.fixture(scope="module")
def dl1b(archive_url: URL) -> dict[str, str]:
    """The DL1b sample file and the activity that generated it."""
    engine = sa.create_engine(archive_url)
    try:
        with engine.connect() as c:
            ent = c.execute(
                sa.text("SELECT id FROM provenance.entity WHERE location = :l"), {"l": DL1B}
            ).scalar_one()
            act = c.execute(
                sa.text(
                    "SELECT min(activity_id) FROM provenance.wasgeneratedby WHERE entity_id = :e"
                ),
                {"e": ent},
            ).scalar_one()
            used = c.execute(
                sa.text(
                    "SELECT count(DISTINCT entity_id) FROM provenance.used WHERE activity_id = :a"
                ),
                {"a": act},
            ).scalar_one()
    finally:
        engine.dispose()
    return {"entity": f"entity:{ent}", "activity": f"activity:{act}", "used": used}


def _call(url: str, body: object | None = None, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            assert resp.headers["Content-Type"].startswith("application/json")
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        assert exc.headers["Content-Type"].startswith("application/json")
        return exc.code, json.loads(exc.read())


def _drawn(page: str) -> list[str]:
    return [unescape(m) for m in re.findall(r'<g class="node \w+" id="([^"]+)"', page)]


def test_page_marks_nodes_with_more_and_expand_adds_them(ui: str, dl1b: dict) -> None:
    ent = dl1b["entity"].split(":", 1)[1]
    with urllib.request.urlopen(f"{ui}/entity/{quote(ent, safe='')}?depth=1", timeout=60) as r:
        page = r.read().decode()
    drawn = _drawn(page)
    assert dl1b["activity"] in drawn
    # the generating activity is the border: its inputs are not drawn at depth 1
    marked = re.search(rf'id="{re.escape(dl1b["activity"])}"[^>]*data-more="(\d+)"', page)
    assert marked and int(marked.group(1)) >= 1
    assert 'data-expand="/ui/graph/expand"' in page and 'data-direction="BACK"' in page

    status, body = _call(
        f"{ui}/graph/expand",
        {"node": dl1b["activity"], "direction": "BACK", "drawn": drawn},
    )
    assert status == 200, body
    assert body["node"] == dl1b["activity"] and body["total"] == body["added"] >= 1
    assert body["limit_reached"] is False and body["message"].startswith("Added ")
    keys = {n["key"] for n in body["nodes"]}
    assert not keys & set(drawn)
    assert sum(1 for k in keys if k.startswith("entity:")) == body["added"]
    for node in body["nodes"]:
        assert node["svg"].startswith(f'<g class="node {node["kind"]}"')
        assert f'href="{node["href"]}"' in node["svg"] and node["width"] > 0
        with urllib.request.urlopen(ui.removesuffix("/ui") + node["href"], timeout=60) as r:
            assert r.status == 200 and node["id"] in r.read().decode()
    # every new relation links a new node to the expanded one or to a drawn one
    ends = keys | set(drawn)
    used = [e for e in body["edges"] if e["relation"] == "used"]
    assert {e["target"] for e in used if e["source"] == dl1b["activity"]} >= {
        k for k in keys if k.startswith("entity:")
    }
    for e in body["edges"]:
        assert {e["source"], e["target"]} <= ends and {e["source"], e["target"]} & keys
        assert e["label"] and e["marker"].startswith("arrow") and e["color"].startswith("#")

    # the same through GET; and once everything is drawn there is nothing more
    query = urlencode(
        [("node", dl1b["activity"]), ("direction", "BACK")] + [("drawn", d) for d in drawn]
    )
    status, again = _call(f"{ui}/graph/expand?{query}")
    assert status == 200 and {n["key"] for n in again["nodes"]} == keys
    status, done = _call(
        f"{ui}/graph/expand",
        {"node": dl1b["activity"], "direction": "BACK", "drawn": drawn + sorted(keys)},
    )
    assert status == 200 and done["total"] == 0 and done["nodes"] == []
    assert done["message"].startswith("Nothing more beyond ")


def test_expand_stops_at_the_node_limit(ui: str, dl1b: dict) -> None:
    drawn = [dl1b["entity"], dl1b["activity"]]
    request = {"node": dl1b["activity"], "direction": "BACK", "drawn": drawn}
    status, full = _call(f"{ui}/graph/expand", {**request, "limit": 2})
    assert status == 200 and full["nodes"] == [] and full["added"] == 0
    assert full["limit_reached"] is True and full["total"] >= 1
    assert "PROVDB_UI_GRAPH_LIMIT" in full["message"] and "open its page" in full["message"]
    status, part = _call(f"{ui}/graph/expand", {**request, "limit": 3})
    assert status == 200 and len(part["nodes"]) == 1 and part["added"] == 1
    assert part["limit_reached"] is (part["total"] > 1)
    # a limit above the service's is the service's
    status, big = _call(f"{ui}/graph/expand", {**request, "limit": 10**9})
    assert status == 200 and big["limit"] == 500


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"node": "activity:no-such-activity@2020"}, 404, "no activity 'no-such-activity@2020'"),
        ({"direction": "BACK"}, 400, "missing node"),
        ({"node": "file:x"}, 400, "KIND must be entity, activity or agent"),
        ({"node": "no-colon"}, 400, "give a node as KIND:ID"),
        ({"node": "entity:x", "direction": "SIDEWAYS"}, 400, "use BACK, FORTH or BOTH"),
        ({"node": "entity:x", "limit": 0}, 400, "must be >= 1"),
        ({"node": "entity:x", "limit": "many"}, 400, "is not a number"),
        ({"node": "entity:x", "drawn": "entity:y"}, 400, "drawn must be a list"),
        (["entity:x"], 400, "must be a JSON object"),
        (
            {"node": "entity:x", "drawn": ["entity:y"] * (MAX_DRAWN + 1)},
            400,
            f"more than {MAX_DRAWN}",
        ),
    ],
)
def test_expand_errors_are_clear(ui: str, body: object, status: int, words: str) -> None:
    got, answer = _call(f"{ui}/graph/expand", body)
    assert got == status and words in answer["error"], answer


def test_expand_refuses_a_body_that_is_no_json(ui: str) -> None:
    status, answer = _call(f"{ui}/graph/expand", raw=b"node=activity:x")
    assert status == 400 and "JSON object" in answer["error"]
    status, answer = _call(f"{ui}/graph/expand?direction=BACK")
    assert status == 400 and "missing node" in answer["error"]
