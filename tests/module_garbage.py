"""pytest plugin: collect the garbage at the end of each test module, so a leak is reported there.

An object left in a reference cycle (a client's response holding its keep-alive socket,
say) is freed only when the cyclic garbage collector runs, which is whenever allocation
counts say so: often during a later, unrelated module. An unclosed socket then raises
``ResourceWarning`` in ``socket.__del__``; pytest's ``filterwarnings = error`` turns that
into an unraisable exception, and pytest reports it as an error of whatever test is
running at the time (a CI run once failed the set-up of a test in
tests/tap/test_recipe_pages.py for a socket pyvo had left in an earlier module).

The module-scoped autouse fixture below runs ``gc.collect()`` when a module's fixtures
are torn down. pytest tears them down during the teardown of the module's last test,
inside that test's ``pytest_runtest_protocol``, where the ``warnings`` plugin has applied
the test's ``filterwarnings`` marks, including the module's ``pytestmark``. So the leak
is reported as an error at the teardown of the module's last test, and a module that
declares a filter for a leak it cannot avoid still has it honoured (read in
_pytest/warnings.py and _pytest/unraisableexception.py of pytest 9.2; checked by
tests/test_module_garbage.py). A filter on a single test applies to the module-end
collection only when that test is the module's last one: such a test collects its own
garbage (``gc.collect()`` before it returns).

Loaded by tests/conftest.py (``pytest_plugins``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", autouse=True)
def collect_module_garbage() -> Iterator[None]:
    """At the end of each test module, free what its tests left in reference cycles.

    Autouse fixtures are set up first, so this one is torn down after the module's other
    module-scoped fixtures (HTTP sessions closed, servers stopped): what is still open
    then is a leak, reported against this module.
    """
    yield
    gc.collect()
