"""A real ``provdb serve`` with the ingest endpoint on, and a small HTTP helper for its tests."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from tests.servers import serve_provdb


@dataclass
class Service:
    """A running service: its base URL, PROVDB_HOME and spool folder."""

    url: str
    home: Path
    spool: Path


@contextmanager
def serve(db_url: URL, home: Path, **env: str) -> Iterator[Service]:
    """``provdb serve`` (1 gunicorn worker) on ``db_url`` with ``env`` added; stopped on exit.

    ``PROVDB_INGEST_API=1`` unless ``env`` says otherwise; ``home`` is kept afterwards.
    """
    with serve_provdb(db_url, {"PROVDB_INGEST_API": "1", **env}, home=home) as served:
        yield Service(served.site, home, home / "spool")


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: Any


def call(
    url: str,
    *,
    token: str | None,
    data: bytes | None = None,
    method: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One real HTTP request; any status comes back as an :class:`Answer` (JSON body)."""
    request = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return Answer(response.status, json.loads(response.read()), response.headers)
    except urllib.error.HTTPError as exc:
        with exc:
            raw = exc.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"raw": raw.decode("utf-8", "replace")}
            return Answer(exc.code, body, exc.headers)


def push_chunk(
    base: str,
    token: str,
    name: str,
    offset: int,
    data: bytes,
    *,
    sha256: str | None = None,
    **params: str,
) -> Answer:
    """POST one chunk the way ``provdb push`` does."""
    from urllib.parse import urlencode

    query = {
        "name": name,
        "offset": str(offset),
        "sha256": sha256 or hashlib.sha256(data).hexdigest(),
        **params,
    }
    return call(f"{base}/ingest?{urlencode(query)}", token=token, data=data, method="POST")


def status(base: str, token: str, name: str) -> Answer:
    from urllib.parse import urlencode

    return call(f"{base}/ingest/status?{urlencode({'name': name})}", token=token)
