"""tests/ci_skips.py: skips fail under CI and only there; the reason is printed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SOURCE = """
import pytest

pytestmark = []

def test_runs():
    assert True

def test_needs_a_tool():
    pytest.skip("no frobnicator (apt-get install frobnicator)")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""

MODULE_SKIP = """
import pytest
pytest.skip("no chromium here", allow_module_level=True)

def test_never():
    pass
"""


def _pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-ra",
            "-p",
            "ci_skips",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            str(folder),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=120,
    )


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "test_tools.py").write_text(SOURCE)
    (tmp_path / "test_browser.py").write_text(MODULE_SKIP)
    # the plugin itself, importable from the folder (python -m puts it on sys.path)
    shutil.copy(REPO / "tests" / "ci_skips.py", tmp_path / "ci_skips.py")
    return tmp_path


@pytest.mark.parametrize("ci", [None, "", "0", "false"])
def test_outside_ci_skips_are_skips_with_their_reason(suite: Path, ci: str | None) -> None:
    result = _pytest(suite, ci)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in result.stdout
    assert "no frobnicator (apt-get install frobnicator)" in result.stdout
    assert "no chromium here" in result.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_skip_fails_and_says_why(suite: Path, ci: str) -> None:
    module_skip = (suite / "test_browser.py").read_text()
    (suite / "test_browser.py").unlink()
    result = _pytest(suite, ci)
    assert result.returncode == 1, result.stdout
    assert "skipped" not in result.stdout.splitlines()[-1]
    assert "1 failed, 1 passed, 1 xfailed" in result.stdout
    assert "skipped under CI, where every test must run: Skipped: no frobnicator" in result.stdout
    # a module skipped whole is a collection error: the run stops there
    (suite / "test_tools.py").unlink()
    (suite / "test_browser.py").write_text(module_skip)
    result = _pytest(suite, ci)
    assert result.returncode == 2, result.stdout
    assert (
        "ERROR test_browser.py - skipped under CI, where every test must run: Skipped: no chromium here"
        in result.stdout
    )
