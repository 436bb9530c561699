"""Several nights ingested at once into one archive (``bench_year.py --parallel N``).

:func:`ingest_batch` starts one ``provdb ingest`` process per night of a batch, all at
the same moment, and records beside each night's usual figures what the concurrency
cost: the batch's total records/s, PostgreSQL's deadlock and conflict counters
(``pg_stat_database``, before and after), the lock waits seen by sampling
``pg_stat_activity`` while the batch runs, the errors the embedded server wrote to its
log, and the lines of the ingest processes' output that speak of retries or deadlocks
(``provdb ingest`` has no retry loop: a deadlock would fail a file and stop the bench).

:func:`content_fingerprint` is how "the same nights ingested one by one give the same
archive" is checked (tests/test_bench_year.py): exact row counts of every provdb table
and digests of the lineage closure and edges in entity ids. It reads every row: for
small archives only.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

#: how often the lock sampler looks at pg_stat_activity
SAMPLE_INTERVAL_S = 0.1

#: the schemas whose tables :func:`content_fingerprint` counts
SCHEMAS = ("provenance", "archive", "ivoa")

_RETRY_WORDS = re.compile(r"retr(?:y|ies|ying)|deadlock|could not serialize", re.IGNORECASE)
_LOG_PROBLEMS = re.compile(r"\b(?:ERROR|FATAL|deadlock detected|still waiting for)\b")

Sql = Callable[[str], list[tuple]]


class LockSampler:
    """Sample the archive's sessions waiting on a lock while a batch runs (a thread).

    PostgreSQL logs lock waits only past ``deadlock_timeout`` and only when
    ``log_lock_waits`` is on (a server setting the bench should not change on an
    external server); sampling sees shorter waits too, at ``SAMPLE_INTERVAL_S``.
    """

    def __init__(self, sql: Sql) -> None:
        self._sql = sql
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples = 0
        self.samples_with_waits = 0
        self.max_waiting = 0
        self.by_event: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()

    def _run(self) -> None:
        while not self._stop.is_set():
            rows = self._sql(
                "SELECT wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) "
                "FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            self.samples += 1
            if rows:
                self.samples_with_waits += 1
                self.max_waiting = max(self.max_waiting, len(rows))
                self.by_event.update(event for event, _ in rows)
                self.statements.update(statement for _, statement in rows)
            self._stop.wait(SAMPLE_INTERVAL_S)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, Any]:
        """What was seen: share of samples with a waiting session, the most waiting at
        once, approximate session-seconds spent waiting, by lock type and statement."""
        return {
            "interval_s": SAMPLE_INTERVAL_S,
            "samples": self.samples,
            "samples_with_waits": self.samples_with_waits,
            "max_sessions_waiting": self.max_waiting,
            "session_seconds_waiting_approx": round(
                sum(self.by_event.values()) * SAMPLE_INTERVAL_S, 2
            ),
            "by_lock_type": dict(self.by_event.most_common()),
            "statements": dict(self.statements.most_common(5)),
        }


def database_counters(sql: Sql) -> dict[str, int]:
    """This database's deadlock, recovery-conflict and buffer counters, and the server's
    WAL and checkpoint counters (what a batch cost in write-ahead log: ``wal_fpi`` is
    the full-page images, written on the first change of a page after a checkpoint)."""
    # (not xact_rollback: the lock sampler's own read-only sessions end in rollbacks)
    names = ("deadlocks", "conflicts", "blks_read", "blks_hit")
    row = sql(f"SELECT {', '.join(names)} FROM pg_stat_database WHERE datname = current_database()")
    out = dict(zip(names, row[0], strict=True))
    wal = sql("SELECT wal_records, wal_fpi, wal_bytes::bigint FROM pg_stat_wal")[0]
    out.update(zip(("wal_records", "wal_fpi", "wal_bytes"), wal, strict=True))
    try:  # PostgreSQL >= 17 has its own view for the checkpointer
        cp = sql("SELECT num_timed, num_requested, buffers_written FROM pg_stat_checkpointer")[0]
    except Exception:  # older servers: the same counters in pg_stat_bgwriter
        cp = sql(
            "SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter"
        )[0]
    out.update(
        zip(("checkpoints_timed", "checkpoints_requested", "checkpoint_buffers"), cp, strict=True)
    )
    return {k: int(v) for k, v in out.items()}


def _log_offset(log_file: Path | None) -> int:
    return log_file.stat().st_size if log_file and log_file.exists() else 0


def server_log_problems(log_file: Path | None, offset: int) -> dict[str, Any]:
    """Errors, deadlocks and lock-wait messages the server logged after ``offset``."""
    if log_file is None or not log_file.exists():
        return {"available": False}
    with open(log_file, "rb") as fh:
        fh.seek(offset)
        lines = fh.read().decode(errors="replace").splitlines()
    problems = [line for line in lines if _LOG_PROBLEMS.search(line)]
    return {
        "available": True,
        "problem_lines": len(problems),
        "deadlocks": sum("deadlock detected" in line for line in problems),
        "first": problems[:5],
    }


def ingest_batch(
    ingest_night: Callable[[Path, str], dict[str, Any]],
    folders: list[Path],
    sql: Sql,
    log_file: Path | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ingest ``folders`` (one night each) at the same time; ``ingest_night(folder,
    tag)`` runs one ``provdb ingest`` and returns that night's figures.

    Returns the nights' figures (in ``folders`` order) and the batch's: wall seconds
    from the first start to the last end, total records/s, the per-process records/s,
    counter deltas, lock waits, server log problems and retry lines.
    """
    before = database_counters(sql)
    offset = _log_offset(log_file)
    with LockSampler(sql) as sampler, ThreadPoolExecutor(len(folders)) as pool:
        started = time.perf_counter()
        futures = [pool.submit(ingest_night, f, f"p{i}") for i, f in enumerate(folders)]
        # wait for every process before raising a failure: none is left running
        errors = [f.exception() for f in futures]
        wall = time.perf_counter() - started
    failed = [e for e in errors if e is not None]
    if failed:
        raise failed[0]
    nights = [f.result() for f in futures]
    after = database_counters(sql)
    records = sum(n["records"] or 0 for n in nights)
    batch: dict[str, Any] = {
        "parallel": len(folders),
        "wall_s": round(wall, 3),
        "records": records,
        "records_per_s": round(records / wall, 1),
        "per_process_records_per_s": [n.get("records_per_s", 0.0) for n in nights],
        "closure_s": [n["closure_s"] for n in nights],
        "flags_s": [n["steps_s"].get("flags", 0.0) for n in nights],
        "peak_rss_mb": [n["peak_rss_mb"] for n in nights],
        "peak_rss_mb_sum": round(sum(n["peak_rss_mb"] for n in nights), 1),
        "postgresql_counters_delta": {k: after[k] - before[k] for k in after},
        "lock_waits": sampler.figures(),
        "server_log": server_log_problems(log_file, offset),
        "retry_lines": sum(n["retry_lines"] for n in nights),
    }
    return nights, batch


