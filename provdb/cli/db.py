"""The ``provdb db`` command group: create, migrate, inspect, back up the archive database.

Registered in :mod:`provdb.cli`; ``dump`` and ``restore`` come from :mod:`provdb.cli.backup`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from provdb import __version__
from provdb.cli import options
from provdb.cli.backup import dump_cmd, restore_cmd
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive

__all__ = ["db"]


@click.group(context_settings=CONTEXT_SETTINGS)
def db() -> None:
    """Create, migrate and inspect the archive database.

    \b
    Examples:
      provdb db upgrade              # create the schema or apply new migrations
      provdb db status               # server, location, version, migration
      provdb db status --json        # the same, machine-readable
      provdb db downgrade            # revert the last migration
      provdb db revision -m "add run notes" --autogenerate   # write a new migration
      provdb db dump backup.dump     # back the archive up (pg_dump custom format)
      provdb db restore backup.dump  # into a new, empty archive
      PROVDB_DATABASE_URL=postgresql+psycopg://me@dbhost/provdb provdb db upgrade
    """


@db.command("upgrade", context_settings=CONTEXT_SETTINGS)
@options.value("--revision", default="head", help="Target migration (default: newest).")
@handle_errors
def db_upgrade(revision: str) -> None:
    """Create the archive schema, or migrate it to the newest version.

    Running it again on an up-to-date database changes nothing.
    """
    from provdb import migrate

    database = open_archive()
    flags = None
    try:
        before, after = migrate.upgrade(database.engine, revision)
        if before and before < migrate.FLAGS_REVISION <= (after or ""):
            # migrations keep frozen SQL, the rules live in the code: an archive that
            # predates the flag table gets its flags computed here, once
            from provdb.answers.flags import rebuild_flags

            with database.engine.begin() as conn:
                flags = rebuild_flags(conn)
    finally:
        database.dispose()
    if before == after:
        click.echo(f"Database already at migration {after} ({database.kind}: {database.location}).")
    else:
        click.echo(
            f"Migrated {database.kind} database {database.location}: "
            f"{before or 'empty'} -> {after}."
        )
    if flags is not None:
        click.echo(f"Computed the product flags of the existing archive: {flags} flag(s).")


@db.command("downgrade", context_settings=CONTEXT_SETTINGS)
@options.value(
    "--revision",
    default="-1",
    help="Target migration: -1 (one step back), a revision id, or 'base' (drop everything).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation when going to 'base'.")
@handle_errors
def db_downgrade(revision: str, yes: bool) -> None:
    """Revert migrations. Going to 'base' drops every provdb table and its data."""
    from provdb import migrate

    if revision == "base" and not yes:
        click.confirm(
            "This drops every provdb table and all archived provenance. Go on?", abort=True
        )
    database = open_archive()
    try:
        before, after = migrate.downgrade(database.engine, revision)
    finally:
        database.dispose()
    if before is None:
        click.echo("Nothing to downgrade: the database has no provdb schema.")
    else:
        click.echo(f"Downgraded {database.location}: {before} -> {after or 'base (empty)'}.")


@db.command("status", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of text.")
@handle_errors
def db_status(as_json: bool) -> None:
    """Say which server provdb uses, where its data are, the migration state, and the
    server settings that shape ingest speed (shared_buffers, max_wal_size, how many
    checkpoints were timed or requested, with advice when most were requested).

    Exit status: 0 when the schema is at the newest migration, 1 when it needs
    `provdb db upgrade`, 2 on error.
    """
    from provdb import migrate

    database = open_archive()
    try:
        st = migrate.state(database.engine)
        info = {
            "server": database.kind,
            "location": database.location,
            "url": database.url.render_as_string(hide_password=True),
            "postgresql": migrate.server_version(database.engine),
            "shared_buffers": migrate.server_setting(database.engine, "shared_buffers"),
            "max_wal_size": migrate.server_setting(database.engine, "max_wal_size"),
            "checkpoints": migrate.checkpoint_counts(database.engine),
            "migration": st.current,
            "head": st.head,
            "up_to_date": st.up_to_date,
            "provdb": __version__,
        }
    finally:
        database.dispose()
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        width = max(len(k) for k in info)
        for key, value in info.items():
            if key == "checkpoints":
                value = f"{value['timed']} timed, {value['requested']} requested"
            click.echo(f"{key:<{width}}  {value}")
        if _checkpoints_crowd(info["checkpoints"]):
            click.echo(
                "Most checkpoints were requested, not timed: usually the WAL filled "
                "max_wal_size between them (or CHECKPOINT and base backups asked for "
                "them), and every page changed after a checkpoint is written whole into "
                "the WAL once more. If ingests are slow and the machine has the memory, "
                "raise shared_buffers and max_wal_size together ("
                + (
                    "PROVDB_EMBEDDED_SHARED_BUFFERS, PROVDB_EMBEDDED_MAX_WAL_SIZE"
                    if database.kind == "embedded"
                    else "the server's settings"
                )
                + "); a longer distance alone can make them slower"
                + " (docs/performance.md, 'The checkpoint distance and the shared buffers')."
            )
        if not st.up_to_date:
            click.echo("The schema is not at the newest migration: run `provdb db upgrade`.")
    if not st.up_to_date:
        sys.exit(1)


#: below this many checkpoints, their mix says nothing yet (a young or idle server)
_CHECKPOINTS_TO_JUDGE = 10


def _checkpoints_crowd(counts: dict[str, int]) -> bool:
    """True when most of the server's checkpoints were requested rather than timed:
    PostgreSQL's sign that ``max_wal_size`` is small for the writes it gets."""
    total = counts["timed"] + counts["requested"]
    return total >= _CHECKPOINTS_TO_JUDGE and counts["requested"] > counts["timed"]


@db.command("revision", context_settings=CONTEXT_SETTINGS)
@click.option("-m", "--message", required=True, help="What the migration changes (its name).")
@click.option(
    "--autogenerate",
    is_flag=True,
    help="Compare the models (provdb/schema) with the database and write the operations.",
)
@click.option(
    "--directory",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Migrations folder to write into (default: the checkout's migrations/).",
)
@handle_errors
def db_revision(message: str, autogenerate: bool, directory: Path | None) -> None:
    """Write a new migration script into migrations/versions, for a schema change.

    The script is named like the others (DATE_NUMBER_message.py, revision id the next
    number). With --autogenerate Alembic compares provdb/schema's models with the
    configured (or embedded) database, which must be at the newest migration: READ
    and edit the script, autogenerate cannot see renames and misses some changes.
    Then `provdb db upgrade` applies it; tests/provdb/test_migrations.py fails while
    models and migrations differ.

    \b
    Examples:
      provdb db upgrade && provdb db revision -m "add run notes" --autogenerate
      provdb db revision -m "backfill run notes"        # empty script, by hand
    """
    from provdb import migrate

    if not autogenerate:
        path = migrate.revision(message, directory=directory)
    else:
        database = open_archive()
        try:
            path = migrate.revision(message, engine=database.engine, directory=directory)
        finally:
            database.dispose()
    click.echo(f"Wrote {path}: read and edit it, then run `provdb db upgrade`.")


db.add_command(dump_cmd)
db.add_command(restore_cmd)
