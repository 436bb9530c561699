"""Terminal front end of ``provdb scan``: progress bar, ``FILE: reason`` lines, summary."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from provdb.config import Settings
from provdb.errors import ConfigError
from provdb.scan.pipeline import ScanReport, scan_files

__all__ = ["run_scan"]


def run_scan(
    settings: Settings,
    paths: list[str],
    *,
    hash_name: str | None,
    jobs: int,
    quiet: bool,
    rescan: bool = False,
) -> int:
    """Run a scan for the CLI; returns the exit status (0, 1 or 2)."""
    from provdb import migrate
    from provdb.db import connect
    from provdb.ingest.pipeline import discover

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False)
    files, missing, explicit = discover(paths)
    for arg in missing:
        err.print(f"{arg}: no such file or directory", markup=False)
    if not files:
        err.print("provdb: error: no file found in the given paths", markup=False)
        return 2

    database = connect(settings)
    report: ScanReport
    try:
        state = migrate.state(database.engine)
        if not state.up_to_date:
            raise ConfigError(
                f"the archive schema is at migration {state.current or 'none'}, not "
                f"{state.head}: run `provdb db upgrade` first"
            )
        raw = database.engine.raw_connection()
        try:
            conn = raw.driver_connection
            progress = Progress(
                TextColumn("[bold]scan"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files, {task.fields[versions]:,} versions"),
                TimeElapsedColumn(),
                console=err,
                disable=quiet or not err.is_terminal,
                transient=True,
            )
            with progress:
                task = progress.add_task("scan", total=len(files), versions=0)
                found = 0

                def advance(n_files: int, n_versions: int) -> None:
                    nonlocal found
                    found += n_versions
                    progress.update(task, advance=n_files, versions=found)

                report = scan_files(
                    conn,
                    files,
                    explicit=explicit,
                    hash_name=hash_name,
                    rescan=rescan,
                    jobs=jobs,
                    progress=advance,
                    on_error=lambda m: err.print(m, markup=False),
                )
        finally:
            raw.close()
    finally:
        database.dispose()
    if not quiet:
        _summary(out, report, jobs)
    if missing:
        return 2
    if report.statuses.get("failed"):
        return 1
    return 0


def _summary(out: Console, report: ScanReport, jobs: int) -> None:
    statuses = report.statuses
    n_files = sum(statuses.values())
    table = Table(title="provdb scan", show_header=True, header_style="bold")
    table.add_column("files")
    table.add_column("count", justify="right")
    for status, label in (
        ("new", "scanned (new)"),
        ("changed", "scanned again (changed)"),
        ("unchanged", "unchanged (skipped)"),
        ("skipped", "not HDF5 or FITS (skipped)"),
        ("failed", "unreadable (failed)"),
    ):
        if statuses.get(status):
            table.add_row(label, f"{statuses[status]:,}")
    table.add_row("software versions found", f"{report.versions:,}")
    if report.activities:
        table.add_row("/provenance activities mapped", f"{report.activities:,}")
    table.add_row("time", f"{report.seconds:.2f} s" + (f" ({jobs} jobs)" if jobs > 1 else ""))
    rate = n_files / report.seconds if report.seconds > 0 else 0.0
    table.add_row("files/s", f"{rate:,.0f}")
    out.print(table)
    if report.packages:
        packages = Table(show_header=True, header_style="bold")
        packages.add_column("package")
        packages.add_column("files", justify="right")
        for name, count in sorted(report.packages.items()):
            packages.add_row(name, f"{count:,}")
        out.print(packages)
