"""Streaming parser of lstosa / logprov ``prov.log`` files (spec §1, §6.1, §10).

Three line formats are understood:

* **lstosa** ``prov.log``: ``<LEVEL> provLogger __PROV__<record_time>__PROV__<payload>``
  (spec §1.2), interleaved with diagnostics such as ``WARNING provLogger ...`` (§1.3);
* **logprov** logs: ``<LEVEL> _PROV_<record_time>_PROV_<payload>`` (no logger name, DEBUG
  lines, id-as-key entity records, integer ids above 2**64; spec §6.1, §10.31);
* **run-wise** lstosa ``*_prov.log`` products: one bare ``{...}`` dict per line, no prefix
  and no time stamp, values that went through YAML so the string ``'None'`` means null
  (spec §3.3, §10.20).

``<payload>`` is the Python ``repr`` of a dict. Each line becomes one typed record of
:mod:`provdb.ingest.records` (kind inferred from the keys in the order of spec §1.4), a
:class:`~provdb.ingest.records.NonProvenanceLine`, or a
:class:`~provdb.ingest.records.RejectedLine`; nothing is silently dropped except blank lines.

Incremental ingest
------------------
:func:`parse_lines` and :func:`parse_file` return a :class:`LstosaLogReader`, an iterator
whose attributes say how far it safely got::

    reader = parse_file("prov.log", start_offset=state.offset, start_line=state.line)
    for item in reader:
        ...
    state.offset, state.line = reader.offset_reached, reader.next_line

A last line without its trailing newline is a line still being written: it is neither
yielded nor rejected, ``reader.torn_tail`` holds its bytes and ``reader.offset_reached``
stays at the start of it, so the next run re-reads it once it is complete.

Speed
-----
Small records are decoded with the C JSON scanner after a byte translation that makes every
payload JSON cannot represent identically fail (any ``"`` or ``\\`` in the payload, Python-only
literals such as ``None``/``True``/tuples); those fall back to :func:`ast.literal_eval`. The
~20 kB session records are cut at the top-level keys of their ``system`` dict: the pieces
that repeat (``executable`` + ``platform`` per node, ``python`` with its package list and
``environment`` per software environment) are parsed once per distinct byte string and
cached; only the small varying rest (``arguments``, ``start_time_utc`` and the other session
keys) is parsed per line. Consequently the nested values of ``LstosaSession.system`` (e.g.
``system["python"]``) may be **the same objects in several records**: treat them as
read-only. Each record still gets its own top-level ``system`` dict.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import yaml

from provdb.config import ingest_limits
from provdb.errors import ParseError
from provdb.ingest.compression import (
    COMPRESSION_ERRORS,
    decompress_head,
    iter_lines,
    open_binary,
)
from provdb.ingest.records import (
    LstosaActivityEnd,
    LstosaActivityStart,
    LstosaDerived,
    LstosaEntity,
    LstosaGenerated,
    LstosaMember,
    LstosaParameters,
    LstosaRecord,
    LstosaSession,
    LstosaUnknown,
    LstosaUsed,
    NonProvenanceLine,
    OversizedLine,
    RejectedLine,
    SourcePosition,
)

#: control characters no text log line holds (tab, form feed, CR and the ESC of
#: terminal colours are allowed)
_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")

__all__ = [
    "BARE_DICT",
    "LOGPROV_PREFIX",
    "LSTOSA_PREFIX",
    "LstosaLogItem",
    "LstosaLogReader",
    "detect",
    "parse_file",
    "parse_lines",
    "parse_payload",
]

LSTOSA_PREFIX = b"__PROV__"
"""Prefix of lstosa ``prov.log`` records (``logger.yaml`` ``PREFIX``)."""
LOGPROV_PREFIX = b"_PROV_"
"""Prefix of logprov records."""
BARE_DICT = b""
"""Pass as ``prefix`` for run-wise ``*_prov.log`` files: one bare dict per line."""

LstosaLogItem = LstosaRecord | NonProvenanceLine | RejectedLine
"""What a :class:`LstosaLogReader` yields."""

# --------------------------------------------------------------------------------------
# Payload decoding
# --------------------------------------------------------------------------------------

# Quote -> JSON quote; '"' and '\\' -> NUL, which JSON rejects everywhere, so any payload in
# which the two syntaxes could disagree (escapes, double-quoted strings) fails and falls back.
_JSON_BYTES = bytes.maketrans(b"'\"\\", b'"\x00\x00')
_JSON_STR = str.maketrans({"'": '"', '"': "\x00", "\\": "\x00"})


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN / Infinity are not Python literals


_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_json_raw_decode = _JSON_DECODER.raw_decode

_LITERAL_ERRORS = (SyntaxError, ValueError, TypeError, MemoryError, RecursionError)
_JSON_ERRORS = (ValueError, UnicodeDecodeError, RecursionError)

_YamlBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ReprYamlLoader(_YamlBase):  # type: ignore[misc, valid-type]
    """Safe YAML loader that also reads Python's ``None`` as null and ``1e-05``/``inf``/``nan``
    as floats (plain ``yaml.safe_load`` gives strings for all of them)."""


_ReprYamlLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^None$"), ["N"])
_ReprYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+|inf|nan)$"),
    list("-+0123456789in"),
)

_LITERAL_NODES = (
    ast.Expression,
    ast.Constant,
    ast.Dict,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Load,
    ast.UnaryOp,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
)


def _excerpt(text: str, column: int | None) -> str:
    """A short quoted piece of ``text`` around 1-based ``column`` for an error message."""
    if column is None or column < 1:
        return ""
    i = column - 1
    piece = text[max(0, i - 15) : i + 25]
    return f" near {piece!r}"


def _describe_literal_error(text: str, exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        msg = exc.msg or "invalid syntax"
        if exc.offset:
            return f"{msg} at column {exc.offset}{_excerpt(text, exc.offset)}"
        return msg
    if isinstance(exc, RecursionError | MemoryError):
        return "nested too deeply"
    if isinstance(exc, ValueError) and str(exc).startswith("malformed node"):
        try:
            tree = ast.parse(text.lstrip(" \t"), mode="eval")
        except _LITERAL_ERRORS:
            return "not a literal expression"
        for node in ast.walk(tree):
            if not isinstance(node, _LITERAL_NODES):
                column = getattr(node, "col_offset", None)
                shown = ast.get_source_segment(text.lstrip(" \t"), node) or type(node).__name__
                if len(shown) > 40:
                    shown = shown[:37] + "..."
                where = f" at column {column + 1}" if column is not None else ""
                return f"non-literal expression {shown!r}{where}"
        return "not a literal expression"
    return str(exc) or type(exc).__name__


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"{problem} at column {mark.column + 1}"
    return str(problem)


def _parse_payload_slow(text: str) -> dict[Any, Any]:
    """``ast.literal_eval``, then the YAML fallback; raises ValueError with a reason."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("payload is empty")
    try:
        value = ast.literal_eval(stripped)
    except _LITERAL_ERRORS as exc:
        reason = f"payload is not a Python dict literal: {_describe_literal_error(stripped, exc)}"
        # Only a flow mapping can give a dict; skip the (slow, pure-Python) YAML attempt
        # on anything else, e.g. a truncated line.
        if not (stripped.startswith("{") and stripped.endswith("}")):
            raise ValueError(reason) from None
        try:
            value = yaml.load(stripped, Loader=_ReprYamlLoader)  # a SafeLoader subclass
        except (yaml.YAMLError, RecursionError) as yexc:
            detail = (
                _describe_yaml_error(yexc)
                if isinstance(yexc, yaml.YAMLError)
                else "nested too deeply"
            )
            raise ValueError(f"{reason}; YAML fallback failed too: {detail}") from None
    if not isinstance(value, dict):
        raise ValueError(f"payload is a {type(value).__name__}, not a dict")
    return value


