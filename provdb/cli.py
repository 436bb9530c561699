"""The ``provdb`` command line: one click group, one function per subcommand.

Each command's docstring is its ``--help`` text, with examples. Errors that provdb
raises on purpose (:class:`provdb.errors.ProvdbError`) are printed as one line saying
what to do, and the command exits non-zero.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import click

from provdb import __version__
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive, write_output
from provdb.config import Settings


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
      provdb demo                             # the shipped samples, served on :8080
      provdb db upgrade                       # create or migrate the archive
      provdb ingest /data/20200117/prov.log   # load a night's provenance log
      provdb scan /data/DL2 --jobs 2          # record HDF5/FITS products and versions
      provdb serve                            # TAP + ProvSAP + browser UI on :8080
      provdb lineage /data/DL1/20200117/dl1_LST-1.Run01807.0002.h5 --depth all
      provdb db status                        # which server, where, which migration
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
      provdb db revision -m "add run notes" --autogenerate   # write a new migration
      provdb db dump backup.dump     # back the archive up (pg_dump custom format)
      provdb db restore backup.dump  # into a new, empty archive
      PROVDB_DATABASE_URL=postgresql+psycopg://me@dbhost/provdb provdb db upgrade
    """


#: The migration that adds archive.product_flag (filled by ``db upgrade`` for older archives).
FLAGS_REVISION = "0007"


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

    database = open_archive()
    flags = None
    try:
        before, after = migrate.upgrade(database.engine, revision)
        if before and before < FLAGS_REVISION <= (after or ""):
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
    """Say which server provdb uses, where its data are, and the migration state.

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
@click.option(
    "--follow",
    is_flag=True,
    help="Keep running: poll the paths for new and grown logs (lstosa's prov.log during "
    "the night) until SIGTERM or Ctrl-C.",
)
@click.option(
    "--interval",
    type=float,
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="With --follow: seconds between two polls.",
)
@click.option(
    "--verbose", "-v", is_flag=True, help="List the skipped files of the folders, one per line."
)
@handle_errors
def ingest(
    paths: tuple[str, ...],
    fmt: str,
    model: str | None,
    timezone: str,
    strict: bool,
    dry_run: bool,
    quiet: bool,
    follow: bool,
    interval: float,
    verbose: bool,
) -> None:
    """Ingest provenance logs into the archive.

    PATHS are files, directories (searched recursively) or glob patterns; .gz, .bz2 and
    .xz files are read transparently. Each file is one transaction: a file either goes
    in whole or not at all. Ingesting a file again adds nothing; a prov.log that grew
    since the last ingest is read on from where it stopped.

    Rejected lines are printed as FILE:LINE: reason and kept verbatim in the table
    archive.ingest_reject (lines of an lstosa log that are neither provenance nor a
    '<LEVEL> ...' diagnostic are rejected too). The summary says where a grown log was
    read on from, why a changed one was read again, what torn tail was left, how many
    values conflicted with the archive (the first sighting is kept; the other values are
    in archive.ingest_conflict), and which files of the folders were skipped, by reason.

    With --follow it keeps running (live nights): every --interval seconds it ingests
    the files whose size, mtime or inode changed and new logs in the given folders, one
    transaction per file; a rotated or truncated log is read again from the start; a
    database restart is waited out (one line, retried every 1-30 s) and the ingest
    resumes from the committed offset. SIGTERM or Ctrl-C lets the file in progress
    commit, prints a summary line and exits 0 (a second signal rolls that file back).
    A line per round that did work; -q prints errors and the final line only.

    \b
    Exit status: 0 all clean; 1 some lines rejected (the rest ingested);
                 2 a file or the command failed (nothing of that file kept).

    \b
    Examples:
      provdb ingest /fefs/.../running_analysis/20200117/v0.1.0/prov.log
      provdb ingest --model definition.yaml --timezone UTC logs/
      provdb ingest 'logs/**/*.provenance.log' --format ctapipe
      provdb ingest night.prov.log.gz --dry-run
      provdb ingest --follow /fefs/.../running_analysis/20200117/v0.1.0/
      provdb ingest --follow --interval 5 -q '/data/lst/running_analysis/*/v0.1.0/prov.log'
      provdb ingest -v /data/20200117/       # also list the skipped files
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
        follow=follow,
        interval=interval,
        verbose=verbose,
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

    Settings are environment variables, checked at start (a bad value stops serve with
    one line naming it). `provdb settings` lists every one with its current value; the
    service's are below [default]. PROMETHEUS_MULTIPROC_DIR is where the workers share
    their metrics (default: a temporary folder).
    """
    import os

    from provdb import migrate
    from provdb import settings as registry
    from provdb.db import connect
    from provdb.errors import DatabaseError

    if base_url:
        os.environ["PROVDB_TAP_BASE_URL"] = base_url
    # the workers trust Host headers naming the bound host (PROVDB_TAP_ALLOWED_HOSTS)
    os.environ["PROVDB_TAP_BIND_HOST"] = host
    registry.check()  # every bad value at once (--base-url too), before anything starts
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

    shown = f"[{host}]" if ":" in host else host
    tap_url = (base_url or f"http://{shown}:{port}/tap").rstrip("/")
    site = tap_url[: -len("/tap")] if tap_url.endswith("/tap") else f"http://{shown}:{port}"
    click.echo(
        f"provdb TAP service: {tap_url} ({database.kind} database {database.location})\n"
        f"provdb browser UI:  {site}/ui/",
        err=True,
    )
    run_gunicorn(host=host, port=port, workers=workers, threads=threads)


def _serve_help() -> str:
    from provdb.settings.render import help_block

    groups = ("database", "service", "limits", "security", "metadata", "push", "lineage", "ui")
    return help_block(groups)


# the settings listing comes from the registry: one declaration, never out of date
serve.help = inspect.cleandoc(serve.help or "") + "\n" + _serve_help()


# ----------------------------------------------------------------------------- lineage

_GRAPH_FORMATS = ["prov-json", "prov-n", "prov-xml", "prov-votable", "dot", "svg"]

# options `lineage` and `export` share
_PROV_MODEL_OPTION = click.option(
    "--model",
    type=click.Choice(["ivoa", "w3c"], case_sensitive=False),
    default="ivoa",
    show_default=True,
    help="prov-json/prov-n/prov-xml: IVOA ProvDM flavour or plain W3C PROV.",
)
_URL_PATTERN_OPTION = click.option(
    "--url-pattern",
    default="/ui/{kind}/{id}",
    show_default=True,
    help="svg/dot: link of each node ({kind}: entity, activity, agent; {id}: the id).",
)
_OUTPUT_OPTION = click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE."
)


@cli.command("lineage", context_settings=CONTEXT_SETTINGS)
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@click.option(
    "--depth",
    default="1",
    show_default=True,
    help="Relations to follow from ID: a number (0, 1, 2...) or 'all'.",
)
@click.option(
    "--direction",
    type=click.Choice(["back", "forth"], case_sensitive=False),
    default="back",
    show_default=True,
    help="back: towards the inputs (progenitors); forth: towards the products.",
)
@click.option("--agent", is_flag=True, help="Also walk through agents.")
@click.option("--members", is_flag=True, help="Also walk from collections to their members.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tree", *_GRAPH_FORMATS], case_sensitive=False),
    default="tree",
    show_default=True,
    help="tree: a readable tree; or a ProvSAP serialisation.",
)
@_PROV_MODEL_OPTION
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=1000,
    show_default=True,
    help="Most nodes returned; a larger graph is cut and says so.",
)
@_URL_PATTERN_OPTION
@_OUTPUT_OPTION
@handle_errors
def lineage_cmd(
    ids: tuple[str, ...],
    depth: str,
    direction: str,
    agent: bool,
    members: bool,
    fmt: str,
    model: str,
    limit: int,
    url_pattern: str,
    output: str | None,
) -> None:
    """Show the lineage of entities, activities or agents (what ProvSAP returns).

    ID is an entity id (lstosa: md5 of the path), a file path (an entity's location),
    an activity id ('<id>@<start time>') or an agent name. The walk follows one
    relation per DEPTH step: from a file, depth 1 reaches the activity that generated
    it, depth 2 the files that activity used, and so on.

    \b
    Examples:
      provdb lineage /fefs/.../dl1_LST-1.Run01807.0002.h5 --depth all
      provdb lineage 77a0bcb3a8004a4d7011f787e0bf0462 --depth 2
      provdb lineage .../drs4_pedestal.Run01804.0000.h5 --direction forth --depth all
      provdb lineage ID --depth all --format prov-json -o lineage.json
      provdb lineage ID --depth all --format svg -o lineage.svg
    """
    from provdb.errors import ProvdbError as _Error
    from provdb.lineage.export import serialize
    from provdb.lineage.traverse import UnknownNode, lineage

    if depth.strip().lower() == "all":
        steps = None
    else:
        try:
            steps = int(depth)
        except ValueError:
            raise click.BadParameter("a number or 'all'", param_hint="--depth") from None
        if steps < 0:
            raise click.BadParameter("must be >= 0 or 'all'", param_hint="--depth")
    database = open_archive()
    try:
        with database.engine.connect() as conn:
            graph = lineage(
                conn,
                list(ids),
                depth=steps,
                direction=direction.upper(),
                agent=agent,
                members=members,
                limit=limit,
            )
    except UnknownNode as exc:
        raise _Error(str(exc)) from None
    finally:
        database.dispose()
    fmt = fmt.lower()
    if fmt == "tree":
        from rich.console import Console

        from provdb.lineage.graph import rich_tree

        if output:
            with open(output, "w", encoding="utf-8") as fh:
                Console(file=fh, width=200, no_color=True).print(rich_tree(graph))
            click.echo(f"wrote the tree of {len(graph.nodes)} nodes to {output}", err=True)
        else:
            console = Console()
            if not console.is_terminal:
                console = Console(width=200)
            console.print(rich_tree(graph))
        if graph.truncated:
            click.echo(f"note: truncated at {limit} nodes (--limit)", err=True)
        return
    body = serialize(graph, fmt, model=model.upper(), url_pattern=url_pattern)
    write_output(body, output)
    if graph.truncated:
        click.echo(f"note: truncated at {limit} nodes (--limit)", err=True)


@cli.command("export", context_settings=CONTEXT_SETTINGS)
@click.option("--run", "run", required=True, help="Run number, e.g. 01807.")
@click.option("--night", help="Observation night YYYYMMDD (needed if the run has several).")
@click.option(
    "--step",
    type=click.Choice(["calibration", "r0_to_dl1", "dl1_to_dl2", "all"]),
    default="all",
    show_default=True,
    help="Step group of the run.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(_GRAPH_FORMATS, case_sensitive=False),
    default="prov-json",
    show_default=True,
    help="Serialisation (prov-json and svg are what lstosa's provprocess wrote).",
)
@_PROV_MODEL_OPTION
@_URL_PATTERN_OPTION
@_OUTPUT_OPTION
@handle_errors
def export_cmd(
    run: str,
    night: str | None,
    step: str,
    fmt: str,
    model: str,
    url_pattern: str,
    output: str | None,
) -> None:
    """Export the run-wise provenance of one run, as lstosa's provprocess did.

    The document holds every activity of the run step (provdb's stable activity ids,
    one per subrun activity, not provprocess's random run-level ids), the files they
    used, generated or derived from, their agents, parameters, configuration files and
    session context. Exporting the same run twice gives the same bytes.

    \b
    Examples:
      provdb export --run 01807 --step r0_to_dl1 --format prov-json -o r0_to_dl1_01807_prov.json
      provdb export --run 01807 --night 20200117 --format svg -o calibration_to_dl1_01807.svg
      provdb export --run 1807 --format prov-n
    """
    from provdb.errors import ProvdbError as _Error
    from provdb.lineage.export import RunNotFound, run_graph, serialize

    database = open_archive()
    try:
        with database.engine.connect() as conn:
            graph = run_graph(conn, run, night=night, step=step)
    except (RunNotFound, ValueError) as exc:
        raise _Error(str(exc)) from None
    finally:
        database.dispose()
    write_output(
        serialize(graph, fmt.lower(), model=model.upper(), url_pattern=url_pattern), output
    )


# ----------------------------------------------------------------------------- scan


@cli.command("scan", context_settings=CONTEXT_SETTINGS)
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--hash",
    "hash_name",
    type=click.Choice(["md5", "sha256", "none"]),
    default="none",
    show_default=True,
    help="Record a checksum of each file's content (reads every byte).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Processes reading metadata in parallel.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
@handle_errors
def scan(paths: tuple[str, ...], hash_name: str, jobs: int, quiet: bool) -> None:
    """Record data files (HDF5, FITS) with the software versions written in them.

    PATHS are files, directories (searched recursively) or glob patterns. HDF5 files
    (h5py) and FITS files (astropy, .fits.gz too) are read without loading their data:
    root and table attributes (LSTCHAIN_VERSION, CTAPIPE_VERSION, ...), the `config`
    attribute (JSON, a pickled dict decoded without unpickling, or Python text), the
    /provenance/dl1_to_dl2 activity, FITS headers and HISTORY. Each file becomes an
    entity with the id lstosa gives it (md5 of the path), so a scanned file and the
    same file in a prov.log are one entity; its versions go to archive.software.

    Files whose size and mtime did not change since their last scan are skipped.
    Unreadable, corrupt or truncated files are reported as FILE: reason and skipped.

    \b
    Exit status: 0 all clean; 1 some files could not be read (the rest was recorded);
                 2 the command failed (or a PATH does not exist).

    \b
    Examples:
      provdb scan /fefs/aswg/data/real/DL1/20200117/v0.9/tailcut84
      provdb scan --jobs 4 --hash sha256 'DL2/**/*.h5'
      provdb scan -q dl2_LST-1.Run01807.0000.h5 irf.fits.gz
    """
    from provdb.scan.scan_cli import run_scan

    code = run_scan(
        Settings.from_env(),
        list(paths),
        hash_name=None if hash_name == "none" else hash_name,
        jobs=jobs,
        quiet=quiet,
    )
    sys.exit(code)


# The provenance answers' commands live in provdb/answers/ (imported after ``cli`` exists:
# their modules do not import this one)
from provdb.answers.check_cli import check  # noqa: E402
from provdb.answers.recipe_cli import diff_cmd, reproduce_cmd  # noqa: E402
from provdb.answers.stats_cli import stats as stats_cmd  # noqa: E402
from provdb.demo_cli import demo  # noqa: E402
from provdb.obscore.obscore_cli import obscore_cmd  # noqa: E402
from provdb.push.push_cli import push, token  # noqa: E402
from provdb.settings.settings_cli import settings_cmd  # noqa: E402
from provdb.versions_cli import versions  # noqa: E402

for _command in (
    reproduce_cmd,
    diff_cmd,
    check,
    stats_cmd,
    demo,
    token,
    push,
    versions,
    obscore_cmd,
    settings_cmd,
):
    cli.add_command(_command)

from provdb.backup_cli import dump_cmd, restore_cmd  # noqa: E402

db.add_command(dump_cmd)
db.add_command(restore_cmd)


def main() -> None:
    """Entry point of the ``provdb`` console script."""
    cli(prog_name="provdb")


if __name__ == "__main__":  # pragma: no cover
    main()
