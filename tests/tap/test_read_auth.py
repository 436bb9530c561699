"""Optional read authentication (PROVDB_TAP_READ_AUTH=1) over real HTTP, with pyvo."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
import requests
from pytest_postgresql.executors.noop import NoopExecutor

from tests.conftest import run_cli, scratch_database
from tests.http_sessions import ClosingSession
from tests.servers import serve_provdb

QUERY = {"LANG": "ADQL", "QUERY": "SELECT TOP 2 table_name FROM TAP_SCHEMA.tables"}


@pytest.fixture(scope="module")
def secured(provdb_template: NoopExecutor) -> Iterator[tuple[str, dict[str, str], str]]:
    """A service that needs read tokens; yields (TAP URL, token secrets by name, db URL)."""
    with scratch_database(provdb_template, "provdb_readauth") as url:
        env = {"PROVDB_DATABASE_URL": url.render_as_string(hide_password=False)}
        secrets = {}
        for name, scope in (
            ("alice", "read"),
            ("bob", "read"),
            ("pusher", "ingest"),
            ("gone", "read"),
        ):
            made = run_cli("token", "create", name, "--scope", scope, env=env)
            assert made.returncode == 0, made.stderr
            secrets[name] = made.stdout.strip().splitlines()[0]
        assert run_cli("token", "revoke", "gone", env=env).returncode == 0
        with serve_provdb(url, {"PROVDB_TAP_READ_AUTH": "1"}, workers=1) as served:
            yield served.tap, secrets, env["PROVDB_DATABASE_URL"]


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _error(r: requests.Response) -> str:
    root = ET.fromstring(r.content)
    return next(
        e.text or ""
        for e in root.iter()
        if e.tag.endswith("INFO") and e.get("name") == "QUERY_STATUS"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/sync?LANG=ADQL&QUERY=SELECT+1+AS+x",
        "/async",
        "/tables",
        "/examples",
        "/provsap?ID=x",
        "/../ui/",
    ],
)
def test_reading_needs_a_token(secured, path: str) -> None:
    tap, _, _ = secured
    r = requests.get(tap + path, timeout=30)
    assert r.status_code == 401, r.text[:300]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "provdb token create NAME --scope read" in _error(r)


def test_capabilities_and_availability_stay_open_and_declare_the_method(secured) -> None:
    tap, _, _ = secured
    assert requests.get(tap + "/availability", timeout=30).status_code == 200
    caps = requests.get(tap + "/capabilities", timeout=30)
    assert caps.status_code == 200
    assert caps.text.count('<securityMethod standardID="ivo://ivoa.net/sso#token"/>') == 2


@pytest.mark.parametrize(
    ("who", "status", "message"),
    [
        ("unknown", 401, "unknown token"),
        ("pusher", 403, "has scope 'ingest', not 'read'"),
        ("gone", 403, "was revoked"),
    ],
)
def test_bad_tokens_are_refused(secured, who: str, status: int, message: str) -> None:
    tap, secrets, _ = secured
    r = requests.post(
        tap + "/sync", data=QUERY, headers=_bearer(secrets.get(who, "provdb_nothing")), timeout=30
    )
    assert r.status_code == status
    assert message in _error(r)


def test_pyvo_with_the_token_on_its_session_and_jobs_owned(secured) -> None:
    import pyvo

    tap, secrets, _ = secured
    alice = ClosingSession()
    alice.headers.update(_bearer(secrets["alice"]))
    service = pyvo.dal.TAPService(tap, session=alice)
    rows = service.run_sync(QUERY["QUERY"]).to_table()
    assert len(rows) == 2
    job = service.submit_job(QUERY["QUERY"])
    try:
        job.run().wait(timeout=60)
        assert job.phase == "COMPLETED"
        assert len(job.fetch_result().to_table()) == 2
        assert (
            requests.get(job.url + "/owner", headers=_bearer(secrets["alice"]), timeout=30).text
            == "alice"
        )
        # bob sees nothing of alice's job: not in his list, 403 on each of its resources
        bob = _bearer(secrets["bob"])
        assert job.job_id not in requests.get(tap + "/async", headers=bob, timeout=30).text
        assert job.job_id in alice.get(tap + "/async", timeout=30).text
        for method, sub in (
            ("GET", ""),
            ("GET", "/results/result"),
            ("GET", "/parameters"),
            ("POST", "/phase"),
            ("DELETE", ""),
        ):
            r = requests.request(
                method,
                job.url + sub,
                data={"PHASE": "ABORT"},
                headers=bob,
                timeout=30,
                allow_redirects=False,
            )
            assert r.status_code == 403, (method, sub, r.status_code)
            assert "belongs to another identity" in _error(r)
    finally:
        job.delete()
        # closes the responses pyvo left open, with their sockets (see ClosingSession);
        # a socket still open after that is reported at this module's end
        # (tests/module_garbage.py)
        alice.close()
