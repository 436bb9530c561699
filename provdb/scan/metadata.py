"""What ``provdb scan`` reads from a data file, and the decoding shared by the readers.

:class:`FileMetadata` is the result of a reader (:mod:`provdb.scan.hdf5`,
:mod:`provdb.scan.fits`): plain data only, so it crosses process boundaries
(``--jobs``) and turns into JSON as it is. The helpers here decide which attribute or
keyword is a software version and decode lstchain's ``config`` attribute, which comes
in three encodings (spec §5, edge case 29):

* JSON text (ctapipe's table writers) -> ``'json'``;
* a PyTables pickle of a dict -> ``'pickle'`` when :mod:`provdb.scan.safe_pickle` can
  rebuild it as plain data (nothing is ever unpickled), else ``'pickle-opaque'``: the
  bytes are kept base64-encoded with a note saying why;
* Python / traitlets repr text -> ``'python-literal'`` through :func:`ast.literal_eval`,
  or ``'text'`` (kept verbatim, with a note) when it is not a literal;
* anything else (binary, or too large to decode) -> ``'opaque'``: base64 and a note.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from provdb.scan.safe_pickle import NotPlainPickle, loads_plain, looks_like_pickle
from provdb.versions import normalize_package, parse_version

__all__ = [
    "CONFIG_ENCODINGS",
    "ConfigInfo",
    "FileMetadata",
    "FoundVersion",
    "VersionCollector",
    "decode_config",
    "json_text",
    "jsonable",
]

#: Values of :attr:`FileMetadata.config_encoding` / :attr:`ConfigInfo.encoding`.
CONFIG_ENCODINGS = ("json", "pickle", "pickle-opaque", "python-literal", "text", "opaque")

#: Opaque values larger than this are not kept, only their size and sha256.
MAX_OPAQUE_BYTES = 1 << 20
#: Longest config text decoded (larger ones are kept opaque).
MAX_CONFIG_BYTES = 16 << 20


class FoundVersion(NamedTuple):
    """A software version found in a file."""

    package: str  # normalised: lower case, '_' for '-'
    version: str  # as written, without a leading 'v'
    source: str  # 'file-root' or 'file-table:<node>'
    keyword: str  # the attribute / keyword it was read from


@dataclass
class ConfigInfo:
    """One distinct ``config`` attribute of a file (the nodes that carry it)."""

    nodes: list[str]
    encoding: str  # one of CONFIG_ENCODINGS
    value: Any = None  # decoded (json, pickle, python-literal) or text ('text')
    base64: str | None = None  # pickle-opaque
    sha256: str | None = None  # of the raw bytes
    size: int = 0  # raw bytes
    note: str | None = None


@dataclass
class FileMetadata:
    """Metadata of one data file (HDF5 or FITS), read without loading its data.

    Attributes
    ----------
    path, format, content_type, size, mtime:
        The file (absolute path), ``'hdf5'`` / ``'fits'``, MIME type, bytes, seconds
        since the epoch (both from the ``stat`` before reading).
    versions:
        :class:`FoundVersion` tuples ``(package, version, source, keyword)``: one per
        package and version, the first place it was found (root first).
    config, config_encoding:
        The first configuration that decoded to a dict (root first), and its encoding.
    configs:
        Every distinct ``config`` attribute (:class:`ConfigInfo`, as dicts).
    extra:
        Other metadata: HDF5 root attributes, FITS primary header keywords and HDU list.
    provenance:
        ``/provenance/<stage>`` activities (lstchain >= 0.10.16), by stage.
    data_level:
        ``R0``, ``R1``, ``DL1``...: from the file's structure, when it says.
    source_filenames:
        lstchain's ``/source_filenames/filenames`` (inputs of merged / dl1ab files).
    history:
        FITS HISTORY lines.
    content_hash, content_hash_type:
        With ``--hash``: hex digest of the content and its algorithm.
    warnings:
        Parts of the file that could not be read (the rest was).
    error:
        Why the file could not be read at all (then nothing else is meaningful).
    """

    path: str
    format: str | None = None
    content_type: str | None = None
    size: int = 0
    mtime: float = 0.0
    versions: list[FoundVersion] = field(default_factory=list)
    config: dict[str, Any] | None = None
    config_encoding: str | None = None
    configs: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    data_level: str | None = None
    source_filenames: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    content_hash: str | None = None
    content_hash_type: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


# ----------------------------------------------------------------------------- values


def text(value: Any) -> str | None:
    """A scalar attribute value as text (bytes decoded as UTF-8, errors replaced)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return text(item())
        except (ValueError, TypeError):
            return None
    return str(value)


