"""ObsCore + DataLink end to end, with real clients against `provdb serve`.

The archive holds the samples plus the DL3 chain of :mod:`tests.dl3_files` (logs
ingested, DL3 files scanned, as a user would); the service runs with gunicorn on a free
port. The scenario of issue 14 is :func:`test_crab_dl3_to_progenitors_and_lineage`.

``bysemantics(..., include_narrower=False)`` throughout: the narrower terms come from the
IVOA vocabulary server, which pyvo downloads (no network in the tests); the terms used
here have none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvo
import requests

from tests import dl3_files
from tests.conftest import run_cli, scratch_database
from tests.http_sessions import ClosingSession
from tests.servers import serve_provdb

STILTS = shutil.which("stilts")
needs_stilts = pytest.mark.skipif(
    STILTS is None and not os.environ.get("CI"),
    reason="stilts not installed (Debian package 'stilts'; .ci/run installs it)",
)
VOT = "{http://www.ivoa.net/xml/VOTable/v1.3}"

#: DL3 event lists within 2 degrees of the Crab, made with lstchain 0.9.13, not flagged:
#: the ADQL geometry an ObsCore user writes (CONTAINS of a POINT in a CIRCLE)
CRAB_QUERY = """
SELECT obs_publisher_did, obs_id, s_ra, s_dec, t_min, t_max, software_version,
       quality_flags, access_url
FROM ivoa.obscore
WHERE dataproduct_type = 'event' AND data_level = 'DL3'
  AND CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', 83.633, 22.0145, 2)) = 1
  AND software_name = 'lstchain' AND software_version = '0.9.13'
  AND n_flags = 0
