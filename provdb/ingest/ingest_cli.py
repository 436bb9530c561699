"""Terminal front end of ``provdb ingest``: progress bar, reject messages, summary table."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from provdb.config import Settings
from provdb.errors import ConfigError, ParseError

__all__ = ["run_ingest"]


def run_ingest(
    settings: Settings,
    paths: list[str],
    *,
    fmt: str | None,
    model_path: str | None,
    timezone: str,
    strict: bool,
    dry_run: bool,
    quiet: bool,
    follow: bool = False,
    interval: float = 2.0,
    verbose: bool = False,
) -> int:
    """Run an ingest for the CLI; returns the exit status (0, 1 or 2).

    With ``follow``, poll the paths every ``interval`` seconds until SIGTERM/SIGINT
    (:mod:`provdb.ingest.follow`).
    """
    from provdb import migrate
    from provdb.db import connect
    from provdb.ingest.pipeline import detect_format, discover, ingest_file
    from provdb.ingest.report import skipped_lines

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {timezone!r}: use an IANA name such as UTC or Atlantic/Canary"
        ) from None
    model = None
    if model_path:
        from provdb.ingest.lstosa.definition import load_model

        model = load_model(model_path)
    if follow:
        if dry_run:
            raise ConfigError("--dry-run cannot be combined with --follow: drop one of them")
        from provdb.ingest.follow import run_follow

        return run_follow(
            settings,
            paths,
            fmt=fmt,
            model=model,
            timezone=timezone,
            strict=strict,
            interval=interval,
            quiet=quiet,
        )

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False)
    skipped: list[str] = []
    files, missing, explicit = discover(paths, skipped)
    if fmt is None:
        # Files met while walking a directory may be anything (PDFs, HDF5, configs):
        # keep those provdb can read, and say how many others were passed over.
        walked_other = [p for p in files if p not in explicit and detect_format(p) is None]
        files = [p for p in files if p not in set(walked_other)]
    else:
        walked_other = []
    for arg in missing:
        err.print(f"{arg}: no such file or directory", markup=False)
    for note in skipped:
        err.print(note, markup=False)
    if walked_other and not quiet:
        err.print(
            f"{len(walked_other)} file(s) in the given folders are not provenance "
            "logs and were skipped",
            markup=False,
        )
        for line in skipped_lines(walked_other, verbose=verbose):
            err.print(line, markup=False)
    if not files:
        err.print("provdb: error: no provenance file found in the given paths", markup=False)
        return 2

    database = connect(settings)
    try:
        state = migrate.state(database.engine)
        if not state.up_to_date:
            raise ConfigError(
                f"the archive schema is at migration {state.current or 'none'}, not "
                f"{state.head}: run `provdb db upgrade` first"
            )
        raw = database.engine.raw_connection()
        conn = raw.driver_connection
        show_progress = not quiet and err.is_terminal
        total_bytes = sum(p.stat().st_size for p in files)
        results = []
        started = time.perf_counter()
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[records]:,} records"),
            TimeElapsedColumn(),
            console=err,
            disable=not show_progress,
            transient=True,
        )
        with progress:
            task = progress.add_task("ingest", total=total_bytes, records=0)
            done_records = 0

            def advance(nbytes: int, nrecords: int) -> None:
                nonlocal done_records
                done_records += nrecords
                progress.update(task, advance=nbytes, records=done_records)

            for path in files:
                progress.update(task, description=path.name[:40])
                before = progress.tasks[0].completed
                result = ingest_file(
                    conn,
                    path,
                    format=fmt,
                    model=model,
                    timezone=timezone,
                    strict=strict,
                    dry_run=dry_run,
                    progress=advance,
                    on_reject=lambda m: err.print(m, markup=False),
                )
                # files skipped or failed still count towards the bar
                progress.update(task, completed=before + path.stat().st_size)
                if result.error:
                    err.print(f"{result.error}", markup=False)
                for warning in result.warnings:
                    err.print(f"warning: {warning}", markup=False)
                results.append(result)
        raw.close()
    finally:
        database.dispose()
    elapsed = time.perf_counter() - started
    if not quiet:
        _summary(out, results, elapsed, dry_run)
    if any(r.status == "failed" for r in results) or missing:
        return 2
    if any(r.rejects for r in results):
        return 1
    return 0


def _summary(out: Console, results: list, elapsed: float, dry_run: bool) -> None:
    from provdb.ingest.report import conflict_line, file_notes

    statuses = Counter(r.status for r in results)
    records: Counter[str] = Counter()
    inserted: Counter[str] = Counter()
    known: Counter[str] = Counter()
    for r in results:
        records.update(r.records)
        inserted.update(r.inserted)
        known.update(r.known)
    n_records = sum(records.values())
    rejects = sum(r.rejects for r in results)
    other = sum(r.other_lines for r in results)
    rate = n_records / elapsed if elapsed > 0 else 0.0
    title = "provdb ingest (dry run: nothing written)" if dry_run else "provdb ingest"
    files = Table(title=title, show_header=True, header_style="bold")
    files.add_column("files")
    files.add_column("count", justify="right")
    for status in ("new", "grown", "changed", "partial", "unchanged", "dry-run", "failed"):
        if statuses.get(status):
            files.add_row(status, f"{statuses[status]:,}")
    files.add_row("records read", f"{n_records:,}")
    files.add_row("rejected lines", f"{rejects:,}")
    files.add_row("other lines (diagnostics)", f"{other:,}")
    conflicts = sum(r.conflicts for r in results)
    if conflicts:
        files.add_row("conflicting values", f"{conflicts:,}")
    files.add_row("time", f"{elapsed:.2f} s")
    files.add_row("records/s", f"{rate:,.0f}")
    out.print(files)
    if records:
        kinds = Table(show_header=True, header_style="bold")
        kinds.add_column("records by kind")
        kinds.add_column("count", justify="right")
        for kind, count in sorted(records.items()):
            kinds.add_row(kind, f"{count:,}")
        out.print(kinds)
    if inserted or known:
        tables = Table(show_header=True, header_style="bold")
        tables.add_column("archive table")
        tables.add_column("new", justify="right")
        tables.add_column("already known", justify="right")
        for name in sorted(set(inserted) | set(known)):
            tables.add_row(name, f"{inserted.get(name, 0):,}", f"{known.get(name, 0):,}")
        out.print(tables)
    # what happened to grown, changed and partial files; conflicts (plain lines: no wrapping)
    for r in results:
        for note in file_notes(r):
            out.print(note, markup=False, soft_wrap=True, highlight=False)
    line = conflict_line(conflicts)
    if line:
        out.print(line, markup=False, soft_wrap=True, highlight=False)


# keep names used in type hints importable for documentation tools
_ = (Path, ParseError, sys)
