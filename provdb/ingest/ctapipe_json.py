"""Parser of ctapipe Tool provenance logs (``*.provenance.log``).

A ctapipe ``Tool`` appends ``json.dumps(<list of all finished activities>, indent=3)``
to its provenance log, with no trailing newline (spec §4). Consecutive runs in the same
directory glue the arrays as ``][`` (ctapipe issue #3058), so a file is a
*concatenation* of JSON arrays; and a process that runs several tools writes its earlier
activities again. This module:

* decodes the concatenated arrays incrementally (:func:`iter_activities`), naming the
  line of every activity and of every syntax error;
* maps one activity object to archive rows (:func:`map_activity`);
* reads a whole file, compressed or not, de-duplicating activities by ``activity_uuid``
  (:func:`parse_file`);
* recognises the format from the first bytes of a file (:func:`detect`).

Mapping of one activity (spec §4, §9)::

    activity_uuid, activity_name, start/stop, status, exit_code  -> ActivityRow
    system (minus arguments/start_time_utc)                      -> EnvironmentRow
    the tool run itself                                          -> SessionRow "ctapipe:<uuid>"
    system.environment.USER                                      -> AgentRow + AssociationRow
    config (nested dict)                                         -> ParameterRow per leaf
    input[] / output[]                                           -> EntityRow + UsedRow /
                                                                    GenerationRow

The module is pure: no database, no printing, standard library only.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from provdb.errors import ParseError
from provdb.ingest.compression import (
    COMPRESSION_ERRORS,
    DecompressionLimitError,
    compression_of,
    decompress_head,
    read_document,
)
from provdb.ingest.identifiers import environment_id, path_entity_id, split_system
from provdb.ingest.records import (
    ActivityRow,
    AgentRow,
    ArchiveRow,
    AssociationRow,
    EntityRow,
    EnvironmentRow,
    GenerationRow,
    ParameterRow,
    SessionRow,
    UsedRow,
)

__all__ = [
    "FINAL_STATUSES",
    "SESSION_PREFIX",
    "detect",
    "iter_activities",
    "map_activity",
    "parse_file",
]

#: Prefix of the session id made for each ctapipe tool run: ``"ctapipe:" + activity_uuid``.
SESSION_PREFIX = "ctapipe:"

#: Statuses ctapipe writes when an activity has finished (``running`` is the initial one).
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "error", "interrupted"})

# Top-level keys of an activity that have a column (or a row type) of their own; any
# other key is kept in ActivityRow.attributes so that nothing is silently dropped.
_MAPPED_KEYS = frozenset(
    {
        "activity_name",
        "activity_uuid",
        "status",
        "start",
        "stop",
        "system",
        "input",
        "output",
        "exit_code",
        "config",
    }
)

_WS = re.compile(r"[ \t\n\r]*")  # JSON whitespace
_DETECT_LIMIT = 4096  # bytes of decompressed head that detect() looks at


# --------------------------------------------------------------------------------------
# Incremental decoding
# --------------------------------------------------------------------------------------


def _decode_text(data: bytes | bytearray | memoryview | str, path: str) -> str:
    if isinstance(data, str):
        text = data
    else:
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            line = raw.count(b"\n", 0, err.start) + 1
            raise ParseError(
                path,
                line,
                f"invalid UTF-8 byte {raw[err.start]:#04x} (a ctapipe provenance log is "
                "ASCII JSON; the file is damaged or not a provenance log)",
            ) from None
    return text.removeprefix("\ufeff")


def _skip_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _snippet(text: str, pos: int) -> str:
    return repr(text[pos : pos + 20])


def iter_activities(
    data: bytes | str, *, path: str = "<stream>"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Decode the activities of a ctapipe provenance log, one at a time.

    The input is a sequence of JSON arrays of activity objects, possibly glued
    (``][``) or separated by whitespace. Empty arrays (``[]``) are allowed.

    Parameters
    ----------
    data
        The whole file content, as bytes (UTF-8, an optional BOM is dropped) or text.
    path
        Name used in error messages.

    Yields
    ------
    tuple of (int, dict)
        The 1-based line number where the activity object starts (its ``{``) and the
        decoded activity. Every element of every array is yielded, duplicates included.

    Raises
    ------
    ParseError
        On the first syntax error: text that is not an array, an array element that is not
        an object, invalid JSON inside an activity, or a file that ends inside an array
        (truncated). The error names the line and what is wrong. Activities before the
        error have already been yielded.
    """
    text = _decode_text(data, path)
    decoder = json.JSONDecoder()
    n = len(text)
    line, line_pos = 1, 0

    def line_at(pos: int) -> int:
        # positions only move forward, so count newlines incrementally
        nonlocal line, line_pos
        line += text.count("\n", line_pos, pos)
        line_pos = pos
        return line

    def truncated(array_line: int) -> ParseError:
        return ParseError(
            path,
            line_at(n),
            f"file ends inside the JSON array opened at line {array_line} (truncated file?)",
        )

    pos = 0
    while True:
        pos = _skip_ws(text, pos)
        if pos >= n:
            return
        if text[pos] != "[":
            raise ParseError(
                path,
                line_at(pos),
                f"expected '[' opening an array of activities, found {_snippet(text, pos)}",
            )
        array_line = line_at(pos)
        pos = _skip_ws(text, pos + 1)
        if pos < n and text[pos] == "]":
            pos += 1
            continue
        while True:
            if pos >= n:
                raise truncated(array_line)
            if text[pos] != "{":
                raise ParseError(
                    path,
                    line_at(pos),
                    f"expected an activity object '{{' in the array opened at line "
                    f"{array_line}, found {_snippet(text, pos)}",
                )
            start_line = line_at(pos)
            try:
                activity, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as err:
                at_end = not text[err.pos :].strip(" \t\n\r")
                if at_end or err.msg.startswith("Unterminated string"):
                    reason = (
                        f"file ends inside the activity starting at line {start_line} "
                        f"(truncated file?): {err.msg}"
                    )
                else:
                    reason = (
                        f"invalid JSON in the activity starting at line {start_line}: "
                        f"{err.msg} (column {err.colno})"
                    )
                raise ParseError(path, err.lineno, reason) from None
            yield start_line, activity
            pos = _skip_ws(text, end)
            if pos >= n:
                raise truncated(array_line)
            if text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
                continue
            if text[pos] == "]":
                pos += 1
                break
            raise ParseError(
                path,
                line_at(pos),
                f"expected ',' or ']' after the activity starting at line {start_line}, "
                f"found {_snippet(text, pos)}",
            )


