"""The line loop of the ``prov.log`` reader: raw lines in, records and rejects out.

:class:`ReaderState` holds how far a reader got and its counts, and runs the loop: it
splits prefix, record time and payload, recognises the prefix in use, decodes payloads
(session records in cached pieces: see :mod:`provdb.ingest.lstosa`), builds the typed
records and turns every failure into a :class:`~provdb.ingest.records.RejectedLine`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from provdb.errors import ParseError
from provdb.ingest.lstosa.formats import BARE_DICT, LOGPROV_PREFIX, LSTOSA_PREFIX
from provdb.ingest.lstosa.payload import (
    JSON_BYTES,
    JSON_ERRORS,
    json_raw_decode,
    none_strings_to_none,
    parse_payload_slow,
)
from provdb.ingest.lstosa.record import LstosaLogItem, RecordError, build_record
from provdb.ingest.records import (
    NonProvenanceLine,
    OversizedLine,
    RejectedLine,
    SourcePosition,
)

#: control characters no text log line holds (tab, form feed, CR and the ESC of
#: terminal colours are allowed)
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


_SYSTEM_OPEN = b"'system': {"
_SYSTEM_CUTS = (b", 'python': {", b", 'environment': {", b", 'arguments': ")
_SESSION_MIN_BYTES = 4096  # below this a session line is parsed as a whole
# entries kept per piece (a cache is cleared when full): executable+platform vary per node
# (~1 kB each), python (with its ~20 kB package list) and environment per software setup
_SYSTEM_CACHE_SIZES = (1024, 64, 256)


class StreamError(Exception):
    """The underlying byte stream failed (turned into a ParseError naming the line)."""


class ReaderState:
    """Mutable state of a :class:`LstosaLogReader` and the parsing loop.

    Kept apart from the reader so that the running generator does not reference the reader:
    a reader dropped half-way is then freed at once, and closes its file.
    """

    def __init__(self, path: str, start_line: int, start_offset: int, prefix: bytes | None) -> None:
        self.path = path
        self.start_line = start_line
        self.start_offset = start_offset
        self.offset_reached = start_offset
        self.lines_read = 0
        self.torn_tail: bytes | None = None
        self.prefix: bytes | None = prefix
        self.n_records = 0
        self.n_rejected = 0
        self.n_non_provenance = 0
        self.n_blank = 0
        self.decode_fallbacks = 0
        self.dropped_keys: Counter[tuple[str, str]] = Counter()
        # one cache per piece of ``system``, so that many nodes do not evict the (large)
        # python/packages piece of their common software environment
        self._system_caches: tuple[dict[bytes, dict[Any, Any]], ...] = tuple(
            {} for _ in _SYSTEM_CUTS
        )

    @property
    def next_line(self) -> int:
        return self.start_line + self.lines_read

    # decoding helpers ----------------------------------------------------------------
    def _other(self, pos: SourcePosition, body: bytes) -> NonProvenanceLine | RejectedLine:
        """A line without the provenance prefix: a diagnostic of the pipeline (kept as an
        other line) or, if it holds control characters, binary garbage (a reject: a
        damaged or wrong file must not pass as a clean one)."""
        if _BINARY.search(body):
            self.n_rejected += 1
            return RejectedLine(
                pos,
                "binary data (control characters), neither a provenance record nor a "
                "log message: is this the right file?",
                body,
            )
        self.n_non_provenance += 1
        return NonProvenanceLine(pos, self._decode(body), body)

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.decode_fallbacks += 1
            return raw.decode("latin-1")

    def _parse(self, payload: bytes) -> dict[Any, Any]:
        """Decode one payload (bytes, no newline); ValueError with a reason on failure."""
        if payload[:1] == b"{":
            try:
                text = payload.translate(JSON_BYTES).decode("utf-8")
                value, end = json_raw_decode(text)
            except JSON_ERRORS:
                pass
            else:
                if type(value) is dict and end == len(text):
                    return value
        return parse_payload_slow(self._decode(payload))

    def _parse_session(self, payload: bytes) -> dict[Any, Any] | None:
        """Parse a large session payload, reusing cached pieces of its ``system`` dict.

        ``system`` is cut at its top-level keys ``'python'``, ``'environment'`` and
        ``'arguments'``: the pieces before ``'arguments'`` (executable + platform, which vary
        per node; python with its package list and environment, which vary per software
        environment) are each parsed once per distinct byte string; the rest of the payload
        (``arguments``, ``start_time_utc`` and the other session keys) is parsed per line.
        Returns ``None`` when the payload does not have this layout or a piece does not
        parse on its own; the caller then parses the payload as a whole.
        """
        i = payload.find(_SYSTEM_OPEN)
        if i < 0:
            return None
        start = i + len(_SYSTEM_OPEN) - 1  # the '{' of system
        system: dict[Any, Any] = {}
        for marker, cache, size in zip(
            _SYSTEM_CUTS, self._system_caches, _SYSTEM_CACHE_SIZES, strict=True
        ):
            end = payload.find(marker, start + 1)
            if end < 0:
                return None
            key = payload[start + 1 : end]
            piece = cache.get(key)
            if piece is None:
                try:
                    piece = self._parse(b"{" + key + b"}")
                except ValueError:
                    return None
                if len(cache) >= size:
                    cache.clear()
                cache[key] = piece
            system.update(piece)
            start = end + 1  # the ',' before the next key: skip it, keep the space
        try:
            d = self._parse(payload[: i + len(_SYSTEM_OPEN)] + payload[start + 1 :])
        except ValueError:
            return None
        tail = d.get("system")
        if not isinstance(tail, dict) or next(iter(tail), None) != "arguments":
            return None
        system.update(tail)
        d["system"] = system
        return d

    # the loop --------------------------------------------------------------------------
    def run(self, lines: Iterator[bytes]) -> Iterator[LstosaLogItem]:
        """The parsing loop (see :class:`LstosaLogReader`)."""
        try:
            yield from self._loop(lines)
        except StreamError as exc:
            raise ParseError(self.path, self.next_line, str(exc)) from exc.__cause__

    def _loop(self, lines: Iterator[bytes]) -> Iterator[LstosaLogItem]:
        prefix = self.prefix
        line_no = self.start_line
        offset = self.start_offset
        pending = b""
        build = build_record
        fromisoformat = datetime.fromisoformat
        dropped = self.dropped_keys
        parse = self._parse
        plen = len(prefix) if prefix else 0
        for raw in lines:
            if raw.__class__ is OversizedLine:
                # a line past the per-line limit: its reader kept only the first bytes
                pos = SourcePosition(line_no, offset)
                line_no += 1
                offset += raw.size  # type: ignore[attr-defined]
                self.lines_read += 1
                self.offset_reached = offset
                self.n_rejected += 1
                yield RejectedLine(pos, raw.reason(), bytes(raw[:-1]))  # type: ignore[attr-defined]
                continue
            if pending:
                raw = pending + raw
                pending = b""
            if raw[-1:] != b"\n":
                pending = raw  # torn, or the producer split a line: wait for more
                continue
            pos = SourcePosition(line_no, offset)
            line_no += 1
            offset += len(raw)
            self.lines_read += 1
            self.offset_reached = offset
            body = raw[:-1]
            if body[-1:] == b"\r":
                body = body[:-1]

            if prefix is None:
                if not body.strip():
                    self.n_blank += 1
                    continue
                if LSTOSA_PREFIX in body:
                    prefix = LSTOSA_PREFIX
                elif LOGPROV_PREFIX in body:
                    prefix = LOGPROV_PREFIX
                elif body.lstrip()[:2] in (b"{'", b'{"'):
                    prefix = BARE_DICT
                else:
                    yield self._other(pos, body)
                    continue
                self.prefix = prefix
                plen = len(prefix)

            # --- split prefix / time / payload
            if plen:
                i = body.find(prefix)
                if i < 0:
                    if not body.strip():
                        self.n_blank += 1
                        continue
                    yield self._other(pos, body)
                    continue
                t0 = i + plen
                j = body.find(prefix, t0)
                if j < 0:
                    self.n_rejected += 1
                    yield RejectedLine(
                        pos,
                        f"the provenance prefix {prefix.decode()!r} appears only once; expected "
                        f"'<LEVEL> ...{prefix.decode()}<time>{prefix.decode()}<payload>'",
                        body,
                    )
                    continue
                p0 = j + plen
                if body.find(prefix, p0) >= 0:
                    count = body.count(prefix)
                    self.n_rejected += 1
                    yield RejectedLine(
                        pos,
                        f"the provenance prefix {prefix.decode()!r} appears {count} times, "
                        "expected exactly 2 (damaged line, or two records written into one)",
                        body,
                    )
                    continue
                time_bytes = body[t0:j]
                try:
                    rt = time_bytes.decode("ascii")
                    fromisoformat(rt)
                except ValueError:
                    self.n_rejected += 1
                    yield RejectedLine(
                        pos,
                        f"record time {time_bytes.decode('latin-1')[:40]!r} between the "
                        "prefixes is not an ISO date-time",
                        body,
                    )
                    continue
                payload = body[p0:]
            else:
                stripped = body.strip()
                if not stripped:
                    self.n_blank += 1
                    continue
                if stripped[:1] != b"{":
                    yield self._other(pos, body)
                    continue
                rt = ""
                payload = stripped

            # --- payload -> dict
            try:
                d = None
                if plen and len(payload) > _SESSION_MIN_BYTES:
                    d = self._parse_session(payload)
                if d is None:
                    d = parse(payload)
            except ValueError as exc:
                self.n_rejected += 1
                yield RejectedLine(pos, str(exc), body)
                continue
            if not plen:
                d = none_strings_to_none(d)

            # --- dict -> record
            try:
                record = build(d, pos, rt, dropped)
            except RecordError as exc:
                self.n_rejected += 1
                yield RejectedLine(pos, str(exc), body)
                continue
            self.n_records += 1
            yield record
        if pending:
            self.torn_tail = pending
