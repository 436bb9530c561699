"""Queries of the ingest pages: the history of ingested files and one file's account.

One statement per list; the per-file lists (rejects, conflicts) are cut at a limit and
the page says how many there are (TAP has them all: ``archive.ingest_reject``,
``archive.ingest_conflict``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["STATUSES", "file_page", "history"]

#: statuses of archive.ingest_file the history page filters on
STATUSES = ("complete", "partial")

_HISTORY = """
    SELECT f.id, f.path, f.format, f.status, f.size_bytes, f.lines_read, f.n_records,
           f.n_rejects, f.n_other_lines, f.first_ingest, f.last_ingest, f.duration_s,
           (SELECT count(*) FROM archive.ingest_conflict c WHERE c.ingest_file_id = f.id)
             AS n_conflicts
    FROM archive.ingest_file f
    WHERE (CAST(:status AS text) IS NULL OR f.status = :status)
      AND (CAST(:rejected AS boolean) IS NOT TRUE OR f.n_rejects > 0)
    ORDER BY f.last_ingest DESC, f.id DESC
    LIMIT :limit OFFSET :offset
"""


def history(
    conn: sa.Connection,
    *,
    page: int,
    per_page: int,
    status: str | None = None,
    rejected: bool = False,
) -> dict[str, Any]:
    """Ingested files, most recently read first: one page of them and the total count."""
    params = {"status": status, "rejected": rejected}
    total = conn.execute(
        sa.text(
            "SELECT count(*) FROM archive.ingest_file f "
            "WHERE (CAST(:status AS text) IS NULL OR f.status = :status) "
            "AND (CAST(:rejected AS boolean) IS NOT TRUE OR f.n_rejects > 0)"
        ),
        params,
    ).scalar_one()
    files = [
        dict(r)
        for r in conn.execute(
            sa.text(_HISTORY), {**params, "limit": per_page, "offset": (page - 1) * per_page}
        ).mappings()
    ]
    return {"files": files, "total": int(total)}


def file_page(conn: sa.Connection, file_id: int, *, limit: int) -> dict[str, Any] | None:
    """One ingested file: its bookkeeping, rejected lines and conflicts (each cut at
    ``limit``, with their counts); ``None`` if there is no such file."""
    found = (
        conn.execute(
            sa.text(
                "SELECT id, path, format, status, size_bytes, mtime, offset_reached, checksum, "
                "lines_read, records, n_records, n_rejects, n_other_lines, first_ingest, "
                "last_ingest, duration_s, provdb_version FROM archive.ingest_file WHERE id = :i"
            ),
            {"i": file_id},
        )
        .mappings()
        .first()
    )
    if found is None:
        return None
    rejects = [
        dict(r)
        for r in conn.execute(
            sa.text(
                "SELECT line_number, byte_offset, reason, is_error, raw_text, created, "
                "count(*) OVER () AS total FROM archive.ingest_reject "
                "WHERE ingest_file_id = :i ORDER BY line_number, id LIMIT :n"
            ),
            {"i": file_id, "n": limit},
        ).mappings()
    ]
    conflicts = [
        dict(r)
        for r in conn.execute(
            sa.text(
                "SELECT line_number, table_name, object_id, attribute, kept_value, new_value, "
                "created, count(*) OVER () AS total FROM archive.ingest_conflict "
                "WHERE ingest_file_id = :i "
                "ORDER BY line_number NULLS LAST, table_name, object_id, attribute LIMIT :n"
            ),
            {"i": file_id, "n": limit},
        ).mappings()
    ]
    return {
        "file": dict(found),
        "records": sorted((found["records"] or {}).items()),
        "rejects": rejects,
        "n_rejects_stored": rejects[0]["total"] if rejects else 0,
        "conflicts": conflicts,
        "n_conflicts": conflicts[0]["total"] if conflicts else 0,
    }
