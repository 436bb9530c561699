"""API tokens of the HTTP ingest endpoint (``provdb token``, ``POST /ingest``).

Only a hash of each secret is stored: whoever reads the table (a backup, a leaked
dump) cannot push with it. The table is not published through TAP.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped

from provdb.schema.base import ARCHIVE, Base, tap_column, text_column

__all__ = ["ApiToken"]

_NOW = sa.text("(now() at time zone 'utc')")


class ApiToken(Base):
    __tablename__ = "api_token"
    __table_args__ = {
        "schema": ARCHIVE,
        "comment": "Tokens that authenticate pipelines pushing logs to POST /ingest "
        "(only the sha256 of each secret is kept)",
    }

    id: Mapped[int] = tap_column(
        sa.BigInteger,
        sa.Identity(always=False),
        primary_key=True,
        description="Surrogate key",
        ucd="meta.id;meta.main",
    )
    name: Mapped[str] = text_column(
        "Name given at creation (who pushes with it, e.g. lst-cluster); also names the "
        "spool folder of its pushed files",
        nullable=False,
        unique=True,
        ucd="meta.id",
    )
    scope: Mapped[str] = text_column(
        "What the token allows: ingest (POST /ingest)", nullable=False, ucd="meta.code"
    )
    secret_sha256: Mapped[str] = text_column(
        "sha256 (hex) of the secret; the secret itself is shown once and never stored",
        nullable=False,
        unique=True,
        ucd="meta.id",
    )
    created: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the token was created (UTC)",
        ucd="time.creation",
        xtype="timestamp",
    )
    last_used: Mapped[datetime | None] = tap_column(
        sa.DateTime(timezone=False),
        nullable=True,
        description="When the token last authenticated a request (UTC)",
        ucd="time.epoch",
        xtype="timestamp",
    )
    revoked: Mapped[datetime | None] = tap_column(
        sa.DateTime(timezone=False),
        nullable=True,
        description="When the token was revoked (UTC); a revoked token is refused (403)",
        ucd="time.end",
        xtype="timestamp",
    )
