"""Find files, skip what is already ingested, parse -> map -> load, one transaction per file.

Guarantees (each has a test):

* **atomic per file**: a file's rows, rejects and bookkeeping commit together or not
  at all; a crash or an error leaves the archive as it was;
* **idempotent and incremental**: an unchanged file is skipped from its size and mtime;
  a grown lstosa ``prov.log`` is read on from the offset reached last time, after
  checking the sha256 of the part already read; a changed file is read again from the
  start (ids are stable, so nothing is duplicated);
* **one ingest per file at a time**: a transaction-scoped advisory lock on the path
  serialises concurrent ``provdb ingest`` processes on the same file;
* **bad input loses nothing**: every rejected line is kept verbatim in
  ``archive.ingest_reject`` with its file and line, and reported as ``FILE:LINE: reason``;
  a line of an lstosa log that is neither provenance nor a logger diagnostic
  (``<LEVEL> ...``, e.g. ``WARNING provLogger ...``) is garbage and rejected too;
* **conflicts are kept**: a value that differs from what the archive holds (the first
  sighting wins) is counted and stored in ``archive.ingest_conflict``.

:class:`FileResult` says what happened: where a grown file was read on from, why a
changed file was read again from the start, what torn tail was left for later.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg

from provdb import __version__, obscore
from provdb.answers import flags
from provdb.config import ingest_limits
from provdb.errors import IngestError, ParseError, ProvdbError
from provdb.ingest import ctapipe_json, lstosa, w3c_prov
from provdb.ingest.compression import iter_lines, open_binary
from provdb.ingest.discovery import discover
from provdb.ingest.load import Loader
from provdb.ingest.lstosa.map import LstosaMapper
from provdb.ingest.raw_text import raw_text
from provdb.ingest.records import (
    LstosaUnknown,
    NonProvenanceLine,
    OversizedLine,
    RejectedLine,
)
from provdb.versions import sync_session_versions

__all__ = ["FORMATS", "FileResult", "detect_format", "discover", "ingest_file"]

#: Formats ``provdb ingest --format`` accepts.
FORMATS = ("lstosa", "ctapipe", "prov-json", "prov-xml", "prov-n")

_HEAD = 64 * 1024

#: A logger diagnostic in an lstosa/logprov log: ``<LEVEL> ...`` as Python's logging
#: writes it (lstosa: ``WARNING provLogger ...``; logprov: ``DEBUG ...``). Other lines
#: without the provenance prefix are garbage, rejected.
_DIAGNOSTIC = re.compile(r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|NOTSET)\b")
_GARBAGE = (
    "neither a provenance record nor a log diagnostic ('<LEVEL> ...', e.g. "
    "'WARNING provLogger ...'): a foreign or damaged line"
)


@dataclass
class FileResult:
    """What ingesting one file did."""

    path: str
    format: str | None = None
    #: new | grown | unchanged | changed | partial | failed | dry-run | skipped
    status: str = "new"
    records: Counter[str] = field(default_factory=Counter)
    rejects: int = 0
    other_lines: int = 0
    inserted: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    bytes_read: int = 0
    seconds: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: distinct attribute values that differ from the archive's (kept in ingest_conflict)
    conflicts: int = 0
    #: grown file: (byte offset, line number) it was read on from
    resumed_at: tuple[int, int] | None = None
    #: changed file: why it was read again from the start
    restart_reason: str | None = None
    #: partial file: (line number, bytes) of the torn last line left for the next run
    torn_tail: tuple[int, int] | None = None
    #: lines read in this run (lstosa logs)
    lines: int = 0

    @property
    def n_records(self) -> int:
        return sum(self.records.values())


# ----------------------------------------------------------------------------- discovery


def open_source(path: Path) -> IO[bytes]:
    """Open a source file for binary reading, decompressing gzip/bzip2/xz (by magic bytes)."""
    return open_binary(path)[0]


def read_head(path: Path) -> bytes:
    """The first bytes of a file, decompressed if it is gzip/bzip2/xz."""
    with open_source(path) as fh:
        return fh.read(_HEAD)


def detect_format(path: Path) -> str | None:
    """Format of ``path`` from its content, or ``None`` if provdb cannot read it."""
    try:
        head = read_head(path)
    except (OSError, EOFError, ValueError):
        return None
    if not head.strip():
        return None
    if ctapipe_json.detect(head):
        return "ctapipe"
    w3c = w3c_prov.detect(head)
    if w3c:
        return w3c
    if lstosa.detect(head):
        return "lstosa"
    return None


# ----------------------------------------------------------------------------- hashing


#: Escapes through which a Python literal can hold a NUL character, which PostgreSQL
#: text and jsonb cannot store (a raw NUL byte already makes the line unparsable).
_NUL_ESCAPE = re.compile(rb"\\(?:x00|0|u0000|U00000000|N\{)")


class _HashingLines:
    """Iterate a binary stream's lines while hashing exactly the complete lines read.

    Also remembers, by line number, the few lines that may decode to a NUL character
    (``suspects``): the caller checks their records and rejects them, as PostgreSQL
    would refuse the whole file's transaction otherwise.
    """

    def __init__(
        self, fh: IO[bytes], hasher: Any, start_line: int = 1, max_line_bytes: int = 16 << 20
    ) -> None:
        self.fh = fh
        self.max_line_bytes = max_line_bytes
        #: length of the line yielded last (the parser's current item comes from it)
        self.last_length = 0
        self.last_line = b""
        self.hasher = hasher
        self.bytes = 0
        self.line = start_line
        self.suspects: dict[int, bytes] = {}

    def __iter__(self) -> Iterator[bytes]:
        nul = _NUL_ESCAPE.search
        # iter_lines hashes the complete lines (self.hasher) and caps each line's length
        for line in iter_lines(self.fh, self.max_line_bytes, self):
            self.last_line = line
            self.last_length = len(line)
            if line.__class__ is OversizedLine:
                self.bytes += line.size  # type: ignore[attr-defined]
                self.line += 1
            elif line.endswith(b"\n"):
                self.bytes += len(line)
                if b"\\" in line and nul(line):
                    self.suspects[self.line] = line
                self.line += 1
            yield line


def _has_nul(value: Any) -> bool:
    """Whether a parsed record holds a NUL character anywhere (keys and values)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    if dataclasses.is_dataclass(value):
        return any(_has_nul(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def _wide_field(record: Any, limit: int) -> str | None:
    """Name of a top-level text field of ``record`` longer than ``limit`` UTF-8 bytes."""
    if not dataclasses.is_dataclass(record):
        return None
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, str) and len(value) > limit // 4 and len(value.encode()) > limit:
            return f.name
    return None


def _hash_prefix(fh: IO[bytes], length: int) -> tuple[Any, int]:
    """sha256 object over the first ``length`` bytes of ``fh`` (which is left there), and
    how many bytes there were (fewer than ``length`` if the file is now shorter)."""
    hasher = hashlib.sha256()
    remaining = length
    while remaining > 0:
        chunk = fh.read(min(remaining, 1 << 20))
        if not chunk:
            break
        hasher.update(chunk)
        remaining -= len(chunk)
    return hasher, length - remaining


# ----------------------------------------------------------------------------- ingest

Progress = Callable[[int, int], None]  # (bytes advanced, records advanced)


def _bookkeeping(cur: Any, path: str) -> dict[str, Any] | None:
    cur.execute(
        "SELECT id, format, size_bytes, mtime, offset_reached, checksum, lines_read, status, "
        "state FROM archive.ingest_file WHERE path = %s FOR UPDATE",
        (path,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    keys = (
        "id",
        "format",
        "size_bytes",
        "mtime",
        "offset_reached",
        "checksum",
        "lines_read",
        "status",
        "state",
    )
    return dict(zip(keys, row, strict=True))


def ingest_file(
    conn: Any,
    path: Path,
    *,
    format: str | None = None,
    model: Any | None = None,
    timezone: str = "UTC",
    strict: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    on_reject: Callable[[str], None] | None = None,
) -> FileResult:
    """Ingest one file in one transaction on the psycopg connection ``conn``.

    Parameters
    ----------
    conn:
        psycopg 3 connection (autocommit off); committed or rolled back here.
    path:
        The source file.
    format:
        One of :data:`FORMATS`; detected from the content when ``None``.
    model:
        lstosa definition model whose descriptions are linked (lstosa logs only).
    timezone:
        IANA zone of lstosa's naive local times.
    strict:
        Refuse the whole file if any line is rejected.
    dry_run:
        Parse and count, write nothing.
    progress:
        Called with (bytes, records) increments while reading.
    on_reject:
        Called with ``"FILE:LINE: reason"`` for every rejected line.

    Returns
    -------
    FileResult
        Counts and status; ``status == "failed"`` with ``error`` set when the file was
        refused (nothing of it kept).
    """
    started = time.perf_counter()
    spath = str(path)
    result = FileResult(path=spath)
    loader: Loader | None = None
    try:
        fmt = format or detect_format(path)
        if fmt is None:
            raise ParseError(
                spath,
                None,
                "not a provenance file provdb can read (lstosa "
                "prov.log, ctapipe provenance log, PROV-JSON/XML/N): use "
                "--format to force one",
            )
        if fmt not in FORMATS:
            raise ParseError(spath, None, f"unknown format {fmt!r}")
        result.format = fmt
        stat = path.stat()
        with conn.cursor() as cur:
            # One ingest per file at a time, across processes.
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (spath,))
            book = _bookkeeping(cur, spath)
            if (
                book is not None
                and book["format"] == fmt
                and book["status"] == "complete"
                and book["size_bytes"] == stat.st_size
                and book["mtime"] == stat.st_mtime
            ):
                result.status = "unchanged"
                conn.rollback()
                return result
            # the background writer COPYs one batch while the next one is parsed: the
            # database work runs on the second core (see bench/README.md)
            loader = Loader(conn, source_format=fmt, background=True)
            if fmt == "lstosa":
                info = _ingest_lstosa(
                    cur,
                    loader,
                    path,
                    book,
                    result,
                    model=model,
                    timezone=timezone,
                    progress=progress,
                    on_reject=on_reject,
                    dry_run=dry_run,
                )
            else:
                info = _ingest_document(
                    loader, path, fmt, result, book, progress=progress, dry_run=dry_run
                )
            if strict and result.rejects:
                raise IngestError(
                    f"{spath}: {result.rejects} line(s) rejected and --strict given: "
                    "nothing of this file was ingested"
                )
            if dry_run:
                result.status = "dry-run"
                _stop_writer(loader)
                conn.rollback()
                return result
            loader.finish()
            # software versions of this file's sessions, for archive.product_version (only
            # those: every session of the archive was 6 s a night at 200 nights)
            sync_session_versions(cur, sorted(loader.session_ids))
            # product flags of what this file touched (needs the closure and the versions)
            flags.update_flags(cur)
            # ivoa.obscore rows of the same entities (needs their flags and versions)
            obscore.refresh_touched(cur)
            result.inserted, result.known = loader.inserted, loader.known
            result.seconds = time.perf_counter() - started
            _save_bookkeeping(cur, spath, fmt, stat, info, result, book)
            _save_rejects(cur, info["file_id"], info["rejects"], loader)
            result.conflicts = loader.save_conflicts(cur, info["file_id"])
            loader.save_sources(cur, info["file_id"])
        conn.commit()
    except (ProvdbError, OSError, EOFError, ValueError) as exc:
        _stop_writer(loader)
        conn.rollback()
        result.status = "failed"
        result.error = str(exc) if isinstance(exc, ProvdbError) else f"{spath}: {exc}"
    except psycopg.DataError as exc:
        # a value PostgreSQL cannot store (e.g. a NUL character in a document): the
        # file is refused whole, the next files go on
        _stop_writer(loader)
        conn.rollback()
        result.status = "failed"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        result.error = f"{spath}: the database refused a value of this file: {detail}"
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise  # the database went away: no later file can be ingested either
        # e.g. ProgramLimitExceeded (a value too large for an index): refuse this file
        _stop_writer(loader)
        conn.rollback()
        result.status = "failed"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        result.error = f"{spath}: the database refused this file: {detail}"
    except (RecursionError, MemoryError) as exc:
        # a document nested too deeply, or one that does not fit in memory: this file
        # only; the memory of its half-built rows is released with them
        _stop_writer(loader)
        conn.rollback()
        result.status = "failed"
        what = (
            "nested too deeply to be read (RecursionError)"
            if isinstance(exc, RecursionError)
            else "too large to be read in memory (MemoryError)"
        )
        result.error = f"{spath}: {what}: nothing of it was ingested"
    except Exception as exc:
        # any other failure stays within this file: report it and go on with the next
        _stop_writer(loader)
        conn.rollback()
        result.status = "failed"
        result.error = f"{spath}: unexpected {type(exc).__name__}: {exc}"
    except BaseException:
        _stop_writer(loader)
        conn.rollback()
        raise
    finally:
        result.seconds = time.perf_counter() - started
    return result


def _stop_writer(loader: Loader | None) -> None:
    """Wait for the loader's background write before a rollback (its error is superseded:
    the file is refused anyway, and a write still running would escape the rollback)."""
    if loader is not None:
        with contextlib.suppress(BaseException):
            loader.close()


def _ingest_lstosa(
    cur: Any,
    loader: Loader,
    path: Path,
    book: dict[str, Any] | None,
    result: FileResult,
    *,
    model: Any,
    timezone: str,
    progress: Progress | None,
    on_reject: Callable[[str], None] | None,
    dry_run: bool,
) -> dict[str, Any]:
    spath = str(path)
    start_offset, start_line, state = 0, 1, None
    limits = ingest_limits()
    fh = open_source(path)
    try:
        hasher = hashlib.sha256()
        resumed = False
        if book is not None and book["format"] == "lstosa" and book["offset_reached"]:
            reached = book["offset_reached"]
            prefix, present = _hash_prefix(fh, reached)
            if present == reached and prefix.hexdigest() == book["checksum"]:
                start_offset, start_line = reached, book["lines_read"] + 1
                state, hasher = book["state"], prefix
                result.status = "grown"
                result.resumed_at = (start_offset, start_line)
                resumed = True
            else:
                fh.seek(0)
                result.status = "changed"
                result.restart_reason = (
                    f"sha256 of the first {reached:,} bytes differs from the last ingest"
                    if present == reached
                    else f"the file has {present:,} bytes, fewer than the {reached:,} read "
                    "last time (truncated or replaced)"
                )
        elif book is not None:
            result.status = "changed"
            result.restart_reason = (
                f"it was read as {book['format']} last time"
                if book["format"] != "lstosa"
                else "nothing of it was committed last time"
            )
        if model is not None and not dry_run:
            for row in model_rows(model):
                loader.add(row)
        mapper = LstosaMapper(path=spath, timezone=timezone, model=model, state=state)
        lines = _HashingLines(fh, hasher, start_line, limits.max_line_bytes)
        max_field = limits.max_field_bytes
        suspects = lines.suspects
        reader = lstosa.parse_lines(
            lines, path=spath, start_line=start_line, start_offset=start_offset
        )
        rejects: list[tuple[int, int, str, bool, bytes]] = []
        records = result.records
        last_bytes, n_since = 0, 0
        add = loader.add
        diagnostic = _DIAGNOSTIC.match
        first = True
        for item in reader:
            kind = type(item)
            if first and reader.format_name in ("logprov", "run-wise"):
                # sessions remember their origin: run-wise products repeat, at run level,
                # what the raw prov.log holds at subrun level
                loader.source_format = f"lstosa-{reader.format_name}"
            first = False
            if kind is NonProvenanceLine:
                if diagnostic(item.text):
                    result.other_lines += 1
                    continue
                # garbage: kept and reported like any rejected line
                result.rejects += 1
                if on_reject:
                    on_reject(f"{spath}:{item.pos.line}: {_GARBAGE}")
                rejects.append((item.pos.line, item.pos.offset, _GARBAGE, True, item.raw))
                continue
            if kind is RejectedLine:
                result.rejects += 1
                message = f"{spath}:{item.pos.line}: {item.reason}"
                if on_reject:
                    on_reject(message)
                rejects.append((item.pos.line, item.pos.offset, item.reason, True, item.raw))
                continue
            if suspects:
                suspect = suspects.pop(item.pos.line, None)
                for done in [n for n in suspects if n < item.pos.line]:
                    del suspects[done]  # lines of diagnostics or rejects: nothing to check
                if suspect is not None and _has_nul(item):
                    # PostgreSQL text cannot hold NUL: reject the line, not the whole file
                    result.rejects += 1
                    reason = "a value holds a NUL character, which the archive cannot store"
                    if on_reject:
                        on_reject(f"{spath}:{item.pos.line}: {reason}")
                    raw = suspect[:-2] if suspect.endswith(b"\r\n") else suspect[:-1]
                    rejects.append((item.pos.line, item.pos.offset, reason, True, raw))
                    continue
            if lines.last_length > max_field and (wide := _wide_field(item, max_field)):
                # a value PostgreSQL cannot index (ids, paths and names are): this line
                # only, not the whole file's transaction
                result.rejects += 1
                reason = (
                    f"field {wide!r} is longer than {max_field:,} bytes "
                    "(PROVDB_INGEST_MAX_FIELD_BYTES): the archive cannot index it"
                )
                if on_reject:
                    on_reject(f"{spath}:{item.pos.line}: {reason}")
                raw = lines.last_line.rstrip(b"\r\n")
                rejects.append((item.pos.line, item.pos.offset, reason, True, raw))
                continue
            records[kind.__name__.removeprefix("Lstosa")] += 1
            if kind is LstosaUnknown:
                rejects.append(
                    (
                        item.pos.line,
                        item.pos.offset,
                        "record of an unknown kind (kept, not an error): keys "
                        + ", ".join(map(str, item.payload)),
                        False,
                        repr(item.payload).encode(),
                    )
                )
                continue
            if not dry_run:
                loader.line = item.pos.line  # for conflict reports
                for row in mapper.feed(item):
                    add(row)
            n_since += 1
            if progress and n_since >= 2000:
                progress(lines.bytes - last_bytes, n_since)
                last_bytes, n_since = lines.bytes, 0
        if progress:
            progress(lines.bytes - last_bytes, n_since)
        result.bytes_read = lines.bytes
        result.lines = reader.next_line - start_line
        if resumed and lines.bytes == 0:
            result.status = "unchanged"  # touched (new mtime), not grown
        if reader.torn_tail:
            result.status = "partial"
            result.torn_tail = (reader.next_line, len(reader.torn_tail))
        return {
            "offset": reader.offset_reached,
            "lines": reader.next_line - 1,
            "checksum": lines.hasher.hexdigest(),
            "state": mapper.state(),
            "complete": not reader.torn_tail,
            "rejects": rejects,
            "file_id": None,
            "resumed": resumed,
            "restarted": book is not None and not resumed,
        }
    finally:
        fh.close()


def model_rows(model: Any) -> list[Any]:
    """Every description row of an lstosa definition model."""
    return [
        *model.activity_descriptions,
        *model.entity_descriptions,
        *model.usage_descriptions,
        *model.generation_descriptions,
        *model.parameter_descriptions,
    ]


def _ingest_document(
    loader: Loader,
    path: Path,
    fmt: str,
    result: FileResult,
    book: dict[str, Any] | None,
    *,
    progress: Progress | None,
    dry_run: bool,
) -> dict[str, Any]:
    data_hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            data_hasher.update(chunk)
    size = path.stat().st_size
    info = {
        "offset": size,
        "lines": 0,
        "checksum": data_hasher.hexdigest(),
        "state": None,
        "complete": True,
        "rejects": [],
        "file_id": None,
        "resumed": False,
        "restarted": book is not None,
    }
    if book is not None:
        if book["format"] == fmt and book["checksum"] == info["checksum"]:
            # touched (new mtime), same bytes: nothing to read again
            result.status = "unchanged"
            info["resumed"] = True  # keep the counts of the earlier read
            return info
        result.status = "changed"
        result.restart_reason = (
            "sha256 of the file differs from the last ingest (a document is read whole)"
            if book["format"] == fmt
            else f"it was read as {book['format']} last time"
        )
    rows = (
        ctapipe_json.parse_file(path)
        if fmt == "ctapipe"
        else w3c_prov.parse_file(path, format=fmt, warnings=result.warnings)
    )
    n = 0
    for row in rows:
        result.records[type(row).__name__.removesuffix("Row")] += 1
        n += 1
        if not dry_run:
            loader.add(row)
    if progress:
        progress(size, n)
    result.bytes_read = size
    return info


def _save_bookkeeping(
    cur: Any,
    spath: str,
    fmt: str,
    stat: os.stat_result,
    info: dict[str, Any],
    result: FileResult,
    book: dict[str, Any] | None,
) -> None:
    import json

    status = "complete" if info["complete"] else "partial"
    records = dict(result.records)
    cur.execute(
        """
        INSERT INTO archive.ingest_file AS f (path, format, size_bytes, mtime, offset_reached,
            checksum, lines_read, records, n_records, n_rejects, n_other_lines, status, state,
            duration_s, provdb_version)
        VALUES (%(path)s, %(format)s, %(size)s, %(mtime)s, %(offset)s, %(checksum)s, %(lines)s,
            %(records)s::jsonb, %(n_records)s, %(n_rejects)s, %(n_other)s, %(status)s,
            %(state)s::jsonb, %(duration)s, %(version)s)
        ON CONFLICT (path) DO UPDATE SET
            format = EXCLUDED.format, size_bytes = EXCLUDED.size_bytes,
            mtime = EXCLUDED.mtime, offset_reached = EXCLUDED.offset_reached,
            checksum = EXCLUDED.checksum, lines_read = EXCLUDED.lines_read,
            records = CASE WHEN %(resumed)s THEN (
                SELECT coalesce(jsonb_object_agg(k, coalesce((f.records->>k)::bigint, 0)
                    + coalesce((EXCLUDED.records->>k)::bigint, 0)), '{}'::jsonb)
                FROM (SELECT jsonb_object_keys(f.records) AS k
                      UNION SELECT jsonb_object_keys(EXCLUDED.records)) keys)
                ELSE EXCLUDED.records END,
            n_records = CASE WHEN %(resumed)s THEN f.n_records + EXCLUDED.n_records
                ELSE EXCLUDED.n_records END,
            n_rejects = CASE WHEN %(resumed)s THEN f.n_rejects + EXCLUDED.n_rejects
                ELSE EXCLUDED.n_rejects END,
            n_other_lines = CASE WHEN %(resumed)s THEN f.n_other_lines + EXCLUDED.n_other_lines
                ELSE EXCLUDED.n_other_lines END,
            status = EXCLUDED.status, state = EXCLUDED.state,
            last_ingest = (now() at time zone 'utc'), duration_s = EXCLUDED.duration_s,
            provdb_version = EXCLUDED.provdb_version
        RETURNING id
        """,
        {
            "path": spath,
            "format": fmt,
            "size": stat.st_size,
            "mtime": stat.st_mtime,
            "offset": info["offset"],
            "checksum": info["checksum"],
            "lines": info["lines"],
            "records": json.dumps(records),
            "n_records": result.n_records,
            "n_rejects": result.rejects,
            "n_other": result.other_lines,
            "status": status,
            "state": json.dumps(info["state"]) if info["state"] is not None else None,
            "duration": result.seconds,
            "version": __version__,
            "resumed": info["resumed"],
        },
    )
    file_id = cur.fetchone()[0]
    info["file_id"] = file_id
    if info["restarted"]:
        # the file was read again from the start: its old rejects and conflicts are superseded
        cur.execute("DELETE FROM archive.ingest_reject WHERE ingest_file_id = %s", (file_id,))
        cur.execute("DELETE FROM archive.ingest_conflict WHERE ingest_file_id = %s", (file_id,))


def _save_rejects(cur: Any, file_id: int, rejects: list[tuple], loader: Loader) -> None:
    if not rejects:
        return
    with cur.copy(
        "COPY archive.ingest_reject (ingest_file_id, line_number, byte_offset, reason, "
        "is_error, raw, raw_text) FROM STDIN"
    ) as cp:
        for line, offset, reason, is_error, raw in rejects:
            cp.write_row((file_id, line, offset, reason, is_error, raw, raw_text(raw)))
