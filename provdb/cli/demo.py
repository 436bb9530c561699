"""``provdb demo``: the shipped samples in an archive, served over TAP and in the browser."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive

if TYPE_CHECKING:
    from provdb.demo import DemoReport

__all__ = ["demo"]


@click.command("demo", context_settings=CONTEXT_SETTINGS)
@options.listen
@click.option("--no-serve", is_flag=True, help="Load the samples and stop; do not serve.")
@handle_errors
def demo(host: str, port: int, no_serve: bool) -> None:
    """Load provdb's sample files into the archive and serve it: a working demo.

    Creates or migrates the archive (the embedded PostgreSQL, or PROVDB_DATABASE_URL),
    ingests the samples that ship with provdb (an lstosa night's prov.log and a
    log of 30 parallel processes, lstosa's run-wise logs and PROV-JSON, ctapipe
    provenance logs, voprov documents) with lstosa's definition.yaml as the model,
    records the sample HDF5 products as `provdb scan` does, prints what the archive
    holds, then serves TAP, ProvSAP and the browser UI as `provdb serve` does (stop it
    with Ctrl-C). Running it again loads nothing new. The samples and their licences
    are in provdb/samples (SOURCES.md).

    \b
    Exit status: 0 loaded (and served until stopped); 1 a sample file failed to load
    (the others are in); 2 the command failed.

    \b
    Examples:
      provdb demo                        # then open http://127.0.0.1:8080/ui
      provdb demo --port 8000 --host 0.0.0.0
      provdb demo --no-serve             # only load; `provdb serve` later
      PROVDB_HOME=/tmp/provdb-demo provdb demo   # a throwaway embedded archive
    """
    from provdb import settings
    from provdb.demo import load_samples
    from provdb.samples import path as samples_path

    settings.check()  # as `provdb serve`: a bad setting stops the demo before it loads
    database = open_archive()
    try:
        report = load_samples(
            database.engine, samples_path(), on_message=lambda m: click.echo(m, err=True)
        )
    except BaseException:
        database.dispose()
        raise
    _print_report(report, f"{database.kind} database {database.location}")
    if report.errors:
        database.dispose()
        click.echo(
            f"provdb: error: {len(report.errors)} sample file(s) failed to load (above); "
            "the archive holds the others",
            err=True,
        )
        sys.exit(1)
    if no_serve:
        database.dispose()
        return
    from provdb.serve import run_gunicorn

    # the database stays open while serving: it keeps the embedded server up
    base = f"http://{host}:{port}"
    click.echo(f"\nTAP service   {base}/tap   (TOPCAT, pyvo, stilts)")
    click.echo(f"browser UI    {base}/ui")
    click.echo("Ctrl-C stops the server.", err=True)
    sys.stdout.flush()
    run_gunicorn(host=host, port=port, workers=2, threads=8)


def _print_report(report: DemoReport, where: str) -> None:
    """What was loaded and what the archive holds, one line each."""
    from provdb.demo import COUNTED_TABLES

    before, after = report.migrated
    schema = f"created (migration {after})" if before is None else f"at migration {after}"
    click.echo(f"archive       {where}, schema {schema}")
    click.echo(f"samples       {report.samples}")
    ingested = ", ".join(f"{n} {s}" for s, n in sorted(report.ingested.items()))
    scanned = ", ".join(f"{n} {s}" for s, n in sorted(report.scanned.items()))
    click.echo(f"ingested      {report.ingested.total()} provenance files ({ingested})")
    click.echo(f"scanned       {report.scanned.total()} HDF5 files ({scanned})")
    if report.loaded_anything:
        click.echo(f"records read  {report.records:,}")
    else:
        click.echo("nothing new: the archive already holds every sample")
    width = max(len(label) for _, label in COUNTED_TABLES)
    click.echo("the archive now holds:")
    for table, label in COUNTED_TABLES:
        click.echo(f"  {label:<{width}}  {report.counts[table]:>7,}   {table}")
