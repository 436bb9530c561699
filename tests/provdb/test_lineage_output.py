"""Lineage serialisations (PROV-JSON/N/XML, PROV-VOTABLE, DOT, SVG), the CLI and the export.

The graphs come from the sample night ingested once per module into a fresh database;
the W3C documents are read back with the ``prov`` library, PROV-VOTABLE is checked with
``stilts votlint``, SVG with an XML parser.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.ingest.lstosa.definition import load_model
from provdb.ingest.pipeline import ingest_file
from provdb.lineage.export import FORMATS, parse_format, run_graph, serialize
from provdb.lineage.provjson import VOPROV_NAMESPACE
from provdb.lineage.traverse import lineage
from tests.conftest import run_cli, scratch_database

NIGHT = "generated/lstosa_simulate_processing/prov.log"
ROOT = "/tmp/lst-osa-run/test_osa/test_files0"
DL1A = f"{ROOT}/DL1/20200117/v0.1.0/dl1_LST-1.Run01807.0002.h5"
DL1B = f"{ROOT}/DL1/20200117/v0.1.0/tailcut84/dl1_LST-1.Run01807.0002.h5"
PEDESTAL = (
    f"{ROOT}/monitoring/PixelCalibration/Cat-A/drs4_baseline/20200117/v0.1.1/"
    "drs4_pedestal.Run01804.0000.h5"
)
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def night_url(provdb_template, samples: Path) -> Iterator[sa.URL]:
    with scratch_database(provdb_template, "provdb_lineage_out") as url:
        engine = sa.create_engine(url)
        raw = engine.raw_connection()
        try:
            model = load_model(samples / "lstosa/config/definition.yaml")
            result = ingest_file(raw.driver_connection, samples / NIGHT, model=model)
        finally:
            raw.close()
            engine.dispose()
        assert result.status == "new" and result.rejects == 0, result.error
        yield url


@pytest.fixture(scope="module")
def night(night_url: sa.URL) -> Iterator[sa.Engine]:
    engine = sa.create_engine(night_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def back(night: sa.Engine):
    with night.connect() as conn:
        return lineage(conn, [DL1B], depth=None)


@pytest.fixture(scope="module")
def truncated(night: sa.Engine):
    with night.connect() as conn:
        graph = lineage(conn, [PEDESTAL], depth=None, direction="FORTH", limit=12)
    assert graph.truncated
    return graph


def _env(url: sa.URL) -> dict[str, str]:
    return {"PROVDB_DATABASE_URL": url.render_as_string(hide_password=False)}


# ----------------------------------------------------------------------------- W3C PROV


def test_prov_json_loads_back_with_the_prov_library(back) -> None:
    from prov.model import ProvDocument

    body = serialize(back, "prov-json")
    doc = ProvDocument.deserialize(content=body.decode(), format="json")
    data = json.loads(body)
    assert data["prefix"] == {"provdb": "urn:provdb:", "voprov": VOPROV_NAMESPACE}
    ids = {str(r.identifier) for r in doc.get_records() if r.identifier is not None}
    for node in back.nodes.values():
        assert f"provdb:{node.id}" in ids
    # IVOA model: names -> prov:label, descriptions as typed entities, parameters configured
    entity = data["entity"][f"provdb:{back.entities[0].id}"]
    assert entity["prov:label"] == "DL1SubrunDataset" and entity["prov:location"] == DL1B
    types = json.dumps([v.get("prov:type") for v in data["entity"].values()])
    for cls in ("voprov:ActivityDescription", "voprov:EntityDescription", "voprov:Parameter"):
        assert cls in types
    assert any("provdb:ExecutionSession" in json.dumps(v) for v in data["entity"].values())
    assert len(data["used"]) > len(back.edges_of("used"))  # + the configuration usages
    assert {v["prov:role"] for v in data["wasGeneratedBy"].values() if "prov:role" in v} >= {
        "DL1 subrun dataset",
        "DL1AB subrun dataset",
    }


def test_w3c_model_is_plain_prov(back) -> None:
    from prov.model import ProvDocument

    body = serialize(back, "prov-json", model="W3C")
    assert b"voprov" not in body
    data = json.loads(body)
    ProvDocument.deserialize(content=body.decode(), format="json")
    activities = list(data["activity"].values())
    assert all("provdb:activity_description" in a for a in activities)
    assert all("provdb:software_version" in a for a in activities)


def test_prov_n_and_prov_xml(back) -> None:
    from prov.model import ProvDocument

    provn = serialize(back, "prov-n").decode()
    assert provn.startswith("document") and provn.rstrip().endswith("endDocument")
    assert "prefix voprov <" + VOPROV_NAMESPACE + ">" in provn
    assert "wasDerivedFrom(" in provn and "used(" in provn
    xml = serialize(back, "prov-xml")
    root = ET.fromstring(xml)
    assert root.tag == "{http://www.w3.org/ns/prov#}document"
    doc = ProvDocument.deserialize(content=xml, format="xml")
    json_doc = ProvDocument.deserialize(
        content=serialize(back, "prov-json").decode(), format="json"
    )
    assert doc == json_doc
    # the content, not only the parse: every record of PROV-JSON is in PROV-N and PROV-XML
    data = json.loads(serialize(back, "prov-json"))
    prov = "{http://www.w3.org/ns/prov#}"
    for kind in ("entity", "activity", "agent", "used", "wasGeneratedBy", "wasDerivedFrom"):
        assert data[kind], kind
        assert len(root.findall(f"{prov}{kind}")) == len(data[kind]), kind
        assert len(re.findall(rf"^\s+{kind}\(", provn, re.M)) == len(data[kind]), kind
    for ident in (f"provdb:{back.entities[0].id}", f"provdb:{back.activities[0].id}"):
        assert ident in data["entity"] or ident in data["activity"]
        assert {e.get(f"{prov}id") for e in root.iter()} >= {ident}


def test_truncated_graphs_say_so_in_every_format(truncated) -> None:
    data = json.loads(serialize(truncated, "prov-json"))
    (start,) = [v for v in data["entity"].values() if v.get("provdb:truncated")]
    assert start["provdb:node_limit"] == {"$": "12", "type": "xsd:int"}
    assert b"provdb:truncated" in serialize(truncated, "prov-n")
    assert b'name="truncated" value="true"' in serialize(truncated, "prov-votable")
    assert b"QUERY_STATUS" in serialize(truncated, "prov-votable")
    assert b"node limit 12" in serialize(truncated, "svg", svg_engine="python")
    assert b"node limit 12" in serialize(truncated, "dot")


def test_serialisations_are_stable(night: sa.Engine, back) -> None:
    with night.connect() as conn:
        again = lineage(conn, [DL1B], depth=None)
    for fmt in FORMATS:
        assert serialize(back, fmt, svg_engine="python") == serialize(
            again, fmt, svg_engine="python"
        ), fmt


# ----------------------------------------------------------------------------- VOTable


def _votlint(tmp_path: Path, body: bytes) -> str:
    stilts = shutil.which("stilts")
    if stilts is None:
        if os.environ.get("CI"):
            pytest.fail("stilts is needed in CI (apt-get install stilts)")
        pytest.skip("STILTS is not installed")
    path = tmp_path / "prov.vot"
    path.write_bytes(body)
    done = subprocess.run(
        [stilts, "votlint", f"votable={path}"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return (done.stdout + done.stderr).strip()


def test_prov_votable_passes_votlint(tmp_path: Path, back, truncated) -> None:
    body = serialize(back, "prov-votable", request={"ID": DL1B, "DEPTH": "ALL"})
    assert _votlint(tmp_path, body) == ""
    assert _votlint(tmp_path, serialize(truncated, "prov-votable")) == ""
    from astropy.io.votable import parse

    tables = {t.name: t for t in parse(io.BytesIO(body)).iter_tables()}
    assert {"activity", "entity", "agent", "used", "wasGeneratedBy"} <= set(tables)
    assert len(tables["entity"].array) == len(back.entities)
    assert len(tables["used"].array) == len(back.edges_of("used"))
    assert "parameter" in tables and "session" in tables and "activityDescription" in tables
    used = tables["used"].array
    assert "Pedestal file" in {str(r) for r in used["role"]}


# ----------------------------------------------------------------------------- graphs


def test_svg_python_layout_is_linked_and_styled(back) -> None:
    body = serialize(back, "svg", url_pattern="/archive/ui/{kind}/{id}", svg_engine="python")
    root = ET.fromstring(body)
    assert root.tag == f"{SVG_NS}svg"
    links = [a.get("href") for a in root.iter(f"{SVG_NS}a")]
    assert len(links) == len(back.nodes)
    assert f"/archive/ui/entity/{back.entities[0].id}" in links
    assert any(link.startswith("/archive/ui/activity/") for link in links)
    assert "/archive/ui/agent/Anonymous" in links
    assert root.find(f".//{SVG_NS}ellipse[@fill='#FFFC87']") is not None  # entities
    assert root.find(f".//{SVG_NS}rect[@fill='#9FB1FC']") is not None  # activities
    assert root.find(f".//{SVG_NS}polygon[@fill='#FED37F']") is not None  # agent house
    texts = {t.text for t in root.iter(f"{SVG_NS}text")}
    assert "Observation subrun" in texts, sorted(t or "" for t in texts)


def test_svg_with_graphviz_when_available(back) -> None:
    from provdb.lineage.svg import find_dot

    if find_dot() is None:
        pytest.skip("no Graphviz dot (system or graphviz-pure) on this machine")
    body = serialize(back, "svg", svg_engine="dot")
    root = ET.fromstring(body)
    links = [a.get("{http://www.w3.org/1999/xlink}href") for a in root.iter(f"{SVG_NS}a")]
    assert "/ui/agent/Anonymous" in links, links


def test_dot_text(back) -> None:
    text = serialize(back, "dot").decode()
    assert text.startswith('digraph "provenance" {') and "rankdir=BT" in text
    assert 'URL="/ui/entity/' in text and 'shape="house"' in text
    assert 'label="Pedestal file"' in text and "Observation subrun" in text, text


def test_format_names_and_media_types() -> None:
    assert parse_format("PROV-JSON") == "prov-json"
    assert parse_format("application/json") == "prov-json"
    assert parse_format("text/provenance-notation") == "prov-n"
    assert parse_format("application/xml") == "prov-xml"
    assert parse_format("application/x-votable+xml") == "prov-votable"
    assert parse_format("image/svg+xml") == "svg"
    assert parse_format("text/vnd.graphviz") == "dot"
    assert parse_format("Prov-Votable") == "prov-votable"
    assert parse_format("png") is None


# ----------------------------------------------------------------------------- CLI


def test_cli_lineage_tree(night_url: sa.URL) -> None:
    done = run_cli("lineage", DL1A, "--depth", "all", env=_env(night_url))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "direction BACK, depth ALL" in out
    assert "r0_to_dl1" in out and "R0SubrunDataset" in out
    assert "Pedestal file" in out and "drs4_pedestal.Run01804.0000.h5" in out
    assert "software v0.12.3" in out


def test_cli_lineage_files(night_url: sa.URL, tmp_path: Path) -> None:
    from prov.model import ProvDocument

    out = tmp_path / "lineage.json"
    done = run_cli(
        "lineage", DL1B, "--depth", "all", "--format", "prov-json", "-o", str(out),
        env=_env(night_url),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    ProvDocument.deserialize(source=str(out), format="json")
    svg = tmp_path / "lineage.svg"
    done = run_cli(
        "lineage", PEDESTAL, "--direction", "forth", "--depth", "all", "--format", "svg",
        "--limit", "20", "-o", str(svg), env=_env(night_url),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "truncated at 20 nodes" in done.stderr
    ET.parse(svg)
    tree = tmp_path / "tree.txt"
    done = run_cli("lineage", DL1A, "--depth", "1", "-o", str(tree), env=_env(night_url))
    assert done.returncode == 0 and "r0_to_dl1" in tree.read_text()


def test_cli_lineage_errors(night_url: sa.URL) -> None:
    done = run_cli("lineage", "no-such-id", env=_env(night_url))
    assert done.returncode == 2 and "no entity, activity or agent" in done.stderr
    done = run_cli("lineage", DL1A, "--depth", "many", env=_env(night_url))
    assert done.returncode == 2 and "--depth" in done.stderr


def test_run_export_r0_to_dl1(night: sa.Engine) -> None:
    with night.connect() as conn:
        graph = run_graph(conn, "1807", step="r0_to_dl1")
    names = [a.attrs["name"] for a in graph.activities]
    assert sorted(set(names)) == ["dl1_datacheck", "dl1ab", "r0_to_dl1"]
    assert names.count("r0_to_dl1") == 11  # one per subrun, provdb's own ids
    assert all("@" in a.id for a in graph.activities)
    files = {e.attrs.get("name") for e in graph.entities}
    assert {"R0SubrunDataset", "DL1SubrunDataset", "PedestalFile"} <= files
    assert graph.title == "run 20200117_01807, step r0_to_dl1"


def test_cli_export_is_stable(night_url: sa.URL, tmp_path: Path) -> None:
    from prov.model import ProvDocument

    outs = []
    for i in range(2):
        out = tmp_path / f"r0_to_dl1_01807_{i}.json"
        done = run_cli(
            "export", "--run", "01807", "--night", "20200117", "--step", "r0_to_dl1",
            "--format", "prov-json", "-o", str(out), env=_env(night_url),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    ProvDocument.deserialize(content=outs[0].decode(), format="json")
    done = run_cli("export", "--run", "01807", "--format", "svg", env=_env(night_url))
    assert done.returncode == 0 and done.stdout.lstrip().startswith("<?xml")
    done = run_cli("export", "--run", "01807", "--format", "prov-n", env=_env(night_url))
    assert done.returncode == 0 and done.stdout.startswith("document")


def test_cli_export_errors(night_url: sa.URL) -> None:
    done = run_cli("export", "--run", "09999", env=_env(night_url))
    assert done.returncode == 2 and "no lstosa activity for run 09999" in done.stderr
    done = run_cli("export", "--run", "01807", "--night", "2020-01", env=_env(night_url))
    assert done.returncode == 2 and "YYYYMMDD" in done.stderr


def test_svg_auto_engine_falls_back_to_python(back, monkeypatch: pytest.MonkeyPatch) -> None:
    from provdb.lineage.svg import render_svg

    python = render_svg(back, engine="python")
    assert render_svg(back) == python  # the default, whatever is installed
    monkeypatch.setenv("PROVDB_DOT", "false")  # a "dot" that fails
    assert render_svg(back, engine="auto") == python
    with pytest.raises(subprocess.SubprocessError):
        render_svg(back, engine="dot")
    monkeypatch.setenv("PROVDB_DOT", "/no/such/dot")
    assert render_svg(back, engine="auto") == python
    with pytest.raises(ValueError, match="no Graphviz dot"):
        render_svg(back, engine="dot")
    with pytest.raises(ValueError, match="SVG engine"):
        render_svg(back, engine="neato")
