"""Ingest bookkeeping: what makes re-ingest a no-op and keeps every rejected line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped

from provdb.schema.base import ARCHIVE, Base, fk_column, tap_column, text_column

__all__ = ["IngestFile", "IngestReject"]

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
    created: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the line was rejected (UTC)",
        ucd="time.creation",
        xtype="timestamp",
    )
