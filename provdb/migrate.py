"""Schema migrations: Alembic driven from Python, the only way the schema is created.

``provdb db upgrade`` / ``downgrade`` / ``status`` call these functions. The migration
scripts live in the repository's top-level ``migrations/`` folder (shipped inside the
wheel as ``provdb/_migrations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from provdb.errors import ConfigError, DatabaseError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "MigrationState",
    "alembic_config",
    "current",
    "downgrade",
    "migrations_dir",
    "state",
    "upgrade",
]


def migrations_dir() -> Path:
    """Folder of the Alembic scripts (wheel: ``provdb/_migrations``; checkout: ``migrations``)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError(
        "provdb's migration scripts are missing from this installation: reinstall provdb "
        "(pip install --force-reinstall provdb)"
    )


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic :class:`Config` sharing ``connection`` with ``migrations/env.py``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this provdb knows."""
    return _script().get_current_head() or "base"


@dataclass(frozen=True)
class MigrationState:
    """Where a database stands: its revision, and whether provdb knows it."""

    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def state(engine: Engine) -> MigrationState:
    """Current migration state of the database behind ``engine``."""
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    script = _script()
    known = rev is None or _revision_known(script, rev)
    return MigrationState(current=rev, head=script.get_current_head() or "base", known=known)


def _revision_known(script: ScriptDirectory, rev: str) -> bool:
    try:
        return script.get_revision(rev) is not None
    except Exception:
        return False


def _refuse_unknown(engine: Engine) -> MigrationState:
    st = state(engine)
    if not st.known:
        raise DatabaseError(
            f"the database is at migration {st.current}, which this provdb does not know "
            f"(its newest is {st.head}): it was upgraded by a newer provdb. Upgrade provdb "
            "(pip install -U provdb) instead of migrating this database"
        )
    return st


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to ``revision``; returns (before, after) revisions."""
    before = _refuse_unknown(engine).current
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
        refresh_tap_schema(conn)
        fill_obscore(conn)
    return before, state(engine).current


def refresh_tap_schema(conn: Connection) -> bool:
    """Rewrite TAP_SCHEMA from the models if the schema has it; True if it did."""
    from provdb.schema import tap_schema

    exists = conn.execute(sa.text("SELECT to_regclass('tap_schema.columns')")).scalar()
    if exists is None:
        return False
    tap_schema.refresh(conn)
    grant_reader(conn)
    return True


def fill_obscore(conn: Connection) -> int:
    """Fill an empty ``ivoa.obscore`` of an archive that has entities (the migration that
    creates it leaves it empty: the product rules live in provdb's code)."""
    exists = conn.execute(sa.text("SELECT to_regclass('ivoa.obscore')")).scalar()
    if exists is None:
        return 0
    empty = conn.execute(sa.text("SELECT NOT EXISTS (SELECT 1 FROM ivoa.obscore)")).scalar()
    some = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM provenance.entity)")).scalar()
    if not (empty and some):
        return 0
    from provdb.obscore import rebuild

    return rebuild(conn)


#: NOLOGIN role that TAP queries run as (created by migration 0004 where permitted).
READER_ROLE = "provdb_tap_reader"


def grant_reader(conn: Connection) -> bool:
    """Let the TAP reader role SELECT exactly the tables TAP_SCHEMA publishes."""
    exists = conn.execute(
        sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": READER_ROLE}
    ).scalar()
    if not exists:
        return False
    names = [r[0] for r in conn.execute(sa.text("SELECT table_name FROM tap_schema.tables"))]
    schemas = sorted({n.split(".", 1)[0] for n in names})
    conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {', '.join(schemas)} TO {READER_ROLE}"))
    for name in names:
        conn.execute(sa.text(f"GRANT SELECT ON {name} TO {READER_ROLE}"))
    return True


def downgrade(engine: Engine, revision: str = "-1") -> tuple[str | None, str | None]:
    """Revert migrations down to ``revision`` (``-1``: one step; ``base``: everything)."""
    before = _refuse_unknown(engine).current
    if before is None:
        return None, None
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)
    return before, state(engine).current


def current(engine: Engine) -> str | None:
    """The revision the database is at (``None``: no provdb schema yet)."""
    return state(engine).current


def server_version(engine: Engine) -> str:
    """PostgreSQL server version string, e.g. ``18.4``."""
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SHOW server_version")).scalar())
