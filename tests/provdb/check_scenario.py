"""Small lstosa prov.log scenarios whose check findings are known by construction.

A night (20200117, run 01807), written as lstosa writes it
(``INFO provLogger __PROV__<time>__PROV__<python dict repr>``):

* part 1, session A (lstchain v0.9.0) at 20:00: calibrate_charge uses the raw
  calibration run and generates CAL;
* part 1, session B (v0.9.0) at 21:00: r0_to_dl1 for subruns 0000, 0001, 0002 (each
  uses its R0 subrun and CAL, generates DL1.<subrun>); subrun 0001's r0_to_dl1 never
  logs its end; subrun 0002 also uses a pedestal file nothing generated;
  dl1_datacheck for subruns 0000 and 0001 only (uses DL1, generates DCHK);
* part 2, session C (v0.10.0) at 23:00: calibrate_charge regenerates CAL.

Expected, by construction:

* stale (after part 2): every DL1 and DCHK (made at 21:00 from CAL, regenerated 23:00);
* mixed-versions (after part 2): CAL (made by 0.9.0 and 0.10.0), every DL1 and DCHK;
* failed-ancestor: DL1.0001 (own activity never ended) and DCHK.0001 (its ancestor);
* missing-input: DL1.0002 (the pedestal file);
* incomplete-run: run 20200117_01807, dl1_datacheck missing for subrun 0002.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

NIGHT = "20200117"
ROOT = "/data/lst/test_checks"
SUBRUNS = ("0000", "0001", "0002")


def fid(path: str) -> str:
    """lstosa's entity id: the md5 of the path."""
    return hashlib.md5(path.encode()).hexdigest()


def paths(root: str = ROOT) -> dict[str, str]:
    """The scenario's files by short name."""
    out = {
        "RAWCAL": f"{root}/R0G/{NIGHT}/LST-1.1.Run01809.fits.fz",
        "CAL": f"{root}/calibration/{NIGHT}/calibration_filters_52.Run01809.0000.h5",
        "PED": f"{root}/drs4_baseline/{NIGHT}/drs4_pedestal.Run01804.0000.h5",
    }
    for s in SUBRUNS:
        out[f"R0.{s}"] = f"{root}/R0G/{NIGHT}/LST-1.1.Run01807.{s}.fits.fz"
        out[f"DL1.{s}"] = f"{root}/DL1/{NIGHT}/dl1_LST-1.Run01807.{s}.h5"
        out[f"DCHK.{s}"] = f"{root}/DL1/{NIGHT}/datacheck_dl1_LST-1.Run01807.{s}.h5"
    return out


def _line(time: str, record: dict) -> str:
    return f"INFO provLogger __PROV__{time}__PROV__{record!r}\n"


class _Log:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.lines: list[str] = []

    def session(
        self,
        sid: str,
        time: str,
        version: str,
        tag: str,
        run: str = "01807",
        packages: dict[str, str] | None = None,
    ) -> None:
        system = {
            "python": {"packages": [{"name": n, "version": v} for n, v in (packages or {}).items()]}
        }
        self.lines.append(
            _line(
                time,
                {
                    "session_id": sid,
                    **({"system": system} if packages else {}),
                    "name": run,
                    "startTime": time,
                    "observation_date": NIGHT,
                    "software_version": version,
                    "observation_run": run,
                    "session_tag": tag,
                },
            )
        )

    def activity(
        self,
        aid: str,
        name: str,
        sid: str,
        start: str,
        tag: str,
        used: list[tuple[str, str]],
        generated: list[tuple[str, str]],
        end: str | None,
    ) -> None:
        self.lines.append(
            _line(
                start,
                {
                    "activity_id": aid,
                    "name": name,
                    "startTime": start,
                    "in_session": sid,
                    "agent_name": "Anonymous",
                    "script": "/opt/lstosa/bin/datasequence",
                    "session_tag": tag,
                },
            )
        )
        for short, kind in used + generated:
            path = self.files[short]
            self.lines.append(
                _line(
                    start,
                    {
                        "entity_id": fid(path),
                        "name": kind,
                        "filepath": path,
                        "hash": fid(path),
                        "hash_type": "md5",
                        "type": "File",
                        "session_tag": tag,
                    },
                )
            )
        for short, _ in used:
            rec = {"activity_id": aid, "used_id": fid(self.files[short]), "used_role": "input"}
            self.lines.append(_line(start, {**rec, "session_tag": tag}))
        for short, _ in generated:
            rec = {"activity_id": aid, "generated_id": fid(self.files[short])}
            self.lines.append(_line(start, {**rec, "generated_role": "output", "session_tag": tag}))
        if end is not None:
            self.lines.append(_line(end, {"activity_id": aid, "endTime": end, "session_tag": tag}))


