"""Blueprint ``/provsap``: the ProvSAP lineage endpoint (IVOA ProvSAP draft, DALI style).

``GET`` or ``POST {base}/provsap?ID=...&DEPTH=...`` returns the provenance graph around
the given nodes (:func:`provdb.lineage.traverse.lineage`).

Parameters (names case-insensitive; unknown ones ignored, as DALI says)
------------------------------------------------------------------------
ID              entity, activity or agent id; repeatable (required). Also accepted: the
                ``provdb:``/``urn:provdb:`` forms the serialisations write, and an
                entity's location (file path).
DEPTH           ``0``, ``1``, ... or ``ALL`` (default 1): relations followed.
DIRECTION       ``BACK`` (default: towards progenitors) or ``FORTH`` (towards products).
AGENT           ``TRUE``/``FALSE``/``1``/``0`` (default false): walk through agents.
MEMBERS         idem: walk from collections down to their members.
MODEL           ``IVOA`` (default) or ``W3C`` (W3C serialisations only).
RESPONSEFORMAT  ``PROV-JSON`` (default), ``PROV-N``, ``PROV-XML``, ``PROV-VOTABLE``,
                ``SVG``, ``DOT`` (case-insensitive), or a media type:
                ``application/json``, ``text/provenance-notation``, ``application/xml``,
                ``application/x-votable+xml``, ``image/svg+xml``, ``text/vnd.graphviz``.
MAXREC          node limit for this request, at most the service's (below).
STEPS           only ``FALSE``: ActivityFlow steps do not exist in ProvDM 1.0.

Errors are DALI error VOTables: no ID, or a bad value -> 400; an ID naming nothing ->
404. A graph cut at the node limit says so: response header
``X-Provdb-Truncated: true`` (always present, ``false`` otherwise), ``provdb:truncated``
on the start nodes (PROV), an INFO and ``QUERY_STATUS=OVERFLOW`` (PROV-VOTABLE), a
caption (SVG, DOT). ``Server-Timing`` gives the time of the walk and of the
serialisation (ms).

Configuration: the node limit is ``app.config["PROVSAP_NODE_LIMIT"]`` (set by the app
factory from ``PROVDB_PROVSAP_NODE_LIMIT``, default 5000). SVG nodes link to
``app.config["PROVSAP_UI_URL"]`` (from ``PROVDB_UI_URL_PATTERN``), else
``<script root>/ui/{kind}/{id}`` (``{kind}``: entity, activity or agent; ``{id}``
percent-encoded).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from flask import Blueprint, Response, current_app, request

from provdb import settings
from provdb.gcpause import gc_paused
from tap.context import tap_db
from tap.errors import NotFound, ServiceError, Unavailable, UsageError

__all__ = ["DEFAULT_NODE_LIMIT", "bp", "node_limit", "parse_request", "walk"]

bp = Blueprint("provsap", __name__)
log = logging.getLogger("provdb.tap")

DEFAULT_NODE_LIMIT: int = settings.default("PROVDB_PROVSAP_NODE_LIMIT")
_SINGLE = ("DEPTH", "DIRECTION", "AGENT", "MEMBERS", "MODEL", "RESPONSEFORMAT", "MAXREC", "STEPS")
_TRUE = ("TRUE", "1", "YES", "T")
_FALSE = ("FALSE", "0", "NO", "F")


def node_limit() -> int:
    """The service's node limit (app config: PROVDB_PROVSAP_NODE_LIMIT, validated)."""
    return max(1, int(current_app.config.get("PROVSAP_NODE_LIMIT") or DEFAULT_NODE_LIMIT))


def _lineage_options(req: dict[str, Any]) -> dict[str, Any]:
    """The lineage parameters of a checked request; every walk gets 60 s at most."""
    return {
        "depth": req["depth"],
        "direction": req["direction"],
        "agent": req["agent"],
        "members": req["members"],
        "limit": req["limit"],
        "statement_timeout_ms": 60_000,
    }


