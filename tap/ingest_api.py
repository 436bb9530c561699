"""``POST /ingest``: pipelines push their logs, chunk by chunk, with an ingest token.

Registered only with ``PROVDB_INGEST_API=1`` (otherwise the URLs do not exist: 404).

Every request carries ``Authorization: Bearer <token>`` (``provdb token create``): 401
without one or with an unknown one, 403 for a revoked token or another scope.

``POST /ingest?name=NAME&offset=N&sha256=HEX[&format=F][&timezone=TZ][&ingest=0]``
    The body is the bytes of NAME (the file as the pipeline knows it, e.g. the absolute
    path of its prov.log) from byte N on. The server keeps a spool copy per token and
    NAME (:mod:`provdb.push.spool`): a chunk at the spooled size is appended; a replayed
    chunk whose bytes match is answered 200 ``"chunk": "already have"`` and adds
    nothing; a chunk after a gap, or whose bytes differ from those spooled, gets 409
    with ``expected_offset``; a body whose sha256 is not HEX 400; a body over
    ``PROVDB_INGEST_MAX_BYTES`` 413 (nothing spooled in either case). Then, unless
    ``ingest=0``, the spool file is ingested like ``provdb ingest`` does (one
    transaction, read on from where the last ingest stopped) and the answer holds the
    same counts, with rejects as ``NAME:LINE: reason``: 200, or 422 when the file was
    refused (nothing of it kept; the spooled bytes stay). A database that cannot be
    reached gives 503: the chunk stays spooled, and sending it again retries the ingest.

``GET /ingest/status?name=NAME``
    ``spooled`` (bytes held, where the next chunk starts), their ``sha256``, the last
    ingest of the spool file and ``max_bytes``: what ``provdb push`` asks before sending.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request

from provdb.ingest.pipeline import FORMATS
from provdb.push.receive import ingest_spooled
from provdb.push.spool import ChunkRefused, Spool
from provdb.push.tokens import authenticate

__all__ = ["bp"]

bp = Blueprint("ingest_api", __name__)

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
#: the database went away or cannot be reached: 503, try again later
_DB_ERRORS = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
)


class _Refusal(Exception):
    """An answer other than 200, with a JSON body ``{"error": message, ...}``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


@bp.errorhandler(_Refusal)
def _refused(exc: _Refusal) -> Response:
    response = jsonify({"error": str(exc), **exc.extra})
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="provdb ingest"' + (
            ', error="invalid_token"' if request.headers.get("Authorization") else ""
        )
    return response


def _engine() -> sa.Engine:
    return current_app.extensions["provdb_tap_db"].engine


def _unavailable(exc: BaseException) -> NoReturn:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    raise _Refusal(
        503, f"the archive database is not available ({reason}): try again later"
    ) from None


