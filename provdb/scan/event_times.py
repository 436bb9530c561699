"""The time range of a DL1/DL2 HDF5 file: its earliest and latest valid event time.

ObsCore's ``t_min``/``t_max`` (MJD, UTC) of a DL3 file come from its header; DL1/DL2
files have no header for it, but every event carries its time:

* lstchain: ``dragon_time`` (else ``trigger_time``, ``ucts_time``, ``tib_time``: the
  same preference as the pointing, :mod:`provdb.scan.pointing`) in
  ``/dl1|dl2/event/telescope/parameters/LST_LSTCam``, Unix seconds, UTC;
* ctapipe: ``time`` in ``/dl1|dl2/event/subarray/trigger``, with its format and scale in
  the table's attributes (``[CTAFIELD_]time_TIME_FORMAT``/``..._TIME_SCALE``; ctapipe
  writes MJD in TAI when they are missing).

The first table that has a valid time gives the range. A valid time is finite and
positive (lstchain writes 0 for an event whose timestamp is missing). The earliest and
the latest value are taken, not the first and last rows: events of parallel streams are
not strictly ordered. Only the time column is read, chunk by chunk, every row of the
table (a float per event: a few MB for a whole run); astropy converts the two values
to MJD in UTC without downloading anything.
"""

from __future__ import annotations

import warnings
from typing import Any

from provdb.scan.pointing import _attr, _matching, _register_filters, _tables

__all__ = ["read_event_times", "to_mjd_utc"]

_CHUNK = 262_144

#: (table path pattern, time columns in preference order, default format, default scale)
_TIME_TABLES = (
    (
        r"/dl[12]/event/telescope/parameters/LST_LSTCam",
        ("dragon_time", "trigger_time", "ucts_time", "tib_time"),
        "unix",
        "utc",
    ),
    (r"/dl[12]/event/subarray/trigger", ("time",), "mjd", "tai"),
)


def read_event_times(f: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The range of the event times of an open :class:`h5py.File`, and what could not
    be read.

    Returns
    -------
    (times, warnings)
        ``times`` is ``None`` when no table has a valid event time, else a dict with
        ``t_min``, ``t_max`` (MJD, UTC), ``start_utc``, ``stop_utc`` (ISO), ``node`` and
        ``column`` (where), ``time_format``/``time_scale`` (as stored), ``events``
        (rows with a valid time) and ``rows`` (rows of the table).
    """
    notes: list[str] = []
    _register_filters()
    tables = _tables(f)
    for pattern, columns, default_format, default_scale in _TIME_TABLES:
        for name in _matching(tables, pattern):
            ds = f[name]
            fields = ds.dtype.names or ()
            column = next((c for c in columns if c in fields), None)
            if column is None:
                continue
            found = _time_range(ds, column, notes)
            if found is None:
                continue
            low, high, events = found
            time_format = _attr(ds, column, "TIME_FORMAT") or default_format
            time_scale = _attr(ds, column, "TIME_SCALE") or default_scale
            try:
                (t_min, start), (t_max, stop) = (
                    to_mjd_utc(v, time_format, time_scale) for v in (low, high)
                )
            except Exception as exc:  # astropy: unknown format or scale
                notes.append(f"{name}: {column} not converted to MJD: {exc}")
                continue
            return {
                "t_min": t_min,
                "t_max": t_max,
                "start_utc": start,
                "stop_utc": stop,
                "node": name,
                "column": column,
                "time_format": time_format,
                "time_scale": time_scale,
                "events": events,
                "rows": int(ds.shape[0]),
            }, notes
    return None, notes


def to_mjd_utc(value: float, time_format: str, time_scale: str) -> tuple[float, str]:
    """``value`` (in astropy's ``time_format`` and ``time_scale``) as MJD in UTC, and as
    ISO text; astropy downloads nothing (no leap-second or IERS update)."""
    from astropy.time import Time
    from astropy.utils import iers

    with iers.conf.set_temp("auto_download", False), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # beyond the bundled tables: a warning, not an error
        when = Time(value, format=time_format.lower(), scale=time_scale.lower()).utc
        return float(when.mjd), when.isot


def _time_range(ds: Any, column: str, notes: list[str]) -> tuple[float, float, int] | None:
    """(earliest, latest, count) of the valid values of ``column``, read in chunks."""
    import numpy as np

    if ds.ndim != 1 or ds.dtype[column].kind not in "fiu" or ds.dtype[column].shape:
        notes.append(f"{ds.name}: {column} is not a number per event: not used")
        return None
    total = int(ds.shape[0])
    low, high, count = np.inf, -np.inf, 0
    try:
        for start in range(0, total, _CHUNK):
            values = ds.fields(column)[start : min(start + _CHUNK, total)].astype(float)
            values = values[np.isfinite(values) & (values > 0)]
            if len(values):
                low, high = min(low, float(values.min())), max(high, float(values.max()))
                count += len(values)
    except Exception as exc:  # h5py: unreadable chunk, unsupported filter
        notes.append(f"{ds.name}: {column} not readable: {exc}")
        return None
    if not count:
        if total:
            notes.append(f"{ds.name}: no valid {column} in {total:,} rows")
        return None
    return low, high, count
