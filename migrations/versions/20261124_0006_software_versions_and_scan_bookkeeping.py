"""software versions and scan bookkeeping

* archive.software: one row per (subject, package, version), the subject being a file
  entity (versions read from the file by ``provdb scan``) or a processing session
  (versions recorded by the logs), with sortable integer parts major/minor/patch and
  an index on (package, major, minor, patch) for ADQL version filters. Sessions are
  referenced by a plain text session_id without a foreign key, so that the session
  table can be renamed (SESSION is an ADQL reserved word) without touching this one.
* archive.scan_file: size and mtime of every data file at its last scan (unchanged
  files are skipped), outcome and error; not published through TAP.
* archive.product_version: products joined to their versions, through their own file
  metadata (source 'file') and through the session of their generating activity
  (source 'log'), with a product_type (data level) column.

Existing archives get the session rows here (SQL frozen on purpose: a migration must
not change behaviour when provdb's code does; provdb.versions.sync_session_versions
is the live copy the ingest calls).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


# The Python packages kept from a session environment's package list.
TRACKED = (
    "ARRAY['lstchain', 'ctapipe', 'ctapipe_io_lst', 'lstosa', 'lstmcpipe', 'ctaplot', "
    "'pyirf', 'gammapy', 'protozfits', 'eventio', 'pyhessio', 'ctapipe_resources', "
    "'astropy', 'numpy']"
)

# lstosa's software_version is 'v' + the lstchain version; a ctapipe session holds the
# ctapipe version ('<name> <version>' in the oldest logs); environment packages follow.
SESSION_ROWS = rf"""
WITH todo AS (
    SELECT s.id, s.source_format, btrim(s.software_version) AS software_version,
           s.environment_id
    FROM archive.processing_session s
    WHERE NOT EXISTS (SELECT 1 FROM archive.software w WHERE w.session_id = s.id)
), declared AS (
    SELECT id AS session_id,
           CASE WHEN source_format = 'ctapipe' THEN 'ctapipe' ELSE 'session' END AS source,
           'software_version' AS keyword,
           CASE WHEN source_format = 'ctapipe' AND software_version ~ '^[^ ]+ [^ ]+$'
                THEN split_part(software_version, ' ', 1)
                WHEN source_format = 'ctapipe' THEN 'ctapipe'
                ELSE 'lstchain' END AS package,
           CASE WHEN source_format = 'ctapipe' AND software_version ~ '^[^ ]+ [^ ]+$'
                THEN split_part(software_version, ' ', 2)
                ELSE software_version END AS version,
           1 AS rank
    FROM todo
), environment AS (
    SELECT t.id, 'environment', 'python.packages', p ->> 'name', p ->> 'version', 2
    FROM todo t
    JOIN archive.environment e ON e.id = t.environment_id
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(e.system #> '{{python,packages}}') = 'array'
             THEN e.system #> '{{python,packages}}' ELSE '[]'::jsonb END) AS p
    WHERE jsonb_typeof(p) = 'object'
    UNION ALL
    SELECT t.id, 'environment', kv.key, regexp_replace(kv.key, '_version$', ''), kv.value, 3
    FROM todo t
    JOIN archive.environment e ON e.id = t.environment_id
    CROSS JOIN LATERAL jsonb_each_text(e.system) AS kv
    WHERE kv.key ~ '^[A-Za-z0-9_.-]+_version$'
), found AS (
    SELECT session_id, source, keyword,
           lower(regexp_replace(btrim(package), '[-.\s]+', '_', 'g')) AS package,
           regexp_replace(btrim(version), '^[vV](?=[0-9])', '') AS version, rank
    FROM (SELECT * FROM declared UNION ALL SELECT * FROM environment) x
    WHERE coalesce(btrim(package), '') <> '' AND coalesce(btrim(version), '') <> ''
), kept AS (
    SELECT DISTINCT ON (session_id, package, version)
           session_id, source, keyword, package, version,
           regexp_match(version, '^([0-9]{{1,9}})(?:\.([0-9]{{1,9}}))?(?:\.([0-9]{{1,9}}))?')
               AS parts
    FROM found
    WHERE rank <> 2 OR package = ANY({TRACKED})
    ORDER BY session_id, package, version, rank
)
INSERT INTO archive.software (session_id, source, keyword, package, version, major, minor, patch)
SELECT session_id, source, keyword, package, version,
       parts[1]::int, parts[2]::int, parts[3]::int
FROM kept
ON CONFLICT DO NOTHING
"""

# Data level: from the scanned file's structure, else the entity name, else the file name.
_LEVEL = r"'(?:^|[^A-Z0-9])(R0|R1|DL[0-5])(?![0-9])'"
PRODUCT_TYPE = (
    "coalesce(e.attributes #>> '{scan,data_level}', "
    f"substring(upper(e.name) from {_LEVEL}), "
    f"substring(upper(e.location) from {_LEVEL[:-1]}[^/]*$'))"
)

PRODUCT_VERSION = f"""
CREATE VIEW archive.product_version AS
SELECT e.id AS entity_id, e.name AS entity_name, e.location, {PRODUCT_TYPE} AS product_type,
       w.package, w.version, w.major, w.minor, w.patch, 'file' AS source, w.source AS origin
FROM archive.software w
JOIN provenance.entity e ON e.id = w.entity_id
UNION
SELECT e.id, e.name, e.location, {PRODUCT_TYPE},
       w.package, w.version, w.major, w.minor, w.patch, 'log', w.source
FROM provenance.entity e
JOIN provenance.wasgeneratedby g ON g.entity_id = e.id
JOIN provenance.activity a ON a.id = g.activity_id
JOIN archive.software w ON w.session_id = a.session_id
"""


def upgrade() -> None:
    op.create_table('scan_file',
    sa.Column('path', sa.Text(), nullable=False, comment='Absolute path of the file (symbolic links resolved)'),
    sa.Column('entity_id', sa.Text(), nullable=True, comment="The file's entity (md5 of the path, as lstosa); null if never read"),
    sa.Column('format', sa.Text(), nullable=False, comment='hdf5 or fits'),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False, comment='File size at the last scan'),
    sa.Column('mtime', sa.Double(), nullable=False, comment='File modification time at the last scan (seconds since the epoch)'),
    sa.Column('content_hash', sa.Text(), nullable=True, comment='Checksum of the content at the last scan (with --hash)'),
    sa.Column('content_hash_type', sa.Text(), nullable=True, comment='md5 or sha256'),
    sa.Column('status', sa.Text(), nullable=False, comment='ok, or failed (unreadable: read again by the next scan)'),
    sa.Column('error', sa.Text(), nullable=True, comment='Why the file could not be read'),
    sa.Column('n_versions', sa.Integer(), server_default='0', nullable=False, comment='Software versions found in the file'),
    sa.Column('first_scan', sa.DateTime(), server_default=sa.text("(now() at time zone 'utc')"), nullable=False, comment='When the file was first scanned (UTC)'),
    sa.Column('last_scan', sa.DateTime(), server_default=sa.text("(now() at time zone 'utc')"), nullable=False, comment='When the file was last read (UTC)'),
    sa.Column('provdb_version', sa.Text(), nullable=True, comment='provdb version that last read the file'),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_scan_file_entity_id')),
    sa.PrimaryKeyConstraint('path', name=op.f('pk_scan_file')),
    schema='archive',
    comment='One row per data file seen by provdb scan: size and mtime at the last scan (unchanged files are skipped), outcome'
    )
    op.create_index(op.f('ix_archive_scan_file_entity_id'), 'scan_file', ['entity_id'], unique=False, schema='archive')
    op.create_table('software',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key'),
    sa.Column('entity_id', sa.Text(), nullable=True, comment='The file whose metadata holds the version (null for a session row)'),
    sa.Column('session_id', sa.Text(), nullable=True, comment='The processing session (id of the session table, as provenance.activity.session_id; null for a file row)'),
    sa.Column('source', sa.Text(), nullable=False, comment="Where the version was found: file-root (HDF5 root attributes, FITS primary header), file-table:<node> (an HDF5 table or group, a FITS extension), session (lstosa software_version), ctapipe (a ctapipe tool's session), environment (Python packages of the session's environment)"),
    sa.Column('keyword', sa.Text(), nullable=True, comment='Attribute, header keyword or field the version was read from (LSTCHAIN_VERSION, CREATOR, HISTORY, software_version, python.packages...)'),
    sa.Column('package', sa.Text(), nullable=False, comment="Software package, lower case with '_' for '-' (lstchain, ctapipe, ctapipe_io_lst)"),
    sa.Column('version', sa.Text(), nullable=False, comment="Version as written, without a leading 'v' (0.12.3, 0.7.0.post34+git92816b6)"),
    sa.Column('major', sa.Integer(), nullable=True, comment='First numeric part of the version (0 in 0.12.3); null if not numeric'),
    sa.Column('minor', sa.Integer(), nullable=True, comment='Second numeric part of the version (12 in 0.12.3)'),
    sa.Column('patch', sa.Integer(), nullable=True, comment='Third numeric part of the version (3 in 0.12.3)'),
    sa.CheckConstraint('(entity_id IS NULL) <> (session_id IS NULL)', name=op.f('ck_software_one_subject')),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_software_entity_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_software')),
    sa.UniqueConstraint('entity_id', 'session_id', 'package', 'version', name='uq_software_subject_package_version', postgresql_nulls_not_distinct=True),
    schema='archive',
    comment='Software versions found in files (provdb scan) and in processing sessions (logs): one row per subject, package and version, with sortable integer parts (filter major/minor/patch, indexed with package)'
    )
    op.create_index(op.f('ix_archive_software_entity_id'), 'software', ['entity_id'], unique=False, schema='archive')
    op.create_index(op.f('ix_archive_software_session_id'), 'software', ['session_id'], unique=False, schema='archive')
    op.create_index('ix_software_package_version', 'software', ['package', 'major', 'minor', 'patch'], unique=False, schema='archive')

    # session rows for what the archive already holds
    op.execute(SESSION_ROWS)
    op.execute(PRODUCT_VERSION)
    op.execute(
        "COMMENT ON VIEW archive.product_version IS 'Products with the software versions "
        "that made them, from their file metadata (source ''file'') and from the session "
        "of their generating activity (source ''log''). Filter package/major/minor/patch: "
        "they are indexed in archive.software'"
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS archive.product_version")
    op.drop_index('ix_software_package_version', table_name='software', schema='archive')
    op.drop_index(op.f('ix_archive_software_session_id'), table_name='software', schema='archive')
    op.drop_index(op.f('ix_archive_software_entity_id'), table_name='software', schema='archive')
    op.drop_table('software', schema='archive')
    op.drop_index(op.f('ix_archive_scan_file_entity_id'), table_name='scan_file', schema='archive')
    op.drop_table('scan_file', schema='archive')
