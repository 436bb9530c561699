"""DL1/DL2 time range: ``provdb scan`` reads the earliest and latest valid event time of
the real lstchain sample files (with the event-time column added, as lstchain writes it:
the shipped samples have none) and ivoa.obscore gets t_min/t_max in MJD; files without
event times keep NULLs. Expected MJDs are computed here from the Unix epoch (MJD 40587)
and the TAI-UTC offset, not with provdb's conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from provdb.scan.hdf5 import read_hdf5
from tests.conftest import run_cli
from tests.provdb.test_pointing import (  # noqa: F401 - products: the fixture
    T0,
    assert_read_but,
    products,
    scanned_obscore,
)

DL2_TABLE = "dl2/event/telescope/parameters/LST_LSTCam"
DL1_TABLE = "dl1/event/telescope/parameters/LST_LSTCam"
#: MJD of the Unix epoch 1970-01-01T00:00:00 UTC
UNIX_EPOCH_MJD = 40587.0
#: TAI - UTC since 2017-01-01 (seconds)
TAI_UTC = 37.0


def _mjd(unix: float) -> float:
    return UNIX_EPOCH_MJD + unix / 86400.0


def _set_times(path: Path, table: str, times: list[float]) -> None:
    """Overwrite the ``dragon_time`` column of ``table`` (it keeps its compression)."""
    import h5py
    import hdf5plugin  # noqa: F401 - lstchain's tables are blosc-compressed

    with h5py.File(path, "a") as f:
        data = f[table][()]
        data["dragon_time"] = times
        f[table][...] = data


@pytest.fixture
def timed(products: dict[str, Path]) -> dict[str, Path]:  # noqa: F811
    # events out of order, one with no timestamp (0) and one NaN: neither counts
    _set_times(products["dl2"], DL2_TABLE, [0.0, np.nan, T0 + 30, T0 + 10, T0 + 40])
    return products


def test_reader_gives_the_earliest_and_latest_valid_event_time(timed: dict[str, Path]) -> None:
    meta = read_hdf5(timed["dl2"])
    assert meta.error is None
    times = meta.extra["event_times"]
    assert times["node"] == "/" + DL2_TABLE and times["column"] == "dragon_time"
    assert (times["time_format"], times["time_scale"]) == ("unix", "utc")
    assert (times["events"], times["rows"]) == (3, 5)
    assert times["t_min"] == pytest.approx(_mjd(T0 + 10), abs=1e-8)  # 1 ms
    assert times["t_max"] == pytest.approx(_mjd(T0 + 40), abs=1e-8)
    assert times["start_utc"] == "2020-01-17T23:10:10.000"
    assert times["stop_utc"] == "2020-01-17T23:10:40.000"
    dl1 = read_hdf5(timed["dl1"]).extra["event_times"]  # T0 .. T0 + 40, all valid
    assert dl1["t_min"] == pytest.approx(_mjd(T0), abs=1e-8)
    assert dl1["t_max"] == pytest.approx(_mjd(T0 + 40), abs=1e-8)
    assert "event_times" not in read_hdf5(timed["bare"]).extra


def test_ctapipe_trigger_times_are_mjd_tai_unless_the_table_says(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "dl1_LST-1.Run02000.0000.h5"
    mjd_tai = 58865.9654  # 2020-01-17, in TAI
    with h5py.File(path, "w") as f:
        data = np.zeros(4, dtype=[("obs_id", "<i4"), ("time", "<f8")])
        data["time"] = [mjd_tai + 0.001, mjd_tai, np.inf, mjd_tai + 0.002]
        f.create_dataset("dl1/event/subarray/trigger", data=data)
        unix = np.zeros(2, dtype=[("time", "<f8")])
        unix["time"] = [T0, T0 + 5]
        ds = f.create_dataset("dl2/event/subarray/trigger", data=unix)
        ds.attrs["CTAFIELD_time_TIME_FORMAT"] = "unix"
        ds.attrs["time_TIME_SCALE"] = np.bytes_(b"utc")
    times = read_hdf5(path).extra["event_times"]
    assert times["node"] == "/dl1/event/subarray/trigger" and times["events"] == 3
    assert (times["time_format"], times["time_scale"]) == ("mjd", "tai")
    assert times["t_min"] == pytest.approx(mjd_tai - TAI_UTC / 86400, abs=1e-8)
    assert times["t_max"] == pytest.approx(mjd_tai + 0.002 - TAI_UTC / 86400, abs=1e-8)
    # the table's attributes say Unix UTC: read as such
    with h5py.File(path, "a") as f:
        del f["dl1/event/subarray/trigger"]
    times = read_hdf5(path).extra["event_times"]
    assert (times["time_format"], times["time_scale"]) == ("unix", "utc")
    assert times["t_max"] == pytest.approx(_mjd(T0 + 5), abs=1e-8)


@pytest.mark.parametrize(
    ("dtype", "fill", "attrs", "warning"),
    [
        ("<f8", 0.0, {}, "no valid dragon_time in 3 rows"),
        ("<f8", np.nan, {}, "no valid dragon_time in 3 rows"),
        ("S8", b"x", {}, "dragon_time is not a number per event"),
        ("<f8", T0, {"dragon_time_TIME_SCALE": "martian"}, "dragon_time not converted to MJD"),
    ],
)
def test_bad_event_times_are_a_warning_not_a_failure(
    tmp_path: Path, dtype: str, fill: object, attrs: dict[str, str], warning: str
) -> None:
    import h5py

    path = tmp_path / "dl2_LST-1.Run02000.0000.h5"
    with h5py.File(path, "w") as f:
        f.attrs["LSTCHAIN_VERSION"] = "0.9.13"
        data = np.zeros(3, dtype=[("event_id", "<i8"), ("dragon_time", dtype)])
        data["dragon_time"] = fill
        ds = f.create_dataset(DL2_TABLE, data=data)
        for key, value in attrs.items():
            ds.attrs[key] = value
    assert_read_but(path, "event_times", warning)


def test_scan_fills_obscore_time_range_for_dl1_and_dl2(
    engine: sa.Engine, cli_env: dict[str, str], timed: dict[str, Path]
) -> None:
    rows = scanned_obscore(timed["dl1"].parent, cli_env, engine)
    expected = {"dl1": (T0, T0 + 40), "dl2": (T0 + 10, T0 + 40)}
    for key, (start, stop) in expected.items():
        row = rows[str(timed[key])]
        assert row["t_min"] == pytest.approx(_mjd(start), abs=1e-8), key
        assert row["t_max"] == pytest.approx(_mjd(stop), abs=1e-8), key
    bare = rows[str(timed["bare"])]
    assert (bare["t_min"], bare["t_max"]) == (None, None)
    # an ObsCore time search now finds the DL1/DL2 products of that night
    with engine.connect() as c:
        found = c.execute(
            sa.text(
                "SELECT data_level FROM ivoa.obscore WHERE t_min < :end AND t_max > :begin "
                "ORDER BY data_level"
            ),
            {"begin": _mjd(T0 + 35), "end": _mjd(T0 + 36)},
        ).scalars()
        assert list(found) == ["DL1", "DL2"]


def test_rescan_fills_the_time_range_of_files_scanned_by_an_older_provdb(
    engine: sa.Engine, cli_env: dict[str, str], timed: dict[str, Path]
) -> None:
    folder = str(timed["dl2"].parent)
    assert run_cli("scan", "-q", folder, env=cli_env).returncode == 0
    # what a provdb without event times left: no event_times, no t_min in ObsCore
    with engine.begin() as c:
        c.execute(
            sa.text("UPDATE provenance.entity SET attributes = attributes #- :p"),
            {"p": "{scan,event_times}"},
        )
    assert run_cli("obscore", "--rebuild", env=cli_env).returncode == 0

    def t_min() -> float | None:
        with engine.connect() as c:
            return c.execute(
                sa.text("SELECT t_min FROM ivoa.obscore WHERE location = :l"),
                {"l": str(timed["dl2"])},
            ).scalar_one()

    assert t_min() is None
    again = run_cli("scan", folder, env=cli_env)
    assert again.returncode == 0 and t_min() is None  # unchanged files are skipped
    rescan = run_cli("scan", "--rescan", folder, env=cli_env)
    assert rescan.returncode == 0, rescan.stderr + rescan.stdout
    assert t_min() == pytest.approx(_mjd(T0 + 10), abs=1e-8)
    assert "--rescan" in run_cli("scan", "--help").stdout
