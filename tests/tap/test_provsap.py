"""ProvSAP endpoint ``/provsap`` over real HTTP (``provdb serve`` on the sample archive)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

ROOT = "/tmp/lst-osa-run/test_osa/test_files0"
DL1A = f"{ROOT}/DL1/20200117/v0.1.0/dl1_LST-1.Run01807.0002.h5"
DL1B = f"{ROOT}/DL1/20200117/v0.1.0/tailcut84/dl1_LST-1.Run01807.0002.h5"
R0 = f"{ROOT}/R0G/20200117/LST-1.1.Run01807.0002.fits.fz"
PEDESTAL = (
    f"{ROOT}/monitoring/PixelCalibration/Cat-A/drs4_baseline/20200117/v0.1.1/"
    "drs4_pedestal.Run01804.0000.h5"
)
VOT = "{http://www.ivoa.net/xml/VOTable/v1.3}"


def _get(base: str, **params) -> requests.Response:
    return requests.get(base + "/provsap", params=params, timeout=60)


def _error_text(r: requests.Response) -> str:
    root = ET.fromstring(r.content)
    (info,) = [i for i in root.iter(f"{VOT}INFO") if i.get("name") == "QUERY_STATUS"]
    assert info.get("value") == "ERROR"
    return info.text or ""


def _locations(doc: dict) -> set[str]:
    return {v["prov:location"] for v in doc.get("entity", {}).values() if "prov:location" in v}


def test_default_is_prov_json_depth_one_back(tap_server: str) -> None:
    r = _get(tap_server, ID=DL1B)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["X-Provdb-Truncated"] == "false"
    assert "lineage;dur=" in r.headers["Server-Timing"]
    doc = r.json()
    assert DL1A in _locations(doc)  # wasDerivedFrom: one step
    assert R0 not in _locations(doc)  # two steps away
    labels = {v.get("prov:label") for v in doc["activity"].values()}
    assert labels == {"dl1ab"}


def test_back_all_reaches_r0_and_calibration(tap_server: str) -> None:
    from prov.model import ProvDocument

    r = _get(tap_server, ID=DL1A, DEPTH="ALL")
    assert r.status_code == 200, r.text
    ProvDocument.deserialize(content=r.text, format="json")
    found = _locations(r.json())
    assert R0 in found and PEDESTAL in found
    assert any(loc.endswith("ffactor_systematics_20200725.h5") for loc in found)
    assert any(loc.endswith("time_calibration.Run01625.0000.h5") for loc in found)


def test_forth_from_the_pedestal_reaches_dl1(tap_server: str) -> None:
    r = _get(tap_server, ID=PEDESTAL, DEPTH="ALL", DIRECTION="FORTH")
    assert r.status_code == 200, r.text
    found = _locations(r.json())
    assert DL1A in found and DL1B in found
    assert R0 not in found


def test_names_are_case_insensitive(tap_server: str) -> None:
    upper = _get(tap_server, ID=DL1A, DEPTH="2", RESPONSEFORMAT="PROV-JSON")
    lower = requests.get(
        tap_server + "/provsap",
        params={"id": DL1A, "depth": "2", "responseformat": "prov-json"},
        timeout=60,
    )
    mixed = requests.get(
        tap_server + "/provsap",
        params={"Id": DL1A, "Depth": "2", "ResponseFormat": "application/json"},
        timeout=60,
    )
    assert upper.status_code == lower.status_code == mixed.status_code == 200
    assert upper.content == lower.content == mixed.content


def test_repeated_id_and_post(tap_server: str) -> None:
    r = requests.get(
        tap_server + "/provsap", params=[("ID", DL1A), ("ID", R0), ("DEPTH", "0")], timeout=60
    )
    assert r.status_code == 200, r.text
    assert _locations(r.json()) == {DL1A, R0}
    posted = requests.post(
        tap_server + "/provsap", data=[("ID", DL1A), ("ID", R0), ("DEPTH", "0")], timeout=60
    )
    assert posted.status_code == 200 and posted.content == r.content


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("PROV-JSON", "application/json"),
        ("PROV-N", "text/provenance-notation"),
        ("PROV-XML", "application/provenance+xml"),
        ("PROV-VOTABLE", "application/x-votable+xml"),
        ("SVG", "image/svg+xml"),
        ("DOT", "text/vnd.graphviz"),
        ("text/provenance-notation", "text/provenance-notation"),
        ("application/xml", "application/provenance+xml"),
        ("application/x-votable+xml", "application/x-votable+xml"),
        ("image/svg+xml", "image/svg+xml"),
        ("text/vnd.graphviz", "text/vnd.graphviz"),
    ],
)
def test_every_format(tap_server: str, fmt: str, mime: str) -> None:
    r = _get(tap_server, ID=DL1B, DEPTH="ALL", RESPONSEFORMAT=fmt)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] == mime
    body = r.content
    if mime == "application/json":
        json.loads(body)
    elif mime == "text/provenance-notation":
        assert body.startswith(b"document") and b"endDocument" in body
    elif mime == "application/provenance+xml":
        assert ET.fromstring(body).tag == "{http://www.w3.org/ns/prov#}document"
    elif mime == "application/x-votable+xml":
        root = ET.fromstring(body)
        names = {t.get("name") for t in root.iter(f"{VOT}TABLE")}
        assert {"activity", "entity", "agent", "used", "wasGeneratedBy"} <= names
    elif mime == "image/svg+xml":
        root = ET.fromstring(body)
        links = [
            a.get("href") or a.get("{http://www.w3.org/1999/xlink}href")
            for a in root.iter("{http://www.w3.org/2000/svg}a")
        ]
        assert links and all("/ui/" in link for link in links)
        assert any(link.endswith("/ui/agent/Anonymous") for link in links)
    else:
        assert body.startswith(b"digraph")


def test_model_w3c(tap_server: str) -> None:
    r = _get(tap_server, ID=DL1B, MODEL="W3C")
    assert r.status_code == 200 and b"voprov" not in r.content
    assert b"voprov" in _get(tap_server, ID=DL1B, MODEL="IVOA").content


def test_prov_votable_passes_votlint(tap_server: str, tmp_path: Path) -> None:
    stilts = shutil.which("stilts")
    if stilts is None:
        if os.environ.get("CI"):
            pytest.fail("stilts is needed in CI")
        pytest.skip("STILTS is not installed")
    r = _get(tap_server, ID=DL1A, DEPTH="ALL", RESPONSEFORMAT="PROV-VOTABLE")
    path = tmp_path / "provsap.vot"
    path.write_bytes(r.content)
    done = subprocess.run(
        [stilts, "votlint", f"votable={path}"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), done.stdout


def test_truncation_header_and_document(tap_server: str) -> None:
    r = _get(tap_server, ID=PEDESTAL, DEPTH="ALL", DIRECTION="FORTH", MAXREC="5")
    assert r.status_code == 200
    assert r.headers["X-Provdb-Truncated"] == "true"
    doc = r.json()
    (start,) = [v for v in doc["entity"].values() if v.get("provdb:truncated")]
    assert start["prov:location"] == PEDESTAL
    vot = _get(
        tap_server,
        ID=PEDESTAL,
        DEPTH="ALL",
        DIRECTION="FORTH",
        MAXREC="5",
        RESPONSEFORMAT="PROV-VOTABLE",
    )
    statuses = [
        i.get("value")
        for i in ET.fromstring(vot.content).iter(f"{VOT}INFO")
        if i.get("name") == "QUERY_STATUS"
    ]
    assert statuses == ["OK", "OVERFLOW"]


def test_missing_id_is_400(tap_server: str) -> None:
    r = _get(tap_server, DEPTH="1")
    assert r.status_code == 400
    assert r.headers["Content-Type"].startswith("application/x-votable+xml")
    assert "ID" in _error_text(r)


def test_unknown_node_is_404(tap_server: str) -> None:
    r = _get(tap_server, ID="no-such-entity")
    assert r.status_code == 404
    assert "no-such-entity" in _error_text(r)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEPTH", "deep"),
        ("DEPTH", "-1"),
        ("DIRECTION", "SIDEWAYS"),
        ("RESPONSEFORMAT", "image/png"),
        ("MODEL", "CAOM"),
        ("AGENT", "maybe"),
        ("MEMBERS", "2"),
        ("STEPS", "TRUE"),
        ("MAXREC", "0"),
    ],
)
def test_bad_values_are_400_with_a_message(tap_server: str, name: str, value: str) -> None:
    r = _get(tap_server, ID=DL1A, **{name: value})
    assert r.status_code == 400
    text = _error_text(r)
    assert name in text


def test_agent_id(tap_server: str) -> None:
    alone = _get(tap_server, ID="Anonymous", DEPTH="ALL")
    assert alone.status_code == 200
    assert list(alone.json()) == ["prefix", "agent"]
    walked = _get(tap_server, ID="Anonymous", DEPTH="1", AGENT="TRUE", MAXREC="20")
    assert walked.json().get("activity")


def test_qualified_ids_from_a_response_are_accepted(tap_server: str) -> None:
    doc = _get(tap_server, ID=DL1A, DEPTH="1").json()
    activity_id = sorted(doc["activity"])[0]  # the archive has several runs of this file
    assert activity_id.startswith("provdb:")
    r = requests.get(tap_server + "/provsap?ID=" + quote(activity_id, safe=""), timeout=60)
    assert r.status_code == 200
    assert activity_id in r.json()["activity"]
