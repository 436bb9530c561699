#!/usr/bin/env python
"""``provdb scan`` benchmark: 10,000 small lstchain-like HDF5 files (reproducible).

What it does, in order:

1. generates (or reuses, if it already exists with the same parameters) ``--files``
   small HDF5 files in ``--workdir``, 1,000 per folder, written with h5py the way
   lstchain writes them: root attributes ``LSTCHAIN_VERSION``, ``CTAPIPE_VERSION``,
   ``CTAPIPE_IO_LST_VERSION``, ``CONTACT`` (bytes), and one parameters table of
   ``--rows`` rows carrying the same versions and the ``config`` attribute as JSON text
   (lstchain's standard configuration from the samples, ~7 kB); the lstchain version
   cycles over 0.9.13, 0.10.5 and 0.12.3 so that the version queries have work to do;
2. creates a fresh archive (a new ``PROVDB_HOME`` whose embedded PostgreSQL is started
   and held by this process, as for ``bench_ingest.py``), ``provdb db upgrade``;
3. runs every measured step as its own ``python -m provdb ...`` process, recording its
   wall time and exact peak RSS (``wait4``):

   a. ``provdb scan DIR`` serially, on an empty archive (``--repeat N`` times);
   b. ``provdb scan DIR`` again: every file unchanged (size + mtime);
   c. ``provdb scan --jobs J DIR`` on an empty archive, for each ``--jobs`` value
      (``--repeat N`` times);
   d. with ``--hash``: ``provdb scan --hash sha256 --jobs J`` on an empty archive;
   e. ``provdb versions --product-type DL1 --package lstchain`` on the full archive.

Results go to ``bench/results/<date>-scan.json`` (or ``--output``) and a table is
printed. files/s is files divided by the wall time of the whole process (start-up,
imports, connection, walking, reading, writing, commits included).

Example (the issue's figure)::

    python bench/bench_scan.py --files 10000 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_ingest import Archive, log, machine, provdb, save_results  # noqa: E402

from provdb.samples import path as samples_path  # noqa: E402

SAMPLE_CONFIG = samples_path() / "lstchain" / "lstchain_standard_config.json"
LSTCHAIN_VERSIONS = ("0.9.13", "0.10.5", "0.12.3")


# ----------------------------------------------------------------------------- files


def make_files(workdir: Path, n_files: int, rows: int) -> tuple[Path, dict[str, Any]]:
    """Write the files (reused when the folder already holds this exact set)."""
    import h5py
    import numpy as np

    folder = workdir / f"h5-{n_files}-r{rows}"
    stamp = folder / ".complete"
    if stamp.exists():
        log(f"reusing {n_files:,} files in {folder}")
        return folder, json.loads(stamp.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    config = json.loads(SAMPLE_CONFIG.read_text())
    config_text = np.bytes_(json.dumps(config).encode())
    dtype = [("obs_id", "<i8"), ("event_id", "<i8"), ("intensity", "<f8"), ("x", "<f8")]
    data = np.zeros(rows, dtype=dtype)
    data["event_id"] = np.arange(rows)
    started = time.perf_counter()
    total = 0
    for i in range(n_files):
        sub = folder / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        version = LSTCHAIN_VERSIONS[i % len(LSTCHAIN_VERSIONS)].encode()
        path = sub / f"dl1_LST-1.Run{2000 + i // 100:05d}.{i % 100:04d}.h5"
        with h5py.File(path, "w") as f:
            for key, value in (
                ("LSTCHAIN_VERSION", version),
                ("CTAPIPE_VERSION", b"0.17.0" if version == b"0.9.13" else b"0.19.2"),
                ("CTAPIPE_IO_LST_VERSION", b"0.18.2"),
                ("CONTACT", b"LST Consortium"),
            ):
                f.attrs[key] = np.bytes_(value)
            ds = f.create_dataset("dl1/event/telescope/parameters/LST_LSTCam", data=data)
            ds.attrs["CLASS"] = np.bytes_(b"TABLE")
            ds.attrs["LSTCHAIN_VERSION"] = np.bytes_(version)
            ds.attrs["CTAPIPE_VERSION"] = f.attrs["CTAPIPE_VERSION"]
            ds.attrs["config"] = config_text
        total += path.stat().st_size
    info = {
        "files": n_files,
        "rows_per_table": rows,
        "bytes": total,
        "config_bytes": len(config_text),
        "lstchain_versions": list(LSTCHAIN_VERSIONS),
        "generation_s": time.perf_counter() - started,
    }
    stamp.write_text(json.dumps(info))
    log(f"wrote {n_files:,} files ({total / 1e6:.1f} MB) in {info['generation_s']:.1f} s")
    return folder, info


# ----------------------------------------------------------------------------- steps


def scan_figures(stdout: str) -> dict[str, Any]:
    """provdb scan's own figures, from its summary table."""

    def grab(label: str) -> str | None:
        m = re.search(rf"{re.escape(label)}[^│|]*[│|]\s*([\d,.]+)", stdout)
        return m.group(1).replace(",", "") if m else None

    out: dict[str, Any] = {}
    for key, label in (
        ("new", "scanned (new)"),
        ("changed", "scanned again (changed)"),
        ("unchanged", "unchanged (skipped)"),
        ("failed", "unreadable (failed)"),
        ("versions", "software versions found"),
    ):
        value = grab(label)
        if value is not None:
            out[key] = int(value)
    seconds = grab("│ time")
    out["provdb_time_s"] = float(seconds) if seconds else None
    return out


