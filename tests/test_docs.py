"""The commands and queries of README.md and docs/ are real: they are run here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.demo import load_samples
from tests.conftest import REPO, run_cli

README = (REPO / "README.md").read_text()
#: the README (the front door) and every page of the documentation site
PAGES = {"README.md": README} | {
    f"docs/{p.name}": p.read_text() for p in sorted((REPO / "docs").glob("*.md"))
}
COMMANDS = (REPO / "docs" / "commands.md").read_text()


def _code_blocks(lang: str, text: str = README) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_readme_has_the_two_commands() -> None:
    blocks = _code_blocks("sh")
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    (command,) = re.findall(r"```sh\n(.*?)```", quick_start, flags=re.S)
    assert command.strip().endswith(".venv/bin/provdb demo")
    assert any("python -m pytest" in b for b in blocks)
    # a clone of the repository alone is enough: nothing refers to files beside it
    for name in ("README.md", "pyproject.toml", ".ci/run"):
        assert "../shared" not in (REPO / name).read_text(), name
    # .ci/run runs exactly the README's test command
    ci = (REPO / ".ci" / "run").read_text()
    test_command = next(b.strip() for b in blocks if "python -m pytest" in b)
    assert test_command in ci


def test_readme_sql_examples_return_rows_on_the_demo_archive(
    engine: sa.Engine, samples: Path
) -> None:
    """Every SQL example returns rows on what `provdb demo` loads (unless it says none)."""
    load_samples(engine, samples)
    queries = [
        q.strip()
        for text in PAGES.values()
        for b in _code_blocks("sql", text)
        for q in b.split(";")
        if q.strip()
    ]
    # the front door's own tour has real queries, and the reference pages theirs
    assert len([b for b in _code_blocks("sql") if b.strip()]) >= 2
    assert len(queries) >= 9
    with engine.connect() as conn:
        for query in queries:
            rows = conn.execute(sa.text(query)).all()
            if "none in the samples" in query:
                assert not rows, query
            else:
                assert rows, query


@pytest.mark.parametrize(
    "command",
    [
        "demo",
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
        "obscore",
    ],
)
def test_every_command_is_documented(command: str) -> None:
    assert f"provdb {command}" in COMMANDS  # docs/commands.md lists every command
    assert run_cli(command, "--help").returncode == 0
