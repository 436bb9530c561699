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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tap.adql import ADQLError
from tap.adql import translate as _adql_translate
from tap.adql.budget import deadline
from tap.adql.literals import fill, split_literals, usable
from tap.catalog import Catalog
from tap.config import TapConfig
from tap.errors import QueryError, UsageError
from tap.formats import OutputFormat, resolve_format
from tap.params import TapParams
from tap.query.execute import CopyQuery, QueryPlan, SlotClaim, UploadTable, stream_rows
from tap.query.readahead import ReadAhead
from tap.query.upload import load_uploads
from tap.votable.binary2_copy import encoded_bytes, plan_binary2_copy
from tap.votable.binary2_sql import plan_binary2_sql
from tap.votable.text_copy import TEXT_COPY_FORMATS, plan_text_copy

__all__ = ["LANGS", "PreparedQuery", "job_application_name", "prepare", "result_stream"]

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
    binary2_sql: bool = True  # let PostgreSQL write BINARY2 rows when it can
    binary2_copy: bool = True  # read BINARY2 results through binary COPY when it can
    text_copy: bool = True  # let COPY write CSV/TSV/JSON rows when it can
    #: ``(catalog, SQL of the query's shape)``: where the result column types are
    #: remembered (string literals do not change them); None: not cached
    types_key: tuple[Catalog, str] | None = None
    #: the DataLink {links} URL: VOTable results with product ids carry its descriptor
    datalink: str | None = None


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
        tr, shape = _translate(query, catalog, maxrec, upload_fields, config)
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
        timeout_s=config.sync_execution if timeout_s is None else timeout_s,
        run_id=run_id,
        uploads=uploads,
        binary2_sql=config.binary2_sql,
        binary2_copy=config.binary2_copy,
        text_copy=config.text_copy,
        # uploads are temporary tables whose column types differ per request
        types_key=None if uploads else (catalog, shape),
    )


