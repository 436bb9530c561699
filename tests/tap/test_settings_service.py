"""Settings that were read silently or were app.config keys only, over real HTTP.

``provdb serve`` in a subprocess with the variables set: they travel registry ->
TapConfig -> the app -> ProvSAP, as an operator sets them.
"""

from __future__ import annotations

import requests
from sqlalchemy.engine import URL

from tests.servers import serve_provdb
from tests.tap.test_provsap import DL1B, PEDESTAL, _locations


def test_provsap_node_limit_and_ui_link_pattern_come_from_the_environment(
    archive_url: URL,
) -> None:
    env = {
        "PROVDB_PROVSAP_NODE_LIMIT": "3",
        "PROVDB_UI_URL_PATTERN": "https://ui.example.org/{kind}?id={id}",
    }
    with serve_provdb(archive_url, env) as served:
        site = served.site
        params = {"ID": PEDESTAL, "DEPTH": "ALL", "DIRECTION": "FORTH"}
        r = requests.get(site + "/tap/provsap", params=params, timeout=60)
        # with the default limit (1000) this walk reaches DL1B whole (test_provsap.py)
        assert r.status_code == 200 and r.headers["X-Provdb-Truncated"] == "true"
        assert DL1B not in _locations(r.json())
        svg = requests.get(
            site + "/tap/provsap", params={**params, "RESPONSEFORMAT": "SVG"}, timeout=60
        )
        assert svg.status_code == 200
        assert b'href="https://ui.example.org/entity?id=' in svg.content
