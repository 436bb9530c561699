"""ReadAhead (tap/query/readahead.py): order, errors in place, early close, source closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tap.query.readahead import ReadAhead


class Source:
    """A generator-like iterator that records what happened to it."""

    def __init__(self, items: list[object], fail_at: int | None = None, delay: float = 0.0):
        self.items = items
        self.fail_at = fail_at
        self.delay = delay
        self.produced = 0
        self.closed_in: str | None = None

    def __iter__(self) -> Iterator[object]:
        return self

    def __next__(self) -> object:
        if self.delay:
            time.sleep(self.delay)
        if self.fail_at is not None and self.produced == self.fail_at:
            raise ValueError(f"broken at {self.produced}")
        if self.produced >= len(self.items):
            raise StopIteration
        self.produced += 1
        return self.items[self.produced - 1]

    def close(self) -> None:
        self.closed_in = threading.current_thread().name


def test_items_come_in_order_and_the_source_is_closed() -> None:
    source = Source(list(range(50)))
    reader = ReadAhead(source, depth=3)
    assert list(reader) == list(range(50))
    assert reader.join(5)
    # closed by the thread that iterated it (a connection is released where it was used)
    assert source.closed_in == "provdb-read-ahead"


def test_an_error_is_raised_where_it_happened() -> None:
    reader = ReadAhead(Source(["a", "b", "c"], fail_at=2))
    assert next(reader) == "a"
    assert next(reader) == "b"
    with pytest.raises(ValueError, match="broken at 2"):
        next(reader)
    with pytest.raises(StopIteration):
        next(reader)


def test_it_reads_at_most_depth_items_ahead() -> None:
    source = Source(list(range(100)))
    reader = ReadAhead(source, depth=2)
    assert next(reader) == 0
    time.sleep(0.3)
    # one handed out, two queued, one more fetched and waiting for room
    assert source.produced <= 4
    reader.close()
    assert reader.join(5)
    assert source.closed_in == "provdb-read-ahead"
    assert source.produced <= 5


def test_close_does_not_wait_for_a_slow_source() -> None:
    source = Source(list(range(10)), delay=0.5)
    reader = ReadAhead(source)
    start = time.monotonic()
    reader.close()
    assert time.monotonic() - start < 0.2
    assert reader.join(5)  # the thread ends after its current fetch
    assert source.closed_in == "provdb-read-ahead"
    with pytest.raises(StopIteration):
        next(reader)


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        ReadAhead(iter([]), depth=0)