class _CatalogLRU:
    """A bounded, thread-safe memo whose entries belong to one catalog object: a catalog
    re-read (every 30 s at most, e.g. after a migration) starts afresh, and a new catalog
    that reuses a dead one's ``id()`` cannot see its entries."""

    def __init__(self, size: int = 512) -> None:
        self._items: OrderedDict[tuple[int, Any], tuple[Catalog, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, catalog: Catalog, key: Any, default: Any = None) -> Any:
        with self._lock:
            hit = self._items.get((id(catalog), key))
            if hit is None or hit[0] is not catalog:
                return default
            self._items.move_to_end((id(catalog), key))
            return hit[1]

    def put(self, catalog: Catalog, key: Any, value: Any) -> None:
        with self._lock:
            self._items[(id(catalog), key)] = (catalog, value)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_TRANSLATIONS = _CatalogLRU()
_TEMPLATES = _CatalogLRU()
_RESULT_TYPES = _CatalogLRU()
_NO_TEMPLATE = object()


def _translate(
    query: str,
    catalog: Catalog,
    maxrec: int,
    uploads: Mapping[str, Any],
    config: TapConfig | None = None,
) -> tuple[Any, str]:
    """Translate, remembering recent results: clients repeat queries (TOPCAT refreshes,
    pyvo loops) and ask the same question about different things (queries that differ
    only in string literals share a template, see :mod:`tap.adql.literals`); translation
    (2-3 ms) is the largest cost of a small query. Queries with uploads are not cached
    (their tables differ per request).

    Returns the translation and the SQL of its shape (the template's, when one served).
    A translation runs within the complexity budget and the deadline of ``config``
    (:mod:`tap.adql.budget`); cache hits cost neither.
    """
    config = config or TapConfig()
    budget = config.query_budget

    def translate(text: str, catalog: Catalog, **options: Any) -> Any:
        with deadline(config.translate_seconds):
            return _adql_translate(text, catalog, budget=budget, **options)

    if uploads:
        tr = translate(query, catalog, maxrec=maxrec, uploads=uploads)
        return tr, tr.sql
    hit = _TRANSLATIONS.get(catalog, (query, maxrec))
    if hit is not None:
        return hit
    split = split_literals(query)
    result = None
    if split is not None:
        template = _TEMPLATES.get(catalog, (split.template, maxrec))
        if template is None:
            try:
                template = translate(split.template, catalog, maxrec=maxrec)
            except ADQLError:
                template = _NO_TEMPLATE
            if template is not _NO_TEMPLATE and not usable(template, split):
                template = _NO_TEMPLATE
            _TEMPLATES.put(catalog, (split.template, maxrec), template)
        if template is not _NO_TEMPLATE:
            result = (fill(template, split.values), template.sql)
    if result is None:
        tr = translate(query, catalog, maxrec=maxrec)
        result = (tr, tr.sql)
    _TRANSLATIONS.put(catalog, (query, maxrec), result)
    return result


#: Results of a query shape that never had more rows than this are written by Python:
#: for them the BINARY2 rewrite costs PostgreSQL more (~0.6 ms to parse and plan the
#: wrapped query) than it saves. The first run of each shape uses the rewrite.
SMALL_RESULT = 1000
_SHAPE_ROWS = _CatalogLRU()


def _small_shape(key: tuple[Catalog, str] | None) -> bool:
    """Whether every earlier result of this query shape was small (see SMALL_RESULT)."""
    if key is None:
        return False
    most = _SHAPE_ROWS.get(*key)
    return most is not None and most < SMALL_RESULT


def _remember_rows(key: tuple[Catalog, str] | None, rows: int | None) -> None:
    if key is not None and rows is not None:
        _SHAPE_ROWS.put(*key, max(rows, _SHAPE_ROWS.get(*key, 0)))


def _known_types(key: tuple[Catalog, str] | None) -> tuple[int, ...] | None:
    """Result column types described for an earlier run of the same SQL."""
    return None if key is None else _RESULT_TYPES.get(*key)


def _remember_types(key: tuple[Catalog, str] | None, types: tuple[int, ...] | None) -> None:
    if key is not None and types is not None:
        _RESULT_TYPES.put(*key, types)


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


def binary2_rewrite(
    sql: str, fields: Sequence[Any], *, copy: bool, in_sql: bool
) -> tuple[Callable[[tuple[int, ...]], str | CopyQuery | None], list[Callable[[Any], bytes]]]:
    """The ``QueryPlan.rewrite`` that lets PostgreSQL help write BINARY2, and the list
    that receives the row encoder going with the query it chose.

    Binary COPY first (``copy``; the cheapest output PostgreSQL has, needs the compiled
    transcoder), else rows written in SQL (``in_sql``); either declines column types it
    does not know, and then the rows are encoded in Python (the list stays empty).
    """
    encoders: list[Callable[[Any], bytes]] = []

    def rewrite(oids: tuple[int, ...]) -> str | CopyQuery | None:
        if copy:
            planned_copy = plan_binary2_copy(sql, fields, oids)
            if planned_copy is not None:
                encoders.append(encoded_bytes)
                return CopyQuery(planned_copy.sql, planned_copy.decoder)
        if in_sql:
            planned = plan_binary2_sql(sql, fields, oids)
            if planned is not None:
                encoders.append(planned.assemble)
                return planned.sql
        return None

    return rewrite, encoders


def text_rewrite(
    fmt: str, sql: str, fields: Sequence[Any]
) -> tuple[Callable[[tuple[int, ...]], CopyQuery | None], list[Callable[[Any], bytes]]]:
    """The ``QueryPlan.rewrite`` that lets COPY write the rows of a CSV, TSV or JSON
    result (:mod:`tap.votable.text_copy`), and the list that receives its row encoder
    (empty when a column type is left to Python)."""
    encoders: list[Callable[[Any], bytes]] = []

    def rewrite(oids: tuple[int, ...]) -> CopyQuery | None:
        planned = plan_text_copy(fmt, sql, fields, oids)
        if planned is None:
            return None
        encoders.append(planned.encode)
        return CopyQuery(planned.sql)

    return rewrite, encoders


def job_application_name(job_id: str) -> str:
    """The ``application_name`` of an async job's query backend."""
    return f"provdb-job-{job_id}"


def result_stream(
    prepared: PreparedQuery,
    connect: Callable[[], Any],
    *,
    role: str | None,
    on_pid: Callable[[int], None] | None = None,
    status: dict[str, Any] | None = None,
    application_name: str | None = None,
    slot: SlotClaim | None = None,
    writer: Callable[..., Iterator[bytes]] | None = None,
) -> Iterator[bytes]:
    """Encode the result of ``prepared``; ``status`` receives rows/overflow/error.

    ``slot``: the client's concurrent-query slot, taken in the query's transaction
    (its refusal raises before the first byte).

    ``application_name`` labels the query's backend in ``pg_stat_activity`` (async jobs:
    :func:`job_application_name`), so it can be cancelled after its process died.
    ``writer`` replaces the format's writer (same call as ``OutputFormat.writer``):
    :func:`tap.query.rows.result_rows` keeps the rows as values instead of bytes.
    """
    plan = QueryPlan(
        sql=prepared.sql,
        timeout_s=prepared.timeout_s,
        role=role,
        uploads=prepared.uploads,
        application_name=application_name,
        slot=slot,
    )
    # a writer of its own (the UI's rows) takes the database's rows as values: no rewrite
    # that makes PostgreSQL encode them
    if writer is not None:
        pass
    elif (
        (prepared.binary2_sql or prepared.binary2_copy)
        and prepared.format.serialization == "binary2"
        and not _small_shape(prepared.types_key)
    ):
        rewrite, row_encoder = binary2_rewrite(
            prepared.sql, prepared.fields, copy=prepared.binary2_copy, in_sql=prepared.binary2_sql
        )
        plan.rewrite = rewrite
        # a repeated query skips the describe round trip
        plan.result_types = _known_types(prepared.types_key)
    elif prepared.text_copy and prepared.format.name in TEXT_COPY_FORMATS:
        rewrite, row_encoder = text_rewrite(prepared.format.name, prepared.sql, prepared.fields)
        plan.rewrite = rewrite
        plan.result_types = _known_types(prepared.types_key)
    rows = stream_rows(connect, plan, on_pid=on_pid)
    # Run the query before the first byte is written: errors at execution start (bad
    # casts, timeouts, cancellations) then raise here and get a proper error document
    # and HTTP status instead of a trailing QUERY_STATUS=ERROR.
    first = next(rows, None)
    _remember_types(prepared.types_key, plan.result_types)
    # a full first batch: more may follow, fetched while this one is encoded and sent
    source: Iterator[list[tuple]] = (
        ReadAhead(rows) if first is not None and len(first) >= plan.batch else rows
    )
    try:
        batches = _bounded(
            itertools.chain([first] if first else [], source),
            prepared.limit,
            prepared.overflow_possible,
        )
        options: dict[str, Any] = {}
        if plan.rewritten:
            options["row_encoder"] = row_encoder[0]
        if prepared.datalink and prepared.format.is_votable:
            options["datalink"] = prepared.datalink
        stream = (writer or prepared.format.writer)(
            prepared.fields, batches, overflow_after=prepared.limit, query=prepared.query, **options
        )
        yield from stream
    finally:
        source.close()  # type: ignore[attr-defined]
    result = getattr(stream, "result", None)
    _remember_rows(prepared.types_key, getattr(result, "rows", None))
    if status is not None:
        status.update(
            {
                "rows": getattr(result, "rows", None),
                "overflow": getattr(result, "overflow", None),
                "error": getattr(result, "error", None),
            }
        )


# keep QueryError importable from here for the blueprints
_ = QueryError
