"""A PROV-JSON container written straight from records, without the ``prov`` model.

:class:`JsonDocument` has the record-making methods of ``prov.model.ProvDocument`` that
:mod:`provdb.lineage.provjson`'s builder calls (``entity``, ``activity``, ``used``,
``wasGeneratedBy`` ...), and :meth:`JsonDocument.container` returns the PROV-JSON
container (plain dicts and lists) that ``prov`` 3.2's serialiser writes for the same
calls: same record order, same anonymous ids (``_:id1``...), same typed literals
(``{"$": "12", "type": "xsd:int"}``), same merging of repeated values and identifiers.

Why: building the ``prov`` model validates and coerces every attribute of every record
(qualified-name resolution, typed value sets, record hashing) and its JSON encoder is
the pure-Python one (``indent`` disables the C encoder). For the year archive's DL3
lineage (624 nodes, 2,722 relations, 1.8 MB) that took ~350 ms of a 450 ms ProvSAP
answer; the same container here is a few milliseconds, and :func:`dumps` writes it with
orjson. ``tests/provdb/test_provjson_container.py`` checks the two give the same
document. The value encodings are ``prov``'s own functions, so they cannot drift.

Pure: no database, no Flask.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from prov.model.records import _xsd_datetime_text, _xsd_double_text, canonical_xsd_datatype

from provdb.prov_formal import PROV_FORMAL

__all__ = ["JsonDocument", "Name", "Namespace", "dumps", "literal"]


class Name(str):
    """A qualified name: its text ``prefix:local`` (what ``prov``'s QualifiedName writes).

    A ``str`` subclass so that it is written as is where a name is expected, while a
    plain string attribute value stays distinct (``type(value)``)."""

    __slots__ = ()


class Namespace:
    """``namespace[local]`` -> :class:`Name`, like ``prov.identifier.Namespace``."""

    def __init__(self, prefix: str, uri: str) -> None:
        self.prefix = prefix
        self.uri = uri
        self._names: dict[str, Name] = {}  # a document names each id several times

    def __getitem__(self, local: str) -> Name:
        name = self._names.get(local)
        if name is None:
            name = self._names[local] = Name(f"{self.prefix}:{local}")
        return name


_TIMES = frozenset(("prov:startTime", "prov:endTime", "prov:time"))
_FORMAL_TIMES = {
    kind: tuple((n, n in _TIMES) for n in names) for kind, names in PROV_FORMAL.items()
}


def literal(value: Any) -> Any:
    """The PROV-JSON form of one non-formal attribute value (prov's encoding)."""
    if type(value) is str:
        return value
    if isinstance(value, Name):
        return {"$": str(value), "type": "xsd:QName"}
    if isinstance(value, datetime):
        return {"$": _xsd_datetime_text(value), "type": "xsd:dateTime"}
    datatype = canonical_xsd_datatype(value)
    if datatype is not None:
        text = _xsd_double_text(value) if isinstance(value, float) else str(value)
        return {"$": text, "type": str(datatype)}
    return value


def _formal_values(kind: str, formal: tuple[Any, ...]) -> list[tuple[str, Any]]:
    """The formal attributes given (not None) of a record: (PROV-JSON name, value)."""
    return [
        (name, value)
        for (name, _), value in zip(_FORMAL_TIMES[kind], formal, strict=False)
        if value is not None
    ]


def _formal_record(kind: str, formal: tuple[Any, ...]) -> dict[str, Any]:
    """The PROV-JSON of a record's formal attributes: times as xsd:dateTime text, the
    related nodes as their names."""
    record: dict[str, Any] = {}
    for (name, is_time), value in zip(_FORMAL_TIMES[kind], formal, strict=False):
        if value is None:
            continue
        if is_time:
            record[name] = _xsd_datetime_text(value) if isinstance(value, datetime) else value
        else:
            record[name] = str(value)
    return record


def _raw(kind: str, formal: tuple[Any, ...], other: Any) -> dict[str, list[Any]]:
    """A record's attributes as prov holds them: name -> its distinct (type, value)s."""
    raw: dict[str, list[Any]] = {name: [value] for name, value in _formal_values(kind, formal)}
    for name, value in other or ():
        if value is None:
            continue
        values = raw.setdefault(str(name), [])
        # prov keeps one of each (type, value): a repeated pair is written once
        if not any(type(v) is type(value) and v == value for v in values):
            values.append(value)
    return raw


def _content(raw: dict[str, list[Any]]) -> frozenset:
    """What prov compares records by: the set of (attribute, value type, value)."""
    return frozenset((n, type(v), v) for n, values in raw.items() for v in values)


class JsonDocument:
    """Encodes records as they come, as ``prov`` does; :meth:`container` returns them."""

    def __init__(self) -> None:
        self._namespaces: list[Namespace] = []
        self._sections: dict[str, dict[str, Any]] = {}
        # prov names an anonymous record by its content: equal records share one id.
        # Candidates are found by kind and the two related nodes (hashing every value,
        # timestamps included, cost more than the rest of the encoding)
        self._anonymous: dict[tuple, list[tuple[tuple[Any, ...], Any, str]]] = {}
        self._count = 0

    def add_namespace(self, prefix: str, uri: str) -> Namespace:
        namespace = Namespace(prefix, uri)
        self._namespaces.append(namespace)
        return namespace

    # -- records (the signatures of prov.model.ProvBundle's) -------------------------------
    def _record(self, kind: str, ident: Name | None, formal: tuple[Any, ...], other: Any) -> None:
        # the hot loop of a large lineage (~5,000 records): the record's own keys tell a
        # repeated attribute (rare: the general path below), str values (most of them)
        # are written without a call
        record = _formal_record(kind, formal)
        for name, value in other or ():
            if value is None:
                continue
            if type(name) is not str:
                name = str(name)  # orjson takes exact str keys only
            if name in record:
                record = self._repeated(kind, formal, other)
                break
            record[name] = value if type(value) is str else literal(value)
        text = str(ident) if ident else self._anonymous_id(kind, formal, other)
        section = self._sections.get(kind)
        if section is None:
            section = self._sections[kind] = {}
        present = section.get(text)
        if present is None:
            section[text] = record
        elif type(present) is dict:
            section[text] = [present, record]
        else:
            present.append(record)

    @staticmethod
    def _repeated(kind: str, formal: tuple[Any, ...], other: Any) -> dict[str, Any]:
        """The record of an attribute given several times: one value, or a list of them."""
        record = _formal_record(kind, formal)
        raw: dict[str, list[Any]] = {name: [value] for name, value in _formal_values(kind, formal)}
        for name, value in other or ():
            if value is None:
                continue
            name = str(name)
            values = raw.get(name)
            if values is None:
                raw[name] = [value]
                record[name] = literal(value)
            # prov keeps one of each (type, value): a repeated pair is written once
            elif not any(type(v) is type(value) and v == value for v in values):
                values.append(value)
                record[name] = [literal(v) for v in values]
        return record

    def _anonymous_id(self, kind: str, formal: tuple[Any, ...], other: Any) -> str:
        # prov names an anonymous record by its content: equal records share one id. The
        # contents are compared only when the kind and the two related nodes are the same
        # (building them for every record cost more than the rest of the encoding)
        key = (kind, formal[0], formal[1] if len(formal) > 1 else None)
        candidates = self._anonymous.get(key)
        if candidates is None:
            candidates = self._anonymous[key] = []
        else:
            content = _content(_raw(kind, formal, other))
            for other_formal, other_attrs, other_id in candidates:
                if _content(_raw(kind, other_formal, other_attrs)) == content:
                    return other_id
        self._count += 1
        ident = f"_:id{self._count}"
        candidates.append((formal, tuple(other) if other else None, ident))
        return ident

    def entity(self, identifier: Name, other_attributes: Any = None) -> None:
        self._record("entity", identifier, (), other_attributes)

    def agent(self, identifier: Name, other_attributes: Any = None) -> None:
        self._record("agent", identifier, (), other_attributes)

    def activity(
        self,
        identifier: Name,
        startTime: Any = None,
        endTime: Any = None,
        other_attributes: Any = None,
    ) -> None:
        self._record("activity", identifier, (startTime, endTime), other_attributes)

    def used(
        self,
        activity: Name,
        entity: Name | None = None,
        time: Any = None,
        identifier: Name | None = None,
        other_attributes: Any = None,
    ) -> None:
        self._record("used", identifier, (activity, entity, time), other_attributes)

    def wasGeneratedBy(
        self,
        entity: Name,
        activity: Name | None = None,
        time: Any = None,
        identifier: Name | None = None,
        other_attributes: Any = None,
    ) -> None:
        self._record("wasGeneratedBy", identifier, (entity, activity, time), other_attributes)

    def wasDerivedFrom(self, generatedEntity: Name, usedEntity: Name) -> None:
        self._record("wasDerivedFrom", None, (generatedEntity, usedEntity), None)

    def wasAssociatedWith(
        self,
        activity: Name,
        agent: Name | None = None,
        plan: Name | None = None,
        identifier: Name | None = None,
        other_attributes: Any = None,
    ) -> None:
        self._record("wasAssociatedWith", identifier, (activity, agent, plan), other_attributes)

    def wasAttributedTo(
        self,
        entity: Name,
        agent: Name,
        identifier: Name | None = None,
        other_attributes: Any = None,
    ) -> None:
        self._record("wasAttributedTo", identifier, (entity, agent), other_attributes)

    def wasInformedBy(self, informed: Name, informant: Name) -> None:
        self._record("wasInformedBy", None, (informed, informant), None)

    def hadMember(self, collection: Name, entity: Name) -> None:
        self._record("hadMember", None, (collection, entity), None)

    # -- encoding --------------------------------------------------------------------------
    def container(self) -> dict[str, Any]:
        """The PROV-JSON container: ``prefix``, then one object per record kind."""
        out: dict[str, Any] = {}
        if self._namespaces:
            out["prefix"] = {ns.prefix: ns.uri for ns in self._namespaces}
        out.update(self._sections)
        return out


def dumps(container: dict[str, Any], *, indent: int | None = 2) -> bytes:
    """UTF-8 JSON of a container: ``indent=2`` as ``prov`` writes it, ``None`` compact."""
    if indent not in (None, 2):
        raise ValueError(f"indent must be 2 or None (orjson's two choices), not {indent!r}")
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(container, option=option)