def parse_payload(text: str) -> dict[Any, Any]:
    """Parse one record payload (the Python ``repr`` of a dict).

    The payload is read with :func:`ast.literal_eval` (after a fast JSON shortcut that is
    only taken when it gives exactly the same result); if that fails and the text looks like
    a flow mapping (``{...}``), it is read with a YAML safe loader, as lstosa's own
    ``provprocess`` does, except that the bare word ``None`` is read as null (plain
    ``yaml.safe_load`` would give the string ``'None'``).

    Parameters
    ----------
    text : str
        The payload, e.g. ``"{'activity_id': '9d3257', 'endTime': '...'}"``.

    Returns
    -------
    dict
        The decoded dict, keys and values as written (ids may be ints).

    Raises
    ------
    ValueError
        If the payload is empty, is not a dict, or neither parser can read it; the message
        says why and where (column in the payload), e.g. ``"payload is not a Python dict
        literal: '{' was never closed at column 1 near ...; YAML fallback failed too: ..."``.
    """
    if text[:1] == "{":
        try:
            value, end = _json_raw_decode(text.translate(_JSON_STR))
        except _JSON_ERRORS:
            pass
        else:
            if end == len(text) and type(value) is dict:
                return value
    return _parse_payload_slow(text)


def _none_strings_to_none(value: Any) -> Any:
    """Undo lstosa's YAML round trip: the string ``'None'`` becomes ``None`` (recursively)."""
    if type(value) is str:
        return None if value == "None" else value
    if isinstance(value, dict):
        return {k: _none_strings_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_none_strings_to_none(v) for v in value]
    return value


