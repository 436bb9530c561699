"""Software versions of products and sessions, and the bookkeeping of ``provdb scan``.

Where a product's software versions come from:

* **the file itself**: lstchain writes ``LSTCHAIN_VERSION``, ``CTAPIPE_VERSION``,
  ``CTAPIPE_IO_LST_VERSION`` as HDF5 root attributes and again on tables (a table
  copied from an input keeps the input's versions), ctapipe writes ``CTA ACTIVITY
  SOFTWARE NAME/VERSION``; FITS files carry ``CREATOR`` and ``*_VERSION`` keywords and
  HISTORY lines. ``provdb scan`` reads them;
* **the log**: the session of the activity that generated the product (lstosa's
  ``software_version`` is ``'v'`` + the lstchain version; a ctapipe tool's session
  holds the ctapipe version) and the Python packages of the session's environment.

``software`` holds one row per (subject, package, version), the subject being an entity
(file metadata) or a session (log), with the version split into sortable integer parts
so that ADQL can filter ``package = 'lstchain' AND major = 0 AND minor = 9`` through an
index. The view ``archive.product_version`` (migration 0006, described for TAP by
:data:`PRODUCT_VERSION_VIEW`) joins products to both kinds of rows.

Sessions are referenced by a plain text ``session_id`` **without a foreign key**, so
that the session table can be renamed (SESSION is an ADQL reserved word) without
touching this one.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped

from provdb.schema.base import ARCHIVE, PROVENANCE, Base, tap_column, text_column

__all__ = ["PRODUCT_VERSION_VIEW", "ScanFile", "Software"]

_NOW = sa.text("(now() at time zone 'utc')")


class Software(Base):
    __tablename__ = "software"
    __table_args__ = (
        sa.UniqueConstraint(
            "entity_id",
            "session_id",
            "package",
            "version",
            name="uq_software_subject_package_version",
            postgresql_nulls_not_distinct=True,
        ),
        sa.CheckConstraint("(entity_id IS NULL) <> (session_id IS NULL)", name="one_subject"),
        sa.Index("ix_software_package_version", "package", "major", "minor", "patch"),
        # version = '0.12.4' as written (archive.product_version filters, migration 0016) and
        # the distinct (package, version) pairs by a skip scan, each with a session of it
        # (the UI's software version totals, tap/ui/home_queries.py)
        sa.Index("ix_software_version_session", "package", "version", "session_id"),
        {
            "schema": ARCHIVE,
            "comment": "Software versions found in files (provdb scan) and in processing "
            "sessions (logs): one row per subject, package and version, with sortable "
            "integer parts (filter major/minor/patch, indexed with package)",
        },
    )

    id: Mapped[int] = tap_column(
        sa.BigInteger,
        sa.Identity(always=False),
        primary_key=True,
        description="Surrogate key",
        ucd="meta.id;meta.main",
    )
    entity_id: Mapped[str | None] = tap_column(
        sa.Text,
        sa.ForeignKey(f"{PROVENANCE}.entity.id"),
        nullable=True,
        index=True,
        description="The file whose metadata holds the version (null for a session row)",
        ucd="meta.id",
        principal=True,
    )
    session_id: Mapped[str | None] = tap_column(
        sa.Text,
        nullable=True,
        index=True,
        description="The processing session (id of the session table, as "
        "provenance.activity.session_id; null for a file row)",
        ucd="meta.id.assoc",
        principal=True,
    )
    source: Mapped[str] = text_column(
        "Where the version was found: file-root (HDF5 root attributes, FITS primary "
        "header), file-table:<node> (an HDF5 table or group, a FITS extension), session "
        "(lstosa software_version), ctapipe (a ctapipe tool's session), environment "
        "(Python packages of the session's environment)",
        nullable=False,
        ucd="meta.code",
    )
    keyword: Mapped[str | None] = text_column(
        "Attribute, header keyword or field the version was read from "
        "(LSTCHAIN_VERSION, CREATOR, HISTORY, software_version, python.packages...)",
        ucd="meta.id",
    )
    package: Mapped[str] = text_column(
        "Software package, lower case with '_' for '-' (lstchain, ctapipe, ctapipe_io_lst)",
        nullable=False,
        ucd="meta.id;meta.software",
        principal=True,
    )
    version: Mapped[str] = text_column(
        "Version as written, without a leading 'v' (0.12.3, 0.7.0.post34+git92816b6)",
        nullable=False,
        ucd="meta.version",
        principal=True,
    )
    major: Mapped[int | None] = tap_column(
        sa.Integer,
        nullable=True,
        description="First numeric part of the version (0 in 0.12.3); null if not numeric",
        ucd="meta.version",
        principal=True,
    )
    minor: Mapped[int | None] = tap_column(
        sa.Integer,
        nullable=True,
        description="Second numeric part of the version (12 in 0.12.3)",
        ucd="meta.version",
        principal=True,
    )
    patch: Mapped[int | None] = tap_column(
        sa.Integer,
        nullable=True,
        description="Third numeric part of the version (3 in 0.12.3)",
        ucd="meta.version",
    )


class ScanFile(Base):
    __tablename__ = "scan_file"
    __table_args__ = {
        "schema": ARCHIVE,
        "comment": "One row per data file seen by provdb scan: size and mtime at the last "
        "scan (unchanged files are skipped), outcome",
    }

    path: Mapped[str] = tap_column(
        sa.Text,
        primary_key=True,
        description="Absolute path of the file (symbolic links resolved)",
        ucd="meta.ref;meta.file",
    )
    entity_id: Mapped[str | None] = tap_column(
        sa.Text,
        sa.ForeignKey(f"{PROVENANCE}.entity.id"),
        nullable=True,
        index=True,
        description="The file's entity (md5 of the path, as lstosa); null if never read",
        ucd="meta.id",
    )
    format: Mapped[str] = text_column("hdf5 or fits", nullable=False, ucd="meta.code")
    size_bytes: Mapped[int] = tap_column(
        sa.BigInteger,
        nullable=False,
        description="File size at the last scan",
        unit="byte",
        ucd="phys.size;meta.file",
    )
    mtime: Mapped[float] = tap_column(
        sa.Double,
        nullable=False,
        description="File modification time at the last scan (seconds since the epoch)",
        unit="s",
        ucd="time.epoch",
    )
    content_hash: Mapped[str | None] = text_column(
        "Checksum of the content at the last scan (with --hash)", ucd="meta.id;meta.file"
    )
    content_hash_type: Mapped[str | None] = text_column("md5 or sha256", ucd="meta.code")
    status: Mapped[str] = text_column(
        "ok, or failed (unreadable: read again by the next scan)",
        nullable=False,
        ucd="meta.code.status",
    )
    error: Mapped[str | None] = text_column("Why the file could not be read", ucd="meta.note")
    n_versions: Mapped[int] = tap_column(
        sa.Integer,
        nullable=False,
        server_default="0",
        description="Software versions found in the file",
        ucd="meta.number",
    )
    first_scan: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the file was first scanned (UTC)",
        ucd="time.start",
        xtype="timestamp",
    )
    last_scan: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the file was last read (UTC)",
        ucd="time.end",
        xtype="timestamp",
    )
    provdb_version: Mapped[str | None] = text_column(
        "provdb version that last read the file", ucd="meta.version"
    )


# ----------------------------------------------------------------------------- view

_T = sa.Text
_I = sa.Integer


def _col(
    name: str, type_: object, description: str, ucd: str, principal: bool = False
) -> sa.Column:
    return sa.Column(name, type_, comment=description, info={"ucd": ucd, "principal": principal})


#: ``archive.product_version`` (created by migration 0006), described for TAP like the
#: run-level views of :data:`provdb.schema.tap_schema.VIEWS` (own MetaData: a view is
#: not a table Alembic should create).
PRODUCT_VERSION_VIEW = sa.Table(
    "product_version",
    sa.MetaData(),
    _col("entity_id", _T, "The product (provenance.entity.id)", "meta.id", True),
    _col("entity_name", _T, "Name of the entity (kind of file, or file name)", "meta.title"),
    _col("location", _T, "Path of the file", "meta.ref", True),
    _col(
        "product_type",
        _T,
        "Data level (R0, R1, DL1, DL2, DL3...): from the scanned file's structure, else "
        "guessed from the entity name or the file name; null if unknown",
        "meta.code.class",
        True,
    ),
    _col("package", _T, "Software package (lstchain, ctapipe, ctapipe_io_lst...)", "meta.id", True),
    _col("version", _T, "Version, without a leading 'v'", "meta.version", True),
    _col("major", _I, "First numeric part of the version", "meta.version"),
    _col("minor", _I, "Second numeric part of the version", "meta.version"),
    _col("patch", _I, "Third numeric part of the version", "meta.version"),
    _col(
        "source",
        _T,
        "file (read from the product's own metadata by provdb scan) or log (the session "
        "of the activity that generated it)",
        "meta.code",
        True,
    ),
    _col(
        "origin",
        _T,
        "archive.software.source of the version: file-root, file-table:<node>, session, "
        "ctapipe, environment",
        "meta.code",
    ),
    schema=ARCHIVE,
    comment="Products with the software versions that made them, from their file metadata "
    "(source 'file') and from the session of their generating activity (source 'log'). "
    "Filter package/major/minor/patch: they are indexed in archive.software",
    info={"is_view": True},
)
