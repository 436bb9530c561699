"""Entry points: parse a W3C PROV document (bytes or a file) into archive rows.

Decompresses, decodes, runs the reader for the format and the mapper; see
:mod:`provdb.ingest.w3c` for the ids, the row order and the warnings.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from provdb.errors import ParseError
from provdb.ingest.compression import (
    COMPRESSION_ERRORS,
    DecompressionLimitError,
    compression_of,
    decompress,
    read_document,
)
from provdb.ingest.records import ArchiveRow
from provdb.ingest.w3c.detect import FORMATS, HEAD_SIZE, detect, format_from_suffix
from provdb.ingest.w3c.mapper import Mapper
from provdb.ingest.w3c.prov_json import JsonReader
from provdb.ingest.w3c.prov_n import ProvNReader
from provdb.ingest.w3c.prov_xml import XmlReader
from provdb.ingest.w3c.statements import Stmt


def _decompress(data: bytes, path: str) -> bytes:
    try:
        return decompress(data)
    except DecompressionLimitError as exc:
        raise ParseError(path, None, str(exc)) from None
    except (*COMPRESSION_ERRORS, ValueError) as exc:
        raise ParseError(
            path, None, f"corrupt or truncated {compression_of(data)} data: {exc}"
        ) from None


def document_id(data: bytes) -> str:
    """Document id used to scope activity and session ids: ``"w3c:" + sha1(data)[:12]``.

    Parameters
    ----------
    data
        The document bytes; compressed data is decompressed first, so a compressed copy
        of a file has the same id as the file.

    Returns
    -------
    str
        ``"w3c:"`` followed by 12 lowercase hex characters.
    """
    return "w3c:" + hashlib.sha1(_decompress(bytes(data), "<stream>")).hexdigest()[:12]


def _decode(data: bytes, path: str, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(path, line, f"{what} is not valid UTF-8: {exc.reason}") from None


def parse_bytes(
    data: bytes,
    *,
    format: str,
    path: str = "<stream>",
    warnings: list[str] | None = None,
) -> Iterator[ArchiveRow]:
    """Parse a W3C PROV document held in memory.

    Parameters
    ----------
    data
        The document bytes (gzip/bzip2/xz compressed data is decompressed first).
    format
        One of :data:`FORMATS`: ``'prov-json'``, ``'prov-xml'`` or ``'prov-n'``.
    path
        Name used in error and warning messages.
    warnings
        Optional list that receives one message per thing that was read but not stored
        (statement kinds with no archive table, unknown keys/elements/statements,
        unparseable times, unlinked parameters, references to undeclared elements...).

    Returns
    -------
    Iterator[ArchiveRow]
        The archive rows, parents before children (see the module docstring).
        The document is parsed eagerly: errors are raised by this call, and
        ``warnings`` is complete when it returns.

    Raises
    ------
    ParseError
        Malformed JSON/XML/PROV-N (with the line of the problem), invalid UTF-8, corrupt
        compressed data, or a document whose structure is not PROV.
    ValueError
        If ``format`` is not one of :data:`FORMATS`.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown W3C PROV format {format!r}; expected one of {FORMATS}")
    sink: list[str] = warnings if warnings is not None else []
    raw = _decompress(bytes(data), path)
    doc = "w3c:" + hashlib.sha1(raw).hexdigest()[:12]
    stmts: list[Stmt]
    if format == "prov-json":
        stmts = JsonReader(_decode(raw, path, "PROV-JSON"), path, sink).read()
    elif format == "prov-xml":
        stmts = XmlReader(raw, path, sink).read()
    else:
        stmts = ProvNReader(_decode(raw, path, "PROV-N"), path, sink).read()
    mapper = Mapper(doc, path, sink)
    mapper.collect(stmts)
    return iter(mapper.rows())


def parse_file(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    warnings: list[str] | None = None,
) -> Iterator[ArchiveRow]:
    """Parse a W3C PROV file (PROV-JSON, PROV-XML or PROV-N, optionally compressed).

    Parameters
    ----------
    path
        The file. gzip, bzip2 and xz compression is recognised by its magic bytes.
    format
        ``'prov-json'``, ``'prov-xml'`` or ``'prov-n'``; when ``None`` the format is
        recognised with :func:`detect`, falling back on the file suffix
        (``.json``, ``.xml``/``.provx``, ``.provn``).
    warnings
        Optional list that receives the warnings, as in :func:`parse_bytes`.

    Returns
    -------
    Iterator[ArchiveRow]
        The archive rows (see :func:`parse_bytes`).

    Raises
    ------
    ParseError
        If the file cannot be read, its format is not recognised, or it is malformed.
    ValueError
        If ``format`` is not one of :data:`FORMATS`.
    """
    file = Path(path)
    name = str(file)
    try:
        data = read_document(file)
    except OSError as exc:
        raise ParseError(name, None, f"cannot read the file: {exc.strerror or exc}") from None
    except DecompressionLimitError as exc:
        raise ParseError(name, None, str(exc)) from None
    except (*COMPRESSION_ERRORS, ValueError) as exc:
        with open(file, "rb") as fh:
            kind = compression_of(fh.read(6))
        raise ParseError(name, None, f"corrupt or truncated {kind} data: {exc}") from None
    fmt = format or detect(data[:HEAD_SIZE]) or format_from_suffix(file)
    if fmt is None:
        raise ParseError(
            name,
            None,
            "not recognised as W3C PROV (PROV-JSON, PROV-XML or PROV-N); pass format= to force one",
        )
    return parse_bytes(data, format=fmt, path=name, warnings=warnings)
