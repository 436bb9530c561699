"""The spool: the server's copy of every pushed file, one per (token, pipeline-side name).

A pipeline pushes a log in chunks, each with the byte offset it starts at in the source
file. The spool file grows only at its end, so it is byte for byte the prefix of the
source file the server has received; the normal ingest (``provdb.ingest.pipeline``) then
reads it like any growing log. Pure file operations: no Flask, no database.

Layout: ``ROOT/<token name>/<key>-<base name>``, where ``key`` is a digest of the
pipeline-side name (two files of the same base name from different folders never
share a spool file), with ``<same>.name`` holding that name for an operator.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ChunkRefused", "Spool", "SpoolAnswer"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ChunkRefused(Exception):
    """A chunk that does not continue the spooled bytes (HTTP 409).

    ``expected`` is the offset the server waits for (the spooled size).
    """

    def __init__(self, message: str, expected: int) -> None:
        super().__init__(message)
        self.expected = expected


@dataclass(frozen=True)
class SpoolAnswer:
    """What :meth:`Spool.add_chunk` did."""

    path: Path
    #: ``appended``, or ``already have`` for a replayed chunk (its bytes match)
    action: str
    #: bytes appended by this chunk (0 for a replay)
    appended: int
    #: spooled size after the chunk
    size: int


def _safe(text: str, limit: int) -> str:
    return (_UNSAFE.sub("_", text).strip("._") or "file")[:limit]


class Spool:
    """Spool files under ``root`` (created on first use)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, token: str, name: str) -> Path:
        """The spool file of ``name`` pushed with the token ``token``."""
        key = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        base = _safe(name.replace("\\", "/").rsplit("/", 1)[-1], 80)
        return self.root / _safe(token, 64) / f"{key}-{base}"

    def size(self, token: str, name: str) -> int:
        """Bytes spooled so far for ``name`` (0 when nothing was pushed)."""
        try:
            return self.path_for(token, name).stat().st_size
        except FileNotFoundError:
            return 0

    def sha256(self, token: str, name: str) -> str:
        """sha256 (hex) of the spooled bytes (of the empty string when nothing was pushed)."""
        hasher = hashlib.sha256()
        try:
            with open(self.path_for(token, name), "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    hasher.update(block)
        except FileNotFoundError:
            pass
        return hasher.hexdigest()

    def add_chunk(self, token: str, name: str, offset: int, data: bytes) -> SpoolAnswer:
        """Add the chunk ``data`` that starts at byte ``offset`` of the source file.

        A chunk at the spooled size is appended; a chunk the spool already holds (same
        bytes) is a replay and changes nothing; a chunk that overlaps the end is
        appended past the part already held, after checking that part. The spool file
        is locked meanwhile (several server processes) and synced to disk before this
        returns, so an answered chunk survives a crash.

        Raises
        ------
        ChunkRefused
            ``offset`` is past the spooled size (a chunk is missing before it), or the
            bytes already spooled at ``offset`` differ (the source file was rewritten).
        """
        if offset < 0:
            raise ChunkRefused(f"offset {offset} is negative", self.size(token, name))
        path = self.path_for(token, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        with open(path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            if fresh:
                # for the operator: which pipeline file this spool file is
                path.with_name(path.name + ".name").write_text(name + "\n", encoding="utf-8")
            size = os.fstat(fh.fileno()).st_size
            if offset > size:
                raise ChunkRefused(
                    f"chunk at offset {offset} but {size} bytes are spooled: a chunk is "
                    f"missing, send from offset {size}",
                    size,
                )
            held = min(size - offset, len(data))
            if held:
                fh.seek(offset)
                if fh.read(held) != data[:held]:
                    raise ChunkRefused(
                        f"the {held} bytes at offset {offset} differ from those pushed "
                        "before: the source file was rewritten; push it under a new name",
                        size,
                    )
            rest = data[held:]
            if rest:
                fh.seek(0, os.SEEK_END)
                fh.write(rest)
                fh.flush()
                os.fsync(fh.fileno())
            return SpoolAnswer(
                path=path,
                action="appended" if rest else "already have",
                appended=len(rest),
                size=size + len(rest),
            )
