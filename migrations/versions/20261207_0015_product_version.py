"""indexes for archive.product_version at year scale

* provenance.entity: an index on the data-level expression that the view
  archive.product_version calls product_type (the same expression, so the planner
  matches it): ``product_type = 'DL3'`` becomes an index lookup with statistics (ANALYZE
  gathers them for an expression index) instead of two regular expressions over every
  entity, and both arms of the view's UNION start from the few products of that type.
* (``version = '0.12.4'`` as written is answered by migration 0016's
  archive.software (package, version, session_id) index, which the
  (package, major, minor, patch) index could not do without reading every row of the
  package.)

The view itself is unchanged (same columns, same rows); PostgreSQL maintains the
index on every ingest, scan and deletion, so nothing in provdb keeps them current.
Expression frozen here on purpose (a migration must not change when provdb's code does);
provdb.schema.product_type holds the live copy the models declare.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_LEVEL = r"'(?:^|[^A-Z0-9])(R0|R1|DL[0-5])(?![0-9])'"
PRODUCT_TYPE = (
    "coalesce(attributes #>> '{scan,data_level}', "
    f"substring(upper(name) from {_LEVEL}), "
    f"substring(upper(location) from {_LEVEL[:-1]}[^/]*$'))"
)


def upgrade() -> None:
    op.execute(f"CREATE INDEX ix_entity_product_type ON provenance.entity (({PRODUCT_TYPE}))")
    # statistics of the new expression now, not at the next autovacuum: without them the
    # planner guesses 0.5 % of the entities for any product_type
    op.execute("ANALYZE provenance.entity")


def downgrade() -> None:
    op.drop_index('ix_entity_product_type', table_name='entity', schema='provenance')
