"""Settings: which database, where the embedded server keeps its data.

This is the only module that reads environment variables, so every other module
receives its configuration explicitly (and tests can build a :class:`Settings`).

Environment variables
---------------------
PROVDB_DATABASE_URL
    SQLAlchemy URL of an external PostgreSQL, e.g.
    ``postgresql+psycopg://provdb@dbhost/provdb``. When unset, provdb starts and manages
    an embedded PostgreSQL server of its own.
PROVDB_HOME
    Folder of the embedded server's data (``<home>/pgdata``) and of provdb's own files.
    Default: the platform's user data folder (``~/.local/share/provdb`` on Linux).

Limits on work per file (``provdb ingest``; see :class:`IngestLimits`)
----------------------------------------------------------------------
PROVDB_INGEST_MAX_LINE_BYTES
    Longest line of a line-based log read (default 16 MiB); longer lines are rejected
    into ``archive.ingest_reject`` with their first bytes, never held in memory whole.
PROVDB_INGEST_MAX_FIELD_BYTES
    Longest text field (id, path, name) of an lstosa record (default 2048 bytes: the
    archive indexes them); a record with a longer one is rejected.
PROVDB_INGEST_MAX_DOCUMENT_BYTES
    Largest (decompressed) JSON / XML / PROV-N document read whole (default 1 GiB).
PROVDB_INGEST_MAX_RATIO
    Largest decompression ratio (output / compressed input) once more than
    ``PROVDB_INGEST_RATIO_FLOOR_BYTES`` (default 64 MiB) came out (default 200):
    text logs compress 5-30 times, a decompression bomb 1,000 times.
PROVDB_INGEST_MAX_DECOMPRESSED_BYTES
    Largest decompressed stream of any compressed file (default 64 GiB).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

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
    """

    database_url: str | None
    home: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``PROVDB_DATABASE_URL`` and ``PROVDB_HOME``."""
        env = os.environ if environ is None else environ
        url = env.get("PROVDB_DATABASE_URL") or None
        home_text = env.get("PROVDB_HOME") or platformdirs.user_data_dir("provdb", appauthor=False)
        return cls(database_url=url, home=Path(home_text).expanduser().absolute())

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
    max_line_bytes: int = 16 << 20
    #: longest text field of a line-based log record (ids, paths and names are indexed,
    #: and a PostgreSQL index entry holds at most ~2,700 bytes)
    max_field_bytes: int = 2048
    #: largest decompressed document (JSON, XML, PROV-N) read into memory whole
    max_document_bytes: int = 1 << 30
    #: largest output / input ratio of a compressed stream (checked above the floor)
    max_ratio: int = 200
    #: decompressed bytes below which the ratio is not checked (small files compress well)
    ratio_floor_bytes: int = 64 << 20
    #: largest decompressed stream of any compressed file
    max_decompressed_bytes: int = 64 << 30

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestLimits:
        """Read the ``PROVDB_INGEST_*`` variables (defaults for unset ones).

        Raises
        ------
        provdb.errors.ConfigError
            If a value is not a positive integer.
        """
        from provdb.errors import ConfigError

        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for name in (
            "max_line_bytes",
            "max_field_bytes",
            "max_document_bytes",
            "max_ratio",
            "ratio_floor_bytes",
            "max_decompressed_bytes",
        ):
            var = "PROVDB_INGEST_" + name.upper()
            text = env.get(var)
            if not text:
                continue
            try:
                value = int(text)
            except ValueError:
                value = 0
            if value <= 0:
                raise ConfigError(f"{var}={text!r}: give a positive whole number")
            values[name] = value
        return cls(**values)


def ingest_limits() -> IngestLimits:
    """The ingest limits of this process (from the environment, read at each call)."""
    return IngestLimits.from_env()


@dataclass(frozen=True)
class ObsCoreSettings:
    """What ``ivoa.obscore`` says about every product that the files do not say.

    Environment variables (read when ingest or scan refreshes rows; after changing them,
    ``provdb obscore --rebuild`` rewrites the existing rows):

    PROVDB_OBSCORE_COLLECTION   obs_collection (default ``LST-1``)
    PROVDB_OBSCORE_FACILITY     facility_name (default ``LST-1``)
    PROVDB_OBSCORE_INSTRUMENT   instrument_name (default ``LSTCam``)
    PROVDB_OBSCORE_FOV          s_fov, field of view diameter in degrees (default 4.5)
    PROVDB_OBSCORE_AUTHORITY    obs_publisher_did is ``<authority>?<entity id>`` (default
                                ``ivo://provdb.local/product``: register your own)
    PROVDB_OBSCORE_ACCESS_URL   access_url pattern for the files, with ``{path}`` (the
                                file's path, URL-quoted), ``{name}`` (its file name) and
                                ``{id}`` (the entity id); default: none, access_url is
                                then the product's DataLink document
    PROVDB_TAP_BASE_URL         the service's public TAP URL (as for ``provdb serve``):
                                DataLink URLs are ``<it without /tap>/datalink/links?ID=``
                                (default ``http://127.0.0.1:8080/tap``)
    """

    collection: str = "LST-1"
    facility: str = "LST-1"
    instrument: str = "LSTCam"
    fov: float = 4.5
    authority: str = "ivo://provdb.local/product"
    access_url: str | None = None
    public_url: str = "http://127.0.0.1:8080"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ObsCoreSettings:
        """Build from the ``PROVDB_OBSCORE_*`` variables (see the class docstring)."""
        from provdb.errors import ConfigError

        env = os.environ if environ is None else environ
        fov_text = env.get("PROVDB_OBSCORE_FOV") or ""
        try:
            fov = float(fov_text) if fov_text else cls.fov
        except ValueError:
            raise ConfigError(
                f"PROVDB_OBSCORE_FOV={fov_text!r} is not a number: give the field of view "
                "diameter in degrees, e.g. 4.5"
            ) from None
        authority = (env.get("PROVDB_OBSCORE_AUTHORITY") or cls.authority).rstrip("?")
        if not authority.startswith("ivo://") or "?" in authority or "#" in authority:
            raise ConfigError(
                f"PROVDB_OBSCORE_AUTHORITY={authority!r} is not an IVOA identifier: give "
                "one like ivo://example.org/lst without '?' or '#'"
            )
        pattern = env.get("PROVDB_OBSCORE_ACCESS_URL") or None
        if pattern is not None:
            try:
                pattern.format(path="", name="", id="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(
                    f"PROVDB_OBSCORE_ACCESS_URL={pattern!r} is not a valid pattern ({exc}): "
                    "use {path}, {name} or {id}, e.g. https://data.example.org{path}"
                ) from None
        tap = (env.get("PROVDB_TAP_BASE_URL") or "").rstrip("/")
        public = tap[: -len("/tap")] if tap.endswith("/tap") else tap
        return cls(
            collection=env.get("PROVDB_OBSCORE_COLLECTION") or cls.collection,
            facility=env.get("PROVDB_OBSCORE_FACILITY") or cls.facility,
            instrument=env.get("PROVDB_OBSCORE_INSTRUMENT") or cls.instrument,
            fov=fov,
            authority=authority,
            access_url=pattern,
            public_url=public or cls.public_url,
        )
