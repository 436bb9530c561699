"""From TAP parameters to a result stream: shared by /sync and the async workers.

``prepare`` checks the parameters and translates the ADQL (every problem raises a
TapError before a byte is sent); ``result_stream`` runs the query and yields the
encoded result, deciding OVERFLOW or a mid-stream ERROR at the end of the document.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tap.adql import ADQLError, translate
from tap.catalog import Catalog
from tap.config import TapConfig
from tap.errors import QueryError, UsageError
from tap.formats import OutputFormat, resolve_format
from tap.params import TapParams
from tap.query.execute import QueryPlan, UploadTable, stream_rows
from tap.query.upload import load_uploads

__all__ = ["LANGS", "PreparedQuery", "prepare", "result_stream"]

log = logging.getLogger("provdb.tap")

LANGS = ("ADQL", "ADQL-2.0", "ADQL-2.1")


@dataclass
class PreparedQuery:
    query: str
    sql: str
    fields: list[Any]
    format: OutputFormat
    maxrec: int
    limit: int  # rows to deliver at most
    overflow_possible: bool  # False when TOP, not MAXREC, bounds the result
    timeout_s: int
    run_id: str | None
    uploads: list[UploadTable] = field(default_factory=list)


def _maxrec(params: TapParams, config: TapConfig) -> int:
    text = params.get("MAXREC")
    if text is None or text == "":
        return config.maxrec_default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"MAXREC must be a non-negative integer, not {text!r}") from None
    if value < 0:
        raise UsageError(f"MAXREC must be a non-negative integer, not {value}")
    return min(value, config.maxrec_hard)


def check_lang(params: TapParams) -> None:
    lang = params.get("LANG")
    if not lang:
        raise UsageError("missing parameter LANG: use LANG=ADQL")
    if lang.upper() not in LANGS:
        raise UsageError(
            f"unknown query language LANG={lang!r}: this service speaks {', '.join(LANGS)}"
        )


def prepare(
    params: TapParams,
    catalog: Catalog,
    config: TapConfig,
    *,
    files: Mapping[str, Any] | None = None,
    timeout_s: int | None = None,
) -> PreparedQuery:
    """Validate TAP parameters and translate the query.

    Raises
    ------
    UsageError
        Missing or invalid LANG, QUERY, MAXREC, RESPONSEFORMAT, RUNID, UPLOAD.
    QueryError
        The ADQL does not parse or names unknown tables/columns (with line/column).
    """
    check_lang(params)
    query = params.get("QUERY")
    if query is None or not query.strip():
        raise UsageError("missing parameter QUERY")
    fmt_text = params.get("RESPONSEFORMAT") or params.get("FORMAT")
    try:
        fmt = resolve_format(fmt_text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run_id = params.get("RUNID")
    if run_id is not None and len(run_id) > 64:
        raise UsageError("RUNID is longer than 64 characters")
    maxrec = _maxrec(params, config)
    uploads, upload_fields = load_uploads(params.uploads, files or {}, config)
    try:
        tr = _translate(query, catalog, maxrec, upload_fields)
    except ADQLError as exc:
        raise QueryError(str(exc)) from None
    top = tr.top
    limit = maxrec if top is None else min(top, maxrec)
    return PreparedQuery(
        query=query,
        sql=tr.sql,
        fields=list(tr.fields),
        format=fmt,
        maxrec=maxrec,
        limit=limit,
        overflow_possible=top is None or top > maxrec,
        timeout_s=config.execution_default if timeout_s is None else timeout_s,
        run_id=run_id,
        uploads=uploads,
    )


_TRANSLATIONS: OrderedDict[tuple[str, int, int], tuple[Catalog, Any]] = OrderedDict()
_TRANSLATIONS_LOCK = threading.Lock()
_TRANSLATIONS_MAX = 512


def _translate(query: str, catalog: Catalog, maxrec: int, uploads: Mapping[str, Any]) -> Any:
    """Translate, remembering recent results: clients repeat queries (TOPCAT refreshes,
    pyvo loops), and translation (~2 ms) is the largest cost of a small query. Queries
    with uploads are not cached (their tables differ per request)."""
    if uploads:
        return translate(query, catalog, maxrec=maxrec, uploads=uploads)
    key = (query, id(catalog), maxrec)
    with _TRANSLATIONS_LOCK:
        hit = _TRANSLATIONS.get(key)
        if hit is not None and hit[0] is catalog:
            _TRANSLATIONS.move_to_end(key)
            return hit[1]
    tr = translate(query, catalog, maxrec=maxrec)
    with _TRANSLATIONS_LOCK:
        _TRANSLATIONS[key] = (catalog, tr)
        while len(_TRANSLATIONS) > _TRANSLATIONS_MAX:
            _TRANSLATIONS.popitem(last=False)
    return tr


def _bounded(
    batches: Iterator[list[tuple]], limit: int, overflow_possible: bool
) -> Iterator[list[tuple]]:
    """Cut the stream at ``limit`` rows; let one extra row through only to signal overflow.

    The SQL returns at most limit+1 rows. When TOP (not MAXREC) is the bound, the extra
    row (if any) is dropped silently: TOP truncation is not an overflow.
    """
    sent = 0
    keep = limit + 1 if overflow_possible else limit
    for rows in batches:
        if sent + len(rows) > keep:
            rows = rows[: keep - sent]
        if rows:
            sent += len(rows)
            yield rows
        if sent >= keep:
            return


def result_stream(
    prepared: PreparedQuery,
    connect: Callable[[], Any],
    *,
    role: str | None,
    on_pid: Callable[[int], None] | None = None,
    status: dict[str, Any] | None = None,
) -> Iterator[bytes]:
    """Encode the result of ``prepared``; ``status`` receives rows/overflow/error."""
    plan = QueryPlan(
        sql=prepared.sql, timeout_s=prepared.timeout_s, role=role, uploads=prepared.uploads
    )
    rows = stream_rows(connect, plan, on_pid=on_pid)
    # Run the query before the first byte is written: errors at execution start (bad
    # casts, timeouts, cancellations) then raise here and get a proper error document
    # and HTTP status instead of a trailing QUERY_STATUS=ERROR.
    first = next(rows, None)
    batches = _bounded(
        itertools.chain([first] if first else [], rows), prepared.limit, prepared.overflow_possible
    )
    writer = prepared.format.writer(
        prepared.fields, batches, overflow_after=prepared.limit, query=prepared.query
    )
    yield from writer
    if status is not None:
        result = getattr(writer, "result", None)
        status.update(
            {
                "rows": getattr(result, "rows", None),
                "overflow": getattr(result, "overflow", None),
                "error": getattr(result, "error", None),
            }
        )


# keep QueryError importable from here for the blueprints
_ = QueryError
