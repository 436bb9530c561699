"""Ingest bookkeeping: what makes re-ingest a no-op, keeps every rejected line and every
value that conflicted with the archive.

All three tables are published through TAP (an operator's questions: what was read,
what was refused, what disagreed), with the ``archive.ingest_file_age`` view
(:data:`INGEST_FILE_AGE_VIEW`) for "the last 24 hours", which ADQL cannot compute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped

from provdb.schema.base import ARCHIVE, Base, fk_column, tap_column, text_column

__all__ = [
    "INGEST_FILE_AGE_VIEW",
    "ActivitySource",
    "IngestConflict",
    "IngestFile",
    "IngestReject",
]

_NOW = sa.text("(now() at time zone 'utc')")


class IngestFile(Base):
    __tablename__ = "ingest_file"
    __table_args__ = {
        "schema": ARCHIVE,
        "comment": "One row per ingested source file: how far it was read, what it gave",
    }

    id: Mapped[int] = tap_column(
        sa.BigInteger,
        sa.Identity(always=False),
        primary_key=True,
        description="Surrogate key",
        ucd="meta.id;meta.main",
    )
    path: Mapped[str] = tap_column(
        sa.Text,
        nullable=False,
        unique=True,
        description="Absolute path of the source file",
        ucd="meta.ref;meta.file",
        principal=True,
    )
    format: Mapped[str] = text_column(
        "Format the file was read as (lstosa, ctapipe, prov-json, prov-xml, prov-n)",
        nullable=False,
        ucd="meta.code",
    )
    size_bytes: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        description="File size at the last ingest",
        unit="byte",
        ucd="phys.size;meta.file",
    )
    mtime: Mapped[float | None] = tap_column(
        sa.Double,
        nullable=True,
        description="File modification time at the last ingest (seconds since the epoch)",
        unit="s",
        ucd="time.epoch",
    )
    offset_reached: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        description="Bytes read and committed; a growing log is read on from here",
        unit="byte",
        ucd="meta.number",
    )
    checksum: Mapped[str] = text_column(
        "sha256 of bytes [0, offset_reached) of the file (uncompressed stream)",
        nullable=False,
        ucd="meta.id;meta.file",
    )
    lines_read: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        server_default="0",
        description="Lines read up to offset_reached",
        ucd="meta.number",
    )
    records: Mapped[dict[str, Any]] = tap_column(
        JSONB,
        nullable=False,
        server_default=sa.text("'{}'::jsonb"),
        description="Records read, by kind (JSON object)",
        ucd="meta.number",
    )
    n_records: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        server_default="0",
        description="Provenance records read",
        ucd="meta.number",
    )
    n_rejects: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        server_default="0",
        description="Lines rejected (kept in ingest_reject)",
        ucd="meta.number",
    )
    n_other_lines: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        server_default="0",
        description="Non-provenance lines (diagnostics) counted and skipped",
        ucd="meta.number",
    )
    status: Mapped[str] = text_column(
        "complete (whole file read) or partial (a torn last line awaits the writer)",
        nullable=False,
        ucd="meta.code.status",
    )
    state: Mapped[dict[str, Any] | None] = tap_column(
        JSONB,
        nullable=True,
        description="Parser state needed to resume a growing file (open activities, last sessions)",
        ucd="meta.note",
    )
    first_ingest: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the file was first ingested (UTC)",
        ucd="time.start",
        xtype="timestamp",
    )
    last_ingest: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the file was last read (UTC)",
        ucd="time.end",
        xtype="timestamp",
    )
    duration_s: Mapped[float | None] = tap_column(
        sa.Double,
        nullable=True,
        description="Duration of the last ingest",
        unit="s",
        ucd="time.duration",
    )
    provdb_version: Mapped[str | None] = text_column(
        "provdb version that last read the file", ucd="meta.version"
    )


class IngestReject(Base):
    __tablename__ = "ingest_reject"
    __table_args__ = {
        "schema": ARCHIVE,
        "comment": "Lines that could not be ingested, kept verbatim with file and line "
        "so an operator can look at them",
    }

    id: Mapped[int] = tap_column(
        sa.BigInteger,
        sa.Identity(always=False),
        primary_key=True,
        description="Surrogate key",
        ucd="meta.id;meta.main",
    )
    ingest_file_id: Mapped[int] = fk_column(
        f"{ARCHIVE}.ingest_file.id",
        "The source file",
        nullable=False,
        type_=sa.BigInteger,
        ondelete="CASCADE",
    )
    line_number: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        description="1-based line number in the file",
        ucd="meta.number",
    )
    byte_offset: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        description="Offset of the line start",
        unit="byte",
        ucd="meta.number",
    )
    reason: Mapped[str] = text_column("Why the line was rejected", nullable=False, ucd="meta.note")
    is_error: Mapped[bool] = tap_column(
        sa.Boolean,
        nullable=False,
        server_default=sa.true(),
        description="False for well-formed records of an unknown kind (kept, not an error)",
        ucd="meta.code.status",
    )
    raw: Mapped[bytes] = tap_column(
        sa.LargeBinary,
        nullable=False,
        description="The line exactly as read",
        ucd="meta.note",
    )
    raw_text: Mapped[str] = text_column(
        "The line as text: invalid UTF-8 bytes shown as \\xNN, control characters escaped "
        "(\\t, \\r, \\x00...)",
        nullable=False,
        server_default="",
        ucd="meta.note",
    )
    created: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the line was rejected (UTC)",
        ucd="time.creation",
        xtype="timestamp",
    )


class IngestConflict(Base):
    __tablename__ = "ingest_conflict"
    __table_args__ = (
        sa.UniqueConstraint(
            "ingest_file_id", "table_name", "object_id", "attribute", name="uq_ingest_conflict"
        ),
        {
            "schema": ARCHIVE,
            "comment": "Values a source file gave an attribute that differ from what the "
            "archive already held: the first sighting is kept, the other value is kept here",
        },
    )

    id: Mapped[int] = tap_column(
        sa.BigInteger,
        sa.Identity(always=False),
        primary_key=True,
        description="Surrogate key",
        ucd="meta.id;meta.main",
    )
    ingest_file_id: Mapped[int] = fk_column(
        f"{ARCHIVE}.ingest_file.id",
        "The source file that gave the new value",
        nullable=False,
        type_=sa.BigInteger,
        ondelete="CASCADE",
    )
    line_number: Mapped[int | None] = tap_column(
        sa.BigInteger,
        nullable=True,
        description="1-based line of the record that gave the new value (null for documents)",
        ucd="meta.number",
    )
    table_name: Mapped[str] = text_column(
        "Archive table of the object (provenance.entity, provenance.activity...)",
        nullable=False,
        ucd="meta.id",
        principal=True,
    )
    object_id: Mapped[str] = text_column(
        "Id of the entity, activity, agent, session... in that table",
        nullable=False,
        ucd="meta.id",
        principal=True,
    )
    attribute: Mapped[str] = text_column(
        "Column whose value differs", nullable=False, ucd="meta.code", principal=True
    )
    kept_value: Mapped[str] = text_column(
        "Value the archive holds (first sighting), as text", nullable=False, ucd="meta.note"
    )
    new_value: Mapped[str] = text_column(
        "Value this file gave (not stored in the table), as text",
        nullable=False,
        ucd="meta.note",
    )
    created: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the conflict was found (UTC)",
        ucd="time.creation",
        xtype="timestamp",
    )


class ActivitySource(Base):
    """Which ingested files gave records of which activity: the log a product "came
    from" (DataLink ``#documentation``). An activity seen in several files (lstosa's
    night ``prov.log``, its run-wise log and PROV-JSON) has one row per file."""

    __tablename__ = "activity_source"
    __table_args__ = {
        "schema": ARCHIVE,
        "comment": "Ingested files (logs) that gave records of each activity: the activity "
        "itself or a generation by it; one row per activity and file",
    }

    activity_id: Mapped[str] = tap_column(
        sa.Text,
        sa.ForeignKey("provenance.activity.id", ondelete="CASCADE"),
        primary_key=True,
        description="The activity (provenance.activity.id)",
        ucd="meta.id",
        principal=True,
    )
    ingest_file_id: Mapped[int] = tap_column(
        sa.BigInteger,
        sa.ForeignKey(f"{ARCHIVE}.ingest_file.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
        description="The file its records were read from (archive.ingest_file.id)",
        ucd="meta.id",
        principal=True,
    )


def _view_col(
    name: str, type_: Any, description: str, ucd: str, unit: str | None = None
) -> sa.Column:
    info = {"ucd": ucd, "principal": True, "unit": unit}
    return sa.Column(name, type_, comment=description, info=info)


#: ``archive.ingest_file_age`` (migration 0008): each ingested file with the hours since
#: its last ingest, so that ADQL (which has no clock) can ask for "tonight".
INGEST_FILE_AGE_VIEW = sa.Table(
    "ingest_file_age",
    sa.MetaData(),
    _view_col("ingest_file_id", sa.BigInteger, "The file (archive.ingest_file.id)", "meta.id"),
    _view_col("path", sa.Text, "Absolute path of the source file", "meta.ref;meta.file"),
    _view_col(
        "status", sa.Text, "complete, or partial (a torn last line awaits)", "meta.code.status"
    ),
    _view_col(
        "last_ingest",
        sa.DateTime(timezone=False),
        "When the file was last read (UTC)",
        "time.end",
    ),
    _view_col(
        "hours_since_ingest",
        sa.Double,
        "Hours between the last ingest and the query (e.g. < 24: tonight's files)",
        "time.age",
        "h",
    ),
    schema=ARCHIVE,
    comment="Ingested files with the hours since their last ingest (ADQL has no clock: "
    "filter hours_since_ingest < 24 for tonight's files)",
    info={"is_view": True},
)