def part1(files: dict[str, str]) -> str:
    """Calibration at 20:00 and the subrun processing at 21:00 (lstchain v0.9.0)."""
    log = _Log(files)
    tag = "calibrate_charge:01804-01809"
    log.session("0180401809", "2026-01-17T20:00:00", "v0.9.0", tag, run="01809")
    log.activity(
        "c00001",
        "calibrate_charge",
        "0180401809",
        "2026-01-17T20:00:00",
        tag,
        [("RAWCAL", "RawObservationFile")],
        [("CAL", "CoefficientsCalibrationFile")],
        "2026-01-17T20:10:00",
    )
    for i, s in enumerate(SUBRUNS):
        # lstosa logs the session again before every traced call
        log.session("2020011701807", f"2026-01-17T21:{i}0:00", "v0.9.0", "r0_to_dl1:01807")
        used = [(f"R0.{s}", "R0SubrunDataset"), ("CAL", "CoefficientsCalibrationFile")]
        if s == "0002":
            used.append(("PED", "PedestalFile"))
        end = None if s == "0001" else f"2026-01-17T21:{i}5:00"
        log.activity(
            f"d1{i:04d}",
            "r0_to_dl1",
            "2020011701807",
            f"2026-01-17T21:{i}0:00",
            "r0_to_dl1:01807",
            used,
            [(f"DL1.{s}", "DL1SubrunDataset")],
            end,
        )
    for i, s in enumerate(SUBRUNS[:2]):
        log.session("2020011701807", f"2026-01-17T22:{i}0:00", "v0.9.0", "dl1_datacheck:01807")
        log.activity(
            f"dc{i:04d}",
            "dl1_datacheck",
            "2020011701807",
            f"2026-01-17T22:{i}0:00",
            "dl1_datacheck:01807",
            [(f"DL1.{s}", "DL1SubrunDataset")],
            [(f"DCHK.{s}", "DL1CheckSubrunDataset")],
            f"2026-01-17T22:{i}5:00",
        )
    return "".join(log.lines)


def part2(files: dict[str, str]) -> str:
    """CAL regenerated at 23:00 with lstchain v0.10.0."""
    log = _Log(files)
    tag = "calibrate_charge:01804-01809"
    # its environment lists another lstchain: the declared software_version wins
    packages = {"lstchain": "9.9.9", "numpy": "1.26.4"}
    log.session("0180401809", "2026-01-17T23:00:00", "v0.10.0", tag, run="01809", packages=packages)
    log.activity(
        "c00002",
        "calibrate_charge",
        "0180401809",
        "2026-01-17T23:00:00",
        tag,
        [("RAWCAL", "RawObservationFile")],
        [("CAL", "CoefficientsCalibrationFile")],
        "2026-01-17T23:10:00",
    )
    return "".join(log.lines)


def write(directory: Path, name: str, text: str) -> Path:
    """Write a prov.log."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def expected(files: dict[str, str], *, regenerated: bool) -> set[tuple[str, str]]:
    """(rule, entity id) of the entity findings expected after part 1 (and part 2)."""
    dl1 = [f"DL1.{s}" for s in SUBRUNS]
    dchk = [f"DCHK.{s}" for s in SUBRUNS[:2]]
    out = {("failed-ancestor", "DL1.0001"), ("failed-ancestor", "DCHK.0001")}
    out.add(("missing-input", "DL1.0002"))
    if regenerated:
        out |= {("stale", x) for x in dl1 + dchk}
        out |= {("mixed-versions", x) for x in ["CAL", *dl1, *dchk]}
    return {(rule, fid(files[short])) for rule, short in out}


def remake_dl1(files: dict[str, str]) -> str:
    """Subrun 0000's DL1 made again at 23:30 (v0.10.0) from the CAL regenerated at 23:00:
    it is no longer stale; DCHK.0000, made at 22:00 from the old one, still is."""
    log = _Log(files)
    log.session("2020011701807", "2026-01-17T23:30:00", "v0.10.0", "r0_to_dl1:01807")
    log.activity(
        "d1redo",
        "r0_to_dl1",
        "2020011701807",
        "2026-01-17T23:30:00",
        "r0_to_dl1:01807",
        [("R0.0000", "R0SubrunDataset"), ("CAL", "CoefficientsCalibrationFile")],
        [("DL1.0000", "DL1SubrunDataset")],
        "2026-01-17T23:35:00",
    )
    return "".join(log.lines)
