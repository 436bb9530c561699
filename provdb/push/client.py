"""Client side of a push: send a file to ``POST /ingest`` in chunks, resuming where the server is.

Standard library only (urllib): the pipeline side needs no extra package.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provdb import __version__
from provdb.errors import ProvdbError

__all__ = ["DEFAULT_CHUNK", "PushClient", "PushError", "PushOutcome", "push_file"]

#: Bytes per request unless the server allows less (``max_bytes`` of its status).
DEFAULT_CHUNK = 8 * 1024 * 1024


class PushError(ProvdbError):
    """A push failed. ``fatal``: every other file would fail the same way (stop)."""

    def __init__(self, message: str, *, fatal: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.status = status


@dataclass
class PushClient:
    """The ingest endpoint of the archive at ``base_url`` (``http://host:8080``)."""

    base_url: str
    token: str
    timeout: float = 600.0

    def __post_init__(self) -> None:
        url = self.base_url.rstrip("/")
        self.base_url = url.removesuffix("/ingest")

    def status(self, name: str) -> dict[str, Any]:
        """``GET /ingest/status``: what the server holds of ``name``."""
        return self._call("GET", "/ingest/status", {"name": name}, None)[1]

    def send(
        self,
        name: str,
        offset: int,
        data: bytes,
        *,
        ingest: bool = True,
        format: str | None = None,
        timezone: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """``POST /ingest`` one chunk; returns (HTTP status, answer)."""
        params = {"name": name, "offset": str(offset), "sha256": hashlib.sha256(data).hexdigest()}
        if not ingest:
            params["ingest"] = "0"
        if format:
            params["format"] = format
        if timezone:
            params["timezone"] = timezone
        return self._call("POST", "/ingest", params, data)

    def _call(
        self, method: str, path: str, params: dict[str, str], data: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("User-Agent", f"provdb-push/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/octet-stream")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _json(response.read(), url)
        except urllib.error.HTTPError as exc:
            body = exc.read()
            if exc.code == 422:  # the file was refused: the answer still has the summary
                return exc.code, _json(body, url)
            raise _http_error(exc.code, body, self.base_url) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PushError(
                f"cannot reach {self.base_url} ({reason}): check the URL and that the "
                "archive runs `provdb serve` with PROVDB_INGEST_API=1",
                fatal=True,
            ) from None


def _json(body: bytes, url: str) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise PushError(f"{url} did not answer JSON: is it a provdb service?", fatal=True) from None
    if not isinstance(value, dict):
        raise PushError(f"{url} did not answer a JSON object: is it a provdb service?", fatal=True)
    return value


def _http_error(code: int, body: bytes, base_url: str) -> PushError:
    try:
        message = json.loads(body).get("error") or ""
    except (ValueError, AttributeError):
        message = ""
    if code == 404 and not message:
        return PushError(
            f"{base_url} has no ingest endpoint (HTTP 404): start `provdb serve` there with "
            "PROVDB_INGEST_API=1",
            fatal=True,
            status=code,
        )
    message = message or body[:200].decode("utf-8", "replace").strip() or "no detail"
    return PushError(f"HTTP {code}: {message}", fatal=code in (401, 403), status=code)


@dataclass
class PushOutcome:
    """What pushing one file did."""

    name: str
    #: bytes the server held before (where this push started)
    resumed_from: int
    #: bytes sent (new to the server)
    sent: int
    chunks: int
    #: HTTP status of the last request (200, or 422 when the file was refused)
    http_status: int
    #: the server's ingest summary (same counts as ``provdb ingest``)
    ingest: dict[str, Any]


def _prefix_sha256(path: Path, length: int) -> str:
    hasher = hashlib.sha256()
    remaining = length
    with open(path, "rb") as fh:
        while remaining > 0:
            block = fh.read(min(remaining, 1 << 20))
            if not block:
                break
            hasher.update(block)
            remaining -= len(block)
    return hasher.hexdigest()


def push_file(
    client: PushClient,
    path: Path,
    *,
    name: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    format: str | None = None,
    timezone: str | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> PushOutcome:
    """Push ``path`` (as ``name``, default its absolute path) from where the server is.

    The server's spooled size is where this push starts, after checking that those
    bytes are the start of the local file (a rewritten or truncated file is refused: it
    would corrupt the server's copy). The file is read up to its size at the start
    (a writer may go on appending: the next push sends the rest). Only the last chunk
    asks the server to ingest; when nothing is new, one empty chunk does (the answer
    then says ``unchanged``, or finishes an ingest that failed before).

    ``on_chunk(offset, length)`` is called before each chunk is sent.
    """
    name = name or os.path.abspath(path)
    size = path.stat().st_size
    state = client.status(name)
    held = int(state.get("spooled", 0))
    if held > size:
        raise PushError(
            f"{path}: the server holds {held:,} bytes of it but the file has {size:,}: it was "
            "truncated or replaced; push the new file under another name"
        )
    if held and _prefix_sha256(path, held) != state.get("sha256"):
        raise PushError(
            f"{path}: its first {held:,} bytes differ from those pushed before: the file was "
            "rewritten; push it under another name"
        )
    limit = int(state.get("max_bytes") or chunk_size)
    step = max(1, min(chunk_size, limit))
    offset, chunks, answer, http_status = held, 0, None, 200
    with open(path, "rb") as fh:
        fh.seek(offset)
        while offset < size or chunks == 0:
            data = fh.read(min(step, size - offset))
            if not data and offset < size:
                raise PushError(f"{path}: the file shrank while it was read: push it again")
            last = offset + len(data) >= size
            if on_chunk:
                on_chunk(offset, len(data))
            http_status, answer = client.send(
                name, offset, data, ingest=last, format=format, timezone=timezone
            )
            offset += len(data)
            chunks += 1
    assert answer is not None
    return PushOutcome(
        name=name,
        resumed_from=held,
        sent=size - held,
        chunks=chunks,
        http_status=http_status,
        ingest=answer.get("ingest") or {},
    )
