"""Browser UI pages (``/ui``) through the Flask test client, on a fresh archive.

Every test gets its own database with the sample night's ``prov.log`` (lstosa) and a
voprov PROV-JSON document (W3C ids with ``:``, ``/`` and ``#``) ingested, and an app
built on it with the ``ui`` blueprint (and ProvSAP, whose URLs the pages link to).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from provdb.ingest.pipeline import ingest_file

ROOT = "/tmp/lst-osa-run/test_osa/test_files0"
DL1A = f"{ROOT}/DL1/20200117/v0.1.0/dl1_LST-1.Run01807.0002.h5"
DL1B = f"{ROOT}/DL1/20200117/v0.1.0/tailcut84/dl1_LST-1.Run01807.0002.h5"
R0 = f"{ROOT}/R0G/20200117/LST-1.1.Run01807.0002.fits.fz"
PEDESTAL = (
    f"{ROOT}/monitoring/PixelCalibration/Cat-A/drs4_baseline/20200117/v0.1.1/"
    "drs4_pedestal.Run01804.0000.h5"
)
W3C_ENTITY = "http://example.org/lst#e1"
W3C_AGENT = "http://example.org/lst#user"
#: ids the converter must round-trip (inserted by the fixture)
ODD_IDS = ("/abs/path/file.h5", "a b%c?d#e", "x/../y", "trailing/", "urn:x://double//slash")


def make_app(db_url: URL, home: Path, **config: Any):
    from provdb.config import Settings
    from tap.app import create_app

    app = create_app(
        Settings(database_url=db_url.render_as_string(hide_password=False), home=home),
        start_workers=False,
    )
    assert {"ui", "provsap"} <= set(app.blueprints)  # the service itself serves both
    app.config.update(config)
    return app


def _ingest(engine: sa.Engine, path: Path) -> None:
    raw = engine.raw_connection()
    try:
        result = ingest_file(raw.driver_connection, path)
    finally:
        raw.close()
    assert result.status == "new" and result.rejects == 0, result.error


@pytest.fixture
def archive(engine: sa.Engine, samples: Path) -> sa.Engine:
    _ingest(engine, samples / "generated/lstosa_simulate_processing/prov.log")
    _ingest(engine, samples / "generated/voprov_serializations/voprov_example.json")
    with engine.begin() as c:
        for ident in ODD_IDS:
            c.execute(
                sa.text("INSERT INTO provenance.entity (id, name) VALUES (:i, 'OddEntity')"),
                {"i": ident},
            )
        c.execute(
            sa.text(
                "UPDATE provenance.entity SET content_hash = :h, content_hash_type = 'md5' "
                "WHERE location = :l"
            ),
            {"h": "0123456789abcdef0123456789abcdef", "l": DL1B},
        )
    return engine


@pytest.fixture
def app(archive: sa.Engine, db_url: URL, tmp_path: Path):
    app = make_app(db_url, tmp_path)
    yield app
    app.extensions["provdb_tap_db"].database.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def one(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as c:
        return c.execute(sa.text(sql), params).scalar_one()


def all_rows(engine: sa.Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as c:
        found = c.execute(sa.text(sql), params).all()
    return [r[0] if len(r) == 1 else tuple(r) for r in found]


def text_of(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def hrefs(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]


def svg_of(html: str) -> str:
    m = re.search(r"<svg\b.*?</svg>", html, flags=re.S)
    assert m, "no inline SVG in the page"
    return m.group(0)


def get_ok(client, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:2000])
    assert r.mimetype == "text/html"
    return r.get_data(as_text=True)


def h1(html: str) -> str:
    m = re.search(r"<h1>(.*?)</h1>", html, flags=re.S)
    assert m
    return text_of(m.group(1)).strip()


def entity_id(engine: sa.Engine, location: str) -> str:
    return one(engine, "SELECT id FROM provenance.entity WHERE location = :l", l=location)


# ----------------------------------------------------------------------------- home


def test_home_shows_totals_runs_recent_ingests_and_search(client, archive) -> None:
    html = get_ok(client, "/ui/")
    text = text_of(html)
    entities = one(archive, "SELECT count(*) FROM provenance.entity")
    activities = one(archive, "SELECT count(*) FROM provenance.activity")
    assert f"{entities:,} entities" in text
    assert f"{activities:,} activities" in text
    assert "1 nights" in text and "2 runs" in text
    # one definition of a software version (package and version) on both pages
    found = re.search(r"(\d+) software versions of (\d+) packages", text)
    assert found and int(found.group(1)) >= 1
    assert found.group(0) in text_of(get_ok(client, "/ui/versions"))
    versions = one(
        archive, "SELECT count(DISTINCT (package, version)) FROM archive.product_version"
    )
    assert int(found.group(1)) == versions
    links = hrefs(html)
    assert "/ui/run/20200117/01807" in links and "/ui/run/20200117/01808" in links
    assert "/ui/run/20200117/01807?step=r0_to_dl1" in links
    assert not any("step=dl1_to_dl2" in h for h in links)  # no run has that step
    assert "lstosa_simulate_processing/prov.log" in text  # recent ingests
    assert 'action="/ui/search"' in html
    assert "/ui/versions" in links and "/ui/adql" in links
    # the stylesheet is served
    r = client.get("/ui/static/ui.css")
    assert r.status_code == 200 and r.mimetype == "text/css"
    r.close()
    assert client.get("/ui").status_code in (301, 308)


# ----------------------------------------------------------------------------- entity


def test_entity_page_lists_everything_and_its_links_round_trip(client, archive) -> None:
    dl1b = entity_id(archive, DL1B)
    html = get_ok(client, f"/ui/entity/{dl1b}")
    text = text_of(html)
    assert h1(html).startswith("DL1SubrunDataset")
    assert DL1B in text and dl1b in text
    assert "md5:0123456789abcdef0123456789abcdef" in text
    # generating activities: dl1ab (lstosa regenerated the file several times)
    generators = all_rows(
        archive, "SELECT activity_id FROM provenance.wasgeneratedby WHERE entity_id = :e", e=dl1b
    )
    assert generators
    links = hrefs(html)
    for activity in generators:
        assert f"/ui/activity/{activity}" in links
    # inputs: the DL1a file it was derived from, the analysis configuration
    dl1a = entity_id(archive, DL1A)
    assert f"/ui/entity/{dl1a}" in links
    assert "wasDerivedFrom" in text
    assert "lstchain_standard_config.json" in text
    # lineage graph: inline SVG, every node a link to its page
    svg = svg_of(html)
    nodes = re.findall(r'<g class="node (\w+)" id="[^"]*">\s*<a href="([^"]+)"', svg)
    assert len(nodes) >= 5
    kinds = {k for k, _ in nodes}
    assert {"entity", "activity"} <= kinds
    # every node link, and every entity/activity/agent link of the page, opens that page
    targets = {unescape(h) for _, h in nodes} | {
        h for h in links if re.match(r"/ui/(entity|activity|agent)/", h)
    }
    for url in sorted(targets):
        page = get_ok(client, url)
        kind = url.split("/")[2]
        assert f'<p class="kind">{kind}</p>' in page
    # R0 is reached with DEPTH=ALL (the default)
    assert f"/ui/entity/{entity_id(archive, R0)}" in {unescape(h) for _, h in nodes}
    # downloads in every ProvSAP format, and they work
    downloads = [h for h in links if "/tap/provsap?" in h]
    formats = {parse_qs(urlsplit(h).query)["RESPONSEFORMAT"][0] for h in downloads}
    assert formats == {"prov-json", "prov-n", "prov-xml", "prov-votable", "svg", "dot"}
    for url in downloads:
        parts = urlsplit(url)
        assert parse_qs(parts.query)["ID"] == [dl1b]
        r = client.get(f"{parts.path}?{parts.query}")
        assert r.status_code == 200, r.get_data(as_text=True)[:500]
        r.close()
    # the graph alone, as a page and as an embeddable SVG
    assert f"/ui/graph?id={dl1b}&depth=ALL&direction=BACK&format=svg" in links


def test_entity_graph_parameters(client, archive) -> None:
    dl1b = entity_id(archive, DL1B)
    deep = svg_of(get_ok(client, f"/ui/entity/{dl1b}?depth=ALL"))
    shallow = svg_of(get_ok(client, f"/ui/entity/{dl1b}?depth=1"))
    assert shallow.count('class="node ') < deep.count('class="node ')
    assert entity_id(archive, R0) not in shallow
    # FORTH from the pedestal file reaches the DL1 files
    pedestal = entity_id(archive, PEDESTAL)
    forth = svg_of(get_ok(client, f"/ui/entity/{pedestal}?depth=ALL&direction=FORTH"))
    assert quote(dl1b, safe="") in forth
    html = get_ok(client, f"/ui/entity/{pedestal}?depth=ALL&direction=forth")
    assert re.search(r'value="FORTH" checked', html)
    # a node limit cuts the graph and the page says so
    html = get_ok(client, f"/ui/entity/{pedestal}?depth=ALL&direction=FORTH&limit=5")
    assert "The graph is cut at 5 nodes" in html
    for bad in ("depth=-1", "depth=x", "direction=UP", "limit=many"):
        r = client.get(f"/ui/entity/{dl1b}?{bad}")
        assert r.status_code == 400, bad
        assert "<h1>Bad" in r.get_data(as_text=True)


# ----------------------------------------------------------------------------- activity


def test_activity_page_parameters_config_session_and_io(client, archive) -> None:
    dl1b = entity_id(archive, DL1B)
    activity = one(
        archive,
        "SELECT a.id FROM provenance.activity a JOIN provenance.wasgeneratedby g "
        "ON g.activity_id = a.id WHERE g.entity_id = :e AND a.name = 'dl1ab' "
        "AND EXISTS (SELECT 1 FROM provenance.parameter p WHERE p.activity_id = a.id) "
        "ORDER BY a.start_time LIMIT 1",
        e=dl1b,
    )
    html = get_ok(client, f"/ui/activity/{activity}")
    text = text_of(html)
    assert h1(html).startswith("dl1ab")
    assert activity in text
    params = all_rows(
        archive,
        "SELECT name, parameter_value FROM provenance.parameter WHERE activity_id = :a",
        a=activity,
    )
    for name, value in params:
        assert name in text and str(value) in text
    assert "sequencer.cfg" in text  # config file
    # session context: software version, night, run, environment packages
    assert "v0.12.3" in text
    assert "/ui/run/20200117/01807" in hrefs(html)
    assert re.search(r"lstchain 0\.12\.3", text)
    env = one(
        archive,
        "SELECT s.environment_id FROM provenance.activity a JOIN archive.processing_session s "
        "ON s.id = a.session_id WHERE a.id = :a",
        a=activity,
    )
    assert f"/ui/environment/{env}" in hrefs(html)
    env_html = get_ok(client, f"/ui/environment/{env}")
    assert '"python"' in unescape(env_html)
    assert client.get(f"/ui/environment/{env}?format=json").is_json
    # used and generated entities link to their pages
    links = hrefs(html)
    assert f"/ui/entity/{dl1b}" in links
    config = entity_id(archive, "/software/lstchain/data/lstchain_standard_config.json")
    assert f"/ui/entity/{config}" in links
    # the neighbourhood graph links back to the entity
    assert quote(dl1b, safe="") in svg_of(html)


def test_agent_page(client, archive) -> None:
    agent, name, n = all_rows(
        archive,
        "SELECT g.id, g.name, count(*) FROM provenance.wasassociatedwith w "
        "JOIN provenance.agent g ON g.id = w.agent_id GROUP BY g.id, g.name "
        "ORDER BY count(*) DESC, g.id LIMIT 1",
    )[0]
    html = get_ok(client, f"/ui/agent/{agent}")
    assert h1(html) == name
    assert f"Activities ({n})" in text_of(html)
    assert any(h.startswith("/ui/activity/") for h in hrefs(html))


def test_ids_with_slashes_colons_and_hashes_round_trip(client, app, archive) -> None:
    activity = one(
        archive, "SELECT id FROM provenance.activity WHERE id LIKE 'http:%' ORDER BY id LIMIT 1"
    )
    cases = [("entity", W3C_ENTITY), ("agent", W3C_AGENT), ("activity", activity)]
    cases += [("entity", i) for i in ODD_IDS]
    with app.test_request_context():
        from flask import url_for

        built = {(k, i): url_for(f"ui.{k}", ident=i) for k, i in cases}
    for (kind, ident), url in built.items():
        assert url.startswith(f"/ui/{kind}/")
        # url_for's form, the SVG renderer's form (everything percent-encoded), ?id=
        for form in (url, f"/ui/{kind}/" + quote(ident, safe="")):
            html = get_ok(client, form)
            assert f"<code>{ident}</code>" in html.replace("&amp;", "&").replace("&#39;", "'"), form
        r = client.get(f"/ui/{kind}", query_string={"id": ident})
        assert r.status_code == 302 and r.location == url
    # the W3C entity's page links its agent, the graph links both
    html = get_ok(client, built[("entity", W3C_ENTITY)])
    # (in the SVG renderer's form: the identifier percent-encoded whole)
    assert f"/ui/agent/{quote(W3C_AGENT, safe='')}" in hrefs(html)


# ----------------------------------------------------------------------------- misses


def test_unknown_ids_give_a_helpful_404(client, archive) -> None:
    for kind in ("entity", "activity", "agent"):
        r = client.get(f"/ui/{kind}/no-such-id")
        assert r.status_code == 404
        html = r.get_data(as_text=True)
        assert r.mimetype == "text/html"
        assert f"No {kind} &#39;no-such-id&#39;" in html
        assert 'action="/ui/search"' in html and 'value="no-such-id"' in html
    # another kind's id, a file path, a unique lstosa short id: sent to the right page
    activity = one(
        archive,
        "SELECT id FROM provenance.activity WHERE original_id IN (SELECT original_id "
        "FROM provenance.activity GROUP BY original_id HAVING count(*) = 1) "
        "AND id LIKE '%@%' ORDER BY id LIMIT 1",
    )
    r = client.get(f"/ui/entity/{activity}")
    assert r.status_code == 302 and r.location == f"/ui/activity/{activity}"
    r = client.get(f"/ui/activity/{activity.split('@')[0]}")
    assert r.status_code == 302 and r.location == f"/ui/activity/{activity}"
    r = client.get(f"/ui/entity/{DL1B}")
    assert r.status_code == 302 and r.location == f"/ui/entity/{entity_id(archive, DL1B)}"
    # an ambiguous short id lists the candidates
    short = "abc123"
    with archive.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO provenance.activity (id, original_id, name) VALUES "
                "(:s || '@2026-01-01T00:00:00', :s, 'twin'), "
                "(:s || '@2026-01-02T00:00:00', :s, 'twin')"
            ),
            {"s": short},
        )
    r = client.get(f"/ui/activity/{short}")
    assert r.status_code == 404
    assert r.get_data(as_text=True).count(f'href="/ui/activity/{short}@') >= 2
    # runs and graphs
    r = client.get("/ui/run/20200117/09999")
    assert r.status_code == 404 and "No run 09999" in r.get_data(as_text=True)
    assert client.get("/ui/graph?id=no-such-id").status_code == 404
    r = client.get("/ui/graph?id=no-such-id&format=svg")
    assert r.status_code == 404 and "no-such-id" in r.get_data(as_text=True)


# ----------------------------------------------------------------------------- search


def _search(client, q: str) -> tuple[str, list[str]]:
    html = get_ok(client, f"/ui/search?{'q=' + quote(q)}")
    return text_of(html), hrefs(html)


def test_search_by_path_name_hash_run_and_activity_id(client, archive) -> None:
    dl1b = entity_id(archive, DL1B)
    dl1a = entity_id(archive, DL1A)
    # file name: both DL1 files of subrun 0002
    text, links = _search(client, "dl1_LST-1.Run01807.0002.h5")
    assert f"/ui/entity/{dl1b}" in links and f"/ui/entity/{dl1a}" in links
    # a full path: the file first
    text, links = _search(client, DL1B)
    assert f"/ui/entity/{dl1b}" in links and f"/ui/entity/{dl1a}" not in links
    # lstosa's hash (md5 of the path = the entity id) and a content hash
    assert f"/ui/entity/{dl1b}" in _search(client, dl1b)[1]
    text, links = _search(client, "0123456789abcdef0123456789abcdef")
    assert f"/ui/entity/{dl1b}" in links and "content hash" in text
    # runs and nights
    for q in ("01807", "1807", "Run01807", "20200117_01807"):
        assert "/ui/run/20200117/01807" in _search(client, q)[1], q
    links = _search(client, "20200117")[1]
    assert {"/ui/run/20200117/01807", "/ui/run/20200117/01808"} <= set(links)
    # an activity: full id and lstosa's short id
    activity = one(
        archive,
        "SELECT activity_id FROM provenance.wasgeneratedby WHERE entity_id = :e LIMIT 1",
        e=dl1b,
    )
    assert f"/ui/activity/{activity}" in _search(client, activity)[1]
    assert f"/ui/activity/{activity}" in _search(client, activity.split("@")[0])[1]
    # nothing
    assert "Nothing matches" in _search(client, "no-such-thing-anywhere")[0]
    # LIKE wildcards are literal
    assert "Nothing matches" in _search(client, "%_%_%_%_%_%_%_%zz")[0]


# ----------------------------------------------------------------------------- run


def test_run_page_steps_folded_graph_and_subrun_detail(client, archive) -> None:
    html = get_ok(client, "/ui/run/20200117/01807")
    text = text_of(html)
    assert h1(html).startswith("Run 01807")
    links = hrefs(html)
    assert "/ui/run/20200117/01807" in links  # the step "all": the run page itself
    for step in ("calibration", "r0_to_dl1"):
        assert f"/ui/run/20200117/01807?step={step}" in links, step
    # only the steps the run has are linked (it has no dl1_to_dl2 activity)
    assert not any("dl1_to_dl2" in h for h in links)
    n_all = one(
        archive,
        "SELECT n_activities FROM archive.run_step WHERE run_step_id = '20200117_01807:all'",
    )
    assert f"all ({n_all})" in text
    svg = svg_of(html)
    # folded: one node per subrun activity name, which leads to the subrun detail
    folded = re.findall(
        r'<g class="node activity" id="activity:(runstep:[^"]+)">\s*'
        r'<a href="([^"]+)"',
        svg,
    )
    assert {i.rsplit(":", 1)[-1] for i, _ in folded} == {"r0_to_dl1", "dl1ab", "dl1_datacheck"}
    assert svg.count('class="node activity"') < 10
    r = client.get(unescape(folded[0][1]))
    assert r.status_code == 302 and r.location == "/ui/run/20200117/01807?subruns=1"
    # run-level files are listed, subrun files are not
    pedestal = entity_id(archive, PEDESTAL)
    assert f"/ui/entity/{pedestal}" in hrefs(html)
    assert f"/ui/entity/{entity_id(archive, R0)}" not in hrefs(html)
    # the subrun detail: every activity of the run, every file
    html = get_ok(client, "/ui/run/20200117/01807?subruns=1")
    links = hrefs(html)
    assert sum(1 for h in set(links) if h.startswith("/ui/activity/")) >= n_all
    assert f"/ui/entity/{entity_id(archive, R0)}" in links
    svg = svg_of(html)
    assert "runstep:" not in svg
    assert svg.count('class="node activity"') == n_all
    # one step
    html = get_ok(client, "/ui/run/20200117/01807?step=calibration")
    assert "drs4_pedestal" in svg_of(html) and "r0_to_dl1" not in svg_of(html)
    html = get_ok(client, "/ui/run/20200117/01807?step=dl1_to_dl2")
    assert "No dl1_to_dl2 activity for this run" in html
    # canonical URLs and bad ones
    r = client.get("/ui/run/2020-01-17/1807?step=r0_to_dl1")
    assert r.status_code == 301 and r.location == "/ui/run/20200117/01807?step=r0_to_dl1"
    assert client.get("/ui/run/20200117/01807?step=dl3").status_code == 400
    assert client.get("/ui/run/yesterday/01807").status_code == 400


# ----------------------------------------------------------------------------- versions


def _sync_csv(client, query: str) -> list[dict[str, str]]:
    r = client.get(
        "/tap/sync", query_string={"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"}
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 200, body
    return list(csv.DictReader(io.StringIO(body)))


def _adql_blocks(html: str) -> dict[str, str]:
    return {
        k: unescape(v)
        for k, v in re.findall(r'<pre class="adql" id="([^"]+)">(.*?)</pre>', html, flags=re.S)
    }


def _summary_rows(html: str) -> list[list[str]]:
    table = re.search(r'<table class="versions">(.*?)</table>', html, flags=re.S)
    assert table
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), flags=re.S)[1:]
    return [[text_of(c).strip() for c in re.findall(r"<td.*?>(.*?)</td>", r, re.S)] for r in rows]


def test_versions_page_from_sessions_and_its_adql(client, archive) -> None:
    # without version rows (an archive migrated before 0006 was synced) the page falls
    # back to the sessions' software_version
    with archive.begin() as conn:
        conn.execute(sa.text("DELETE FROM archive.software"))
    html = get_ok(client, "/ui/versions")
    assert "processing_session.software_version" in html
    adql = _adql_blocks(html)["adql-summary"]
    rows = _summary_rows(html)
    assert ["lstchain", "v0.12.3", "DL1SubrunDataset", "40"] in rows
    # the ADQL shown gives the same list through the TAP service
    got = _sync_csv(client, adql)
    assert [[r["package"], r["version"], r["product_type"], r["n_products"]] for r in got] == rows
    assert "/ui/adql?query=" in html
    # filtered by version and product type: the products listed, with their ADQL
    html = get_ok(client, "/ui/versions?version=0.12.3&product_type=dl1subrun")
    rows = _summary_rows(html)
    assert rows == [["lstchain", "v0.12.3", "DL1SubrunDataset", "40"]]
    blocks = _adql_blocks(html)
    assert len(_sync_csv(client, blocks["adql-summary"])) == 1
    products = _sync_csv(client, blocks["adql-products"])
    assert len(products) == 40
    links = hrefs(html)
    for p in products:
        assert f"/ui/entity/{p['id']}" in links


def test_versions_page_from_product_version(client, archive, db_url, tmp_path) -> None:
    from provdb.versions import sync_session_versions

    with archive.begin() as c:
        sync_session_versions(c)
    app = make_app(db_url, tmp_path / "pv")
    client = app.test_client()
    try:
        html = get_ok(client, "/ui/versions?package=lstchain")
        assert "archive.product_version" in html
        rows = _summary_rows(html)
        assert rows and all(r[0] == "lstchain" for r in rows)
        assert any(r[1] == "0.12.3" for r in rows)
        adql = _adql_blocks(html)["adql-summary"]
        assert "FROM archive.product_version" in adql and "package = 'lstchain'" in adql
        got = _sync_csv(client, adql)
        assert [
            [r["package"], r["version"], r["product_type"] or "unknown", r["n_products"]]
            for r in got
        ] == [r[:4] for r in rows]
        html = get_ok(client, "/ui/versions?package=lstchain&version=v0.12.3")
        products = _sync_csv(client, _adql_blocks(html)["adql-products"])
        assert products
        links = hrefs(html)
        assert all(f"/ui/entity/{p['entity_id']}" in links for p in products)
    finally:
        app.extensions["provdb_tap_db"].database.dispose()


# ----------------------------------------------------------------------------- ADQL


def test_adql_page_shows_rows_with_links_and_downloads(client, archive) -> None:
    query = (
        "SELECT TOP 20 e.id, e.location, g.activity_id, e.name\n"
        "FROM provenance.entity AS e\n"
        "JOIN provenance.wasgeneratedby AS g ON g.entity_id = e.id\n"
        "WHERE e.name = 'DL1SubrunDataset' AND e.location LIKE '/tmp/%'\n"
        "ORDER BY e.location"
    )
    html = get_ok(client, "/ui/adql?" + "query=" + quote(query))
    assert "<textarea" in html and query.split("\n")[0] in unescape(html)
    table = re.search(r'<table class="result" id="result">(.*?)</table>', html, flags=re.S)
    assert table
    body_rows = re.findall(r"<tr>(.*?)</tr>", table.group(1).split("<tbody>")[1], flags=re.S)
    assert len(body_rows) == 20
    assert "20 rows" in text_of(html)
    # ids and locations link to their pages; names do not
    first = body_rows[0]
    assert re.search(r'<a class="entity" href="/ui/entity/[0-9a-f]{32}">', first)
    assert re.search(r'<a class="activity" href="/ui/activity/[^"]+@[^"]+">', first)
    assert first.count('href="/ui/entity/') == 2  # the id and the location
    links = hrefs(html)
    for fmt in ("votable", "csv"):
        (url,) = [h for h in links if "/tap/sync?" in h and f"RESPONSEFORMAT={fmt}" in h]
        parts = urlsplit(url)
        assert parse_qs(parts.query)["QUERY"] == [query]
        r = client.get(f"{parts.path}?{parts.query}")
        assert r.status_code == 200
        if fmt == "csv":
            assert len(r.get_data(as_text=True).strip().splitlines()) == 21
        r.close()
    # POST works too; an empty query shows the form and the examples
    assert "20 rows" in text_of(client.post("/ui/adql", data={"query": query}).get_data(True))
    html = get_ok(client, "/ui/adql")
    assert 'id="result"' not in html and "/ui/adql?query=" in html


def test_adql_page_shows_errors_and_cuts_long_results(client, app) -> None:
    html = get_ok(client, "/ui/adql?query=" + quote("SELECT nme\nFROM provenance.entity"))
    text = text_of(html)
    assert "The query failed" in text
    assert "line 1, column 8" in text and "did you mean 'name'" in text
    assert re.search(r'<pre class="marker">SELECT nme\n       \^</pre>', html)
    html = get_ok(client, "/ui/adql?query=" + quote("SELEKT 1"))
    assert "The query failed" in html
    html = get_ok(client, "/ui/adql?query=" + quote("SELECT * FROM pg_catalog.pg_class"))
    assert "The query failed" in html
    # at most PROVDB_UI_MAX_ROWS rows are shown, and the page says there are more
    # long values show their end (the file name), the full value on hover
    html = get_ok(
        client,
        "/ui/adql?query="
        + quote("SELECT location FROM provenance.entity WHERE location LIKE '%Run01807.0002.h5'"),
    )
    long = [v for v in re.findall(r'title="([^"]+)"', html) if v.endswith("Run01807.0002.h5")]
    assert long and len(long[0]) > 60
    assert "…" + long[0][-59:] in html
    app.config["PROVDB_UI_MAX_ROWS"] = 7
    html = get_ok(client, "/ui/adql?query=" + quote("SELECT id FROM provenance.entity"))
    assert "7 rows shown: the result has more" in text_of(html)


#: queries whose columns cover every kind of value the ADQL page shows: integers, floats,
#: text, JSON documents (text), timestamps, booleans, byte arrays (lists) and NULLs
TYPED_QUERIES = (
    "SELECT id, path, format, size_bytes, mtime, records, state, first_ingest, duration_s\n"
    "FROM archive.ingest_file ORDER BY id",
    "SELECT r.id, r.line_number, r.reason, r.is_error, r.raw, r.raw_text, f.state\n"
    "FROM archive.ingest_reject AS r JOIN archive.ingest_file AS f ON f.id = r.ingest_file_id\n"
    "ORDER BY r.id",
)


@pytest.fixture
def typed(archive: sa.Engine) -> sa.Engine:
    """The archive with two rejected lines (a boolean and a byte array) and NULL states."""
    with archive.begin() as c:
        c.execute(sa.text("UPDATE archive.ingest_file SET state = NULL"))
        file_id = c.execute(sa.text("SELECT min(id) FROM archive.ingest_file")).scalar_one()
        for line, (raw, is_error) in enumerate(((b"\x00\xffab", False), (b"{'x': 1", True))):
            c.execute(
                sa.text(
                    "INSERT INTO archive.ingest_reject (ingest_file_id, line_number, "
                    "byte_offset, reason, is_error, raw, raw_text) "
                    "VALUES (:f, :n, 0, 'test reason', :e, :r, 'shown')"
                ),
                {"f": file_id, "n": line + 1, "e": is_error, "r": raw},
            )
    return archive


def _sync_json(client, query: str) -> dict[str, Any]:
    r = client.get(
        "/tap/sync", query_string={"LANG": "ADQL", "RESPONSEFORMAT": "json", "QUERY": query}
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    return json.loads(r.get_data(as_text=True))


def _types(rows: list[list[Any]]) -> list[list[type]]:
    return [[type(v) for v in row] for row in rows]


def test_adql_page_rows_are_the_json_results_values(app, client, typed) -> None:
    """The page takes its rows from the query layer, not from a JSON document it parses:
    the same columns, rows, value types and NULLs as /sync's JSON result."""
    from tap.ui.adql_pages import run_adql

    seen: set[type] = set()
    for query in TYPED_QUERIES:
        expected = _sync_json(client, query)
        with app.test_request_context("/ui/adql"):
            got = run_adql(query, 1000)
        assert got["error"] is None and got["overflow"] is False
        assert got["columns"] == expected["metadata"]
        assert got["rows"] == expected["data"] and len(got["rows"]) >= 2
        assert _types(got["rows"]) == _types(expected["data"])
        seen |= {t for row in _types(got["rows"]) for t in row}
    assert {int, float, str, bool, list, type(None)} <= seen  # every kind was compared
    with app.test_request_context("/ui/adql"):
        cut = run_adql(TYPED_QUERIES[1], 1)
    assert (
        cut["overflow"] is True and cut["rows"] == _sync_json(client, TYPED_QUERIES[1])["data"][:1]
    )


