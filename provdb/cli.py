"""The ``provdb`` command line: one click group, one function per subcommand.

Each command's docstring is its ``--help`` text, with examples. Errors that provdb
raises on purpose (:class:`provdb.errors.ProvdbError`) are printed as one line saying
what to do, and the command exits non-zero.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from provdb import __version__
from provdb.config import Settings
from provdb.errors import ProvdbError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"provdb: error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn ProvdbError into a one-line message and a non-zero exit status."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ProvdbError as exc:
            _fail(str(exc), exc.exit_code)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="provdb")
def cli() -> None:
    """provdb: an IVOA Provenance archive for astronomy pipelines.

    \b
    provdb reads provenance logs (lstosa prov.log, ctapipe provenance JSON,
    W3C PROV documents) into an IVOA Provenance DM archive in PostgreSQL.

    \b
    Database: with no PROVDB_DATABASE_URL set, provdb runs an embedded PostgreSQL
    with its data in PROVDB_HOME (default: ~/.local/share/provdb). Set
    PROVDB_DATABASE_URL=postgresql+psycopg://user@host/db to use your own server.

    \b
    Examples:
      provdb db upgrade            # create or migrate the archive
      provdb db status             # which server, where, which migration
    """


# ----------------------------------------------------------------------------- db


@cli.group(context_settings=CONTEXT_SETTINGS)
def db() -> None:
    """Create, migrate and inspect the archive database.

    \b
    Examples:
      provdb db upgrade              # create the schema or apply new migrations
      provdb db status               # server, location, version, migration
      provdb db status --json        # the same, machine-readable
      provdb db downgrade            # revert the last migration
      PROVDB_DATABASE_URL=postgresql+psycopg://me@dbhost/provdb provdb db upgrade
    """


def _open() -> Any:
    from provdb.db import connect

    return connect(Settings.from_env())


@db.command("upgrade", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--revision", default="head", show_default=True, help="Target migration (default: newest)."
)
@handle_errors
def db_upgrade(revision: str) -> None:
    """Create the archive schema, or migrate it to the newest version.

    Running it again on an up-to-date database changes nothing.
    """
    from provdb import migrate

    database = _open()
    try:
        before, after = migrate.upgrade(database.engine, revision)
    finally:
        database.dispose()
    if before == after:
        click.echo(f"Database already at migration {after} ({database.kind}: {database.location}).")
    else:
        click.echo(
            f"Migrated {database.kind} database {database.location}: "
            f"{before or 'empty'} -> {after}."
        )


@db.command("downgrade", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--revision",
    default="-1",
    show_default=True,
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
    database = _open()
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
    """Say which server provdb uses, where its data are, and the migration state.

    Exit status: 0 when the schema is at the newest migration, 1 when it needs
    `provdb db upgrade`, 2 on error.
    """
    from provdb import migrate

    database = _open()
    try:
        st = migrate.state(database.engine)
        info = {
            "server": database.kind,
            "location": database.location,
            "url": database.url.render_as_string(hide_password=True),
            "postgresql": migrate.server_version(database.engine),
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
            click.echo(f"{key:<{width}}  {value}")
        if not st.up_to_date:
            click.echo("The schema is not at the newest migration: run `provdb db upgrade`.")
    if not st.up_to_date:
        sys.exit(1)


# ----------------------------------------------------------------------------- ingest


@cli.command("ingest", context_settings=CONTEXT_SETTINGS)
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "lstosa", "ctapipe", "prov-json", "prov-xml", "prov-n"]),
    default="auto",
    show_default=True,
    help="Format of the files; 'auto' detects it from each file's content.",
)
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False),
    help="lstosa definition.yaml whose activity/entity/usage/generation descriptions are "
    "loaded and linked to the ingested records.",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="IANA time zone of lstosa's naive local times (stored as UTC; the original text is kept).",
)
@click.option("--strict", is_flag=True, help="Refuse a whole file if any line is rejected.")
@click.option("--dry-run", is_flag=True, help="Parse and report, write nothing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
@handle_errors
def ingest(
    paths: tuple[str, ...],
    fmt: str,
    model: str | None,
    timezone: str,
    strict: bool,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Ingest provenance logs into the archive.

    PATHS are files, directories (searched recursively) or glob patterns; .gz, .bz2 and
    .xz files are read transparently. Each file is one transaction: a file either goes
    in whole or not at all. Ingesting a file again adds nothing; a prov.log that grew
    since the last ingest is read on from where it stopped.

    Rejected lines are printed as FILE:LINE: reason and kept verbatim in the table
    archive.ingest_reject.

    \b
    Exit status: 0 all clean; 1 some lines rejected (the rest ingested);
                 2 a file or the command failed (nothing of that file kept).

    \b
    Examples:
      provdb ingest /fefs/.../running_analysis/20200117/v0.1.0/prov.log
      provdb ingest --model definition.yaml --timezone UTC logs/
      provdb ingest 'logs/**/*.provenance.log' --format ctapipe
      provdb ingest night.prov.log.gz --dry-run
    """
    from provdb.ingest.ingest_cli import run_ingest

    code = run_ingest(
        Settings.from_env(),
        list(paths),
        fmt=None if fmt == "auto" else fmt,
        model_path=model,
        timezone=timezone,
        strict=strict,
        dry_run=dry_run,
        quiet=quiet,
    )
    sys.exit(code)


# ----------------------------------------------------------------------------- serve


@cli.command("serve", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 for every interface).",
)
@click.option("--port", default=8080, show_default=True, type=int, help="TCP port.")
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (each also runs async TAP jobs).",
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Threads per process (concurrent requests, streaming results).",
)
@click.option(
    "--base-url",
    envvar="PROVDB_TAP_BASE_URL",
    help="Public TAP base URL if the service sits behind a proxy "
    "(default: from each request's Host header).",
)
@handle_errors
def serve(host: str, port: int, workers: int, threads: int, base_url: str | None) -> None:
    """Serve the archive over TAP 1.1 / ADQL 2.1 (ProvTAP) with gunicorn.

    The TAP base URL is http://HOST:PORT/tap: give it to TOPCAT, pyvo or STILTS.

    \b
    Examples:
      provdb serve                                  # http://127.0.0.1:8080/tap
      provdb serve --host 0.0.0.0 --port 8000 --workers 4
      stilts taplint tapurl=http://127.0.0.1:8080/tap
      python -c "import pyvo; print(pyvo.dal.TAPService('http://127.0.0.1:8080/tap')
                 .run_sync('SELECT TOP 5 * FROM provenance.activity').to_table())"
    """
    import os

    from provdb import migrate
    from provdb.db import connect
    from provdb.errors import DatabaseError

    if base_url:
        os.environ["PROVDB_TAP_BASE_URL"] = base_url
    settings = Settings.from_env()
    # The master process opens the database first: it starts the embedded server (which
    # then outlives worker restarts) and refuses to serve a schema that is not current.
    database = connect(settings)
    state = migrate.state(database.engine)
    if not state.up_to_date:
        raise DatabaseError(
            f"the archive schema is at migration {state.current or 'none'}, not "
            f"{state.head}: run `provdb db upgrade` first"
        )
    from provdb.serve import run_gunicorn

    click.echo(
        f"provdb TAP service: http://{host}:{port}/tap "
        f"({database.kind} database {database.location})",
        err=True,
    )
    run_gunicorn(host=host, port=port, workers=workers, threads=threads)


def main() -> None:
    """Entry point of the ``provdb`` console script."""
    cli(prog_name="provdb")


if __name__ == "__main__":  # pragma: no cover
    main()
