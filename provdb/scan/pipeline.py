"""``provdb scan``: walk data files, read their metadata, record them as entities.

Guarantees (each has a test):

* **one entity per file, shared with the logs**: the entity id is lstosa's md5 of the
  resolved absolute path (:func:`provdb.ingest.identifiers.path_entity_id`), so a
  scanned file and the same file in a ``prov.log`` or a ctapipe log are one entity;
  what the scan observes (size, content type, checksum, metadata under
  ``attributes['scan']``) is added to it, nothing the logs said is lost;
* **incremental**: a file whose size and mtime are those of its last successful scan
  is skipped (``archive.scan_file``); a file that could not be read is tried again;
* **never a crash on a bad file**: unreadable, corrupt or truncated files are reported
  as ``FILE: reason`` and skipped; the rest goes on;
* **atomic per batch**: the files of a batch (entities, software rows, bookkeeping)
  commit together; if the database refuses a batch, its files are written one by one
  so that only the offending file is left out;
* **parallel on request**: ``jobs > 1`` reads metadata in worker processes (``spawn``,
  so no database connection is shared), in order, a bounded number of chunks ahead;
  in every mode a helper thread writes one batch while the next one is read.

Software versions go to ``archive.software`` (one row per file, package and version;
rewritten when the file is rescanned). A ``/provenance/<stage>`` activity found in a
file is mapped like a ctapipe log's (:func:`provdb.ingest.ctapipe_json.map_activity`),
its ``running`` status dropped (a snapshot, not an outcome), and linked to the file by
a generation; its session gets its software rows at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provdb import __version__, obscore
from provdb.answers import flags
from provdb.scan.metadata import FileMetadata, json_text, jsonable

__all__ = [
    "FITS_SUFFIXES",
    "HASHES",
    "HDF5_SUFFIXES",
    "FileOutcome",
    "ScanReport",
    "classify",
    "read_file",
    "scan_files",
]

#: ``--hash`` choices (None: no checksum).
HASHES = ("md5", "sha256")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fits.fz", ".fz")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_FITS_MAGIC = b"SIMPLE  ="

Progress = Callable[[int, int], None]  # (files advanced, versions found)


# ----------------------------------------------------------------------------- reading


def classify(path: Path | str) -> str | None:
    """``'hdf5'``, ``'fits'`` or ``None``: from the name, else from the first bytes.

    A file named like a data file is read as one even if its content is not (a corrupt
    ``.h5`` must be reported, not passed over).
    """
    name = os.fspath(path).lower()
    if name.endswith(HDF5_SUFFIXES):
        return "hdf5"
    if name.endswith(FITS_SUFFIXES):
        return "fits"
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
    except OSError:
        return None
    if head.startswith(_HDF5_MAGIC):
        return "hdf5"
    if head.startswith(_FITS_MAGIC):
        return "fits"
    return None


def read_file(path: str, kind: str, hash_name: str | None = None) -> FileMetadata:
    """Read one file's metadata (and its checksum); never raises."""
    try:
        if kind == "hdf5":
            from provdb.scan.hdf5 import read_hdf5

            meta = read_hdf5(path)
        else:
            from provdb.scan.fits import read_fits

            meta = read_fits(path)
        if meta.error is None and hash_name:
            h = hashlib.new(hash_name)
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            meta.content_hash, meta.content_hash_type = h.hexdigest(), hash_name
    except Exception as exc:  # a reader bug must not stop the scan
        meta = FileMetadata(path=path, format=kind)
        meta.error = f"unexpected error while reading: {type(exc).__name__}: {exc}"
    return meta


#: a file read and prepared for the database: its metadata (without the bulky parts
#: already in the JSON text) and the text of ``attributes['scan']`` (None if unreadable)
Prepared = tuple[FileMetadata, str | None]


def _prepare(meta: FileMetadata) -> Prepared:
    """Done where the file was read (a worker with ``--jobs``): the JSON text, and
    metadata without the configs and headers it holds, so little crosses processes."""
    if meta.error is not None:
        return meta, None
    text = _scan_json(meta)
    return dataclasses.replace(meta, config=None, configs=[], extra={}, history=[]), text


def _read_chunk(tasks: list[tuple[str, str, str | None]]) -> list[Prepared]:
    return [_prepare(read_file(*t)) for t in tasks]


