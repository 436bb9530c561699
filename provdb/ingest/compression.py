"""Transparent gzip / bzip2 / xz: every reader recognises compression the same way.

Compression is told from the magic bytes, never from the file name, so a renamed or
suffix-less compressed log is still read.

Every decompressed stream is bounded (:class:`provdb.config.IngestLimits`): its size and
its ratio to the compressed bytes read, so a 10 MB file that expands to 10 GiB is refused
with :class:`DecompressionLimitError` after reading a little of it, not after filling
the memory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zlib
from collections.abc import Iterator
from typing import IO, Any

from provdb.config import IngestLimits, ingest_limits

__all__ = [
    "COMPRESSION_ERRORS",
    "DecompressionLimitError",
    "compression_of",
    "decompress",
    "decompress_head",
    "iter_lines",
    "open_binary",
    "read_document",
]

#: bytes of an oversized line kept in its reject
_KEPT_HEAD = 64 * 1024

_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))

#: What a damaged or truncated compressed stream raises while being read (whole-content
#: decompression may also raise ValueError).
COMPRESSION_ERRORS = (EOFError, OSError, lzma.LZMAError, zlib.error)


class DecompressionLimitError(ValueError):
    """A compressed stream expands beyond the configured size or ratio (a likely bomb)."""


class _CountingFile(io.RawIOBase):
    """The compressed file, counting the bytes the decompressor has read from it."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.nread = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self.fh.readinto(buffer)  # type: ignore[attr-defined]
        self.nread += n or 0
        return n

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.nread = self.fh.seek(offset, whence)
        return self.nread

    def tell(self) -> int:
        return self.fh.tell()

    def close(self) -> None:
        self.fh.close()
        super().close()


class _BoundedRaw(io.RawIOBase):
    """Decompressed bytes, raising :class:`DecompressionLimitError` past the limits."""

    def __init__(
        self, inner: IO[bytes], source: _CountingFile, kind: str, limits: IngestLimits
    ) -> None:
        self.inner = inner
        self.source = source
        self.kind = kind
        self.limits = limits
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        # at most 1 MiB per call, so a large read() is checked as it grows
        n = self.inner.readinto(memoryview(buffer)[: 1 << 20])  # type: ignore[attr-defined]
        self.produced += n or 0
        _check(self.produced, self.source.nread, self.kind, self.limits)
        return n

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # gzip/bz2/lzma seek by decompressing from the start (backwards) or on (forwards):
        # count what they produce on the way like any read
        if whence == io.SEEK_SET and offset > self.produced:
            while self.produced < offset:
                chunk = self.inner.read(min(offset - self.produced, 1 << 20))
                if not chunk:
                    break
                self.produced += len(chunk)
                _check(self.produced, self.source.nread, self.kind, self.limits)
            return self.produced
        position = self.inner.seek(offset, whence)
        self.produced = position
        return position

    def tell(self) -> int:
        return self.inner.tell()

    def close(self) -> None:
        self.inner.close()
        self.source.close()
        super().close()


def _check(produced: int, consumed: int, kind: str | None, limits: IngestLimits) -> None:
    if produced > limits.max_decompressed_bytes:
        raise DecompressionLimitError(
            f"{kind} data expands beyond {limits.max_decompressed_bytes:,} bytes "
            "(PROVDB_INGEST_MAX_DECOMPRESSED_BYTES): refused as a likely decompression bomb"
        )
    if produced > limits.ratio_floor_bytes and produced > limits.max_ratio * max(consumed, 1):
        raise DecompressionLimitError(
            f"{kind} data expands more than {limits.max_ratio} times ({produced:,} bytes "
            f"from {consumed:,}; PROVDB_INGEST_MAX_RATIO): refused as a likely "
            "decompression bomb"
        )