def json_text(value: Any) -> str | None:
    """``value`` as JSON text if PostgreSQL's jsonb takes it as it is (no NUL character,
    no lone surrogate, no NaN/Infinity, only JSON types), else ``None``."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
        return None
    return None if "\\u0000" in text else text


def jsonable(value: Any, _depth: int = 0) -> Any:
    """A copy PostgreSQL jsonb accepts: NUL characters replaced, non-finite floats and
    unknown objects as text, bytes as text, non-string keys as JSON text."""
    if _depth == 0 and isinstance(value, dict | list):
        # the common case, done by the C encoder and decoder: JSON types only (NaN and
        # Infinity, which JSON configs may hold, become 'nan', 'inf' as below)
        try:
            text = json.dumps(value, ensure_ascii=False)
            text.encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError, RecursionError):
            text = None
        if text is not None and "\\u0000" not in text:
            return json.loads(text, parse_constant=_CONSTANTS.__getitem__)
    if _depth > 100:
        return "..."
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, bytes | bytearray):
        return _clean(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {_key(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, _depth + 1) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return jsonable(item(), _depth + 1)
        except (ValueError, TypeError):
            pass
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return jsonable(tolist(), _depth + 1)
    return _clean(str(value))


_CONSTANTS = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}


def _key(k: Any) -> str:
    """A dict key as JSON writes it (1 -> '1', True -> 'true', None -> 'null')."""
    if isinstance(k, str):
        return _clean(k)
    if k is None or isinstance(k, bool | int | float):
        return json.dumps(k)
    return _clean(str(k))


def _clean(s: str) -> str:
    """Text PostgreSQL can store: no NUL, no lone surrogates."""
    if "\x00" in s:
        s = s.replace("\x00", "\ufffd")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s


# ----------------------------------------------------------------------------- versions

#: ``<PACKAGE>_VERSION`` attributes / keywords that are formats, not software.
_NOT_SOFTWARE = frozenset({"pytables_format", "hdu", "data_model", "reference", "instrument"})
_VERSION_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_\-]*?)[_ ]VERSION$", re.IGNORECASE)
#: ctapipe's reference metadata (spec §4): software name and version in two keys
_CTA_NAME = "CTA ACTIVITY SOFTWARE NAME"
_CTA_VERSION = "CTA ACTIVITY SOFTWARE VERSION"


def version_key_package(key: str) -> str | None:
    """The package a ``<NAME>_VERSION`` key names, or ``None``.

    >>> version_key_package("CTAPIPE_IO_LST_VERSION")
    'ctapipe_io_lst'
    >>> version_key_package("PYTABLES_FORMAT_VERSION") is None
    True
    """
    m = _VERSION_KEY.match(key.strip())
    if m is None:
        return None
    package = normalize_package(m.group(1))
    if package in _NOT_SOFTWARE or package.startswith("cta_"):
        return None
    return package


class VersionCollector:
    """Collects versions of one file: one per (package, version), first place kept."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], FoundVersion] = {}

    def add(self, package: str | None, version: Any, source: str, keyword: str) -> None:
        if not package:
            return
        parsed = parse_version(text(version))
        if parsed is None:
            return
        pkg = _clean(normalize_package(package))
        ver = _clean(parsed[0])
        if not pkg or len(ver) > 200:
            return
        self.found.setdefault((pkg, ver), FoundVersion(pkg, ver, source, keyword))

    def from_mapping(self, attrs: dict[str, Any], source: str) -> None:
        """Versions among the attributes / keywords of one node or header."""
        for key, value in attrs.items():
            package = version_key_package(key)
            if package is not None:
                self.add(package, value, source, key)
        name = attrs.get(_CTA_NAME)
        if name is not None and attrs.get(_CTA_VERSION) is not None:
            self.add(text(name), attrs[_CTA_VERSION], source, _CTA_VERSION)

    def result(self) -> list[FoundVersion]:
        return list(self.found.values())


# ----------------------------------------------------------------------------- config


def decode_config(raw: Any, node: str) -> ConfigInfo:
    """Decode one ``config`` attribute value (bytes or text) safely."""
    if isinstance(raw, str):
        data = raw.encode("utf-8", "surrogateescape")
    elif isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
    else:
        data = str(raw).encode("utf-8", "surrogateescape")
    info = ConfigInfo(
        nodes=[node], encoding="text", sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    if len(data) > MAX_CONFIG_BYTES:
        return _opaque(info, data, f"larger than {MAX_CONFIG_BYTES >> 20} MiB: not decoded")
    if data[:1] == b"\x80":
        return _from_pickle(info, data)
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None:
        stripped = decoded.strip()
        if stripped[:1] in ("{", "[", '"'):
            try:
                info.value = json.loads(stripped)
                info.encoding = "json"
                return info
            except ValueError:
                pass
        if looks_like_pickle(data):
            return _from_pickle(info, data)
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = _NOT_LITERAL
        if value is not _NOT_LITERAL:
            info.value = jsonable(value)
            info.encoding = "python-literal"
            return info
        info.value = _clean(decoded)
        info.encoding = "text"
        info.note = "not JSON and not a Python literal (a traitlets or object repr?): kept as text"
        return info
    if looks_like_pickle(data):
        return _from_pickle(info, data)
    return _opaque(info, data, "binary value that is neither text nor a plain pickle")


_NOT_LITERAL = object()


def _from_pickle(info: ConfigInfo, data: bytes) -> ConfigInfo:
    try:
        info.value = jsonable(loads_plain(data))
        info.encoding = "pickle"
        info.note = "pickled plain data, rebuilt without unpickling"
        return info
    except NotPlainPickle as exc:
        return _opaque(info, data, f"pickle not unpickled (untrusted data): {exc}")


def _opaque(info: ConfigInfo, data: bytes, note: str) -> ConfigInfo:
    info.encoding = "pickle-opaque" if looks_like_pickle(data) else "opaque"
    if len(data) <= MAX_OPAQUE_BYTES:
        info.base64 = base64.b64encode(data).decode("ascii")
        info.note = note + "; bytes kept as base64"
    else:
        info.note = note + f"; {len(data):,} bytes, not kept (sha256 given)"
    info.value = None
    return info
