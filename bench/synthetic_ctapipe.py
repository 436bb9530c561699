"""Synthetic ctapipe provenance log of lstchain's run-wise ``lstchain_dl1_to_dl2`` tool.

Since lstosa PR #280 (2025-03) DL2 is produced run-wise by lstchain's ctapipe ``Tool``
``lstchain_dl1_to_dl2``, whose provenance goes to a ctapipe provenance log (spec §4):
each tool run appends ``json.dumps([activity], indent=3)`` with no trailing newline,
so consecutive runs glue their arrays as ``][`` (ctapipe issue #3058). The activities
copy the key order and shape of the real sample
``generated/ctapipe_tool/lstchain-demo-dl1-to-dl2.provenance.log``:

* ``input``: the tool configuration (role ``Tool Configuration``, registered first when
  ctapipe loads it), the random-forest model directory (``RF models``, at position 1 as
  ``lstchain_get_RF_models`` reads it) and the run's merged DL1 file (``dl1 input file``);
* ``output``: the run's DL2 file (``dl2 output file``), registered even when the tool
  then fails;
* ``status`` ``completed`` / ``exit_code`` 0, or for ``failures`` seeded runs ``error`` /
  1 after a shorter time; ``duration_min`` from the start and stop times (minutes);
* ``system`` like ctapipe's (``ctapipe_version``, platform, python packages as name and
  version, environment, ``arguments``, ``start_time_utc``), ``config`` a nested dict of
  the tool's traitlets.

The runs start in the afternoon after the night's lstosa processing, one after the
other. Used by ``make_synthetic.py --ctapipe-log``; the library entry point is
:func:`generate_ctapipe_log`.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

__all__ = ["CTAPIPE_VERSION", "TOOL_NAME", "generate_ctapipe_log", "run_paths"]

TOOL_NAME = "lstchain_dl1_to_dl2"
CTAPIPE_VERSION = "0.25.1"
LSTCHAIN_VERSION = "0.12.3"
_ENV = "/fefs/aswg/envs/osa"


def run_paths(
    run: int,
    *,
    date: str,
    base_dir: str,
    prod_id: str,
    dl1_prod_id: str,
    dl2_prod_id: str,
    models_dir: str,
    config: str,
) -> dict[str, str]:
    """The files one run's tool call reads and writes (keys ``config``, ``models``,
    ``dl1``, ``dl2``): the merged DL1 file of the run and its run-wise DL2 file."""
    base = base_dir.rstrip("/") or "/"
    return {
        "config": config,
        "models": models_dir,
        "dl1": f"{base}/DL1/{date}/{prod_id}/{dl1_prod_id}/dl1_LST-1.Run{run:05d}.h5",
        "dl2": f"{base}/DL2/{date}/{prod_id}/{dl2_prod_id}/dl2_LST-1.Run{run:05d}.h5",
    }


def _utc(t: datetime) -> str:
    """ctapipe's time text: ISO with milliseconds, no zone (UTC)."""
    return t.isoformat(timespec="milliseconds")


def generate_ctapipe_log(
    runs: int,
    *,
    date: str,
    first_run: int,
    failures: int = 0,
    seed: int = 1,
    paths: dict[int, dict[str, str]],
    packages: int = 170,
) -> Iterator[str]:
    """Yield the text of a ctapipe provenance log, one glued JSON array per tool run.

    Parameters
    ----------
    runs, first_run:
        One tool call per run ``first_run .. first_run + runs - 1``.
    date:
        Observation date ``YYYYMMDD``; the calls start at 13:00 UTC the next day.
    failures:
        How many calls (chosen with ``seed``) end with status ``error``, exit code 1.
    seed:
        Seed of every random choice (uuids, durations, failing runs).
    paths:
        For each run number, the :func:`run_paths` of its call.
    packages:
        Entries of ``system.python.packages``.
    """
    if not 0 <= failures <= runs:
        raise ValueError(f"failures must be between 0 and the number of runs ({runs})")
    rng = random.Random(f"{seed}:ctapipe")
    failing = set(rng.sample(range(runs), failures))
    pkgs = [
        {"name": f"package-{i:03d}", "version": f"{i % 7}.{i % 13}.{i % 5}"}
        for i in range(packages)
    ]
    pkgs[:3] = [
        {"name": "ctapipe", "version": CTAPIPE_VERSION},
        {"name": "lstchain", "version": LSTCHAIN_VERSION},
        {"name": "numpy", "version": "1.26.4"},
    ]
    now = datetime.strptime(date, "%Y%m%d") + timedelta(days=1, hours=13)
    now += timedelta(seconds=rng.randrange(0, 1800))
    node = f"cp{rng.randrange(1, 41):02d}"
    for index in range(runs):
        run = first_run + index
        p = paths[run]
        failed = index in failing
        start = now + timedelta(milliseconds=rng.randrange(5_000, 60_000))
        seconds = rng.uniform(20, 300) if failed else rng.uniform(480, 1500)
        stop = start + timedelta(seconds=seconds)
        now = stop
        arguments = [
            f"{_ENV}/bin/{TOOL_NAME}",
            f"--input-file={p['dl1']}",
            f"--path-models={p['models']}",
            f"--output-dir={p['dl2'].rsplit('/', 1)[0]}",
            f"--config={p['config']}",
        ]
        activity = {
            "activity_name": TOOL_NAME,
            "activity_uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "status": "error" if failed else "completed",
            "start": {"time_utc": _utc(start)},
            "stop": {"time_utc": _utc(stop)},
            "system": {
                "ctapipe_version": CTAPIPE_VERSION,
                "ctapipe_svc_path": None,
                "executable": f"{_ENV}/bin/python3.11",
                "platform": {
                    "architecture_bits": "64bit",
                    "architecture_linkage": "ELF",
                    "machine": "x86_64",
                    "processor": "x86_64",
                    "node": node,
                    "version": "#1 SMP Wed Oct 4 12:00:00 UTC 2023",
                    "system": "Linux",
                    "release": "3.10.0-1160.102.1.el7.x86_64",
                    "libcver": ["glibc", "2.17"],
                    "n_cpus": 64,
                    "boot_time": _utc(start - timedelta(days=12, seconds=start.second)),
                },
                "python": {
                    "version_string": "3.11.7 | packaged by conda-forge",
                    "version": "3.11.7",
                    "compiler": "GCC 12.3.0",
                    "implementation": "CPython",
                    "packages": pkgs,
                },
                "environment": {
                    "CONDA_DEFAULT_ENV": "osa",
                    "CONDA_PREFIX": _ENV,
                    "USER": "lstanalyzer",
                    "HOME": "/fefs/home/lstanalyzer",
                    "SHELL": "/bin/bash",
                },
                "arguments": arguments,
                "start_time_utc": _utc(start + timedelta(milliseconds=rng.randrange(1, 400))),
            },
            "input": [
                {"url": p["config"], "role": "Tool Configuration", "reference_meta": None},
                {"url": p["models"], "role": "RF models", "reference_meta": None},
                {"url": p["dl1"], "role": "dl1 input file", "reference_meta": None},
            ],
            "output": [{"url": p["dl2"], "role": "dl2 output file", "reference_meta": None}],
            "exit_code": 1 if failed else 0,
            "config": {
                "DL1ToDL2": {
                    "config_files": [p["config"]],
                    "input_file": p["dl1"],
                    "path_models": p["models"],
                    "output_dir": p["dl2"].rsplit("/", 1)[0],
                    "log_level": 30,
                    "overwrite": False,
                }
            },
            "duration_min": seconds / 60,
        }
        yield json.dumps([activity], indent=3)
