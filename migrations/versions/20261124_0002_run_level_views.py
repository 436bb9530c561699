"""run-level views of lstosa subrun provenance

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

lstosa's post-processing (provprocess) collapses the subrun activities of a run into
one random-id activity per step and throws the subrun files away. provdb keeps the
subrun activities as they are and offers the run level as views instead, with ids
made from what identifies a run (night, run number, step group) rather than random:

* archive.run_activity: every lstosa activity with its run and step group
  (calibration, r0_to_dl1, dl1_to_dl2); the calibration activities of a night are
  attached to every run of that night, as provprocess attaches the ped-cal lines;
* archive.run_step: one row per run and step group, plus the group 'all';
* archive.run_entity: the files used, generated or derived from in each run step;
  subrun_level marks the entity kinds provprocess drops (name containing 'Subrun').
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

GROUP = """
    CASE WHEN activity_name IN ('drs4_pedestal', 'calibrate_charge') THEN 'calibration'
         WHEN activity_name IN ('r0_to_dl1', 'dl1ab', 'dl1_datacheck') THEN 'r0_to_dl1'
         WHEN activity_name = 'dl1_to_dl2' THEN 'dl1_to_dl2'
         ELSE 'other' END
"""


def upgrade() -> None:
    op.execute(
        f"""
        CREATE VIEW archive.run_activity AS
        WITH data AS (
            SELECT s.observation_date, s.observation_run, a.id AS activity_id,
                   a.name AS activity_name, s.software_version, a.session_id,
                   a.start_time, a.end_time
            FROM provenance.activity a JOIN archive.processing_session s ON s.id = a.session_id
            WHERE s.source_format = 'lstosa' AND s.observation_run IS NOT NULL
        ), runs AS (
            SELECT DISTINCT observation_date, observation_run FROM data
        ), calibration AS (
            SELECT r.observation_date, r.observation_run, a.id, a.name, s.software_version,
                   a.session_id, a.start_time, a.end_time
            FROM provenance.activity a
            JOIN archive.processing_session s ON s.id = a.session_id
            JOIN runs r ON r.observation_date = s.observation_date
            WHERE s.source_format = 'lstosa' AND s.observation_run IS NULL
              AND s.pedestal_run IS NOT NULL
        )
        SELECT observation_date || '_' || observation_run AS run_id,
               observation_date, observation_run, {GROUP} AS step_group,
               activity_id, activity_name, software_version, session_id, start_time, end_time
        FROM (SELECT * FROM data UNION ALL SELECT * FROM calibration) x
        """
    )
    op.execute(
        """
        CREATE VIEW archive.run_step AS
        SELECT run_id || ':' || step_group AS run_step_id, run_id, observation_date,
               observation_run, step_group, count(*) AS n_activities,
               min(start_time) AS start_time, max(end_time) AS end_time,
               string_agg(DISTINCT software_version, ',') AS software_versions
        FROM (
            SELECT run_id, observation_date, observation_run, step_group, start_time,
                   end_time, software_version FROM archive.run_activity
            UNION ALL
            SELECT run_id, observation_date, observation_run, 'all', start_time, end_time,
                   software_version FROM archive.run_activity
        ) x
        GROUP BY run_id, observation_date, observation_run, step_group
        """
    )
    op.execute(
        """
        CREATE VIEW archive.run_entity AS
        WITH links AS (
            SELECT ra.run_id, ra.step_group, u.entity_id, 'used' AS relation, u.role
            FROM archive.run_activity ra JOIN provenance.used u ON u.activity_id = ra.activity_id
            UNION
            SELECT ra.run_id, ra.step_group, g.entity_id, 'generated', g.role
            FROM archive.run_activity ra
            JOIN provenance.wasgeneratedby g ON g.activity_id = ra.activity_id
            UNION
            SELECT ra.run_id, ra.step_group, d.used_entity_id, 'progenitor', NULL
            FROM archive.run_activity ra
            JOIN provenance.wasgeneratedby g ON g.activity_id = ra.activity_id
            JOIN provenance.wasderivedfrom d ON d.generated_entity_id = g.entity_id
        ), grouped AS (
            SELECT * FROM links
            UNION
            SELECT run_id, 'all', entity_id, relation, role FROM links
        )
        SELECT l.run_id || ':' || l.step_group AS run_step_id, l.run_id, l.step_group,
               l.entity_id, l.relation, l.role, e.name AS entity_name, e.location,
               -- 0/1 rather than boolean: ADQL has no boolean type
               CASE WHEN coalesce(e.name, '') LIKE '%Subrun%' THEN 1 ELSE 0 END
                   AS subrun_level
        FROM grouped l JOIN provenance.entity e ON e.id = l.entity_id
        """
    )
    for view, text in (
        ("run_activity", "lstosa activities with their run and step group (calibration, "
         "r0_to_dl1, dl1_to_dl2); a night's calibration activities belong to each of its runs"),
        ("run_step", "One row per run and step group (and 'all'): the run-level view of "
         "lstosa's subrun activities, with deterministic ids '<date>_<run>:<group>'"),
        ("run_entity", "Files used, generated or derived from by each run step"),
    ):
        quoted = text.replace("'", "''")
        op.execute(f"COMMENT ON VIEW archive.{view} IS '{quoted}'")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS archive.run_entity")
    op.execute("DROP VIEW IF EXISTS archive.run_step")
    op.execute("DROP VIEW IF EXISTS archive.run_activity")