# --------------------------------------------------------------------------------------
# Payload dict -> typed record (spec §1.4)
# --------------------------------------------------------------------------------------

_SESSION_KEYS = frozenset(
    {
        "session_id",
        "name",
        "startTime",
        "system",
        "observation_date",
        "software_version",
        "config_file",
        "config_file_hash",
        "config_file_hash_type",
        "observation_run",
        "pedestal_run",
        "calibration_run",
        "session_tag",
    }
)
_START_KEYS = frozenset(
    {"activity_id", "name", "startTime", "in_session", "agent_name", "script", "session_tag"}
)
_ENTITY_KEYS = frozenset(
    {
        "entity_id",
        "name",
        "filepath",
        "hash",
        "hash_type",
        "type",
        "contentType",
        "location",
        "session_tag",
    }
)
_PARAMETERS_KEYS = frozenset({"activity_id", "parameters", "session_tag"})
_USED_KEYS = frozenset({"activity_id", "used_id", "used_role", "session_tag"})
_GENERATED_KEYS = frozenset({"activity_id", "generated_id", "generated_role", "session_tag"})
_DERIVED_KEYS = frozenset({"entity_id", "progenitor_id", "session_tag"})
_MEMBER_KEYS = frozenset({"entity_id", "member_id", "session_tag"})
_END_KEYS = frozenset({"activity_id", "endTime", "session_tag"})
_ALL_KEYS = (
    _SESSION_KEYS
    | _START_KEYS
    | _ENTITY_KEYS
    | _PARAMETERS_KEYS
    | _USED_KEYS
    | _GENERATED_KEYS
    | _DERIVED_KEYS
    | _MEMBER_KEYS
    | _END_KEYS
    | {"entity_description", "value", "modifier"}
)
_ID_AS_KEY_HINTS = ("entity_description", "type", "location", "hash")


class _RecordError(ValueError):
    """A well-formed payload whose required field is unusable."""


def _s(value: Any) -> str | None:
    """Optional text field: ``None`` stays ``None``, non-strings (old int runs...) -> str."""
    if value is None or type(value) is str:
        return value
    return str(value)


def _req_id(d: dict[Any, Any], key: str, kind: str) -> str:
    """A required id field as text (ints of old/logprov formats become decimal strings)."""
    value = d.get(key)
    if type(value) is str:
        if value:
            return value
    elif isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if key not in d:
        raise _RecordError(f"{kind} record has no {key!r} key")
    raise _RecordError(f"{kind} record has an unusable {key!r}: {value!r:.60}")


def _req_text(d: dict[Any, Any], key: str, kind: str) -> str:
    value = d.get(key)
    if value is None or value == "":
        raise _RecordError(f"{kind} record has an empty {key!r} ({value!r})")
    if isinstance(value, dict | list | set | tuple):
        raise _RecordError(f"{kind} record has a non-scalar {key!r}: {value!r:.60}")
    return value if type(value) is str else str(value)


