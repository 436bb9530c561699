"""Transparent gzip / bzip2 / xz: every reader recognises compression the same way.

Compression is told from the magic bytes, never from the file name, so a renamed or
suffix-less compressed log is still read.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import zlib
from typing import IO

__all__ = [
    "COMPRESSION_ERRORS",
    "compression_of",
    "decompress",
    "decompress_head",
    "open_binary",
]

_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))

#: What a damaged or truncated compressed stream raises while being read (whole-content
#: decompression may also raise ValueError).
COMPRESSION_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)


def compression_of(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"`` or ``None`` from the first bytes of a file."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def open_binary(path: str | os.PathLike[str]) -> tuple[IO[bytes], str | None]:
    """Open ``path`` for binary reading, decompressing it if needed.

    Returns the file object and the compression name (``None`` for a plain file).
    """
    with open(path, "rb") as probe:
        kind = compression_of(probe.read(6))
    if kind == "gzip":
        return gzip.open(path, "rb"), kind
    if kind == "bzip2":
        return bz2.open(path, "rb"), kind
    if kind == "xz":
        return lzma.open(path, "rb"), kind
    return open(path, "rb", buffering=1 << 20), None


def decompress(data: bytes) -> bytes:
    """Whole-content decompression (``data`` unchanged if not compressed).

    Raises one of :data:`COMPRESSION_ERRORS` or ValueError for damaged or truncated data.
    """
    kind = compression_of(data)
    if kind == "gzip":
        return gzip.decompress(data)
    if kind == "bzip2":
        return bz2.decompress(data)
    if kind == "xz":
        return lzma.decompress(data)
    return data


def decompress_head(head: bytes, limit: int = 65536) -> bytes:
    """Best effort: up to ``limit`` decompressed bytes of a compressed file's start
    (for format detection); ``head`` itself if not compressed, ``b""`` if unreadable."""
    kind = compression_of(head)
    try:
        if kind == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, limit)
        if kind == "bzip2":
            return bz2.BZ2Decompressor().decompress(head, max_length=limit)
        if kind == "xz":
            return lzma.LZMADecompressor().decompress(head, max_length=limit)
    except (*COMPRESSION_ERRORS, ValueError):
        return b""
    return head
