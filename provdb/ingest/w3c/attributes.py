"""What the mapper reads from one statement: its attributes, its ids and its times.

:class:`Attrs` consumes single attribute values (``take``) and keeps the rest for the
row's ``attributes`` column; :class:`Node` is one declared element with its attributes
merged over every statement that declares it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from provdb.ingest.w3c.statements import QName, Value, value_text


def is_real_uri(uri: str | None) -> bool:
    """``scheme:`` followed by something (``id:``, ``param:``, ``session:`` are not URIs)."""
    if not uri:
        return False
    m = re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", uri)
    return bool(m) and len(uri) > m.end()


def source_id(q: QName) -> str:
    """The id as the source meant it: local part for lstosa's ``id:``, else as written."""
    return q.local if q.uri == "id:" else q.written


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 date-time as naive UTC, or None when empty or unparseable."""
    if text is None:
        return None
    t = text.strip()
    if not t:
        return None
    try:
        dt = datetime.fromisoformat(t)
    except ValueError:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


class Attrs:
    """The attributes of one record; ``take`` consumes single values, ``rest`` keeps the others."""

    def __init__(self, pairs: list[tuple[str, Value]]) -> None:
        self.pairs = pairs
        self.taken: set[int] = set()

    def take(self, *keys: str) -> str | None:
        for key in keys:
            for index, (k, v) in enumerate(self.pairs):
                if k == key and index not in self.taken:
                    self.taken.add(index)
                    return value_text(v)
        return None

    def take_where(self, key: str, predicate: Callable[[str], bool]) -> str | None:
        for index, (k, v) in enumerate(self.pairs):
            if k == key and index not in self.taken and predicate(value_text(v)):
                self.taken.add(index)
                return value_text(v)
        return None

    def values(self, key: str) -> list[str]:
        return [value_text(v) for k, v in self.pairs if k == key]

    def refs(self, local: str) -> list[QName]:
        keys = ("prov:" + local, "voprov:" + local)
        return [v for k, v in self.pairs if k in keys and isinstance(v, QName)]

    def ref(self, local: str) -> QName | None:
        found = self.refs(local)
        return found[0] if found else None

    def rest(self) -> dict[str, Any] | None:
        grouped: dict[str, list[str]] = {}
        for index, (k, v) in enumerate(self.pairs):
            if index not in self.taken:
                grouped.setdefault(k, []).append(value_text(v))
        if not grouped:
            return None
        return {k: v[0] if len(v) == 1 else v for k, v in sorted(grouped.items())}


def vo(a: Attrs, local: str) -> str | None:
    """Take the voprov attribute ``local`` (or its ``prov:`` spelling)."""
    return a.take("voprov:" + local, "prov:" + local)


def vo_fields(a: Attrs, *names: str, **renamed: str) -> dict[str, str | None]:
    """Take the voprov attributes of a row's plain fields: ``vo(a, name)`` under each of
    ``names``, and ``vo(a, local)`` under ``field`` for each ``field=local`` of ``renamed``."""
    fields = {name: vo(a, name) for name in names}
    fields.update({field: vo(a, local) for field, local in renamed.items()})
    return fields


def name_of(a: Attrs) -> str | None:
    """Take the element's name: its label or name attribute, PROV or voprov."""
    return a.take("prov:label", "prov:name", "voprov:name", "voprov:label")


def local_of(value: str) -> str:
    """The local part of a qualified name given as text (``prov:Person`` -> ``Person``)."""
    return value.rsplit(":", 1)[-1] if ":" in value else value


@dataclass(slots=True)
class Node:
    """One declared element: mapper class, qualified name, first line, merged attributes."""

    cls: str
    qname: QName
    line: int | None
    attrs: list[tuple[str, Value]] = field(default_factory=list)
