"""drop the five single-column relation indexes that a unique constraint already leads with

``provenance.used (activity_id)``, ``parameter (activity_id)``, ``configfile
(activity_id)``, ``wasassociatedwith (activity_id)`` and ``wasgeneratedby (entity_id)``
each had an index of their own although the table's content uniqueness constraint
(``uq_used (activity_id, entity_id, role)``, ``uq_parameter (activity_id, name)``, ...)
starts with the same column and serves every lookup by it alone (a b-tree on (a, b)
finds a = x as well). Every row an ingest adds maintained both b-trees; activity and
entity ids are random hex, so each kept index costs a random leaf page per row once
the archive is larger than memory can cache. TAP_SCHEMA still says
the columns are indexed (the leading column of a unique constraint counts). Same
reasoning as 0017; measured in docs/performance.md ("Redundant indexes, insert
order, and the parameter value index").

A plain ``DROP INDEX`` in the upgrade's transaction (see 0017 for the lock it takes).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

#: (index, table, column): what 0001's ``index=True`` foreign keys created
DROPPED = (
    ("ix_provenance_used_activity_id", "used", "activity_id"),
    ("ix_provenance_parameter_activity_id", "parameter", "activity_id"),
    ("ix_provenance_configfile_activity_id", "configfile", "activity_id"),
    ("ix_provenance_wasassociatedwith_activity_id", "wasassociatedwith", "activity_id"),
    ("ix_provenance_wasgeneratedby_entity_id", "wasgeneratedby", "entity_id"),
)


def upgrade() -> None:
    for name, table, _column in DROPPED:
        op.drop_index(name, table_name=table, schema="provenance")


def downgrade() -> None:
    for name, table, column in DROPPED:
        op.create_index(name, table, [column], unique=False, schema="provenance")
