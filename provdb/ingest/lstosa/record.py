"""One payload dict into one typed record of :mod:`provdb.ingest.records` (spec §1.4).

The record kind is inferred from the payload's keys in the order of spec §1.4 (none fits:
:class:`~provdb.ingest.records.LstosaUnknown`); ids that are ints become ``str``; keys a
kind has no field for go to its ``extra`` dict, or are counted as dropped for the kinds
without one. A required id or time that is missing or unusable raises
:class:`RecordError`, which the line loop turns into a rejected line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, NamedTuple

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
    RejectedLine,
    SourcePosition,
)

LstosaLogItem = LstosaRecord | NonProvenanceLine | RejectedLine
"""What a :class:`LstosaLogReader` yields."""


#: the optional text fields of a session after its system, in the record's order
_SESSION_TEXTS = (
    "observation_date",
    "software_version",
    "config_file",
    "config_file_hash",
    "config_file_hash_type",
    "observation_run",
    "pedestal_run",
    "calibration_run",
)
#: the optional text fields of an entity after its id, in the record's order
_ENTITY_TEXTS = ("name", "filepath", "hash", "hash_type", "type", "contentType", "location")
_SESSION_KEYS = frozenset(
    {"session_id", "name", "startTime", "system", "session_tag", *_SESSION_TEXTS}
)
_START_KEYS = frozenset(
    {"activity_id", "name", "startTime", "in_session", "agent_name", "script", "session_tag"}
)
_ENTITY_KEYS = frozenset({"entity_id", "session_tag", *_ENTITY_TEXTS})
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


class RecordError(ValueError):
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
        raise RecordError(f"{kind} record has no {key!r} key")
    raise RecordError(f"{kind} record has an unusable {key!r}: {value!r:.60}")


def _req_text(d: dict[Any, Any], key: str, kind: str) -> str:
    value = d.get(key)
    if value is None or value == "":
        raise RecordError(f"{kind} record has an empty {key!r} ({value!r})")
    if isinstance(value, dict | list | set | tuple):
        raise RecordError(f"{kind} record has a non-scalar {key!r}: {value!r:.60}")
    return value if type(value) is str else str(value)


def _opt_id(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return str(value)


def _opt_text(d: dict[Any, Any], key: str, kind: str) -> str | None:
    return _s(d.get(key))


_Read = Callable[[dict[Any, Any], str, str], Any]


class _Relation(NamedTuple):
    """A record kind made of ids (and a time or a role), whose other keys are dropped."""

    kind: str  # its name in messages and in the dropped-key counts
    make: Callable[..., LstosaRecord]
    keys: frozenset[str]
    fields: tuple[tuple[str, _Read], ...]  # after (pos, raw text, session tag), in order


_USED = _Relation(
    "used",
    LstosaUsed,
    _USED_KEYS,
    (("activity_id", _req_id), ("used_id", _req_id), ("used_role", _opt_text)),
)
_GENERATED = _Relation(
    "wasGeneratedBy",
    LstosaGenerated,
    _GENERATED_KEYS,
    (("activity_id", _req_id), ("generated_id", _req_id), ("generated_role", _opt_text)),
)
_DERIVED = _Relation(
    "wasDerivedFrom",
    LstosaDerived,
    _DERIVED_KEYS,
    (("entity_id", _req_id), ("progenitor_id", _req_id)),
)
_MEMBER = _Relation(
    "hadMember", LstosaMember, _MEMBER_KEYS, (("entity_id", _req_id), ("member_id", _req_id))
)
_END = _Relation(
    "activity end",
    LstosaActivityEnd,
    _END_KEYS,
    (("activity_id", _req_id), ("endTime", _req_text)),
)


def _relation(
    d: dict[Any, Any],
    relation: _Relation,
    pos: SourcePosition,
    rt: str,
    tag: str | None,
    dropped: Counter[tuple[str, str]],
) -> LstosaRecord:
    kind = relation.kind
    if not d.keys() <= relation.keys:
        dropped.update((kind, str(k)) for k in d.keys() - relation.keys)
    return relation.make(pos, rt, tag, *[read(d, key, kind) for key, read in relation.fields])


def build_record(
    d: dict[Any, Any], pos: SourcePosition, rt: str, dropped: Counter[tuple[str, str]]
) -> LstosaRecord:
    """Infer the kind of ``d`` (spec §1.4 order) and build its record.

    Raises
    ------
    RecordError
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
            *[_s(d.get(k)) for k in _SESSION_TEXTS],
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
            raise RecordError(
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
        return _relation(d, _USED, pos, rt, tag, dropped)
    if has_activity and "generated_id" in d:
        return _relation(d, _GENERATED, pos, rt, tag, dropped)
    if has_entity and "progenitor_id" in d:
        return _relation(d, _DERIVED, pos, rt, tag, dropped)
    if has_entity and "member_id" in d:
        return _relation(d, _MEMBER, pos, rt, tag, dropped)
    if has_activity and "endTime" in d:
        return _relation(d, _END, pos, rt, tag, dropped)
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
            raise RecordError(f"entity record has an unusable 'entity_id': {entity_id!r:.60}")
    elif not entity_id:
        raise RecordError("entity record has an empty 'entity_id'")
    return LstosaEntity(
        pos,
        rt,
        tag,
        entity_id,
        *[_s(d.get(k)) for k in _ENTITY_TEXTS],
        {k: v for k, v in d.items() if k not in _ENTITY_KEYS},
    )
