"""ingest conflicts, rejected lines as text, ingest bookkeeping published

* archive.ingest_conflict: values a source file gave an attribute that differ from what
  the archive already held (first sighting wins; the other value is kept here).
* archive.ingest_reject.raw_text: the rejected line as printable text (invalid UTF-8 as
  \\xNN, control characters escaped), backfilled from raw.
* archive.ingest_file_age: ingested files with the hours since their last ingest (ADQL
  has no clock: "tonight's" rejects filter on it).

`provdb db upgrade` publishes ingest_file, ingest_reject, ingest_conflict and the view in
TAP_SCHEMA after the migration (provdb.schema.tap_schema).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_NOW = sa.text("(now() at time zone 'utc')")

AGE_VIEW = """
CREATE VIEW archive.ingest_file_age AS
SELECT id AS ingest_file_id, path, status, last_ingest,
       extract(epoch FROM (now() at time zone 'utc') - last_ingest)::double precision / 3600.0
         AS hours_since_ingest
FROM archive.ingest_file
"""

# frozen copy of provdb.ingest.raw_text at this revision (a migration keeps its own code)
_CONTROLS = {
    code: {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}.get(
        code, f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"
    )
    for code in (*range(0x20), *range(0x7F, 0xA0))
}


def _raw_text(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "backslashreplace").translate(_CONTROLS)


def upgrade() -> None:
    op.add_column('ingest_reject', sa.Column('raw_text', sa.Text(), server_default='', nullable=False, comment='The line as text: invalid UTF-8 bytes shown as \\xNN, control characters escaped (\\t, \\r, \\x00...)'), schema='archive')
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, raw FROM archive.ingest_reject")).fetchall()
    if rows:
        conn.execute(
            sa.text("UPDATE archive.ingest_reject SET raw_text = :t WHERE id = :i"),
            [{"i": i, "t": _raw_text(raw)} for i, raw in rows],
        )
    op.create_table('ingest_conflict',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key'),
    sa.Column('ingest_file_id', sa.BigInteger(), nullable=False, comment='The source file that gave the new value'),
    sa.Column('line_number', sa.BigInteger(), nullable=True, comment='1-based line of the record that gave the new value (null for documents)'),
    sa.Column('table_name', sa.Text(), nullable=False, comment='Archive table of the object (provenance.entity, provenance.activity...)'),
    sa.Column('object_id', sa.Text(), nullable=False, comment='Id of the entity, activity, agent, session... in that table'),
    sa.Column('attribute', sa.Text(), nullable=False, comment='Column whose value differs'),
    sa.Column('kept_value', sa.Text(), nullable=False, comment='Value the archive holds (first sighting), as text'),
    sa.Column('new_value', sa.Text(), nullable=False, comment='Value this file gave (not stored in the table), as text'),
    sa.Column('created', sa.DateTime(), server_default=_NOW, nullable=False, comment='When the conflict was found (UTC)'),
    sa.ForeignKeyConstraint(['ingest_file_id'], ['archive.ingest_file.id'], name=op.f('fk_ingest_conflict_ingest_file_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_conflict')),
    sa.UniqueConstraint('ingest_file_id', 'table_name', 'object_id', 'attribute', name='uq_ingest_conflict'),
    schema='archive',
    comment='Values a source file gave an attribute that differ from what the archive already held: the first sighting is kept, the other value is kept here'
    )
    op.create_index(op.f('ix_archive_ingest_conflict_ingest_file_id'), 'ingest_conflict', ['ingest_file_id'], unique=False, schema='archive')
    op.execute(AGE_VIEW)
    op.execute(
        "COMMENT ON VIEW archive.ingest_file_age IS 'Ingested files with the hours since "
        "their last ingest (ADQL has no clock: filter hours_since_ingest < 24 for "
        "tonight''s files)'"
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS archive.ingest_file_age")
    op.drop_index(op.f('ix_archive_ingest_conflict_ingest_file_id'), table_name='ingest_conflict', schema='archive')
    op.drop_table('ingest_conflict', schema='archive')
    op.drop_column('ingest_reject', 'raw_text', schema='archive')
