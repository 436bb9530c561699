"""Run a translated query: read-only, time-limited, as the reader role, streamed.

Each query runs in its own transaction, on a connection no other query uses meanwhile
(``/sync`` takes it from :class:`tap.db.ConnectionPool`, which reuses it only once the
transaction has ended):

* ``BEGIN READ ONLY`` (unless uploads must be written into temporary tables first),
  ``SET LOCAL ROLE provdb_tap_reader`` (SELECT on published tables only),
  ``SET LOCAL statement_timeout`` = the execution duration and ``DateStyle`` ISO, and
  (``QueryPlan.slot``) one of the client's concurrent-query slots, all in one round
  trip (statements of ours, never the query's: it is always sent alone);
* rows are streamed in chunks of ``QueryPlan.batch`` (libpq's chunked rows mode), so
  memory stays constant whatever the result size, and a small result costs one round
  trip (a server-side cursor cost four: declare, describe, fetch, close);
* optionally (``QueryPlan.rewrite``) the query is first described (parse only, no
  planning: one round trip) and, given its result column types, replaced by another
  query whose rows are fetched in binary format (this is how PostgreSQL gets to write
  BINARY2 rows itself, :mod:`tap.votable.binary2_sql`), or by a :class:`CopyQuery`: a
  binary ``COPY ... TO STDOUT`` whose data a decoder turns into row batches
  (:mod:`tap.votable.binary2_copy`). COPY streams the whole result at the pace the
  reader takes it (memory stays constant) and is the cheapest output PostgreSQL has;
* the backend pid is reported before the query starts, so an abort can cancel it.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import selectors
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg import pq
from psycopg import sql as pgsql
from psycopg.pq import TransactionStatus

from tap.errors import QueryError, Unavailable
from tap.query.copy_drain import drainer
from tap.votable.binary2_copy import EncodedRows

log = logging.getLogger(__name__)

__all__ = [
    "CopyQuery",
    "QueryCancelled",
    "QueryPlan",
    "SlotClaim",
    "UploadTable",
    "result_types",
    "stream_rows",
]


class QueryCancelled(QueryError):
    """The query ran past its execution duration, or an abort cancelled it."""


@dataclass
class UploadTable:
    """A user table to create as a temporary table before the query runs."""

    sql_name: str  # bare temporary table name, e.g. 'tap_upload_mine'
    columns: Sequence[tuple[str, str]]  # (column name, PostgreSQL type)
    rows: Iterable[tuple]  # iterated once per run, by COPY


class ChunkDecoder(Protocol):
    """Turns the data chunks of a COPY into row batches (see :class:`CopyQuery`)."""

    def feed(self, chunks: Sequence[Any]) -> Sequence[Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CopyQuery:
    """A query to run as ``COPY (...) TO STDOUT``; ``decoder()`` makes the decoder of one
    run, whose ``feed`` gets the chunks in order and returns the rows they complete, and
    whose ``close`` checks that the data ended where it should.

    With ``decoder=None`` the rows are the COPY's messages themselves (PostgreSQL sends
    one per row): each batch is a list of them (``bytes``-like, each ending with its
    line end), for a writer that takes rows PostgreSQL wrote in its format already
    (:mod:`tap.votable.text_copy`)."""

    sql: str
    decoder: Callable[[], ChunkDecoder] | None = None


@dataclass(frozen=True)
class SlotClaim:
    """One of ``slots`` transaction-level advisory locks ``(key, 0 .. slots-1)``, taken in
    the same round trip as the query's settings and freed by PostgreSQL when its
    transaction ends (see :mod:`tap.clients`); ``refused()`` is the error to raise when
    every one is held."""

    key: int
    slots: int
    refused: Callable[[], Exception]

    def statement(self) -> pgsql.Composed:
        """The statement that takes the first free slot (see :func:`slot_statement`)."""
        return slot_statement(self.key, self.slots)


def slot_statement(key: int, slots: int) -> pgsql.Composed:
    """The statement that takes the first free one of ``slots`` slots of ``key`` (a row)
    or none (no row); LIMIT stops at the first lock taken (generate_series yields
    0..n-1 in order)."""
    return pgsql.SQL(
        "SELECT s FROM generate_series(0, {}) AS s WHERE pg_try_advisory_xact_lock({}, s) LIMIT 1"
    ).format(pgsql.Literal(slots - 1), pgsql.Literal(key))


@dataclass
class QueryPlan:
    sql: str
    timeout_s: int  # 0: unlimited
    role: str | None = None
    uploads: list[UploadTable] = field(default_factory=list)
    batch: int = 5000
    #: given the type OIDs of the result columns, the query to run instead (its rows
    #: fetched in binary format) or a COPY of it, or None to run ``sql``. Only used on a
    #: UTF-8 connection (binary text values are in the client encoding).
    rewrite: Callable[[tuple[int, ...]], str | CopyQuery | None] | None = None
    #: set by :func:`stream_rows`: True when the rewritten query ran
    rewritten: bool = False
    #: shown in pg_stat_activity while the query runs (e.g. ``provdb-job-<id>``), so the
    #: query can be found and cancelled from elsewhere even if this process dies
    application_name: str | None = None
    #: type OIDs of the result columns when already known (a repeated query); else
    #: :func:`stream_rows` fills it in when it describes the query for ``rewrite``
    result_types: tuple[int, ...] | None = None
    #: a client's concurrent-query slot to take in the query's own transaction; none
    #: free: its ``refused()`` error is raised before the query runs
    slot: SlotClaim | None = None


def _friendly(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag and diag.message_primary else str(exc)
    return primary.strip().splitlines()[0]


def result_types(conn: psycopg.Connection, sql: str) -> tuple[int, ...]:
    """Type OIDs of the result columns of ``sql``: parsed and analysed, not planned or run.

    Raises the ``psycopg.Error`` PostgreSQL answers (unknown column, bad cast ...); the
    transaction is then aborted, as it would be by running the query.
    """
    pgconn = conn.pgconn
    encoding = conn.info.encoding
    res = pgconn.prepare(b"", sql.encode(encoding))
    if res.status != pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(res, encoding=encoding)
    res = pgconn.describe_prepared(b"")
    if res.status != pq.ExecStatus.COMMAND_OK:
        raise psycopg.errors.error_from_result(res, encoding=encoding)
    return tuple(res.ftype(i) for i in range(res.nfields))


def stream_rows(
    conninfo: str | Callable[[], psycopg.Connection],
    plan: QueryPlan,
    *,
    on_pid: Callable[[int], None] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """Yield row batches of ``plan.sql``; the connection closes when the iterator ends.

    Raises
    ------
    QueryError
        The database refused the query or it ran out of time.
    Unavailable
        The database cannot be reached, or the connection was lost (HTTP 503).
    """
    try:
        conn = conninfo() if callable(conninfo) else psycopg.connect(conninfo)
    except psycopg.OperationalError as exc:
        raise Unavailable(f"the archive database is not reachable: {_friendly(exc)}") from None
    closing = False
    try:
        # a for loop, not ``yield from``: the consumer closing this iterator must be told
        # apart from the query failing (see below)
        batches = _run_plan(conn, plan, on_pid)
        for batch in batches:
            try:
                yield batch
            except GeneratorExit:
                closing = True
                batches.close()  # ends the cursor and the transaction now: may fail, below
                raise
    except psycopg.Error as exc:
        if closing:
            # the consumer stopped reading (MAXREC reached, client gone) and the cursor's
            # clean-up failed because the connection died meanwhile: nobody wants these
            # rows, and raising would cut a response that is already complete
            log.info("connection lost while closing a finished query: %s", _friendly(exc))
            return
        # the connection itself failed (server restarted, network): 503, try again;
        # anything else the query did is its own error
        if conn.broken or conn.closed:
            raise Unavailable(
                f"the archive database connection was lost: {_friendly(exc)}; try again"
            ) from None
        raise QueryError(f"the query failed in the database: {_friendly(exc)}") from None
    finally:
        conn.close()


def _run_plan(
    conn: psycopg.Connection, plan: QueryPlan, on_pid: Callable[[int], None] | None
) -> Iterator[list[tuple[Any, ...]]]:
    """The statements of one run on ``conn`` (see :func:`stream_rows`).

    A small query costs three round trips: BEGIN with the session settings (and the
    client's slot), the query itself (its rows streamed in chunks of ``plan.batch``,
    no server-side cursor to declare, describe and close), and COMMIT.
    """
    if on_pid is not None:
        on_pid(conn.info.backend_pid)
    # Our own statements go through libpq directly (``_exec``): they are fixed text, and
    # psycopg's cursor, query conversion and autocommit switching cost more CPU than
    # the one-row query they surround (~60 us). psycopg then sees the transaction open
    # and sends no BEGIN of its own, whatever the connection's autocommit.
    slot = (plan.slot.key, plan.slot.slots) if plan.slot is not None else None
    try:
        if plan.uploads:
            # the uploads' COPY runs under the query's time limit too; a READ ONLY
            # transaction cannot create their temporary tables, so the query is
            # confined by the reader role instead (SET LOCAL ROLE, after them)
            _exec(conn, _setup_sql("BEGIN", None, plan.timeout_s, None, None))
            with conn.cursor() as cur:
                for up in plan.uploads:
                    _create_upload(cur, up)
            setup = _setup_sql(None, plan.role, plan.timeout_s, plan.application_name, slot)
        else:
            setup = _setup_sql(
                "BEGIN READ ONLY", plan.role, plan.timeout_s, plan.application_name, slot
            )
        # one round trip: statements without parameters may be sent together
        res = _exec(conn, setup)
        if plan.slot is not None and res.ntuples == 0:
            raise plan.slot.refused()
        try:
            rewritten: str | CopyQuery | None = None
            if plan.rewrite is not None and conn.info.encoding == "utf-8":
                if plan.result_types is None:
                    plan.result_types = result_types(conn, plan.sql)
                rewritten = plan.rewrite(plan.result_types)
            plan.rewritten = rewritten is not None
            if isinstance(rewritten, CopyQuery):
                yield from _copy_batches(conn, rewritten, plan.batch)
            else:
                yield from _streamed(
                    conn, plan.sql if rewritten is None else rewritten, plan.rewritten, plan.batch
                )
        except psycopg.errors.QueryCanceled:
            raise QueryCancelled(
                f"query cancelled: it ran longer than the execution duration of "
                f"{plan.timeout_s} s, or it was aborted"
            ) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise QueryError(f"not allowed: {_friendly(exc)}") from None
        _exec(conn, b"COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: psycopg.Connection) -> None:
    """End a failed or abandoned run's transaction; a connection that cannot is closed
    (its pool then drops it)."""
    if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
        return
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        conn.close()


def _exec(conn: psycopg.Connection, statements: bytes) -> Any:
    """Run ``statements`` (simple query protocol, one round trip) on ``conn``'s libpq
    connection; returns the last result, raises the ``psycopg.Error`` of a failed one.

    libpq's blocking call releases the GIL while it waits; a cancel request (client
    gone, abort) makes it return the error like any other."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    res = conn.pgconn.exec_(statements)
    if res.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise psycopg.errors.error_from_result(res, encoding=conn.info.encoding)
    return res


