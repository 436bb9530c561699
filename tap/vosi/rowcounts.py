"""Approximate row counts of the published tables (VODataService 1.2 ``nrows``).

TOPCAT shows them as "Rows (approx)". They come from the planner's statistics
(``pg_class.reltuples``): one catalogue query, however large the archive. A table that
was never analysed (``reltuples = -1``) is counted when it is small, and left without a
count otherwise; views have no statistics and get none.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["COUNT_LIMIT", "approximate_rows"]

#: A never-analysed table is counted up to this many rows; beyond, it gets no count.
COUNT_LIMIT = 10_000

_STATS_SQL = sa.text(
    "SELECT t.table_name, c.oid::regclass::text, c.relkind, c.reltuples "
    "FROM tap_schema.tables t JOIN pg_class c ON c.oid = to_regclass(t.table_name)"
)


def approximate_rows(connection: Any, *, count_limit: int = COUNT_LIMIT) -> dict[str, int]:
    """Published table name -> approximate row count (tables without one are left out)."""
    counts: dict[str, int] = {}
    unknown: list[tuple[str, str]] = []
    for name, regclass, relkind, reltuples in connection.execute(_STATS_SQL):
        if relkind not in ("r", "p", "m"):  # plain views: no statistics, no cheap count
            continue
        if reltuples is not None and reltuples >= 0:
            counts[name] = int(reltuples)
        else:
            unknown.append((name, regclass))
    for name, regclass in unknown:
        # regclass::text is already quoted as needed; LIMIT bounds the work
        n = connection.execute(
            sa.text(f"SELECT count(*) FROM (SELECT 1 FROM {regclass} LIMIT :n) s"),
            {"n": count_limit + 1},
        ).scalar()
        if n is not None and n <= count_limit:
            counts[name] = int(n)
    return counts
