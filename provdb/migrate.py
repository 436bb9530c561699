"""Schema migrations: Alembic driven from Python, the only way the schema is created.

``provdb db upgrade`` / ``downgrade`` / ``status`` call these functions. The migration
scripts live in the repository's top-level ``migrations/`` folder (shipped inside the
wheel as ``provdb/_migrations``).
"""

from __future__ import annotations

import io
from argparse import Namespace
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
    "FILE_TEMPLATE",
    "FLAGS_REVISION",
    "MigrationState",
    "alembic_config",
    "current",
    "downgrade",
    "migrations_dir",
    "next_revision_id",
    "revision",
    "state",
    "upgrade",
]

#: the project's script names, e.g. ``20261203_0007_product_flags_and_entity_hashes.py``
#: (the same template is in pyproject.toml's [tool.alembic] for the plain alembic command)
FILE_TEMPLATE = "%(year)d%(month).2d%(day).2d_%(rev)s_%(slug)s"

#: The migration that adds archive.product_flag: `provdb db upgrade` (and `provdb demo`)
#: compute the flags of an archive that predates it, once (the rules live in the code).
FLAGS_REVISION = "0007"


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


def alembic_config(
    connection: Connection | None = None,
    *,
    directory: Path | None = None,
    metadata: sa.MetaData | None = None,
) -> Config:
    """An Alembic :class:`Config` sharing ``connection`` with ``migrations/env.py``.

    ``directory`` is another migrations folder (a copy; default: provdb's own) and
    ``metadata`` other models to compare with (default: provdb.schema's).
    """
    # quiet: provdb says what happened in its own words
    cfg = Config(stdout=io.StringIO(), cmd_opts=Namespace(quiet=True))
    cfg.set_main_option("script_location", str(directory or migrations_dir()))
    # ConfigParser interpolation: the template's % signs are doubled
    cfg.set_main_option("file_template", FILE_TEMPLATE.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    if metadata is not None:
        cfg.attributes["target_metadata"] = metadata
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


def state(engine: Engine, directory: Path | None = None) -> MigrationState:
    """Current migration state of the database behind ``engine``.

    ``directory``: another migrations folder, as for :func:`alembic_config`.
    """
    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    script = ScriptDirectory.from_config(alembic_config(directory=directory))
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


def next_revision_id(directory: Path | None = None) -> str:
    """The next revision id in the project's numbering: the highest number plus one, 4 digits."""
    script = ScriptDirectory.from_config(alembic_config(directory=directory))
    numbers = [int(rev.revision) for rev in script.walk_revisions() if rev.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def revision(
    message: str,
    *,
    engine: Engine | None = None,
    directory: Path | None = None,
    metadata: sa.MetaData | None = None,
) -> Path:
    """Write a new migration script; returns its path.

    With ``engine`` the script is autogenerated: Alembic compares the models
    (``metadata``, default provdb.schema's) with that database, which must be at the
    newest migration. Without it the script is empty, to be written by hand. The
    revision id is :func:`next_revision_id`, the file name follows :data:`FILE_TEMPLATE`.
    """
    message = message.strip()
    if not message:
        raise ConfigError("a migration needs a message: provdb db revision -m 'what changed'")
    folder = directory or migrations_dir()
    if folder.name != "migrations" and directory is None:
        raise ConfigError(
            f"provdb's migrations are installed in {folder}, not in a source checkout: "
            "write new migrations in a checkout (pip install -e .) or pass --directory"
        )
    rev_id = next_revision_id(folder)
    if engine is None:
        script = command.revision(alembic_config(directory=folder), message, rev_id=rev_id)
    else:
        st = state(engine, folder)
        if not st.up_to_date:
            raise DatabaseError(
                f"the database is at migration {st.current or 'empty'}, not at the newest "
                f"({st.head}): run `provdb db upgrade` before autogenerating a migration"
            )
        with engine.connect() as conn:
            cfg = alembic_config(conn, directory=folder, metadata=metadata)
            script = command.revision(cfg, message, autogenerate=True, rev_id=rev_id)
    if script is None or isinstance(script, list):  # only with several heads or branches
        raise DatabaseError(f"Alembic wrote no single script in {folder}: check `alembic heads`")
    return Path(script.path)


def current(engine: Engine) -> str | None:
    """The revision the database is at (``None``: no provdb schema yet)."""
    return state(engine).current


def server_setting(engine: Engine, name: str) -> str:
    """A server setting as PostgreSQL shows it, e.g. ``4GB`` for ``shared_buffers``."""
    with engine.connect() as conn:
        return str(conn.execute(sa.text("SELECT current_setting(:n)"), {"n": name}).scalar())


def checkpoint_counts(engine: Engine) -> dict[str, int]:
    """Checkpoints the server made since its statistics were reset: ``{"timed": ...,
    "requested": ...}``. Requested ones are those the WAL forced (``max_wal_size`` reached)
    or that a command asked for (``CHECKPOINT``, a base backup); PostgreSQL 17 moved the
    counters from ``pg_stat_bgwriter`` to ``pg_stat_checkpointer``."""
    with engine.connect() as conn:
        newer = conn.execute(sa.text("SELECT to_regclass('pg_catalog.pg_stat_checkpointer')"))
        sql = (
            "SELECT num_timed, num_requested FROM pg_stat_checkpointer"
            if newer.scalar() is not None
            else "SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter"
        )
        timed, requested = conn.execute(sa.text(sql)).one()
    return {"timed": int(timed), "requested": int(requested)}


def server_version(engine: Engine) -> str:
    """PostgreSQL server version string, e.g. ``18.4``."""
    return server_setting(engine, "server_version")
