"""The ``prov.log`` reader: :class:`LstosaLogReader`, :func:`parse_lines`, :func:`parse_file`.

The reader is an iterator over one stream that exposes how far it safely got (for
incremental ingest); the loop itself runs in :mod:`provdb.ingest.lstosa.line_loop`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from provdb.config import ingest_limits
from provdb.errors import ParseError
from provdb.ingest.compression import COMPRESSION_ERRORS, iter_lines, open_binary
from provdb.ingest.lstosa.formats import PREFIX_TO_NAME
from provdb.ingest.lstosa.line_loop import ReaderState, StreamError
from provdb.ingest.lstosa.record import LstosaLogItem


def _from_state(name: str, doc: str) -> Any:
    return property(lambda self: getattr(self._state, name), doc=doc)


class LstosaLogReader(Iterator[LstosaLogItem]):
    """Iterator over the records of one ``prov.log`` stream, exposing how far it got.

    Do not build it directly: use :func:`parse_lines` or :func:`parse_file`. Items are
    :data:`LstosaRecord` instances, :class:`NonProvenanceLine` (lines without the prefix,
    e.g. ``WARNING provLogger ...``; logprov ``DEBUG`` lines) and :class:`RejectedLine`
    (lines with the prefix that cannot be read). **Blank lines are skipped silently**
    (counted in :attr:`n_blank`).

    Attributes
    ----------
    path : str
        Name of the stream, used in :class:`~provdb.errors.ParseError` messages.
    offset_reached : int
        Byte offset just after the last complete line consumed. Updated *before* the item
        of that line is yielded, so while the caller holds the item of line *n*,
        ``offset_reached`` is the end of line *n*. Resume from here.
    lines_read : int
        Complete lines consumed (records, non-provenance, rejected and blank lines).
    next_line : int
        1-based number of the next line (``start_line + lines_read``): the ``start_line``
        to resume with.
    torn_tail : bytes or None
        The bytes of a final line that had no trailing newline (a writer still busy), which
        was neither yielded nor counted; ``None`` if the stream ended on a newline.
    prefix : bytes or None
        The prefix in use: :data:`LSTOSA_PREFIX`, :data:`LOGPROV_PREFIX`, :data:`BARE_DICT`,
        or ``None`` while no provenance line has been seen yet (auto-detection).
    n_records, n_rejected, n_non_provenance, n_blank : int
        Counts of what was read.
    decode_fallbacks : int
        Lines that were not valid UTF-8 and were decoded as Latin-1 instead (lossless:
        ``text.encode("latin-1")`` gives the original bytes back).
    dropped_keys : collections.Counter
        ``(kind, key)`` -> count of payload keys that the record kind has no field for
        (only kinds without an ``extra`` dict, e.g. logprov's ``generated_time`` on
        derivations).
    """

    def __init__(
        self,
        lines: Iterable[bytes],
        *,
        path: str,
        start_line: int,
        start_offset: int,
        prefix: bytes | None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if isinstance(prefix, str):
            prefix = prefix.encode()
        self._state = ReaderState(path, start_line, start_offset, prefix)
        self._gen = self._state.run(iter(lines))
        self._on_close = on_close

    path: str = _from_state("path", "Name of the stream.")
    start_line: int = _from_state("start_line", "Line number the reader started at.")
    start_offset: int = _from_state("start_offset", "Byte offset the reader started at.")
    offset_reached: int = _from_state(
        "offset_reached", "Byte offset just after the last complete line consumed."
    )
    lines_read: int = _from_state("lines_read", "Complete lines consumed.")
    next_line: int = _from_state("next_line", "Number of the next line (resume with it).")
    torn_tail: bytes | None = _from_state("torn_tail", "Bytes of an unterminated last line.")
    prefix: bytes | None = _from_state("prefix", "The prefix in use (None: not known yet).")
    n_records: int = _from_state("n_records", "Records yielded.")
    n_rejected: int = _from_state("n_rejected", "Rejected lines yielded.")
    n_non_provenance: int = _from_state("n_non_provenance", "Non-provenance lines yielded.")
    n_blank: int = _from_state("n_blank", "Blank lines skipped.")
    decode_fallbacks: int = _from_state("decode_fallbacks", "Lines decoded as Latin-1.")
    dropped_keys: Counter[tuple[str, str]] = _from_state(
        "dropped_keys", "(kind, key) -> count of payload keys with no field."
    )

    def __iter__(self) -> LstosaLogReader:
        return self

    def __next__(self) -> LstosaLogItem:
        return next(self._gen)

    def close(self) -> None:
        """Stop reading and close the underlying file (if :func:`parse_file` opened it)."""
        self._gen.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()

    def __del__(self) -> None:
        on_close = getattr(self, "_on_close", None)
        if on_close is not None:
            self._on_close = None
            on_close()

    def __enter__(self) -> LstosaLogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def format_name(self) -> str | None:
        """``'lstosa'``, ``'logprov'``, ``'run-wise'`` or ``None`` (not known yet)."""
        prefix = self._state.prefix
        return None if prefix is None else PREFIX_TO_NAME.get(prefix, "custom")


def parse_lines(
    lines: Iterable[bytes],
    *,
    path: str = "<stream>",
    start_line: int = 1,
    start_offset: int = 0,
    prefix: bytes | None = None,
) -> LstosaLogReader:
    """Parse raw ``prov.log`` lines into typed records, lazily.

    Parameters
    ----------
    lines : iterable of bytes
        Raw lines, each with its trailing ``b"\\n"`` (as iterating a binary file gives
        them). An item without a trailing newline is held back: if another item follows it
        is joined to it (a producer that split a line), otherwise it is the torn tail of a
        file still being written and is exposed as :attr:`LstosaLogReader.torn_tail`,
        never yielded.
    path : str, optional
        Name of the stream, for error messages.
    start_line : int, optional
        Line number of the first line (1-based), when resuming.
    start_offset : int, optional
        Byte offset of the first line, when resuming.
    prefix : bytes or None, optional
        :data:`LSTOSA_PREFIX` (``b"__PROV__"``), :data:`LOGPROV_PREFIX` (``b"_PROV_"``),
        :data:`BARE_DICT` (``b""``, run-wise ``.log`` files: bare dicts, ``'None'`` -> null,
        ``record_time == ""``, lines not starting with ``{`` are non-provenance), or ``None``
        to take it from the first line that contains ``__PROV__``, else ``_PROV_``, else
        starts with ``{'``; lines before that one are non-provenance.

    Returns
    -------
    LstosaLogReader
        An iterator of records, :class:`NonProvenanceLine` and :class:`RejectedLine`, with
        ``offset_reached``, ``next_line`` and ``torn_tail`` attributes (see the class).

    Notes
    -----
    Each record carries ``SourcePosition(line, offset)`` of its line. Payload ids that are
    ints (old lstosa, logprov) are converted to ``str``; ``contentType`` becomes
    ``content_type``; keys without a field go to ``extra`` (for the kinds that have one).
    Lines that are not valid UTF-8 are decoded as Latin-1 (counted in ``decode_fallbacks``).
    """
    return LstosaLogReader(
        lines, path=path, start_line=start_line, start_offset=start_offset, prefix=prefix
    )


def parse_file(
    path: str | os.PathLike[str], *, start_offset: int = 0, start_line: int = 1
) -> LstosaLogReader:
    """Parse a ``prov.log`` (or logprov log, or run-wise ``*_prov.log``) file, lazily.

    gzip, bzip2 and xz files are decompressed transparently (recognised by their magic
    bytes, not their name); offsets are then positions in the *decompressed* stream, and
    resuming at an offset decompresses and skips what comes before it.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    start_offset : int, optional
        Byte offset to resume at (a previous :attr:`LstosaLogReader.offset_reached`).
    start_line : int, optional
        Line number of the line at ``start_offset`` (a previous
        :attr:`LstosaLogReader.next_line`).

    Returns
    -------
    LstosaLogReader
        See :func:`parse_lines`. The file is closed when the iterator is exhausted, on
        :meth:`LstosaLogReader.close` or when leaving a ``with`` block.

    Raises
    ------
    ParseError
        If the file cannot be opened, if ``start_offset`` is beyond its end or not at the
        start of a line (the file was truncated or replaced since the last read), or, while
        iterating, if the compressed stream is corrupt.
    """
    name = os.fspath(path)
    name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
    try:
        fh, compression = open_binary(path)
    except OSError as exc:
        raise ParseError(name, None, f"cannot open: {exc.strerror or exc}") from exc
    try:
        if start_offset:
            fh.seek(start_offset - 1)
            before = fh.read(1)
            if before != b"\n":
                what = "beyond the end of the file" if not before else "not at a line start"
                raise ParseError(
                    name,
                    None,
                    f"resume offset {start_offset} is {what}: the file was truncated or "
                    "replaced since it was last read; re-ingest it from the start",
                )
    except COMPRESSION_ERRORS as exc:
        fh.close()
        raise ParseError(name, None, f"cannot read: {exc}") from exc
    except BaseException:
        fh.close()
        raise

    def lines() -> Iterator[bytes]:
        try:
            yield from iter_lines(fh, ingest_limits().max_line_bytes)
        except COMPRESSION_ERRORS as exc:
            what = f"{compression} stream is corrupt or truncated" if compression else "read error"
            raise StreamError(f"{what}: {exc}") from exc
        finally:
            fh.close()

    return LstosaLogReader(
        lines(),
        path=name,
        start_line=start_line,
        start_offset=start_offset,
        prefix=None,
        on_close=fh.close,
    )