def walk(conn: Any, ids: list[str], req: dict[str, Any]) -> Any:
    """The lineage graph of ``ids`` with the depth, direction, agent, members and limit of
    a checked request (:func:`parse_request`, or the UI's graph parameters)."""
    from provdb.lineage.traverse import lineage

    return lineage(conn, ids, **_lineage_options(req))


def json_walk(conn: Any, ids: list[str], req: dict[str, Any]) -> Any:
    """The PROV-JSON answer (:func:`provdb.lineage.provjson_answer.prov_json_answer`) of a
    checked request, with :func:`walk`'s parameters and the request's model."""
    from provdb.lineage.provjson_answer import prov_json_answer

    return prov_json_answer(conn, ids, model=req["model"], **_lineage_options(req))


def _ui_pattern() -> str:
    configured = current_app.config.get("PROVSAP_UI_URL")
    if configured:
        return configured
    return f"{request.script_root}/ui/{{kind}}/{{id}}"


def _bool(name: str, value: str | None) -> bool:
    if value is None or value == "":
        return False
    upper = value.strip().upper()
    if upper in _TRUE:
        return True
    if upper in _FALSE:
        return False
    raise UsageError(f"{name}={value!r} is not a boolean: use TRUE or FALSE (or 1 or 0)")


def parse_request(
    items: list[tuple[str, str]], limit: int, *, max_ids: int = 100, max_depth: int = 100
) -> dict:
    """Check the ProvSAP parameters of a request; raise UsageError with a message if bad.

    ``max_ids`` bounds the IDs of one request and ``max_depth`` a numeric DEPTH
    (``PROVDB_PROVSAP_MAX_IDS``, ``PROVDB_PROVSAP_MAX_DEPTH``).
    """
    from provdb.lineage.export import FORMATS, parse_format

    ids: list[str] = []
    single: dict[str, str] = {}
    for name, value in items:
        key = name.upper()
        if key == "ID":
            if value.strip():
                ids.append(value.strip())
                if len(ids) > max_ids:
                    raise UsageError(
                        f"more than {max_ids} IDs in one request (PROVDB_PROVSAP_MAX_IDS): "
                        "split them over several requests"
                    )
            continue
        if key not in _SINGLE:
            continue
        if key in single and single[key] != value:
            raise UsageError(f"parameter {key} given more than once")
        single[key] = value
    if not ids:
        raise UsageError(
            "missing parameter ID: give the id of an entity, activity or agent, "
            "e.g. /provsap?ID=<id>&DEPTH=ALL"
        )

    depth_text = single.get("DEPTH", "1").strip() or "1"
    if depth_text.upper() == "ALL":
        depth = None
    else:
        try:
            depth = int(depth_text)
        except ValueError:
            raise UsageError(f"DEPTH={depth_text!r} is not a number >= 0 or ALL") from None
        if depth < 0:
            raise UsageError(f"DEPTH={depth_text!r} must be >= 0 (or ALL)")
        if depth > max_depth:
            raise UsageError(
                f"DEPTH={depth_text!r} is larger than {max_depth} "
                "(PROVDB_PROVSAP_MAX_DEPTH): use ALL for the whole lineage (the node "
                "limit still applies)"
            )

    direction = (single.get("DIRECTION") or "BACK").strip().upper()
    if direction not in ("BACK", "FORTH"):
        raise UsageError(f"DIRECTION={single['DIRECTION']!r} must be BACK or FORTH")
    model = (single.get("MODEL") or "IVOA").strip().upper()
    if model not in ("IVOA", "W3C"):
        raise UsageError(f"MODEL={single['MODEL']!r} must be IVOA or W3C")
    fmt_text = single.get("RESPONSEFORMAT") or "PROV-JSON"
    fmt = parse_format(fmt_text)
    if fmt is None:
        names = ", ".join(name.upper() for name in FORMATS)
        raise UsageError(f"RESPONSEFORMAT={fmt_text!r} is not supported; use one of {names}")
    if _bool("STEPS", single.get("STEPS")):
        raise UsageError(
            "STEPS=TRUE is not supported: ProvDM 1.0 has no ActivityFlow, so there are no steps"
        )
    maxrec = single.get("MAXREC")
    if maxrec is not None and maxrec.strip():
        try:
            wanted = int(maxrec)
        except ValueError:
            raise UsageError(f"MAXREC={maxrec!r} is not a number") from None
        if wanted < 1:
            raise UsageError(f"MAXREC={maxrec!r} must be >= 1 (the node limit)")
        limit = min(limit, wanted)
    return {
        "ids": ids,
        "depth": depth,
        "direction": direction,
        "agent": _bool("AGENT", single.get("AGENT")),
        "members": _bool("MEMBERS", single.get("MEMBERS")),
        "model": model,
        "format": fmt,
        "limit": limit,
        "echo": {
            "ID": " ".join(ids),
            "DEPTH": "ALL" if depth is None else str(depth),
            "DIRECTION": direction,
            "AGENT": "TRUE" if _bool("AGENT", single.get("AGENT")) else "FALSE",
            "MEMBERS": "TRUE" if _bool("MEMBERS", single.get("MEMBERS")) else "FALSE",
            "MODEL": model,
        },
    }


