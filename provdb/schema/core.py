"""ProvDM core classes: Activity, Entity, Agent (IVOA ProvDM 1.0 §2.2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped

from provdb.schema.base import (
    ARCHIVE,
    PROVENANCE,
    Base,
    fk_column,
    id_column,
    json_column,
    tap_column,
    text_column,
    time_column,
)
from provdb.schema.product_type import PRODUCT_TYPE_INDEX, PRODUCT_TYPE_INDEX_SQL

__all__ = ["FAILED_ACTIVITY_INDEX", "Activity", "Agent", "Entity", "failed_activity_sql"]

#: partial index of the activities that failed or never ended (migration 0018)
FAILED_ACTIVITY_INDEX = "ix_activity_failed"


def failed_activity_sql(alias: str = "") -> str:
    """The condition "this activity failed or never ended", on columns of ``alias``.

    One text for the partial index :data:`FAILED_ACTIVITY_INDEX` and the "failed-ancestor"
    rule (provdb/answers/checks.py): PostgreSQL uses a partial index only for a query
    whose condition implies the index's, and a handful of rows out of millions is what
    makes the rule a lookup instead of a scan of every activity of the archive.
    """
    p = f"{alias}." if alias else ""
    return (
        f"{p}status IN ('error', 'interrupted') OR {p}exit_code <> 0 "
        f"OR ({p}end_time IS NULL AND {p}start_time IS NOT NULL)"
    )


class Activity(Base):
    """Something that occurred over a period of time and acted upon entities."""

    __tablename__ = "activity"
    __table_args__ = (
        # the failed-ancestor rule of every ingest's flag upkeep looks these few rows up
        # instead of scanning the whole table (migration 0018)
        sa.Index(FAILED_ACTIVITY_INDEX, "id", postgresql_where=sa.text(failed_activity_sql())),
        {
            "schema": PROVENANCE,
            "comment": "ProvDM Activity: a processing step (one lstosa subrun task, one "
            "ctapipe tool run); lstosa's short activity ids are kept in original_id",
            "info": {"utype": "voprov:Activity"},
        },
    )

    id: Mapped[str] = id_column(
        "Unique activity identifier. For lstosa logs: '<6-hex id>@<start time>' so that "
        "lstosa's colliding short ids never merge two activities",
        utype="voprov:Activity.id",
    )
    name: Mapped[str | None] = text_column(
        "Activity name, e.g. the traced function (r0_to_dl1) or the ctapipe tool",
        ucd="meta.title",
        utype="voprov:Activity.name",
        principal=True,
    )
    start_time: Mapped[datetime | None] = time_column(
        "Start of the activity (UTC)",
        ucd="time.start",
        utype="voprov:Activity.startTime",
        principal=True,
    )
    end_time: Mapped[datetime | None] = time_column(
        "End of the activity (UTC)",
        ucd="time.end",
        utype="voprov:Activity.endTime",
        principal=True,
    )
    comment: Mapped[str | None] = text_column(
        "Free remarks", ucd="meta.note", utype="voprov:Activity.comment"
    )
    activity_description_id: Mapped[str | None] = fk_column(
        f"{PROVENANCE}.activitydescription.id",
        "Description (method) this activity follows",
        ucd="meta.id.assoc",
        utype="voprov:Activity.activityDescription",
    )
    # --- archive extensions (not in the DM) ---
    original_id: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Identifier as written by the source (lstosa 6-hex activity_id, ctapipe "
        "activity_uuid, PROV qualified name); not unique",
        ucd="meta.id",
    )
    session_id: Mapped[str | None] = fk_column(
        f"{ARCHIVE}.processing_session.id",
        "Execution context (archive.processing_session) of this activity: software version, "
        "config, environment",
        ucd="meta.id.assoc",
    )
    session_tag: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="lstosa session_tag ('<step>:<run>' or "
        "'<step>:<pedestal run>-<calibration run>')",
        ucd="meta.id",
    )
    script: Mapped[str | None] = text_column("Program that ran the activity", ucd="meta.code")
    command_line: Mapped[str | None] = text_column(
        "Command line of the process (shell-quoted arguments)", ucd="meta.code"
    )
    status: Mapped[str | None] = text_column(
        "Final status when the source records one (ctapipe: completed, error, interrupted)",
        ucd="meta.code.status",
    )
    exit_code: Mapped[int | None] = tap_column(
        sa.Integer,
        nullable=True,
        description="Process exit code when recorded",
        ucd="meta.code.error",
    )
    start_time_text: Mapped[str | None] = text_column(
        "start_time exactly as written by the source (lstosa: naive local time)", ucd="time.start"
    )
    end_time_text: Mapped[str | None] = text_column(
        "end_time exactly as written by the source", ucd="time.end"
    )
    attributes: Mapped[dict[str, Any] | None] = json_column(
        "Other source attributes of the activity (JSON)", ucd="meta.note"
    )


class Entity(Base):
    """A thing with fixed aspects: a file, a dataset, a value, a collection."""

    __tablename__ = "entity"
    __table_args__ = (
        # the data level of archive.product_version (migration 0015): a product_type
        # filter on that view is an index lookup, with statistics, not a full scan
        sa.Index(PRODUCT_TYPE_INDEX, sa.text(PRODUCT_TYPE_INDEX_SQL)),
        {
            "schema": PROVENANCE,
            "comment": "ProvDM Entity: files and datasets; for files the id is lstosa's md5 "
            "of the absolute path, shared by every source",
            "info": {"utype": "voprov:Entity"},
        },
    )

    id: Mapped[str] = id_column(
        "Unique entity identifier (lstosa: md5 hex digest of the file path)",
        utype="voprov:Entity.id",
    )
    name: Mapped[str | None] = text_column(
        "Human-readable name (lstosa: entity description name, e.g. DL1SubrunDataset)",
        ucd="meta.title",
        utype="voprov:Entity.name",
        principal=True,
    )
    location: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Path or URL of the entity",
        ucd="meta.ref",
        utype="voprov:Entity.location",
        principal=True,
    )
    generated_at_time: Mapped[datetime | None] = time_column(
        "Creation time (UTC)", ucd="time.creation", utype="voprov:Entity.generatedAtTime"
    )
    invalidated_at_time: Mapped[datetime | None] = time_column(
        "Time after which the entity is no longer usable (UTC)",
        ucd="time.end",
        utype="voprov:Entity.invalidatedAtTime",
    )
    comment: Mapped[str | None] = text_column(
        "Free remarks", ucd="meta.note", utype="voprov:Entity.comment"
    )
    entity_description_id: Mapped[str | None] = fk_column(
        f"{PROVENANCE}.entitydescription.id",
        "Description of this kind of entity",
        ucd="meta.id.assoc",
        utype="voprov:Entity.entityDescription",
    )
    entity_value: Mapped[str | None] = text_column(
        "Value of a ValueEntity (ProvDM 'value', renamed: VALUE is reserved in ADQL)",
        ucd="stat.value",
        utype="voprov:ValueEntity.value",
    )
    # --- archive extensions ---
    entity_type: Mapped[str | None] = text_column(
        "Kind of entity as given by the source: File, SetCollection, Parameters...",
        ucd="meta.code.class",
    )
    content_type: Mapped[str | None] = text_column(
        "MIME type of the content (DatasetDescription.contentType)", ucd="meta.code.mime"
    )
    content_hash: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Checksum of the file content, when known (lstosa's "
        "'hash' is a hash of the path and is not stored here)",
        ucd="meta.id;meta.file",
    )
    content_hash_type: Mapped[str | None] = text_column(
        "Algorithm of content_hash (md5, sha256)", ucd="meta.code"
    )
    size_bytes: Mapped[int | None] = tap_column(
        sa.BigInteger,
        nullable=True,
        description="Size of the file",
        unit="byte",
        ucd="phys.size;meta.file",
    )
    attributes: Mapped[dict[str, Any] | None] = json_column(
        "Other source attributes (e.g. ctapipe reference_meta), JSON", ucd="meta.note"
    )


class Agent(Base):
    """Something bearing responsibility for an activity or an entity."""

    __tablename__ = "agent"
    __table_args__ = {
        "schema": PROVENANCE,
        "comment": "ProvDM Agent: people, organisations and software responsible for "
        "activities and entities",
        "info": {"utype": "voprov:Agent"},
    }

    id: Mapped[str] = id_column("Unique agent identifier", utype="voprov:Agent.id")
    name: Mapped[str] = text_column(
        "Agent name (person, team, project, data centre)",
        nullable=False,
        ucd="meta.title",
        utype="voprov:Agent.name",
        principal=True,
    )
    type: Mapped[str | None] = text_column(
        "Person, Organization or SoftwareAgent", ucd="meta.code.class", utype="voprov:Agent.type"
    )
    comment: Mapped[str | None] = text_column(
        "Free remarks", ucd="meta.note", utype="voprov:Agent.comment"
    )
    email: Mapped[str | None] = text_column(
        "Contact e-mail", ucd="meta.email", utype="voprov:Agent.email"
    )
    affiliation: Mapped[str | None] = text_column("Affiliation", utype="voprov:Agent.affiliation")
    phone: Mapped[str | None] = text_column("Phone number", utype="voprov:Agent.phone")
    address: Mapped[str | None] = text_column("Postal address", utype="voprov:Agent.address")
    url: Mapped[str | None] = text_column(
        "Reference URL", ucd="meta.ref.url", utype="voprov:Agent.url"
    )
