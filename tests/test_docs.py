"""The README's commands and queries are real: they are run here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.ingest.pipeline import ingest_file
from tests.conftest import REPO, run_cli

README = (REPO / "README.md").read_text()


def _code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_has_the_two_commands() -> None:
    blocks = _code_blocks("sh")
    assert any("provdb ingest" in b and "provdb db upgrade" in b for b in blocks)
    assert any("python -m pytest" in b for b in blocks)
    # .ci/run runs exactly the README's test command
    ci = (REPO / ".ci" / "run").read_text()
    test_command = next(b.strip() for b in blocks if "python -m pytest" in b)
    assert test_command in ci


def test_readme_sql_examples_run_on_the_sample_night(engine: sa.Engine, samples: Path) -> None:
    raw = engine.raw_connection()
    try:
        ingest_file(
            raw.driver_connection, samples / "generated/lstosa_simulate_processing/prov.log"
        )
    finally:
        raw.close()
    queries = [q.strip() for b in _code_blocks("sql") for q in b.split(";") if q.strip()]
    assert len(queries) >= 4
    with engine.connect() as conn:
        results = [conn.execute(sa.text(q)).all() for q in queries]
    assert results[0], "DL1 files made with lstchain v0.12.x"
    assert results[1], "inputs of one DL1 file"
    assert results[2], "run steps of the night"


@pytest.mark.parametrize(
    "command",
    [
        "db",
        "ingest",
        "serve",
        "lineage",
        "export",
        "scan",
        "versions",
        "reproduce",
        "diff",
        "check",
        "stats",
        "token",
        "push",
    ],
)
def test_every_command_is_documented(command: str) -> None:
    assert f"provdb {command}" in README
    assert run_cli(command, "--help").returncode == 0
