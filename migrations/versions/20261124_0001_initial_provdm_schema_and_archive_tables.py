"""initial ProvDM schema and archive tables

Creates schema `provenance` (the 18 IVOA Provenance DM 1.0 tables) and schema
`archive` (execution context: session, environment; ingest bookkeeping).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS provenance")
    op.execute("CREATE SCHEMA IF NOT EXISTS archive")
    op.execute("COMMENT ON SCHEMA provenance IS 'IVOA Provenance Data Model 1.0 tables (ProvTAP)'")
    op.execute("COMMENT ON SCHEMA archive IS 'provdb archive: execution context and ingest bookkeeping'")
    op.create_table('environment',
    sa.Column('id', sa.Text(), nullable=False, comment="Digest of the environment content ('env-<16 hex>')"),
    sa.Column('node', sa.Text(), nullable=True, comment='Host name'),
    sa.Column('python_version', sa.Text(), nullable=True, comment='Python version'),
    sa.Column('executable', sa.Text(), nullable=True, comment='Python executable'),
    sa.Column('system', postgresql.JSONB(astext_type=sa.Text()), nullable=False, comment='The full environment record (JSON)'),
    sa.Column('first_seen', sa.DateTime(), server_default=sa.text("(now() at time zone 'utc')"), nullable=False, comment='When provdb first stored this environment (UTC)'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_environment')),
    schema='archive',
    comment='Distinct software/system environments (executable, platform, Python packages, environment variables), stored once each'
    )
    op.create_table('ingest_file',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key'),
    sa.Column('path', sa.Text(), nullable=False, comment='Absolute path of the source file'),
    sa.Column('format', sa.Text(), nullable=False, comment='Format the file was read as (lstosa, ctapipe, prov-json, prov-xml, prov-n)'),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False, comment='File size at the last ingest'),
    sa.Column('mtime', sa.Double(), nullable=True, comment='File modification time at the last ingest (seconds since the epoch)'),
    sa.Column('offset_reached', sa.BigInteger(), nullable=False, comment='Bytes read and committed; a growing log is read on from here'),
    sa.Column('checksum', sa.Text(), nullable=False, comment='sha256 of bytes [0, offset_reached) of the file (uncompressed stream)'),
    sa.Column('lines_read', sa.BigInteger(), server_default='0', nullable=False, comment='Lines read up to offset_reached'),
    sa.Column('records', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False, comment='Records read, by kind (JSON object)'),
    sa.Column('n_records', sa.BigInteger(), server_default='0', nullable=False, comment='Provenance records read'),
    sa.Column('n_rejects', sa.BigInteger(), server_default='0', nullable=False, comment='Lines rejected (kept in ingest_reject)'),
    sa.Column('n_other_lines', sa.BigInteger(), server_default='0', nullable=False, comment='Non-provenance lines (diagnostics) counted and skipped'),
    sa.Column('status', sa.Text(), nullable=False, comment='complete (whole file read) or partial (a torn last line awaits the writer)'),
    sa.Column('state', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='Parser state needed to resume a growing file (open activities, last sessions)'),
    sa.Column('first_ingest', sa.DateTime(), server_default=sa.text("(now() at time zone 'utc')"), nullable=False, comment='When the file was first ingested (UTC)'),
    sa.Column('last_ingest', sa.DateTime(), server_default=sa.text("(now() at time zone 'utc')"), nullable=False, comment='When the file was last read (UTC)'),
    sa.Column('duration_s', sa.Double(), nullable=True, comment='Duration of the last ingest'),
    sa.Column('provdb_version', sa.Text(), nullable=True, comment='provdb version that last read the file'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_file')),
    sa.UniqueConstraint('path', name=op.f('uq_ingest_file_path')),
    schema='archive',
    comment='One row per ingested source file: how far it was read, what it gave'
    )
    op.create_table('activitydescription',
    sa.Column('id', sa.Text(), nullable=False, comment="Identifier '<name>@<model digest>'"),
    sa.Column('name', sa.Text(), nullable=False, comment='Name of the method'),
    sa.Column('version', sa.Text(), nullable=True, comment='Version of the method or code'),
    sa.Column('description', sa.Text(), nullable=True, comment='How the activity works'),
    sa.Column('docurl', sa.Text(), nullable=True, comment='Documentation link'),
    sa.Column('type', sa.Text(), nullable=True, comment='Type: Observation, Simulation, Reduction, Calibration, Reconstruction, Selection, Analysis'),
    sa.Column('subtype', sa.Text(), nullable=True, comment='Project-specific finer type'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activitydescription')),
    schema='provenance',
    comment="ProvDM ActivityDescription: the method followed by activities (from lstosa's definition.yaml)",
    info={'utype': 'voprov:ActivityDescription'}
    )
    op.create_table('agent',
    sa.Column('id', sa.Text(), nullable=False, comment='Unique agent identifier'),
    sa.Column('name', sa.Text(), nullable=False, comment='Agent name (person, team, project, data centre)'),
    sa.Column('type', sa.Text(), nullable=True, comment='Person, Organization or SoftwareAgent'),
    sa.Column('comment', sa.Text(), nullable=True, comment='Free remarks'),
    sa.Column('email', sa.Text(), nullable=True, comment='Contact e-mail'),
    sa.Column('affiliation', sa.Text(), nullable=True, comment='Affiliation'),
    sa.Column('phone', sa.Text(), nullable=True, comment='Phone number'),
    sa.Column('address', sa.Text(), nullable=True, comment='Postal address'),
    sa.Column('url', sa.Text(), nullable=True, comment='Reference URL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent')),
    schema='provenance',
    comment='ProvDM Agent: people, organisations and software responsible for activities and entities',
    info={'utype': 'voprov:Agent'}
    )
    op.create_table('entitydescription',
    sa.Column('id', sa.Text(), nullable=False, comment="Identifier '<name>@<model digest>'"),
    sa.Column('name', sa.Text(), nullable=False, comment='Name of the kind of entity (e.g. DL1SubrunDataset)'),
    sa.Column('description', sa.Text(), nullable=True, comment='What these entities are'),
    sa.Column('docurl', sa.Text(), nullable=True, comment='Documentation link'),
    sa.Column('type', sa.Text(), nullable=True, comment='General category (File, SetCollection, data, document...)'),
    sa.Column('content_type', sa.Text(), nullable=True, comment='MIME type (DatasetDescription.contentType)'),
    sa.Column('datatype', sa.Text(), nullable=True, comment='VOTable datatype of a value (ValueDescription.valueType)'),
    sa.Column('arraysize', sa.Text(), nullable=True, comment='VOTable arraysize of a value'),
    sa.Column('xtype', sa.Text(), nullable=True, comment='VOTable xtype of a value'),
    sa.Column('unit', sa.Text(), nullable=True, comment='Unit of a value'),
    sa.Column('ucd', sa.Text(), nullable=True, comment='UCD of a value'),
    sa.Column('utype', sa.Text(), nullable=True, comment='Utype of a value'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entitydescription')),
    schema='provenance',
    comment='ProvDM EntityDescription (with the DatasetDescription and ValueDescription attributes): kinds of entities',
    info={'utype': 'voprov:EntityDescription'}
    )
    op.create_table('ingest_reject',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key'),
    sa.Column('ingest_file_id', sa.BigInteger(), nullable=False, comment='The source file'),
    sa.Column('line_number', sa.BigInteger(), nullable=False, comment='1-based line number in the file'),
    sa.Column('byte_offset', sa.BigInteger(), nullable=False, comment='Offset of the line start'),
    sa.Column('reason', sa.Text(), nullable=False, comment='Why the line was rejected'),
    sa.Column('is_error', sa.Boolean(), server_default=sa.text('true'), nullable=False, comment='False for well-formed records of an unknown kind (kept, not an error)'),
    sa.Column('raw', sa.LargeBinary(), nullable=False, comment='The line exactly as read'),
    sa.Column('created', sa.DateTime(), server_default=sa.text("(now() at time zone 'utc')"), nullable=False, comment='When the line was rejected (UTC)'),
    sa.ForeignKeyConstraint(['ingest_file_id'], ['archive.ingest_file.id'], name=op.f('fk_ingest_reject_ingest_file_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_reject')),
    schema='archive',
    comment='Lines that could not be ingested, kept verbatim with file and line so an operator can look at them'
    )
    op.create_index(op.f('ix_archive_ingest_reject_ingest_file_id'), 'ingest_reject', ['ingest_file_id'], unique=False, schema='archive')
    op.create_table('processing_session',
    sa.Column('id', sa.Text(), nullable=False, comment="'<source session id>-<digest of the context>': reprocessings with another software version or environment are distinct sessions"),
    sa.Column('original_id', sa.Text(), nullable=True, comment="Session id as written by the source ('2020011701807', '0180401809')"),
    sa.Column('source_format', sa.Text(), nullable=True, comment='Format the session came from (lstosa, ctapipe, prov-json...)'),
    sa.Column('name', sa.Text(), nullable=True, comment="Session name (run, or 'ped-cal')"),
    sa.Column('observation_date', sa.Text(), nullable=True, comment='Observation date as written (YYYYMMDD)'),
    sa.Column('night', sa.Date(), nullable=True, comment='Night of the observation (observation_date as a date)'),
    sa.Column('observation_run', sa.Text(), nullable=True, comment='Observation run number (5 digits, as written)'),
    sa.Column('pedestal_run', sa.Text(), nullable=True, comment='DRS4 pedestal run of a calibration session'),
    sa.Column('calibration_run', sa.Text(), nullable=True, comment='Calibration run of a calibration session'),
    sa.Column('software_version', sa.Text(), nullable=True, comment="Version of the processing software (lstosa: 'v' + lstchain version; ctapipe tools: ctapipe version)"),
    sa.Column('config_file', sa.Text(), nullable=True, comment='Configuration file path'),
    sa.Column('config_file_hash', sa.Text(), nullable=True, comment='Hash recorded for the configuration file (lstosa: md5 of the path)'),
    sa.Column('config_file_hash_type', sa.Text(), nullable=True, comment='Hash algorithm'),
    sa.Column('environment_id', sa.Text(), nullable=True, comment='The environment record'),
    sa.ForeignKeyConstraint(['environment_id'], ['archive.environment.id'], name=op.f('fk_processing_session_environment_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_processing_session')),
    schema='archive',
    comment='Execution contexts: one lstosa session (night, run(s), software version, configuration, environment) shared by all activities it covers'
    )
    op.create_index(op.f('ix_archive_processing_session_calibration_run'), 'processing_session', ['calibration_run'], unique=False, schema='archive')
    op.create_index(op.f('ix_archive_processing_session_environment_id'), 'processing_session', ['environment_id'], unique=False, schema='archive')
    op.create_index(op.f('ix_archive_processing_session_night'), 'processing_session', ['night'], unique=False, schema='archive')
    op.create_index(op.f('ix_archive_processing_session_observation_run'), 'processing_session', ['observation_run'], unique=False, schema='archive')
    op.create_index(op.f('ix_archive_processing_session_original_id'), 'processing_session', ['original_id'], unique=False, schema='archive')
    op.create_index(op.f('ix_archive_processing_session_pedestal_run'), 'processing_session', ['pedestal_run'], unique=False, schema='archive')
    op.create_index(op.f('ix_archive_processing_session_software_version'), 'processing_session', ['software_version'], unique=False, schema='archive')
    op.create_table('configfiledescription',
    sa.Column('id', sa.Text(), nullable=False, comment="Identifier '<activity>/config/<name>@<model digest>'"),
    sa.Column('activity_description_id', sa.Text(), nullable=False, comment='The activity description this belongs to'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name of the configuration file'),
    sa.Column('content_type', sa.Text(), nullable=False, comment='MIME type of the file'),
    sa.Column('description', sa.Text(), nullable=True, comment='What the file configures'),
    sa.ForeignKeyConstraint(['activity_description_id'], ['provenance.activitydescription.id'], name=op.f('fk_configfiledescription_activity_description_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_configfiledescription')),
    schema='provenance',
    comment='ProvDM ConfigFileDescription: a configuration file an activity description reads',
    info={'utype': 'voprov:ConfigFileDescription'}
    )
    op.create_index(op.f('ix_provenance_configfiledescription_activity_description_id'), 'configfiledescription', ['activity_description_id'], unique=False, schema='provenance')
    op.create_table('entity',
    sa.Column('id', sa.Text(), nullable=False, comment='Unique entity identifier (lstosa: md5 hex digest of the file path)'),
    sa.Column('name', sa.Text(), nullable=True, comment='Human-readable name (lstosa: entity description name, e.g. DL1SubrunDataset)'),
    sa.Column('location', sa.Text(), nullable=True, comment='Path or URL of the entity'),
    sa.Column('generated_at_time', sa.DateTime(), nullable=True, comment='Creation time (UTC)'),
    sa.Column('invalidated_at_time', sa.DateTime(), nullable=True, comment='Time after which the entity is no longer usable (UTC)'),
    sa.Column('comment', sa.Text(), nullable=True, comment='Free remarks'),
    sa.Column('entity_description_id', sa.Text(), nullable=True, comment='Description of this kind of entity'),
    sa.Column('entity_value', sa.Text(), nullable=True, comment="Value of a ValueEntity (ProvDM 'value', renamed: VALUE is reserved in ADQL)"),
    sa.Column('entity_type', sa.Text(), nullable=True, comment='Kind of entity as given by the source: File, SetCollection, Parameters...'),
    sa.Column('content_type', sa.Text(), nullable=True, comment='MIME type of the content (DatasetDescription.contentType)'),
    sa.Column('content_hash', sa.Text(), nullable=True, comment="Checksum of the file content, when known (lstosa's 'hash' is a hash of the path and is not stored here)"),
    sa.Column('content_hash_type', sa.Text(), nullable=True, comment='Algorithm of content_hash (md5, sha256)'),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True, comment='Size of the file'),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='Other source attributes (e.g. ctapipe reference_meta), JSON'),
    sa.ForeignKeyConstraint(['entity_description_id'], ['provenance.entitydescription.id'], name=op.f('fk_entity_entity_description_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entity')),
    schema='provenance',
    comment="ProvDM Entity: files and datasets; for files the id is lstosa's md5 of the absolute path, shared by every source",
    info={'utype': 'voprov:Entity'}
    )
    op.create_index(op.f('ix_provenance_entity_content_hash'), 'entity', ['content_hash'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_entity_entity_description_id'), 'entity', ['entity_description_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_entity_location'), 'entity', ['location'], unique=False, schema='provenance')
    op.create_table('generationdescription',
    sa.Column('id', sa.Text(), nullable=False, comment="Identifier '<activity>/<role>@<model digest>'"),
    sa.Column('activity_description_id', sa.Text(), nullable=False, comment='The activity description this belongs to'),
    sa.Column('entity_description_id', sa.Text(), nullable=True, comment='Expected kind of entity'),
    sa.Column('role', sa.Text(), nullable=False, comment='Role, equal to the role of matching relations'),
    sa.Column('description', sa.Text(), nullable=True, comment='What the entity is for'),
    sa.Column('type', sa.Text(), nullable=True, comment='Main, Calibration, Preview, Setup, Quality, Log, Context'),
    sa.Column('multiplicity', sa.Text(), nullable=True, comment="How many entities are expected ('1', '*', '3..*')"),
    sa.ForeignKeyConstraint(['activity_description_id'], ['provenance.activitydescription.id'], name=op.f('fk_generationdescription_activity_description_id')),
    sa.ForeignKeyConstraint(['entity_description_id'], ['provenance.entitydescription.id'], name=op.f('fk_generationdescription_entity_description_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generationdescription')),
    schema='provenance',
    comment='ProvDM GenerationDescription: an expected output of an activity description',
    info={'utype': 'voprov:GenerationDescription'}
    )
    op.create_index(op.f('ix_provenance_generationdescription_activity_description_id'), 'generationdescription', ['activity_description_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_generationdescription_entity_description_id'), 'generationdescription', ['entity_description_id'], unique=False, schema='provenance')
    op.create_table('parameterdescription',
    sa.Column('id', sa.Text(), nullable=False, comment="Identifier '<activity>/param/<name>@<model digest>'"),
    sa.Column('activity_description_id', sa.Text(), nullable=False, comment='The activity description this belongs to'),
    sa.Column('name', sa.Text(), nullable=False, comment='Parameter name'),
    sa.Column('datatype', sa.Text(), nullable=False, comment='VOTable datatype (valueType)'),
    sa.Column('arraysize', sa.Text(), nullable=True, comment='VOTable arraysize'),
    sa.Column('xtype', sa.Text(), nullable=True, comment='VOTable xtype'),
    sa.Column('unit', sa.Text(), nullable=True, comment='Unit'),
    sa.Column('ucd', sa.Text(), nullable=True, comment='UCD'),
    sa.Column('utype', sa.Text(), nullable=True, comment='Utype'),
    sa.Column('min_value', sa.Text(), nullable=True, comment="Minimum value (ProvDM 'min')"),
    sa.Column('max_value', sa.Text(), nullable=True, comment="Maximum value (ProvDM 'max')"),
    sa.Column('default_value', sa.Text(), nullable=True, comment="Default value (ProvDM 'default')"),
    sa.Column('options', sa.Text(), nullable=True, comment="Allowed values, separated by '|'"),
    sa.Column('description', sa.Text(), nullable=True, comment='What the parameter does'),
    sa.ForeignKeyConstraint(['activity_description_id'], ['provenance.activitydescription.id'], name=op.f('fk_parameterdescription_activity_description_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parameterdescription')),
    schema='provenance',
    comment='ProvDM ParameterDescription: a parameter an activity description accepts',
    info={'utype': 'voprov:ParameterDescription'}
    )
    op.create_index(op.f('ix_provenance_parameterdescription_activity_description_id'), 'parameterdescription', ['activity_description_id'], unique=False, schema='provenance')
    op.create_table('usagedescription',
    sa.Column('id', sa.Text(), nullable=False, comment="Identifier '<activity>/<role>@<model digest>'"),
    sa.Column('activity_description_id', sa.Text(), nullable=False, comment='The activity description this belongs to'),
    sa.Column('entity_description_id', sa.Text(), nullable=True, comment='Expected kind of entity'),
    sa.Column('role', sa.Text(), nullable=False, comment='Role, equal to the role of matching relations'),
    sa.Column('description', sa.Text(), nullable=True, comment='What the entity is for'),
    sa.Column('type', sa.Text(), nullable=True, comment='Main, Calibration, Preview, Setup, Quality, Log, Context'),
    sa.Column('multiplicity', sa.Text(), nullable=True, comment="How many entities are expected ('1', '*', '3..*')"),
    sa.ForeignKeyConstraint(['activity_description_id'], ['provenance.activitydescription.id'], name=op.f('fk_usagedescription_activity_description_id')),
    sa.ForeignKeyConstraint(['entity_description_id'], ['provenance.entitydescription.id'], name=op.f('fk_usagedescription_entity_description_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usagedescription')),
    schema='provenance',
    comment='ProvDM UsageDescription: an expected input of an activity description',
    info={'utype': 'voprov:UsageDescription'}
    )
    op.create_index(op.f('ix_provenance_usagedescription_activity_description_id'), 'usagedescription', ['activity_description_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_usagedescription_entity_description_id'), 'usagedescription', ['entity_description_id'], unique=False, schema='provenance')
    op.create_table('activity',
    sa.Column('id', sa.Text(), nullable=False, comment="Unique activity identifier. For lstosa logs: '<6-hex id>@<start time>' so that lstosa's colliding short ids never merge two activities"),
    sa.Column('name', sa.Text(), nullable=True, comment='Activity name, e.g. the traced function (r0_to_dl1) or the ctapipe tool'),
    sa.Column('start_time', sa.DateTime(), nullable=True, comment='Start of the activity (UTC)'),
    sa.Column('end_time', sa.DateTime(), nullable=True, comment='End of the activity (UTC)'),
    sa.Column('comment', sa.Text(), nullable=True, comment='Free remarks'),
    sa.Column('activity_description_id', sa.Text(), nullable=True, comment='Description (method) this activity follows'),
    sa.Column('original_id', sa.Text(), nullable=True, comment='Identifier as written by the source (lstosa 6-hex activity_id, ctapipe activity_uuid, PROV qualified name); not unique'),
    sa.Column('session_id', sa.Text(), nullable=True, comment='Execution context (archive.processing_session) of this activity: software version, config, environment'),
    sa.Column('session_tag', sa.Text(), nullable=True, comment="lstosa session_tag ('<step>:<run>' or '<step>:<pedestal run>-<calibration run>')"),
    sa.Column('script', sa.Text(), nullable=True, comment='Program that ran the activity'),
    sa.Column('command_line', sa.Text(), nullable=True, comment='Command line of the process (shell-quoted arguments)'),
    sa.Column('status', sa.Text(), nullable=True, comment='Final status when the source records one (ctapipe: completed, error, interrupted)'),
    sa.Column('exit_code', sa.Integer(), nullable=True, comment='Process exit code when recorded'),
    sa.Column('start_time_text', sa.Text(), nullable=True, comment='start_time exactly as written by the source (lstosa: naive local time)'),
    sa.Column('end_time_text', sa.Text(), nullable=True, comment='end_time exactly as written by the source'),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='Other source attributes of the activity (JSON)'),
    sa.ForeignKeyConstraint(['activity_description_id'], ['provenance.activitydescription.id'], name=op.f('fk_activity_activity_description_id')),
    sa.ForeignKeyConstraint(['session_id'], ['archive.processing_session.id'], name=op.f('fk_activity_session_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity')),
    schema='provenance',
    comment="ProvDM Activity: a processing step (one lstosa subrun task, one ctapipe tool run); lstosa's short activity ids are kept in original_id",
    info={'utype': 'voprov:Activity'}
    )
    op.create_index(op.f('ix_provenance_activity_activity_description_id'), 'activity', ['activity_description_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_activity_original_id'), 'activity', ['original_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_activity_session_id'), 'activity', ['session_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_activity_session_tag'), 'activity', ['session_tag'], unique=False, schema='provenance')
    op.create_table('hadmember',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key of the relation row'),
    sa.Column('collection_id', sa.Text(), nullable=False, comment='The collection'),
    sa.Column('entity_id', sa.Text(), nullable=False, comment='The member entity'),
    sa.ForeignKeyConstraint(['collection_id'], ['provenance.entity.id'], name=op.f('fk_hadmember_collection_id')),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_hadmember_entity_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hadmember')),
    sa.UniqueConstraint('collection_id', 'entity_id', name='uq_hadmember', postgresql_nulls_not_distinct=True),
    schema='provenance',
    comment='ProvDM HadMember: a collection entity had a member entity',
    info={'utype': 'voprov:HadMember'}
    )
    op.create_index(op.f('ix_provenance_hadmember_collection_id'), 'hadmember', ['collection_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_hadmember_entity_id'), 'hadmember', ['entity_id'], unique=False, schema='provenance')
    op.create_table('wasattributedto',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key of the relation row'),
    sa.Column('entity_id', sa.Text(), nullable=False, comment='The entity'),
    sa.Column('agent_id', sa.Text(), nullable=False, comment='The agent'),
    sa.Column('role', sa.Text(), nullable=True, comment='Role of the agent (Author, Curator...)'),
    sa.ForeignKeyConstraint(['agent_id'], ['provenance.agent.id'], name=op.f('fk_wasattributedto_agent_id')),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_wasattributedto_entity_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wasattributedto')),
    sa.UniqueConstraint('entity_id', 'agent_id', 'role', name='uq_wasattributedto', postgresql_nulls_not_distinct=True),
    schema='provenance',
    comment='ProvDM WasAttributedTo: an entity is attributed to an agent',
    info={'utype': 'voprov:WasAttributedTo'}
    )
    op.create_index(op.f('ix_provenance_wasattributedto_agent_id'), 'wasattributedto', ['agent_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_wasattributedto_entity_id'), 'wasattributedto', ['entity_id'], unique=False, schema='provenance')
    op.create_table('wasderivedfrom',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key of the relation row'),
    sa.Column('generated_entity_id', sa.Text(), nullable=False, comment='The derived (newer) entity'),
    sa.Column('used_entity_id', sa.Text(), nullable=False, comment='The progenitor entity'),
    sa.ForeignKeyConstraint(['generated_entity_id'], ['provenance.entity.id'], name=op.f('fk_wasderivedfrom_generated_entity_id')),
    sa.ForeignKeyConstraint(['used_entity_id'], ['provenance.entity.id'], name=op.f('fk_wasderivedfrom_used_entity_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wasderivedfrom')),
    sa.UniqueConstraint('generated_entity_id', 'used_entity_id', name='uq_wasderivedfrom', postgresql_nulls_not_distinct=True),
    schema='provenance',
    comment='ProvDM WasDerivedFrom: an entity was derived from another one',
    info={'utype': 'voprov:WasDerivedFrom'}
    )
    op.create_index(op.f('ix_provenance_wasderivedfrom_generated_entity_id'), 'wasderivedfrom', ['generated_entity_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_wasderivedfrom_used_entity_id'), 'wasderivedfrom', ['used_entity_id'], unique=False, schema='provenance')
    op.create_table('configfile',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key'),
    sa.Column('activity_id', sa.Text(), nullable=False, comment='The configured activity'),
    sa.Column('config_file_description_id', sa.Text(), nullable=True, comment='Description of the file'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name of the file'),
    sa.Column('location', sa.Text(), nullable=True, comment='Path or URL of the file'),
    sa.Column('comment', sa.Text(), nullable=True, comment='Free remarks'),
    sa.Column('content_hash', sa.Text(), nullable=True, comment='Hash recorded by the source (lstosa: md5 of the path, not of the content)'),
    sa.Column('content_hash_type', sa.Text(), nullable=True, comment='Hash algorithm'),
    sa.ForeignKeyConstraint(['activity_id'], ['provenance.activity.id'], name=op.f('fk_configfile_activity_id')),
    sa.ForeignKeyConstraint(['config_file_description_id'], ['provenance.configfiledescription.id'], name=op.f('fk_configfile_config_file_description_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_configfile')),
    sa.UniqueConstraint('activity_id', 'name', 'location', name='uq_configfile', postgresql_nulls_not_distinct=True),
    schema='provenance',
    comment='ProvDM ConfigFile: a configuration file one activity read (WasConfiguredBy with artefactType ConfigFile)',
    info={'utype': 'voprov:ConfigFile'}
    )
    op.create_index(op.f('ix_provenance_configfile_activity_id'), 'configfile', ['activity_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_configfile_config_file_description_id'), 'configfile', ['config_file_description_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_configfile_location'), 'configfile', ['location'], unique=False, schema='provenance')
    op.create_table('parameter',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key'),
    sa.Column('activity_id', sa.Text(), nullable=False, comment='The configured activity'),
    sa.Column('parameter_description_id', sa.Text(), nullable=True, comment='Description of the parameter'),
    sa.Column('name', sa.Text(), nullable=False, comment='Parameter name'),
    sa.Column('parameter_value', sa.Text(), nullable=False, comment="Parameter value as text (ProvDM 'value', renamed: VALUE is reserved in ADQL)"),
    sa.Column('value_entity_id', sa.Text(), nullable=True, comment='Entity the value came from (hadReference)'),
    sa.ForeignKeyConstraint(['activity_id'], ['provenance.activity.id'], name=op.f('fk_parameter_activity_id')),
    sa.ForeignKeyConstraint(['parameter_description_id'], ['provenance.parameterdescription.id'], name=op.f('fk_parameter_parameter_description_id')),
    sa.ForeignKeyConstraint(['value_entity_id'], ['provenance.entity.id'], name=op.f('fk_parameter_value_entity_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parameter')),
    sa.UniqueConstraint('activity_id', 'name', name='uq_parameter'),
    schema='provenance',
    comment='ProvDM Parameter: a configuration value of one activity (WasConfiguredBy with artefactType Parameter)',
    info={'utype': 'voprov:Parameter'}
    )
    op.create_index(op.f('ix_provenance_parameter_activity_id'), 'parameter', ['activity_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_parameter_parameter_description_id'), 'parameter', ['parameter_description_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_parameter_value_entity_id'), 'parameter', ['value_entity_id'], unique=False, schema='provenance')
    op.create_table('used',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key of the relation row'),
    sa.Column('activity_id', sa.Text(), nullable=False, comment='The activity that used the entity'),
    sa.Column('entity_id', sa.Text(), nullable=False, comment='The entity used'),
    sa.Column('role', sa.Text(), nullable=True, comment='Function of the entity for the activity'),
    sa.Column('used_time', sa.DateTime(), nullable=True, comment="When the entity was used (ProvDM 'time', renamed: TIME is reserved in ADQL)"),
    sa.Column('usage_description_id', sa.Text(), nullable=True, comment='Expected usage this relation fulfils'),
    sa.ForeignKeyConstraint(['activity_id'], ['provenance.activity.id'], name=op.f('fk_used_activity_id')),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_used_entity_id')),
    sa.ForeignKeyConstraint(['usage_description_id'], ['provenance.usagedescription.id'], name=op.f('fk_used_usage_description_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_used')),
    sa.UniqueConstraint('activity_id', 'entity_id', 'role', name='uq_used', postgresql_nulls_not_distinct=True),
    schema='provenance',
    comment='ProvDM Used: an activity used an entity, in a role',
    info={'utype': 'voprov:Used'}
    )
    op.create_index(op.f('ix_provenance_used_activity_id'), 'used', ['activity_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_used_entity_id'), 'used', ['entity_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_used_usage_description_id'), 'used', ['usage_description_id'], unique=False, schema='provenance')
    op.create_table('wasassociatedwith',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key of the relation row'),
    sa.Column('activity_id', sa.Text(), nullable=False, comment='The activity'),
    sa.Column('agent_id', sa.Text(), nullable=False, comment='The responsible agent'),
    sa.Column('role', sa.Text(), nullable=True, comment='Role of the agent (Operator, Creator...)'),
    sa.ForeignKeyConstraint(['activity_id'], ['provenance.activity.id'], name=op.f('fk_wasassociatedwith_activity_id')),
    sa.ForeignKeyConstraint(['agent_id'], ['provenance.agent.id'], name=op.f('fk_wasassociatedwith_agent_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wasassociatedwith')),
    sa.UniqueConstraint('activity_id', 'agent_id', 'role', name='uq_wasassociatedwith', postgresql_nulls_not_distinct=True),
    schema='provenance',
    comment='ProvDM WasAssociatedWith: an agent had a role in an activity',
    info={'utype': 'voprov:WasAssociatedWith'}
    )
    op.create_index(op.f('ix_provenance_wasassociatedwith_activity_id'), 'wasassociatedwith', ['activity_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_wasassociatedwith_agent_id'), 'wasassociatedwith', ['agent_id'], unique=False, schema='provenance')
    op.create_table('wasgeneratedby',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key of the relation row'),
    sa.Column('entity_id', sa.Text(), nullable=False, comment='The generated entity'),
    sa.Column('activity_id', sa.Text(), nullable=False, comment='The generating activity'),
    sa.Column('role', sa.Text(), nullable=True, comment='Function of the entity for the activity'),
    sa.Column('generation_description_id', sa.Text(), nullable=True, comment='Expected generation this relation fulfils'),
    sa.ForeignKeyConstraint(['activity_id'], ['provenance.activity.id'], name=op.f('fk_wasgeneratedby_activity_id')),
    sa.ForeignKeyConstraint(['entity_id'], ['provenance.entity.id'], name=op.f('fk_wasgeneratedby_entity_id')),
    sa.ForeignKeyConstraint(['generation_description_id'], ['provenance.generationdescription.id'], name=op.f('fk_wasgeneratedby_generation_description_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wasgeneratedby')),
    sa.UniqueConstraint('entity_id', 'activity_id', 'role', name='uq_wasgeneratedby', postgresql_nulls_not_distinct=True),
    schema='provenance',
    comment='ProvDM WasGeneratedBy: an entity was generated by an activity (every generation record is kept, also when an entity is regenerated)',
    info={'utype': 'voprov:WasGeneratedBy'}
    )
    op.create_index(op.f('ix_provenance_wasgeneratedby_activity_id'), 'wasgeneratedby', ['activity_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_wasgeneratedby_entity_id'), 'wasgeneratedby', ['entity_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_wasgeneratedby_generation_description_id'), 'wasgeneratedby', ['generation_description_id'], unique=False, schema='provenance')
    op.create_table('wasinformedby',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False, comment='Surrogate key of the relation row'),
    sa.Column('informed_id', sa.Text(), nullable=False, comment='The informed (later) activity'),
    sa.Column('informant_id', sa.Text(), nullable=False, comment='The informant (earlier) activity'),
    sa.ForeignKeyConstraint(['informant_id'], ['provenance.activity.id'], name=op.f('fk_wasinformedby_informant_id')),
    sa.ForeignKeyConstraint(['informed_id'], ['provenance.activity.id'], name=op.f('fk_wasinformedby_informed_id')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wasinformedby')),
    sa.UniqueConstraint('informed_id', 'informant_id', name='uq_wasinformedby', postgresql_nulls_not_distinct=True),
    schema='provenance',
    comment='ProvDM WasInformedBy: an activity used an entity generated by another activity',
    info={'utype': 'voprov:WasInformedBy'}
    )
    op.create_index(op.f('ix_provenance_wasinformedby_informant_id'), 'wasinformedby', ['informant_id'], unique=False, schema='provenance')
    op.create_index(op.f('ix_provenance_wasinformedby_informed_id'), 'wasinformedby', ['informed_id'], unique=False, schema='provenance')


def downgrade() -> None:
    op.drop_index(op.f('ix_provenance_wasinformedby_informed_id'), table_name='wasinformedby', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasinformedby_informant_id'), table_name='wasinformedby', schema='provenance')
    op.drop_table('wasinformedby', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasgeneratedby_generation_description_id'), table_name='wasgeneratedby', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasgeneratedby_entity_id'), table_name='wasgeneratedby', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasgeneratedby_activity_id'), table_name='wasgeneratedby', schema='provenance')
    op.drop_table('wasgeneratedby', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasassociatedwith_agent_id'), table_name='wasassociatedwith', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasassociatedwith_activity_id'), table_name='wasassociatedwith', schema='provenance')
    op.drop_table('wasassociatedwith', schema='provenance')
    op.drop_index(op.f('ix_provenance_used_usage_description_id'), table_name='used', schema='provenance')
    op.drop_index(op.f('ix_provenance_used_entity_id'), table_name='used', schema='provenance')
    op.drop_index(op.f('ix_provenance_used_activity_id'), table_name='used', schema='provenance')
    op.drop_table('used', schema='provenance')
    op.drop_index(op.f('ix_provenance_parameter_value_entity_id'), table_name='parameter', schema='provenance')
    op.drop_index(op.f('ix_provenance_parameter_parameter_description_id'), table_name='parameter', schema='provenance')
    op.drop_index(op.f('ix_provenance_parameter_activity_id'), table_name='parameter', schema='provenance')
    op.drop_table('parameter', schema='provenance')
    op.drop_index(op.f('ix_provenance_configfile_location'), table_name='configfile', schema='provenance')
    op.drop_index(op.f('ix_provenance_configfile_config_file_description_id'), table_name='configfile', schema='provenance')
    op.drop_index(op.f('ix_provenance_configfile_activity_id'), table_name='configfile', schema='provenance')
    op.drop_table('configfile', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasderivedfrom_used_entity_id'), table_name='wasderivedfrom', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasderivedfrom_generated_entity_id'), table_name='wasderivedfrom', schema='provenance')
    op.drop_table('wasderivedfrom', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasattributedto_entity_id'), table_name='wasattributedto', schema='provenance')
    op.drop_index(op.f('ix_provenance_wasattributedto_agent_id'), table_name='wasattributedto', schema='provenance')
    op.drop_table('wasattributedto', schema='provenance')
    op.drop_index(op.f('ix_provenance_hadmember_entity_id'), table_name='hadmember', schema='provenance')
    op.drop_index(op.f('ix_provenance_hadmember_collection_id'), table_name='hadmember', schema='provenance')
    op.drop_table('hadmember', schema='provenance')
    op.drop_index(op.f('ix_provenance_activity_session_tag'), table_name='activity', schema='provenance')
    op.drop_index(op.f('ix_provenance_activity_session_id'), table_name='activity', schema='provenance')
    op.drop_index(op.f('ix_provenance_activity_original_id'), table_name='activity', schema='provenance')
    op.drop_index(op.f('ix_provenance_activity_activity_description_id'), table_name='activity', schema='provenance')
    op.drop_table('activity', schema='provenance')
    op.drop_index(op.f('ix_provenance_usagedescription_entity_description_id'), table_name='usagedescription', schema='provenance')
    op.drop_index(op.f('ix_provenance_usagedescription_activity_description_id'), table_name='usagedescription', schema='provenance')
    op.drop_table('usagedescription', schema='provenance')
    op.drop_index(op.f('ix_provenance_parameterdescription_activity_description_id'), table_name='parameterdescription', schema='provenance')
    op.drop_table('parameterdescription', schema='provenance')
    op.drop_index(op.f('ix_provenance_generationdescription_entity_description_id'), table_name='generationdescription', schema='provenance')
    op.drop_index(op.f('ix_provenance_generationdescription_activity_description_id'), table_name='generationdescription', schema='provenance')
    op.drop_table('generationdescription', schema='provenance')
    op.drop_index(op.f('ix_provenance_entity_location'), table_name='entity', schema='provenance')
    op.drop_index(op.f('ix_provenance_entity_entity_description_id'), table_name='entity', schema='provenance')
    op.drop_index(op.f('ix_provenance_entity_content_hash'), table_name='entity', schema='provenance')
    op.drop_table('entity', schema='provenance')
    op.drop_index(op.f('ix_provenance_configfiledescription_activity_description_id'), table_name='configfiledescription', schema='provenance')
    op.drop_table('configfiledescription', schema='provenance')
    op.drop_index(op.f('ix_archive_processing_session_software_version'), table_name='processing_session', schema='archive')
    op.drop_index(op.f('ix_archive_processing_session_pedestal_run'), table_name='processing_session', schema='archive')
    op.drop_index(op.f('ix_archive_processing_session_original_id'), table_name='processing_session', schema='archive')
    op.drop_index(op.f('ix_archive_processing_session_observation_run'), table_name='processing_session', schema='archive')
    op.drop_index(op.f('ix_archive_processing_session_night'), table_name='processing_session', schema='archive')
    op.drop_index(op.f('ix_archive_processing_session_environment_id'), table_name='processing_session', schema='archive')
    op.drop_index(op.f('ix_archive_processing_session_calibration_run'), table_name='processing_session', schema='archive')
    op.drop_table('processing_session', schema='archive')
    op.drop_index(op.f('ix_archive_ingest_reject_ingest_file_id'), table_name='ingest_reject', schema='archive')
    op.drop_table('ingest_reject', schema='archive')
    op.drop_table('entitydescription', schema='provenance')
    op.drop_table('agent', schema='provenance')
    op.drop_table('activitydescription', schema='provenance')
    op.drop_table('ingest_file', schema='archive')
    op.drop_table('environment', schema='archive')
    op.execute("DROP SCHEMA IF EXISTS archive")
    op.execute("DROP SCHEMA IF EXISTS provenance")
