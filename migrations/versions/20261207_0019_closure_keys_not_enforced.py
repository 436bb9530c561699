"""the lineage closure's references to entities are declared, not enforced

``archive.lineage`` and ``archive.lineage_edge`` are derived by the ingest, in the same
transaction, from used, wasGeneratedBy and wasDerivedFrom rows whose entities the
database has already checked; their own four foreign keys checked every row again: two
index probes of ``provenance.entity`` per row, 600,000 for a full-size night (213,748
closure rows and ~87,000 edges), a third of the closure insert's time on the year
benchmark's archive (bench/results/2026-12-07-insert-order.json). Entities are never
deleted, so nothing is lost. The keys stay in the models (``NOT_ENFORCED``): TAP_SCHEMA
still publishes them as joins.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_KEYS = (
    ("lineage", "entity_id"),
    ("lineage", "ancestor_id"),
    ("lineage_edge", "entity_id"),
    ("lineage_edge", "parent_id"),
)


def upgrade() -> None:
    for table, column in _KEYS:
        op.drop_constraint(f"fk_{table}_{column}", table, schema="archive", type_="foreignkey")


def downgrade() -> None:
    for table, column in _KEYS:
        op.create_foreign_key(
            f"fk_{table}_{column}",
            table,
            "entity",
            [column],
            ["id"],
            source_schema="archive",
            referent_schema="provenance",
        )
