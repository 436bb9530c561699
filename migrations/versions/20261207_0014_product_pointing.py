"""DL1/DL2 pointing in ivoa.obscore, and the logs each activity was read from

* archive.activity_source: which ingested files (archive.ingest_file) gave records of
  which activity, filled by every ingest from now on (files ingested before this
  migration have no rows until they are read again: the archive never kept that link);
  the DataLink ``#documentation`` of a product is the log of its generating activity;
* ivoa.obscore.s_ra / s_dec / t_min / t_max: their comments say where DL1/DL2 pointings
  and event times come from (``provdb scan`` now derives them; ``provdb scan --rescan``
  then ``provdb obscore --rebuild`` for files scanned before).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_RA_OLD = "Right ascension (ICRS) of the pointing (RA_PNT of a DL3 file)"
_DEC_OLD = "Declination (ICRS) of the pointing (DEC_PNT of a DL3 file)"
_TMIN_OLD = "Start of the observation (MJD, from TSTART and MJDREF of a DL3 file)"
_TMAX_OLD = "End of the observation (MJD, from TSTOP and MJDREF of a DL3 file)"
_TMIN_NEW = (
    "Start of the observation (MJD, from TSTART and MJDREF of a DL3 file; DL1/DL2: "
    "the earliest valid event time)"
)
_TMAX_NEW = (
    "End of the observation (MJD, from TSTOP and MJDREF of a DL3 file; DL1/DL2: "
    "the latest valid event time)"
)
_RA_NEW = (
    "Right ascension (ICRS) of the pointing (RA_PNT of a DL3 file; DL1/DL2: from the "
    "alt/az of the first valid event or pointing row at LST-1, as lstchain computes RA_PNT)"
)
_DEC_NEW = (
    "Declination (ICRS) of the pointing (DEC_PNT of a DL3 file; DL1/DL2: from the "
    "alt/az of the first valid event or pointing row at LST-1, as lstchain computes DEC_PNT)"
)


def upgrade() -> None:
    op.create_table(
        'activity_source',
        sa.Column('activity_id', sa.Text(), nullable=False, comment='The activity (provenance.activity.id)'),
        sa.Column('ingest_file_id', sa.BigInteger(), nullable=False, comment='The file its records were read from (archive.ingest_file.id)'),
        sa.ForeignKeyConstraint(['activity_id'], ['provenance.activity.id'], name=op.f('fk_activity_source_activity_id_activity'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['ingest_file_id'], ['archive.ingest_file.id'], name=op.f('fk_activity_source_ingest_file_id_ingest_file'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('activity_id', 'ingest_file_id', name=op.f('pk_activity_source')),
        schema='archive',
        comment='Ingested files (logs) that gave records of each activity: the activity itself or a generation by it; one row per activity and file',
    )
    op.create_index(op.f('ix_archive_activity_source_ingest_file_id'), 'activity_source', ['ingest_file_id'], unique=False, schema='archive')
    op.alter_column('obscore', 's_ra', existing_type=sa.Double(), comment=_RA_NEW, existing_comment=_RA_OLD, existing_nullable=True, schema='ivoa')
    op.alter_column('obscore', 's_dec', existing_type=sa.Double(), comment=_DEC_NEW, existing_comment=_DEC_OLD, existing_nullable=True, schema='ivoa')
    op.alter_column('obscore', 't_min', existing_type=sa.Double(), comment=_TMIN_NEW, existing_comment=_TMIN_OLD, existing_nullable=True, schema='ivoa')
    op.alter_column('obscore', 't_max', existing_type=sa.Double(), comment=_TMAX_NEW, existing_comment=_TMAX_OLD, existing_nullable=True, schema='ivoa')


def downgrade() -> None:
    op.alter_column('obscore', 't_max', existing_type=sa.Double(), comment=_TMAX_OLD, existing_comment=_TMAX_NEW, existing_nullable=True, schema='ivoa')
    op.alter_column('obscore', 't_min', existing_type=sa.Double(), comment=_TMIN_OLD, existing_comment=_TMIN_NEW, existing_nullable=True, schema='ivoa')
    op.alter_column('obscore', 's_dec', existing_type=sa.Double(), comment=_DEC_OLD, existing_comment=_DEC_NEW, existing_nullable=True, schema='ivoa')
    op.alter_column('obscore', 's_ra', existing_type=sa.Double(), comment=_RA_OLD, existing_comment=_RA_NEW, existing_nullable=True, schema='ivoa')
    op.drop_index(op.f('ix_archive_activity_source_ingest_file_id'), table_name='activity_source', schema='archive')
    op.drop_table('activity_source', schema='archive')
