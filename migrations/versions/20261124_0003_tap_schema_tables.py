"""TAP_SCHEMA tables

The five TAP 1.1 TAP_SCHEMA tables with their foreign keys. Their rows are not written
here: `provdb db upgrade` rewrites them from the models after every migration
(provdb.schema.tap_schema.refresh), so TAP_SCHEMA always describes the schema in place.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS tap_schema")
    op.create_table('schemas',
    sa.Column('schema_name', sa.Text(), nullable=False, comment='Schema name, as used in queries'),
    sa.Column('utype', sa.Text(), nullable=True, comment='Utype of the schema'),
    sa.Column('description', sa.Text(), nullable=True, comment='Description of the schema'),
    sa.Column('schema_index', sa.Integer(), nullable=True, comment='Recommended display order'),
    sa.PrimaryKeyConstraint('schema_name', name=op.f('pk_schemas')),
    schema='tap_schema',
    comment='Schemas published by this service'
    )
    op.create_table('tables',
    sa.Column('schema_name', sa.Text(), nullable=False, comment='Schema the table belongs to'),
    sa.Column('table_name', sa.Text(), nullable=False, comment='Fully qualified table name, as used in queries'),
    sa.Column('table_type', sa.Text(), nullable=False, comment="'table' or 'view'"),
    sa.Column('utype', sa.Text(), nullable=True, comment='Utype of the table'),
    sa.Column('description', sa.Text(), nullable=True, comment='Description of the table'),
    sa.Column('table_index', sa.Integer(), nullable=True, comment='Recommended display order'),
    sa.ForeignKeyConstraint(['schema_name'], ['tap_schema.schemas.schema_name'], name='fk_tables_schema_name', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('table_name', name=op.f('pk_tables')),
    schema='tap_schema',
    comment='Tables published by this service'
    )
    op.create_table('columns',
    sa.Column('table_name', sa.Text(), nullable=False, comment='Table the column belongs to'),
    sa.Column('column_name', sa.Text(), nullable=False, comment='Column name, as used in queries'),
    sa.Column('datatype', sa.Text(), nullable=False, comment='VOTable datatype'),
    sa.Column('arraysize', sa.Text(), nullable=True, comment='VOTable arraysize'),
    sa.Column('xtype', sa.Text(), nullable=True, comment='VOTable xtype'),
    sa.Column('size', sa.Integer(), nullable=True, comment='Length of fixed-size arrays (deprecated)'),
    sa.Column('description', sa.Text(), nullable=True, comment='Description of the column'),
    sa.Column('utype', sa.Text(), nullable=True, comment='Utype of the column'),
    sa.Column('unit', sa.Text(), nullable=True, comment='Unit (VOUnit)'),
    sa.Column('ucd', sa.Text(), nullable=True, comment='UCD of the column'),
    sa.Column('indexed', sa.Integer(), nullable=False, comment='1 if the column is indexed'),
    sa.Column('principal', sa.Integer(), nullable=False, comment='1 if the column is of main interest'),
    sa.Column('std', sa.Integer(), nullable=False, comment='1 if the column is defined by a standard'),
    sa.Column('column_index', sa.Integer(), nullable=True, comment='Recommended display order'),
    sa.ForeignKeyConstraint(['table_name'], ['tap_schema.tables.table_name'], name='fk_columns_table_name', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('table_name', 'column_name', name=op.f('pk_columns')),
    schema='tap_schema',
    comment='Columns of the published tables'
    )
    op.create_table('keys',
    sa.Column('key_id', sa.Text(), nullable=False, comment='Key identifier'),
    sa.Column('from_table', sa.Text(), nullable=False, comment='Table holding the foreign key'),
    sa.Column('target_table', sa.Text(), nullable=False, comment='Table the key points to'),
    sa.Column('description', sa.Text(), nullable=True, comment='Description of the key'),
    sa.Column('utype', sa.Text(), nullable=True, comment='Utype of the key'),
    sa.ForeignKeyConstraint(['from_table'], ['tap_schema.tables.table_name'], name='fk_keys_from_table', ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_table'], ['tap_schema.tables.table_name'], name='fk_keys_target_table', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_keys')),
    schema='tap_schema',
    comment='Foreign keys between published tables'
    )
    op.create_table('key_columns',
    sa.Column('key_id', sa.Text(), nullable=False, comment='Key identifier'),
    sa.Column('from_column', sa.Text(), nullable=False, comment='Column in from_table'),
    sa.Column('target_column', sa.Text(), nullable=False, comment='Column in target_table'),
    sa.ForeignKeyConstraint(['key_id'], ['tap_schema.keys.key_id'], name='fk_key_columns_key_id', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key_id', 'from_column', name=op.f('pk_key_columns')),
    schema='tap_schema',
    comment='Columns of the foreign keys'
    )


def downgrade() -> None:
    op.drop_table('key_columns', schema='tap_schema')
    op.drop_table('keys', schema='tap_schema')
    op.drop_table('columns', schema='tap_schema')
    op.drop_table('tables', schema='tap_schema')
    op.drop_table('schemas', schema='tap_schema')
    op.execute("DROP SCHEMA IF EXISTS tap_schema")
