"""The sky pointing of a DL1/DL2 HDF5 file, in ICRS, from the rows that carry it.

lstchain keeps the pointing per event, not in a header: ``alt_tel``/``az_tel`` (radians)
with the event time ``dragon_time`` (Unix seconds, UTC) in
``/dl1/event/telescope/parameters/LST_LSTCam`` and ``/dl2/...``; ctapipe writes
monitoring tables (``/dl0|dl1/monitoring/subarray/pointing``: ``array_ra``/``array_dec``
or ``array_altitude``/``array_azimuth``; ``/dl1/monitoring/telescope/pointing/tel_NNN``:
``altitude``/``azimuth``) with their units and time format in the table's attributes
(``[CTAFIELD_]<column>_UNIT``, ``..._TIME_FORMAT``, ``..._TIME_SCALE``).

The choice (what :func:`read_pointing` returns):

* **RA/Dec columns win** when a table has them (the pipeline already did the
  transformation): the first row with finite values;
* otherwise **the first row with a finite alt, az and time** is transformed from
  AltAz at LST-1's location (:data:`LST1_LOCATION`) to ICRS with astropy — exactly what
  lstchain's ``create_event_list`` does for the ``RA_PNT``/``DEC_PNT`` of the DL3 file of
  the same run, so the DL1, DL2 and DL3 rows of one run agree. A tracking telescope
  keeps its ICRS direction while alt/az change, so the mean of alt/az over the run
  would be wrong, and one row is enough;
* astropy never downloads anything here (IERS auto-download off): times outside its
  bundled Earth-rotation tables are computed without polar motion, about an arcsecond
  off, far below a 4.5 degree field of view.

Only the few columns needed are read, in chunks, never the whole table (lstchain's
tables are blosc-compressed by PyTables: ``hdf5plugin`` gives h5py that filter).
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from typing import Any

__all__ = ["LST1_LOCATION", "MAX_ROWS", "altaz_to_icrs", "read_pointing"]

#: LST-1 (longitude east, latitude in degrees, height in metres): ctapipe_io_lst's
#: ``LST1_LOCATION`` (central pin height 2184 m + 15.885 m to the elevation axis)
LST1_LOCATION = (-17.89149701, 28.76152611, 2199.885)
#: rows of one table looked at, at most, for a first valid one
MAX_ROWS = 1_000_000
_CHUNK = 65_536

#: (table path pattern, RA column, Dec column)
_RADEC = (
    (r"/dl[01]/monitoring/subarray/pointing", "array_ra", "array_dec"),
    (r"/dl[12]/event/telescope/parameters/LST_LSTCam", "pointing_ra", "pointing_dec"),
    (r"/dl[12]/event/telescope/parameters/LST_LSTCam", "ra_tel", "dec_tel"),
)
#: (table path pattern, altitude column, azimuth column, time columns in preference order)
_ALTAZ = (
    (
        r"/dl[12]/event/telescope/parameters/LST_LSTCam",
        "alt_tel",
        "az_tel",
        ("dragon_time", "trigger_time", "ucts_time", "tib_time"),
    ),
    (r"/dl[12]/monitoring/telescope/pointing/tel_0*1", "altitude", "azimuth", ("time",)),
    (r"/dl[01]/monitoring/subarray/pointing", "array_altitude", "array_azimuth", ("time",)),
)
#: units of the columns when the table does not say (lstchain writes no unit attributes)
_DEFAULT_UNITS = {"alt_tel": "rad", "az_tel": "rad"}
_TO_DEG = {"deg": 1.0, "degree": 1.0, "rad": 180.0 / math.pi, "radian": 180.0 / math.pi}


def read_pointing(f: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The pointing of an open :class:`h5py.File`, and what could not be read.

    Returns
    -------
    (pointing, warnings)
        ``pointing`` is ``None`` when the file has no pointing data, else a dict with
        ``ra``, ``dec`` (degrees, ICRS), ``method`` (``radec-column`` or
        ``altaz-first-row``), ``node`` and ``row`` (where), and for ``altaz-first-row``
        ``alt``, ``az`` (degrees), ``time_utc`` (ISO) and ``location``.
    """
    notes: list[str] = []
    _register_filters()
    tables = _tables(f)
    for pattern, ra_col, dec_col in _RADEC:
        for name in _matching(tables, pattern):
            found = _first_valid(f[name], (ra_col, dec_col), None, notes)
            if found is None:
                continue
            row, (ra, dec), _ = found
            scale = [_unit_to_deg(f[name], c, "deg", notes) for c in (ra_col, dec_col)]
            if None in scale:
                continue
            ra, dec = ra * scale[0], dec * scale[1]
            if not -90.0 <= dec <= 90.0:
                notes.append(f"{name}: {dec_col} {dec} is not a declination: not used")
                continue
            return {
                "ra": ra % 360.0,
                "dec": dec,
                "frame": "icrs",
                "method": "radec-column",
                "node": name,
                "row": row,
            }, notes
    for pattern, alt_col, az_col, time_cols in _ALTAZ:
        for name in _matching(tables, pattern):
            ds = f[name]
            fields = ds.dtype.names or ()
            time_col = next((c for c in time_cols if c in fields), None)
            if time_col is None or alt_col not in fields or az_col not in fields:
                continue
            found = _first_valid(ds, (alt_col, az_col), time_col, notes)
            if found is None:
                continue
            row, (alt, az), when = found
            scale = [_unit_to_deg(ds, c, _DEFAULT_UNITS.get(c), notes) for c in (alt_col, az_col)]
            time_format = _attr(ds, time_col, "TIME_FORMAT") or "unix"
            time_scale = _attr(ds, time_col, "TIME_SCALE") or "utc"
            if None in scale:
                continue
            alt, az = alt * scale[0], az * scale[1]
            try:
                ra, dec, iso = altaz_to_icrs(alt, az, when, time_format, time_scale)
            except Exception as exc:  # astropy: bad time format/scale, bad angles
                notes.append(f"{name}: pointing not transformed to ICRS: {exc}")
                continue
            return {
                "ra": ra,
                "dec": dec,
                "frame": "icrs",
                "method": "altaz-first-row",
                "node": name,
                "row": row,
                "alt": alt,
                "az": az,
                "time_utc": iso,
                "location": "LST-1 (lon -17.89149701, lat 28.76152611, height 2199.885 m)",
            }, notes
    return None, notes


