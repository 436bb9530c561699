"""Queries of the quality pages: a product's flags, a night's runs (one statement each)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = ["entity_flags", "night_runs"]

_FLAGS = sa.text(
    """
    SELECT f.rule, f.severity, f.detail, f.cause_id, f.since,
           CASE WHEN EXISTS (SELECT 1 FROM provenance.entity e WHERE e.id = f.cause_id)
                THEN 'entity'
                WHEN EXISTS (SELECT 1 FROM provenance.activity a WHERE a.id = f.cause_id)
                THEN 'activity' END AS cause_kind
    FROM archive.product_flag f
    WHERE f.entity_id = :ident
    ORDER BY CASE f.severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, f.rule
    """
)

_RUNS = sa.text(
    """
    SELECT s.observation_run AS run, count(DISTINCT a.id) AS n_activities,
           min(a.start_time) AS start_time, max(a.end_time) AS end_time,
           string_agg(DISTINCT s.software_version, ', ') AS software_versions
    FROM archive.processing_session s
    JOIN provenance.activity a ON a.session_id = s.id
    WHERE s.night = to_date(:night, 'YYYYMMDD') AND s.observation_run IS NOT NULL
    GROUP BY s.observation_run
    ORDER BY s.observation_run
    """
)


def entity_flags(conn: sa.Connection, ident: str) -> list[dict[str, Any]]:
    """The flags of one product (most severe first), with the kind of their cause."""
    return [dict(r._mapping) for r in conn.execute(_FLAGS, {"ident": ident})]


def night_runs(conn: sa.Connection, night: str) -> list[dict[str, Any]]:
    """The runs processed on ``night`` (``YYYYMMDD``) with their activity counts."""
    return [dict(r._mapping) for r in conn.execute(_RUNS, {"night": night})]
