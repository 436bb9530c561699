"""software package of a session

* archive.processing_session.software_package: the package that software_version is
  a version of (lstosa sessions: lstchain; ctapipe tools: ctapipe, or the package named
  in '<package> <version>'), filled by ingest and backfilled here for existing rows with
  the rule archive.software already uses for session versions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# frozen copy of provdb.ingest.load.session_package
BACKFILL = r"""
UPDATE archive.processing_session
SET software_package = CASE
    WHEN source_format = 'ctapipe' AND software_version ~ '^[^ ]+ [^ ]+$'
        THEN lower(regexp_replace(btrim(split_part(software_version, ' ', 1)), '[-.\s]+', '_', 'g'))
    WHEN source_format = 'ctapipe' THEN 'ctapipe'
    ELSE 'lstchain' END
WHERE software_version IS NOT NULL AND software_version <> ''
"""


def upgrade() -> None:
    op.add_column('processing_session', sa.Column('software_package', sa.Text(), nullable=True, comment="Package that software_version is a version of (lstchain for lstosa sessions, ctapipe or the package a ctapipe tool's log names), as in archive.software.package"), schema='archive')
    op.create_index(op.f('ix_archive_processing_session_software_package'), 'processing_session', ['software_package'], unique=False, schema='archive')
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_index(op.f('ix_archive_processing_session_software_package'), table_name='processing_session', schema='archive')
    op.drop_column('processing_session', 'software_package', schema='archive')
