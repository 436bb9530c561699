"""UI responses carry the standard security headers; the UI has no inline script."""

from __future__ import annotations

import re

import pytest
import requests

from tap.ui.headers import CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "path",
    [
        "/ui/",
        "/ui/adql?query=SELECT+TOP+1+id+FROM+provenance.entity",
        "/ui/search?q=dl1",
        "/ui/entity/nothing-here",
    ],
)
def test_ui_pages_send_security_headers(tap_server: str, path: str) -> None:
    r = requests.get(tap_server.removesuffix("/tap") + path, timeout=30)
    assert r.status_code in (200, 404)
    assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    # script-src 'self' would block an inline script: there must be none
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)
    assert not re.search(r"\son[a-z]+\s*=", r.text)
