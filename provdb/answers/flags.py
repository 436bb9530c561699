"""Per-product quality flags (``archive.product_flag``), kept current by every ingest.

The entity rules of :mod:`provdb.answers.checks` are stored per product so that ADQL can
filter on them (``LEFT JOIN archive.product_flag f ON ... AND f.rule = 'stale' WHERE
f.entity_id IS NULL``). They are maintained **incrementally, in the ingest's
transaction**:

1. :func:`note_batch` (called by the loader for every batch, and by scan) records the
   entities whose flags may change: those generated or used by the activities the batch
   added or changed, those of its relations, and entities with a new content hash, in
   the temp table ``_flags_touched``; it also records new content hashes in
   ``archive.entity_hash``;
2. :func:`update_flags` (once per file, after the lineage closure is up to date) extends
   that set with every descendant (``archive.lineage``), recomputes the rules for that
   set only, and replaces its flags, keeping ``since`` of the flags that stay.

A failed ingest rolls back with the rest of its file: the flags stay as they were.
:func:`rebuild_flags` recomputes the whole table (``provdb check --rebuild-flags``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from provdb.answers.checks import ENTITY_RULES, RULES, rule_sql

__all__ = ["note_batch", "rebuild_flags", "update_flags"]

_TOUCHED = "_flags_touched"
#: above this many entities to recompute, refresh the statistics of the rules' tables
_ANALYZE_ABOVE = 5000
_RULE_TABLES = (
    "provenance.entity",
    "provenance.activity",
    "provenance.wasgeneratedby",
    "archive.lineage",
    "archive.software",
    "archive.entity_hash",
)


def _temp(cur: Any) -> None:
    cur.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_TOUCHED} (entity_id text PRIMARY KEY) ON COMMIT DROP"
    )


def note_batch(
    cur: Any,
    *,
    activity_stages: Sequence[tuple[str, str]] = (),
    entity_stages: Sequence[str] = (),
    hash_stage: str | None = None,
    hash_source: str = "ingest",
) -> None:
    """Remember the entities a batch can change the flags of; record new content hashes.

    Parameters
    ----------
    cur
        psycopg cursor of the ingest's transaction.
    activity_stages
        ``(table, column)`` pairs naming activity ids (the loader's staged activities and
        relations): every entity those activities generated or used is touched.
    entity_stages
        Staging tables with an ``entity_id`` column: those entities are touched.
    hash_stage
        A table with ``id, content_hash, content_hash_type``: hashes are added to
        ``archive.entity_hash`` and their entities touched.
    hash_source
        ``archive.entity_hash.source`` of the new hashes.
    """
    _temp(cur)
    parts = []
    for stage, column in activity_stages:
        acts = f"SELECT {column} FROM {stage}"
        parts.append(
            f"SELECT entity_id FROM provenance.wasgeneratedby WHERE activity_id IN ({acts})"
        )
        parts.append(f"SELECT entity_id FROM provenance.used WHERE activity_id IN ({acts})")
    parts += [f"SELECT entity_id FROM {s}" for s in entity_stages]
    if hash_stage:
        cur.execute(
            "INSERT INTO archive.entity_hash (entity_id, hash_type, content_hash, source) "
            "SELECT DISTINCT s.id, coalesce(s.content_hash_type, 'unknown'), s.content_hash, "
            f"%s FROM {hash_stage} s JOIN provenance.entity e ON e.id = s.id "
            "WHERE s.content_hash IS NOT NULL ON CONFLICT DO NOTHING",
            (hash_source,),
        )
        parts.append(f"SELECT id FROM {hash_stage} WHERE content_hash IS NOT NULL")
    if parts:
        cur.execute(
            f"INSERT INTO {_TOUCHED} SELECT DISTINCT x.entity_id FROM ("
            + " UNION ".join(parts)
            + ") AS x(entity_id) WHERE x.entity_id IS NOT NULL ON CONFLICT DO NOTHING"
        )


def _replace(cur: Any, scope_table: str | None) -> int:
    """Recompute the entity rules over ``scope_table`` (None: all) and replace the flags."""
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _flags_new (entity_id text, cause_id text, "
        "detail text, rule text, severity text) ON COMMIT DROP"
    )
    cur.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _flags_old (entity_id text, rule text, since timestamp) "
        "ON COMMIT DROP"
    )
    cur.execute("TRUNCATE _flags_new, _flags_old")
    for rule in ENTITY_RULES:
        sql, params = rule_sql(rule, scope_table=scope_table)
        cur.execute(f"INSERT INTO _flags_new (entity_id, cause_id, detail) {sql}", params)
        cur.execute(
            "UPDATE _flags_new SET rule = %s, severity = %s WHERE rule IS NULL",
            (rule, RULES[rule]),
        )
    where = (
        "" if scope_table is None else f"WHERE f.entity_id IN (SELECT entity_id FROM {scope_table})"
    )
    cur.execute(
        "WITH gone AS (DELETE FROM archive.product_flag f "
        f"{where} RETURNING f.entity_id, f.rule, f.since) INSERT INTO _flags_old SELECT * FROM gone"
    )
    cur.execute(
        "INSERT INTO archive.product_flag (entity_id, rule, severity, detail, cause_id, since) "
        "SELECT n.entity_id, n.rule, n.severity, n.detail, n.cause_id, "
        "coalesce(o.since, now() at time zone 'utc') "
        "FROM _flags_new n LEFT JOIN _flags_old o USING (entity_id, rule)"
    )
    return max(cur.rowcount, 0)


def update_flags(cur: Any) -> int:
    """Recompute the flags of the touched entities and their descendants.

    Parameters
    ----------
    cur
        psycopg cursor of the ingest's transaction (after the closure update).

    Returns
    -------
    int
        Flags written for that set.
    """
    _temp(cur)
    cur.execute(f"SELECT EXISTS (SELECT 1 FROM {_TOUCHED})")
    if not cur.fetchone()[0]:
        return 0
    cur.execute("DROP TABLE IF EXISTS _flags_affected")
    cur.execute(
        "CREATE TEMP TABLE _flags_affected ON COMMIT DROP AS "
        f"SELECT entity_id FROM {_TOUCHED} UNION "
        f"SELECT l.entity_id FROM archive.lineage l JOIN {_TOUCHED} t "
        "ON l.ancestor_id = t.entity_id"
    )
    cur.execute("ANALYZE _flags_affected")
    cur.execute("SELECT count(*) FROM _flags_affected")
    if cur.fetchone()[0] > _ANALYZE_ABOVE:
        # a big file (a whole night) filled these tables in this very transaction: their
        # statistics still say "nearly empty", and the rules get nested-loop plans that
        # took minutes instead of seconds on a 200,000-record night
        cur.execute("ANALYZE " + ", ".join(_RULE_TABLES))
    written = _replace(cur, "_flags_affected")
    cur.execute(f"TRUNCATE {_TOUCHED}")
    return written


def rebuild_flags(conn: Any) -> int:
    """Recompute ``archive.product_flag`` for the whole archive (keeps ``since``).

    Parameters
    ----------
    conn
        psycopg connection, SQLAlchemy Connection or Engine; the caller commits
        (an Engine is used in its own transaction).

    Returns
    -------
    int
        Number of flags.
    """
    from provdb.cursor import cursor

    if hasattr(conn, "raw_connection") and hasattr(conn, "dispose"):  # Engine
        with conn.begin() as sa_conn:
            return rebuild_flags(sa_conn)
    with cursor(conn) as cur:
        return _replace(cur, None)