def altaz_to_icrs(
    alt_deg: float,
    az_deg: float,
    time: float,
    time_format: str = "unix",
    time_scale: str = "utc",
    location: tuple[float, float, float] = LST1_LOCATION,
) -> tuple[float, float, str]:
    """ICRS (ra, dec in degrees) of a direction seen at ``location`` at ``time``, and
    that time in UTC (ISO); astropy downloads nothing (see the module docstring)."""
    import astropy.units as u
    from astropy.coordinates import ICRS, AltAz, EarthLocation, SkyCoord
    from astropy.time import Time
    from astropy.utils import iers

    with iers.conf.set_temp("auto_download", False), warnings.catch_warnings():
        # beyond the bundled IERS tables astropy warns and uses no polar motion
        warnings.simplefilter("ignore")
        site = EarthLocation.from_geodetic(
            location[0] * u.deg, location[1] * u.deg, location[2] * u.m
        )
        when = Time(time, format=time_format, scale=time_scale)
        frame = AltAz(obstime=when, location=site)
        icrs = SkyCoord(alt=alt_deg * u.deg, az=az_deg * u.deg, frame=frame).transform_to(ICRS())
        return float(icrs.ra.deg), float(icrs.dec.deg), when.utc.isot


# ----------------------------------------------------------------------------- helpers


def _register_filters() -> None:
    """Make PyTables' compression filters (blosc, blosc2, zstd...: lstchain's tables are
    blosc-compressed) readable by h5py; without hdf5plugin those tables give a warning."""
    with contextlib.suppress(ImportError):
        import hdf5plugin  # noqa: F401  (registers the filters on import)


def _tables(f: Any) -> list[str]:
    """Compound datasets (tables) below the usual pointing groups, as absolute paths."""
    import h5py

    out: list[str] = []
    for top in ("dl0", "dl1", "dl2"):
        group = f.get(top, default=None)
        if not isinstance(group, h5py.Group):
            continue

        def visit(name: str, obj: Any, top: str = top) -> None:
            if isinstance(obj, h5py.Dataset) and obj.dtype.names and len(out) < 1000:
                out.append(f"/{top}/{name}")

        group.visititems(visit)
    return out


def _matching(tables: list[str], pattern: str) -> list[str]:
    rx = re.compile(pattern + r"$")
    return [t for t in tables if rx.match(t)]


def _attr(ds: Any, column: str, what: str) -> str | None:
    """``CTAFIELD_<column>_<what>`` (ctapipe >= 0.20) or ``<column>_<what>`` as text."""
    for key in (f"CTAFIELD_{column}_{what}", f"{column}_{what}"):
        if key in ds.attrs:
            value = ds.attrs[key]
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            return str(value).strip()
    return None


def _unit_to_deg(ds: Any, column: str, default: str | None, notes: list[str]) -> float | None:
    unit = (_attr(ds, column, "UNIT") or default or "deg").lower()
    factor = _TO_DEG.get(unit)
    if factor is None:
        notes.append(f"{ds.name}: unit {unit!r} of {column} is not an angle: not used")
    return factor


def _first_valid(
    ds: Any, angles: tuple[str, str], time_col: str | None, notes: list[str]
) -> tuple[int, tuple[float, float], float | None] | None:
    """(row, angles, time) of the first row whose values are all finite; only these
    columns are read, chunk by chunk, up to :data:`MAX_ROWS` rows."""
    import numpy as np

    names = ds.dtype.names or ()
    columns = [c for c in (*angles, time_col) if c is not None]
    if any(c not in names for c in columns):
        return None
    if any(ds.dtype[c].kind not in "fiu" or ds.dtype[c].shape for c in columns):
        notes.append(f"{ds.name}: {', '.join(columns)} are not numbers: not used")
        return None
    if ds.ndim != 1:
        return None
    total = min(int(ds.shape[0]), MAX_ROWS)
    try:
        for start in range(0, total, _CHUNK):
            chunk = ds.fields(columns)[start : min(start + _CHUNK, total)]
            ok = np.ones(len(chunk), dtype=bool)
            for c in columns:
                ok &= np.isfinite(chunk[c].astype(float))
            hits = np.flatnonzero(ok)
            if len(hits):
                i = int(hits[0])
                values = chunk[i]
                when = float(values[time_col]) if time_col else None
                return start + i, (float(values[angles[0]]), float(values[angles[1]])), when
    except Exception as exc:  # h5py: unreadable chunk, unsupported filter
        notes.append(f"{ds.name}: pointing columns not readable: {exc}")
        return None
    if total:
        notes.append(f"{ds.name}: no row with a valid {', '.join(columns)} in {total:,} rows")
    return None