def test_adql_page_shows_nulls_booleans_and_arrays(client, typed) -> None:
    html = get_ok(client, "/ui/adql?query=" + quote(TYPED_QUERIES[1]))
    table = re.search(r'<table class="result" id="result">(.*?)</table>', html, flags=re.S)
    assert table
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1).split("<tbody>")[1], flags=re.S)
    cells = [
        [
            re.sub(r"\s+", "", unescape(re.sub(r"<[^>]+>", "", c)))
            for c in re.findall(r"<td>(.*?)</td>", r, flags=re.S)
        ]
        for r in rows
    ]
    assert [c[1:] for c in cells] == [
        ["1", "testreason", "false", "[0,255,97,98]", "shown", "null"],
        ["2", "testreason", "true", "[123,39,120,39,58,32,49]", "shown", "null"],
    ]
    assert html.count('<span class="null">null</span>') == 2


# ----------------------------------------------------------------------------- graph


def test_graph_url_svg_and_html(client, archive) -> None:
    dl1b = entity_id(archive, DL1B)
    r = client.get(f"/ui/graph?id={dl1b}&depth=2&direction=BACK&format=svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    svg = r.get_data(as_text=True)
    assert "<svg" in svg and f'href="/ui/entity/{dl1b}"' in svg
    assert r.headers["X-Provdb-Truncated"] == "false"
    n = int(r.headers["X-Provdb-Nodes"])
    html = get_ok(client, f"/ui/graph?id={dl1b}&depth=2&direction=BACK")
    assert svg_of(html).count('class="node ') == svg.count('class="node ')
    assert f"/ui/graph?id={dl1b}&depth=2&direction=BACK&format=svg" in hrefs(html)
    # ProvSAP spellings, several ids
    r = client.get(f"/ui/graph?ID={dl1b}&DEPTH=ALL&DIRECTION=back&format=svg")
    assert int(r.headers["X-Provdb-Nodes"]) > n
    pedestal = entity_id(archive, PEDESTAL)
    html = get_ok(client, f"/ui/graph?id={dl1b}&id={pedestal}&depth=0")
    assert svg_of(html).count('class="node entity"') == 2
    assert client.get("/ui/graph").status_code == 400
    assert client.get(f"/ui/graph?id={dl1b}&format=png").status_code == 400


# ----------------------------------------------------------------------------- speed


def _fan_in_chain(engine: sa.Engine, steps: int, inputs: int) -> str:
    """A product made through ``steps`` activities, each using ``inputs`` extra files."""
    with engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO provenance.entity (id, name, location) "
                "SELECT 'big-e' || i, 'Product', '/big/product_' || i || '.h5' "
                "FROM generate_series(0, :n) i"
            ),
            {"n": steps},
        )
        c.execute(
            sa.text(
                "INSERT INTO provenance.entity (id, name, location) "
                "SELECT 'big-in' || i || '-' || j, 'Input', '/big/in_' || i || '_' || j "
                "FROM generate_series(1, :n) i, generate_series(1, :k) j"
            ),
            {"n": steps, "k": inputs},
        )
        c.execute(
            sa.text(
                "INSERT INTO provenance.activity (id, name, start_time) "
                "SELECT 'big-a' || i, 'step', now() FROM generate_series(1, :n) i"
            ),
            {"n": steps},
        )
        c.execute(
            sa.text(
                "INSERT INTO provenance.used (activity_id, entity_id) "
                "SELECT 'big-a' || i, 'big-e' || (i - 1) FROM generate_series(1, :n) i "
                "UNION ALL SELECT 'big-a' || i, 'big-in' || i || '-' || j "
                "FROM generate_series(1, :n) i, generate_series(1, :k) j"
            ),
            {"n": steps, "k": inputs},
        )
        c.execute(
            sa.text(
                "INSERT INTO provenance.wasgeneratedby (entity_id, activity_id) "
                "SELECT 'big-e' || i, 'big-a' || i FROM generate_series(1, :n) i"
            ),
            {"n": steps},
        )
    return f"big-e{steps}"


def test_entity_page_with_a_500_node_graph_is_fast_and_has_no_n_plus_1(app, archive) -> None:
    """One traversal and a fixed number of statements whatever the graph size."""
    big = _fan_in_chain(archive, steps=45, inputs=9)  # 45 + 46 + 405 = 496 nodes
    small = entity_id(archive, DL1B)
    engine = app.extensions["provdb_tap_db"].engine
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    client = app.test_client()
    get_ok(client, f"/ui/entity/{small}")  # warm up (catalog, templates)
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        get_ok(client, f"/ui/entity/{small}")
        n_small = len(statements)
        statements.clear()
        timings = []
        for _ in range(3):
            t0 = time.perf_counter()
            html = get_ok(client, f"/ui/entity/{big}")
            timings.append(time.perf_counter() - t0)
        n_big = len(statements) // 3
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    nodes = svg_of(html).count('class="node ')
    assert nodes >= 490
    assert "The graph is cut" not in html
    assert n_big == n_small <= 12, statements
    # the goal is 500 ms; CI machines are slower and noisier than that allows
    assert min(timings) < 1.5, timings
    print(f"\n500-node entity page: best {min(timings) * 1000:.0f} ms, {nodes} nodes")
