"""product flags and entity hashes

* archive.product_flag: quality flags of products (provdb check's entity rules), one
  row per flagged entity and rule, kept current by every ingest and scan
  (provdb.answers.flags). Left empty here: a migration keeps frozen SQL and the rules
  live in provdb's code; ``provdb check --rebuild-flags`` fills it for an existing
  archive.
* archive.entity_hash: every distinct content hash recorded for an entity, backfilled
  from provenance.entity.content_hash.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_NOW = sa.text("(now() at time zone 'utc')")

BACKFILL = """
INSERT INTO archive.entity_hash (entity_id, hash_type, content_hash, source)
SELECT id, coalesce(content_hash_type, 'unknown'), content_hash, 'entity'
FROM provenance.entity
WHERE content_hash IS NOT NULL
ON CONFLICT DO NOTHING
"""


def upgrade() -> None:
    op.create_table('product_flag',
    sa.Column('entity_id', sa.Text(), nullable=False, comment='The flagged entity (provenance.entity.id)'),
    sa.Column('rule', sa.Text(), nullable=False, comment='stale, mixed-versions, failed-ancestor, missing-input or hash-conflict'),
    sa.Column('severity', sa.Text(), nullable=False, comment='error, warning or info'),
    sa.Column('detail', sa.Text(), nullable=False, comment='One-line explanation naming the culprit'),
    sa.Column('cause_id', sa.Text(), nullable=True, comment='The ancestor entity or activity responsible (the first one in id order)'),
    sa.Column('since', sa.DateTime(), server_default=_NOW, nullable=False, comment='When the flag was first raised (UTC); kept while the flag stays'),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_product_flag_entity_id')),
    sa.PrimaryKeyConstraint('entity_id', 'rule', name=op.f('pk_product_flag')),
    schema='archive',
    comment='Quality flags of products (provdb check rules), kept current by every ingest and scan: one row per flagged entity and rule'
    )
    op.create_index('ix_product_flag_rule', 'product_flag', ['rule'], unique=False, schema='archive')
    op.create_table('entity_hash',
    sa.Column('entity_id', sa.Text(), nullable=False, comment='The entity (provenance.entity.id)'),
    sa.Column('hash_type', sa.Text(), nullable=False, comment='Hash algorithm (md5, sha256...)'),
    sa.Column('content_hash', sa.Text(), nullable=False, comment='Checksum of the content'),
    sa.Column('source', sa.Text(), nullable=False, comment='Where it was recorded: the ingested file\'s format (w3c-prov, ...) or scan'),
    sa.Column('first_seen', sa.DateTime(), server_default=_NOW, nullable=False, comment='When the hash was first recorded (UTC)'),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_entity_hash_entity_id')),
    sa.PrimaryKeyConstraint('entity_id', 'hash_type', 'content_hash', name=op.f('pk_entity_hash')),
    schema='archive',
    comment='Every distinct content hash recorded for an entity (logs carrying hashes, provdb scan --hash): several hashes of one type and fewer generations mean the file changed outside the recorded provenance'
    )
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_table('entity_hash', schema='archive')
    op.drop_index('ix_product_flag_rule', table_name='product_flag', schema='archive')
    op.drop_table('product_flag', schema='archive')
