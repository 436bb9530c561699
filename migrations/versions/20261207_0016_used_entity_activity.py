"""index of provenance.used on (entity_id, activity_id)

* provenance.used: a btree index on (entity_id, activity_id), so that the activities
  that used an entity are read by an index-only scan that a LIMIT stops early. The UI
  counts each drawn node's neighbours up to a cap (provdb.lineage.neighbours); through
  the single-column index PostgreSQL chose bitmap scans, which read every use of a
  calibration file (tens of thousands at year scale) before the LIMIT applied.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op


revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_used_entity_activity', 'used', ['entity_id', 'activity_id'], unique=False, schema='provenance')


def downgrade() -> None:
    op.drop_index('ix_used_entity_activity', table_name='used', schema='provenance')
