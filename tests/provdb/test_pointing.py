"""DL1/DL2 pointing: derived by ``provdb scan`` from the event/pointing tables of the real
lstchain sample files (with pointing columns added, as lstchain writes them: the
shipped samples have none) and checked against an independent astropy computation;
ivoa.obscore gets s_ra/s_dec/s_fov/s_region; files without pointing keep NULLs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from provdb.scan.hdf5 import read_hdf5
from tests.conftest import run_cli

H5 = Path("generated/lstchain_hdf5")
CRAB = (83.633, 22.0145)
#: 2020-01-17T23:10:00 UTC (night of run 01807), Unix seconds
T0 = 1579302600.0
#: LST-1, as ctapipe_io_lst gives it (written here independently of provdb's constant)
SITE = (-17.89149701, 28.76152611, 2184 + 15.885)


def _crab_altaz(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alt/az (radians) of the Crab seen from LST-1 at ``times`` (Unix UTC): astropy."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord
    from astropy.time import Time
    from astropy.utils import iers

    with iers.conf.set_temp("auto_download", False):
        site = EarthLocation.from_geodetic(SITE[0] * u.deg, SITE[1] * u.deg, SITE[2] * u.m)
        frame = AltAz(obstime=Time(times, format="unix", scale="utc"), location=site)
        altaz = SkyCoord(ra=CRAB[0] * u.deg, dec=CRAB[1] * u.deg).transform_to(frame)
    return altaz.alt.rad, altaz.az.rad


def _add_pointing(path: Path, table: str, n: int = 5, nan_rows: int = 2) -> None:
    """Rewrite ``table`` of an lstchain file with alt_tel/az_tel (rad) and dragon_time
    (Unix s), as lstchain's DL1/DL2 parameter tables have them; the first ``nan_rows``
    events have no pointing (lstchain imputes those)."""
    import h5py
    import hdf5plugin

    times = T0 + np.arange(n) * 10.0
    alt, az = _crab_altaz(times)
    alt[:nan_rows] = np.nan
    with h5py.File(path, "a") as f:
        old = f[table][()] if table in f else np.zeros(n, dtype=[("obs_id", "<i8")])
        attrs = dict(f[table].attrs) if table in f else {"CLASS": np.bytes_(b"TABLE")}
        if table in f:
            del f[table]
        dtype = [*old.dtype.descr, ("alt_tel", "<f8"), ("az_tel", "<f8"), ("dragon_time", "<f8")]
        data = np.zeros(n, dtype=dtype)
        for name in old.dtype.names:
            data[name] = old[name][:n] if len(old) >= n else np.resize(old[name], n)
        data["alt_tel"], data["az_tel"], data["dragon_time"] = alt, az, times
        # blosc/zstd, as PyTables compresses lstchain's tables
        ds = f.create_dataset(table, data=data, chunks=True, **hdf5plugin.Blosc(cname="zstd"))
        for key, value in attrs.items():
            ds.attrs[key] = value


def assert_read_but(path: Path, extra: str, warning: str) -> None:
    """``path`` reads without error but without ``extra`` (the rest, its lstchain version,
    is read), with a warning holding ``warning``."""
    meta = read_hdf5(path)
    assert meta.error is None and extra not in meta.extra
    assert [v.package for v in meta.versions] == ["lstchain"]  # the rest was read
    assert any(warning in w for w in meta.warnings), meta.warnings


def scanned_obscore(
    folder: Path, cli_env: dict[str, str], engine: sa.Engine
) -> dict[str, dict[str, object]]:
    """``provdb scan FOLDER``, then the ivoa.obscore rows by location."""
    scan = run_cli("scan", str(folder), env=cli_env)
    assert scan.returncode == 0, scan.stderr + scan.stdout
    with engine.connect() as c:
        return {
            r["location"]: dict(r)
            for r in c.execute(sa.text("SELECT * FROM ivoa.obscore")).mappings()
        }


@pytest.fixture
def products(samples: Path, tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "data"
    folder.mkdir()
    dl2 = folder / "dl2_LST-1.Run01807.0000.h5"
    shutil.copy(samples / H5 / dl2.name, dl2)
    _add_pointing(dl2, "dl2/event/telescope/parameters/LST_LSTCam")
    dl1 = folder / "dl1_LST-1.Run01807.0001.h5"
    shutil.copy(samples / H5 / "dl1_meta_sample.h5", dl1)
    _add_pointing(dl1, "dl1/event/telescope/parameters/LST_LSTCam", nan_rows=0)
    bare = folder / "dl2_LST-1.Run01807.0002.h5"  # the sample as shipped: no pointing
    shutil.copy(samples / H5 / "dl2_LST-1.Run01807.0000.h5", bare)
    return {"dl1": dl1, "dl2": dl2, "bare": bare}


def _separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    a1, d1, a2, d2 = map(np.radians, (ra1, dec1, ra2, dec2))
    c = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(a1 - a2)
    return float(np.degrees(np.arccos(np.clip(c, -1, 1))))


def test_reader_gives_the_icrs_pointing_of_the_first_valid_event(
    products: dict[str, Path],
) -> None:
    meta = read_hdf5(products["dl2"])
    assert meta.error is None
    p = meta.extra["pointing"]
    assert p["method"] == "altaz-first-row" and p["row"] == 2  # rows 0, 1 have NaN
    assert p["node"] == "/dl2/event/telescope/parameters/LST_LSTCam"
    assert p["time_utc"].startswith("2020-01-17T23:10:20")
    # the Crab's alt/az written into the file comes back as the Crab (to 1 arcsecond)
    assert _separation_deg(p["ra"], p["dec"], *CRAB) < 1 / 3600
    assert read_hdf5(products["dl1"]).extra["pointing"]["row"] == 0
    assert "pointing" not in read_hdf5(products["bare"]).extra


def test_radec_columns_win_and_units_are_read(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "dl1_LST-1.Run02000.0000.h5"
    with h5py.File(path, "w") as f:
        data = np.zeros(2, dtype=[("time", "<f8"), ("array_ra", "<f8"), ("array_dec", "<f8")])
        data["array_ra"], data["array_dec"] = np.radians(CRAB[0]), np.radians(CRAB[1])
        ds = f.create_dataset("dl1/monitoring/subarray/pointing", data=data)
        ds.attrs["CTAFIELD_array_ra_UNIT"] = "rad"
        ds.attrs["array_dec_UNIT"] = np.bytes_(b"rad")
    p = read_hdf5(path).extra["pointing"]
    assert p["method"] == "radec-column"
    assert p["ra"] == pytest.approx(CRAB[0]) and p["dec"] == pytest.approx(CRAB[1])


@pytest.mark.parametrize(
    ("unit", "fill", "warning"),
    [
        ("m", 0.5, "is not an angle"),
        ("rad", np.nan, "no row with a valid"),
    ],
)
def test_bad_pointing_data_is_a_warning_not_a_failure(
    tmp_path: Path, unit: str, fill: float, warning: str
) -> None:
    import h5py

    path = tmp_path / "dl2_LST-1.Run02000.0000.h5"
    with h5py.File(path, "w") as f:
        f.attrs["LSTCHAIN_VERSION"] = "0.9.13"
        data = np.zeros(3, dtype=[("alt_tel", "<f8"), ("az_tel", "<f8"), ("dragon_time", "<f8")])
        data["alt_tel"], data["az_tel"], data["dragon_time"] = fill, fill, T0
        ds = f.create_dataset("dl2/event/telescope/parameters/LST_LSTCam", data=data)
        ds.attrs["alt_tel_UNIT"] = unit
    assert_read_but(path, "pointing", warning)


def test_scan_fills_obscore_pointing_for_dl1_and_dl2(
    engine: sa.Engine, cli_env: dict[str, str], products: dict[str, Path]
) -> None:
    rows = scanned_obscore(products["dl1"].parent, cli_env, engine)
    for key, level in (("dl1", "DL1"), ("dl2", "DL2")):
        row = rows[str(products[key])]
        assert row["data_level"] == level and row["calib_level"] == 1
        assert _separation_deg(row["s_ra"], row["s_dec"], *CRAB) < 1 / 3600
        assert row["s_fov"] == 4.5
        assert row["s_region"] == f"CIRCLE ICRS {row['s_ra']} {row['s_dec']} 2.25"
    bare = rows[str(products["bare"])]
    assert [bare[k] for k in ("s_ra", "s_dec", "s_fov", "s_region")] == [None] * 4
    # an ObsCore cone search now finds the DL1/DL2 products of the run
    with engine.connect() as c:
        near = c.execute(
            sa.text(
                "SELECT data_level FROM ivoa.obscore WHERE s_dec BETWEEN 20 AND 24 "
                "AND s_ra BETWEEN 81 AND 86 ORDER BY data_level"
            )
        ).scalars()
        assert list(near) == ["DL1", "DL2"]
