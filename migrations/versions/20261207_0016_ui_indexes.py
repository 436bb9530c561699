"""indexes for the UI's home, night and run pages at archive scale

* provenance.used (entity_id, activity_id): the activities that used an entity by an
  index-only scan that a LIMIT stops early. The UI counts each drawn node's neighbours
  up to a cap (provdb.lineage.neighbours); through the single-column index PostgreSQL
  chose bitmap scans, which read every use of a calibration file (tens of thousands at
  year scale) before the LIMIT applied.
* archive.processing_session (observation_date, observation_run): the latest runs of
  the home page, read backwards and stopped at the runs shown, instead of grouping every
  session of the archive.
* archive.software (package, version, session_id): ``version = '0.12.4'`` as written
  (archive.product_version filters; the (package, major, minor, patch) index read every
  row of the package) and the distinct (package, version) pairs by a skip scan (one probe per pair, each giving a session of the pair) instead
  of grouping every software row (~170 per session).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_used_entity_activity",
        "used",
        ["entity_id", "activity_id"],
        unique=False,
        schema="provenance",
    )
    op.create_index(
        "ix_processing_session_date_run",
        "processing_session",
        ["observation_date", "observation_run"],
        unique=False,
        schema="archive",
    )
    op.create_index(
        "ix_software_version_session",
        "software",
        ["package", "version", "session_id"],
        unique=False,
        schema="archive",
    )


def downgrade() -> None:
    op.drop_index("ix_software_version_session", table_name="software", schema="archive")
    op.drop_index(
        "ix_processing_session_date_run", table_name="processing_session", schema="archive"
    )
    op.drop_index("ix_used_entity_activity", table_name="used", schema="provenance")