def compression_of(head: bytes) -> str | None:
    """``"gzip"``, ``"bzip2"``, ``"xz"`` or ``None`` from the first bytes of a file."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def open_binary(
    path: str | os.PathLike[str], limits: IngestLimits | None = None
) -> tuple[IO[bytes], str | None]:
    """Open ``path`` for binary reading, decompressing it if needed.

    Returns the file object and the compression name (``None`` for a plain file).
    A compressed stream raises :class:`DecompressionLimitError` while being read once
    it passes ``limits`` (default: :func:`provdb.config.ingest_limits`).
    """
    raw = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - returned to the caller
    try:
        kind = compression_of(raw.peek(6)[:6])
    except BaseException:
        raw.close()
        raise
    if kind is None:
        return raw, None
    source = _CountingFile(raw)
    inner: IO[bytes]
    if kind == "gzip":
        inner = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[arg-type]
    elif kind == "bzip2":
        inner = bz2.BZ2File(source, "rb")
    else:
        inner = lzma.LZMAFile(source, "rb")  # noqa: SIM115
    bounded = _BoundedRaw(inner, source, kind, limits or ingest_limits())
    return io.BufferedReader(bounded, 1 << 20), kind


def iter_lines(fh: IO[bytes], limit: int, digest: Any | None = None) -> Iterator[bytes]:
    """The lines of ``fh`` (with their newline), none held longer than ``limit`` bytes.

    A longer line is read on in chunks and yielded as an
    :class:`~provdb.ingest.records.OversizedLine` (its first bytes, its true size). With
    ``digest`` (any object whose ``hasher`` attribute is a hashlib object), every
    *complete* line is hashed, the oversized ones whole; a torn last line is not.
    """
    from provdb.ingest.records import OversizedLine

    readline = fh.readline
    while True:
        line = readline(limit)
        if not line:
            return
        if line[-1:] == b"\n" or len(line) < limit:
            if digest is not None and line[-1:] == b"\n":
                digest.hasher.update(line)
            yield line
            continue
        head = line[: min(limit, _KEPT_HEAD)]
        size = len(line)
        # hash a copy: a torn giant line at the end must leave the hash as it was
        pending = digest.hasher.copy() if digest is not None else None
        if pending is not None:
            pending.update(line)
        complete = False
        while True:
            chunk = readline(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if pending is not None:
                pending.update(chunk)
            if chunk[-1:] == b"\n":
                complete = True
                break
        if not complete:
            yield head  # torn at the end of the file: the reader waits for more
            return
        if digest is not None:
            digest.hasher = pending
        yield OversizedLine(head, size, limit)


def read_document(path: str | os.PathLike[str], limits: IngestLimits | None = None) -> bytes:
    """The whole (decompressed) content of a document file, within the size limits.

    Raises
    ------
    DecompressionLimitError
        If the content is larger than ``max_document_bytes`` or decompresses past the
        limits; ``OSError`` / :data:`COMPRESSION_ERRORS` for unreadable or damaged files.
    """
    limits = limits or ingest_limits()
    fh, kind = open_binary(path, limits)
    with fh:
        data = fh.read(limits.max_document_bytes + 1)
    if len(data) > limits.max_document_bytes:
        raise DecompressionLimitError(
            f"the {'decompressed ' if kind else ''}document is larger than "
            f"{limits.max_document_bytes:,} bytes (PROVDB_INGEST_MAX_DOCUMENT_BYTES): "
            "not read; split it or raise the limit"
        )
    return data


def decompress(data: bytes, limits: IngestLimits | None = None) -> bytes:
    """Whole-content decompression (``data`` unchanged if not compressed), bounded.

    Raises one of :data:`COMPRESSION_ERRORS` or ValueError for damaged or truncated data,
    :class:`DecompressionLimitError` (a ValueError) past ``max_document_bytes`` or the
    ratio limit.
    """
    kind = compression_of(data)
    if kind is None:
        return data
    limits = limits or ingest_limits()
    source = _CountingFile(io.BytesIO(data))  # type: ignore[arg-type]
    inner: IO[bytes]
    if kind == "gzip":
        inner = gzip.GzipFile(fileobj=source, mode="rb")  # type: ignore[arg-type]
    elif kind == "bzip2":
        inner = bz2.BZ2File(source, "rb")
    else:
        inner = lzma.LZMAFile(source, "rb")  # noqa: SIM115
    with io.BufferedReader(_BoundedRaw(inner, source, kind, limits), 1 << 20) as fh:
        out = fh.read(limits.max_document_bytes + 1)
    if len(out) > limits.max_document_bytes:
        raise DecompressionLimitError(
            f"the decompressed document is larger than {limits.max_document_bytes:,} bytes "
            "(PROVDB_INGEST_MAX_DOCUMENT_BYTES): not read"
        )
    return out


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
