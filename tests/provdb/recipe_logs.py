"""Small provenance logs whose answers are known by construction (reproduce/diff tests).

``reprocessing_log`` writes an lstosa prov.log: calibration C generated at t1 by a session
of lstchain v0.9.1, read at t2; regenerated at t3 by a session of v0.12.3; read again at
t4.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sqlalchemy as sa

from provdb.ingest.pipeline import ingest_file


def ingest(engine: sa.Engine, path: Path) -> None:
    """Ingest one log through the real ingest; it must load cleanly."""
    raw = engine.raw_connection()
    try:
        result = ingest_file(raw.driver_connection, path)
    finally:
        raw.close()
    assert result.status == "new" and result.rejects == 0, result.error


def records(path: Path) -> list[dict]:
    """The payloads of an lstosa prov.log (``__PROV__`` split + ``ast.literal_eval``)."""
    out = []
    for line in path.read_text().splitlines():
        parts = line.split("__PROV__")
        if len(parts) == 3:
            out.append(ast.literal_eval(parts[2]))
    return out


def line(time: str, payload: dict) -> str:
    """One lstosa provenance log line."""
    return f"INFO provLogger __PROV__{time}__PROV__{payload!r}\n"


def session(sid: str, start: str, version: str) -> dict:
    """An lstosa session record (calibration runs 01804/01809, lstchain ``version``)."""
    return {
        "session_id": sid,
        "name": "01804-01809",
        "startTime": start,
        "observation_date": "20200117",
        "software_version": version,
        "config_file": "/cfg/sequencer.cfg",
        "config_file_hash": "c" * 32,
        "config_file_hash_type": "md5",
        "pedestal_run": "01804",
        "calibration_run": "01809",
    }


def activity(
    aid: str, name: str, sid: str, start: str, end: str, used: dict, generated: dict
) -> list[str]:
    """Log lines of one lstosa activity: start, entities used/generated, end."""
    out = [
        line(
            start,
            {
                "activity_id": aid,
                "name": name,
                "startTime": start,
                "in_session": sid,
                "agent_name": "Anonymous",
                "script": f"/bin/{name}",
            },
        )
    ]
    for kind, table in (("used", used), ("generated", generated)):
        for eid, (role, path) in table.items():
            out.append(
                line(
                    start,
                    {
                        "entity_id": eid,
                        "name": role.replace(" ", ""),
                        "filepath": path,
                        "hash": eid,
                        "hash_type": "md5",
                        "type": "File",
                    },
                )
            )
            out.append(line(start, {"activity_id": aid, f"{kind}_id": eid, f"{kind}_role": role}))
    out.append(line(end, {"activity_id": aid, "endTime": end}))
    return out


# reprocessing: calibration C generated at t1 (v0.9.1), read at t2; regenerated at t3
# (v0.12.3); read again at t4.
RAW_CAL = ("a" * 32, ("Subrun for calibration", "/raw/LST-1.1.Run01809.fits.fz"))
CAL = ("b" * 32, ("Coefficients calibration file", "/cal/calibration.Run01809.h5"))
OBS2 = ("d" * 32, ("Observation subrun", "/raw/LST-1.1.Run01807.0002.fits.fz"))
OBS4 = ("e" * 32, ("Observation subrun", "/raw/LST-1.1.Run01807.0004.fits.fz"))
P2 = ("1" * 32, ("DL1 subrun dataset", "/dl1/dl1_LST-1.Run01807.0002.h5"))
P4 = ("4" * 32, ("DL1 subrun dataset", "/dl1/dl1_LST-1.Run01807.0004.h5"))
T1, T2, T3, T4 = (f"2026-01-0{d}T10:00:00.000000" for d in (1, 2, 3, 4))


def end_of(t: str) -> str:
    """Five minutes after ``t``."""
    return t.replace("10:00", "10:05")


def reprocessing_log(path: Path) -> Path:
    """Write the reprocessing scenario (see the module docstring) to ``path``."""
    lines = [line(T1, session("s1", T1, "v0.9.1"))]
    lines += activity("c1", "calibrate_charge", "s1", T1, end_of(T1), dict([RAW_CAL]), dict([CAL]))
    lines += [line(T2, session("s2", T2, "v0.9.1"))]
    lines += activity("r2", "r0_to_dl1", "s2", T2, end_of(T2), dict([CAL, OBS2]), dict([P2]))
    lines += [line(T3, session("s3", T3, "v0.12.3"))]
    lines += activity("c3", "calibrate_charge", "s3", T3, end_of(T3), dict([RAW_CAL]), dict([CAL]))
    lines += [line(T4, session("s4", T4, "v0.12.3"))]
    lines += activity("r4", "r0_to_dl1", "s4", T4, end_of(T4), dict([CAL, OBS4]), dict([P4]))
    path.write_text("".join(lines))
    return path
