"""ingest tokens

* archive.api_token: the tokens of the HTTP ingest endpoint (POST /ingest), created,
  listed and revoked with ``provdb token``; only the sha256 of each secret is stored.
  Not published in TAP_SCHEMA.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_NOW = sa.text("(now() at time zone 'utc')")


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name given at creation (who pushes with it, e.g. lst-cluster); also names the spool folder of its pushed files'),
    sa.Column('scope', sa.Text(), nullable=False, comment='What the token allows: ingest (POST /ingest)'),
    sa.Column('secret_sha256', sa.Text(), nullable=False, comment='sha256 (hex) of the secret; the secret itself is shown once and never stored'),
    sa.Column('created', sa.DateTime(), server_default=_NOW, nullable=False, comment='When the token was created (UTC)'),
    sa.Column('last_used', sa.DateTime(), nullable=True, comment='When the token last authenticated a request (UTC)'),
    sa.Column('revoked', sa.DateTime(), nullable=True, comment='When the token was revoked (UTC); a revoked token is refused (403)'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('name', name=op.f('uq_api_token_name')),
    sa.UniqueConstraint('secret_sha256', name=op.f('uq_api_token_secret_sha256')),
    schema='archive',
    comment='Tokens that authenticate pipelines pushing logs to POST /ingest (only the sha256 of each secret is kept)'
    )


def downgrade() -> None:
    op.drop_table('api_token', schema='archive')