@functools.lru_cache(maxsize=1024)
def _setup_sql(
    begin: str | None,
    role: str | None,
    timeout_s: int,
    application_name: str | None,
    slot: tuple[int, int] | None,
) -> bytes:
    """The statements that open a run's transaction (``begin``), confine it (role,
    statement timeout, ISO dates, label) and take the client's slot ``(key, slots)``, as
    one string: built once per combination (roles, timeouts and labels are few, slot
    keys one per client; bounded), not composed again for every query.

    DateStyle ISO whatever the server's default: psycopg cannot read some other styles
    back, and rewritten queries write timestamps with ::text. Only the output changes;
    the input order (MDY/DMY) stays. The slot's statement goes last, so that its row
    (a free slot) or none is the result returned.
    """
    parts = [pgsql.SQL(begin)] if begin else []  # type: ignore[arg-type]
    if role:
        parts.append(pgsql.SQL("SET LOCAL ROLE {}").format(pgsql.Identifier(role)))
    parts.append(
        pgsql.SQL("SET LOCAL statement_timeout = {}").format(
            pgsql.Literal(max(timeout_s, 0) * 1000)
        )
    )
    parts.append(pgsql.SQL("SET LOCAL DateStyle = ISO"))
    if application_name:
        parts.append(
            pgsql.SQL("SET LOCAL application_name = {}").format(pgsql.Literal(application_name))
        )
    if slot is not None:
        parts.append(slot_statement(*slot))
    return pgsql.SQL("; ").join(parts).as_bytes(None)