@bp.route("/provsap", methods=["GET", "POST"])
def provsap() -> Response:
    items = list(request.args.items(multi=True))
    if request.method == "POST":
        items += list(request.form.items(multi=True))
    config = current_app.config["TAP_CONFIG"]
    req = parse_request(
        items,
        node_limit(),
        max_ids=config.provsap_max_ids,
        max_depth=config.provsap_max_depth,
    )
    db = tap_db()
    with gc_paused():  # tens of thousands of short-lived rows and records
        return _answer(db, req)


def _answer(db: Any, req: dict) -> Response:
    from provdb.lineage.export import FORMATS, serialize

    t0 = time.perf_counter()
    fmt = FORMATS[req["format"]]
    with _db_errors(), db.read_engine_connect() as conn:
        if req["format"] == "prov-json":
            # written straight from the rows when it can (the common request)
            answer = json_walk(conn, req["ids"], req)
        else:
            graph = walk(conn, req["ids"], req)
    if req["format"] == "prov-json":
        body, nodes, truncated, t1 = answer.body, answer.nodes, answer.truncated, answer.fetched
    else:
        t1 = time.perf_counter()
        body = serialize(
            graph,
            req["format"],
            model=req["model"],
            url_pattern=_ui_pattern(),
            request=req["echo"],
        )
        nodes, truncated = len(graph.nodes), graph.truncated
    t2 = time.perf_counter()
    log.info(
        "provsap ID=%s DEPTH=%s DIRECTION=%s -> %d nodes%s in %.1f ms",
        req["echo"]["ID"][:200],
        req["echo"]["DEPTH"],
        req["direction"],
        nodes,
        " (truncated)" if truncated else "",
        (t2 - t0) * 1000,
    )
    return Response(
        body,
        content_type=fmt.mime,
        headers={
            "X-Provdb-Truncated": "true" if truncated else "false",
            "X-Provdb-Nodes": str(nodes),
            "Server-Timing": (
                f"lineage;dur={(t1 - t0) * 1000:.1f}, serialize;dur={(t2 - t1) * 1000:.1f}"
            ),
            "Content-Disposition": f'inline; filename="provenance.{fmt.extension}"',
            "Cache-Control": "no-store",
        },
    )


@contextlib.contextmanager
def _db_errors() -> Iterator[None]:
    """The walk's failures as DALI errors: an unknown ID 404, bad input 400, the database
    unreachable 503, anything else 500 (logged)."""
    from provdb.lineage.traverse import UnknownNode

    try:
        yield
    except UnknownNode as exc:
        raise NotFound(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:  # database failures: a DALI error, not an HTML page
        cause = getattr(exc, "orig", None) or exc
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(cause, psycopg.DataError | psycopg.ProgrammingError):
            # an ID PostgreSQL cannot take as text (e.g. a NUL from "%00"): the input
            raise UsageError(f"an ID cannot be looked up: {first}") from None
        if isinstance(cause, psycopg.OperationalError):
            raise Unavailable(f"the archive database is not reachable: {first}") from None
        log.exception("provsap failed")
        raise ServiceError(f"lineage query failed: {first}") from None
