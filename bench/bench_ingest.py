#!/usr/bin/env python
"""End-to-end ingest benchmark of provdb on a synthetic lstosa night (reproducible).

What it does, in order:

1. generates (or reuses, if it already exists with the same parameters) a synthetic
   night with ``bench/make_synthetic.py`` in ``--workdir``;
2. times, in this process and with no database, lstosa's own way of reading the file
   (spec §1.2: split each line on ``__PROV__``, keep lines with 3 parts,
   ``datetime.fromisoformat`` on the middle part, ``yaml.safe_load`` on the payload --
   with PyYAML's C ``CSafeLoader`` when it is available, which the JSON records), then
   provdb's parser alone, and provdb's parser + lstosa mapper (still no database);
3. creates a fresh archive: a new ``PROVDB_HOME`` with provdb's embedded PostgreSQL
   (started and held by this process, so the timed ``provdb ingest`` processes attach
   to a running server, as on a machine where the archive is in use), or, with
   ``--database-url``, the given server after ``provdb db downgrade --revision base``
   (this drops every provdb table there, hence ``--allow-reset`` is required);
4. runs ``provdb db upgrade`` and then each measured step as a separate
   ``python -m provdb ingest FILE`` process, recording its wall time and its peak RSS
   (``ru_maxrss`` from ``wait4``, exact, no polling):

   a. first ingest of the night (``--repeat N``: N times, each on an emptied archive);
   b. re-ingest of the unchanged file (skipped from its size and mtime);
   c. with ``--grow``: a fresh archive, ingest of the first ``--grow-fraction`` of the
      lines, then of the complete file (read on from the offset reached).

Results go to ``bench/results/<date>-ingest.json`` (or ``--output``) and a table is
printed. ``records/s`` and ``MB/s`` are records (or file megabytes, 1 MB = 10^6 bytes)
divided by the wall time of the whole ``provdb ingest`` process (start-up, imports,
connection, parse, load, commit included); provdb's own in-process time is reported too.

Example (the full night of the issue: 30 runs x 150 subruns, ~328 MB)::

    python bench/bench_ingest.py --runs 30 --subruns 150 --grow
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
sys.path.insert(0, str(REPO))

from _common import argument_parser, log, machine, provdb_env, save_results  # noqa: E402  (bench/ is on sys.path: the script's folder)

# ----------------------------------------------------------------------------- helpers


def run_with_rusage(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd``: wall time, exact peak RSS of the child (``wait4``), status, output."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "wall_s": wall,
            "peak_rss_mb": rusage.ru_maxrss / 1024,  # kB on Linux
            "user_s": rusage.ru_utime,
            "system_s": rusage.ru_stime,
            "returncode": proc.returncode,
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
        }


def provdb(args: list[str], env: dict[str, str], *, check: bool = True) -> dict[str, Any]:
    res = run_with_rusage([PYTHON, "-m", "provdb", *args], env)
    if check and res["returncode"] not in (0, 1):
        raise SystemExit(
            f"provdb {' '.join(args)} failed ({res['returncode']}):\n{res['stdout']}{res['stderr']}"
        )
    return res


def summary_figures(stdout: str) -> dict[str, Any]:
    """Pick provdb ingest's own figures out of its summary table."""

    def grab(label: str) -> str | None:
        m = re.search(rf"{re.escape(label)}\s*[│|]\s*([\d,.]+)", stdout)
        return m.group(1).replace(",", "") if m else None

    statuses = {
        s: int(v)
        for s in ("new", "grown", "changed", "partial", "unchanged", "failed")
        if (v := grab(f"│ {s} "))
    }
    records = grab("records read")
    seconds = grab("│ time")
    return {
        "status": statuses,
        "records": int(records) if records else None,
        "provdb_time_s": float(seconds) if seconds else None,
    }


# ----------------------------------------------------------------------------- in-process


