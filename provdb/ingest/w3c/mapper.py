"""The mapper: statements of one W3C PROV document into archive rows.

It collects the declared elements (merging repeated declarations), then maps relations,
descriptions, elements, configuration and the bare rows for referenced but undeclared
elements, in the id scheme and row order described in :mod:`provdb.ingest.w3c`.
Statements with no archive table and malformed relations become warnings. Pure: no
database, no printing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import astuple
from datetime import datetime
from typing import Any, Final

from provdb.ingest.records import (
    ActivityDescriptionRow,
    ActivityRow,
    AgentRow,
    ArchiveRow,
    AssociationRow,
    AttributionRow,
    ConfigFileDescriptionRow,
    ConfigFileRow,
    DerivationRow,
    EntityDescriptionRow,
    EntityRow,
    GenerationDescriptionRow,
    GenerationRow,
    InformRow,
    MemberRow,
    ParameterDescriptionRow,
    ParameterRow,
    SessionRow,
    UsageDescriptionRow,
    UsedRow,
)
from provdb.ingest.w3c.attributes import (
    Attrs,
    Node,
    is_real_uri,
    local_of,
    name_of,
    parse_time,
    source_id,
    vo,
    vo_fields,
)
from provdb.ingest.w3c.statements import ELEMENT_KINDS, QName, Stmt, place, value_text

_AGENT_TYPES: Final = frozenset({"Person", "Organization", "SoftwareAgent"})
_DESCRIPTION_CLASSES: Final = frozenset(
    {
        "activityDescription",
        "usageDescription",
        "generationDescription",
        "entityDescription",
        "parameterDescription",
        "configFileDescription",
    }
)


#: the session attributes (lstosa's run-wise PROV-JSON) stored under their own name
_SESSION_KEYS: Final = (
    "observation_date",
    "observation_run",
    "pedestal_run",
    "calibration_run",
    "software_version",
    "config_file",
    "config_file_hash",
    "config_file_hash_type",
)

#: the relations between two elements: kind -> (attribute of the first end, of the
#: second, what the warning says is missing when either is absent: the relation is skipped)
_ENDS: Final = {
    "used": ("activity", "entity", "an activity or an entity"),
    "wasGeneratedBy": ("entity", "activity", "an entity or an activity"),
    "wasAssociatedWith": ("activity", "agent", "an activity or an agent"),
    "wasAttributedTo": ("entity", "agent", "an entity or an agent"),
    "wasDerivedFrom": ("generatedEntity", "usedEntity", "both entities"),
    "wasInformedBy": ("informed", "informant", "both activities"),
    "wasConfiguredBy": ("configured", "configurator", "both ends"),
}

#: the relations whose two ends (see _ENDS) become one row as they are: kind -> row maker
_PAIRS: Final[dict[str, Callable[[Mapper, QName, QName, Attrs], ArchiveRow]]] = {
    "wasAssociatedWith": lambda m, act, agent, a: AssociationRow(
        m.act_ref(act), m.agent_ref(agent), vo(a, "role")
    ),
    "wasAttributedTo": lambda m, ent, agent, a: AttributionRow(
        m.ent_ref(ent), m.agent_ref(agent), vo(a, "role")
    ),
    "wasDerivedFrom": lambda m, gen, used, a: DerivationRow(m.ent_ref(gen), m.ent_ref(used)),
    "wasInformedBy": lambda m, informed, informant, a: InformRow(
        m.act_ref(informed), m.act_ref(informant)
    ),
}


class Mapper:
    """Statements of one document into archive rows: ``collect`` them, then ``rows()``.

    ``doc`` is the document id that scopes activity and session ids; warnings are
    appended to ``warnings`` as ``path:line: message``.
    """

    def __init__(self, doc: str, path: str, warnings: list[str]) -> None:
        self.doc = doc
        self.path = path
        self.warnings = warnings
        self.nodes: dict[tuple[str, str], Node] = {}
        self.relations: list[Stmt] = []
        # entity/activity/agent references seen in relations: key -> qname
        self.need: dict[str, dict[str, tuple[QName, int | None]]] = {
            "entity": {},
            "activity": {},
            "agent": {},
        }
        self._line: int | None = None  # line of the relation being mapped
        self.skipped: dict[str, int] = defaultdict(int)

    # -- ids ---------------------------------------------------------------------------
    def entity_id(self, q: QName) -> str:
        if q.uri == "id:":
            return q.local
        if is_real_uri(q.uri):
            return f"{q.uri}{q.local}"
        if q.prefix == "_" and q.uri is None:
            return f"{self.doc}:{q.written}"
        return q.written

    def activity_id(self, q: QName) -> tuple[str, str | None]:
        if is_real_uri(q.uri):
            return f"{q.uri}{q.local}", None
        src = source_id(q)
        return f"{self.doc}:{src}", src

    def agent_id(self, q: QName) -> str:
        if is_real_uri(q.uri):
            return f"{q.uri}{q.local}"
        return q.local

    def session_id(self, q: QName) -> str:
        return f"{self.doc}:session:{source_id(q)}"

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append(f"{place(self.path, line)}: {message}")

    # -- collection --------------------------------------------------------------------
    def collect(self, stmts: Iterable[Stmt]) -> None:
        for st in stmts:
            if st.kind in ELEMENT_KINDS:
                cls, implied = ELEMENT_KINDS[st.kind]
                if st.ident is None:
                    self.warn(st.line, f"{st.kind} without an identifier skipped")
                    continue
                node = self.nodes.get((cls, st.ident.key))
                if node is None:
                    node = self.nodes[(cls, st.ident.key)] = Node(cls, st.ident, st.line)
                attrs = list(st.attrs)
                if implied is not None and not any(k == "prov:type" for k, _ in attrs):
                    attrs.insert(0, ("prov:type", implied))
                for pair in attrs:
                    if pair not in node.attrs:
                        node.attrs.append(pair)
            else:
                self.relations.append(st)

    def cls_of(self, q: QName) -> str | None:
        for cls in (
            "activity",
            "entity",
            "agent",
            "parameter",
            "configFile",
            *sorted(_DESCRIPTION_CLASSES),
        ):
            if (cls, q.key) in self.nodes:
                return cls
        return None

    def declared(self, cls: str) -> list[Node]:
        return [node for (c, _), node in self.nodes.items() if c == cls]

    # -- main --------------------------------------------------------------------------
    def rows(self) -> list[ArchiveRow]:
        sessions: dict[str, SessionRow] = {}  # entity key -> row
        session_by_source: dict[str, str] = {}  # session src id -> session row id
        for node in self.declared("entity"):
            if "ExecutionSession" in {local_of(t) for t in Attrs(node.attrs).values("prov:type")}:
                row = self.session_row(node)
                sessions[node.qname.key] = row
                session_by_source[source_id(node.qname)] = row.id

        # description links
        described: dict[str, str] = {}  # element key -> description key
        parent_ad: dict[str, str] = {}  # usage/generation/param/config desc key -> AD key
        related_ed: dict[str, str] = {}  # usage/generation desc key -> entity desc key
        configured: dict[str, list[QName]] = defaultdict(list)  # param/config key -> acts
        references: dict[str, QName] = {}  # parameter key -> value entity

        used_rows: list[UsedRow] = []
        used_roles: list[tuple[str, str | None]] = []  # (activity key, role) per used row
        gen_rows: list[GenerationRow] = []
        gen_roles: list[tuple[str, str | None]] = []
        other_rows: list[ArchiveRow] = []
        generated_at: dict[str, str] = {}
        invalidated_at: dict[str, str] = {}
        parameter_entities: dict[str, list[QName]] = defaultdict(list)

        for st in self.relations:
            a = Attrs(st.attrs)
            kind = st.kind
            self._line = st.line
            if kind in _ENDS:
                first, second, missing = _ENDS[kind]
                one, other = a.ref(first), a.ref(second)
                if one is None or other is None:
                    self.warn(st.line, f"{kind} without {missing} skipped")
                    continue
            if kind == "used":
                act, ent = one, other
                role = vo(a, "role")
                if role is None and "Setup" in {local_of(t) for t in a.values("prov:type")}:
                    role = "Setup"
                time_text = a.take("prov:time", "voprov:time")
                used_rows.append(
                    UsedRow(
                        activity_id=self.act_ref(act),
                        entity_id=self.ent_ref(ent),
                        role=role,
                        used_time=self.time(time_text, st.line, "used time"),
                    )
                )
                used_roles.append((act.key, role))
                parameter_entities[ent.key].append(act)
            elif kind == "wasGeneratedBy":
                ent, act = one, other
                role = vo(a, "role")
                time_text = a.take("prov:time", "voprov:time")
                if time_text:
                    generated_at.setdefault(ent.key, time_text)
                gen_rows.append(
                    GenerationRow(
                        entity_id=self.ent_ref(ent), activity_id=self.act_ref(act), role=role
                    )
                )
                gen_roles.append((act.key, role))
            elif kind in _PAIRS:
                other_rows.append(_PAIRS[kind](self, one, other, a))
            elif kind == "hadMember":
                coll = a.ref("collection")
                members = a.refs("entity")
                if coll is None or not members:
                    self.warn(st.line, "hadMember without a collection or a member skipped")
                    continue
                for member in members:
                    other_rows.append(MemberRow(self.ent_ref(coll), self.ent_ref(member)))
            elif kind == "wasInvalidatedBy":
                ent = a.ref("entity")
                time_text = a.take("prov:time", "voprov:time")
                if ent is not None and time_text:
                    invalidated_at.setdefault(ent.key, time_text)
                    self.ent_ref(ent)
                else:
                    self.skipped[kind] += 1
            elif kind == "isDescribedBy":
                self.link_description(st, a, described)
            elif kind == "isRelatedTo":
                self.link_related(st, a, parent_ad, related_ed)
            elif kind == "wasConfiguredBy":
                act, conf = one, other
                artefact = vo(a, "artefactType")
                cls = self.cls_of(conf)
                if cls not in ("parameter", "configFile"):
                    self.warn(
                        st.line,
                        f"wasConfiguredBy ({artefact or 'no artefactType'}) names "
                        f"{conf.written!r}, which is not a declared parameter or configFile: "
                        "skipped",
                    )
                    continue
                configured[conf.key].append(act)
            elif kind == "hadReference":
                ends = [q for q in (a.ref("referenced"), a.ref("referrer")) if q is not None]
                params = [q for q in ends if self.cls_of(q) == "parameter"]
                others = [q for q in ends if self.cls_of(q) != "parameter"]
                if len(params) == 1 and len(others) == 1:
                    references[params[0].key] = others[0]
                else:
                    self.warn(st.line, "hadReference not between a parameter and an entity skipped")
            else:
                self.skipped[kind] += 1

        self._line = None
        for kind, count in sorted(self.skipped.items()):
            self.warnings.append(
                f"{self.path}: {count} {kind} statement(s) skipped (no archive table)"
            )

        # ---- descriptions
        ad_rows: dict[str, ActivityDescriptionRow] = {}
        for node in self.declared("activityDescription"):
            a = Attrs(node.attrs)
            ad_rows[node.qname.key] = ActivityDescriptionRow(
                id=self.entity_id(node.qname),
                name=vo(a, "name") or a.take("prov:label") or node.qname.local,
                **vo_fields(a, "version", "description", "docurl", "type", "subtype"),
            )
        ed_rows: dict[str, EntityDescriptionRow] = {}
        for node in self.declared("entityDescription"):
            a = Attrs(node.attrs)
            ed_rows[node.qname.key] = EntityDescriptionRow(
                id=self.entity_id(node.qname),
                name=vo(a, "name") or a.take("prov:label") or node.qname.local,
                **vo_fields(a, "description", "docurl", "type", content_type="contentType"),
            )
        ud_rows: list[UsageDescriptionRow | GenerationDescriptionRow] = []
        role_desc: dict[tuple[str, str, str], str] = {}  # (cls, AD key, role) -> desc id
        for cls, row_type in (
            ("usageDescription", UsageDescriptionRow),
            ("generationDescription", GenerationDescriptionRow),
        ):
            for node in self.declared(cls):
                a = Attrs(node.attrs)
                ad_key = parent_ad.get(node.qname.key)
                role = vo(a, "role")
                if not self.kept(node, cls, ad_key in ad_rows, "role", role):
                    continue
                ed_key = related_ed.get(node.qname.key)
                desc_id = self.entity_id(node.qname)
                ud_rows.append(
                    row_type(
                        id=desc_id,
                        activity_description_id=ad_rows[ad_key].id,
                        role=role,
                        entity_description_id=ed_rows[ed_key].id if ed_key in ed_rows else None,
                        **vo_fields(a, "description", "type", "multiplicity"),
                    )
                )
                role_desc.setdefault((cls, ad_key, role), desc_id)
        pd_rows: dict[str, ParameterDescriptionRow] = {}
        for node in self.declared("parameterDescription"):
            a = Attrs(node.attrs)
            ad_key = parent_ad.get(node.qname.key)
            if ad_key not in ad_rows:
                self.warn(
                    node.line,
                    f"parameterDescription {node.qname.written!r} not related to an "
                    "activityDescription: skipped",
                )
                continue
            pd_rows[node.qname.key] = ParameterDescriptionRow(
                id=self.entity_id(node.qname),
                activity_description_id=ad_rows[ad_key].id,
                name=vo(a, "name") or node.qname.local,
                datatype=vo(a, "valueType") or vo(a, "datatype") or "char",
                utype=vo(a, "utype") or vo(a, "uType"),
                **vo_fields(a, "arraysize", "xtype", "unit", "ucd", "options", "description"),
                **vo_fields(a, min_value="min", max_value="max", default_value="default"),
            )
        cd_rows: dict[str, ConfigFileDescriptionRow] = {}
        for node in self.declared("configFileDescription"):
            a = Attrs(node.attrs)
            ad_key = parent_ad.get(node.qname.key)
            content_type = vo(a, "contentType")
            related = ad_key in ad_rows
            if not self.kept(node, "configFileDescription", related, "contentType", content_type):
                continue
            cd_rows[node.qname.key] = ConfigFileDescriptionRow(
                id=self.entity_id(node.qname),
                activity_description_id=ad_rows[ad_key].id,
                name=vo(a, "name") or node.qname.local,
                content_type=content_type,
                description=vo(a, "description"),
            )

        def description_id(key: str, table: dict[str, Any]) -> str | None:
            target = described.get(key)
            return table[target].id if target in table else None

        # ---- agents, entities, activities
        agent_rows: list[AgentRow] = [self.agent_row(node) for node in self.declared("agent")]
        entity_rows: list[EntityRow] = []
        parameter_rows: list[ParameterRow] = []
        for node in self.declared("entity"):
            if node.qname.key in sessions:
                continue
            row = self.entity_row(node)
            row.entity_description_id = description_id(node.qname.key, ed_rows)
            gen_text = generated_at.get(node.qname.key)
            if row.generated_at_time is None and gen_text:
                row.generated_at_time = self.time(gen_text, node.line, "generation time")
            inv_text = invalidated_at.get(node.qname.key)
            if row.invalidated_at_time is None and inv_text:
                row.invalidated_at_time = self.time(inv_text, node.line, "invalidation time")
            entity_rows.append(row)
            if "Parameters" in {local_of(t) for t in Attrs(node.attrs).values("prov:type")}:
                self._line = node.line
                parameter_rows.extend(
                    self.parameters_entity(node, row.id, parameter_entities.get(node.qname.key, []))
                )
        activity_rows: list[ActivityRow] = []
        for node in self.declared("activity"):
            row = self.activity_row(node, session_by_source)
            row.activity_description_id = description_id(node.qname.key, ad_rows)
            activity_rows.append(row)

        # usage/generation description ids from the activity's description and the role
        activity_ad = {k: v for k, v in described.items() if v in ad_rows}
        for rows, roles, cls in (
            (used_rows, used_roles, "usageDescription"),
            (gen_rows, gen_roles, "generationDescription"),
        ):
            for rel_row, (act_key, role) in zip(rows, roles, strict=True):
                ad_key = activity_ad.get(act_key)
                if ad_key is not None and role is not None:
                    desc_id = role_desc.get((cls, ad_key, role))
                    if isinstance(rel_row, UsedRow):
                        rel_row.usage_description_id = desc_id
                    else:
                        rel_row.generation_description_id = desc_id

        # ---- configuration
        for node in self.declared("parameter"):
            self._line = node.line
            a = Attrs(node.attrs)
            name = a.take("voprov:name", "prov:name") or node.qname.local
            value = a.take("voprov:value", "prov:value")
            acts = configured.get(node.qname.key, [])
            if not acts:
                self.warn(
                    node.line,
                    f"parameter {node.qname.written!r} configures no activity "
                    "(no wasConfiguredBy): skipped",
                )
                continue
            if value is None:
                self.warn(node.line, f"parameter {node.qname.written!r} has no value: skipped")
                continue
            ref = references.get(node.qname.key)
            for act in acts:
                parameter_rows.append(
                    ParameterRow(
                        activity_id=self.act_ref(act),
                        name=name,
                        parameter_value=value,
                        parameter_description_id=description_id(node.qname.key, pd_rows),
                        value_entity_id=self.ent_ref(ref) if ref is not None else None,
                    )
                )
        config_rows: list[ConfigFileRow] = []
        for node in self.declared("configFile"):
            self._line = node.line
            a = Attrs(node.attrs)
            acts = configured.get(node.qname.key, [])
            if not acts:
                self.warn(
                    node.line,
                    f"configFile {node.qname.written!r} configures no activity "
                    "(no wasConfiguredBy): skipped",
                )
                continue
            name = a.take("voprov:name", "prov:name", "prov:label") or node.qname.local
            location = a.take("voprov:location", "prov:location")
            comment = vo(a, "comment")
            for act in acts:
                config_rows.append(
                    ConfigFileRow(
                        activity_id=self.act_ref(act),
                        name=name,
                        location=location,
                        comment=comment,
                        config_file_description_id=description_id(node.qname.key, cd_rows),
                    )
                )

        # ---- bare rows for referenced but undeclared elements
        declared_entities = {
            node.qname.key for node in self.declared("entity") if node.qname.key not in sessions
        }
        for key, (q, line) in self.need["entity"].items():
            if key not in declared_entities:
                entity_rows.append(
                    EntityRow(
                        id=self.entity_id(q),
                        generated_at_time=self.time(generated_at.get(key), line, "generation time"),
                        invalidated_at_time=self.time(
                            invalidated_at.get(key), line, "invalidation time"
                        ),
                    )
                )
                self.warn(line, f"entity {q.written!r} is referenced but not declared")
        declared_acts = {node.qname.key for node in self.declared("activity")}
        for key, (q, line) in self.need["activity"].items():
            if key not in declared_acts:
                act_id, original = self.activity_id(q)
                activity_rows.append(ActivityRow(id=act_id, original_id=original))
                self.warn(line, f"activity {q.written!r} is referenced but not declared")
        declared_agents = {node.qname.key for node in self.declared("agent")}
        for key, (q, line) in self.need["agent"].items():
            if key not in declared_agents:
                agent_rows.append(AgentRow(id=self.agent_id(q), name=q.local))
                self.warn(line, f"agent {q.written!r} is referenced but not declared")

        out: list[ArchiveRow] = [
            *ad_rows.values(),
            *ed_rows.values(),
            *ud_rows,
            *pd_rows.values(),
            *cd_rows.values(),
            *sessions.values(),
            *_unique(agent_rows),
            *_unique(entity_rows),
            *_unique(activity_rows),
            *_unique(used_rows),
            *_unique(gen_rows),
            *_unique(other_rows),
            *_unique(parameter_rows),
            *_unique(config_rows),
        ]
        return out

    # -- references --------------------------------------------------------------------
    def ent_ref(self, q: QName) -> str:
        self.need["entity"].setdefault(q.key, (q, self._line))
        return self.entity_id(q)

    def act_ref(self, q: QName) -> str:
        self.need["activity"].setdefault(q.key, (q, self._line))
        return self.activity_id(q)[0]

    def agent_ref(self, q: QName) -> str:
        self.need["agent"].setdefault(q.key, (q, self._line))
        return self.agent_id(q)

    def time(self, text: str | None, line: int | None, what: str) -> datetime | None:
        if text is None:
            return None
        value = parse_time(text)
        if value is None and text.strip():
            self.warn(line, f"{what} {text!r} is not an ISO 8601 date-time")
        return value

    def link_description(self, st: Stmt, a: Attrs, described: dict[str, str]) -> None:
        elem, desc = a.ref("described"), a.ref("descriptor")
        if elem is None or desc is None:
            self.warn(st.line, "isDescribedBy without both ends skipped")
            return
        if self.cls_of(desc) not in _DESCRIPTION_CLASSES and self.cls_of(elem) in (
            _DESCRIPTION_CLASSES
        ):
            elem, desc = desc, elem
        if self.cls_of(desc) not in _DESCRIPTION_CLASSES:
            self.warn(
                st.line, f"isDescribedBy: {desc.written!r} is not a declared description: skipped"
            )
            return
        described[elem.key] = desc.key

    def link_related(
        self, st: Stmt, a: Attrs, parent_ad: dict[str, str], related_ed: dict[str, str]
    ) -> None:
        ends = [q for q in (a.ref("related"), a.ref("relator")) if q is not None]
        if len(ends) != 2:
            self.warn(st.line, "isRelatedTo without both ends skipped")
            return
        by_cls = {self.cls_of(q): q for q in ends}
        children = ("usageDescription", "generationDescription")
        if "activityDescription" in by_cls:
            child = next((q for c, q in by_cls.items() if c != "activityDescription"), None)
            if child is not None and self.cls_of(child) in (
                *children,
                "parameterDescription",
                "configFileDescription",
            ):
                parent_ad[child.key] = by_cls["activityDescription"].key
                return
        if "entityDescription" in by_cls:
            child = next((q for c, q in by_cls.items() if c in children), None)
            if child is not None:
                related_ed[child.key] = by_cls["entityDescription"].key
                return
        self.warn(
            st.line,
            f"isRelatedTo between {ends[0].written!r} and {ends[1].written!r} "
            "does not link known descriptions: skipped",
        )

    def kept(self, node: Node, cls: str, related: bool, need: str, value: str | None) -> bool:
        """Whether a description is kept: ``related`` to a known activityDescription, with
        its attribute ``need`` (``value``); if not, warn why it is skipped."""
        if related and value is not None:
            return True
        why = f"no {need}" if value is None else "not related to an activityDescription"
        self.warn(node.line, f"{cls} {node.qname.written!r} skipped: {why}")
        return False

    # -- element rows ------------------------------------------------------------------
    def session_row(self, node: Node) -> SessionRow:
        a = Attrs(node.attrs)
        return SessionRow(
            id=self.session_id(node.qname),
            original_id=source_id(node.qname),
            name=a.take("prov:label"),
            **{key: a.take(key) for key in _SESSION_KEYS},
        )

    def entity_row(self, node: Node) -> EntityRow:
        a = Attrs(node.attrs)
        name = name_of(a)
        location = a.take("prov:location", "voprov:location", "filepath", "location")
        gen_text = a.take("prov:generatedAtTime", "voprov:generatedAtTime")
        inv_text = a.take("prov:invalidatedAtTime", "voprov:invalidatedAtTime")
        comment = a.take("prov:comment", "voprov:comment")
        entity_type = a.take("prov:type")
        content_type = a.take("contentType", "voprov:contentType", "prov:contentType")
        value = a.take("prov:value", "voprov:value")
        generated = self.time(gen_text, node.line, "generatedAtTime")
        invalidated = self.time(inv_text, node.line, "invalidatedAtTime")
        attributes = a.rest() or {}
        if gen_text is not None and generated is None:
            attributes["prov:generatedAtTime"] = gen_text
        if inv_text is not None and invalidated is None:
            attributes["prov:invalidatedAtTime"] = inv_text
        return EntityRow(
            id=self.entity_id(node.qname),
            name=name,
            location=location,
            generated_at_time=generated,
            invalidated_at_time=invalidated,
            comment=comment,
            entity_value=value,
            entity_type=entity_type,
            content_type=content_type,
            attributes=attributes or None,
        )

    def parameters_entity(
        self, node: Node, entity_id: str, users: list[QName]
    ) -> list[ParameterRow]:
        """lstosa's ``<act>_parameters`` entity: one ParameterRow per non-prov attribute."""
        rows: list[ParameterRow] = []
        for act in users:
            for key, value in node.attrs:
                if key.startswith("prov:"):
                    continue
                rows.append(
                    ParameterRow(
                        activity_id=self.act_ref(act),
                        name=key,
                        parameter_value=value_text(value),
                        value_entity_id=entity_id,
                    )
                )
        return rows

    def activity_row(self, node: Node, session_by_source: dict[str, str]) -> ActivityRow:
        a = Attrs(node.attrs)
        act_id, original = self.activity_id(node.qname)
        name = name_of(a)
        start_text = a.take("prov:startTime", "voprov:startTime")
        end_text = a.take("prov:endTime", "voprov:endTime")
        script = a.take("script")
        comment = a.take("prov:comment", "voprov:comment")
        in_session = a.values("in_session")
        session = session_by_source.get(in_session[0]) if in_session else None
        return ActivityRow(
            id=act_id,
            name=name,
            start_time=self.time(start_text, node.line, "startTime"),
            end_time=self.time(end_text, node.line, "endTime"),
            comment=comment,
            original_id=original,
            session_id=session,
            script=script,
            start_time_text=start_text,
            end_time_text=end_text,
            attributes=a.rest(),
        )

    def agent_row(self, node: Node) -> AgentRow:
        a = Attrs(node.attrs)
        name = name_of(a) or node.qname.local
        agent_type = a.take_where("prov:type", lambda t: local_of(t) in _AGENT_TYPES)
        row = AgentRow(
            id=self.agent_id(node.qname),
            name=name,
            type=local_of(agent_type) if agent_type else None,
            comment=vo(a, "comment"),
            email=vo(a, "email"),
            affiliation=vo(a, "affiliation"),
            phone=vo(a, "phone"),
            address=vo(a, "address"),
            url=vo(a, "url"),
        )
        rest = a.rest()
        if rest:
            self.warn(
                node.line,
                f"agent {node.qname.written!r}: attributes {sorted(rest)} not kept "
                "(the agent table has no attribute column)",
            )
        return row


def _unique(rows: Iterable[ArchiveRow]) -> list[ArchiveRow]:
    """Drop exact duplicates (same type and same field values), keeping the first."""
    seen: set[str] = set()
    out: list[ArchiveRow] = []
    for row in rows:
        key = repr((type(row).__name__, astuple(row)))
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out