ORDER BY obs_id
"""


@pytest.fixture(scope="module")
def served(provdb_template, samples: Path, tmp_path_factory) -> Iterator[str]:
    """The DL3 archive served; yields the service root URL."""
    folder = tmp_path_factory.mktemp("dl3")
    _, logs = dl3_files.write_all(folder)
    with scratch_database(provdb_template, "provdb_dl3") as url:
        env = {"PROVDB_DATABASE_URL": url.render_as_string(hide_password=False)}
        model = str(samples / "lstosa/config/definition.yaml")
        done = run_cli("ingest", "-q", "--model", model, str(samples), *map(str, logs), env=env)
        assert done.returncode == 0, done.stderr
        done = run_cli("scan", str(folder), env=env)
        assert done.returncode == 0, done.stderr + done.stdout
        with serve_provdb(url, workers=2, prefix="provdb-test-datalink-") as served:
            yield served.site


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    # closes the responses pyvo leaves open (see ClosingSession)
    with ClosingSession() as s:
        yield s


@pytest.fixture(scope="module")
def tap(served: str, session: requests.Session) -> pyvo.dal.TAPService:
    return pyvo.dal.TAPService(served + "/tap", session=session)


def test_crab_dl3_to_progenitors_and_lineage(
    tap: pyvo.dal.TAPService, served: str, session: requests.Session
) -> None:
    result = tap.run_sync(CRAB_QUERY)
    assert [int(x) for x in result["obs_id"]] == list(dl3_files.EXPECTED)
    # the result carries the DataLink service descriptor: pyvo follows it
    assert result.get_adhocservice_by_ivoid("ivo://ivoa.net/std/DataLink#links-1.1")
    seen = []
    # pyvo batches the IDs (one request) and gives the documents in no particular order
    for links in result.iter_datalinks():
        this = list(links.bysemantics("#this", include_narrower=False))
        assert len(this) == 1 and this[0]["access_url"].startswith("file:///")
        run = this[0]["access_url"].rsplit(".", 2)[-2]  # dl3_LST-1.Run02001.fits
        assert this[0]["content_type"] == "application/fits"
        progenitors = list(links.bysemantics("#progenitor", include_narrower=False))
        assert [p["description"].split()[1] for p in progenitors] == [f"dl2_LST-1.{run}.h5"]
        # a progenitor's access_url is its own links document: walk one step further back
        dl2_links = pyvo.dal.adhoc.DatalinkResults.from_result_url(
            progenitors[0]["access_url"], session=session
        )
        dl1 = list(dl2_links.bysemantics("#progenitor", include_narrower=False))
        assert [p["description"].split()[1] for p in dl1] == [f"dl1_LST-1.{run}.h5"]
        assert [
            d["entity_id"] for d in dl2_links.bysemantics("#derivation", include_narrower=False)
        ] == [this[0]["entity_id"]]
        # the ProvSAP lineage through the service descriptor
        json_row = next(r for r in links if r["local_semantics"] == "provsap-json")
        service = links.get_adhocservice_by_id(json_row["service_def"])
        params = {"ID": json_row["entity_id"]}
        params.update({p.name: p.value for p in service.groups[0].entries if p.value})
        url = next(p.value for p in service.params if p.name == "accessURL")
        doc = session.get(url, params=params, timeout=60).json()
        assert any(
            f"dl1_LST-1.{run}.h5"
            in (e.get("voprov:location") or e.get("prov:location") or json.dumps(e))
            for e in doc["entity"].values()
        )
        assert any("lstchain_create_dl3_file" in json.dumps(a) for a in doc["activity"].values())
        seen.append(int(run[3:]))
    assert sorted(seen) == list(dl3_files.EXPECTED)


def test_links_of_several_ids_and_an_unknown_one(served: str, session: requests.Session) -> None:
    rows = requests_links(session, served, ["ivo://provdb.local/product?nope", "no-such-id"])
    assert [r["error_message"] for r in rows] == [
        "NotFoundFault: no product with ID ivo://provdb.local/product?nope in this archive",
        "NotFoundFault: no product with ID no-such-id in this archive",
    ]


def requests_links(session: requests.Session, root: str, ids: list[str]) -> list[dict]:
    r = session.get(root + "/datalink/links", params=[("ID", i) for i in ids], timeout=60)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/x-votable+xml;content=datalink"
    table = ET.fromstring(r.content).find(f"{VOT}RESOURCE/{VOT}TABLE")
    names = [f.get("name") for f in table.findall(f"{VOT}FIELD")]
    return [
        {n: (td.text if td.text is not None else None) for n, td in zip(names, tr, strict=True)}
        for tr in table.iter(f"{VOT}TR")
    ]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 400, "missing parameter ID"),
        ({"ID": "x", "RESPONSEFORMAT": "text/csv"}, 400, "RESPONSEFORMAT"),
        ([("ID", str(i)) for i in range(1001)], 400, "at most 1000"),
    ],
)
def test_endpoint_errors_are_dali_error_documents(
    served: str, session: requests.Session, params, status: int, message: str
) -> None:
    r = session.post(served + "/datalink/links", data=params, timeout=60)
    assert r.status_code == status
    info = ET.fromstring(r.content).find(f"{VOT}RESOURCE/{VOT}INFO")
    assert info.get("name") == "QUERY_STATUS" and info.get("value") == "ERROR"
    assert message in info.text


def test_capabilities_list_datalink_and_obscore(served: str, session: requests.Session) -> None:
    text = session.get(served + "/tap/capabilities", timeout=30).text
    assert 'standardID="ivo://ivoa.net/std/DataLink#links-1.1"' in text
    assert f"{served}/datalink/links</accessURL>" in text
    assert 'ivo-id="ivo://ivoa.net/std/ObsCore#core-1.1"' in text


@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_entity_results_carry_the_descriptor_in_both_serializations(
    tap: pyvo.dal.TAPService, fmt: str
) -> None:
    result = tap.run_sync(
        "SELECT TOP 3 id, location FROM provenance.entity WHERE location LIKE '%dl3_%'",
        responseformat=fmt,
    )
    assert len(result) == 3
    links = next(iter(result.iter_datalinks()))
    assert list(links.bysemantics("#this", include_narrower=False))


def test_results_without_product_ids_have_no_descriptor(tap: pyvo.dal.TAPService) -> None:
    result = tap.run_sync("SELECT TOP 1 name FROM provenance.activity")
    assert list(result.iter_adhocservices()) == []


@needs_stilts
def test_votlint_accepts_links_and_descriptor_documents(
    served: str, session: requests.Session, tmp_path: Path
) -> None:
    did = session.get(
        served + "/tap/sync",
        params={
            "LANG": "ADQL",
            "QUERY": "SELECT TOP 1 obs_publisher_did FROM ivoa.obscore WHERE data_level = 'DL3'",
            "RESPONSEFORMAT": "csv",
        },
        timeout=60,
    ).text.splitlines()[1]
    docs = {
        "links.vot": session.get(served + "/datalink/links", params={"ID": did}, timeout=60),
        "obscore.vot": session.post(
            served + "/tap/sync",
            data={
                "LANG": "ADQL",
                "QUERY": "SELECT * FROM ivoa.obscore",
                "RESPONSEFORMAT": "votable/td",
            },
            timeout=60,
        ),
    }
    for name, r in docs.items():
        (tmp_path / name).write_bytes(r.content)
        proc = subprocess.run(
            [STILTS or "stilts", "votlint", f"votable={tmp_path / name}"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0 and not proc.stdout.strip(), (name, proc.stdout + proc.stderr)


@needs_stilts
def test_taplint_all_stages_including_obscore(served: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [STILTS or "stilts", "taplint", f"tapurl={served}/tap", "format=json", "report=EWF"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    (tmp_path / "taplint.json").write_text(proc.stdout)
    report = json.loads(proc.stdout)
    problems = [
        f"{r['level'][0]}-{section['code']}-{r['code']} {r['text']}"
        for section in report["sections"]
        for r in section["reports"]
        if r["level"] in ("ERROR", "WARNING", "FAILURE")
    ]
    # ObsLocTAP (LOC) does not apply: no ivoa.obsplan table
    problems = [p for p in problems if "-LOC-" not in p]
    assert not problems, problems
    obs = next(s for s in report["sections"] if s["code"] == "OBS")
    assert not any("no ObsCore" in r["text"] for r in obs["reports"]), obs


def _dl3_links(tap: pyvo.dal.TAPService, session: requests.Session, run: int):
    did = tap.run_sync(
        f"SELECT obs_publisher_did FROM ivoa.obscore WHERE data_level = 'DL3' AND obs_id = '{run}'"
    )["obs_publisher_did"][0]
    return pyvo.dal.adhoc.DatalinkResults.from_result_url(
        f"{tap.baseurl.rsplit('/tap', 1)[0]}/datalink/links?ID={requests.utils.quote(did, safe='')}",
        session=session,
    )


def test_documentation_is_the_log_the_product_came_from(
    tap: pyvo.dal.TAPService, session: requests.Session
) -> None:
    links = _dl3_links(tap, session, dl3_files.EXPECTED[0])
    logs = [
        r for r in links.bysemantics("#documentation", include_narrower=False) if r["access_url"]
    ]
    assert len(logs) == 1
    log = logs[0]
    assert log["access_url"].endswith("/raw") and "/ui/ingest/" in log["access_url"]
    assert log["local_semantics"] == "log" and log["content_type"] == "text/plain"
    raw = session.get(log["access_url"], timeout=60)
    assert raw.status_code == 200 and raw.headers["Content-Type"].startswith("text/plain")
    # the raw bytes of the ctapipe provenance log that recorded the DL3 step
    assert "lstchain_create_dl3_file" in raw.text
    assert int(log["content_length"]) == len(raw.content)
    # the archive's own record of the generating activity stays, as #auxiliary
    aux = list(links.bysemantics("#auxiliary", include_narrower=False))
    assert len(aux) == 1 and aux[0]["content_type"] == "application/json"
    assert "lstchain_create_dl3_file" in session.get(aux[0]["access_url"], timeout=60).text


def test_documentation_of_a_log_gone_from_disk_is_its_ingest_page(
    tap: pyvo.dal.TAPService, served: str, session: requests.Session
) -> None:
    links = _dl3_links(tap, session, dl3_files.EXPECTED[1])
    (log,) = [
        r for r in links.bysemantics("#documentation", include_narrower=False) if r["access_url"]
    ]
    path = tap.run_sync(
        "SELECT path FROM archive.ingest_file WHERE id = " + log["access_url"].rsplit("/", 2)[-2]
    )["path"][0]
    moved = Path(path + ".moved")
    os.rename(path, moved)
    try:
        links = _dl3_links(tap, session, dl3_files.EXPECTED[1])
        (page,) = [
            r
            for r in links.bysemantics("#documentation", include_narrower=False)
            if r["access_url"]
        ]
        assert page["access_url"] == log["access_url"][: -len("/raw")]
        assert page["content_type"] == "text/html" and "no longer readable" in page["description"]
        assert session.get(page["access_url"], timeout=60).status_code == 200
        gone = session.get(log["access_url"], timeout=60)
        assert gone.status_code == 404 and "cannot read it any more" in gone.text
    finally:
        os.rename(moved, path)
    assert session.get(served + "/ui/ingest/999999/raw", timeout=60).status_code == 404
