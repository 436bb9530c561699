"""The streaming protocol every writer shares: batches in, bytes out, overflow and errors.

A writer is an :class:`Encoder` (header, rows, footer) driven by a :class:`ResultStream`:

* the header is produced as soon as the stream is first iterated;
* rows arrive in batches (``Sequence[tuple]``, e.g. ``cursor.fetchmany()`` results); the
  caller sends up to MAXREC+1 rows, the stream writes at most ``overflow_after`` of them
  and, as soon as one more row turns up, stops reading and marks the result as overflowed;
* an exception raised by the batches iterator (or by encoding a value) does not escape:
  the document is finished well-formed with an error marker and the stream ends;
* :attr:`ResultStream.result` (a :class:`StreamResult`) tells the caller afterwards how
  many rows went out, whether the result overflowed and which error stopped it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Encoder", "ErrorMessage", "ResultStream", "StreamResult", "default_error_message"]

#: Rows encoded at once at most; bigger batches are cut so that chunks stay small.
CHUNK_ROWS = 5000

ErrorMessage = Callable[[BaseException], str]


def default_error_message(exc: BaseException) -> str:
    """The text written for an error: the exception's message, or its class name."""
    message = str(exc).strip()
    return message or type(exc).__name__


@dataclass
class StreamResult:
    """What a stream did, filled in while it runs.

    Attributes
    ----------
    rows:
        Rows written so far.
    overflow:
        True when more rows than ``overflow_after`` arrived (the result is truncated).
    error:
        The exception that stopped the stream, if any (it is not re-raised).
    error_message:
        The text written into the document for ``error``.
    finished:
        True once the document's last byte has been produced.
    """

    rows: int = 0
    overflow: bool = False
    error: BaseException | None = None
    error_message: str | None = None
    finished: bool = False


class Encoder(Protocol):
    """One output format: how the header, a run of rows and the end are written."""

    def header(self) -> bytes: ...

    def rows(self, rows: Sequence[Sequence[Any]]) -> bytes: ...

    def footer(self, result: StreamResult) -> bytes: ...


class ResultStream(Iterator[bytes]):
    """An iterator of ``bytes`` chunks writing one result; see the module docstring.

    Parameters
    ----------
    encoder:
        The format.
    batches:
        Iterable of row batches. Its iterator is closed (when it has ``close``) once the
        stream ends, is closed, or stops reading because of an overflow.
    overflow_after:
        Maximum rows to write (MAXREC); ``None`` for no limit.
    error_message:
        Turns the exception that stopped the stream into the text written out.
    """

    def __init__(
        self,
        encoder: Encoder,
        batches: Iterable[Sequence[Sequence[Any]]],
        *,
        overflow_after: int | None = None,
        error_message: ErrorMessage | None = None,
    ) -> None:
        if overflow_after is not None and overflow_after < 0:
            raise ValueError(f"overflow_after must be >= 0, not {overflow_after}")
        self.result = StreamResult()
        self._encoder = encoder
        self._batches = iter(batches)
        self._limit = overflow_after
        self._describe = error_message or default_error_message
        self._gen = self._run()

    # -- iterator protocol
    def __iter__(self) -> ResultStream:
        return self

    def __next__(self) -> bytes:
        return next(self._gen)

    def close(self) -> None:
        """Stop the stream (e.g. the client went away) and close the batches iterator."""
        self._gen.close()
        self._close_batches()

    # -- conveniences
    @property
    def rows(self) -> int:
        return self.result.rows

    @property
    def overflow(self) -> bool:
        return self.result.overflow

    @property
    def error(self) -> BaseException | None:
        return self.result.error

    # -- machinery
    def _close_batches(self) -> None:
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()

    def _run(self) -> Iterator[bytes]:
        result = self.result
        encoder = self._encoder
        limit = self._limit
        try:
            yield encoder.header()
            try:
                for batch in self._batches:
                    # sequences (lists, tuples, pre-encoded binary2_copy.EncodedRows) are
                    # sliced as they are; anything else (a generator) is listed
                    if not isinstance(batch, Sequence):
                        batch = list(batch)
                    count = len(batch)
                    if not count:
                        continue
                    if limit is not None and count > limit - result.rows:
                        result.overflow = True
                        count = limit - result.rows
                        batch = batch[:count]
                    for start in range(0, count, CHUNK_ROWS):
                        part = batch[start : start + CHUNK_ROWS] if count > CHUNK_ROWS else batch
                        data = encoder.rows(part)
                        result.rows += len(part)
                        if data:
                            yield data
                    if result.overflow:
                        break
            except Exception as exc:  # reported in-band, see the module docstring
                result.error = exc
                result.error_message = self._describe(exc)
            yield encoder.footer(result)
            result.finished = True
        finally:
            self._close_batches()