def lstosa_yaml_reference(path: Path, max_lines: int) -> dict[str, Any]:
    """lstosa's own reading of a prov.log (spec §1.2), timed; extrapolated if capped."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", None)
    loader_name = "yaml.CSafeLoader (libyaml)" if loader else "yaml.SafeLoader (pure Python)"
    loader = loader or yaml.SafeLoader
    total_bytes = path.stat().st_size
    n_lines = n_records = n_skipped = n_errors = n_bytes = 0
    started = time.perf_counter()
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = itertools.islice(fh, max_lines) if max_lines else fh
        for line in lines:
            n_lines += 1
            n_bytes += len(line.encode())
            parts = line.split("__PROV__")
            if len(parts) != 3:
                n_skipped += 1
                continue
            try:
                datetime.fromisoformat(parts[1])
                yaml.load(parts[2], Loader=loader)  # == yaml.safe_load with the C loader
            except (ValueError, yaml.YAMLError):
                n_errors += 1
                continue
            n_records += 1
    seconds = time.perf_counter() - started
    complete = n_bytes >= total_bytes
    full = seconds if complete else seconds * total_bytes / max(n_bytes, 1)
    return {
        "loader": loader_name,
        "lines_timed": n_lines,
        "bytes_timed": n_bytes,
        "records_timed": n_records,
        "non_record_lines": n_skipped,
        "errors": n_errors,
        "seconds_timed": seconds,
        "extrapolated": not complete,
        "extrapolated_by": None if complete else "bytes (session payloads dominate the time)",
        "seconds_full_file": full,
        "records_per_s": n_records / seconds if seconds else None,
        "mb_per_s": n_bytes / 1e6 / seconds if seconds else None,
    }


def provdb_parser_only(path: Path, *, with_mapper: bool) -> dict[str, Any]:
    """provdb's lstosa parser (and optionally the mapper) over the file, no database."""
    import gc

    from provdb.ingest import lstosa
    from provdb.ingest.lstosa.map import LstosaMapper
    from provdb.ingest.records import LstosaUnknown, NonProvenanceLine, RejectedLine

    gc.collect()
    skip = (NonProvenanceLine, RejectedLine, LstosaUnknown)
    n_records = n_rows = 0
    mapper = LstosaMapper(path=str(path)) if with_mapper else None
    started = time.perf_counter()
    with open(path, "rb", buffering=1 << 20) as fh:
        for item in lstosa.parse_lines(fh, path=str(path)):
            if type(item) in skip:
                continue
            n_records += 1
            if mapper is not None:
                n_rows += len(mapper.feed(item))
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    result = {
        "seconds": seconds,
        "records": n_records,
        "records_per_s": n_records / seconds,
        "mb_per_s": size / 1e6 / seconds,
    }
    if with_mapper:
        result["archive_rows"] = n_rows
    return result


# ----------------------------------------------------------------------------- archive


class Archive:
    """A fresh provdb archive: embedded server held by this process, or an external URL."""

    def __init__(self, workdir: Path, database_url: str | None) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.home = workdir / "provdb-home"
        self.server: Any = None
        self.env = provdb_env(self.home, wide=True, database_url=database_url)

    def start(self) -> dict[str, Any]:
        if self.database_url is None:
            shutil.rmtree(self.home, ignore_errors=True)
            from provdb.db import start_embedded

            started = time.perf_counter()
            self.server, _ = start_embedded(self.home / "pgdata")
            log(f"embedded PostgreSQL started in {time.perf_counter() - started:.1f} s")
        return self.reset()

    def reset(self) -> dict[str, Any]:
        """Empty the archive (drop every provdb table) and migrate it to the newest schema."""
        provdb(["db", "downgrade", "--revision", "base", "--yes"], self.env)
        return provdb(["db", "upgrade"], self.env)

    def server_version(self) -> str | None:
        try:
            from provdb.config import Settings
            from provdb.db import connect

            db = connect(Settings.from_env(self.env))
            try:
                with db.engine.connect() as conn:
                    import sqlalchemy as sa

                    return str(conn.execute(sa.text("SHOW server_version")).scalar())
            finally:
                db.dispose()
        except Exception as exc:  # informative only
            return f"unknown ({exc})"

    def stop(self) -> None:
        if self.server is not None:
            self.server._cleanup()  # stops the server when we are its last user
            self.server = None


def ingest(archive: Archive, path: Path, label: str, nbytes: int | None = None) -> dict[str, Any]:
    """One timed ``provdb ingest`` process; ``nbytes``: bytes it has to read (default all)."""
    res = provdb(["ingest", str(path)], archive.env)
    figures = summary_figures(res["stdout"])
    size = path.stat().st_size if nbytes is None else nbytes
    records = figures["records"] or 0
    out = {
        "step": label,
        "file": str(path),
        "read_mb": size / 1e6,
        "wall_s": res["wall_s"],
        "user_s": res["user_s"],
        "system_s": res["system_s"],
        "peak_rss_mb": res["peak_rss_mb"],
        "exit_status": res["returncode"],
        **figures,
    }
    if records:
        out["records_per_s"] = records / res["wall_s"]
        out["mb_per_s"] = size / 1e6 / res["wall_s"]
    log(
        f"{label}: {res['wall_s']:.2f} s wall, {records:,} records, "
        f"peak RSS {res['peak_rss_mb']:.0f} MB, status {figures['status']}"
    )
    if res["returncode"] not in (0, 1):
        log(res["stdout"] + res["stderr"])
    return out


