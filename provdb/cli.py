"""The ``provdb`` command line: one click group, one function per subcommand.

Each command's docstring is its ``--help`` text, with examples. Errors that provdb
raises on purpose (:class:`provdb.errors.ProvdbError`) are printed as one line saying
what to do, and the command exits non-zero.
"""

from __future__ import annotations

import inspect
import sys

import click

from provdb import __version__
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors
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

    groups = (
        "database",
        "service",
        "limits",
        "security",
        "metadata",
        "replicas",
        "push",
        "lineage",
        "ui",
    )
    return help_block(groups)


# the settings listing comes from the registry: one declaration, never out of date
serve.help = inspect.cleandoc(serve.help or "") + "\n" + _serve_help()


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
@click.option(
    "--rescan",
    is_flag=True,
    help="Read files again even if unchanged since their last scan (counted as changed).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
@handle_errors
def scan(paths: tuple[str, ...], hash_name: str, jobs: int, rescan: bool, quiet: bool) -> None:
    """Record data files (HDF5, FITS) with the software versions written in them.

    PATHS are files, directories (searched recursively) or glob patterns. HDF5 files
    (h5py) and FITS files (astropy, .fits.gz too) are read without loading their data:
    root and table attributes (LSTCHAIN_VERSION, CTAPIPE_VERSION, ...), the `config`
    attribute (JSON, a pickled dict decoded without unpickling, or Python text), the
    /provenance/dl1_to_dl2 activity, FITS headers and HISTORY. Each file becomes an
    entity with the id lstosa gives it (md5 of the path), so a scanned file and the
    same file in a prov.log are one entity; its versions go to archive.software.

    Files whose size and mtime did not change since their last scan are skipped
    (--rescan reads them again: after a provdb upgrade that reads more from files,
    such as the time range of DL1/DL2 files for ivoa.obscore).
    Unreadable, corrupt or truncated files are reported as FILE: reason and skipped.

    \b
    Exit status: 0 all clean; 1 some files could not be read (the rest was recorded);
                 2 the command failed (or a PATH does not exist).

    \b
    Examples:
      provdb scan /fefs/aswg/data/real/DL1/20200117/v0.9/tailcut84
      provdb scan --jobs 4 --hash sha256 'DL2/**/*.h5'
      provdb scan -q dl2_LST-1.Run01807.0000.h5 irf.fits.gz
      provdb scan --rescan /fefs/aswg/data/real/DL2/20200117
    """
    from provdb.scan.scan_cli import run_scan

    code = run_scan(
        Settings.from_env(),
        list(paths),
        hash_name=None if hash_name == "none" else hash_name,
        jobs=jobs,
        quiet=quiet,
        rescan=rescan,
    )
    sys.exit(code)


# The other commands live in their own modules (imported after ``cli`` exists: they do not
# import this one): db, lineage/export, the provenance answers (provdb/answers/), ...
from provdb.answers.check_cli import check  # noqa: E402
from provdb.answers.recipe_cli import diff_cmd, reproduce_cmd  # noqa: E402
from provdb.answers.stats_cli import stats as stats_cmd  # noqa: E402
from provdb.db_cli import db  # noqa: E402
from provdb.demo_cli import demo  # noqa: E402
from provdb.lineage.lineage_cli import export_cmd, lineage_cmd  # noqa: E402
from provdb.obscore.obscore_cli import obscore_cmd  # noqa: E402
from provdb.push.push_cli import push, token  # noqa: E402
from provdb.settings.settings_cli import settings_cmd  # noqa: E402
from provdb.versions_cli import versions  # noqa: E402

for _command in (
    db,
    lineage_cmd,
    export_cmd,
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


def main() -> None:
    """Entry point of the ``provdb`` console script."""
    cli(prog_name="provdb")


if __name__ == "__main__":  # pragma: no cover
    main()
