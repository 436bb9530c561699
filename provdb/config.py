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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

__all__ = ["DEFAULT_DATABASE_NAME", "Settings"]

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
