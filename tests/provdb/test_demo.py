"""``provdb demo`` as a user runs it: real subprocesses, a real database, real HTTP."""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from provdb.demo import COUNTED_TABLES, sample_files
from tests.conftest import free_port, run_cli
from tests.servers import running


def counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {
            t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t, _ in COUNTED_TABLES
        }


def printed_counts(stdout: str) -> dict[str, int]:
    """The summary's `label  N   table` lines."""
    return {
        m.group(2): int(m.group(1).replace(",", ""))
        for m in re.finditer(r"^\s+.+?\s{2,}([\d,]+)\s+(\w+\.\w+)$", stdout, flags=re.M)
    }


def test_demo_loads_the_samples_once(cli_env, engine: sa.Engine, samples: Path) -> None:
    logs, data = sample_files(samples)
    assert len(logs) == 16 and len(data) == 3

    first = run_cli("demo", "--no-serve", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert re.search(r"schema (created \(migration \d+\)|at migration \d+)", first.stdout)
    assert f"ingested      {len(logs)} provenance files ({len(logs)} new)" in first.stdout
    assert f"scanned       {len(data)} HDF5 files ({len(data)} new)" in first.stdout
    with engine.connect() as c:
        ingested = set(c.execute(sa.text("SELECT path FROM archive.ingest_file")).scalars())
        scanned = set(c.execute(sa.text("SELECT path FROM archive.scan_file")).scalars())
        linked = c.execute(
            sa.text(
                "SELECT count(*) FROM provenance.activity WHERE activity_description_id IS NOT NULL"
            )
        ).scalar_one()
    assert ingested == {str(p) for p in logs}
    assert scanned == {str(p) for p in data}
    assert linked > 0  # lstosa's definition.yaml is the model
    loaded = counts(engine)
    assert printed_counts(first.stdout) == loaded
    assert loaded["provenance.activity"] > 100 and loaded["archive.software"] > 0

    second = run_cli("demo", "--no-serve", env=cli_env)
    assert second.returncode == 0, second.stderr
    assert "nothing new: the archive already holds every sample" in second.stdout
    assert f"({len(logs)} unchanged)" in second.stdout
    assert counts(engine) == loaded
    assert printed_counts(second.stdout) == loaded


def test_demo_without_a_database_says_what_to_do() -> None:
    result = run_cli(
        "demo",
        "--no-serve",
        env={"PROVDB_DATABASE_URL": "postgresql+psycopg://me@127.0.0.1:1/provdb"},
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("provdb: error: cannot connect to PostgreSQL at 127.0.0.1:1/provdb")
    assert "PROVDB_DATABASE_URL" in line


def test_demo_help_teaches() -> None:
    result = run_cli("demo", "--help")
    assert result.returncode == 0
    assert "provdb demo --no-serve" in result.stdout
    assert "provdb/samples" in result.stdout


def _sync(base: str, query: str) -> list[dict[str, str]]:
    data = urllib.parse.urlencode(
        {"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "csv", "QUERY": query}
    ).encode()
    with urllib.request.urlopen(base + "/sync", data, timeout=60) as resp:
        return list(csv.DictReader(io.StringIO(resp.read().decode())))


def test_demo_serves_tap_and_the_ui(cli_env, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    env.update(cli_env)
    env["PROVDB_HOME"] = str(tmp_path / "home")
    log_path = tmp_path / "demo.log"
    command = [sys.executable, "-m", "provdb", "demo", "--port", str(port)]
    base = f"http://127.0.0.1:{port}/tap"
    # the demo loads the samples before it serves
    with running(command, env, log_path, base + "/availability", "provdb demo", start_seconds=120):
        text = log_path.read_text()
        assert f"TAP service   http://127.0.0.1:{port}/tap" in text
        assert f"browser UI    http://127.0.0.1:{port}/ui" in text
        # the versions question (README, /tap/examples): rows from files and from logs
        rows = _sync(
            base,
            "SELECT DISTINCT package, version, source FROM archive.product_version "
            "WHERE package = 'lstchain'",
        )
        assert {(r["package"], r["version"]) for r in rows} == {("lstchain", "0.12.3")}
        assert {r["source"] for r in rows} == {"file", "log"}
        steps = _sync(base, "SELECT run_step_id FROM archive.run_step ORDER BY run_step_id")
        assert "20200117_01807:r0_to_dl1" in {r["run_step_id"] for r in steps}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ui", timeout=30) as resp:
            assert resp.status == 200
            assert b"provdb" in resp.read()
