"""``provdb db dump`` and ``provdb db restore``: the command-line face of :mod:`provdb.backup`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive

__all__ = ["dump_cmd", "restore_cmd"]

R = TypeVar("R")


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    """A progress callback writing one updating line on a terminal's stderr."""
    if quiet or not sys.stderr.isatty():
        return None

    def show(done: int, total: int, table: str) -> None:
        click.echo(f"\r\033[K  table {done}/{total}: {table}", nl=False, err=True)

    return show


def _on_archive(
    quiet: bool,
    announce: Callable[[Any], str],
    work: Callable[[Any, Callable[[int, int, str], None] | None], R],
) -> R:
    """Run ``work(database, progress)`` on the archive, said first (``announce``) and
    with its progress line cleared after, unless ``quiet``; the archive is closed."""
    database = open_archive()
    try:
        if not quiet:
            click.echo(announce(database), err=True)
        result = work(database, _progress(quiet))
    finally:
        database.dispose()
    if not quiet and sys.stderr.isatty():
        click.echo("\r\033[K", nl=False, err=True)
    return result


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


@click.command("dump", context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@options.quiet("No progress and no summary line.")
@handle_errors
def dump_cmd(file: Path, force: bool, quiet: bool) -> None:
    """Back the archive up into FILE (pg_dump custom format, compressed).

    Works for the embedded server (with its own pg_dump) and for an external one
    (pg_dump from PATH, at least the server's major version; PROVDB_PG_BIN names
    another bin folder). The dump is written to FILE.partial and renamed when
    complete. The TAP service's async job rows are not kept (their result files are not).

    \b
    Examples:
      provdb db dump /backup/provdb-$(date +%F).dump
      PROVDB_HOME=/data/provdb provdb db dump nightly.dump --force
      PROVDB_DATABASE_URL=postgresql+psycopg://me@dbhost/provdb provdb db dump provdb.dump
    """
    from provdb import backup

    result = _on_archive(
        quiet,
        lambda database: f"Dumping the {database.kind} archive {database.location} ...",
        lambda database, progress: backup.dump(database, file, force=force, progress=progress),
    )
    if not quiet:
        click.echo(
            f"Dumped {result.counts.describe()} to {result.path} "
            f"({_size(result.size)}, {result.seconds:.1f} s, pg_dump {result.tool.version})."
        )


@click.command("restore", context_settings=CONTEXT_SETTINGS)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--clean",
    is_flag=True,
    help="Replace the contents of an archive that is not empty (default: refuse).",
)
@options.quiet("No progress and no summary line.")
@handle_errors
def restore_cmd(file: Path, clean: bool, quiet: bool) -> None:
    """Restore a `provdb db dump` FILE into the archive.

    The target should be a new, empty archive (another PROVDB_HOME, or a new database
    in PROVDB_DATABASE_URL); one that holds a provdb schema is refused unless --clean.
    The restore is one transaction: if it fails, the archive is as it was.
    If the dump is older than this provdb, run `provdb db upgrade` afterwards.

    \b
    Examples:
      PROVDB_HOME=/data/provdb-restored provdb db restore /backup/provdb-2026-12-01.dump
      PROVDB_DATABASE_URL=postgresql+psycopg://me@dbhost/provdb_new provdb db restore provdb.dump
      provdb db restore --clean provdb.dump     # replace the current archive's contents
    """
    from provdb import backup

    result = _on_archive(
        quiet,
        lambda database: (
            f"Restoring {file} into the {database.kind} archive {database.location} ..."
        ),
        lambda database, progress: backup.restore(database, file, clean=clean, progress=progress),
    )
    if not quiet:
        click.echo(
            f"Restored {result.counts.describe()} from {result.path} "
            f"({result.seconds:.1f} s, pg_restore {result.tool.version})."
        )
        if result.counts.migration != result.head:
            click.echo(
                f"The dump is at migration {result.counts.migration}, this provdb at "
                f"{result.head}: run `provdb db upgrade`."
            )
