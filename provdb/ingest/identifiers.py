"""Identifier helpers shared by every ingester.

The archive joins records written by different tools, so the ids must be made by the
same rules everywhere:

* :func:`path_entity_id` reproduces lstosa's file entity id (spec §1.6): the md5 hex digest
  of the path string. A file named in a ctapipe provenance log and in an lstosa ``prov.log``
  therefore becomes **one** entity.
* :func:`environment_id` gives a content digest of a ``system`` dict (ctapipe / lstosa
  "system" provenance) without its per-call keys, so the large, mostly identical system
  records of many runs collapse to one environment row.
* :func:`digest` is a short, stable digest of several text parts for synthetic ids.

All functions are pure and deterministic (no ``hash()``, no randomness, no file access).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "PER_CALL_SYSTEM_KEYS",
    "digest",
    "environment_id",
    "path_entity_id",
    "split_system",
]

#: Keys of a ``system`` dict that change on every call and are not part of the environment.
PER_CALL_SYSTEM_KEYS: tuple[str, ...] = ("arguments", "start_time_utc")

# "scheme://" as in RFC 3986 (a scheme is a letter followed by letters, digits, + - .).
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogateescape")).hexdigest()


def path_entity_id(path: str) -> str:
    """Entity id of a file or directory, compatible with lstosa.

    Parameters
    ----------
    path
        A path or URL as written by the source.

    Returns
    -------
    str
        32 lowercase hex characters.

    Raises
    ------
    ValueError
        If ``path`` is empty.

    Notes
    -----
    * **Plain path** (``/a/b.h5``; relative paths too): ``md5(str(PurePosixPath(path)))``
      as a hex string. This is lstosa's ``hashlib.md5(str(Path(p)).encode()).hexdigest()``
      for the absolute paths lstosa writes; ``PurePosixPath`` drops a trailing ``/``,
      doubled ``//`` and ``/./`` exactly as ``Path`` does, so ``/a/b/`` and ``/a/b`` give
      the same id. No file-system access is made: symlinks are *not* resolved and a
      relative path is hashed as written (lstosa resolves before hashing, so only absolute
      resolved paths can match its ids).
    * **file:// URL**: the path part, percent-decoded, hashed by the rule above, so
      ``file:///a/b.h5`` and ``/a/b.h5`` are one entity. This holds when the host is
      empty or ``localhost``; a ``file://`` URL naming another host is hashed whole (it is
      a different file).
    * **Any other URL with a scheme** (``http://``, ``root://``, ``s3://``...): md5 of the
      URL string exactly as written.
    """
    if not path:
        raise ValueError("cannot make an entity id from an empty path")
    if _URL_RE.match(path):
        parts = urlsplit(path)
        if parts.scheme.lower() == "file" and parts.netloc.lower() in ("", "localhost"):
            local = unquote(parts.path)
            if local:
                return _md5(str(PurePosixPath(local)))
        return _md5(path)
    return _md5(str(PurePosixPath(path)))


def split_system(system: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a ``system`` dict into its environment part and its per-call part.

    Parameters
    ----------
    system
        The ``system`` dict of a ctapipe activity or an lstosa session record.

    Returns
    -------
    tuple of dict
        ``(environment, per_call)``: ``environment`` is a shallow copy of ``system``
        without the keys in :data:`PER_CALL_SYSTEM_KEYS` (``arguments``,
        ``start_time_utc``); ``per_call`` holds those of them that are present.
        The input is not modified.
    """
    environment = {k: v for k, v in system.items() if k not in PER_CALL_SYSTEM_KEYS}
    per_call = {k: system[k] for k in PER_CALL_SYSTEM_KEYS if k in system}
    return environment, per_call


def environment_id(system: dict[str, Any]) -> str:
    """Deterministic id of the environment described by a ``system`` dict.

    The id is ``"env-"`` followed by the first 16 hex characters of the sha256 of the
    canonical JSON of the environment part (see :func:`split_system`): keys sorted,
    separators ``(',', ':')``, ``ensure_ascii=False``, non-JSON values through ``str``.
    Two calls that differ only in ``arguments`` / ``start_time_utc`` share an id; any other
    difference (a package version, the host name...) gives a new id. Key renames between
    versions (``num_cpus`` / ``n_cpus``) are *not* normalised: they describe different
    records and get different ids.

    Parameters
    ----------
    system
        The ``system`` dict, with or without its per-call keys.

    Returns
    -------
    str
        ``"env-"`` + 16 hex characters.
    """
    environment, _ = split_system(system)
    canonical = json.dumps(
        environment, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return "env-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def digest(*parts: str, length: int = 16) -> str:
    """Short stable digest of text parts.

    Parameters
    ----------
    *parts
        The texts to combine; they are joined with the unit separator ``'\\x1f'`` so that
        ``("ab", "c")`` and ``("a", "bc")`` differ.
    length
        Number of hex characters to keep, 1 to 40.

    Returns
    -------
    str
        The first ``length`` hex characters of the sha1 of the joined text (UTF-8).

    Raises
    ------
    ValueError
        If ``length`` is outside 1..40.
    """
    if not 1 <= length <= 40:
        raise ValueError(f"digest length must be between 1 and 40, not {length}")
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]
