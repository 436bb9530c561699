"""partial index of the activities that failed or never ended

The "failed-ancestor" rule of the product flags, which every ingest re-evaluates for the
products it touched, joins the lineage's activities with the failed or unfinished ones.
Without an index on that condition PostgreSQL read every activity of the archive to find
the few that match: on the year benchmark's full-size archive (200 nights, 2.4 million
activities) that scan took 1.4 s of night 200's flag upkeep, growing with the archive
(the plan is kept in bench/results/2026-12-07-year-40m.json). This partial index holds
only those rows (28 of 2.4 million there), so the rule reads them by index; the
condition is ``provdb.schema.core.failed_activity_sql()``, the one the rule uses
(PostgreSQL uses a partial index only when the query's condition implies the index's).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# written out, not imported: a migration keeps the condition it created the index with
_FAILED = (
    "status IN ('error', 'interrupted') OR exit_code <> 0 "
    "OR (end_time IS NULL AND start_time IS NOT NULL)"
)


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_activity_failed ON provenance.activity (id) WHERE {_FAILED}")


def downgrade() -> None:
    op.drop_index("ix_activity_failed", table_name="activity", schema="provenance")
