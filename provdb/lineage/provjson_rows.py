"""PROV-JSON (MODEL=IVOA) of a closure-answered lineage, written straight from archive rows.

ProvSAP's most common request, the lineage of a product in PROV-JSON, went rows ->
:class:`~provdb.lineage.graph.ProvGraph` (a Node per row, an Edge per relation, sorted
and deduplicated) -> the builder of :mod:`provdb.lineage.provjson` (a list of attribute
pairs per record) -> :class:`~provdb.lineage.provjson_container.JsonDocument` (a dict
per record) -> orjson. For the DL3 lineage of the year archive (~5,400 records) the
intermediate objects cost more than the database. :class:`LineageRows` makes each
record's final dict from the row tuples in one step, and orjson writes the document.

The document is **byte-identical** to :func:`~provdb.lineage.provjson.to_prov_json` of
the graph :func:`~provdb.lineage.traverse.lineage` builds from the same rows
(``tests/provdb/test_provjson_rows.py`` pins it): same records, attribute order, value
encodings (the same functions), section order and anonymous ids. Shapes it does not
write the same way answer ``None`` and the caller takes the general path: a node the
archive does not know, an attribute given twice in a record (an ``attributes`` key
equal to a column's), two records under one id, two relations with equal content.

Only the closure's answer is handled (entity start nodes, no AGENT/MEMBERS, never
truncated: :mod:`provdb.lineage.closure_walk`), so there are no hadMember or
wasInformedBy relations and no agent nodes beyond those of wasAssociatedWith and
wasAttributedTo. Pure: no database (:mod:`provdb.lineage.provjson_answer` fetches the rows).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from operator import itemgetter
from typing import Any

from prov.model.records import _xsd_datetime_text

from provdb.lineage.graph import DESCRIPTION_CLASSES, RELATIONS
from provdb.lineage.provjson import (
    ACTIVITY_COLUMNS,
    AGENT_TYPES,
    DESCRIPTION_ATTRS,
    DESCRIPTION_REFS,
    DM_AGENT,
    VOPROV_NAMESPACE,
    attribute_value,
    local_id,
)
from provdb.lineage.provjson_container import dumps, literal
from provdb.lineage.traverse import Rows

__all__ = ["LineageRows"]

# relations written from rows: their kinds, columns and PROV-JSON formal names
_WRITTEN = ("used", "wasGeneratedBy", "wasDerivedFrom", "wasAssociatedWith", "wasAttributedTo")
_FORMAL = {
    "used": ("prov:activity", "prov:entity"),
    "wasGeneratedBy": ("prov:entity", "prov:activity"),
    "wasDerivedFrom": ("prov:generatedEntity", "prov:usedEntity"),
    "wasAssociatedWith": ("prov:activity", "prov:agent"),
    "wasAttributedTo": ("prov:entity", "prov:agent"),
}
# relation -> its description column; that column -> the description class
_RELATION_DESCRIPTION = {
    "used": "usage_description_id",
    "wasGeneratedBy": "generation_description_id",
}
_DESCRIPTION_OF_COLUMN = {
    "usage_description_id": "usageDescription",
    "generation_description_id": "generationDescription",
}


class _Unusual(Exception):
    """A shape this writer does not write as the general path does."""


def _lit(value: Any) -> Any:
    """A non-formal attribute value as the container writes it."""
    return value if type(value) is str else literal(value)


def _time(value: Any) -> Any:
    return _xsd_datetime_text(value) if isinstance(value, datetime) else value


def _dicts(rows: Rows) -> list[dict[str, Any]]:
    """Rows as dicts without the NULL columns (the graph's attribute dicts)."""
    names, values = rows
    return [{k: v for k, v in zip(names, row, strict=True) if v is not None} for row in values]


class LineageRows:
    """The rows of one lineage, added in the order they are fetched; then :meth:`prov_json`.

    ``levels``: ``(kind, id)`` -> level of the closure's nodes; ``relations``: the rows of
    used, wasGeneratedBy and wasDerivedFrom fetched with them (a superset of those
    between the nodes).
    """

    def __init__(self, levels: dict[tuple[str, str], int], relations: dict[str, Rows]) -> None:
        self.levels = levels
        self.relations = dict(relations)
        self.entity_ids = sorted(i for k, i in levels if k == "entity")
        self.activity_ids = sorted(i for k, i in levels if k == "activity")
        self.entities: list[dict[str, Any]] = []
        self.activities: list[dict[str, Any]] = []
        self.agents: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.parameters: Rows = ((), [])
        self.config_files: Rows = ((), [])
        self.descriptions: dict[str, dict[str, dict[str, Any]]] = {}
        self.edges: dict[str, Rows] = {}  # relation -> its rows written (wanted_descriptions)

    # -- the rows, round trip after round trip ----------------------------------------------
    def add_nodes(self, rows: dict[str, Rows]) -> bool:
        """The first round trip (:func:`~provdb.lineage.traverse.node_queries`); ``False``
        when a node is not in the archive (the general path drops it)."""
        self.entities = _dicts(rows["entity"])
        self.activities = _dicts(rows["activity"])
        if len(self.entities) != len(self.entity_ids) or len(self.activities) != len(
            self.activity_ids
        ):
            return False
        self.relations["wasAssociatedWith"] = rows["wasAssociatedWith"]
        self.relations["wasAttributedTo"] = rows["wasAttributedTo"]
        self.parameters = rows.get("parameter", ((), []))
        self.config_files = rows.get("configfile", ((), []))
        return True

    def agent_ids(self) -> set[str]:
        """The agents of the nodes' wasAssociatedWith and wasAttributedTo rows."""
        found: set[str] = set()
        for relation in ("wasAssociatedWith", "wasAttributedTo"):
            names, values = self.relations[relation]
            if values:
                col = names.index("agent_id")
                found.update(row[col] for row in values)
        return found

    def session_ids(self) -> set[str]:
        return {a["session_id"] for a in self.activities if a.get("session_id")}

    def add_agents_and_sessions(self, agents: Rows, sessions: Rows) -> None:
        """The second round trip: agent and session rows by id."""
        self.agents = {row["id"]: row for row in _dicts(agents)}
        self.sessions = {row["id"]: row for row in _dicts(sessions)}

    def wanted_descriptions(self) -> dict[str, set[str]]:
        """Description ids referenced by the nodes, kept relations, parameters and config
        files, per class (the third round trip fetches them)."""
        self._keep_edges()
        wanted: dict[str, set[str]] = {name: set() for name in DESCRIPTION_CLASSES}
        for rows, column, name in (
            (self.entities, "entity_description_id", "entityDescription"),
            (self.activities, "activity_description_id", "activityDescription"),
        ):
            wanted[name].update(r[column] for r in rows if r.get(column))
        for relation, column in _RELATION_DESCRIPTION.items():
            names, values = self.edges[relation]
            if values:
                col = names.index(column)
                wanted[_DESCRIPTION_OF_COLUMN[column]].update(r[col] for r in values if r[col])
        for rows, column, name in (
            (self.parameters, "parameter_description_id", "parameterDescription"),
            (self.config_files, "config_file_description_id", "configFileDescription"),
        ):
            names, values = rows
            if values:
                col = names.index(column)
                wanted[name].update(row[col] for row in values if row[col])
        return {name: ids for name, ids in wanted.items() if ids}

    def add_descriptions(self, found: dict[str, Rows]) -> None:
        self.descriptions = {
            name: {row["id"]: row for row in _dicts(rows)} for name, rows in found.items()
        }

    def node_count(self) -> int:
        """Nodes of the answer: entities, activities and their agents."""
        return len(self.entities) + len(self.activities) + len(self.agents)

    def _keep_edges(self) -> None:
        """Per relation, the rows between two nodes, in :meth:`ProvGraph.finish`'s order
        and without its duplicates."""
        ids = {
            "entity": set(self.entity_ids),
            "activity": set(self.activity_ids),
            "agent": set(self.agents),
        }
        for relation in _WRITTEN:
            src_kind, dst_kind, (src_col, dst_col), _ = RELATIONS[relation]
            names, values = self.relations[relation]
            if not values:
                self.edges[relation] = (names, [])
                continue
            s, d = names.index(src_col), names.index(dst_col)
            src_ids, dst_ids = ids[src_kind], ids[dst_kind]
            kept = [row for row in values if row[s] in src_ids and row[d] in dst_ids]
            kept.sort(key=itemgetter(s, d))
            self.edges[relation] = (names, _unique(kept, names, (s, d)))

    # -- the document ---------------------------------------------------------------------
    def prov_json(self, namespace: str) -> bytes | None:
        """The PROV-JSON document (indented as ``prov`` writes it), or ``None`` when the
        rows hold a shape this writer leaves to the general path (module docstring)."""
        try:
            return dumps(_Writer(self, namespace).container())
        except _Unusual:
            return None


def _unique(rows: list[tuple], names: tuple[str, ...], ends: tuple[int, int]) -> list[tuple]:
    """Rows sorted by their ends; those sharing both ends by attributes (as text) and row
    id, each distinct attribute tuple once (:meth:`ProvGraph.finish`)."""
    s, d = ends
    i_col = names.index("id")
    rest = [(n, c) for c, n in enumerate(names) if c not in (s, d, i_col)]

    def attrs(row: tuple) -> tuple[tuple[str, Any], ...]:
        return tuple((n, row[c]) for n, c in rest if row[c] is not None)

    out: list[tuple] = []
    n = len(rows)
    i = 0
    while i < n:
        j = i + 1
        while j < n and rows[j][s] == rows[i][s] and rows[j][d] == rows[i][d]:
            j += 1
        if j == i + 1:
            out.append(rows[i])
        else:
            group = sorted(
                rows[i:j],
                key=lambda r: (
                    tuple((k, "" if v is None else str(v)) for k, v in attrs(r)),
                    r[i_col],
                ),
            )
            seen: set[tuple] = set()
            for row in group:
                if attrs(row) not in seen:
                    seen.add(attrs(row))
                    out.append(row)
        i = j
    return out


class _Writer:
    """Makes the container of one :class:`LineageRows` (the builder's record order)."""

    def __init__(self, rows: LineageRows, namespace: str) -> None:
        self.rows = rows
        self.sections: dict[str, dict[str, Any]] = {}
        self.prefix = {"provdb": namespace, "voprov": VOPROV_NAMESPACE}
        self.names: dict[str, str] = {}
        self.count = 0

    def q(self, ident: str) -> str:
        name = self.names.get(ident)
        if name is None:
            name = self.names[ident] = "provdb:" + local_id(ident)
        return name

    @staticmethod
    def qname(text: str) -> dict[str, str]:
        return {"$": text, "type": "xsd:QName"}

    def add(self, kind: str, ident: str, record: dict[str, Any]) -> None:
        section = self.sections.get(kind)
        if section is None:
            section = self.sections[kind] = {}
        if ident in section:
            raise _Unusual  # two records under one id: written as a list by the general path
        section[ident] = record

    @staticmethod
    def extras(record: dict[str, Any], attributes: Any) -> None:
        if isinstance(attributes, dict):
            for key in sorted(attributes):
                name = "provdb:" + local_id(key)
                if name in record:
                    raise _Unusual  # an attribute given twice
                record[name] = _lit(attribute_value(attributes[key]))

    # -- records ------------------------------------------------------------------------
    def entity(self, a: dict[str, Any]) -> None:
        record: dict[str, Any] = {}
        if "name" in a:
            record["prov:label"] = _lit(a["name"])
        if "location" in a:
            record["prov:location"] = _lit(a["location"])
        if "entity_value" in a:
            record["prov:value"] = _lit(a["entity_value"])
        types: list[Any] = []
        kind = a.get("entity_type")
        if kind:
            types.append(str(kind))
        if str(kind or "").endswith("Collection"):  # no hadMember: only typed collections
            types.append("prov:Collection")
        if "entity_value" in a:
            types.append(self.qname("voprov:ValueEntity"))
        if types:
            distinct: list[Any] = []
            for t in types:
                if t not in distinct:
                    distinct.append(_lit(t))
            record["prov:type"] = distinct[0] if len(distinct) == 1 else distinct
        if "comment" in a:
            record["voprov:comment"] = _lit(attribute_value(a["comment"]))
        if "generated_at_time" in a:
            record["voprov:generatedAtTime"] = _lit(attribute_value(a["generated_at_time"]))
        if "invalidated_at_time" in a:
            record["voprov:invalidatedAtTime"] = _lit(a["invalidated_at_time"])
        if "content_type" in a:
            record["voprov:contentType"] = _lit(a["content_type"])
        for column in ("size_bytes", "content_hash", "content_hash_type"):
            if column in a:
                record["provdb:" + column] = _lit(attribute_value(a[column]))
        desc = a.get("entity_description_id")
        if desc:
            record["voprov:entityDescription"] = self.qname(self.q(f"entityDescription/{desc}"))
        self.extras(record, a.get("attributes"))
        self.add("entity", self.q(a["id"]), record)

    def activity(self, a: dict[str, Any]) -> None:
        record: dict[str, Any] = {}
        if "start_time" in a:
            record["prov:startTime"] = _time(a["start_time"])
        if "end_time" in a:
            record["prov:endTime"] = _time(a["end_time"])
        if "name" in a:
            record["prov:label"] = _lit(a["name"])
        if "comment" in a:
            record["voprov:comment"] = _lit(attribute_value(a["comment"]))
        desc = a.get("activity_description_id")
        if desc:
            record["voprov:activityDescription"] = self.qname(self.q(f"activityDescription/{desc}"))
        for column in ACTIVITY_COLUMNS:
            if column in a:
                record["provdb:" + column] = _lit(attribute_value(a[column]))
        sid = a.get("session_id")
        if sid:
            record["provdb:session"] = self.qname(self.q(f"session/{sid}"))
            session = self.rows.sessions.get(sid)
            if session and session.get("software_version"):
                record["provdb:software_version"] = _lit(session["software_version"])
        self.extras(record, a.get("attributes"))
        self.add("activity", self.q(a["id"]), record)

    def agent(self, a: dict[str, Any]) -> None:
        record: dict[str, Any] = {}
        if "name" in a:
            record["prov:label"] = _lit(a["name"])
        kind = str(a.get("type") or "")
        mapped = AGENT_TYPES.get(kind.lower().replace(" ", ""))
        if mapped or kind:
            record["prov:type"] = mapped or kind
        for column, dm in DM_AGENT.items():
            if column in a:
                record["voprov:" + dm] = _lit(attribute_value(a[column]))
        self.add("agent", self.q(a["id"]), record)

    def session(self, ident: str, row: dict[str, Any]) -> None:
        record: dict[str, Any] = {"prov:type": self.qname("provdb:ExecutionSession")}
        if "name" in row:
            record["prov:label"] = _lit(row["name"])
        for column in sorted(row):
            if column not in ("id", "name"):
                record["provdb:" + column] = _lit(attribute_value(row[column]))
        self.add("entity", self.q(f"session/{ident}"), record)

    def description(self, cls: str, ident: str, row: dict[str, Any]) -> None:
        vo_name, columns = DESCRIPTION_ATTRS[cls]
        record: dict[str, Any] = {"prov:type": self.qname("voprov:" + vo_name)}
        if "name" in row:
            record["prov:label"] = _lit(row["name"])
        for column, dm in columns.items():
            if column in row:
                record["voprov:" + dm] = _lit(attribute_value(row[column]))
        for column, ref_cls in DESCRIPTION_REFS.items():
            if row.get(column):
                record["voprov:" + ref_cls] = self.qname(self.q(f"{ref_cls}/{row[column]}"))
        for column in ("arraysize", "xtype"):
            if column in row:
                record["provdb:" + column] = _lit(row[column])
        self.add("entity", self.q(f"{cls}/{ident}"), record)

    def relations(self) -> None:
        q, qname = self.q, self.qname
        for relation in _WRITTEN:
            names, edges = self.rows.edges[relation]
            if not edges:
                continue
            first, second = _FORMAL[relation]
            src_col, dst_col = RELATIONS[relation][2]
            s, d = names.index(src_col), names.index(dst_col)
            role = names.index("role") if "role" in names else None
            when = names.index("used_time") if relation == "used" else None
            desc_column = _RELATION_DESCRIPTION.get(relation)
            desc = names.index(desc_column) if desc_column else None
            desc_cls = _DESCRIPTION_OF_COLUMN.get(desc_column or "")
            records: list[dict[str, Any]] = []
            previous: tuple[str, str] | None = None
            group = 0  # where the relations between the same two nodes begin
            known = self.names  # q() inlined for the hot loop (two names per relation)
            for row in edges:
                source, target = row[s], row[d]
                record: dict[str, Any] = {
                    first: known.get(source) or q(source),
                    second: known.get(target) or q(target),
                }
                if when is not None and row[when] is not None:
                    record["prov:time"] = _time(row[when])
                if role is not None and row[role] is not None:
                    record["prov:role"] = _lit(row[role])
                if desc is not None and row[desc]:
                    record[f"voprov:{desc_cls}"] = qname(q(f"{desc_cls}/{row[desc]}"))
                if (source, target) != previous:
                    previous, group = (source, target), len(records)
                elif record in records[group:]:
                    raise _Unusual  # equal content: prov gives both one anonymous id
                records.append(record)
            section = self.sections.setdefault(relation, {})
            for record in records:
                self.count += 1
                section[f"_:id{self.count}"] = record

    def configuration(self, activities: Iterable[str]) -> None:
        """Parameters and config files: entities used by their activity (WasConfiguredBy)."""
        p_names, p_rows = self.rows.parameters
        c_names, c_rows = self.rows.config_files
        by_activity: dict[str, list[tuple[str, tuple]]] = {}
        if p_rows:
            act = p_names.index("activity_id")
            for row in p_rows:
                by_activity.setdefault(row[act], []).append(("Parameter", row))
        if c_rows:
            act = c_names.index("activity_id")
            for row in c_rows:
                by_activity.setdefault(row[act], []).append(("ConfigFile", row))
        if not by_activity:
            return
        graph_entities = {self.q(i) for i in self.rows.entity_ids}
        pc = {n: i for i, n in enumerate(p_names)}
        cc = {n: i for i, n in enumerate(c_names)}
        qname = self.qname
        setup = {
            kind: {"prov:type": "Setup", "voprov:artefactType": kind}
            for kind in ("Parameter", "ConfigFile")
        }
        for activity_id in activities:
            items = by_activity.get(activity_id)
            if not items:
                continue
            act = self.q(activity_id)
            for kind, row in items:
                if kind == "Parameter":
                    name = row[pc["name"]]
                    ident = self.q(f"{activity_id}/parameter/{name}")
                    record: dict[str, Any] = {
                        "prov:label": _lit(name),
                        "prov:type": qname("voprov:Parameter"),
                        "voprov:name": _lit(name),
                        "voprov:value": _lit(attribute_value(row[pc["parameter_value"]])),
                    }
                    desc = row[pc["parameter_description_id"]]
                    if desc:
                        record["voprov:parameterDescription"] = qname(
                            self.q(f"parameterDescription/{desc}")
                        )
                    value_entity = row[pc["value_entity_id"]]
                    if value_entity:
                        record["voprov:valueEntity"] = qname(self.q(value_entity))
                else:
                    name = row[cc["name"]]
                    ident = self.q(f"{activity_id}/configfile/{row[cc['id']]}")
                    record = {"prov:label": _lit(name)}
                    if row[cc["location"]] is not None:
                        record["prov:location"] = _lit(row[cc["location"]])
                    record["prov:type"] = qname("voprov:ConfigFile")
                    record["voprov:name"] = _lit(name)
                    if row[cc["comment"]] is not None:
                        record["voprov:comment"] = _lit(row[cc["comment"]])
                    desc = row[cc["config_file_description_id"]]
                    if desc:
                        record["voprov:configFileDescription"] = qname(
                            self.q(f"configFileDescription/{desc}")
                        )
                    for column in ("content_hash", "content_hash_type"):
                        if row[cc[column]] is not None:
                            record["provdb:" + column] = _lit(row[cc[column]])
                if ident in graph_entities:
                    raise _Unusual  # its use could share an anonymous id with the graph's
                self.add("entity", ident, record)
                self.count += 1
                self.add(
                    "used",
                    f"_:id{self.count}",
                    {"prov:activity": act, "prov:entity": ident, **setup[kind]},
                )

    def container(self) -> dict[str, Any]:
        rows = self.rows
        levels = rows.levels
        for a in sorted(rows.entities, key=lambda a: (levels[("entity", a["id"])], a["id"])):
            self.entity(a)
        activities = sorted(rows.activities, key=lambda a: (levels[("activity", a["id"])], a["id"]))
        for a in activities:
            self.activity(a)
        for ident in sorted(rows.agents):
            self.agent(rows.agents[ident])
        for ident in sorted(rows.sessions):
            self.session(ident, rows.sessions[ident])
        for cls in DESCRIPTION_CLASSES:
            found = rows.descriptions.get(cls, {})
            for ident in sorted(found):
                self.description(cls, ident, found[ident])
        self.relations()
        self.configuration(a["id"] for a in activities)
        return {"prefix": self.prefix, **self.sections}