def scan(archive: Archive, folder: Path, label: str, n_files: int, *extra: str) -> dict[str, Any]:
    res = provdb(["scan", *extra, str(folder)], archive.env)
    figures = scan_figures(res["stdout"])
    out = {
        "step": label,
        "command": f"provdb scan {' '.join(extra)} DIR".replace("  ", " "),
        "wall_s": res["wall_s"],
        "user_s": res["user_s"],
        "system_s": res["system_s"],
        "peak_rss_mb": res["peak_rss_mb"],
        "exit_status": res["returncode"],
        "files_per_s": n_files / res["wall_s"],
        **figures,
    }
    log(
        f"{label}: {res['wall_s']:.2f} s wall ({out['files_per_s']:,.0f} files/s), "
        f"peak RSS {res['peak_rss_mb']:.0f} MB, {figures}"
    )
    if res["returncode"] != 0:
        log(res["stdout"] + res["stderr"])
    return out


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--files", type=int, default=10_000, help="HDF5 files (default 10000)")
    p.add_argument("--rows", type=int, default=10, help="rows of each file's table (10)")
    p.add_argument(
        "--jobs",
        type=int,
        nargs="+",
        default=[2],
        help="--jobs values timed on an empty archive (default: 2)",
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="first scans timed per mode (the best is kept)"
    )
    p.add_argument("--hash", action="store_true", help="also time --hash sha256")
    p.add_argument(
        "--workdir", type=Path, default=Path("/tmp/provdb-bench-scan"), help="work folder"
    )
    p.add_argument("--keep", action="store_true", help="keep the work folder afterwards")
    p.add_argument(
        "--database-url",
        help="external PostgreSQL to use (every provdb table there is dropped first)",
    )
    p.add_argument(
        "--allow-reset",
        action="store_true",
        help="required with --database-url: agree that the archive there is emptied",
    )
    p.add_argument("--output", type=Path, help="results JSON")
    args = p.parse_args(argv)
    if args.database_url and not args.allow_reset:
        p.error("--database-url drops every provdb table there: add --allow-reset")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    folder, files = make_files(args.workdir, args.files, args.rows)
    results: dict[str, Any] = {
        "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "command": "bench_scan.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(("provdb", "psycopg", "h5py", "astropy")),
        "files": files,
    }
    archive = Archive(args.workdir, args.database_url)
    steps: list[dict[str, Any]] = []
    try:
        archive.start()
        results["machine"]["postgresql"] = archive.server_version()
        results["database"] = "external" if args.database_url else "embedded (held running)"
        for i in range(args.repeat):
            if i:
                archive.reset()
            steps.append(scan(archive, folder, f"first scan, serial #{i + 1}", args.files))
        steps.append(scan(archive, folder, "rescan, all unchanged", args.files))
        res = provdb(["versions", "--product-type", "DL1", "--package", "lstchain"], archive.env)
        steps.append(
            {
                "step": "provdb versions --product-type DL1 --package lstchain",
                "wall_s": res["wall_s"],
                "peak_rss_mb": res["peak_rss_mb"],
                "exit_status": res["returncode"],
                "output": res["stdout"],
            }
        )
        log(f"provdb versions: {res['wall_s']:.2f} s")
        for jobs in args.jobs:
            for i in range(args.repeat):
                archive.reset()
                label = f"first scan, --jobs {jobs} #{i + 1}"
                steps.append(scan(archive, folder, label, args.files, "--jobs", str(jobs)))
        if args.hash:
            jobs = max(args.jobs)
            archive.reset()
            steps.append(
                scan(
                    archive,
                    folder,
                    f"first scan, --jobs {jobs} --hash sha256",
                    args.files,
                    "--jobs",
                    str(jobs),
                    "--hash",
                    "sha256",
                )
            )
    finally:
        archive.stop()
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    results["steps"] = steps
    serial = [s for s in steps if s["step"].startswith("first scan, serial")]
    best = min(serial, key=lambda s: s["wall_s"])
    results["summary"] = {
        "files": args.files,
        "first_scan_serial_s": best["wall_s"],
        "first_scan_serial_files_per_s": best["files_per_s"],
        "rescan_unchanged_s": next(s["wall_s"] for s in steps if s["step"].startswith("rescan")),
        **{
            f"first_scan_jobs{j}_s": min(
                s["wall_s"] for s in steps if s["step"].startswith(f"first scan, --jobs {j} #")
            )
            for j in args.jobs
        },
    }
    output = save_results(results, args.output, "scan")
    print_table(results)
    print(f"\nresults: {output}")
    return 0


def print_table(results: dict[str, Any]) -> None:
    files = results["files"]
    m = results["machine"]
    print(
        f"\nprovdb scan of {files['files']:,} HDF5 files ({files['bytes'] / 1e6:.1f} MB, "
        f"config {files['config_bytes']:,} B each) on {m.get('cpus')} CPUs, {m.get('cpu', '')}"
    )
    print(f"{'step':<46} {'wall':>9} {'files/s':>9} {'peak RSS':>9} {'versions':>9}")
    for s in results["steps"]:
        rate = f"{s['files_per_s']:,.0f}" if "files_per_s" in s else "-"
        print(
            f"{s['step'][:46]:<46} {s['wall_s']:>8.2f}s {rate:>9} "
            f"{s['peak_rss_mb']:>7.0f}MB {s.get('versions', '-'):>9}"
        )


if __name__ == "__main__":
    sys.exit(main())
