"""Real clients against `provdb serve`: pyvo, STILTS taplint and votlint."""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
import pyvo
import requests
from astropy.table import Table

from tests.http_sessions import ClosingSession

STILTS = shutil.which("stilts")
needs_stilts = pytest.mark.skipif(
    STILTS is None and not __import__("os").environ.get("CI"),
    reason="stilts not installed (Debian package 'stilts'; .ci/run installs it)",
)


@pytest.fixture(scope="module")
def tap(tap_server: str):
    # our own HTTP session, closed at the module's end with the responses pyvo leaves
    # open (see ClosingSession); a socket still open after that is reported against this
    # module (tests/module_garbage.py)
    with ClosingSession() as session:
        yield pyvo.dal.TAPService(tap_server, session=session)


def test_pyvo_run_sync(tap: pyvo.dal.TAPService) -> None:
    result = tap.run_sync("SELECT TOP 5 id, name, start_time FROM provenance.activity")
    table = result.to_table()
    assert len(table) == 5
    assert table.colnames == ["id", "name", "start_time"]


def test_pyvo_run_async(tap: pyvo.dal.TAPService) -> None:
    result = tap.run_async("SELECT COUNT(*) AS n FROM provenance.entity")
    assert int(result.to_table()["n"][0]) > 100


def test_pyvo_maxrec_and_overflow(tap: pyvo.dal.TAPService) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = tap.run_sync("SELECT id FROM provenance.entity", maxrec=4)
    assert len(result) == 4
    assert result.query_status == "OVERFLOW"
    assert tap.maxrec == 100000
    assert tap.hardlimit == 10000000
    del caught


def test_pyvo_error_queries(tap: pyvo.dal.TAPService) -> None:
    with pytest.raises(pyvo.dal.DALQueryError, match="nope"):
        tap.run_sync("SELECT nope FROM provenance.entity")
    with pytest.raises(pyvo.dal.DALQueryError, match="line 1"):
        tap.run_sync("SELEC id FROM provenance.entity")
    with pytest.raises(pyvo.dal.DALQueryError):
        tap.run_async("SELECT nope FROM provenance.entity")


def test_pyvo_tables_and_columns(tap: pyvo.dal.TAPService) -> None:
    tables = tap.tables
    names = set(tables.keys())
    assert {"provenance.entity", "provenance.used", "archive.lineage"} <= names
    columns = {c.name: c for c in tables["provenance.entity"].columns}
    assert columns["id"].ucd == "meta.id;meta.main"


def test_pyvo_examples_run(tap: pyvo.dal.TAPService) -> None:
    examples = tap.examples
    assert len(examples) >= 10
    for example in examples:
        example.execute()  # raises on an error document


def test_pyvo_upload(tap: pyvo.dal.TAPService) -> None:
    paths = tap.run_sync(
        "SELECT TOP 3 location FROM provenance.entity WHERE location IS NOT NULL ORDER BY location"
    ).to_table()
    mine = Table({"path": [str(p) for p in paths["location"]] + ["/elsewhere"]})
    result = tap.run_sync(
        "SELECT u.path, e.name FROM TAP_UPLOAD.mine AS u "
        "JOIN provenance.entity AS e ON e.location = u.path",
        uploads={"mine": mine},
    ).to_table()
    assert sorted(result["path"]) == sorted(str(p) for p in paths["location"])


@needs_stilts
def test_taplint_reports_no_errors_and_no_warnings(tap_server: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [STILTS or "stilts", "taplint", f"tapurl={tap_server}", "format=json", "report=EWF"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    (tmp_path / "taplint.json").write_text(proc.stdout)
    report = json.loads(proc.stdout)
    problems = [
        f"{r['level'][0]}-{section['code']}-{r['code']} {r['text']}"
        for section in report["sections"]
        for r in section["reports"]
        if r["level"] in ("ERROR", "WARNING")
    ]
    # FAILUREs would only come from a stage that does not apply (ObsLocTAP); the ObsCore
    # stage (OBS) checks ivoa.obscore
    failures = [
        f"{section['code']}-{r['code']} {r['text']}"
        for section in report["sections"]
        for r in section["reports"]
        if r["level"] == "FAILURE" and section["code"] != "LOC"
    ]
    assert report["totals"]["ERROR"] == 0, problems
    assert report["totals"]["WARNING"] == 0, problems
    assert not failures, failures


@needs_stilts
@pytest.mark.parametrize("fmt", ["votable", "votable/td"])
def test_votlint_accepts_results(tap_server: str, tmp_path: Path, fmt: str) -> None:
    r = requests.post(
        tap_server + "/sync",
        data={
            "LANG": "ADQL",
            "RESPONSEFORMAT": fmt,
            "MAXREC": "50",
            "QUERY": "SELECT * FROM provenance.activity",
        },
        timeout=60,
    )
    path = tmp_path / "result.vot"
    path.write_bytes(r.content)
    proc = subprocess.run(
        [STILTS or "stilts", "votlint", f"votable={path}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = (proc.stdout + proc.stderr).strip()
    assert "ERROR" not in out and "WARNING" not in out, out
