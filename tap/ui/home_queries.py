"""The SQL of the UI's home page: archive totals, the latest runs, software versions.

Each statement is sized by what the page shows, not by the archive: at a year of nights
(bench/bench_year.py) counting every row of the big tables, grouping every session to
find the latest runs and scanning ``archive.software`` for its version pairs took most of
a second, and each grows with every night ingested.

* totals: the small counts are exact; a big table's row count is PostgreSQL's own
  estimate (``pg_class.reltuples``, kept by ANALYZE), shown as "about";
* the latest runs: read backwards from the ``(observation_date, observation_run)`` index
  of the sessions, stopping at the number shown (migration 0016);
* software versions (shared with ``/ui/versions``): the distinct ``(package, version)``
  pairs of ``archive.software`` by a skip scan of its ``(package, version, session_id)``
  index (migration 0016), one index probe per pair.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from provdb.versions import session_table
from tap.ui.queries import one, rows, run_step_groups

__all__ = ["EXACT_BELOW", "TABLES", "home_page", "table_totals", "version_totals"]

#: Tables estimated to hold fewer rows than this are counted exactly on the home page.
EXACT_BELOW = 100_000

#: home page total -> table whose rows it counts (the big ones: estimated when large)
TABLES = {
    "activities": "provenance.activity",
    "entities": "provenance.entity",
    "agents": "provenance.agent",
    "ingested_files": "archive.ingest_file",
}


def table_totals(conn: sa.Connection, *, exact_below: int | None = None) -> dict[str, Any]:
    """Rows of the home page's tables: ``{total: n}`` and ``estimated`` (the names whose
    ``n`` is PostgreSQL's estimate, rounded to three significant digits).

    A table whose estimate is under ``exact_below`` (default :data:`EXACT_BELOW`), or
    that was never analysed, is counted exactly.
    """
    limit = EXACT_BELOW if exact_below is None else exact_below
    estimates = {
        name: n
        for name, n in conn.execute(
            sa.text(
                "SELECT c.oid::regclass::text, c.reltuples::bigint FROM pg_class c "
                "WHERE c.oid = ANY(CAST(:tables AS regclass[]))"
            ),
            {"tables": list(TABLES.values())},
        )
    }
    out: dict[str, Any] = {"estimated": []}
    for total, table in TABLES.items():
        guess = estimates.get(table, -1)
        if 0 <= limit <= guess:
            out[total] = int(float(f"{guess:.3g}"))
            out["estimated"].append(total)
        else:
            out[total] = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
    return out


def home_page(conn: sa.Connection, *, runs: int = 30, ingests: int = 10) -> dict[str, Any]:
    """Totals, the latest ``runs`` lstosa runs and the latest ``ingests`` ingested logs."""
    s = session_table()
    totals = one(
        conn,
        f"""
        SELECT (SELECT count(DISTINCT observation_date) FROM {s}
                WHERE observation_date IS NOT NULL) AS nights,
               (SELECT count(*) FROM (SELECT DISTINCT observation_date, observation_run
                                      FROM {s} WHERE observation_run IS NOT NULL) r) AS runs
        """,
    )
    totals = {**(totals or {}), **table_totals(conn)}
    run_list = rows(
        conn,
        f"""
        WITH latest AS (
            SELECT DISTINCT observation_date, observation_run
            FROM {s}
            WHERE observation_run IS NOT NULL AND observation_date ~ '^[0-9]{{8}}$'
            ORDER BY observation_date DESC, observation_run DESC
            LIMIT :n
        )
        SELECT l.observation_date, l.observation_run,
               string_agg(DISTINCT concat_ws(' ', s.software_package, s.software_version), ', ')
                   FILTER (WHERE s.software_version IS NOT NULL) AS software_versions,
               count(*) AS sessions,
               NULL AS steps
        FROM latest l
        JOIN {s} s ON s.observation_date = l.observation_date
                  AND s.observation_run = l.observation_run
        GROUP BY l.observation_date, l.observation_run
        ORDER BY l.observation_date DESC, l.observation_run DESC
        """,
        n=runs,
    )
    steps = run_step_groups(conn, [(r["observation_date"], r["observation_run"]) for r in run_list])
    for r in run_list:
        found = steps.get((r["observation_date"], r["observation_run"]))
        r["steps"] = sorted(found) if found else None
    recent = rows(
        conn,
        """
        SELECT id, path, format, n_records, n_rejects, status, last_ingest, duration_s
        FROM archive.ingest_file ORDER BY last_ingest DESC, id DESC LIMIT :n
        """,
        n=ingests,
    )
    return {"totals": totals, "runs": run_list, "ingests": recent}


# ----------------------------------------------------------------------------- versions


def version_totals(conn: sa.Connection, source: str) -> dict[str, int]:
    """How many software versions (distinct package and version) products were made with.

    The one definition the home page and the versions page share: from
    ``archive.product_version`` (``source == "product_version"``), else from the
    sessions of the products' generating activities (package ``software_package``).
    """
    if source == "product_version":
        return _software_version_totals(conn)
    row = one(
        conn,
        f"""
        SELECT count(DISTINCT (s.software_package, s.software_version)) AS versions,
               count(DISTINCT s.software_package) AS packages
        FROM {session_table()} s
        WHERE s.software_version IS NOT NULL AND EXISTS (
            SELECT 1 FROM provenance.activity a
            JOIN provenance.wasgeneratedby g ON g.activity_id = a.id
            WHERE a.session_id = s.id)
        """,
    )
    assert row is not None  # an aggregate always answers one row
    return {"versions": int(row["versions"] or 0), "packages": int(row["packages"] or 0)}


# A software row counts for ``archive.product_version`` when it is a file's or its session
# generated something. Joining every product to its session's ~170 environment packages
# (what the view does) takes minutes at year scale, and even grouping archive.software
# grows with every night; so the pairs are found by a skip scan of the
# (package, version, session_id) index -- each step is the first row of the next pair,
# whose session is checked (index lookups) -- and only a pair whose first session
# generated nothing is checked against all its rows.
_VERSION_PAIRS = """
    WITH RECURSIVE pairs AS (
        (SELECT package, version, session_id FROM archive.software
         ORDER BY package, version, session_id LIMIT 1)
        UNION ALL
        SELECT n.package, n.version, n.session_id
        FROM pairs p CROSS JOIN LATERAL (
            SELECT w.package, w.version, w.session_id FROM archive.software w
            WHERE (w.package, w.version) > (p.package, p.version)
            ORDER BY w.package, w.version, w.session_id LIMIT 1) n
    ), files AS (
        SELECT DISTINCT package, version FROM archive.software WHERE entity_id IS NOT NULL
    )
    SELECT p.package, p.version,
           EXISTS (SELECT 1 FROM files f WHERE f.package = p.package AND f.version = p.version)
           OR EXISTS (
               SELECT 1 FROM provenance.activity a
               JOIN provenance.wasgeneratedby g ON g.activity_id = a.id
               WHERE a.session_id = p.session_id) AS counted
    FROM pairs p
"""

_VERSION_PAIRS_RECHECK = """
    SELECT DISTINCT w.package, w.version
    FROM archive.software w
    WHERE w.package = ANY(:packages) AND (w.package, w.version) IN (
              SELECT * FROM unnest(CAST(:packages AS text[]), CAST(:versions AS text[])))
      AND EXISTS (SELECT 1 FROM provenance.activity a
                  JOIN provenance.wasgeneratedby g ON g.activity_id = a.id
                  WHERE a.session_id = w.session_id)
"""


def _software_version_totals(conn: sa.Connection) -> dict[str, int]:
    """``version_totals`` over ``archive.product_version`` without scanning the view."""
    pairs = conn.execute(sa.text(_VERSION_PAIRS)).all()
    found = {(package, version) for package, version, counted in pairs if counted}
    doubtful = [(package, version) for package, version, counted in pairs if not counted]
    if doubtful:
        found.update(
            tuple(row)
            for row in conn.execute(
                sa.text(_VERSION_PAIRS_RECHECK),
                {
                    "packages": [package for package, _ in doubtful],
                    "versions": [version for _, version in doubtful],
                },
            )
        )
    return {"versions": len(found), "packages": len({package for package, _ in found})}
