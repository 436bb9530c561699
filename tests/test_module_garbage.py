"""tests/module_garbage.py: a socket leaked by a module is reported against that module.

Each test runs pytest in a subprocess on two small generated modules: the first leaves a
socket in a reference cycle, the second stands for any later module during which the
garbage collector happens to run (it calls ``gc.collect()`` itself, so the run does not
depend on when CPython's automatic collection would fire: the first module switches that
off). Without the plugin the leak fails the innocent second module, as it once failed
tests/tap/test_recipe_pages.py in CI; with it, the leak is an error of the first module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LEAKS = """
import gc
import socket

import pytest

# only explicit collections from here on: the plugin's and test_b_collects's
gc.disable()
{pytestmark}

def test_leaks():
    holder = {{"socket": socket.socket()}}
    holder["self"] = holder  # a cycle: freed only by the collector, not on return


def test_after():
    pass
"""

COLLECTS = """
import gc


def test_collects():
    gc.collect()
"""

#: the filter tests/tap/test_clients.py and others declared for pyvo's sockets
SOCKET_FILTER = (
    'pytestmark = pytest.mark.filterwarnings("ignore:Exception ignored in. <socket.socket'
    ':pytest.PytestUnraisableExceptionWarning")'
)


def _suite(folder: Path, *, module_filter: bool) -> Path:
    (folder / "test_a_leaks.py").write_text(
        LEAKS.format(pytestmark=SOCKET_FILTER if module_filter else "")
    )
    (folder / "test_b_collects.py").write_text(COLLECTS)
    # the project's setting (pyproject.toml): every warning is an error
    (folder / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    # the plugin itself, importable from the folder (python -m puts it on sys.path)
    shutil.copy(REPO / "tests" / "module_garbage.py", folder / "module_garbage.py")
    return folder


def _pytest(folder: Path, *, plugin: bool) -> subprocess.CompletedProcess[str]:
    plugins = ["-p", "module_garbage"] if plugin else []
    options = ["-q", "-ra", "-p", "no:cacheprovider", *plugins, "--rootdir", str(folder)]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options, str(folder)],
        capture_output=True,
        text=True,
        # wide enough that the summary lines are not cut short
        env={**os.environ, "COLUMNS": "200"},
        cwd=folder,
        timeout=120,
    )


@pytest.mark.parametrize("plugin", [True, False], ids=["with-plugin", "without"])
def test_a_leaked_socket_is_an_error_of_the_module_that_leaked_it(
    tmp_path: Path, plugin: bool
) -> None:
    result = _pytest(_suite(tmp_path, module_filter=False), plugin=plugin)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ResourceWarning: unclosed <socket.socket" in result.stdout
    if plugin:
        assert "ERROR at teardown of test_after" in result.stdout
        assert (
            "ERROR test_a_leaks.py::test_after - pytest.PytestUnraisableExceptionWarning"
            in result.stdout
        )
        assert "3 passed, 1 error" in result.stdout
    else:
        # the symptom the plugin removes: the innocent module fails
        assert (
            "FAILED test_b_collects.py::test_collects - pytest.PytestUnraisableExceptionWarning"
            in result.stdout
        )
        assert "1 failed, 2 passed" in result.stdout


@pytest.mark.parametrize("plugin", [True, False], ids=["with-plugin", "without"])
def test_the_leaking_modules_own_filter_applies_to_its_collection(
    tmp_path: Path, plugin: bool
) -> None:
    result = _pytest(_suite(tmp_path, module_filter=True), plugin=plugin)
    if plugin:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "3 passed" in result.stdout
        assert "Exception ignored" not in result.stdout
    else:
        # the module's filter does not reach a collection that happens in another module
        assert result.returncode == 1, result.stdout + result.stderr
        assert "FAILED test_b_collects.py::test_collects" in result.stdout
