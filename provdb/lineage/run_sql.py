"""SQL for the activities and files of given lstosa runs, for run pages and run graphs.

The views ``archive.run_activity`` / ``run_step`` / ``run_entity`` (migration 0002) hold
the same rows, but their ``run_id`` is computed and their ``data`` CTE is read twice, so
PostgreSQL builds every run of the archive before filtering on one (over a second per
run at 200 nights). These statements start from the wanted runs instead (the session
index on ``observation_run``), with the views' definitions otherwise unchanged: a run's
activities are those of its lstosa sessions plus every calibration activity of its night.

The placeholders are given by the caller (``:nights`` for SQLAlchemy, ``%(nights)s`` for
psycopg): two text arrays of the same length, one run per position.
"""

from __future__ import annotations

from provdb.versions import session_table

__all__ = ["STEP_GROUP", "run_activity_sql", "run_entity_sql"]

#: ``archive.run_activity.step_group`` of an activity name (as the view defines it).
STEP_GROUP = """
    CASE WHEN activity_name IN ('drs4_pedestal', 'calibrate_charge') THEN 'calibration'
         WHEN activity_name IN ('r0_to_dl1', 'dl1ab', 'dl1_datacheck') THEN 'r0_to_dl1'
         WHEN activity_name = 'dl1_to_dl2' THEN 'dl1_to_dl2'
         ELSE 'other' END
"""


def run_activity_sql(nights: str, runs: str) -> str:
    """A query with ``archive.run_activity``'s columns, for the runs ``(nights[i], runs[i])``.

    ``nights`` and ``runs`` are the placeholders of two ``text[]`` parameters.
    """
    s = session_table()
    return f"""
        WITH wanted AS (
            SELECT DISTINCT observation_date, observation_run
            FROM unnest(CAST({nights} AS text[]), CAST({runs} AS text[]))
                 AS w(observation_date, observation_run)
        ), data AS (
            SELECT s.observation_date, s.observation_run, a.id AS activity_id,
                   a.name AS activity_name, s.software_version, a.session_id,
                   a.start_time, a.end_time
            FROM wanted w
            JOIN {s} s ON s.observation_run = w.observation_run
                      AND s.observation_date = w.observation_date
            JOIN provenance.activity a ON a.session_id = s.id
            WHERE s.source_format = 'lstosa'
        ), runs AS (
            SELECT DISTINCT observation_date, observation_run FROM data
        ), calibration AS (
            SELECT r.observation_date, r.observation_run, a.id, a.name, s.software_version,
                   a.session_id, a.start_time, a.end_time
            FROM runs r
            JOIN {s} s ON s.observation_date = r.observation_date
            JOIN provenance.activity a ON a.session_id = s.id
            WHERE s.source_format = 'lstosa' AND s.observation_run IS NULL
              AND s.pedestal_run IS NOT NULL
        )
        SELECT observation_date || '_' || observation_run AS run_id,
               observation_date, observation_run, {STEP_GROUP} AS step_group,
               activity_id, activity_name, software_version, session_id, start_time, end_time
        FROM (SELECT * FROM data UNION ALL SELECT * FROM calibration) x
    """


def run_entity_sql(nights: str, runs: str, step: str) -> str:
    """The files of the runs' activities of step group ``step`` (a placeholder; ``'all'``
    for every group): ``run_id, entity_id, relation, role, entity_name, location,
    subrun_level`` as ``archive.run_entity`` has them (one row per link)."""
    return f"""
        WITH ra AS (
            SELECT run_id, activity_id FROM ({run_activity_sql(nights, runs)}) r
            WHERE {step} = 'all' OR step_group = {step}
        ), links AS (
            SELECT ra.run_id, u.entity_id, 'used' AS relation, u.role
            FROM ra JOIN provenance.used u ON u.activity_id = ra.activity_id
            UNION
            SELECT ra.run_id, g.entity_id, 'generated', g.role
            FROM ra JOIN provenance.wasgeneratedby g ON g.activity_id = ra.activity_id
            UNION
            SELECT ra.run_id, d.used_entity_id, 'progenitor', NULL
            FROM ra JOIN provenance.wasgeneratedby g ON g.activity_id = ra.activity_id
            JOIN provenance.wasderivedfrom d ON d.generated_entity_id = g.entity_id
        )
        SELECT l.run_id, l.entity_id, l.relation, l.role, e.name AS entity_name, e.location,
               CASE WHEN strpos(COALESCE(e.name, ''), 'Subrun') > 0 THEN 1 ELSE 0 END
                   AS subrun_level
        FROM links l JOIN provenance.entity e ON e.id = l.entity_id
    """
