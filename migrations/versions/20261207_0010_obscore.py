"""obscore

* schema ivoa and ivoa.obscore: ObsCore 1.1 (mandatory columns) plus provdb's provenance
  columns, one row per science product (DL1, DL2, DL3 files), kept current by every
  ingest and scan (provdb.obscore). Left empty here: a migration keeps frozen SQL and
  the product rules live in provdb's code; ``provdb db upgrade`` fills an empty table
  of an archive that has entities, and ``provdb obscore --rebuild`` recomputes it.
* btree indexes on (s_dec, s_ra) (the box prefilter of cone searches), t_min and
  obs_publisher_did (unique: the DataLink ID).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_NOW = sa.text("(now() at time zone 'utc')")


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS ivoa")
    op.create_table('obscore',
    sa.Column('dataproduct_type', sa.Text(), nullable=True, comment='Data product type: event (event lists: DL1, DL2 and DL3 files)'),
    sa.Column('calib_level', sa.Integer(), nullable=True, comment='Calibration level: 1 (DL1 calibrated images and parameters, DL2 reconstructed events), 2 (DL3: science-ready gamma-like event lists)'),
    sa.Column('obs_collection', sa.Text(), nullable=True, comment='Collection (PROVDB_OBSCORE_COLLECTION, default LST-1)'),
    sa.Column('obs_id', sa.Text(), nullable=True, comment='Observation (run) identifier: the run number (OBS_ID of a DL3 file), else the entity id'),
    sa.Column('obs_publisher_did', sa.Text(), nullable=False, comment="Publisher's identifier of the product: ivo://<authority>?<entity id> (PROVDB_OBSCORE_AUTHORITY); the DataLink ID"),
    sa.Column('access_url', sa.Text(), nullable=True, comment='URL of the file (PROVDB_OBSCORE_ACCESS_URL pattern), else of its DataLink document'),
    sa.Column('access_format', sa.Text(), nullable=True, comment='MIME type of what access_url returns (application/fits, application/x-hdf5, or the DataLink VOTable)'),
    sa.Column('access_estsize', sa.BigInteger(), nullable=True, comment='Estimated size of the file'),
    sa.Column('target_name', sa.Text(), nullable=True, comment='Observed target (OBJECT of a DL3 file)'),
    sa.Column('s_ra', sa.Double(), nullable=True, comment='Right ascension (ICRS) of the pointing (RA_PNT of a DL3 file)'),
    sa.Column('s_dec', sa.Double(), nullable=True, comment='Declination (ICRS) of the pointing (DEC_PNT of a DL3 file)'),
    sa.Column('s_fov', sa.Double(), nullable=True, comment='Diameter of the field of view (PROVDB_OBSCORE_FOV, default 4.5 degrees for LST-1)'),
    sa.Column('s_region', sa.Text(), nullable=True, comment='Sky region covered: the field of view around the pointing (STC-S CIRCLE ICRS)'),
    sa.Column('s_resolution', sa.Double(), nullable=True, comment='Angular resolution (unknown: null)'),
    sa.Column('s_xel1', sa.BigInteger(), nullable=True, comment='Pixels along the first axis (event lists: null)'),
    sa.Column('s_xel2', sa.BigInteger(), nullable=True, comment='Pixels along the second axis (event lists: null)'),
    sa.Column('t_min', sa.Double(), nullable=True, comment='Start of the observation (MJD, from TSTART and MJDREF of a DL3 file)'),
    sa.Column('t_max', sa.Double(), nullable=True, comment='End of the observation (MJD, from TSTOP and MJDREF of a DL3 file)'),
    sa.Column('t_exptime', sa.Double(), nullable=True, comment='Exposure time (LIVETIME, else ONTIME of a DL3 file)'),
    sa.Column('t_resolution', sa.Double(), nullable=True, comment='Time resolution (unknown: null)'),
    sa.Column('t_xel', sa.BigInteger(), nullable=True, comment='Time bins (event lists: null)'),
    sa.Column('em_min', sa.Double(), nullable=True, comment="Shortest wavelength (h c / highest energy: TLMAX of a DL3 file's ENERGY column)"),
    sa.Column('em_max', sa.Double(), nullable=True, comment="Longest wavelength (h c / lowest energy: TLMIN of a DL3 file's ENERGY column)"),
    sa.Column('em_res_power', sa.Double(), nullable=True, comment='Spectral resolving power (unknown: null)'),
    sa.Column('em_xel', sa.BigInteger(), nullable=True, comment='Spectral bins (event lists: null)'),
    sa.Column('o_ucd', sa.Text(), nullable=True, comment='UCD of the observable: phot.count (events)'),
    sa.Column('pol_states', sa.Text(), nullable=True, comment='Polarization states (none: null)'),
    sa.Column('pol_xel', sa.BigInteger(), nullable=True, comment='Polarization bins (none: null)'),
    sa.Column('facility_name', sa.Text(), nullable=True, comment='Telescope (PROVDB_OBSCORE_FACILITY, default LST-1; TELESCOP of a DL3 file)'),
    sa.Column('instrument_name', sa.Text(), nullable=True, comment='Instrument (PROVDB_OBSCORE_INSTRUMENT, default LSTCam; INSTRUME of a DL3 file)'),
    sa.Column('entity_id', sa.Text(), nullable=False, comment="The product's entity (provenance.entity.id)"),
    sa.Column('data_level', sa.Text(), nullable=True, comment='Data level: DL1, DL2 or DL3 (scanned file, else entity or file name)'),
    sa.Column('software_name', sa.Text(), nullable=True, comment="Software that produced the product (lstchain, ctapipe, ...): from the file's metadata (provdb scan), else the generating activity's session"),
    sa.Column('software_version', sa.Text(), nullable=True, comment="Its version, without a leading 'v' (0.9.13)"),
    sa.Column('activity_name', sa.Text(), nullable=True, comment='The step that produced the product (name of its generating activity)'),
    sa.Column('activity_id', sa.Text(), nullable=True, comment='Its generating activity (provenance.activity.id; the latest one)'),
    sa.Column('quality_flags', sa.Text(), nullable=True, comment='Quality flags of archive.product_flag, comma-separated rules (stale, mixed-versions, failed-ancestor, missing-input, hash-conflict); null: not flagged'),
    sa.Column('n_flags', sa.Integer(), server_default='0', nullable=False, comment='Number of quality flags (0: not flagged)'),
    sa.Column('location', sa.Text(), nullable=True, comment='Path of the file'),
    sa.Column('updated', sa.DateTime(), server_default=_NOW, nullable=False, comment='When the row was last computed (UTC)'),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_obscore_entity_id')),
    sa.PrimaryKeyConstraint('entity_id', name=op.f('pk_obscore')),
    schema='ivoa',
    comment="ObsCore 1.1: one row per science product (DL1, DL2, DL3 files) with its observation, pointing, time and energy coverage and access, plus provdb's provenance columns (software, version, step, quality flags); kept current by ingest and scan"
    )
    op.create_index('ix_obscore_s_dec_s_ra', 'obscore', ['s_dec', 's_ra'], unique=False, schema='ivoa')
    op.create_index('ix_obscore_t_min', 'obscore', ['t_min'], unique=False, schema='ivoa')
    op.create_index('ix_obscore_obs_publisher_did', 'obscore', ['obs_publisher_did'], unique=True, schema='ivoa')


def downgrade() -> None:
    op.drop_index('ix_obscore_obs_publisher_did', table_name='obscore', schema='ivoa')
    op.drop_index('ix_obscore_t_min', table_name='obscore', schema='ivoa')
    op.drop_index('ix_obscore_s_dec_s_ra', table_name='obscore', schema='ivoa')
    op.drop_table('obscore', schema='ivoa')
    op.execute("DROP SCHEMA IF EXISTS ivoa")
