"""UWS job table and read-only TAP role

Creates schema `uws` with the job table of the TAP /async endpoint, and the NOLOGIN
role `provdb_tap_reader` that TAP queries run as (SET LOCAL ROLE): it may only read the
published tables. `provdb db upgrade` grants it SELECT on exactly what TAP_SCHEMA
publishes. Creating a role needs CREATEROLE: on a server where the migrating user lacks
it the role is skipped (with a notice) and queries rely on the read-only transaction and
the ADQL allow-lists alone. Roles are cluster-wide, so the downgrade revokes this
database's grants but leaves the role.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


ROLE = "provdb_tap_reader"


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS uws")
    op.execute(
        f"""
        DO $$
        BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
            IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)
            THEN
              CREATE ROLE {ROLE} NOLOGIN;
            ELSE
              RAISE NOTICE 'no CREATEROLE privilege: role {ROLE} not created';
            END IF;
          END IF;
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}')
             AND NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
            EXECUTE format('GRANT {ROLE} TO %I', current_user);
          END IF;
        END $$
        """
    )
    op.create_table('job',
    sa.Column('job_id', sa.Text(), nullable=False, comment='Job identifier'),
    sa.Column('run_id', sa.Text(), nullable=True, comment="Client's RUNID tag"),
    sa.Column('owner_id', sa.Text(), nullable=True, comment='Owner (null: anonymous)'),
    sa.Column('phase', sa.Text(), nullable=False, comment='UWS phase'),
    sa.Column('creation_time', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False, comment='When the job was created'),
    sa.Column('start_time', sa.DateTime(timezone=True), nullable=True, comment='When execution started'),
    sa.Column('end_time', sa.DateTime(timezone=True), nullable=True, comment='When execution ended'),
    sa.Column('execution_duration', sa.Integer(), nullable=False, comment='Allowed run time in seconds (0: unlimited)'),
    sa.Column('destruction', sa.DateTime(timezone=True), nullable=False, comment='When the job will be destroyed'),
    sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False, comment='TAP parameters as a list of [name, value] pairs'),
    sa.Column('uploads', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='Inline uploads received with the job: name -> file name in the job folder'),
    sa.Column('error_message', sa.Text(), nullable=True, comment='Why the job failed'),
    sa.Column('error_type', sa.Text(), nullable=True, comment='transient or fatal'),
    sa.Column('result_path', sa.Text(), nullable=True, comment='File holding the result'),
    sa.Column('result_mime', sa.Text(), nullable=True, comment='Media type of the result'),
    sa.Column('result_size', sa.BigInteger(), nullable=True, comment='Result size, bytes'),
    sa.Column('result_rows', sa.BigInteger(), nullable=True, comment='Rows in the result'),
    sa.Column('worker', sa.Text(), nullable=True, comment='host:pid of the executor'),
    sa.Column('query_pid', sa.Integer(), nullable=True, comment='PostgreSQL backend running the query (to cancel on abort)'),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_job')),
    schema='uws',
    comment='UWS 1.1 jobs of the TAP /async endpoint'
    )
    op.create_index('ix_uws_job_phase_created', 'job', ['phase', 'creation_time'], unique=False, schema='uws')


def downgrade() -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
          IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
            EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA provenance, archive, tap_schema FROM {ROLE}';
            EXECUTE 'REVOKE ALL ON SCHEMA provenance, archive, tap_schema FROM {ROLE}';
          END IF;
        END $$
        """
    )
    op.drop_index('ix_uws_job_phase_created', table_name='job', schema='uws')
    op.drop_table('job', schema='uws')
    op.execute("DROP SCHEMA IF EXISTS uws")