# ----------------------------------------------------------------------------- main


def make_night(args: argparse.Namespace) -> Path:
    name = f"night-r{args.runs}-s{args.subruns}-seed{args.seed}-i{args.interleave}.prov.log"
    path = args.workdir / name
    if path.exists() and not args.regenerate:
        log(f"reusing {path}")
        return path
    cmd = [
        PYTHON,
        str(REPO / "bench" / "make_synthetic.py"),
        "--runs",
        str(args.runs),
        "--subruns",
        str(args.subruns),
        "--seed",
        str(args.seed),
        "--interleave",
        str(args.interleave),
        "--out",
        str(path.with_suffix(".tmp")),
    ]
    subprocess.run(cmd, check=True)
    path.with_suffix(".tmp").rename(path)
    return path


def write_prefix(src: Path, dst: Path, fraction: float) -> int:
    """Copy the first ``fraction`` of the lines of ``src`` to ``dst``; return the count."""
    with open(src, "rb") as fh:
        total = sum(1 for _ in fh)
    keep = int(total * fraction)
    with open(src, "rb") as fh, open(dst, "wb") as out:
        out.writelines(itertools.islice(fh, keep))
    return keep


def append_rest(src: Path, dst: Path, skip: int) -> None:
    with open(src, "rb") as fh, open(dst, "ab") as out:
        out.writelines(itertools.islice(fh, skip, None))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__, "bench_ingest.py")
    p.add_argument("--runs", type=int, default=30, help="data runs of the night (default 30)")
    p.add_argument("--subruns", type=int, default=150, help="subruns per run (default 150)")
    p.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    p.add_argument(
        "--interleave",
        type=int,
        default=1,
        help="concurrent SLURM tasks interleaving their lines (default 1: sequential)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/provdb-bench"),
        help="where the night and the embedded archive live (default /tmp/provdb-bench)",
    )
    p.add_argument("--regenerate", action="store_true", help="regenerate the night even if present")
    p.add_argument(
        "--database-url",
        help="benchmark on this PostgreSQL instead of a fresh embedded one (needs --allow-reset)",
    )
    p.add_argument(
        "--allow-reset",
        action="store_true",
        help="allow dropping every provdb table of --database-url before each first ingest",
    )
    p.add_argument(
        "--repeat", type=int, default=1, help="first ingests, each on an emptied archive (best)"
    )
    p.add_argument(
        "--grow", action="store_true", help="also time a prefix ingest then the grown file"
    )
    p.add_argument(
        "--grow-fraction",
        type=float,
        default=0.5,
        help="share of the lines in the first part with --grow (default 0.5)",
    )
    p.add_argument(
        "--yaml-lines",
        type=int,
        default=20_000,
        help="lines timed for lstosa's YAML reference, extrapolated to the file by bytes "
        "(default 20000; 0 = the whole file, ~70 s for the full night with libyaml)",
    )
    p.add_argument("--skip-yaml", action="store_true", help="skip lstosa's YAML reference")
    p.add_argument("--skip-parser", action="store_true", help="skip the parser-only timings")
    p.add_argument(
        "--output",
        type=Path,
        help="results JSON (default bench/results/<YYYY-MM-DD>-ingest.json)",
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the night file and the archive afterwards"
    )
    args = p.parse_args(argv)
    if args.database_url and not args.allow_reset:
        p.error("--database-url drops every provdb table of that database: add --allow-reset")
    if not 0 < args.grow_fraction < 1:
        p.error("--grow-fraction must be between 0 and 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    night = make_night(args)
    size = night.stat().st_size
    with open(night, "rb") as fh:
        n_lines = sum(1 for _ in fh)
    log(f"night {night.name}: {n_lines:,} lines, {size / 1e6:.1f} MB")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": machine(("provdb", "psycopg", "yaml")),
        "night": {
            "runs": args.runs,
            "subruns": args.subruns,
            "seed": args.seed,
            "interleave": args.interleave,
            "file": str(night),
            "bytes": size,
            "lines": n_lines,
        },
    }
    if not args.skip_yaml:
        log("lstosa YAML reference ...")
        results["lstosa_yaml_reference"] = lstosa_yaml_reference(night, args.yaml_lines)
    if not args.skip_parser:
        log("provdb parser only ...")
        results["provdb_parser_only"] = provdb_parser_only(night, with_mapper=False)
        log("provdb parser + mapper ...")
        results["provdb_parser_mapper"] = provdb_parser_only(night, with_mapper=True)

    archive = Archive(args.workdir, args.database_url)
    steps: list[dict[str, Any]] = []
    grow_file = args.workdir / "grow.prov.log"
    try:
        archive.start()
        results["machine"]["postgresql"] = archive.server_version()
        results["database"] = "external" if args.database_url else "embedded (held running)"
        for i in range(args.repeat):
            if i:
                archive.reset()
            steps.append(ingest(archive, night, f"first ingest #{i + 1}"))
        steps.append(ingest(archive, night, "re-ingest unchanged #1"))
        steps.append(ingest(archive, night, "re-ingest unchanged #2"))
        if args.grow:
            archive.reset()
            kept = write_prefix(night, grow_file, args.grow_fraction)
            first = grow_file.stat().st_size
            steps.append(ingest(archive, grow_file, f"grow: first {kept:,} lines"))
            append_rest(night, grow_file, kept)
            steps.append(
                ingest(
                    archive,
                    grow_file,
                    f"grow: rest ({n_lines - kept:,} lines)",
                    nbytes=size - first,
                )
            )
    finally:
        archive.stop()
        if not args.keep:
            shutil.rmtree(archive.home, ignore_errors=True)
            grow_file.unlink(missing_ok=True)
            night.unlink(missing_ok=True)
    results["steps"] = steps
    firsts = [s for s in steps if s["step"].startswith("first ingest")]
    best = min(firsts, key=lambda s: s["wall_s"])
    reingest = min(
        (s for s in steps if s["step"].startswith("re-ingest")), key=lambda s: s["wall_s"]
    )
    results["summary"] = {
        "first_ingest_wall_s": best["wall_s"],
        "first_ingest_records": best["records"],
        "first_ingest_records_per_s": best.get("records_per_s"),
        "first_ingest_mb_per_s": best.get("mb_per_s"),
        "first_ingest_provdb_time_s": best["provdb_time_s"],
        "peak_rss_mb": max(s["peak_rss_mb"] for s in steps),
        "reingest_wall_s": reingest["wall_s"],
        "lstosa_yaml_reference_s": results.get("lstosa_yaml_reference", {}).get(
            "seconds_full_file"
        ),
        "provdb_parser_only_s": results.get("provdb_parser_only", {}).get("seconds"),
        "provdb_parser_mapper_s": results.get("provdb_parser_mapper", {}).get("seconds"),
    }
    output = save_results(results, args.output, "ingest")
    print_table(results)
    print(f"\nresults: {output}")
    return 0


