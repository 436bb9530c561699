"""``provdb ingest``: provenance logs into the archive.

The work is done by :func:`provdb.ingest.ingest_cli.run_ingest` (progress, summary, exit
status) and :mod:`provdb.ingest.pipeline`; this module is the command's options and help.
"""

from __future__ import annotations

import sys

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors
from provdb.config import Settings

__all__ = ["ingest"]


@click.command("ingest", context_settings=CONTEXT_SETTINGS)
@click.argument("paths", nargs=-1, required=True)
@options.formats(
    *options.INGEST_FORMATS, help="Format of the files; 'auto' detects it from each file's content."
)
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False),
    help="lstosa definition.yaml whose activity/entity/usage/generation descriptions are "
    "loaded and linked to the ingested records.",
)
@options.value(
    "--timezone",
    default="UTC",
    help="IANA time zone of lstosa's naive local times (stored as UTC; the original text is kept).",
)
@click.option("--strict", is_flag=True, help="Refuse a whole file if any line is rejected.")
@click.option("--dry-run", is_flag=True, help="Parse and report, write nothing.")
@options.quiet("No progress bar and no summary table.")
@click.option(
    "--follow",
    is_flag=True,
    help="Keep running: poll the paths for new and grown logs (lstosa's prov.log during "
    "the night) until SIGTERM or Ctrl-C.",
)
@options.value(
    "--interval",
    type=float,
    default=2.0,
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
