"""drop the single-column index on provenance.used (entity_id)

0016's ``ix_used_entity_activity (entity_id, activity_id)`` starts with entity_id, so it
serves every lookup by entity_id alone (the ProvSAP and UI descendants, DataLink, the
foreign-key checks of a deleted entity) as well as ``ix_provenance_used_entity_id`` did;
keeping both made every ``used`` row of an ingest maintain two b-trees for the same
lookups. The plans of those readers on the 200-night year archive, with and without the
index, and the WAL an ingest writes for it are in docs/performance.md.

A plain ``DROP INDEX``, not ``DROP INDEX CONCURRENTLY``: provdb runs its migrations in one
transaction (``provdb db upgrade``), where CONCURRENTLY is refused, and dropping an index
only removes catalog rows (the file goes at commit), so the ACCESS EXCLUSIVE lock on
``used`` lasts as long as the upgrade's transaction, about a second. What it can wait for
is a long query that reads ``used`` when the upgrade starts (and queries arriving
meanwhile wait behind it): upgrade when the archive is quiet, as for any migration.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_provenance_used_entity_id", table_name="used", schema="provenance")


def downgrade() -> None:
    op.create_index(
        "ix_provenance_used_entity_id", "used", ["entity_id"], unique=False, schema="provenance"
    )
