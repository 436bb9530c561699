"""``provdb scan``: data files (HDF5, FITS) and the software versions written in them.

The work is done by :func:`provdb.scan.scan_cli.run_scan`; this module is the command's
options and help.
"""

from __future__ import annotations

import sys

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors
from provdb.config import Settings

__all__ = ["scan"]


@click.command("scan", context_settings=CONTEXT_SETTINGS)
@click.argument("paths", nargs=-1, required=True)
@options.choice(
    "--hash",
    "hash_name",
    choices=["md5", "sha256", "none"],
    default="none",
    help="Record a checksum of each file's content (reads every byte).",
)
@options.whole_number(
    "--jobs", "-j", low=1, high=256, default=1, help="Processes reading metadata in parallel."
)
@click.option(
    "--rescan",
    is_flag=True,
    help="Read files again even if unchanged since their last scan (counted as changed).",
)
@options.quiet("No progress bar and no summary table.")
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
