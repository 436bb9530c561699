"""POST /ingest over real HTTP: tokens, chunks, replays, gaps, checksums, limits, answers.

Every test talks to a real ``provdb serve`` (gunicorn) with PROVDB_INGEST_API=1 on a
real PostgreSQL; the spool is a real folder. Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from provdb.ingest.pipeline import ingest_file
from provdb.push.tokens import create_token, hash_secret, revoke_token
from tests.conftest import scratch_database
from tests.provdb.test_ingest import NIGHT, content, counts, night_with_bad_lines, truncate_archive
from tests.tap.ingest_service import Service, call, push_chunk, serve, status

#: PROVDB_INGEST_MAX_BYTES of the module's service
LIMIT = 2_000_000


@pytest.fixture(scope="module")
def module_db(provdb_template) -> Iterator[URL]:
    with scratch_database(provdb_template, "provdb_push") as url:
        yield url


@pytest.fixture(scope="module")
def module_engine(module_db: URL) -> Iterator[sa.Engine]:
    eng = sa.create_engine(module_db)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def service(module_db: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("push-home")
    with serve(module_db, home, PROVDB_INGEST_MAX_BYTES=str(LIMIT)) as svc:
        yield svc


@pytest.fixture(scope="module")
def tokens(module_engine: sa.Engine) -> dict[str, str]:
    """Secrets of a valid ingest token, a revoked one and one of another scope."""
    with module_engine.begin() as conn:
        good = create_token(conn, "pipeline")
        revoked = create_token(conn, "old-pipeline")
        revoke_token(conn, "old-pipeline")
        # a scope this provdb does not grant ingest to (e.g. written by a newer provdb)
        other = "provdb_other-scope-secret"
        conn.execute(
            sa.text(
                "INSERT INTO archive.api_token (name, scope, secret_sha256) "
                "VALUES ('reader', 'read', :h)"
            ),
            {"h": hash_secret(other)},
        )
    return {"good": good, "revoked": revoked, "other": other}


def spool_files(svc: Service) -> list[Path]:
    return sorted(p for p in svc.spool.rglob("*") if p.is_file() and p.suffix != ".name")


def row_counts(engine: sa.Engine) -> dict[str, int]:
    return {k: v for k, v in counts(engine).items() if k != "archive.api_token"}


# ----------------------------------------------------------------------------- tokens


def test_missing_or_unknown_token_gets_401(service: Service, tokens: dict[str, str]) -> None:
    name = "/cluster/auth/prov.log"
    data = b"INFO provLogger __PROV__x\n"
    for token in (None, "provdb_not-a-token", tokens["good"] + "x"):
        answer = push_chunk(service.url, token, name, 0, data) if token else None
        if token is None:
            query = urllib.parse.urlencode(
                {"name": name, "offset": 0, "sha256": hashlib.sha256(data).hexdigest()}
            )
            answer = call(f"{service.url}/ingest?{query}", token=None, data=data, method="POST")
        assert answer.status == 401, answer.body
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
        assert ("invalid_token" in answer.headers["WWW-Authenticate"]) == (token is not None)
        assert "provdb token create" in answer.body["error"]
        assert status(service.url, token or "", name).status == 401
    assert not any("auth" in p.name for p in spool_files(service))


def test_revoked_or_wrong_scope_token_gets_403(service: Service, tokens: dict[str, str]) -> None:
    name = "/cluster/auth403/prov.log"
    revoked = push_chunk(service.url, tokens["revoked"], name, 0, b"x\n")
    assert revoked.status == 403 and "revoked" in revoked.body["error"]
    scoped = push_chunk(service.url, tokens["other"], name, 0, b"x\n")
    assert scoped.status == 403 and "scope 'read'" in scoped.body["error"]
    assert status(service.url, tokens["revoked"], name).status == 403
    assert status(service.url, tokens["other"], name).status == 403
    assert not any("auth403" in p.name for p in spool_files(service))


def test_a_used_token_records_when(service: Service, tokens, module_engine) -> None:
    assert status(service.url, tokens["good"], "/cluster/any").status == 200
    with module_engine.connect() as conn:
        used = conn.execute(
            sa.text("SELECT name FROM archive.api_token WHERE last_used IS NOT NULL")
        ).scalars()
        assert "pipeline" in set(used)


# ----------------------------------------------------------------------------- chunks


def test_replayed_chunk_is_acknowledged_and_adds_nothing(
    service: Service, tokens, module_engine, samples: Path
) -> None:
    name = "/cluster/replay/20200117/prov.log"
    lines = (samples / NIGHT).read_bytes().splitlines(keepends=True)
    first = b"".join(lines[:300])
    answer = push_chunk(service.url, tokens["good"], name, 0, first)
    assert answer.status == 200, answer.body
    assert answer.body["chunk"] == "appended" and answer.body["spooled"] == len(first)
    assert answer.body["ingest"]["status"] == "new" and answer.body["ingest"]["n_records"] > 0
    before = row_counts(module_engine)

    again = push_chunk(service.url, tokens["good"], name, 0, first)
    assert again.status == 200, again.body
    assert again.body["chunk"] == "already have" and again.body["appended"] == 0
    assert again.body["ingest"]["status"] == "unchanged"
    assert again.body["ingest"]["n_records"] == 0
    assert row_counts(module_engine) == before
    # a replay of a part of it, too
    part = push_chunk(service.url, tokens["good"], name, 1000, first[1000:5000], ingest="0")
    assert part.status == 200 and part.body["chunk"] == "already have"
    st = status(service.url, tokens["good"], name)
    assert st.body["spooled"] == len(first)
    assert st.body["sha256"] == hashlib.sha256(first).hexdigest()
    assert st.body["ingested"]["offset_reached"] == len(first)


def test_chunk_out_of_order_gets_409_with_the_expected_offset(
    service: Service, tokens, samples: Path
) -> None:
    name = "/cluster/order/prov.log"
    data = (samples / NIGHT).read_bytes()[:300_000]
    second = push_chunk(service.url, tokens["good"], name, 100_000, data[100_000:200_000])
    assert second.status == 409, second.body
    assert second.body["expected_offset"] == 0 and "send from offset 0" in second.body["error"]
    assert status(service.url, tokens["good"], name).body["spooled"] == 0

    ok = push_chunk(service.url, tokens["good"], name, 0, data[:100_000], ingest="0")
    assert ok.status == 200 and ok.body["ingest"] is None
    gap = push_chunk(service.url, tokens["good"], name, 200_000, data[200_000:])
    assert gap.status == 409 and gap.body["expected_offset"] == 100_000
    # bytes that differ from those spooled: the source was rewritten
    changed = push_chunk(service.url, tokens["good"], name, 0, b"X" + data[1:1000])
    assert changed.status == 409 and "rewritten" in changed.body["error"]
    assert status(service.url, tokens["good"], name).body["spooled"] == 100_000
    # an overlapping chunk continues past what is held
    rest = push_chunk(service.url, tokens["good"], name, 50_000, data[50_000:])
    assert rest.status == 200 and rest.body["appended"] == len(data) - 100_000
    assert (
        status(service.url, tokens["good"], name).body["sha256"] == hashlib.sha256(data).hexdigest()
    )


def test_bad_checksum_gets_400_and_nothing_is_spooled(service: Service, tokens) -> None:
    name = "/cluster/checksum/prov.log"
    answer = push_chunk(
        service.url,
        tokens["good"],
        name,
        0,
        b"some bytes\n",
        sha256=hashlib.sha256(b"x").hexdigest(),
    )
    assert answer.status == 400 and "sha256" in answer.body["error"]
    malformed = push_chunk(service.url, tokens["good"], name, 0, b"a\n", sha256="abc")
    assert malformed.status == 400
    assert status(service.url, tokens["good"], name).body["spooled"] == 0
    assert not any("checksum" in p.name for p in spool_files(service))


@pytest.mark.parametrize(
    "query, message",
    [
        ({"offset": "0"}, "'name' is missing"),
        ({"name": "/a", "offset": "x"}, "'offset' must be"),
        ({"name": "/a", "offset": "-3"}, "'offset' must be >= 0"),
        ({"name": "/a", "format": "csv"}, "unknown format"),
        ({"name": "/a", "timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_bad_parameters_get_400(service: Service, tokens, query, message) -> None:
    data = b"x\n"
    query = {"sha256": hashlib.sha256(data).hexdigest(), **query}
    answer = call(
        f"{service.url}/ingest?{urllib.parse.urlencode(query)}",
        token=tokens["good"],
        data=data,
        method="POST",
    )
    assert answer.status == 400 and message in answer.body["error"]


def _raw_post(service: Service, token: str, name: str, headers: dict[str, str], body: bytes):
    """A POST through http.client, so that headers and body can disagree."""
    host, port = service.url.removeprefix("http://").split(":")
    query = urllib.parse.urlencode(
        {"name": name, "offset": 0, "sha256": hashlib.sha256(body).hexdigest()}
    )
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest("POST", f"/ingest?{query}")
        conn.putheader("Authorization", f"Bearer {token}")
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_body_over_the_limit_gets_413_and_nothing_is_spooled(service: Service, tokens) -> None:
    name = "/cluster/big/prov.log"
    # refused from the Content-Length alone: the body is never sent
    code, body = _raw_post(service, tokens["good"], name, {"Content-Length": str(LIMIT + 1)}, b"")
    assert code == 413 and body["max_bytes"] == LIMIT
    assert f"{LIMIT + 1} bytes is over the limit" in body["error"]
    # no Content-Length (chunked transfer): the read stops one byte past the limit
    payload = b"y" * (LIMIT + 1)
    framed = f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n"
    code, body = _raw_post(service, tokens["good"], name, {"Transfer-Encoding": "chunked"}, framed)
    assert code == 413 and "over the limit" in body["error"]
    assert status(service.url, tokens["good"], name).body["spooled"] == 0
    assert not any("big" in p.name for p in spool_files(service))


# ----------------------------------------------------------------------------- answers


def test_rejects_are_named_as_the_pipeline_knows_the_file(
    service: Service, tokens, samples: Path, tmp_path: Path
) -> None:
    path, bad = night_with_bad_lines(samples, tmp_path)
    name = "/fefs/onsite/running_analysis/20200117/v0.1.0/prov.log"
    data = path.read_bytes()
    answer = push_chunk(service.url, tokens["good"], name, 0, data)
    assert answer.status == 200, answer.body
    summary = answer.body["ingest"]
    assert summary["status"] == "new" and summary["rejected"] == len(bad)
    assert [m.split(": ", 1)[0] for m in summary["rejects"]] == [f"{name}:{n}" for n in bad]
    assert str(service.spool) not in json.dumps(answer.body)
    assert summary["records"]["Session"] > 0 and summary["inserted"]["provenance.activity"] > 0


def test_a_file_provdb_cannot_read_gets_422_and_stays_spooled(service: Service, tokens) -> None:
    name = "/cluster/notes.txt"
    data = b"hello, this is not provenance\n"
    answer = push_chunk(service.url, tokens["good"], name, 0, data)
    assert answer.status == 422, answer.body
    assert answer.body["ingest"]["status"] == "failed"
    assert answer.body["ingest"]["error"].startswith(f"{name}: not a provenance file")
    assert status(service.url, tokens["good"], name).body["spooled"] == len(data)


def test_log_pushed_in_three_chunks_equals_one_shot_ingest(
    engine: sa.Engine, db_url: URL, samples: Path, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        token = create_token(conn, "night")
    data = (samples / NIGHT).read_bytes()
    cuts = [0, 400_000, 1_000_000, len(data)]  # inside lines: the torn tail waits
    name = "/fefs/onsite/20200117/prov.log"
    statuses, records = [], 0
    with serve(db_url, tmp_path / "home") as svc:
        for start, end in itertools.pairwise(cuts):
            answer = push_chunk(svc.url, token, name, start, data[start:end])
            assert answer.status == 200, answer.body
            assert answer.body["ingest"]["rejected"] == 0
            statuses.append(answer.body["ingest"]["status"])
            records += answer.body["ingest"]["n_records"]
    assert statuses == ["partial", "partial", "grown"]
    skip = ("archive.ingest_file", "archive.api_token")
    pushed_counts = {k: v for k, v in counts(engine).items() if k not in skip}
    pushed = content(engine, skip=skip)

    truncate_archive(engine)
    raw = engine.raw_connection()
    try:
        whole = ingest_file(raw.driver_connection, samples / NIGHT)
    finally:
        raw.close()
    assert whole.error is None and whole.rejects == 0
    assert records == whole.n_records
    assert {k: v for k, v in counts(engine).items() if k not in skip} == pushed_counts
    assert content(engine, skip=skip) == pushed


def test_endpoint_is_off_unless_enabled(db_url: URL, tmp_path: Path) -> None:
    with serve(db_url, tmp_path / "home", PROVDB_INGEST_API="0") as svc:
        assert push_chunk(svc.url, "provdb_x", "/a", 0, b"x\n").status == 404
        assert status(svc.url, "provdb_x", "/a").status == 404


def test_database_down_gets_503_and_a_retry_ingests(
    provdb_template, tmp_path: Path, samples: Path
) -> None:
    with scratch_database(provdb_template, "provdb_down") as url:
        eng = sa.create_engine(url)
        try:
            with eng.begin() as conn:
                token = create_token(conn, "night")
        finally:
            eng.dispose()
        admin = sa.create_engine(url.set(database=provdb_template.maintenance_dbname or "postgres"),
                                 isolation_level="AUTOCOMMIT")  # fmt: skip
        data = b"".join((samples / NIGHT).read_bytes().splitlines(keepends=True)[:100])
        try:
            with serve(url, tmp_path / "home") as svc:
                with admin.connect() as conn:
                    conn.execute(
                        sa.text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false')
                    )
                    conn.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :d"
                        ),
                        {"d": url.database},
                    )
                down = push_chunk(svc.url, token, "/n/prov.log", 0, data)
                assert down.status == 503, down.body
                assert "not available" in down.body["error"]
                with admin.connect() as conn:
                    conn.execute(sa.text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true'))
                again = push_chunk(svc.url, token, "/n/prov.log", 0, data)
                assert again.status == 200, again.body
                assert again.body["ingest"]["status"] == "new"
                assert again.body["ingest"]["n_records"] > 0
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true'))
            admin.dispose()
