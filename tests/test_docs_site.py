"""The documentation site builds with MkDocs in strict mode, and its pages stay whole.

`mkdocs build --strict` fails on any warning: a page missing from the nav, a link to a
page or an anchor that does not exist. README.md is the front door: short, linking
every page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

DOCS = REPO / "docs"


def _build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    config = str(root / "mkdocs.yml")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", config, "-d", str(site)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(DOCS, root / "docs")
    return root


def _nav_pages() -> list[str]:
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    return [page for entry in config["nav"] for page in entry.values()]


def test_the_site_builds_strictly_with_every_page(tmp_path: Path) -> None:
    result = _build(REPO, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert sorted(_nav_pages()) == pages
    for page in pages:
        built = "index.html" if page == "index.md" else f"{page[:-3]}/index.html"
        assert (tmp_path / "site" / built).is_file(), page
    settings = (tmp_path / "site" / "settings" / "index.html").read_text()
    assert "<td><code>PROVDB_TAP_MAXREC</code></td>" in settings  # tables render


@pytest.mark.parametrize(
    ("page", "added", "message"),
    [
        ("install.md", "[gone](no-such-page.md)", "no-such-page.md"),
        ("install.md", "[gone](tap-service.md#no-such-anchor)", "no-such-anchor"),
        ("security.md", "[gone](#no-such-heading)", "no-such-heading"),
    ],
)
def test_a_broken_link_fails_the_build(tmp_path: Path, page: str, added: str, message: str) -> None:
    root = _copy(tmp_path)
    with (root / "docs" / page).open("a") as f:
        f.write(f"\nSee {added}.\n")
    result = _build(root, tmp_path / "site")
    assert result.returncode != 0
    assert message in result.stderr


def test_a_page_outside_the_nav_fails_the_build(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "docs" / "orphan.md").write_text("# Orphan\n\nNot in the nav.\n")
    result = _build(root, tmp_path / "site")
    assert result.returncode != 0
    assert "orphan.md" in result.stderr


def test_the_layout_lists_every_package() -> None:
    layout = (DOCS / "development.md").read_text().split("## Layout", 1)[1].split("\n## ", 1)[0]
    packages = sorted(
        f"{init.parent.relative_to(REPO).as_posix()}/"
        for top in ("provdb", "tap")
        for init in (REPO / top).rglob("__init__.py")
    )
    assert "provdb/ingest/lstosa/" in packages  # the walk finds nested packages
    missing = [p for p in packages if f"`{p}`" not in layout]
    assert missing == [], f"docs/development.md's layout does not list {missing}"


def test_the_readme_is_a_short_front_door_to_every_page() -> None:
    readme = (REPO / "README.md").read_text()
    # five minutes of reading: the reference lives in docs/
    assert len(readme.splitlines()) < 200
    links = re.findall(r"\]\((docs/[^)#]*)(?:#([^)]*))?\)", readme)
    assert {p.name for p in DOCS.glob("*.md")} <= {Path(target).name for target, _ in links}
    for target, anchor in links:  # GitHub shows the README: its links must resolve too
        assert (REPO / target).is_file(), target
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (REPO / target).read_text(), flags=re.M)
            slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
            assert anchor in slugs, f"{target}#{anchor}"
    for heading in ("## Quick start", "## Running the tests", "## Documentation"):
        assert heading in readme
