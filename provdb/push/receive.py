"""Server side of a push: ingest a spool file and describe the outcome as JSON.

The ingest is :func:`provdb.ingest.pipeline.ingest_file`, unchanged: one transaction per
file, a grown spool file read on from the offset reached last time, a torn last line
left for the next chunk. Only the names differ: the answer and the reject messages name
the file as the pipeline knows it, not the spool path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provdb.ingest.pipeline import FileResult, ingest_file

__all__ = ["MAX_REJECT_MESSAGES", "ingest_spooled", "result_json"]

#: Reject messages returned in one answer; the count is always complete and every
#: rejected line is kept in archive.ingest_reject.
MAX_REJECT_MESSAGES = 1000


def ingest_spooled(
    conn: Any,
    spool_path: Path,
    name: str,
    *,
    format: str | None = None,
    timezone: str = "UTC",
) -> dict[str, Any]:
    """Ingest the spool file of ``name`` on the psycopg connection ``conn``.

    Returns :func:`result_json` of the outcome. Database failures (the server went
    away) are not caught: the caller answers 503 and the spooled bytes stay for a retry.
    """
    rejects: list[str] = []
    prefix = str(spool_path)

    def on_reject(message: str) -> None:
        if len(rejects) < MAX_REJECT_MESSAGES:
            rejects.append(_rename(message, prefix, name))

    result = ingest_file(conn, spool_path, format=format, timezone=timezone, on_reject=on_reject)
    return result_json(result, name, rejects, spool_path=prefix)


def _rename(text: str, spool_path: str, name: str) -> str:
    return text.replace(spool_path, name)


def result_json(
    result: FileResult, name: str, rejects: list[str], *, spool_path: str | None = None
) -> dict[str, Any]:
    """The counts ``provdb ingest`` shows for one file, as a JSON-ready dict.

    ``rejects`` are the ``FILE:LINE: reason`` messages (FILE is ``name``); ``error`` is
    set when the file was refused (nothing of it kept).
    """
    error = result.error
    if error and spool_path:
        error = _rename(error, spool_path, name)
    return {
        "name": name,
        "status": result.status,
        "format": result.format,
        "records": dict(sorted(result.records.items())),
        "n_records": result.n_records,
        "rejected": result.rejects,
        "rejects": rejects,
        "rejects_truncated": result.rejects > len(rejects),
        "other_lines": result.other_lines,
        "inserted": dict(sorted(result.inserted.items())),
        "known": dict(sorted(result.known.items())),
        "bytes_read": result.bytes_read,
        "seconds": round(result.seconds, 3),
        "error": error,
        "warnings": list(result.warnings),
    }
