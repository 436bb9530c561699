"""indexes to filter parameters by name and value

* provenance.parameter: a hash index on parameter_value (equality filters; a hash index
  has no length limit, where a btree refuses values over ~2.7 kB such as configuration
  dumps) and a btree index on name; PostgreSQL combines them (bitmap AND) for
  ``WHERE name = ... AND parameter_value = ...`` and the join to the activity.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_parameter_parameter_value', 'parameter', ['parameter_value'], unique=False, schema='provenance', postgresql_using='hash')
    op.create_index('ix_parameter_name', 'parameter', ['name'], unique=False, schema='provenance')


def downgrade() -> None:
    op.drop_index('ix_parameter_name', table_name='parameter', schema='provenance')
    op.drop_index('ix_parameter_parameter_value', table_name='parameter', schema='provenance', postgresql_using='hash')