def print_table(results: dict[str, Any]) -> None:
    night = results["night"]
    print(
        f"\nnight: {night['runs']} runs x {night['subruns']} subruns, interleave "
        f"{night['interleave']}, {night['lines']:,} lines, {night['bytes'] / 1e6:.1f} MB; "
        f"{results['machine'].get('cpus')} CPUs, {results['machine'].get('cpu', '')}"
    )
    head = f"{'step':34} {'wall s':>8} {'records':>9} {'rec/s':>9} {'MB/s':>7} {'RSS MB':>7}"
    print(head)
    print("-" * len(head))
    for s in results["steps"]:
        rate = f"{s['records_per_s']:,.0f}" if s.get("records_per_s") else "-"
        mbs = f"{s['mb_per_s']:.1f}" if s.get("mb_per_s") else "-"
        print(
            f"{s['step']:34} {s['wall_s']:8.2f} {s['records'] or 0:9,} {rate:>9} {mbs:>7} "
            f"{s['peak_rss_mb']:7.0f}"
        )
    for key, label in (
        ("provdb_parser_only", "provdb parser only (no DB)"),
        ("provdb_parser_mapper", "provdb parser + mapper (no DB)"),
    ):
        if key in results:
            r = results[key]
            print(
                f"{label:34} {r['seconds']:8.2f} {r['records']:9,} "
                f"{r['records_per_s']:9,.0f} {r['mb_per_s']:7.1f} {'':>7}"
            )
    if "lstosa_yaml_reference" in results:
        r = results["lstosa_yaml_reference"]
        note = " (extrapolated)" if r["extrapolated"] else ""
        print(
            f"{'lstosa YAML reference' + note:34} {r['seconds_full_file']:8.2f} "
            f"{r['records_timed']:9,} {r['records_per_s']:9,.0f} {r['mb_per_s']:7.1f} {'':>7}"
            f"  [{r['loader']}; {r['lines_timed']:,} lines timed]"
        )


if __name__ == "__main__":
    sys.exit(main())
