"""ProvGraph -> W3C PROV document (``prov`` library), and its PROV-JSON serialisation.

:func:`prov_document` builds a ``prov.model.ProvDocument``; PROV-JSON (here: the same
records written without the prov model, :mod:`provdb.lineage.provjson_container`), PROV-N
(:mod:`provdb.lineage.provn`) and PROV-XML (:mod:`provdb.lineage.provxml`) are that
document serialised by the ``prov`` library, so the three always say the same thing.

Namespaces and identifiers
--------------------------
* ``provdb`` (default URI ``urn:provdb:``, a parameter): the archive's ids. An entity,
  activity or agent is ``provdb:<its provdb id>`` (characters PROV-N cannot carry —
  space, quotes, parentheses, comma, ``%``... — are percent-encoded; ProvSAP's ID
  parameter accepts the id with or without the ``provdb:`` / ``urn:provdb:`` prefix and
  encoded or not). Attached objects get ids under their owner:
  ``provdb:<activity id>/parameter/<name>``, ``provdb:<activity id>/configfile/<row id>``,
  ``provdb:session/<session id>``, ``provdb:<descriptionClass>/<description id>``.
  Archive attributes beyond the DM are ``provdb:<column name>``.
* ``voprov`` = ``http://www.ivoa.net/documents/ProvenanceDM/index.html#`` (as the
  voprov library), for IVOA ProvDM names, with MODEL=IVOA only.

MODEL=IVOA (default)
--------------------
ProvDM serialised as W3C PROV with the PR-2018 rules (``ivoa-standards.md`` §1.7):
``name`` -> ``prov:label``, ``location`` -> ``prov:location``, ProvDM attributes without
a W3C equivalent -> ``voprov:<attribute>`` (``voprov:comment``,
``voprov:generatedAtTime``, ``voprov:email``...). Description objects are entities with
``prov:type voprov:ActivityDescription`` (``EntityDescription``, ``UsageDescription``,
``GenerationDescription``, ``ParameterDescription``, ``ConfigFileDescription``),
referenced from their instance by a ``voprov:activityDescription`` (...) attribute.
Parameters and config files are entities (``prov:type voprov:Parameter`` with
``voprov:name``/``voprov:value``; ``voprov:ConfigFile`` with ``voprov:name``/
``prov:location``) used by their activity with ``prov:type "Setup"`` and
``voprov:artefactType`` (ProvDM's WasConfiguredBy).

MODEL=W3C
---------
Plain W3C PROV, no ``voprov`` namespace: description objects are dropped and their
name/type folded into attributes of the instance (``provdb:activity_description``,
``provdb:description_type``); an entity's generation time becomes the ``prov:time`` of
its wasGeneratedBy; parameters and config files are entities typed
``provdb:Parameter`` / ``provdb:ConfigFile`` (value in ``prov:value``) used with
``prov:type "Setup"``.

In both models the session context of an activity (software version, night, run,
configuration file) is an entity ``provdb:session/<id>`` typed
``provdb:ExecutionSession`` and referenced by the activity's ``provdb:session``
attribute; agents are typed ``prov:Person`` / ``prov:Organization`` /
``prov:SoftwareAgent`` when the archive says so. A truncated graph (node limit reached)
says ``provdb:truncated true`` and ``provdb:node_limit`` on its start nodes.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from provdb.lineage.graph import Node, ProvGraph

__all__ = [
    "ACTIVITY_COLUMNS",
    "AGENT_TYPES",
    "DEFAULT_NAMESPACE",
    "DESCRIPTION_ATTRS",
    "DESCRIPTION_REFS",
    "DM_AGENT",
    "MODELS",
    "VOPROV_NAMESPACE",
    "attribute_value",
    "local_id",
    "prov_document",
    "to_prov_json",
]

DEFAULT_NAMESPACE = "urn:provdb:"
VOPROV_NAMESPACE = "http://www.ivoa.net/documents/ProvenanceDM/index.html#"
MODELS = ("IVOA", "W3C")

_SAFE = "-._~:/@#&+*?$!"

# activity columns written as provdb:<column>, in this order
ACTIVITY_COLUMNS = ("original_id", "session_tag", "script", "command_line", "status", "exit_code")
# ProvDM attributes (voprov: with MODEL=IVOA); every other column is provdb:<column>
_DM_ENTITY = {"comment": "comment", "generated_at_time": "generatedAtTime"}
_DM_ENTITY_W3C_SKIP = {"generated_at_time"}  # becomes wasGeneratedBy's prov:time
_DM_ACTIVITY = {"comment": "comment"}
DM_AGENT = {
    "comment": "comment",
    "email": "email",
    "affiliation": "affiliation",
    "phone": "phone",
    "address": "address",
    "url": "url",
}
AGENT_TYPES = {
    "person": "prov:Person",
    "organization": "prov:Organization",
    "organisation": "prov:Organization",
    "softwareagent": "prov:SoftwareAgent",
    "software": "prov:SoftwareAgent",
}
# description class -> (voprov class name, columns that are ProvDM attributes -> voprov name)
DESCRIPTION_ATTRS: dict[str, tuple[str, dict[str, str]]] = {
    "activityDescription": (
        "ActivityDescription",
        {
            "name": "name",
            "version": "version",
            "description": "description",
            "docurl": "docurl",
            "type": "type",
            "subtype": "subtype",
        },
    ),
    "entityDescription": (
        "EntityDescription",
        {
            "name": "name",
            "description": "description",
            "docurl": "docurl",
            "type": "type",
            "content_type": "contentType",
            "datatype": "valueType",
            "unit": "unit",
            "ucd": "ucd",
            "utype": "utype",
        },
    ),
    "usageDescription": (
        "UsageDescription",
        {
            "role": "role",
            "description": "description",
            "type": "type",
            "multiplicity": "multiplicity",
        },
    ),
    "generationDescription": (
        "GenerationDescription",
        {
            "role": "role",
            "description": "description",
            "type": "type",
            "multiplicity": "multiplicity",
        },
    ),
    "parameterDescription": (
        "ParameterDescription",
        {
            "name": "name",
            "datatype": "valueType",
            "unit": "unit",
            "ucd": "ucd",
            "utype": "utype",
            "min_value": "min",
            "max_value": "max",
            "default_value": "default",
            "options": "options",
            "description": "description",
        },
    ),
    "configFileDescription": (
        "ConfigFileDescription",
        {"name": "name", "content_type": "contentType", "description": "description"},
    ),
}
# references from one description to another
DESCRIPTION_REFS = {
    "activity_description_id": "activityDescription",
    "entity_description_id": "entityDescription",
}


@lru_cache(maxsize=1 << 16)
def local_id(ident: str) -> str:
    """The local part of ``provdb:<ident>``: the id, percent-encoding what PROV-N cannot carry."""
    # cached: a lineage document names each id several times (node, relations, owner of
    # parameters), and quote() was a fifth of the PROV-JSON writing time
    return quote(str(ident), safe=_SAFE)


def attribute_value(value: Any) -> Any:
    """An attribute value the prov library serialises faithfully."""
    if type(value) is str:  # most values: first
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class _Builder:
    """Makes the records of ``graph`` on ``doc``: a ``prov.model.ProvDocument``, or a
    :class:`~provdb.lineage.provjson_container.JsonDocument` (same methods, PROV-JSON
    without the prov model: the fast path of :func:`to_prov_json`)."""

    def __init__(self, graph: ProvGraph, model: str, namespace: str, doc: Any) -> None:
        model = model.upper()
        if model not in MODELS:
            raise ValueError(f"model must be IVOA or W3C, not {model!r}")
        self.graph = graph
        self.ivoa = model == "IVOA"
        self.doc = doc
        self.ns = self.doc.add_namespace("provdb", namespace)
        self.vo = self.doc.add_namespace("voprov", VOPROV_NAMESPACE) if self.ivoa else None
        self._names: dict[str, Any] = {}  # a document names each node several times
        self._setups: dict[str, tuple[tuple[Any, Any], ...]] = {}

    # -- names ---------------------------------------------------------------------------
    def q(self, ident: str) -> Any:
        name = self._names.get(ident)
        if name is None:
            name = self._names[ident] = self.ns[local_id(ident)]
        return name

    def attr(self, column: str, dm_name: str | None = None) -> Any:
        """``voprov:<dm_name>`` (IVOA, a ProvDM attribute) or ``provdb:<column>``."""
        if dm_name and self.ivoa:
            return self.vo[dm_name]
        return self.ns[local_id(column)]

    def desc_ref(self, cls: str, ident: str) -> Any:
        return self.q(f"{cls}/{ident}")

    # -- elements ------------------------------------------------------------------------
    def _extras(self, node_attrs: dict[str, Any], out: list, skip: set[str]) -> None:
        extra = node_attrs.get("attributes")
        if isinstance(extra, dict):
            for key in sorted(extra):
                if key in skip:
                    continue
                out.append((self.ns[local_id(key)], attribute_value(extra[key])))

    def _common(self, node: Node, out: list) -> None:
        if node.start and self.graph.truncated:
            out.append((self.ns["truncated"], True))
            out.append((self.ns["node_limit"], self.graph.limit))

    def entity(self, node: Node, collections: set[str]) -> None:
        a = node.attrs
        out: list[tuple[Any, Any]] = []
        if a.get("name") is not None:
            out.append(("prov:label", a["name"]))
        if a.get("location") is not None:
            out.append(("prov:location", a["location"]))
        if a.get("entity_value") is not None:
            out.append(("prov:value", a["entity_value"]))
        types: list[Any] = []
        if a.get("entity_type"):
            types.append(str(a["entity_type"]))
        if node.id in collections:
            types.append("prov:Collection")
        if self.ivoa and a.get("entity_value") is not None:
            types.append(self.vo["ValueEntity"])
        out.extend(("prov:type", t) for t in types)
        for column, dm in _DM_ENTITY.items():
            if a.get(column) is None or (not self.ivoa and column in _DM_ENTITY_W3C_SKIP):
                continue
            out.append((self.attr(column, dm), attribute_value(a[column])))
        if a.get("invalidated_at_time") is not None:
            out.append(
                (self.attr("invalidated_at_time", "invalidatedAtTime"), a["invalidated_at_time"])
            )
        if a.get("content_type") is not None:
            out.append((self.attr("content_type", "contentType"), a["content_type"]))
        for column in ("size_bytes", "content_hash", "content_hash_type"):
            if a.get(column) is not None:
                out.append((self.ns[column], attribute_value(a[column])))
        desc = a.get("entity_description_id")
        if desc:
            self._describe(out, "entityDescription", desc)
        self._extras(a, out, set())
        self._common(node, out)
        self.doc.entity(self.q(node.id), out)

    def activity(self, node: Node) -> None:
        a = node.attrs
        out: list[tuple[Any, Any]] = []
        if a.get("name") is not None:
            out.append(("prov:label", a["name"]))
        for column, dm in _DM_ACTIVITY.items():
            if a.get(column) is not None:
                out.append((self.attr(column, dm), attribute_value(a[column])))
        desc = a.get("activity_description_id")
        if desc:
            self._describe(out, "activityDescription", desc)
        for column in ACTIVITY_COLUMNS:
            value = a.get(column)
            if value is not None:
                out.append((self.ns[column], attribute_value(value)))
        if a.get("session_id"):
            out.append((self.ns["session"], self.q(f"session/{a['session_id']}")))
            session = self.graph.sessions.get(a["session_id"])
            if session and session.get("software_version"):
                out.append((self.ns["software_version"], session["software_version"]))
        self._extras(a, out, set())
        self._common(node, out)
        self.doc.activity(self.q(node.id), a.get("start_time"), a.get("end_time"), out)

    def agent(self, node: Node) -> None:
        a = node.attrs
        out: list[tuple[Any, Any]] = []
        if a.get("name") is not None:
            out.append(("prov:label", a["name"]))
        kind = str(a.get("type") or "")
        mapped = AGENT_TYPES.get(kind.lower().replace(" ", ""))
        if mapped:
            out.append(("prov:type", mapped))
        elif kind:
            out.append(("prov:type", kind))
        for column, dm in DM_AGENT.items():
            if a.get(column) is not None:
                out.append((self.attr(column, dm), attribute_value(a[column])))
        self._common(node, out)
        self.doc.agent(self.q(node.id), out)

    def _describe(self, out: list, cls: str, ident: str) -> None:
        """Reference (IVOA) or fold in (W3C) the description ``ident`` of class ``cls``."""
        if self.ivoa:
            out.append((self.vo[cls], self.desc_ref(cls, ident)))
            return
        row = self.graph.descriptions.get(cls, {}).get(ident)
        if not row:
            return
        snake = "".join("_" + c.lower() if c.isupper() else c for c in cls)
        name = row.get("name") or row.get("role")
        if name:
            out.append((self.ns[snake], name))
        if row.get("type"):
            out.append((self.ns["description_type"], row["type"]))

    def session(self, ident: str, row: dict[str, Any]) -> None:
        out: list[tuple[Any, Any]] = [("prov:type", self.ns["ExecutionSession"])]
        if row.get("name") is not None:
            out.append(("prov:label", row["name"]))
        for column in sorted(row):
            if column in ("id", "name") or row[column] is None:
                continue
            out.append((self.ns[column], attribute_value(row[column])))
        self.doc.entity(self.q(f"session/{ident}"), out)

    def descriptions(self) -> None:
        for cls, rows in self.graph.descriptions.items():
            vo_name, columns = DESCRIPTION_ATTRS[cls]
            for ident in sorted(rows):
                row = rows[ident]
                out: list[tuple[Any, Any]] = [("prov:type", self.vo[vo_name])]
                if row.get("name") is not None:
                    out.append(("prov:label", row["name"]))
                for column, dm in columns.items():
                    if row.get(column) is not None:
                        out.append((self.vo[dm], attribute_value(row[column])))
                for column, ref_cls in DESCRIPTION_REFS.items():
                    if row.get(column):
                        out.append((self.vo[ref_cls], self.desc_ref(ref_cls, row[column])))
                for column in ("arraysize", "xtype"):
                    if row.get(column) is not None:
                        out.append((self.ns[column], row[column]))
                self.doc.entity(self.desc_ref(cls, ident), out)

    def configuration(self, activity_id: str) -> None:
        act = self.q(activity_id)
        for row in self.graph.parameters.get(activity_id, []):
            ident = self.q(f"{activity_id}/parameter/{row['name']}")
            out: list[tuple[Any, Any]] = [("prov:label", row["name"])]
            if self.ivoa:
                out += [
                    ("prov:type", self.vo["Parameter"]),
                    (self.vo["name"], row["name"]),
                    (self.vo["value"], attribute_value(row.get("parameter_value"))),
                ]
                if row.get("parameter_description_id"):
                    out.append(
                        (
                            self.vo["parameterDescription"],
                            self.desc_ref("parameterDescription", row["parameter_description_id"]),
                        )
                    )
                if row.get("value_entity_id"):
                    out.append((self.vo["valueEntity"], self.q(row["value_entity_id"])))
            else:
                out += [
                    ("prov:type", self.ns["Parameter"]),
                    ("prov:value", attribute_value(row.get("parameter_value"))),
                ]
                if row.get("value_entity_id"):
                    out.append((self.ns["value_entity"], self.q(row["value_entity_id"])))
            self.doc.entity(ident, out)
            self.doc.used(act, ident, None, None, self._setup("Parameter"))
        for row in self.graph.config_files.get(activity_id, []):
            ident = self.q(f"{activity_id}/configfile/{row['id']}")
            out = [("prov:label", row["name"])]
            if row.get("location") is not None:
                out.append(("prov:location", row["location"]))
            if self.ivoa:
                out += [("prov:type", self.vo["ConfigFile"]), (self.vo["name"], row["name"])]
                if row.get("comment") is not None:
                    out.append((self.vo["comment"], row["comment"]))
                if row.get("config_file_description_id"):
                    out.append(
                        (
                            self.vo["configFileDescription"],
                            self.desc_ref(
                                "configFileDescription", row["config_file_description_id"]
                            ),
                        )
                    )
            else:
                out.append(("prov:type", self.ns["ConfigFile"]))
                if row.get("comment") is not None:
                    out.append((self.ns["comment"], row["comment"]))
            for column in ("content_hash", "content_hash_type"):
                if row.get(column) is not None:
                    out.append((self.ns[column], row[column]))
            self.doc.entity(ident, out)
            self.doc.used(act, ident, None, None, self._setup("ConfigFile"))

    def _setup(self, artefact: str) -> tuple[tuple[Any, Any], ...]:
        # the same attributes for every parameter and config file: made once per kind
        setup = self._setups.get(artefact)
        if setup is None:
            out: list[tuple[Any, Any]] = [("prov:type", "Setup")]
            if self.ivoa:
                out.append((self.vo["artefactType"], artefact))
            setup = self._setups[artefact] = tuple(out)
        return setup

    # -- relations -----------------------------------------------------------------------
    def relations(self) -> None:
        g = self.graph
        doc, q = self.doc, self.q
        for edge in g.edges:
            src, dst = q(edge.source), q(edge.target)
            relation = edge.relation
            # the first value of a name, as Edge.get
            attrs = dict(reversed(edge.attrs)) if edge.attrs else {}
            out: list[tuple[Any, Any]] = []
            if attrs.get("role") is not None:
                out.append(("prov:role", attrs["role"]))
            if relation == "used":
                desc = attrs.get("usage_description_id")
                if desc:
                    self._describe(out, "usageDescription", desc)
                doc.used(src, dst, attrs.get("used_time"), None, out or None)
            elif relation == "wasGeneratedBy":
                desc = attrs.get("generation_description_id")
                if desc:
                    self._describe(out, "generationDescription", desc)
                when = None
                if not self.ivoa:
                    node = g.node("entity", edge.source)
                    when = node.attrs.get("generated_at_time") if node else None
                doc.wasGeneratedBy(src, dst, when, None, out or None)
            elif relation == "wasDerivedFrom":
                doc.wasDerivedFrom(src, dst)
            elif relation == "wasAssociatedWith":
                doc.wasAssociatedWith(src, dst, None, None, out or None)
            elif relation == "wasAttributedTo":
                doc.wasAttributedTo(src, dst, None, out or None)
            elif relation == "wasInformedBy":
                doc.wasInformedBy(src, dst)
            elif relation == "hadMember":
                doc.hadMember(src, dst)

    def build(self) -> Any:
        g = self.graph
        collections = g.collections()
        for node in g.entities:
            self.entity(node, collections)
        for node in g.activities:
            self.activity(node)
        for node in g.agents:
            self.agent(node)
        for ident in sorted(g.sessions):
            self.session(ident, g.sessions[ident])
        if self.ivoa:
            self.descriptions()
        self.relations()
        for node in g.activities:
            self.configuration(node.id)
        return self.doc


def prov_document(
    graph: ProvGraph, *, model: str = "IVOA", namespace: str = DEFAULT_NAMESPACE
) -> Any:
    """The ``prov.model.ProvDocument`` of ``graph`` (see the module docstring for the mapping).

    Parameters
    ----------
    model:
        ``"IVOA"`` (voprov attributes and description objects) or ``"W3C"`` (plain PROV).
    namespace:
        URI of the ``provdb`` prefix of the ids.
    """
    from prov.model import ProvDocument

    return _Builder(graph, model, namespace, ProvDocument()).build()


def to_prov_json(
    graph: ProvGraph,
    *,
    model: str = "IVOA",
    namespace: str = DEFAULT_NAMESPACE,
    indent: int | None = 2,
) -> bytes:
    """PROV-JSON (W3C member submission) of ``graph``, UTF-8.

    The document :func:`prov_document` makes, written without building the ``prov``
    model (:mod:`provdb.lineage.provjson_container`: the same records and encodings, a
    hundred times faster on a large lineage); non-ASCII characters are written as UTF-8
    rather than ``\\u`` escapes.
    """
    from provdb.lineage.provjson_container import JsonDocument, dumps

    doc = _Builder(graph, model, namespace, JsonDocument()).build()
    return dumps(doc.container(), indent=indent)
