-- Shard a migrated provdb archive over the Citus workers (docs/scale-out.md).
-- Run once, on the coordinator, after `provdb db upgrade` and before any ingest
-- (compose.yaml's `distribute` service). Every provdb table is named below exactly once;
-- tests/test_citus_compose.py checks that against provdb's models.
--
-- Colocation group "entity" (hash of the entity id): an entity, its generations, flags,
-- hashes and ObsCore row live on one shard.
-- The lineage closure (archive.lineage_closure, keyed by entity numbers since migration
-- 0023) is sharded by the entity's number, in a group of its own; the numbers
-- (archive.entity_number) are a reference table, so the view archive.lineage joins
-- every shard of the closure with a local copy.
-- Activities, what they used, their parameters, config files, agents and sources are
-- sharded by the activity id, in the same colocation group (the same hash of a text id:
-- any join on equal ids stays on one shard).
-- Reference tables (a copy on every node): the small, slowly growing ones that every
-- query joins (sessions, environments, software versions, descriptions, agents,
-- TAP_SCHEMA, ingest bookkeeping) and the entity numbers.
-- Coordinator-local tables: UWS jobs and API tokens (row locks, SKIP LOCKED).
--
-- Citus needs every unique constraint and primary key of a distributed table to
-- contain its distribution column, and foreign keys between distributed tables to be
-- colocated: the surrogate primary keys of the relation tables become (key, id) and the
-- foreign keys that cross groups are dropped (the ingest creates every referenced
-- object before its relations, in the same transaction).

\set ON_ERROR_STOP 1
BEGIN;

-- foreign keys that cross colocation groups or point from a reference table to a
-- distributed one
-- (the closure has none since migration 0019, derived rows, and archive.lineage and
-- archive.lineage_edge are views since 0023 and 0022)
ALTER TABLE archive.software DROP CONSTRAINT fk_software_entity_id;
ALTER TABLE archive.scan_file DROP CONSTRAINT fk_scan_file_entity_id;
ALTER TABLE provenance.used DROP CONSTRAINT fk_used_entity_id;
ALTER TABLE provenance.wasgeneratedby DROP CONSTRAINT fk_wasgeneratedby_activity_id;
ALTER TABLE provenance.parameter DROP CONSTRAINT fk_parameter_value_entity_id;
ALTER TABLE provenance.hadmember DROP CONSTRAINT fk_hadmember_entity_id;
ALTER TABLE provenance.wasderivedfrom DROP CONSTRAINT fk_wasderivedfrom_used_entity_id;
ALTER TABLE provenance.wasinformedby DROP CONSTRAINT fk_wasinformedby_informant_id;

-- primary keys that must contain the distribution column
ALTER TABLE provenance.used DROP CONSTRAINT pk_used, ADD PRIMARY KEY (activity_id, id);
ALTER TABLE provenance.wasgeneratedby DROP CONSTRAINT pk_wasgeneratedby,
    ADD PRIMARY KEY (entity_id, id);
ALTER TABLE provenance.wasassociatedwith DROP CONSTRAINT pk_wasassociatedwith,
    ADD PRIMARY KEY (activity_id, id);
ALTER TABLE provenance.parameter DROP CONSTRAINT pk_parameter, ADD PRIMARY KEY (activity_id, id);
ALTER TABLE provenance.configfile DROP CONSTRAINT pk_configfile, ADD PRIMARY KEY (activity_id, id);
ALTER TABLE provenance.wasinformedby DROP CONSTRAINT pk_wasinformedby,
    ADD PRIMARY KEY (informed_id, id);
ALTER TABLE provenance.wasderivedfrom DROP CONSTRAINT pk_wasderivedfrom,
    ADD PRIMARY KEY (generated_entity_id, id);
ALTER TABLE provenance.wasattributedto DROP CONSTRAINT pk_wasattributedto,
    ADD PRIMARY KEY (entity_id, id);
ALTER TABLE provenance.hadmember DROP CONSTRAINT pk_hadmember, ADD PRIMARY KEY (collection_id, id);
COMMIT;

-- reference tables (parents first: a reference table's foreign keys must point to
-- reference tables)
SELECT create_reference_table('tap_schema.schemas');
SELECT create_reference_table('tap_schema.tables');
SELECT create_reference_table('tap_schema.columns');
SELECT create_reference_table('tap_schema.keys');
SELECT create_reference_table('tap_schema.key_columns');
SELECT create_reference_table('provenance.activitydescription');
SELECT create_reference_table('provenance.entitydescription');
SELECT create_reference_table('provenance.usagedescription');
SELECT create_reference_table('provenance.generationdescription');
SELECT create_reference_table('provenance.parameterdescription');
SELECT create_reference_table('provenance.configfiledescription');
SELECT create_reference_table('provenance.agent');
SELECT create_reference_table('archive.environment');
SELECT create_reference_table('archive.processing_session');
SELECT create_reference_table('archive.software');
SELECT create_reference_table('archive.ingest_file');
SELECT create_reference_table('archive.ingest_reject');
SELECT create_reference_table('archive.ingest_conflict');
SELECT create_reference_table('archive.scan_file');
SELECT create_reference_table('archive.entity_number');

-- group "entity"
SELECT create_distributed_table('provenance.entity', 'id', shard_count => 32);
SELECT create_distributed_table('provenance.wasgeneratedby', 'entity_id', colocate_with => 'provenance.entity');
SELECT create_distributed_table('provenance.wasderivedfrom', 'generated_entity_id', colocate_with => 'provenance.entity');
SELECT create_distributed_table('provenance.wasattributedto', 'entity_id', colocate_with => 'provenance.entity');
SELECT create_distributed_table('provenance.hadmember', 'collection_id', colocate_with => 'provenance.entity');
SELECT create_distributed_table('archive.product_flag', 'entity_id', colocate_with => 'provenance.entity');
SELECT create_distributed_table('archive.entity_hash', 'entity_id', colocate_with => 'provenance.entity');
SELECT create_distributed_table('ivoa.obscore', 'entity_id', colocate_with => 'provenance.entity');

-- by activity id (same group: joins on activity_id stay on one shard)
SELECT create_distributed_table('provenance.activity', 'id', colocate_with => 'provenance.entity');
SELECT create_distributed_table('provenance.used', 'activity_id', colocate_with => 'provenance.activity');
SELECT create_distributed_table('provenance.wasassociatedwith', 'activity_id', colocate_with => 'provenance.activity');
SELECT create_distributed_table('provenance.parameter', 'activity_id', colocate_with => 'provenance.activity');
SELECT create_distributed_table('provenance.configfile', 'activity_id', colocate_with => 'provenance.activity');
SELECT create_distributed_table('provenance.wasinformedby', 'informed_id', colocate_with => 'provenance.activity');
SELECT create_distributed_table('archive.activity_source', 'activity_id', colocate_with => 'provenance.activity');

-- the closure by entity number (a group of its own: the numbers hash differently)
SELECT create_distributed_table('archive.lineage_closure', 'entity_no', shard_count => 32);

-- coordinator-local: uws.job, archive.api_token (no call needed: plain tables stay local)
