"""Blueprint ``/sync``: run a query and stream the result in the response."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request, stream_with_context

from tap.clients import SyncSlot, client_identity, slot_claim
from tap.config import TapConfig
from tap.context import tap_db
from tap.datalink import links_url
from tap.params import collect
from tap.query.client_watch import ClientWatch
from tap.query.execute import SlotClaim
from tap.query.run import prepare, result_stream

bp = Blueprint("sync", __name__)
log = logging.getLogger("provdb.tap")


def request_params():
    """TAP parameters of this request (query string and form body together)."""
    items = list(request.args.items(multi=True))
    if request.method == "POST":
        items += list(request.form.items(multi=True))
    return collect(items)


def _watch(sock: Any, used: dict[str, Any]) -> ClientWatch | None:
    """A watcher that cancels the query when the client disconnects (under gunicorn,
    which hands the client socket to the app; not under a test client)."""
    if sock is None:
        return None

    def cancel(pid: int) -> None:
        # the query's own connection sends the cancel request, to whichever server
        # (primary or replica) runs it: a pid alone does not say which
        conn = used.get("conn")
        if conn is not None and conn.info.backend_pid == pid:
            conn.cancel_safe(timeout=5)

    return ClientWatch(sock, cancel)


@bp.route("/sync", methods=["GET", "POST"])
def sync() -> Response:
    config = current_app.config["TAP_CONFIG"]
    # one of the client's concurrent-query slots (a PostgreSQL advisory lock: the limit
    # holds across every instance of the service, see tap/clients.py)
    if tap_db().router is None:
        # taken by the query's own transaction, in the round trip that starts it
        return _run(config, slot_claim(client_identity(), config.max_sync_per_client), None)
    # reads may go to a replica: the slot is held on the primary until the response
    # is closed
    slot = SyncSlot(tap_db().connect_slots, client_identity(), config.max_sync_per_client)
    slot.acquire()
    try:
        response = _run(config, None, slot)
    except BaseException:
        slot.release()
        raise
    response.call_on_close(slot.release)  # a client that hangs up early
    return response


def _run(config: TapConfig, claim: SlotClaim | None, slot: SyncSlot | None) -> Response:
    params = request_params()
    db = tap_db()
    prepared = prepare(params, db.catalog, config, files=request.files)
    prepared.datalink = links_url()
    log.info(
        "sync RUNID=%s MAXREC=%s QUERY=%s",
        prepared.run_id,
        prepared.maxrec,
        prepared.query.replace("\n", " ")[:500],
    )
    used: dict[str, Any] = {}

    def connect() -> Any:
        # a replica when one is healthy; uploads need the primary (temporary tables)
        used["conn"] = db.connect_read(pooled=True, primary=bool(prepared.uploads))
        return used["conn"]

    watch = _watch(request.environ.get("gunicorn.socket"), used)
    body = result_stream(
        prepared,
        connect,
        role=db.reader_role,
        on_pid=watch.started if watch else None,
        slot=claim,
    )
    # every header is set before the first chunk: errors after this point are reported
    # inside the document (trailing QUERY_STATUS=ERROR), never as an HTTP status
    try:
        first = next(body, b"")
    except BaseException:
        if watch:
            watch.finish(abandoned=False)
        raise
    headers = {"Cache-Control": "no-store", "X-Provdb-Read": _where(used)}
    # A small result is read whole and sent as one body with Content-Length (one write,
    # no chunk framing, no streamed request context): most /sync queries are small, and
    # streaming them cost more CPU than their query. Larger ones stream from here on.
    chunks, rest = _read_small(first, body, config.sync_buffer_bytes)
    if rest is None:
        _clean_up(watch, body, slot, completed=True)
        return Response(b"".join(chunks), mimetype=prepared.format.mime, headers=headers)

    def chain():
        completed = False
        try:
            yield from chunks
            # a for loop, not ``yield from``: when the client goes away mid-stream the
            # backend is cancelled (finish) before the body returns its connection
            for chunk in rest:  # noqa: UP028 - see above
                yield chunk
            completed = True
        finally:
            _clean_up(watch, body, slot, completed=completed)

    return Response(stream_with_context(chain()), mimetype=prepared.format.mime, headers=headers)


def _read_small(
    first: bytes, body: Iterator[bytes], limit: int
) -> tuple[list[bytes], Iterator[bytes] | None]:
    """The chunks of ``body`` read so far and what remains to stream (None: the whole
    body, ``first`` included, fit in ``limit`` bytes; 0 streams every body).

    An exception while reading is raised again by the remainder after the chunks read
    before it, as a streamed body would have raised it (the response is cut there)."""
    chunks = [first] if first else []
    size = len(first)
    if limit <= 0 or size > limit:
        return chunks, body
    while True:
        try:
            chunk = next(body)
        except StopIteration:
            return chunks, None
        except Exception as exc:
            return chunks, _raising(exc)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return chunks, body


def _raising(exc: Exception) -> Iterator[bytes]:
    raise exc
    yield b""  # a generator: raises when the response is written, not here


def _clean_up(
    watch: ClientWatch | None, body: Any, slot: SyncSlot | None, *, completed: bool
) -> None:
    """After the last chunk (or a client gone early): stop watching, return the
    connection, free the client's slot."""
    # clean-up must not raise: the document is complete (or the client gone), and
    # an exception here would cut the response before its last chunk
    try:
        if watch:
            watch.finish(abandoned=not completed)
        body.close()
    except Exception:
        log.exception("cleaning up after a sync query failed")
    # free as soon as the last byte is out; call_on_close (idempotent release)
    # covers a response that is never iterated
    if slot is not None:
        slot.release()


def _where(used: dict[str, Any]) -> str:
    return getattr(used.get("conn"), "provdb_read", "primary")
