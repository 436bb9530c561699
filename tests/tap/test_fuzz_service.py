"""No 5xx from any input: property-based requests to every endpoint of a real service.

The budget is bounded for CI (``PROVDB_FUZZ_EXAMPLES`` cases per endpoint group,
default 150); bench/fuzz_service.py runs the same strategies much longer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from sqlalchemy.engine import URL

from tests.servers import serve_provdb
from tests.tap.fuzz_requests import ENDPOINTS, FuzzRequest, check_response, send

EXAMPLES = int(os.environ.get("PROVDB_FUZZ_EXAMPLES", "150"))


@pytest.fixture(scope="module")
def fuzz_site(archive_url: URL) -> Iterator[tuple[str, str]]:
    """A service with every endpoint on (/ingest too); yields (site, id of a real job)."""
    with serve_provdb(archive_url, {"PROVDB_INGEST_API": "1"}, workers=2) as served:
        site = served.site
        r = requests.post(
            site + "/tap/async",
            data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 id FROM provenance.entity"},
            allow_redirects=False,
            timeout=30,
        )
        assert r.status_code == 303, r.text
        yield site, r.headers["Location"].rsplit("/", 1)[1]


@pytest.mark.parametrize("group", sorted(ENDPOINTS))
def test_no_5xx_and_well_formed_errors(fuzz_site: tuple[str, str], group: str) -> None:
    site, job = fuzz_site

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(ENDPOINTS[group])
    def check(req: FuzzRequest) -> None:
        problem = check_response(req, send(site, req, job))
        assert problem is None, f"{req.method} {req.path} {req.params} {req.data}: {problem}"

    check()