def _token_name() -> str:
    """The name of the request's valid ingest token, or a 401/403 refusal."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise _Refusal(
            401,
            "no token: send 'Authorization: Bearer <token>' with a token from "
            "`provdb token create NAME` on the archive host",
        )
    try:
        with _engine().begin() as conn:
            auth = authenticate(conn, secret, "ingest")
    except _DB_ERRORS as exc:
        _unavailable(exc)
    if auth.outcome == "unknown":
        raise _Refusal(
            401, "unknown token: check the token, or create one with `provdb token create`"
        )
    if auth.outcome == "revoked":
        raise _Refusal(403, f"token {auth.name!r} was revoked: create a new one")
    if auth.outcome == "scope":
        raise _Refusal(403, f"token {auth.name!r} has scope {auth.scope!r}, not 'ingest'")
    assert auth.name is not None
    return auth.name


def _spool() -> Spool:
    config = current_app.config["TAP_CONFIG"]
    root = config.ingest_spool or current_app.config["PROVDB_SETTINGS"].home / "spool"
    return Spool(Path(root))


def _name() -> str:
    name = request.args.get("name", "")
    if not name.strip():
        raise _Refusal(400, "parameter 'name' is missing: the file's name on the pipeline side")
    return name


def _body(limit: int) -> bytes:
    """The request body, refused (413) over ``limit`` before or while it is read."""
    length = request.content_length
    if length is not None and length > limit:
        message = f"body of {length} bytes is over the limit of {limit}: send smaller chunks"
        raise _Refusal(413, message, max_bytes=limit)
    # a stream read may return less than asked (the WSGI server's choice): read on to
    # the end, but never more than one byte past the limit
    buffer = bytearray()
    stream = request.stream
    while len(buffer) <= limit:
        block = stream.read(min(1 << 20, limit + 1 - len(buffer)))
        if not block:
            break
        buffer += block
    data = bytes(buffer)
    if len(data) > limit:
        raise _Refusal(
            413, f"body over the limit of {limit} bytes: send smaller chunks", max_bytes=limit
        )
    return data


@bp.post("/ingest")
def ingest() -> tuple[Response, int]:
    token = _token_name()
    name = _name()
    try:
        offset = int(request.args.get("offset", "0"))
    except ValueError:
        raise _Refusal(400, "parameter 'offset' must be a byte offset (an integer)") from None
    if offset < 0:
        raise _Refusal(400, "parameter 'offset' must be >= 0")
    checksum = request.args.get("sha256", "")
    if not _SHA256.match(checksum):
        raise _Refusal(
            400, "parameter 'sha256' (the chunk's sha256, 64 hex digits) is missing or malformed"
        )
    fmt = request.args.get("format") or None
    if fmt is not None and fmt not in FORMATS:
        raise _Refusal(400, f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    timezone = request.args.get("timezone") or "UTC"
    _check_timezone(timezone)
    run_ingest = request.args.get("ingest", "1") not in ("0", "false", "no")
    data = _body(current_app.config["TAP_CONFIG"].ingest_max_bytes)
    if hashlib.sha256(data).hexdigest() != checksum.lower():
        raise _Refusal(
            400,
            f"sha256 of the {len(data)} bytes received differs from the one sent: the chunk "
            "was damaged on the way, send it again",
        )
    spool = _spool()
    try:
        answer = spool.add_chunk(token, name, offset, data)
    except ChunkRefused as exc:
        raise _Refusal(409, str(exc), expected_offset=exc.expected) from None
    body: dict[str, Any] = {
        "name": name,
        "offset": offset,
        "chunk": answer.action,
        "appended": answer.appended,
        "spooled": answer.size,
        "ingest": None,
    }
    if not run_ingest:
        return jsonify(body), 200
    try:
        raw = _engine().raw_connection()
        try:
            body["ingest"] = ingest_spooled(
                raw.driver_connection, answer.path, name, format=fmt, timezone=timezone
            )
        finally:
            raw.close()
    except _DB_ERRORS as exc:
        _unavailable(exc)
    status = 422 if body["ingest"]["status"] == "failed" else 200
    return jsonify(body), status


@bp.get("/ingest/status")
def status() -> tuple[Response, int]:
    token = _token_name()
    name = _name()
    spool = _spool()
    path = spool.path_for(token, name)
    try:
        with _engine().connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT status, offset_reached, last_ingest FROM archive.ingest_file "
                    "WHERE path = :p"
                ),
                {"p": str(path)},
            ).first()
    except _DB_ERRORS as exc:
        _unavailable(exc)
    ingested = None
    if row is not None:
        ingested = {
            "status": row.status,
            "offset_reached": row.offset_reached,
            "last_ingest": row.last_ingest.isoformat() + "Z",
        }
    return jsonify(
        {
            "name": name,
            "spooled": spool.size(token, name),
            "sha256": spool.sha256(token, name),
            "ingested": ingested,
            "max_bytes": current_app.config["TAP_CONFIG"].ingest_max_bytes,
        }
    ), 200


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Refusal(
            400, f"unknown time zone {name!r}: use an IANA name such as UTC or Atlantic/Canary"
        ) from None
