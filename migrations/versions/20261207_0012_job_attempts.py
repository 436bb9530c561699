"""attempts of an async job

* uws.job.attempts: how many times a worker has claimed the job. A job whose worker
  died is put back in the queue only while it has had fewer than
  PROVDB_TAP_JOB_MAX_ATTEMPTS attempts; then it ends ERROR with the reason (a query
  that kills its worker every time is not requeued forever).
* uws.job.worker: its comment says the id is host:token:pid (instances on several hosts
  share the queue; a worker is alive while its presence connection to the primary is).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_WORKER_OLD = 'host:pid of the executor'
_WORKER_NEW = 'host:token:pid of the executing worker (alive while its presence connection is)'


def upgrade() -> None:
    op.add_column('job', sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False, comment='How many times a worker claimed the job (a died worker counts)'), schema='uws')
    # worker ids carry a random token since several instances share the queue
    op.alter_column('job', 'worker', existing_type=sa.Text(), comment=_WORKER_NEW, existing_comment=_WORKER_OLD, existing_nullable=True, schema='uws')


def downgrade() -> None:
    op.alter_column('job', 'worker', existing_type=sa.Text(), comment=_WORKER_OLD, existing_comment=_WORKER_NEW, existing_nullable=True, schema='uws')
    op.drop_column('job', 'attempts', schema='uws')
