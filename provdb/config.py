"""Typed views of the settings registry: the database, ingest limits, ObsCore values.

Every ``PROVDB_*`` variable is declared (name, kind, default, help) and read in
:mod:`provdb.settings`; the classes here are the typed bundles the rest of provdb is
given (and tests build directly): :class:`Settings` (which database, PROVDB_HOME, the
embedded server's shared buffers and WAL size),
:class:`IngestLimits` (``PROVDB_INGEST_*`` limits per file) and :class:`ObsCoreSettings`
(``PROVDB_OBSCORE_*``). ``provdb settings`` lists them all with their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from provdb import settings

__all__ = ["DEFAULT_DATABASE_NAME", "IngestLimits", "ObsCoreSettings", "Settings", "ingest_limits"]

#: Name of the database provdb creates inside the embedded server.
DEFAULT_DATABASE_NAME = "provdb"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration.

    Parameters
    ----------
    database_url:
        External PostgreSQL URL, or ``None`` to use the embedded server.
    home:
        Folder for the embedded server's data and provdb's own files.
    shared_buffers:
        Bytes of shared buffers for the embedded server (default: the setting's, a
        quarter of the machine's memory within bounds; provdb.embedded_config).
    max_wal_size:
        Bytes of WAL between checkpoints of the embedded server (default: the
        setting's, PostgreSQL's 1 GiB).
    """

    database_url: str | None
    home: Path
    shared_buffers: int = field(
        default_factory=lambda: settings.value("PROVDB_EMBEDDED_SHARED_BUFFERS", {})
    )
    max_wal_size: int = field(
        default_factory=lambda: settings.value("PROVDB_EMBEDDED_MAX_WAL_SIZE", {})
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``PROVDB_DATABASE_URL``, ``PROVDB_HOME``,
        ``PROVDB_EMBEDDED_SHARED_BUFFERS`` and ``PROVDB_EMBEDDED_MAX_WAL_SIZE``."""
        return cls(
            database_url=settings.value("PROVDB_DATABASE_URL", environ),
            home=settings.value("PROVDB_HOME", environ),
            shared_buffers=settings.value("PROVDB_EMBEDDED_SHARED_BUFFERS", environ),
            max_wal_size=settings.value("PROVDB_EMBEDDED_MAX_WAL_SIZE", environ),
        )

    @property
    def embedded(self) -> bool:
        """True when provdb runs its own PostgreSQL server."""
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        """Data folder of the embedded PostgreSQL server."""
        return self.home / "pgdata"


@dataclass(frozen=True)
class IngestLimits:
    """Bounds on the work one source file may cause (memory and decompression).

    A file that exceeds a bound is refused (reported as ``FILE: reason``, rolled back)
    and the run goes on with the next file; a line that is too long is rejected alone.
    """

    #: longest line of a line-based log that is read; longer lines become rejects
    max_line_bytes: int = settings.default("PROVDB_INGEST_MAX_LINE_BYTES")
    #: longest text field of a line-based log record (ids, paths and names are indexed,
    #: and a PostgreSQL index entry holds at most ~2,700 bytes)
    max_field_bytes: int = settings.default("PROVDB_INGEST_MAX_FIELD_BYTES")
    #: largest decompressed document (JSON, XML, PROV-N) read into memory whole
    max_document_bytes: int = settings.default("PROVDB_INGEST_MAX_DOCUMENT_BYTES")
    #: largest output / input ratio of a compressed stream (checked above the floor)
    max_ratio: int = settings.default("PROVDB_INGEST_MAX_RATIO")
    #: decompressed bytes below which the ratio is not checked (small files compress well)
    ratio_floor_bytes: int = settings.default("PROVDB_INGEST_RATIO_FLOOR_BYTES")
    #: largest decompressed stream of any compressed file
    max_decompressed_bytes: int = settings.default("PROVDB_INGEST_MAX_DECOMPRESSED_BYTES")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestLimits:
        """Read the ``PROVDB_INGEST_*`` limits (defaults for unset ones).

        Raises
        ------
        provdb.errors.ConfigError
            If a value is not a size (or, for the ratio, a positive integer).
        """
        return cls(
            **{
                field: settings.value("PROVDB_INGEST_" + field.upper(), environ)
                for field in cls.__dataclass_fields__
            }
        )


def ingest_limits() -> IngestLimits:
    """The ingest limits of this process (from the environment, read at each call)."""
    return IngestLimits.from_env()


@dataclass(frozen=True)
class ObsCoreSettings:
    """What ``ivoa.obscore`` says about every product that the files do not say.

    ``PROVDB_OBSCORE_*`` and ``PROVDB_TAP_BASE_URL`` (``provdb settings`` lists them),
    read when ingest or scan refreshes rows; after changing them, ``provdb obscore
    --rebuild`` rewrites the existing rows. DataLink URLs are
    ``<PROVDB_TAP_BASE_URL without /tap>/datalink/links?ID=``.
    """

    collection: str = settings.default("PROVDB_OBSCORE_COLLECTION")
    facility: str = settings.default("PROVDB_OBSCORE_FACILITY")
    instrument: str = settings.default("PROVDB_OBSCORE_INSTRUMENT")
    fov: float = settings.default("PROVDB_OBSCORE_FOV")
    authority: str = settings.default("PROVDB_OBSCORE_AUTHORITY")
    access_url: str | None = settings.default("PROVDB_OBSCORE_ACCESS_URL")
    public_url: str = "http://127.0.0.1:8080"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ObsCoreSettings:
        """Build from the ``PROVDB_OBSCORE_*`` variables (see the class docstring)."""
        tap = (settings.value("PROVDB_TAP_BASE_URL", environ) or "").rstrip("/")
        public = tap[: -len("/tap")] if tap.endswith("/tap") else tap
        return cls(
            collection=settings.value("PROVDB_OBSCORE_COLLECTION", environ),
            facility=settings.value("PROVDB_OBSCORE_FACILITY", environ),
            instrument=settings.value("PROVDB_OBSCORE_INSTRUMENT", environ),
            fov=settings.value("PROVDB_OBSCORE_FOV", environ),
            authority=settings.value("PROVDB_OBSCORE_AUTHORITY", environ),
            access_url=settings.value("PROVDB_OBSCORE_ACCESS_URL", environ),
            public_url=public or cls.public_url,
        )
