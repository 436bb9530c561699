"""What ``provdb ingest`` tells the operator besides its tables, as plain lines of text.

Pure functions of :class:`provdb.ingest.pipeline.FileResult` and paths (no terminal, no
database), so that the CLI, the follow mode or a service can say the same thing:

* per file that was not simply new or unchanged: where a grown log was read on from,
  why a changed one was read again from the start, what torn tail was left;
* the values that conflicted with the archive (kept in ``archive.ingest_conflict``);
* the files of a folder that were skipped, summarised by reason (listed with ``-v``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["conflict_line", "file_notes", "skip_reason", "skipped_lines"]

_HDF5 = (".h5", ".hdf5", ".hdf", ".he5")
_FITS = (".fits", ".fit", ".fts", ".fits.fz", ".fits.gz", ".fz")

#: reason -> (singular, plural) noun of the summary line; order of the summary
_REASONS = {
    "hdf5": ("HDF5 file", "HDF5 files", "use provdb scan"),
    "fits": ("FITS file", "FITS files", "use provdb scan"),
    "empty": ("empty file", "empty files", "nothing to read"),
    "other": (
        "other file",
        "other files",
        "not a provenance log provdb reads (lstosa prov.log, ctapipe provenance log, "
        "PROV-JSON/XML/N; --format forces one)",
    ),
}


def skip_reason(path: Path) -> str:
    """Why a file met in a folder is skipped: ``hdf5``, ``fits``, ``empty`` or ``other``."""
    name = path.name.lower()
    if name.endswith(_HDF5):
        return "hdf5"
    if name.endswith(_FITS):
        return "fits"
    try:
        if path.stat().st_size == 0:
            return "empty"
    except OSError:
        pass
    return "other"


def skipped_lines(paths: Iterable[Path], *, verbose: bool = False) -> list[str]:
    """One line per reason (``12 HDF5 files: use provdb scan``), each followed by its
    files, one per line, when ``verbose``."""
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(skip_reason(path), []).append(path)
    out = []
    for reason, (one, many, advice) in _REASONS.items():
        found = groups.get(reason)
        if not found:
            continue
        out.append(f"  {len(found):,} {one if len(found) == 1 else many}: {advice}")
        if verbose:
            out.extend(f"    {p}" for p in sorted(found))
    return out


def file_notes(result: Any) -> list[str]:
    """What happened to one file, when there is more to say than "new" or "unchanged".

    ``result`` is a :class:`~provdb.ingest.pipeline.FileResult`.
    """
    notes = []
    path = result.path
    if result.status in ("grown", "partial") and result.resumed_at is not None:
        byte, line = result.resumed_at
        notes.append(
            f"{path}: grown: read on from byte {byte:,} (line {line:,}): "
            f"{result.lines:,} more line(s), {result.n_records:,} record(s)"
        )
    if result.restart_reason:
        notes.append(f"{path}: changed: read again from the start: {result.restart_reason}")
    if result.torn_tail is not None:
        line, size = result.torn_tail
        notes.append(
            f"{path}: partial: torn tail at line {line:,} ({size:,} bytes without an end "
            "of line) left for the next run"
        )
    if result.conflicts:
        notes.append(f"{path}: {result.conflicts:,} conflicting value(s) kept the first sighting")
    return notes


def conflict_line(total: int) -> str | None:
    """The summary line of the conflicts of a whole run (``None`` when there were none)."""
    if not total:
        return None
    return f"{total:,} conflicting value(s) kept the first sighting; see archive.ingest_conflict"
