"""`provdb push` end to end: a real subprocess sends real files to a real `provdb serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from provdb.push.tokens import create_token
from tests.conftest import run_cli
from tests.provdb.test_ingest import CTAPIPE, NIGHT, night_with_bad_lines
from tests.tap.ingest_service import Service, serve


@pytest.fixture
def service(db_url: URL, tmp_path: Path) -> Iterator[Service]:
    # a small request limit, so that the night goes in several chunks
    with serve(db_url, tmp_path / "home", PROVDB_INGEST_MAX_BYTES="300000") as svc:
        yield svc


@pytest.fixture
def token(engine: sa.Engine) -> str:
    with engine.begin() as conn:
        return create_token(conn, "cluster")


def push(*args: str, token: str | None) -> object:
    env = {"PROVDB_TOKEN": token} if token is not None else {}
    return run_cli("push", *args, env=env)


def ingest_rows(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT format, status, offset_reached, n_records, n_rejects "
                    "FROM archive.ingest_file ORDER BY path"
                )
            )
        ]


def test_push_resumes_a_grown_file(service, token, engine, samples: Path, tmp_path) -> None:
    data = (samples / NIGHT).read_bytes()
    log = tmp_path / "cluster" / "prov.log"
    log.parent.mkdir()
    log.write_bytes(data[:700_000])  # the night so far, cut inside a line

    first = push(service.url, str(log), token=token)
    assert first.returncode == 0, first.stderr
    assert f"{log}: sent 700,000 bytes in 3 chunk(s); ingest: partial" in first.stdout
    assert ingest_rows(engine)[0][:3] == ("lstosa", "partial", data.rfind(b"\n", 0, 700_000) + 1)

    with open(log, "ab") as fh:  # the pipeline writes on
        fh.write(data[700_000:])
    second = push(service.url, str(log), "--json", token=token)
    assert second.returncode == 0, second.stderr
    [answer] = json.loads(second.stdout)
    assert answer["name"] == str(log) and answer["resumed_from"] == 700_000
    assert answer["sent"] == len(data) - 700_000 and answer["chunks"] == 3
    assert answer["ingest"]["status"] == "grown" and answer["ingest"]["rejected"] == 0

    third = push(service.url, str(log), token=token)
    assert third.returncode == 0
    assert "nothing new to send; ingest: unchanged" in third.stdout
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT n_records FROM archive.ingest_file")).scalar_one()
    assert n == data.count(b"__PROV__") // 2
    spooled = next(p for p in service.spool.rglob("*prov.log"))
    assert spooled.read_bytes() == data
    assert spooled.with_name(spooled.name + ".name").read_text().strip() == str(log)


def test_push_prints_rejects_and_exits_1(service, token, samples, tmp_path) -> None:
    path, bad = night_with_bad_lines(samples, tmp_path)
    ctapipe = tmp_path / "tool.provenance.log"
    ctapipe.write_bytes((samples / CTAPIPE).read_bytes())
    result = push(service.url, str(path), str(ctapipe), token=token)
    assert result.returncode == 1, result.stderr
    rejects = [line for line in result.stderr.splitlines() if line.startswith(f"{path}:")]
    assert [line.split(": ", 1)[0] for line in rejects] == [f"{path}:{n}" for n in bad]
    assert f"{ctapipe}: sent" in result.stdout and "ingest: new" in result.stdout
    assert "records by kind:" in result.stdout and "provenance.activity:" in result.stdout


def test_push_errors_are_one_line(service, token, tmp_path, db_url) -> None:
    log = tmp_path / "prov.log"
    log.write_bytes(b"INFO provLogger __PROV__2026-11-23T19:29:56__PROV__{'a': 1}\n")

    missing = push(service.url, str(log), token=None)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "provdb: error: environment variable PROVDB_TOKEN is empty: set it to a token from "
        "`provdb token create NAME` run on the archive host"
    )
    # --token-env names another variable: read through the settings registry
    other = run_cli(
        "push", service.url, str(log), "--token-env", "CLUSTER_TOKEN", env={"PROVDB_TOKEN": token}
    )
    assert other.returncode == 2
    assert other.stderr.strip().startswith(
        "provdb: error: environment variable CLUSTER_TOKEN is empty"
    )
    chosen = run_cli(
        "push", service.url, str(log), "--token-env", "CLUSTER_TOKEN", env={"CLUSTER_TOKEN": token}
    )
    assert chosen.returncode in (0, 1), chosen.stderr
    assert f"{log}: sent" in chosen.stdout
    wrong = push(service.url, str(log), token="provdb_wrong")
    assert wrong.returncode == 2 and "HTTP 401: unknown token" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1

    assert push(service.url, str(log), token=token).returncode in (0, 1)
    log.write_bytes(b"INFO provLogger __PROV__2026-11-24T00:00:00__PROV__{'b': 2}\n")
    rewritten = push(service.url, str(log), token=token)
    assert rewritten.returncode == 2 and "differ from those pushed before" in rewritten.stderr
    log.write_bytes(b"x\n")
    shorter = push(service.url, str(log), token=token)
    assert shorter.returncode == 2 and "truncated or replaced" in shorter.stderr

    unreachable = push("http://127.0.0.1:9", str(log), token=token)
    assert unreachable.returncode == 2 and "cannot reach http://127.0.0.1:9" in unreachable.stderr
    absent = push(service.url, str(tmp_path / "nope.log"), token=token)
    assert absent.returncode == 2 and "nope.log" in absent.stderr


def test_push_to_a_service_without_the_endpoint(db_url, token, tmp_path) -> None:
    log = tmp_path / "prov.log"
    log.write_bytes(b"x\n")
    with serve(db_url, tmp_path / "off", PROVDB_INGEST_API="0") as svc:
        result = push(svc.url, str(log), token=token)
    assert result.returncode == 2
    assert "has no ingest endpoint (HTTP 404)" in result.stderr
    assert "PROVDB_INGEST_API=1" in result.stderr


def test_push_help_teaches_with_examples() -> None:
    result = run_cli("push", "--help")
    assert result.returncode == 0
    assert "Examples:" in result.stdout and "PROVDB_TOKEN" in result.stdout
