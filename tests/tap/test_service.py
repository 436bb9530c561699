"""The TAP service over real HTTP: `provdb serve` (gunicorn) on the ingested samples."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from astropy.io.votable import parse as parse_votable

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"


def _votable(content: bytes):
    return parse_votable(io.BytesIO(content))


def _status(content: bytes) -> list[str]:
    """QUERY_STATUS values of a VOTable document, in order."""
    vot = _votable(content)
    values = [i.value for i in vot.resources[0].infos if i.name == "QUERY_STATUS"]
    for res in vot.resources:
        values += [i.value for i in getattr(res, "postinfos", []) if i.name == "QUERY_STATUS"]
    return values


def test_server_header_names_provdb(tap_server: str) -> None:
    r = requests.get(tap_server + "/availability", timeout=10)
    assert r.status_code == 200
    assert r.headers["Server"].startswith("provdb/")


def test_landing_page_lists_tables_and_examples(tap_server: str) -> None:
    r = requests.get(tap_server, timeout=10)
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    assert "provenance.entity" in r.text and "Example" in r.text


def test_availability_really_probes_the_database(tap_server: str) -> None:
    r = requests.get(tap_server + "/availability", timeout=10)
    root = ET.fromstring(r.content)
    ns = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
    assert root.find(f"{ns}available").text == "true"
    assert "tables published" in root.find(f"{ns}note").text


def test_capabilities_declare_tap_with_limits(tap_server: str) -> None:
    r = requests.get(tap_server + "/capabilities", timeout=10)
    assert r.status_code == 200
    text = r.text
    assert text.count('standardID="ivo://ivoa.net/std/TAP"') == 1
    assert f'<accessURL use="base">{tap_server}</accessURL>' in text
    assert "ivo://ivoa.net/std/ProvenanceDM" in text
    assert '<outputLimit><default unit="row">100000</default>' in text


def test_tables_min_max_and_single_table(tap_server: str) -> None:
    full = requests.get(tap_server + "/tables", timeout=10).text
    short = requests.get(tap_server + "/tables?detail=min", timeout=10).text
    assert "<column" in full and "<column" not in short
    assert "<name>provenance.entity</name>" in short
    one = requests.get(tap_server + "/tables/provenance.entity", timeout=10)
    assert one.status_code == 200 and "<name>location</name>" in one.text
    missing = requests.get(tap_server + "/tables/provenance.nope", timeout=10)
    assert missing.status_code == 404
    assert "ERROR" in _status(missing.content)


@pytest.mark.parametrize("method", ["GET", "POST", "MULTIPART"])
def test_sync_query_all_methods(tap_server: str, method: str) -> None:
    params = {
        "lang": "ADQL",
        "query": "SELECT TOP 5 id, name FROM provenance.activity",
        "REQUEST": "doQuery",
        "DUMMY": "ignore-me",
    }
    url = tap_server + "/sync"
    if method == "GET":
        r = requests.get(url, params=params, timeout=30)
    elif method == "POST":
        r = requests.post(url, data=params, timeout=30)
    else:
        r = requests.post(url, files={k: (None, v) for k, v in params.items()}, timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["Content-Type"].startswith("application/x-votable+xml")
    table = _votable(r.content).get_first_table().to_table()
    assert len(table) == 5
    assert table.colnames == ["id", "name"]
    assert _status(r.content) == ["OK"]


def test_field_metadata_comes_from_tap_schema(tap_server: str) -> None:
    r = requests.post(
        tap_server + "/sync",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 id, generated_at_time FROM provenance.entity"},
        timeout=30,
    )
    fields = {f.name: f for f in _votable(r.content).get_first_table().fields}
    assert fields["id"].ucd == "meta.id;meta.main"
    assert fields["id"].utype == "voprov:Entity.id"
    assert fields["generated_at_time"].xtype == "timestamp"


def test_maxrec_overflow_exactly_when_more_rows_exist(tap_server: str) -> None:
    def run(maxrec: int) -> tuple[int, list[str]]:
        r = requests.post(
            tap_server + "/sync",
            data={
                "LANG": "ADQL",
                "MAXREC": str(maxrec),
                "QUERY": "SELECT schema_name FROM TAP_SCHEMA.schemas",
            },
            timeout=30,
        )
        return len(_votable(r.content).get_first_table().array), _status(r.content)

    rows, status = run(3)
    assert rows == 3 and status[-1] == "OVERFLOW"
    rows, status = run(4)  # exactly 4 schemas (ivoa, provenance, archive, tap_schema)
    assert rows == 4 and status[-1] == "OK"
    rows, status = run(0)
    assert rows == 0 and status[-1] == "OVERFLOW"


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("csv", "text/csv"),
        ("text/csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
        ("json", "application/json"),
        ("votable/td", "application/x-votable+xml"),
    ],
)
def test_response_formats(tap_server: str, fmt: str, mime: str) -> None:
    r = requests.post(
        tap_server + "/sync",
        data={
            "LANG": "ADQL",
            "RESPONSEFORMAT": fmt,
            "QUERY": "SELECT TOP 3 table_name, column_name FROM TAP_SCHEMA.columns",
        },
        timeout=30,
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(mime)
    if mime == "text/csv":
        lines = r.text.strip().splitlines()
        assert lines[0] == "table_name,column_name" and len(lines) == 4
    elif mime == "application/json":
        assert len(json.loads(r.text)["data"]) == 3


def test_valid_adql_21_refused_before_now_runs(tap_server: str) -> None:
    # #16: RAND(seed), one-argument COALESCE and a string literal written in two parts
    r = requests.post(
        tap_server + "/sync",
        data={
            "LANG": "ADQL",
            "RESPONSEFORMAT": "csv",
            "QUERY": "SELECT TOP 2 RAND(1) AS r, COALESCE(table_name) AS t, 'TAP_' -- part\n"
            "'SCHEMA' AS s FROM TAP_SCHEMA.tables WHERE schema_name = 'tap_'\n'schema'",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["r", "t", "s"] and len(rows) == 3
    # RAND(1): md5('1') (the seed as PostgreSQL prints 1.0), first 52 bits, scaled to [0, 1)
    expected = int(hashlib.md5(b"1").hexdigest()[:13], 16) / 2**52
    assert [float(row[0]) for row in rows[1:]] == pytest.approx([expected, expected], rel=1e-12)
    assert all(row[1].startswith("tap_schema.") and row[2] == "TAP_SCHEMA" for row in rows[1:])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"QUERY": "SELECT 1 FROM provenance.entity"}, "LANG"),
        ({"LANG": "OOBLECK", "QUERY": "SELECT TOP 1 * FROM provenance.entity"}, "OOBLECK"),
        ({"LANG": "ADQL"}, "QUERY"),
        ({"LANG": "ADQL", "QUERY": "DUFF QUERY"}, "line 1"),
        ({"LANG": "ADQL", "QUERY": "SELECT pg_sleep(10) FROM provenance.entity"}, "pg_sleep"),
        ({"LANG": "ADQL", "QUERY": "SELECT * FROM pg_catalog.pg_shadow"}, "pg_shadow"),
        ({"LANG": "ADQL", "QUERY": "SELECT TOP 1 nme FROM provenance.entity"}, "nme"),
        # was an HTTP 500 (an empty select list reached the VOTable writer)
        ({"LANG": "ADQL", "QUERY": "SELECT FROM provenance.entity"}, "needs a select list"),
        ({"LANG": "ADQL", "QUERY": "SELECT DISTINCT FROM provenance.entity"}, "DISTINCT needs"),
        # #16: were PostgreSQL errors (or silently wrong SQL): now ADQL errors with a position
        (
            {"LANG": "ADQL", "QUERY": "SELECT id FROM provenance.entity WHERE id = 5"},
            "line 1, column 40: id is a string column",
        ),
        (
            {"LANG": "ADQL", "QUERY": "SELECT name FROM provenance.entity GROUP BY entity_type"},
            "name must be grouped",
        ),
        (
            {"LANG": "ADQL", "QUERY": "SELECT id FROM provenance.entity OFFSET 3 WHERE id = 'a'"},
            "OFFSET must come last",
        ),
        ({"LANG": "ADQL", "QUERY": "SELECT id FROM provenance.entity WHERE id IN"}, "IN needs"),
        ({"LANG": "ADQL", "MAXREC": "-1", "QUERY": "SELECT id FROM provenance.entity"}, "MAXREC"),
        (
            {"LANG": "ADQL", "RESPONSEFORMAT": "pdf", "QUERY": "SELECT id FROM provenance.entity"},
            "pdf",
        ),
    ],
)
def test_bad_requests_get_a_dali_error_votable(tap_server: str, data: dict, message: str) -> None:
    r = requests.post(tap_server + "/sync", data=data, timeout=30)
    assert r.status_code == 400
    assert _status(r.content) == ["ERROR"]
    info = next(i for i in _votable(r.content).resources[0].infos if i.name == "QUERY_STATUS")
    assert message.lower() in (info.content or "").lower()


def _wait(url: str, phase_from: tuple[str, ...] = ("PENDING", "QUEUED", "EXECUTING")) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        phase = requests.get(url + "/phase", timeout=10).text
        if phase not in phase_from:
            return phase
        requests.get(url, params={"WAIT": "5"}, timeout=30)
    raise AssertionError(f"job {url} still {phase}")


def test_async_lifecycle(tap_server: str) -> None:
    r = requests.post(
        tap_server + "/async",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 7 id FROM provenance.entity", "RUNID": "t1"},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303
    job = r.headers["Location"]
    assert job.startswith(tap_server + "/async/")
    assert requests.get(job + "/phase", timeout=10).text == "PENDING"
    doc = ET.fromstring(requests.get(job, timeout=10).content)
    assert doc.find(f"{UWS}runId").text == "t1"
    assert doc.get("version") == "1.1"
    r = requests.post(job + "/phase", data={"PHASE": "RUN"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == job
    assert _wait(job) == "COMPLETED"
    doc = ET.fromstring(requests.get(job, timeout=10).content)
    result = doc.find(f"{UWS}results/{UWS}result")
    assert result.get("id") == "result"
    href = result.get("{http://www.w3.org/1999/xlink}href")
    assert href == job + "/results/result"
    data = requests.get(href, timeout=30)
    assert len(_votable(data.content).get_first_table().array) == 7
    listing = requests.get(tap_server + "/async", timeout=10).text
    assert job.rsplit("/", 1)[1] in listing
    r = requests.delete(job, allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == tap_server + "/async"
    assert requests.get(job, timeout=10).status_code == 404


def test_async_error_job(tap_server: str) -> None:
    r = requests.post(
        tap_server + "/async",
        data={"LANG": "ADQL", "QUERY": "SELECT nope FROM provenance.entity", "PHASE": "RUN"},
        timeout=30,
    )
    job = r.url
    assert _wait(job) == "ERROR"
    err = requests.get(job + "/error", timeout=10)
    assert err.status_code == 200 and "nope" in err.text
    assert requests.get(job + "/results/result", timeout=10).status_code == 404


def test_async_parameters_destruction_duration_quote_owner(tap_server: str) -> None:
    r = requests.post(tap_server + "/async", data={"LANG": "ADQL"}, timeout=30)
    job = r.url
    r = requests.post(
        job + "/parameters",
        data={"QUERY": "SELECT TOP 1 * FROM provenance.agent", "RUNID": "again"},
        timeout=10,
    )
    params = requests.get(job + "/parameters", timeout=10).text
    assert "provenance.agent" in params and params.count('id="runid"') == 1
    requests.post(job + "/executionduration", data={"EXECUTIONDURATION": "30"}, timeout=10)
    assert requests.get(job + "/executionduration", timeout=10).text == "30"
    requests.post(job + "/destruction", data={"DESTRUCTION": "2030-01-01T00:00:00Z"}, timeout=10)
    destruction = requests.get(job + "/destruction", timeout=10).text
    assert destruction.endswith("Z")
    assert requests.get(job + "/quote", timeout=10).status_code == 200
    assert requests.get(job + "/owner", timeout=10).text == ""
    r = requests.post(job + "/phase", data={"PHASE": "ABORT"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert requests.get(job + "/phase", timeout=10).text == "ABORTED"
    # illegal now: 403
    r = requests.post(job + "/parameters", data={"QUERY": "x"}, allow_redirects=False, timeout=10)
    assert r.status_code == 403
    r = requests.post(job, data={"ACTION": "DELETE"}, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert requests.get(job + "/phase", timeout=10).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["%00", "%00/results/result", "%00/phase", "x%00y/error", "0123456789ABCDEF"],
)
def test_job_ids_no_job_can_have_get_a_404_error_document(tap_server: str, path: str) -> None:
    # /async/%00 was an HTTP 500: PostgreSQL refuses NUL in a text parameter
    methods = ("get",) if "/" in path.replace("%2F", "/") else ("get", "post", "delete")
    for method in methods:
        r = requests.request(method, f"{tap_server}/async/{path}", timeout=10)
        assert r.status_code == 404, (method, path, r.status_code)
        assert _status(r.content) == ["ERROR"], r.text[:300]


def test_abort_cancels_a_running_query(tap_server: str) -> None:
    slow = (
        "SELECT COUNT(*) FROM provenance.used AS a, provenance.used AS b, "
        "provenance.used AS c, provenance.used AS d"
    )
    r = requests.post(
        tap_server + "/async", data={"LANG": "ADQL", "QUERY": slow, "PHASE": "RUN"}, timeout=30
    )
    job = r.url
    deadline = time.monotonic() + 30
    while requests.get(job + "/phase", timeout=10).text != "EXECUTING":
        assert time.monotonic() < deadline, "job never started"
        time.sleep(0.1)
    time.sleep(0.5)
    requests.post(job + "/phase", data={"PHASE": "ABORT"}, timeout=10)
    assert requests.get(job + "/phase", timeout=10).text == "ABORTED"
    # the backend really stopped: no active query of the reader left after a moment
    time.sleep(1)
    doc = requests.get(job, timeout=10).text
    assert "ABORTED" in doc


def test_every_example_runs(tap_server: str) -> None:
    import re

    page = requests.get(tap_server + "/examples", timeout=10)
    assert page.status_code == 200
    root = ET.fromstring(page.content)
    queries = [el.text for el in root.iter() if el.get("property") == "query"]
    assert len(queries) >= 10
    for query in queries:
        r = requests.post(
            tap_server + "/sync", data={"LANG": "ADQL", "QUERY": query, "MAXREC": "10"}, timeout=60
        )
        assert r.status_code == 200, (query, r.text[:800])
        assert _status(r.content)[0] == "OK", query
    assert re.search(r'vocab="http://www.ivoa.net/rdf/examples#"', page.text)


#: what each published example returns on the sample archive (the ``archive_url``
#: fixture: every sample log, ingested with lstosa's definition.yaml, no files scanned):
#: (number of rows, CSV header, the smallest CSV line). Update it when an example or the
#: samples change on purpose.
EXAMPLE_ROWS = {
    "dl1_products_by_lstchain_version": (
        100,
        "location,step,software_version,observation_run",
        "/tmp/lst-osa-run/test_osa/test_files0/DL1/20200117/v0.1.0/dl1_LST-1.Run01807.0000.h5,r0_to_dl1,v0.12.3,01807",
    ),
    "inputs_of_a_product": (
        28,
        "input_role,kind,location",
        "Coefficients calibration file,CoefficientsCalibrationFile,/tmp/lst-osa-run/test_osa/test_files0/monitoring/PixelCalibration/Cat-A/calibration/20200117/v0.1.1/calibration_filters_52.Run01809.0000.h5",
    ),
    "runs_using_a_pedestal_run": (
        4,
        "run_id,observation_run,pedestal_file",
        "20200117_01807,01807,/tmp/lst-osa-run/test_osa/test_files0/monitoring/PixelCalibration/Cat-A/drs4_baseline/20200117/v0.1.1/drs4_pedestal.Run01804.0000.h5",
    ),
    "activities_by_step_and_night": (
        5,
        "observation_date,step,n_activities,first_start,last_end",
        "20200117,calibrate_charge,1,2026-11-23T19:29:56.578,2026-11-23T19:29:56.578",
    ),
    "parameters_of_a_step": (
        54,
        "activity_id,session_tag,name,parameter_value",
        "00907f@2026-11-23T19:34:25.579652,dl1ab:01807,StoreImage,True",
    ),
    "run_steps_of_a_night": (
        6,
        "run_step_id,step_group,n_activities,start_time,end_time,software_versions",
        "20200117_01807:all,all,125,2026-11-23T19:29:56.573,2026-11-23T19:34:30.884,v0.12.3",
    ),
    "software_versions": (3, "software_version,observation_date,n_sessions", "0.25.1,,2"),
    "derived_files": (21, "derived,progenitor", "/data/dl1.h5,/data/r0.fits.fz"),
    "calibration_files_of_a_run": (
        2,
        "kind,location",
        "CoefficientsCalibrationFile,/tmp/lst-osa-run/test_osa/test_files0/monitoring/PixelCalibration/Cat-A/calibration/20200117/v0.1.1/calibration_filters_52.Run01809.0000.h5",
    ),
    "activities_of_an_agent": (10, "agent_id,step,n_activities", "Anonymous,calibrate_charge,3"),
    "end_products": (
        52,
        "name,location",
        "CalibrationCheckPlot,/tmp/lst-osa-run/test_osa/test_files0/monitoring/PixelCalibration/Cat-A/calibration/20200117/v0.12.3/log/calibration_filters_52.Run01809.0000.pdf",
    ),
    "columns_of_a_table": (
        14,
        "column_name,datatype,ucd,utype,description",
        'attributes,unicodeChar,meta.note,,"Other source attributes (e.g. ctapipe reference_meta), JSON"',
    ),
    "full_lineage_of_a_product": (
        9,
        "depth,kind,ancestor",
        "1,AnalysisConfigFile,/software/lstchain/data/lstchain_standard_config.json",
    ),
    "products_of_a_calibration_file": (8, "kind,n_products,max_depth", "DL1CheckCollection,1,2"),
    "products_by_lstchain_series": (
        67,
        "entity_id,location,version,source,origin",
        "0257e2597b297ab9886ff970c838a2d5,/tmp/lst-osa-run/test_osa/test_files0/DL1/20200117/v0.1.0/tailcut84/datacheck_dl1_LST-1.Run01807.0001.h5,0.12.3,log,session",
    ),
    "products_whose_chain_used_old_ctapipe": (
        202,
        "product,depth,ancestor,ctapipe_version,source",
        "/tmp/lst-osa-run/test_osa/test_files0/DL1/20200117/v0.1.0/tailcut84/datacheck_dl1_LST-1.Run01807.0000.h5,1,/tmp/lst-osa-run/test_osa/test_files0/DL1/20200117/v0.1.0/muons/muons_LST-1.Run01807.0000.fits,0.25.1,log",
    ),
    "products_per_software_version": (
        37,
        "package,version,product_type,source,n_products",
        "astropy,6.1.7,,log,24",
    ),
    "dl2_of_lstchain_012_not_stale": (
        1,
        "entity_id,location,version",
        "257bc397f29417bf65e7a3fca0c5896f,/tmp/lst-ctapipe-run/dl2_LST-1.Run01807.0000.h5,0.12.3",
    ),
    "products_whose_lineage_mixes_versions": (
        0,
        "entity_id,location,name,detail,cause_id,since",
        None,
    ),
    # the samples have no rejected line and no torn file; the run-wise logs give sizes
    # as text where the night's log gives numbers
    "tonights_rejected_lines": (0, "path,line_number,reason,raw_text", None),
    "files_that_did_not_read_completely": (
        0,
        "path,status,size_bytes,offset_reached,lines_read,n_records,n_rejects,last_ingest",
        None,
    ),
    "conflicting_values": (
        28,
        "path,line_number,table_name,object_id,attribute,kept_value,new_value",
        "{samples}/generated/lstosa_simulate_processing/DL1/20200117/v0.1.0/tailcut84/log/"
        "calibration_to_dl1_01807_prov.log,34,provenance.entity,5c5468507af09f51789f67d025203bdc,"
        'attributes,"{""size"": ""11""}","{""size"": 11}"',
    ),
}


@pytest.mark.parametrize("example", sorted(EXAMPLE_ROWS))
def test_each_example_returns_its_known_rows(tap_server: str, samples: Path, example: str) -> None:
    from tap.examples import load_examples

    (query,) = [e.query for e in load_examples() if e.id == example]
    r = requests.post(
        tap_server + "/sync",
        data={"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv"},
        timeout=120,
    )
    assert r.status_code == 200, r.text[:800]
    # paths of ingested log files start with the checkout's sample folder
    header, *rows = r.text.replace(str(samples), "{samples}").strip().splitlines()
    n_rows, want_header, smallest = EXAMPLE_ROWS[example]
    assert (len(rows), header, min(rows, default=None)) == (n_rows, want_header, smallest)


def test_every_published_example_has_known_rows() -> None:
    from tap.examples import load_examples

    assert {e.id for e in load_examples()} == set(EXAMPLE_ROWS)


def test_inline_upload_joins_with_the_archive(tap_server: str) -> None:
    from astropy.table import Table

    known = (
        requests.post(
            tap_server + "/sync",
            data={
                "LANG": "ADQL",
                "RESPONSEFORMAT": "csv",
                "QUERY": "SELECT TOP 2 location FROM provenance.entity WHERE location IS NOT NULL "
                "ORDER BY location",
            },
            timeout=30,
        )
        .text.strip()
        .splitlines()[1:]
    )
    mine = Table({"path": [*known, "/not/in/the/archive"]})
    buf = io.BytesIO()
    mine.write(buf, format="votable")
    r = requests.post(
        tap_server + "/sync",
        data={
            "LANG": "ADQL",
            "UPLOAD": "mine,param:t",
            "QUERY": "SELECT m.path, e.id FROM TAP_UPLOAD.mine AS m "
            "JOIN provenance.entity AS e ON e.location = m.path",
        },
        files={"t": ("mine.xml", buf.getvalue())},
        timeout=30,
    )
    assert r.status_code == 200, r.text[:800]
    rows = _votable(r.content).get_first_table().to_table()
    assert sorted(rows["path"]) == sorted(known)