def _streamed(
    conn: psycopg.Connection, sql: str, binary: bool, batch: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Row batches of ``sql``, streamed in chunks of ``batch`` rows (libpq's chunked rows
    mode): one round trip, and memory bounded by a chunk whatever the result size.

    Closed early (MAXREC reached, client gone), psycopg cancels the query and drains it.
    """
    with conn.cursor(binary=binary) as cur, contextlib.closing(cur.stream(sql, size=batch)) as rows:
        while True:
            chunk = list(itertools.islice(rows, batch))
            if chunk:
                yield chunk
            if len(chunk) < batch:  # a short batch is the last one
                return


def _copy_batches(conn: psycopg.Connection, query: CopyQuery, batch: int) -> Iterator[Any]:
    """Row batches of a COPY: PostgreSQL sends a row per message; ``batch`` messages are
    decoded at a time (one C call for thousands of rows), or handed over as a list
    (``query.decoder`` None).

    The messages are read from libpq directly: psycopg's ``Copy.read()`` costs ~0.5 us
    per row (half the time of the whole COPY), and its blocking read would hold the GIL
    while PostgreSQL computes (this runs in the read-ahead thread). psycopg's ``Copy``
    still starts the COPY and, when the reader stops early, cancels and drains it.
    """
    decoder = query.decoder() if query.decoder is not None else _Messages()
    pgconn = conn.pgconn
    with conn.cursor() as cur, cur.copy(query.sql), selectors.DefaultSelector() as sel:
        sel.register(pgconn.socket, selectors.EVENT_READ)

        def receive() -> None:
            """Wait for the socket (the GIL released) and read what came into libpq."""
            sel.select()
            pgconn.consume_input()

        per_row = query.decoder is None
        drain = drainer() if per_row else None
        if drain is not None:
            # many rows per call (tap/query/copy_drain.py); the batches are EncodedRows
            last = yield from _drained(pgconn.pgconn_ptr, drain, batch, receive)
            _copy_result(conn)
            if len(last):
                yield last
            return
        get = pgconn.get_copy_data
        # a list of the messages (per-row batches), or one buffer of their bytes
        buf: Any = [] if per_row else bytearray()
        add = buf.append if per_row else buf.extend
        count = 0
        while True:
            nbytes, data = get(1)  # 1: never blocks
            if nbytes > 0:
                add(data)
                count += 1
                if count >= batch:
                    rows = decoder.feed(buf if per_row else (buf,))
                    buf, count = ([] if per_row else bytearray()), 0
                    add = buf.append if per_row else buf.extend
                    if len(rows):
                        yield rows
            elif nbytes == 0:  # libpq's buffer is empty
                receive()
            else:  # -1: the end of the data; the COPY's own result follows
                break
        _copy_result(conn)
        rows = decoder.feed(buf if per_row else (buf,))
        decoder.close()
        if len(rows):
            yield rows


def _copy_result(conn: psycopg.Connection) -> None:
    """Wait for the COPY's own result once its data ended; raise the error it reports."""
    pgconn = conn.pgconn
    with selectors.DefaultSelector() as sel:
        sel.register(pgconn.socket, selectors.EVENT_READ)
        while pgconn.is_busy():
            sel.select()
            pgconn.consume_input()
    while (res := pgconn.get_result()) is not None:
        if res.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(res, encoding=conn.info.encoding)


def _drained(
    ptr: int, drain: Any, batch: int, receive: Callable[[], None]
) -> Generator[EncodedRows, None, EncodedRows]:
    """Batches of ``batch`` COPY rows taken by the compiled ``drain``; returns the last,
    shorter batch (sent once the COPY's result is known to be good)."""
    buf, ends, count = bytearray(), bytearray(), 0
    while True:
        data, row_ends, status = drain(ptr, batch - count, len(buf))
        if row_ends:
            buf += data
            ends += row_ends
            count += len(row_ends) // 8
            if count >= batch:
                yield EncodedRows(bytes(buf), bytes(ends))
                buf, ends, count = bytearray(), bytearray(), 0
        if status == 0:  # libpq's buffer is empty
            receive()
        elif status < 0:  # -1: the end of the data, -2: failed (the result says why)
            return EncodedRows(bytes(buf), bytes(ends))


class _Messages:
    """The :class:`ChunkDecoder` of a COPY whose rows are its messages (one per row)."""

    def feed(self, chunks: Sequence[Any]) -> Sequence[Any]:
        return chunks

    def close(self) -> None:
        pass


def _create_upload(cur: psycopg.Cursor, up: UploadTable) -> None:
    cols = pgsql.SQL(", ").join(
        pgsql.SQL("{} {}").format(pgsql.Identifier(name), pgsql.SQL(pgtype))
        for name, pgtype in up.columns
    )
    table = pgsql.Identifier(up.sql_name)
    cur.execute(pgsql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(table, cols))
    with cur.copy(pgsql.SQL("COPY {} FROM STDIN").format(table)) as cp:
        for row in up.rows:
            cp.write_row(row)
    cur.execute(pgsql.SQL("GRANT SELECT ON {} TO PUBLIC").format(table))
