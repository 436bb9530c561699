"""Small real DL3 event lists (GADF layout, written with astropy) and the ctapipe
provenance logs of the chain that made them: R0 -> DL1 -> DL2 -> DL3 per run.

The scenario of issue 14 ("LST-1 DL3 event lists within 2 degrees of the Crab made with
lstchain 0.9.13 and not flagged"): :data:`RUNS` holds runs that match and runs that miss
it for one reason each (pointing, version, a failed ancestor).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CRAB = (83.633, 22.0145)
MJDREF = 40587.0  # 1970-01-01, as lstchain's DL3 files
CTAPIPE = "0.19.2"


@dataclass(frozen=True)
class Run:
    run: int
    ra: float
    dec: float
    target: str
    lstchain: str
    dl2_status: str = "completed"  # "error": the DL3 file has a failed ancestor

    @property
    def tag(self) -> str:
        return f"Run{self.run:05d}"


RUNS = (
    Run(2001, CRAB[0] + 0.4, CRAB[1], "Crab", "0.9.13"),  # wobble: matches
    Run(2002, CRAB[0], CRAB[1] + 0.4, "Crab", "0.9.13"),  # matches
    Run(2003, CRAB[0] - 0.4, CRAB[1], "Crab", "0.9.13", dl2_status="error"),  # flagged
    Run(2004, CRAB[0], CRAB[1] - 0.4, "Crab", "0.10.5"),  # other lstchain version
    Run(2005, 166.114, 38.209, "Mrk421", "0.9.13"),  # far from the Crab
)
#: the runs the scenario finds
EXPECTED = (2001, 2002)
TSTART0 = 1_579_300_000.0  # 2020-01-17T22:26:40 UTC, seconds since MJDREF


def tstart(run: Run) -> float:
    return TSTART0 + (run.run - 2001) * 1500.0


def write_dl3(path: Path, run: Run, *, n_events: int = 50) -> Path:
    """One GADF event list: primary HDU, EVENTS (RA_PNT, DEC_PNT, TSTART, ...), GTI."""
    from astropy.io import fits

    rng = np.random.default_rng(run.run)
    t0 = tstart(run)
    duration = 1200.0
    events = fits.BinTableHDU.from_columns(
        [
            fits.Column("EVENT_ID", "K", array=np.arange(n_events, dtype=np.int64)),
            fits.Column(
                "TIME", "D", unit="s", array=t0 + np.sort(rng.uniform(0, duration, n_events))
            ),
            fits.Column("RA", "E", unit="deg", array=run.ra + rng.normal(0, 1, n_events)),
            fits.Column("DEC", "E", unit="deg", array=run.dec + rng.normal(0, 1, n_events)),
            fits.Column("ENERGY", "E", unit="TeV", array=rng.uniform(0.02, 80, n_events)),
        ],
        name="EVENTS",
    )
    h = events.header
    cards = {
        "HDUCLASS": "GADF", "HDUDOC": "https://gamma-astro-data-formats.readthedocs.io",
        "HDUVERS": "0.2", "HDUCLAS1": "EVENTS", "OBS_ID": run.run, "OBJECT": run.target,
        "RA_PNT": run.ra, "DEC_PNT": run.dec, "RA_OBJ": CRAB[0], "DEC_OBJ": CRAB[1],
        "RADECSYS": "ICRS", "EQUINOX": 2000.0, "TSTART": t0, "TSTOP": t0 + duration,
        "ONTIME": duration, "LIVETIME": duration * 0.95, "DEADC": 0.95,
        "MJDREFI": int(MJDREF), "MJDREFF": MJDREF - int(MJDREF), "TIMEUNIT": "s",
        "TIMESYS": "UTC", "TIMEREF": "TOPOCENTER", "TELESCOP": "CTA-N", "INSTRUME": "LST-1",
        "CREATOR": f"lstchain v{run.lstchain}",
        "TLMIN5": 0.02, "TLMAX5": 80.0,
    }  # fmt: skip
    for key, value in cards.items():
        h[key] = value
    gti = fits.BinTableHDU.from_columns(
        [
            fits.Column("START", "D", unit="s", array=[t0]),
            fits.Column("STOP", "D", unit="s", array=[t0 + duration]),
        ],
        name="GTI",
    )
    gti.header["HDUCLASS"] = "GADF"
    gti.header["HDUCLAS1"] = "GTI"
    primary = fits.PrimaryHDU()
    primary.header["CREATOR"] = f"lstchain v{run.lstchain}"
    primary.header["TELESCOP"] = "CTA-N"
    fits.HDUList([primary, events, gti]).writeto(path, overwrite=True)
    return path


def _activity(
    name: str, uuid: str, run: Run, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]],
    *, status: str = "completed", minute: int = 0,
) -> dict[str, Any]:  # fmt: skip
    start = f"2020-01-18T0{minute // 60}:{minute % 60:02d}:00.000"
    stop = f"2020-01-18T0{minute // 60}:{minute % 60:02d}:30.000"
    return {
        "activity_name": name,
        "activity_uuid": uuid,
        "status": status,
        "start": {"time_utc": start},
        "stop": {"time_utc": stop},
        "system": {
            "ctapipe_version": CTAPIPE,
            "python": {
                "packages": [
                    {"name": "ctapipe", "version": CTAPIPE},
                    {"name": "lstchain", "version": run.lstchain},
                ]
            },
        },
        "input": [{"url": u, "role": r, "reference_meta": None} for u, r in inputs],
        "output": [{"url": u, "role": r, "reference_meta": None} for u, r in outputs],
        "exit_code": 0 if status == "completed" else 1,
    }


def write_run(folder: Path, run: Run) -> tuple[Path, Path]:
    """The DL3 file of ``run`` and the ctapipe provenance log of its chain."""
    folder.mkdir(parents=True, exist_ok=True)
    r0 = f"/data/R0/LST-1.1.{run.tag}.0000.fits.fz"
    dl1 = str(folder / f"dl1_LST-1.{run.tag}.h5")
    dl2 = str(folder / f"dl2_LST-1.{run.tag}.h5")
    dl3 = folder / f"dl3_LST-1.{run.tag}.fits"
    write_dl3(dl3, run)
    n = run.run
    activities = [
        _activity("lstchain_data_r0_to_dl1", f"00000000-0000-4000-8000-{n:012d}", run,
                  [(r0, "r0 input file")], [(dl1, "dl1 output file")], minute=n % 50),
        _activity("lstchain_dl1_to_dl2", f"00000000-0000-4000-9000-{n:012d}", run,
                  [(dl1, "dl1 input file")], [(dl2, "dl2 output file")],
                  status=run.dl2_status, minute=n % 50 + 1),
        _activity("lstchain_create_dl3_file", f"00000000-0000-4000-a000-{n:012d}", run,
                  [(dl2, "dl2 input file")], [(str(dl3), "dl3 output file")],
                  minute=n % 50 + 2),
    ]  # fmt: skip
    log = folder / f"lstchain_{run.tag}.provenance.log"
    log.write_text(json.dumps(activities, indent=3), encoding="utf-8")
    return dl3, log


def write_all(folder: Path) -> tuple[list[Path], list[Path]]:
    """Every run of :data:`RUNS`: (DL3 files, logs)."""
    pairs = [write_run(folder, run) for run in RUNS]
    return [p[0] for p in pairs], [p[1] for p in pairs]
