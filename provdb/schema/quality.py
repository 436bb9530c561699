"""Quality flags of products and every content hash ever recorded for an entity.

* ``product_flag``: one row per flagged entity and rule (stale, mixed-versions,
  failed-ancestor, missing-input, hash-conflict), computed by
  :mod:`provdb.answers.checks`; ``since`` is when the flag was first raised and is kept
  while the flag stays. ADQL filters products with a ``LEFT JOIN`` on it.
* ``entity_hash``: every distinct content hash recorded for an entity (by the ingest of
  a source that carries hashes and by ``provdb scan --hash``), so that a file whose
  content changed without a new generation is seen (``entity.content_hash`` keeps the
  first sighting only).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped

from provdb.schema.base import ARCHIVE, PROVENANCE, Base, tap_column, text_column

__all__ = ["EntityHash", "ProductFlag"]

_NOW = sa.text("(now() at time zone 'utc')")
ENTITY = f"{PROVENANCE}.entity.id"


class ProductFlag(Base):
    __tablename__ = "product_flag"
    __table_args__ = (
        sa.Index("ix_product_flag_rule", "rule"),
        {
            "schema": ARCHIVE,
            "comment": "Quality flags of products (provdb check rules), kept current by every "
            "ingest and scan: one row per flagged entity and rule",
        },
    )

    entity_id: Mapped[str] = tap_column(
        sa.Text,
        sa.ForeignKey(ENTITY),
        primary_key=True,
        description="The flagged entity (provenance.entity.id)",
        ucd="meta.id",
        principal=True,
    )
    rule: Mapped[str] = tap_column(
        sa.Text,
        primary_key=True,
        description="stale, mixed-versions, failed-ancestor, missing-input or hash-conflict",
        ucd="meta.code.qual",
        principal=True,
    )
    severity: Mapped[str] = text_column(
        "error, warning or info", nullable=False, ucd="meta.code.qual", principal=True
    )
    detail: Mapped[str] = text_column(
        "One-line explanation naming the culprit", nullable=False, ucd="meta.note", principal=True
    )
    cause_id: Mapped[str | None] = text_column(
        "The ancestor entity or activity responsible (the first one in id order)",
        ucd="meta.id.assoc",
    )
    since: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the flag was first raised (UTC); kept while the flag stays",
        ucd="time.start",
        xtype="timestamp",
    )


class EntityHash(Base):
    __tablename__ = "entity_hash"
    __table_args__ = {
        "schema": ARCHIVE,
        "comment": "Every distinct content hash recorded for an entity (logs carrying hashes, "
        "provdb scan --hash): several hashes of one type and fewer generations mean the "
        "file changed outside the recorded provenance",
    }

    entity_id: Mapped[str] = tap_column(
        sa.Text,
        sa.ForeignKey(ENTITY),
        primary_key=True,
        description="The entity (provenance.entity.id)",
        ucd="meta.id",
        principal=True,
    )
    hash_type: Mapped[str] = tap_column(
        sa.Text,
        primary_key=True,
        description="Hash algorithm (md5, sha256...)",
        ucd="meta.code",
        principal=True,
    )
    content_hash: Mapped[str] = tap_column(
        sa.Text,
        primary_key=True,
        description="Checksum of the content",
        ucd="meta.id;meta.file",
        principal=True,
    )
    source: Mapped[str] = text_column(
        "Where it was recorded: the ingested file's format (w3c-prov, ...) or scan",
        nullable=False,
        ucd="meta.code",
    )
    first_seen: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the hash was first recorded (UTC)",
        ucd="time.creation",
        xtype="timestamp",
    )
