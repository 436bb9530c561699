"""FITS metadata reader (astropy): headers and HISTORY of every HDU, never the data.

Software versions come from

* ``<NAME>_VERSION`` keywords (``HIERARCH LSTCHAIN_VERSION = '0.9.13'``) and ctapipe's
  reference metadata (``HIERARCH CTA ACTIVITY SOFTWARE NAME`` / ``... VERSION``);
* ``CREATOR``, ``PROGRAM``, ``SOFTWARE``, ``ORIGIN``, ``CREATPRG``, ``PROCSOFT`` holding
  ``'<name> [v]<version>'`` (lstchain writes ``CREATOR = 'lstchain v0.9.13'``), or a
  name whose version is in a companion keyword (``PROGRAM`` + ``PROGVER``...);
* HISTORY lines naming a known package with a version (``Created with ctapipe
  v0.19.2``), known packages being :data:`provdb.versions.TRACKED_PACKAGES`.

The primary header gives source ``file-root``, an extension ``file-table:<EXTNAME>``
(``file-table:HDU<n>`` without EXTNAME). A file whose headers end early or whose data
are shorter than its headers announce (a truncated copy) is an error.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

from provdb.scan.metadata import FileMetadata, VersionCollector, jsonable, text
from provdb.versions import TRACKED_PACKAGES

__all__ = ["CONTENT_TYPE", "FITS_SIGNATURE", "read_fits"]

#: A FITS file starts with this card.
FITS_SIGNATURE = b"SIMPLE  ="
CONTENT_TYPE = "application/fits"
MAX_HDUS = 1000
MAX_HISTORY = 1000
_MAX_CARDS = 500

#: keyword holding a software name (and often its version)
_NAME_KEYS = ("CREATOR", "PROGRAM", "SOFTWARE", "ORIGIN", "CREATPRG", "PROCSOFT")
#: companion version keywords of a name keyword
_COMPANIONS = {
    "PROGRAM": ("PROGVER", "PROG_VER", "PROGVERS"),
    "SOFTWARE": ("SOFTVER", "SWVERSN", "SW_VERS", "SOFTVERS"),
    "CREATOR": ("CREAVERS", "CREATVER", "CRVERS"),
    "CREATPRG": ("CREATVER",),
    "PROCSOFT": ("PROCVER",),
}
_NAME_VERSION = re.compile(
    r"^\s*([A-Za-z][A-Za-z0-9_.\-]*?)(?:\s+version)?[\s:=/@-]+v?(\d+\.\d+[0-9A-Za-z.+\-]*)\s*$",
    re.IGNORECASE,
)
_KNOWN = "|".join(
    sorted((re.escape(p).replace("_", "[_-]") for p in TRACKED_PACKAGES), key=len, reverse=True)
)
_HISTORY_VERSION = re.compile(
    rf"\b({_KNOWN})\b(?:\s+version)?[\s:=(]*v?(\d+\.\d+[0-9A-Za-z.+\-]*)", re.IGNORECASE
)
_LEVEL_TOKEN = re.compile(r"(?:^|[^A-Z0-9])(R0|R1|DL[0-5])(?![0-9])")
_LEVELS = ("R0", "R1", "DL0", "DL1", "DL2", "DL3", "DL4", "DL5")
#: observation keywords of a GADF event list (EVENTS header; the primary header as a
#: fallback) kept in ``attributes['scan']['observation']`` for ivoa.obscore
OBSERVATION_KEYS = (
    "OBS_ID", "OBJECT", "RA_PNT", "DEC_PNT", "RA_OBJ", "DEC_OBJ", "TSTART", "TSTOP",
    "MJDREFI", "MJDREFF", "TIMEUNIT", "TIMESYS", "TIMEREF", "ONTIME", "LIVETIME",
    "DEADC", "TELESCOP", "INSTRUME", "RADECSYS", "RADESYS", "EQUINOX", "DATE-OBS",
    "DATE-END",
)  # fmt: skip


def read_fits(path: str | os.PathLike[str]) -> FileMetadata:
    """Read the headers of one FITS file (gzip-compressed too). Never raises for a bad
    file: ``error`` says why it could not be read."""
    spath = os.fspath(path)
    meta = FileMetadata(path=spath, format="fits", content_type=CONTENT_TYPE)
    try:
        st = os.stat(spath)
    except OSError as exc:
        meta.error = exc.strerror or str(exc)
        return meta
    meta.size, meta.mtime = st.st_size, st.st_mtime
    try:
        from astropy.io import fits

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(
                spath, memmap=False, lazy_load_hdus=True, do_not_scale_image_data=True
            ) as hdul:
                size = _gzip_length(spath) if _is_gzip(spath) else st.st_size
                _read(hdul, meta, size)
        problems = [
            str(w.message)
            for w in caught
            if "truncated" in str(w.message).lower() or "corrupt" in str(w.message).lower()
        ]
        if problems and meta.error is None:
            first = " ".join(problems[0].split())
            meta.error = "truncated or corrupt FITS file: " + first.rstrip(".")
    except MemoryError:
        meta.error = "out of memory while reading the headers"
    except Exception as exc:  # astropy raises OSError, ValueError, VerifyError, ...
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
            message = exc.strerror
        elif "No SIMPLE card" in message:
            message = "not a FITS file (no SIMPLE card)"
        elif message[:1].isupper() and not message[1:2].isupper():
            message = message[0].lower() + message[1:]
        meta.error = f"cannot read as FITS: {message}"
    return meta


def _is_gzip(path: str) -> bool:
    from provdb.ingest.compression import compression_of

    try:
        with open(path, "rb") as fh:
            return compression_of(fh.read(6)) == "gzip"
    except OSError:
        return False


def _gzip_length(path: str) -> int | None:
    """Decompressed length of a gzip file, or ``None`` if its stream is broken or cut
    (streamed, nothing kept: astropy reads a truncated .fits.gz without complaint)."""
    import gzip
    import zlib

    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return total


def _header_dict(header: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for card in header.cards[:_MAX_CARDS]:
        key = card.keyword
        if not key or key in ("COMMENT", "HISTORY", ""):
            continue
        try:
            value = card.value
        except Exception:  # an unparsable card: keep its image
            value = card.image
        if type(value).__name__ == "Undefined":
            value = None
        out.setdefault(key, value)
    return out


def _read(hdul: Any, meta: FileMetadata, size: int | None) -> None:
    """Headers of every HDU; ``size``: the (decompressed) length of the file."""
    if size is None:
        meta.error = "truncated or corrupt FITS file: its gzip stream is cut or damaged"
        return
    versions = VersionCollector()
    hdus: list[dict[str, Any]] = []
    levels: list[str] = []
    padded = 0
    for index, hdu in enumerate(hdul):
        if index >= MAX_HDUS:
            meta.warnings.append(f"more than {MAX_HDUS} HDUs: the rest was not looked at")
            break
        header = hdu.header
        info = hdu.fileinfo() or {}
        end = (info.get("datLoc") or 0) + int(getattr(hdu, "size", 0) or 0)
        if end > size:
            meta.error = (
                f"truncated FITS file: HDU {index} needs {end:,} bytes, the file has {size:,}"
            )
            return
        padded = max(padded, (info.get("datLoc") or 0) + (info.get("datSpan") or 0))
        cards = _header_dict(header)
        extname = text(cards.get("EXTNAME"))
        source = "file-root" if index == 0 else f"file-table:{extname or f'HDU{index}'}"
        versions.from_mapping(cards, source)
        for key in _NAME_KEYS:
            value = text(cards.get(key))
            if not value:
                continue
            m = _NAME_VERSION.match(value)
            if m:
                versions.add(m.group(1), m.group(2), source, key)
                continue
            for companion in _COMPANIONS.get(key, ()):
                if cards.get(companion) is not None and re.fullmatch(r"[A-Za-z][\w.\-]*", value):
                    versions.add(value, cards[companion], source, f"{key}+{companion}")
                    break
        for entry in header.get("HISTORY", []):
            line = str(entry)
            if len(meta.history) < MAX_HISTORY:
                meta.history.append(line)
            for name, version in _HISTORY_VERSION.findall(line):
                versions.add(name, version, source, "HISTORY")
        declared = text(cards.get("CTA PRODUCT DATA LEVELS")) or ""
        levels += _LEVEL_TOKEN.findall(declared.upper())
        if str(cards.get("HDUCLAS1", "")).upper() == "EVENTS":
            levels.append("DL3")
            if "observation" not in meta.extra:
                meta.extra["observation"] = _observation(cards)
        hdus.append(
            {
                "index": index,
                "extname": extname,
                "type": type(hdu).__name__,
                "hduclass": [
                    text(cards[k]) for k in ("HDUCLAS1", "HDUCLAS2") if cards.get(k) is not None
                ]
                or None,
            }
        )
        if index == 0:
            meta.extra["primary_header"] = jsonable(cards)
    if size > padded and len(hdus) < MAX_HDUS:
        meta.error = (
            f"truncated or corrupt FITS file: {size - padded:,} bytes after the last complete HDU"
        )
        return
    if "observation" not in meta.extra and hdus:
        found = _observation(meta.extra.get("primary_header") or {})
        if "RA_PNT" in found or "OBS_ID" in found:
            meta.extra["observation"] = found
    meta.extra["hdus"] = jsonable(hdus)
    meta.versions = versions.result()
    if levels:
        meta.data_level = max(levels, key=_LEVELS.index)


def _observation(cards: dict[str, Any]) -> dict[str, Any]:
    """The observation keywords of one header, and the energy range of its ENERGY column
    (``TLMINn``/``TLMAXn`` with ``TUNITn``: header only, the events are never read)."""
    out = {k: cards[k] for k in OBSERVATION_KEYS if cards.get(k) is not None}
    for n in range(1, 1000):
        name = cards.get(f"TTYPE{n}")
        if name is None:
            break
        if str(name).strip().upper() != "ENERGY":
            continue
        for key, field in (("TLMIN", "E_MIN"), ("TLMAX", "E_MAX")):
            value = cards.get(f"{key}{n}")
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[field] = float(value)
        if cards.get(f"TUNIT{n}") is not None:
            out["E_UNIT"] = str(cards[f"TUNIT{n}"]).strip()
        break
    return jsonable(out)