def retry_lines(output: str) -> int:
    """Lines of an ingest process's output that speak of a retry, deadlock or
    serialization failure."""
    return sum(1 for line in output.splitlines() if _RETRY_WORDS.search(line))


def content_fingerprint(sql: Sql) -> dict[str, Any]:
    """Exact row counts of every table in :data:`SCHEMAS` (and of the closure's views) and md5
    digests of the lineage closure, its edges and the product flags, in entity ids
    (never in surrogate keys, which depend on the order rows arrived in)."""
    names = ", ".join(f"'{s}'" for s in SCHEMAS)
    tables = sql(
        "SELECT schemaname || '.' || tablename FROM pg_tables "
        f"WHERE schemaname IN ({names}) ORDER BY 1"
    )
    counts = {t: sql(f"SELECT count(*) FROM {t}")[0][0] for (t,) in tables}
    # and the views of the closure: its rows by id (0023) and its direct edges (0022)
    for view in ("archive.lineage", "archive.lineage_edge"):
        counts[view] = sql(f"SELECT count(*) FROM {view}")[0][0]
    digests = {
        "archive.lineage": sql(
            "SELECT md5(coalesce(string_agg(entity_id || ' ' || ancestor_id || ' ' || depth, "
            "E'\\n' ORDER BY entity_id, ancestor_id), '')) FROM archive.lineage"
        )[0][0],
        "archive.lineage_edge": sql(
            "SELECT md5(coalesce(string_agg(entity_id || ' ' || parent_id, E'\\n' "
            "ORDER BY entity_id, parent_id), '')) FROM archive.lineage_edge"
        )[0][0],
        # "since" is when the flag was raised: it differs between any two ingests
        "archive.product_flag": sql(
            "SELECT md5(coalesce(string_agg(entity_id || ' ' || rule || ' ' || severity || ' ' "
            "|| coalesce(cause_id, '-'), E'\\n' ORDER BY entity_id, rule, cause_id), '')) "
            "FROM archive.product_flag"
        )[0][0],
    }
    return {"row_counts": counts, "digests": digests}
