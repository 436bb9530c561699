"""A real ``provdb serve`` with the ingest endpoint on, and a small HTTP helper for its tests."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from tests.conftest import REPO, free_port


@dataclass
class Service:
    """A running service: its base URL, PROVDB_HOME and spool folder."""

    url: str
    home: Path
    spool: Path


@contextmanager
def serve(db_url: URL, home: Path, **env: str) -> Iterator[Service]:
    """``provdb serve`` (1 gunicorn worker) on ``db_url`` with ``env`` added; stopped on exit.

    ``PROVDB_INGEST_API=1`` unless ``env`` says otherwise.
    """
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    full.update(
        {
            "PROVDB_DATABASE_URL": db_url.render_as_string(hide_password=False),
            "PROVDB_HOME": str(home),
            "PROVDB_INGEST_API": "1",
        }
    )
    full.update(env)
    log_path = home / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "provdb", "serve", "--port", str(port), "--workers", "1"],
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    with urllib.request.urlopen(base + "/tap/availability", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("provdb serve did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.2)
            yield Service(base, home, home / "spool")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
