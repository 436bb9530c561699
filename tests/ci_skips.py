"""pytest plugin: under CI (``CI`` set to anything but empty/0/false) a skipped test fails.

A skip means a tool the test needs is missing (STILTS, Graphviz, a C compiler,
Chromium); on a developer's machine that is acceptable and the reason is printed
(``-ra``), but CI installs every tool (``.ci/run``), so there a skip hides a test that
did not run: it is reported as a failure with the skip's reason. Loaded by
tests/conftest.py; tests/test_ci_skips.py runs it on a small test file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


def under_ci() -> bool:
    """True when the ``CI`` environment variable asks for CI behaviour."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _fail_skip(report: Any) -> None:
    if not (under_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _fail_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield  # module-level pytest.skip(..., allow_module_level=True)
    _fail_skip(outcome.get_result())
