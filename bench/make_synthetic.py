#!/usr/bin/env python
"""Generate a realistic synthetic lstosa night ``prov.log`` (spec §1), for benchmarks and tests.

Shape (copied line for line from the real ``lstosa_simulate_processing/prov.log`` sample):

* ``--calibration N`` calibration sequences first. Each is one ``calibration_pipeline``
  process for a (pedestal run, calibration run) pair and writes two bursts:
  ``drs4_pedestal`` (9 lines) then ``calibrate_charge`` (11 lines), with session tags like
  ``drs4_pedestal:01804-01805`` and session id ``'0180401805'``.
* then, for every run x subrun, one ``datasequence`` process writing three bursts:
  ``r0_to_dl1`` (21 lines: session, start, 7 inputs each as entity + used, 2 outputs each as
  entity + wasGeneratedBy, end), ``dl1ab`` (12 lines: the ``WARNING ... Derivation
  detected`` line, session, wasDerivedFrom, start, parameters ``{'StoreImage': True}``,
  DL1 + config used, the same DL1 id generated (self-loop), end) and ``dl1_datacheck``
  (13 lines). That is 46 lines per subrun and 20 per calibration sequence.

Every session record carries the ~20 kB ``system`` dict (``--packages`` entries of
``{'name', 'version', 'path'}``), the command line with the subrun (``'01807.0002'``) in
``arguments``, and ``start_time_utc``. Runs are numbered from ``--first-run`` (default
01807, 5-digit padding, numbers >= 10000 allowed); entity ids are
``md5(str(Path(path)))`` exactly as lstosa; activity ids are 6 hex digits from the seeded
RNG, so collisions happen over a large night as in production. Times are naive local
ISO times starting the morning after ``--date``: activities last minutes, each record time
is after the end of its activity, and a few timestamps fall on a whole second (then
``isoformat`` omits the microseconds).

``--interleave N`` simulates N concurrent SLURM tasks: subruns are processed in waves of N
processes whose bursts are written at the same time, line by line, in a random
interleaved order (each burst's own lines stay in order); a few record times then go
backwards, as when a process is descheduled between taking the time and writing. With
the default ``--interleave 1`` the file is sequential, like the sample. Waves follow each
other, so the record times of a night span about runs x subruns x 7 min / N.
Calibration runs are numbered just below the first data run (01804/01805 for 01807).

Grown nights (issue #11, for the provenance answers and their benchmark):

* ``--dl2`` adds, per subrun, a fourth burst ``dl1_to_dl2`` (18 lines) as lstosa traced
  it before 2025 (PR #280 removed it): session, start, a parameters record
  (``ObservationRun``, ``ObservationSubRun``, ``DL1ProdID``, ``DL2ProdID``), the DL1AB
  file, the four random-forest models (``RFModelEnergyFile``, ``RFModelDispNormFile``,
  ``RFModelDispSignFile``, ``RFModelGammanessFile``, one model set shared by every run,
  under ``<base>/../models/``) and the DL2 analysis config used, the subrun's
  ``DL2SubrunDataset`` generated at
  ``<base>/DL2/<date>/v0.1.0/tailcut84/nsb_tuning_0.14/dl2_LST-1.Run01807.0002.h5``.
* ``--reprocess N``: after the night, the reprocessing. First the calibration is rerun
  (every calibration sequence again, at least one) with a newer ``software_version``
  (v0.12.4) and later times; it regenerates the pedestal and coefficient files *at the
  paths the data runs used* (the ``v0.1.1`` folder, or with ``--connected-calibration``
  the paths the first calibration wrote), so those files get a new generation. Then the
  first N runs are processed again (same paths, new activities, new generations, the
  new version). Runs after N keep products made from the old calibration: their inputs
  were regenerated after they used them, which is what a staleness check must flag.
  The systematic correction file is not regenerated: no traced lstosa activity writes
  it (definition.yaml has it commented out of calibrate_charge).
* ``--ctapipe-log PATH`` also writes the ctapipe provenance log (glued JSON arrays) of
  lstchain's run-wise ``lstchain_dl1_to_dl2`` tool, one activity per run (inputs: the
  config, the RF model folder, the run's merged DL1 file; output: the run's DL2 file),
  ``--failures K`` of them ending with status ``error`` and exit code 1 (their output
  still registered); see ``synthetic_ctapipe.py``.
* ``--dl3`` (with ``--dl2``): after the subruns, one ``dl2_to_dl3`` burst per run (and
  per reprocessed run): every DL2 subrun file of the run, the IRF file and the DL3 tool
  config used, the run's ``DL3/<date>/v0.1.0/.../dl3_LST-1.Run01807.fits`` generated
  (``2 x subruns + 10`` lines).

Without these options the output is byte-identical to what it was before them.

The file is written in a streaming way (constant memory); a one-line summary goes to
stderr. The record shapes and the simulated night live in ``synthetic_lstosa.py``, the
ctapipe log in ``synthetic_ctapipe.py`` (both next to this script).
The library entry point is :func:`generate_night`, which yields the lines as
``bytes``; :func:`expected_counts` gives the number of lines of each kind.

Example (a full night: 207,020 lines, ~330 MB, a few seconds)::

    python bench/make_synthetic.py --runs 30 --subruns 150 --out night.prov.log

A grown night (the answers benchmark: 316,840 lines, ~486 MB) and its ctapipe log::

    python bench/make_synthetic.py --runs 30 --subruns 150 --dl2 --reprocess 3 \\
        --ctapipe-log night.dl2.provenance.log --failures 2 --out night.prov.log
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "LINES_PER_CALIBRATION",
    "LINES_PER_DL2",
    "LINES_PER_SUBRUN",
    "ctapipe_log",
    "expected_counts",
    "generate_night",
    "main",
]

# bench/ is not a package: the engine and the ctapipe writer are found next to this file
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from synthetic_lstosa import (  # noqa: E402  (after the sys.path line above)
    DEFAULT_BASE,
    DL1_PROD_ID,
    DL2_CONFIG,
    DL2_PROD_ID,
    LINES_PER_CALIBRATION,
    LINES_PER_DL2,
    LINES_PER_SUBRUN,
    MODELS_DIR,
    PROD_ID,
    SOFTWARE_ROOT,
    _Night,
)


def expected_counts(
    runs: int,
    subruns: int,
    calibration: int = 1,
    *,
    dl2: bool = False,
    reprocess: int = 0,
    dl3: bool = False,
) -> dict[str, int]:
    """Lines of each kind in a night of ``runs`` x ``subruns`` and ``calibration`` sequences.

    Kinds are those of spec §1.4 (``session``, ``start``, ``parameters``, ``entity``,
    ``used``, ``generated``, ``derived``, ``member``, ``end``) plus ``warning`` (the
    non-provenance lines) and ``total``. ``dl2`` adds a ``dl1_to_dl2`` burst (18 lines)
    per subrun; ``reprocess`` > 0 adds the calibration rerun (every calibration sequence
    again, at least one) and the subruns of the first ``reprocess`` runs again;
    ``dl3`` adds a ``dl2_to_dl3`` burst (``2 * subruns + 10`` lines) per (re)processed run.
    """
    reruns = min(max(reprocess, 0), runs)
    n = runs * subruns + reruns * subruns
    c = calibration + (max(calibration, 1) if reprocess > 0 else 0)
    d = n if dl2 else 0
    t = runs + reruns if dl3 else 0  # dl2_to_dl3 activities
    counts = {
        "session": 3 * n + 2 * c + d + t,
        "start": 3 * n + 2 * c + d + t,
        "parameters": n + d + t,
        "entity": 17 * n + 7 * c + 7 * d + t * (subruns + 3),
        "used": 11 * n + 3 * c + 6 * d + t * (subruns + 2),
        "generated": 6 * n + 4 * c + d + t,
        "derived": n,
        "member": 0,
        "end": 3 * n + 2 * c + d + t,
        "warning": n,
    }
    counts["total"] = sum(counts.values())
    assert counts["total"] == (
        LINES_PER_SUBRUN * n
        + LINES_PER_CALIBRATION * c
        + LINES_PER_DL2 * d
        + t * (2 * subruns + 10)
    )
    return counts


def generate_night(
    runs: int = 2,
    subruns: int = 3,
    *,
    date: str = "20200117",
    seed: int = 1,
    packages: int = 170,
    interleave: int = 1,
    calibration: int = 1,
    first_run: int = 1807,
    base_dir: str = DEFAULT_BASE,
    connected_calibration: bool = False,
    simulate: bool = False,
    zero_us_rate: float = 0.001,
    dl2: bool = False,
    reprocess: int = 0,
    dl3: bool = False,
) -> Iterator[bytes]:
    """Yield the lines (``bytes`` ending in ``b"\\n"``) of a synthetic lstosa ``prov.log``.

    Parameters
    ----------
    runs, subruns:
        Data runs, and subruns per run; each subrun gives 46 lines.
    date:
        Observation date ``YYYYMMDD``; processing starts the next morning.
    seed:
        Seed of every random choice: the same arguments give the same bytes.
    packages:
        Entries in ``system.python.packages`` of each session record (170 -> ~20 kB lines).
    interleave:
        Number of concurrent processes whose bursts interleave line by line (1: sequential).
    calibration:
        Calibration sequences (drs4_pedestal + calibrate_charge bursts, 20 lines each).
    first_run:
        Number of the first data run.
    base_dir:
        Root of the data tree in file paths.
    connected_calibration:
        If true, r0_to_dl1 uses the calibration files at the paths calibrate_charge
        generated; by default it uses another prod-id folder, as in the real sample (§2.3).
    simulate:
        Add ``-s`` to the command lines (lstosa dry-run, as in the sample).
    zero_us_rate:
        Probability that a generated time is rounded up to a whole second.
    dl2:
        Add a ``dl1_to_dl2`` burst per subrun (18 lines), as lstosa traced it before 2025.
    reprocess:
        After the night, rerun the calibration (same output paths, ``REPROCESS_VERSION``)
        and then reprocess the first ``reprocess`` runs (same paths, new generations);
        the later runs keep products made from the old calibration (stale).
    dl3:
        Needs ``dl2``. After the subruns, one ``dl2_to_dl3`` burst per run (and per
        reprocessed run): every DL2 subrun file of the run, the IRF file and the DL3 tool
        config used, the run's DL3 file generated.
    """
    if runs < 0 or subruns < 0 or calibration < 0 or packages < 0:
        raise ValueError("runs, subruns, calibration and packages must not be negative")
    if interleave < 1:
        raise ValueError("interleave must be at least 1")
    if first_run < 1:
        raise ValueError("first_run must be positive")
    if reprocess < 0:
        raise ValueError("reprocess must not be negative")
    if dl3 and not dl2:
        raise ValueError("dl3 needs dl2 (the DL3 step reads the DL2 subrun files)")
    if not 0.0 <= zero_us_rate <= 1.0:
        raise ValueError("zero_us_rate must be a probability")
    try:
        obs_date = datetime.strptime(date, "%Y%m%d")
    except ValueError:
        raise ValueError(f"date must be YYYYMMDD, not {date!r}") from None
    night = _Night(
        runs=runs,
        subruns=subruns,
        obs_date=obs_date,
        seed=seed,
        packages=packages,
        interleave=interleave,
        calibration=calibration,
        first_run=first_run,
        base=base_dir.rstrip("/") or "/",
        connected=connected_calibration,
        simulate=simulate,
        zero_us_rate=zero_us_rate,
        dl2=dl2,
        reprocess=reprocess,
        dl3=dl3,
    )
    return night.lines()


def ctapipe_log(
    runs: int,
    *,
    date: str = "20200117",
    seed: int = 1,
    first_run: int = 1807,
    base_dir: str = DEFAULT_BASE,
    failures: int = 0,
) -> Iterator[str]:
    """The ctapipe provenance log (glued JSON arrays, as text chunks) of lstchain's
    run-wise ``lstchain_dl1_to_dl2`` for the runs of the night (``synthetic_ctapipe.py``):
    same base folder, RF models and DL2 folder as the ``--dl2`` bursts, ``failures`` calls
    ending with status ``error`` and exit code 1."""
    from synthetic_ctapipe import generate_ctapipe_log, run_paths

    base = base_dir.rstrip("/") or "/"
    models = f"{(base.rsplit('/', 1)[0] or '/').rstrip('/')}/{MODELS_DIR}"
    paths = {
        run: run_paths(
            run,
            date=date,
            base_dir=base,
            prod_id=PROD_ID,
            dl1_prod_id=DL1_PROD_ID,
            dl2_prod_id=DL2_PROD_ID,
            models_dir=models,
            config=f"{SOFTWARE_ROOT}/{DL2_CONFIG}",
        )
        for run in range(first_run, first_run + runs)
    }
    return generate_ctapipe_log(
        runs, date=date, first_run=first_run, failures=failures, seed=seed, paths=paths
    )


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="make_synthetic.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--runs", type=int, default=2, help="data runs (default 2)")
    p.add_argument("--subruns", type=int, default=3, help="subruns per run (default 3)")
    p.add_argument("--out", required=True, help="output file ('-' for stdout)")
    p.add_argument("--date", default="20200117", help="observation date YYYYMMDD")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    p.add_argument(
        "--packages",
        type=int,
        default=170,
        help="entries of system.python.packages per session record (170 -> ~20 kB)",
    )
    p.add_argument(
        "--interleave",
        type=int,
        default=1,
        help="concurrent SLURM tasks whose bursts interleave line by line (default 1: "
        "sequential, like the sample)",
    )
    p.add_argument(
        "--calibration",
        type=int,
        default=1,
        help="calibration sequences, each a drs4_pedestal + calibrate_charge burst pair "
        "(default 1, as in the sample)",
    )
    p.add_argument("--first-run", type=int, default=1807, help="first data run number")
    p.add_argument("--base-dir", default=DEFAULT_BASE, help="root of the data file paths")
    p.add_argument(
        "--connected-calibration",
        action="store_true",
        help="r0_to_dl1 uses the calibration files at the paths calibrate_charge generated "
        "(default: another prod-id folder, as in the real sample)",
    )
    p.add_argument("--simulate", action="store_true", help="add '-s' to the command lines")
    p.add_argument(
        "--zero-us-rate",
        type=float,
        default=0.001,
        help="probability that a time falls on a whole second (no microseconds)",
    )
    p.add_argument("--gzip", action="store_true", help="gzip the output (level 6)")
    p.add_argument(
        "--dl2",
        action="store_true",
        help="add a dl1_to_dl2 burst per subrun (18 lines), as lstosa traced it before 2025",
    )
    p.add_argument(
        "--dl3",
        action="store_true",
        help="with --dl2: add a dl2_to_dl3 burst per run (all the run's DL2 subrun files, "
        "the IRF and the DL3 config -> the run's DL3 file)",
    )
    p.add_argument(
        "--reprocess",
        type=int,
        default=0,
        metavar="N",
        help="after the night, rerun the calibration (same paths, newer software_version) "
        "and reprocess the first N runs; later runs keep stale products (default 0)",
    )
    p.add_argument(
        "--ctapipe-log",
        metavar="PATH",
        help="also write a ctapipe provenance log of lstchain_dl1_to_dl2 for each run",
    )
    p.add_argument(
        "--failures",
        type=int,
        default=0,
        metavar="K",
        help="with --ctapipe-log: K tool runs end with status error, exit code 1",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        lines = generate_night(
            args.runs,
            args.subruns,
            date=args.date,
            seed=args.seed,
            packages=args.packages,
            interleave=args.interleave,
            calibration=args.calibration,
            first_run=args.first_run,
            base_dir=args.base_dir,
            connected_calibration=args.connected_calibration,
            simulate=args.simulate,
            zero_us_rate=args.zero_us_rate,
            dl2=args.dl2,
            reprocess=args.reprocess,
            dl3=args.dl3,
        )
        if args.failures and not args.ctapipe_log:
            raise ValueError("--failures needs --ctapipe-log PATH")
        if args.ctapipe_log:
            chunks = list(
                ctapipe_log(
                    args.runs,
                    date=args.date,
                    seed=args.seed,
                    first_run=args.first_run,
                    base_dir=args.base_dir,
                    failures=args.failures,
                )
            )
    except ValueError as exc:
        print(f"make_synthetic: {exc}", file=sys.stderr)
        return 2
    if args.ctapipe_log:
        Path(args.ctapipe_log).write_text("".join(chunks))
        print(
            f"make_synthetic: {len(chunks)} ctapipe activities ({args.failures} failed) "
            f"-> {args.ctapipe_log}",
            file=sys.stderr,
        )
    t0 = time.perf_counter()
    n_lines = n_bytes = 0
    with contextlib.ExitStack() as stack:
        if args.out == "-":
            sink: Any = sys.stdout.buffer
        else:
            sink = stack.enter_context(open(args.out, "wb"))
        if args.gzip:
            sink = stack.enter_context(gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6))
        buf: list[bytes] = []
        size = 0
        for line in lines:
            buf.append(line)
            size += len(line)
            n_lines += 1
            if size >= 1 << 20:  # write in ~1 MB chunks
                sink.write(b"".join(buf))
                n_bytes += size
                buf, size = [], 0
        sink.write(b"".join(buf))
        n_bytes += size
        sink.flush()
    seconds = time.perf_counter() - t0
    mb = n_bytes / 1e6
    extra = ""
    if args.gzip and args.out != "-":
        extra = f", {Path(args.out).stat().st_size / 1e6:.1f} MB gzipped"
    print(
        f"make_synthetic: {n_lines} lines, {n_bytes} bytes ({mb:.1f} MB{extra}) "
        f"in {seconds:.2f} s ({mb / seconds if seconds else 0:.1f} MB/s) -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