# --------------------------------------------------------------------------------------
# Mapping one activity
# --------------------------------------------------------------------------------------


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _time_text(block: Any) -> str | None:
    """``{"time_utc": "..."}`` -> the text; ``{}`` (still running) or missing -> None."""
    if isinstance(block, dict):
        return _opt_str(block.get("time_utc"))
    return _opt_str(block)


def _parse_utc(text: str | None) -> datetime | None:
    """ctapipe writes UTC ISO times without zone: parse as naive UTC; None if unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _exit_code(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    return None


def _software_version(system: dict[str, Any] | None) -> str | None:
    """``ctapipe_version``; else the first other ``<name>_version`` as ``"<name> <v>"``."""
    if not system:
        return None
    version = system.get("ctapipe_version")
    if version is not None:
        return _opt_str(version)
    for key, value in system.items():
        if key.endswith("_version") and isinstance(value, str) and value:
            return f"{key.removesuffix('_version')} {value}"
    return None


def _user(system: dict[str, Any] | None) -> str | None:
    if not system:
        return None
    environment = system.get("environment")
    if not isinstance(environment, dict):
        return None
    user = environment.get("USER")
    if isinstance(user, str) and user.strip():
        return user
    return None


def _command_line(arguments: Any) -> tuple[str | None, str | None]:
    """``(command_line, script)`` from ``system.arguments``."""
    if isinstance(arguments, list) and arguments:
        args = [a if isinstance(a, str) else str(a) for a in arguments]
        return " ".join(shlex.quote(a) for a in args), args[0]
    if isinstance(arguments, str) and arguments.strip():
        return arguments, arguments.split()[0]
    return None, None


def _is_quantity(value: dict[str, Any]) -> bool:
    """``{"value": ..., "unit": "..."}``: how ctapipe >= 0.24 serialises an astropy Quantity."""
    return value.keys() == {"value", "unit"} and isinstance(value["unit"], str)


def _config_leaves(node: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """Leaves of a nested config dict as (dotted name, value).

    ``{}`` and a serialised Quantity (``{"value", "unit"}``) count as leaves.
    """
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value and not _is_quantity(value):
            yield from _config_leaves(value, name)
        else:
            yield name, value


def _parameter_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _entity_name(url: str) -> str:
    """Last path component (``/a/models/`` -> ``models``); the url itself if there is none."""
    local = unquote(urlsplit(url).path) if "://" in url else url
    return PurePosixPath(local).name or url


def _entity(item: dict[str, Any], url: str) -> EntityRow:
    attributes: dict[str, Any] = {}
    content_type = None
    reference_meta = item.get("reference_meta")
    if reference_meta is not None:
        attributes["reference_meta"] = reference_meta
        if isinstance(reference_meta, dict):
            fmt = reference_meta.get("CTA PRODUCT FORMAT")
            if isinstance(fmt, str) and fmt.strip():
                content_type = fmt
    for key, value in item.items():
        if key not in ("url", "role", "reference_meta"):
            attributes[key] = value
    return EntityRow(
        id=path_entity_id(url),
        name=_entity_name(url),
        location=url,
        content_type=content_type,
        attributes=attributes or None,
    )


def _file_items(
    act: dict[str, Any], key: str, *, path: str, line: int
) -> Iterator[tuple[EntityRow, str | None]]:
    items = act.get(key)
    if items is None:
        return
    if not isinstance(items, list):
        raise ParseError(path, line, f"'{key}' of activity must be a list, not {items!r:.60}")
    for number, item in enumerate(items, 1):
        if isinstance(item, str):  # very old ctapipe: a bare path
            item = {"url": item}
        if not isinstance(item, dict):
            raise ParseError(path, line, f"{key} #{number} is not an object: {item!r:.60}")
        url = item.get("url")
        if not isinstance(url, str) or not url:
            raise ParseError(path, line, f"{key} #{number} has no 'url' (a path string)")
        yield _entity(item, url), _opt_str(item.get("role"))


def map_activity(act: dict[str, Any], *, path: str, line: int) -> list[ArchiveRow]:
    """Map one ctapipe activity object to archive rows.

    Parameters
    ----------
    act
        One decoded activity (an element of a provenance-log array).
    path, line
        Where the activity comes from, for error messages.

    Returns
    -------
    list of ArchiveRow
        In load order: ``EnvironmentRow`` (if ``system`` is present), ``SessionRow``,
        ``AgentRow`` (if ``USER`` is set), ``ActivityRow``, ``AssociationRow``,
        ``ParameterRow`` per config leaf, then ``EntityRow`` + ``UsedRow`` per input and
        ``EntityRow`` + ``GenerationRow`` per output. Exact duplicate entity / usage /
        generation rows within the activity are dropped.

    Raises
    ------
    ParseError
        If the activity is not an object, has no ``activity_uuid``, or its ``system``,
        ``input`` or ``output`` have the wrong shape.

    Notes
    -----
    * Times are ``start.time_utc`` / ``stop.time_utc`` read as naive UTC; the original
      texts are kept in ``start_time_text`` / ``end_time_text``. A running activity has
      ``stop == {}``: no end time.
    * ``status`` is kept as written (2019 logs hold the activity name there); a missing
      ``exit_code`` (before ctapipe 0.22) gives ``None``.
    * ``system`` is stored unchanged apart from the per-call keys (``num_cpus`` is not
      renamed to ``n_cpus``); ``duration_min``, ``samples`` and any unknown top-level key
      go to ``ActivityRow.attributes``.
    * Config leaves: dotted name (``Tool.Component.trait``); value is the string itself, or
      ``json.dumps(value, sort_keys=True)`` (``null``, ``5``, ``false``, ``["a"]``, ``{}``).
      An empty dict and a serialised Quantity (``{"value": 1.5, "unit": "deg"}``, ctapipe
      >= 0.24) are leaves, not levels; any other dict is a level of the dotted name.
    * Inputs and outputs become entities whose id is :func:`path_entity_id` of ``url``
      (the lstosa rule, so both sources share file entities). ``url`` may be a directory;
      ``role`` may be null; ``reference_meta`` (when not null) is kept in
      ``attributes['reference_meta']`` and its ``CTA PRODUCT FORMAT`` (when not empty)
      becomes ``content_type``.
    """
    if not isinstance(act, dict):
        raise ParseError(path, line, f"an activity must be a JSON object, not {act!r:.60}")
    uuid = act.get("activity_uuid")
    if not isinstance(uuid, str) or not uuid.strip():
        raise ParseError(path, line, "activity has no 'activity_uuid' (a non-empty string)")
    name = _opt_str(act.get("activity_name"))
    system = act.get("system")
    if system is not None and not isinstance(system, dict):
        raise ParseError(path, line, f"'system' of activity {uuid} must be an object")

    rows: list[ArchiveRow] = []
    env_id: str | None = None
    arguments: Any = None
    if system is not None:
        environment, per_call = split_system(system)
        env_id = environment_id(system)
        arguments = per_call.get("arguments")
        rows.append(EnvironmentRow(id=env_id, system=environment))

    session_id = SESSION_PREFIX + uuid
    rows.append(
        SessionRow(
            id=session_id,
            original_id=uuid,
            name=name,
            software_version=_software_version(system),
            environment_id=env_id,
        )
    )

    user = _user(system)
    if user is not None:
        rows.append(AgentRow(id=user, name=user, type="Person"))

    start_text = _time_text(act.get("start"))
    end_text = _time_text(act.get("stop"))
    command_line, script = _command_line(arguments)
    attributes = {k: v for k, v in act.items() if k not in _MAPPED_KEYS}
    rows.append(
        ActivityRow(
            id=uuid,
            original_id=uuid,
            name=name,
            start_time=_parse_utc(start_text),
            end_time=_parse_utc(end_text),
            start_time_text=start_text,
            end_time_text=end_text,
            status=_opt_str(act.get("status")),
            exit_code=_exit_code(act.get("exit_code")),
            session_id=session_id,
            command_line=command_line,
            script=script,
            attributes=attributes or None,
        )
    )
    if user is not None:
        rows.append(AssociationRow(activity_id=uuid, agent_id=user, role="Operator"))

    config = act.get("config")
    if isinstance(config, dict):
        leaves: Iterator[tuple[str, Any]] = _config_leaves(config, "")
    elif config is not None:
        leaves = iter([("config", config)])
    else:
        leaves = iter(())
    for param_name, value in leaves:
        rows.append(
            ParameterRow(activity_id=uuid, name=param_name, parameter_value=_parameter_value(value))
        )

    seen: list[ArchiveRow] = []

    def add_once(row: ArchiveRow) -> None:
        if row not in seen:
            seen.append(row)
            rows.append(row)

    for entity, role in _file_items(act, "input", path=path, line=line):
        add_once(entity)
        add_once(UsedRow(activity_id=uuid, entity_id=entity.id, role=role))
    for entity, role in _file_items(act, "output", path=path, line=line):
        add_once(entity)
        add_once(GenerationRow(entity_id=entity.id, activity_id=uuid, role=role))
    return rows


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


def _read_bytes(path: str) -> bytes:
    """The file content, gzip / bzip2 / xz decompressed when its magic bytes say so."""
    try:
        return read_document(path)
    except DecompressionLimitError as err:
        raise ParseError(path, None, str(err)) from None
    except (*COMPRESSION_ERRORS, ValueError) as err:
        with open(path, "rb") as fh:
            kind = compression_of(fh.read(6))
        raise ParseError(
            path,
            None,
            f"cannot decompress {kind} data (damaged or truncated?): {err}",
        ) from None


def _status_rank(act: dict[str, Any]) -> tuple[int, bool]:
    """How far an activity copy got: final status > other/missing > running; then stop set."""
    status = act.get("status")
    if status in FINAL_STATUSES:
        rank = 2
    elif status == "running":
        rank = 0
    else:  # missing (old ctapipe) or odd values (2019: the activity name): finished
        rank = 1
    return rank, _time_text(act.get("stop")) is not None


def parse_file(path: str | os.PathLike[str]) -> Iterator[ArchiveRow]:
    """Parse a ctapipe provenance log into archive rows.

    Parameters
    ----------
    path
        The ``*.provenance.log`` file; gzip, bzip2 and xz files are decompressed
        transparently (recognised by their magic bytes, whatever the extension).

    Yields
    ------
    ArchiveRow
        The rows of :func:`map_activity` for each distinct activity, in the order in which
        each ``activity_uuid`` first appears. An ``EnvironmentRow`` or ``AgentRow`` is
        yielded once per id, an ``EntityRow`` once per distinct content.

    Raises
    ------
    ParseError
        If the file cannot be decompressed, is not valid (see :func:`iter_activities`) or
        an activity has a wrong shape (see :func:`map_activity`). The whole file is
        decoded before the first row is yielded, so a damaged file yields nothing.
    OSError
        If the file cannot be read.

    Notes
    -----
    De-duplication by ``activity_uuid``: a process that runs several tools writes its
    earlier activities again. Identical copies are kept once. When copies differ, the
    one with the most advanced status wins (``completed``/``error``/``interrupted`` over a
    missing or unusual status over ``running``; then a copy with a stop time over one
    without); on a tie the copy written last wins.
    """
    spath = os.fspath(path)
    data = _read_bytes(spath)
    kept: dict[str, tuple[int, dict[str, Any]]] = {}
    for line, act in iter_activities(data, path=spath):
        uuid = act.get("activity_uuid")
        if not isinstance(uuid, str) or not uuid.strip():
            raise ParseError(spath, line, "activity has no 'activity_uuid' (a non-empty string)")
        previous = kept.get(uuid)
        if previous is None or (
            previous[1] != act and _status_rank(act) >= _status_rank(previous[1])
        ):
            kept[uuid] = (line, act)  # a dict keeps the position of the first copy

    yielded_ids: set[tuple[type, str]] = set()
    yielded_entities: dict[str, list[EntityRow]] = {}
    for line, act in kept.values():
        for row in map_activity(act, path=spath, line=line):
            if isinstance(row, EnvironmentRow | AgentRow):
                key = (type(row), row.id)
                if key in yielded_ids:
                    continue
                yielded_ids.add(key)
            elif isinstance(row, EntityRow):
                same_id = yielded_entities.setdefault(row.id, [])
                if row in same_id:
                    continue
                same_id.append(row)
            yield row


# --------------------------------------------------------------------------------------
# Format detection
# --------------------------------------------------------------------------------------


def detect(head: bytes) -> bool:
    """Whether the first bytes of a file look like a ctapipe provenance log.

    Parameters
    ----------
    head
        The first kilobyte (or so) of the file. A gzip / xz head is decompressed as far
        as it goes (a bzip2 head usually cannot be: it then returns ``False``).

    Returns
    -------
    bool
        ``True`` if, after an optional BOM and whitespace, the text starts with ``[`` and
        either contains an ``"activity_name"`` or ``"activity_uuid"`` key or is exactly
        ``[]`` (an empty log).
    """
    text = (
        decompress_head(bytes(head), _DETECT_LIMIT).removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    )
    if not text.startswith(b"["):
        return False
    if text.rstrip(b" \t\r\n") == b"[]":
        return True
    return b'"activity_name"' in text or b'"activity_uuid"' in text