def _crashed(task: tuple[str, str, str | None]) -> Prepared:
    meta = FileMetadata(path=task[0], format=task[1])
    meta.error = "the reader process crashed on this file"
    return meta, None


def _isolated(tasks: list[tuple[str, str, str | None]], ctx: Any) -> Iterator[Prepared]:
    """Read files one at a time in a worker, so that a crash names its file."""
    pool: ProcessPoolExecutor | None = None
    try:
        for task in tasks:
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
            try:
                yield from pool.submit(_read_chunk, [task]).result()
            except BrokenProcessPool:
                yield _crashed(task)
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _read_all(tasks: list[tuple[str, str, str | None]], jobs: int) -> Iterator[Prepared]:
    """Metadata of every task, in order; ``jobs`` worker processes when > 1.

    Chunks of files go to the workers, about 1,000 files ahead of the one being
    consumed (bounded memory, and the workers read on while a batch is written). If a
    worker dies (a reader crashing on a bad file), the chunks in flight are read again
    one file at a time, so that only the guilty file is reported, and the scan goes on
    with a new pool.
    """
    if jobs <= 1 or len(tasks) < 2:
        for t in tasks:
            yield _prepare(read_file(*t))
        return
    size = max(1, min(32, len(tasks) // (jobs * 4)))
    ahead = max(jobs * 4, 1024 // size)  # chunks in flight: workers read on during writes
    todo = deque(tasks[i : i + size] for i in range(0, len(tasks), size))
    ctx = multiprocessing.get_context("spawn")
    while todo:
        pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx)
        pending: deque[tuple[list[Any], Future[list[Prepared]]]] = deque()
        suspects: list[tuple[str, str, str | None]] = []
        try:
            while todo or pending:
                while todo and len(pending) < ahead:
                    chunk = todo.popleft()
                    pending.append((chunk, pool.submit(_read_chunk, chunk)))
                chunk, future = pending.popleft()
                try:
                    results = future.result()
                except BrokenProcessPool:
                    suspects = [t for c in (chunk, *(c for c, _ in pending)) for t in c]
                    pending.clear()
                    break
                yield from results
        finally:
            pool.shutdown(wait=not suspects, cancel_futures=True)
        if suspects:
            yield from _isolated(suspects, ctx)


# ----------------------------------------------------------------------------- results


@dataclass
class FileOutcome:
    path: str
    #: new | changed | unchanged | skipped | failed
    status: str
    format: str | None = None
    versions: int = 0
    error: str | None = None


@dataclass
class ScanReport:
    """What a scan did."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    versions: int = 0  # software rows written
    packages: Counter[str] = field(default_factory=Counter)
    activities: int = 0  # /provenance activities mapped
    seconds: float = 0.0

    @property
    def statuses(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)

    @property
    def failures(self) -> list[str]:
        return [f"{o.path}: {o.error}" for o in self.outcomes if o.status == "failed"]


# ----------------------------------------------------------------------------- writing


def _iso(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, UTC).isoformat().replace("+00:00", "Z")


def _db_text(value: str) -> str:
    """A path as PostgreSQL text (undecodable bytes replaced; the id keeps the bytes)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _scan_json(meta: FileMetadata) -> str:
    """``attributes['scan']`` of the file's entity, as JSON text."""
    doc = {k: v for k, v in _scan_attributes(meta).items() if v not in (None, [], {})}
    text = json_text(doc)
    return text if text is not None else json.dumps(jsonable(doc))


def _scan_attributes(meta: FileMetadata) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": meta.format,
        "mtime": _iso(meta.mtime),
        "data_level": meta.data_level,
        "versions": [v._asdict() for v in meta.versions],
        "config_encoding": meta.config_encoding,
        "configs": meta.configs,
        **meta.extra,
        "provdb_version": __version__,
    }
    if meta.provenance:
        doc["provenance"] = {
            stage: {"activity_id": act.get("activity_uuid"), "status": act.get("status")}
            for stage, act in meta.provenance.items()
        }
    if meta.source_filenames:
        doc["source_filenames"] = meta.source_filenames
    if meta.history:
        doc["history"] = meta.history
    if meta.warnings:
        doc["warnings"] = meta.warnings
    return doc


def _lookup(cur: Any, paths: list[str]) -> dict[str, tuple[Any, ...]]:
    book: dict[str, tuple[Any, ...]] = {}
    for i in range(0, len(paths), 5000):
        cur.execute(
            "SELECT path, size_bytes, mtime, status, content_hash_type "
            "FROM archive.scan_file WHERE path = ANY(%s)",
            (paths[i : i + 5000],),
        )
        for row in cur.fetchall():
            book[row[0]] = row[1:]
    return book


#: (metadata, attributes['scan'] JSON text, bookkeeping row of the last scan, outcome)
_Item = tuple[FileMetadata, str | None, tuple | None, FileOutcome]


class _BatchWriter:
    """Writes batches of read files, one transaction each."""

    def __init__(self, conn: Any, report: ScanReport) -> None:
        self.conn = conn
        self.report = report

    def write(self, batch: list[_Item]) -> None:
        import psycopg

        try:
            self._write(batch)
            self.conn.commit()
            return
        except (psycopg.OperationalError, psycopg.InterfaceError):
            self.conn.rollback()
            raise
        except psycopg.Error as exc:
            self.conn.rollback()
            if len(batch) > 1:
                for item in batch:
                    self.write([item])
                return
            meta, _, _, outcome = batch[0]
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            outcome.status, outcome.versions = "failed", 0
            outcome.error = f"the database refused a value of this file: {detail}"
            meta.error = outcome.error
        try:  # remember the failure (read again next time)
            self._write([(meta, None, None, outcome)])
            self.conn.commit()
        except psycopg.Error:
            self.conn.rollback()

    def _write(self, batch: list[_Item]) -> None:
        from provdb.ingest import ctapipe_json
        from provdb.ingest.identifiers import path_entity_id
        from provdb.ingest.load import Loader
        from provdb.ingest.records import (
            ActivityRow,
            DerivationRow,
            EntityRow,
            GenerationRow,
            SessionRow,
        )
        from provdb.versions import sync_session_versions, version_parts

        conn = self.conn
        ok = [item for item in batch if item[0].error is None]
        entities: list[tuple[Any, ...]] = []
        software: list[tuple[Any, ...]] = []
        books: list[tuple[Any, ...]] = []
        sessions: list[str] = []
        activities = 0
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(h) FROM (SELECT hashtextextended(p, 0) AS h "
                "FROM unnest(%s::text[]) AS p ORDER BY 1) AS locks",
                (sorted(_db_text(item[0].path) for item in batch),),
            )
            loader = Loader(conn, source_format="ctapipe")
            try:
                for meta, scan_json, book, outcome in ok:
                    eid = path_entity_id(meta.path)
                    location = _db_text(meta.path)
                    for stage, act in meta.provenance.items():
                        try:
                            rows = ctapipe_json.map_activity(
                                act, path=f"{location}:/provenance/{stage}", line=1
                            )
                        except Exception as exc:  # ParseError and shape errors
                            meta.warnings.append(f"/provenance/{stage} not mapped: {exc}")
                            continue
                        activity_id = None
                        for row in rows:
                            if isinstance(row, ActivityRow):
                                activity_id = row.id
                                if row.status == "running":
                                    row.status = None  # a snapshot taken while it ran
                            elif isinstance(row, SessionRow):
                                sessions.append(row.id)
                            loader.add(row)
                        if activity_id is not None:
                            loader.add(
                                GenerationRow(
                                    entity_id=eid,
                                    activity_id=activity_id,
                                    role=f"output (/provenance/{stage})",
                                )
                            )
                            activities += 1
                    for source in meta.source_filenames:
                        if source.startswith("/"):
                            loader.add(
                                EntityRow(
                                    id=path_entity_id(source),
                                    name=os.path.basename(source),
                                    location=_db_text(source),
                                    entity_type="File",
                                )
                            )
                            loader.add(
                                DerivationRow(
                                    generated_entity_id=eid, used_entity_id=path_entity_id(source)
                                )
                            )
                    # attributes['scan'] is set by the UPDATE below (new and known entities)
                    loader.add(
                        EntityRow(
                            id=eid,
                            name=os.path.basename(location),
                            location=location,
                            entity_type="File",
                            content_type=meta.content_type,
                            content_hash=meta.content_hash,
                            content_hash_type=meta.content_hash_type,
                            size_bytes=meta.size,
                        )
                    )
                    changed = book is not None and (book[0] != meta.size or book[1] != meta.mtime)
                    entities.append(
                        (
                            eid,
                            meta.content_type,
                            meta.content_hash,
                            meta.content_hash_type,
                            meta.size,
                            scan_json,
                            changed and meta.content_hash is None,
                        )
                    )
                    for v in meta.versions:
                        parts = version_parts(v.version)
                        software.append((eid, v.source, v.keyword, v.package, v.version, *parts))
                    outcome.versions = len(meta.versions)
                loader.finish()
            finally:
                loader.close()
            if entities:
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS _scan_entity (id text, content_type text, "
                    "content_hash text, content_hash_type text, size_bytes bigint, scan jsonb, "
                    "reset_hash boolean) ON COMMIT DROP"
                )
                with cur.copy("COPY _scan_entity FROM STDIN") as cp:
                    for row in entities:
                        cp.write_row(row)
                cur.execute(
                    """
                    UPDATE provenance.entity AS e SET
                        content_type = coalesce(e.content_type, s.content_type),
                        size_bytes = s.size_bytes,
                        content_hash = CASE WHEN s.content_hash IS NOT NULL THEN s.content_hash
                            WHEN s.reset_hash THEN NULL ELSE e.content_hash END,
                        content_hash_type = CASE WHEN s.content_hash IS NOT NULL
                            THEN s.content_hash_type WHEN s.reset_hash THEN NULL
                            ELSE e.content_hash_type END,
                        attributes = coalesce(e.attributes, '{}'::jsonb)
                            || jsonb_build_object('scan', s.scan)
                    FROM _scan_entity AS s WHERE e.id = s.id
                    """
                )
                # every distinct hash is kept, and the flags of these files follow
                flags.note_batch(cur, hash_stage="_scan_entity", hash_source="scan")
                # every scanned file's ObsCore row follows its new metadata (see below)
                cur.execute(
                    "INSERT INTO _flags_touched SELECT id FROM _scan_entity ON CONFLICT DO NOTHING"
                )
                cur.execute(
                    "DELETE FROM archive.software WHERE entity_id = ANY(%s)",
                    ([e[0] for e in entities],),
                )
            if software:
                with cur.copy(
                    "COPY archive.software (entity_id, source, keyword, package, version, "
                    "major, minor, patch) FROM STDIN"
                ) as cp:
                    for row in software:
                        cp.write_row(row)
            if sessions:
                sync_session_versions(cur, sorted(set(sessions)))
            flags.update_flags(cur)  # after the closure, the hashes and the versions
            obscore.refresh_touched(cur)  # after the flags and the versions
            for meta, _, _, _ in batch:
                books.append(
                    (
                        _db_text(meta.path),
                        path_entity_id(meta.path) if meta.error is None else None,
                        meta.format or "unknown",
                        meta.size,
                        meta.mtime,
                        meta.content_hash,
                        meta.content_hash_type,
                        "ok" if meta.error is None else "failed",
                        meta.error,
                        len(meta.versions) if meta.error is None else 0,
                    )
                )
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _scan_book (path text, entity_id text, "
                "format text, size_bytes bigint, mtime double precision, content_hash text, "
                "content_hash_type text, status text, error text, n_versions integer) "
                "ON COMMIT DROP"
            )
            with cur.copy("COPY _scan_book FROM STDIN") as cp:
                for row in books:
                    cp.write_row(row)
            cur.execute(
                """
                INSERT INTO archive.scan_file AS f (path, entity_id, format, size_bytes, mtime,
                    content_hash, content_hash_type, status, error, n_versions, provdb_version)
                SELECT path, entity_id, format, size_bytes, mtime, content_hash,
                    content_hash_type, status, error, n_versions, %s FROM _scan_book
                ON CONFLICT (path) DO UPDATE SET
                    entity_id = coalesce(EXCLUDED.entity_id, f.entity_id),
                    format = EXCLUDED.format, size_bytes = EXCLUDED.size_bytes,
                    mtime = EXCLUDED.mtime, content_hash = EXCLUDED.content_hash,
                    content_hash_type = EXCLUDED.content_hash_type, status = EXCLUDED.status,
                    error = EXCLUDED.error,
                    n_versions = CASE WHEN EXCLUDED.status = 'ok' THEN EXCLUDED.n_versions
                        ELSE f.n_versions END,
                    last_scan = (now() at time zone 'utc'),
                    provdb_version = EXCLUDED.provdb_version
                """,
                (__version__,),
            )
        self.report.versions += len(software)
        self.report.packages.update(row[3] for row in software)
        self.report.activities += activities


# ----------------------------------------------------------------------------- driver


def scan_files(
    conn: Any,
    files: list[Path],
    *,
    explicit: set[Path] | None = None,
    hash_name: str | None = None,
    rescan: bool = False,
    jobs: int = 1,
    batch_size: int = 500,
    progress: Progress | None = None,
    on_error: Callable[[str], None] | None = None,
) -> ScanReport:
    """Scan data files into the archive.

    Parameters
    ----------
    conn:
        psycopg 3 connection (autocommit off); one commit per batch.
    files:
        Resolved absolute paths (:func:`provdb.ingest.pipeline.discover`).
    explicit:
        Files named on the command line: one that is neither HDF5 nor FITS is an
        error, while other files met in a folder are counted as skipped.
    hash_name:
        ``md5`` or ``sha256`` to record a content checksum; ``None`` for none. A file
        scanned before without this checksum is read again.
    rescan:
        Read every file again, also those unchanged since their last scan (after an
        upgrade of provdb that reads more from files, e.g. DL1/DL2 event times).
    jobs:
        Worker processes reading metadata (1: in this process).
    batch_size:
        Files per transaction.
    progress:
        Called with (files advanced, versions found) as files are done.
    on_error:
        Called with ``"FILE: reason"`` for every file that could not be read.
    """
    if hash_name is not None and hash_name not in HASHES:
        raise ValueError(f"unknown hash {hash_name!r}: use one of {', '.join(HASHES)}")
    started = time.perf_counter()
    explicit = explicit or set()
    report = ScanReport()

    def done(outcome: FileOutcome) -> None:
        report.outcomes.append(outcome)
        if outcome.status == "failed" and on_error:
            on_error(f"{outcome.path}: {outcome.error}")
        if progress:
            progress(1, outcome.versions)

    candidates: list[tuple[str, str, os.stat_result]] = []
    for path in files:
        spath = str(path)
        kind = classify(path)
        if kind is None:
            if path in explicit:
                done(FileOutcome(spath, "failed", error="not an HDF5 or FITS file"))
            else:
                done(FileOutcome(spath, "skipped"))
            continue
        try:
            st = path.stat()
        except OSError as exc:
            done(FileOutcome(spath, "failed", kind, error=exc.strerror or str(exc)))
            continue
        candidates.append((spath, kind, st))

    with conn.cursor() as cur:
        book = _lookup(cur, [_db_text(p) for p, _, _ in candidates])
    conn.rollback()
    tasks: list[tuple[str, str, str | None]] = []
    previous: dict[str, tuple | None] = {}
    for spath, kind, st in candidates:
        row = book.get(_db_text(spath))
        if (
            not rescan
            and row is not None
            and row[2] == "ok"
            and row[0] == st.st_size
            and row[1] == st.st_mtime
            and (hash_name is None or row[3] == hash_name)
        ):
            done(FileOutcome(spath, "unchanged", kind))
            continue
        previous[spath] = row
        tasks.append((spath, kind, hash_name))

    # Batches are written by a helper thread while this one goes on reading (the
    # database work waits on PostgreSQL, the reading is Python and HDF5): at most one
    # batch waits, one is being written. Only the helper uses the connection now.
    writer = _BatchWriter(conn, report)
    pipe: queue.Queue[list[_Item] | None] = queue.Queue(maxsize=1)
    failure: list[BaseException] = []

    def write_batches() -> None:
        while (todo := pipe.get()) is not None:
            if failure:
                continue  # drain: the scan is stopping
            try:
                writer.write(todo)
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)
                continue
            for *_, outcome in todo:
                done(outcome)

    thread = threading.Thread(target=write_batches, name="provdb-scan-writer", daemon=True)
    thread.start()
    batch: list[_Item] = []
    try:
        for meta, scan_json in _read_all(tasks, jobs):
            if failure:
                break
            row = previous.get(meta.path)
            if meta.error is not None:
                outcome = FileOutcome(meta.path, "failed", meta.format, error=meta.error)
            else:
                outcome = FileOutcome(meta.path, "new" if row is None else "changed", meta.format)
            batch.append((meta, scan_json, row, outcome))
            if len(batch) >= batch_size:
                pipe.put(batch)
                batch = []
        if batch and not failure:
            pipe.put(batch)
    finally:
        pipe.put(None)
        thread.join()
    if failure:
        raise failure[0]
    report.seconds = time.perf_counter() - started
    return report