def _opt_id(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return str(value)


def _build_record(
    d: dict[Any, Any], pos: SourcePosition, rt: str, dropped: Counter[tuple[str, str]]
) -> LstosaRecord:
    """Infer the kind of ``d`` (spec §1.4 order) and build its record.

    Raises
    ------
    _RecordError
        If a required id or time is missing, empty or not a scalar.
    """
    tag = _s(d.get("session_tag"))
    if "session_id" in d:
        system = d.get("system")
        extra = {k: v for k, v in d.items() if k not in _SESSION_KEYS}
        if system is not None and not isinstance(system, dict):
            extra["system"] = system
            system = None
        return LstosaSession(
            pos,
            rt,
            tag,
            _req_id(d, "session_id", "session"),
            _s(d.get("name")),
            _s(d.get("startTime")),
            system,
            _s(d.get("observation_date")),
            _s(d.get("software_version")),
            _s(d.get("config_file")),
            _s(d.get("config_file_hash")),
            _s(d.get("config_file_hash_type")),
            _s(d.get("observation_run")),
            _s(d.get("pedestal_run")),
            _s(d.get("calibration_run")),
            extra,
        )
    has_activity = "activity_id" in d
    if has_activity and "startTime" in d:
        return LstosaActivityStart(
            pos,
            rt,
            tag,
            _req_id(d, "activity_id", "activity start"),
            _s(d.get("name")),
            _req_text(d, "startTime", "activity start"),
            _opt_id(d.get("in_session")),
            _s(d.get("agent_name")),
            _s(d.get("script")),
            {k: v for k, v in d.items() if k not in _START_KEYS},
        )
    if has_activity and "parameters" in d:
        params = d["parameters"]
        if not isinstance(params, dict):
            raise _RecordError(
                f"parameters record has 'parameters' of type {type(params).__name__}, "
                "expected a dict"
            )
        if not d.keys() <= _PARAMETERS_KEYS:
            dropped.update(("parameters", str(k)) for k in d.keys() - _PARAMETERS_KEYS)
        return LstosaParameters(pos, rt, tag, _req_id(d, "activity_id", "parameters"), params)
    has_entity = "entity_id" in d
    if has_entity and "member_id" not in d and "progenitor_id" not in d:
        return _entity(d, d["entity_id"], pos, rt, tag)
    if has_activity and "used_id" in d:
        if not d.keys() <= _USED_KEYS:
            dropped.update(("used", str(k)) for k in d.keys() - _USED_KEYS)
        return LstosaUsed(
            pos,
            rt,
            tag,
            _req_id(d, "activity_id", "used"),
            _req_id(d, "used_id", "used"),
            _s(d.get("used_role")),
        )
    if has_activity and "generated_id" in d:
        if not d.keys() <= _GENERATED_KEYS:
            dropped.update(("wasGeneratedBy", str(k)) for k in d.keys() - _GENERATED_KEYS)
        return LstosaGenerated(
            pos,
            rt,
            tag,
            _req_id(d, "activity_id", "wasGeneratedBy"),
            _req_id(d, "generated_id", "wasGeneratedBy"),
            _s(d.get("generated_role")),
        )
    if has_entity and "progenitor_id" in d:
        if not d.keys() <= _DERIVED_KEYS:
            dropped.update(("wasDerivedFrom", str(k)) for k in d.keys() - _DERIVED_KEYS)
        return LstosaDerived(
            pos,
            rt,
            tag,
            _req_id(d, "entity_id", "wasDerivedFrom"),
            _req_id(d, "progenitor_id", "wasDerivedFrom"),
        )
    if has_entity and "member_id" in d:
        if not d.keys() <= _MEMBER_KEYS:
            dropped.update(("hadMember", str(k)) for k in d.keys() - _MEMBER_KEYS)
        return LstosaMember(
            pos,
            rt,
            tag,
            _req_id(d, "entity_id", "hadMember"),
            _req_id(d, "member_id", "hadMember"),
        )
    if has_activity and "endTime" in d:
        if not d.keys() <= _END_KEYS:
            dropped.update(("activity end", str(k)) for k in d.keys() - _END_KEYS)
        return LstosaActivityEnd(
            pos,
            rt,
            tag,
            _req_id(d, "activity_id", "activity end"),
            _req_text(d, "endTime", "activity end"),
        )
    # logprov bug (spec §6.1): an entity logged next to a usage carries its id as a *key*,
    # {..., 8968858984698917461: 8968858984698917461}. Repair it into an entity record.
    if not has_activity and not has_entity and any(h in d for h in _ID_AS_KEY_HINTS):
        for k, v in d.items():
            if k == v and (type(k) is int or (type(k) is str and k not in _ALL_KEYS)):
                rest = {kk: vv for kk, vv in d.items() if kk is not k}
                return _entity(rest, k, pos, rt, tag)
    return LstosaUnknown(pos, rt, tag, d)


def _entity(
    d: dict[Any, Any], entity_id: Any, pos: SourcePosition, rt: str, tag: str | None
) -> LstosaEntity:
    if type(entity_id) is not str:
        if isinstance(entity_id, int) and not isinstance(entity_id, bool):
            entity_id = str(entity_id)
        else:
            raise _RecordError(f"entity record has an unusable 'entity_id': {entity_id!r:.60}")
    elif not entity_id:
        raise _RecordError("entity record has an empty 'entity_id'")
    return LstosaEntity(
        pos,
        rt,
        tag,
        entity_id,
        _s(d.get("name")),
        _s(d.get("filepath")),
        _s(d.get("hash")),
        _s(d.get("hash_type")),
        _s(d.get("type")),
        _s(d.get("contentType")),
        _s(d.get("location")),
        {k: v for k, v in d.items() if k not in _ENTITY_KEYS},
    )


# --------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------

_SYSTEM_OPEN = b"'system': {"
_SYSTEM_CUTS = (b", 'python': {", b", 'environment': {", b", 'arguments': ")
_SESSION_MIN_BYTES = 4096  # below this a session line is parsed as a whole
# entries kept per piece (a cache is cleared when full): executable+platform vary per node
# (~1 kB each), python (with its ~20 kB package list) and environment per software setup
_SYSTEM_CACHE_SIZES = (1024, 64, 256)
_PREFIX_TO_NAME = {LSTOSA_PREFIX: "lstosa", LOGPROV_PREFIX: "logprov", BARE_DICT: "run-wise"}


class _StreamError(Exception):
    """The underlying byte stream failed (turned into a ParseError naming the line)."""


class _ReaderState:
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
                text = payload.translate(_JSON_BYTES).decode("utf-8")
                value, end = _json_raw_decode(text)
            except _JSON_ERRORS:
                pass
            else:
                if type(value) is dict and end == len(text):
                    return value
        return _parse_payload_slow(self._decode(payload))

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
        except _StreamError as exc:
            raise ParseError(self.path, self.next_line, str(exc)) from exc.__cause__

    def _loop(self, lines: Iterator[bytes]) -> Iterator[LstosaLogItem]:
        prefix = self.prefix
        line_no = self.start_line
        offset = self.start_offset
        pending = b""
        build = _build_record
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
                d = _none_strings_to_none(d)

            # --- dict -> record
            try:
                record = build(d, pos, rt, dropped)
            except _RecordError as exc:
                self.n_rejected += 1
                yield RejectedLine(pos, str(exc), body)
                continue
            self.n_records += 1
            yield record
        if pending:
            self.torn_tail = pending


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
        self._state = _ReaderState(path, start_line, start_offset, prefix)
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
        return None if prefix is None else _PREFIX_TO_NAME.get(prefix, "custom")


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
            raise _StreamError(f"{what}: {exc}") from exc
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


# --------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------

_DETECT_PREFIXED = re.compile(
    rb"^[A-Z]+ (?:provLogger )?(__PROV__|_PROV_)\d{4}-\d\d-\d\dT[\d:.]+\1\{"
)
_DETECT_LSTOSA_DIAG = re.compile(rb"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) provLogger \S")
_DETECT_BARE = re.compile(rb"^\{'(?:session_id|activity_id|entity_id)': ")


def detect(head: bytes) -> bool:
    """Tell whether the first bytes of a file look like a log this module parses.

    Parameters
    ----------
    head : bytes
        The first few kB of the file (gzip/bzip2/xz compressed heads are decompressed).
        The last line may be cut: lstosa session lines are ~20 kB long.

    Returns
    -------
    bool
        ``True`` for an lstosa ``prov.log`` (a ``... __PROV__<time>__PROV__{`` line, or
        ``<LEVEL> provLogger`` diagnostics only), a logprov log (``<LEVEL> _PROV_<time>_PROV_{``)
        or a run-wise lstosa ``*_prov.log`` (first line ``{'session_id': ...``,
        ``{'activity_id': ...`` or ``{'entity_id': ...``); ``False`` otherwise, e.g. for a
        ctapipe JSON provenance log or a PROV-JSON document.
    """
    head = decompress_head(head)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    lines = head.split(b"\n", 64)[:64]
    first = next((ln for ln in lines if ln.strip()), b"")
    if _DETECT_BARE.match(first.lstrip()):
        return True
    return any(_DETECT_PREFIXED.match(ln) or _DETECT_LSTOSA_DIAG.match(ln) for ln in lines)
