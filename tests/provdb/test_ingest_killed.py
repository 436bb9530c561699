"""``kill -9`` of ``provdb ingest`` in the middle of a large file, then a rerun: the
archive equals a clean single ingest of the same file (row counts of every table)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from pytest_postgresql.executors.noop import NoopExecutor
from sqlalchemy.engine import URL

from tests.conftest import REPO, run_cli, scratch_database

COUNTED_SCHEMAS = ("provenance", "archive")


def _counts(url: URL) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            tables = (
                conn.execute(
                    sa.text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                        "WHERE table_schema = ANY(:s) AND table_type = 'BASE TABLE' ORDER BY 1"
                    ),
                    {"s": list(COUNTED_SCHEMAS)},
                )
                .scalars()
                .all()
            )
            return {
                t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables
            }
    finally:
        engine.dispose()


def _writing(url: URL) -> bool:
    """True while another session of the database has a transaction that wrote rows."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _env(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    env["PROVDB_DATABASE_URL"] = url.render_as_string(hide_password=False)
    return env


def test_killed_ingest_then_rerun_equals_a_clean_ingest(
    provdb_template: NoopExecutor, samples: Path, tmp_path: Path
) -> None:
    log = tmp_path / "prov.log"
    made = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "make_synthetic.py"),
            "--runs",
            "3",
            "--subruns",
            "40",
            "--out",
            str(log),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    model = str(samples / "lstosa/config/definition.yaml")
    with (
        scratch_database(provdb_template, "provdb_killed") as killed,
        scratch_database(provdb_template, "provdb_clean") as clean,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-m", "provdb", "ingest", "-q", "--model", model, str(log)],
            env=_env(killed),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # wait until it has written records of the file, then kill it without warning
        deadline = time.monotonic() + 120
        while (
            sum(_counts(killed).get(t, 0) for t in ("provenance.entity", "provenance.activity"))
            == 0
        ):
            assert proc.poll() is None, (
                "the ingest ended before it could be killed: use a larger file"
            )
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL

        rerun = run_cli(
            "ingest",
            "-q",
            "--model",
            model,
            str(log),
            env={"PROVDB_DATABASE_URL": killed.render_as_string(hide_password=False)},
        )
        assert rerun.returncode == 0, rerun.stderr
        single = run_cli(
            "ingest",
            "-q",
            "--model",
            model,
            str(log),
            env={"PROVDB_DATABASE_URL": clean.render_as_string(hide_password=False)},
        )
        assert single.returncode == 0, single.stderr
        after_kill, reference = _counts(killed), _counts(clean)
        assert reference["provenance.entity"] > 0
        assert after_kill == reference
