"""Read an lstosa ``definition.yaml`` into ProvDM description rows (spec §2).

lstosa's capture is driven by ``src/osa/provenance/config/definition.yaml``: one entry per
traced activity (``activities``) and per kind of entity (``entities``). This module turns
such a file into the description rows of the ``provenance`` schema:

* ``ActivityDescriptionRow`` per activity, ``EntityDescriptionRow`` per entity,
* ``UsageDescriptionRow`` / ``GenerationDescriptionRow`` per ``usage`` / ``generation`` item,
* ``ParameterDescriptionRow`` per ``parameters`` item.

Identifiers carry a digest of the file (first 8 hex digits of its sha256), so two versions
of the model coexist in the archive and loading the same file twice yields the same ids:

=====================  ===========================================
row                    id
=====================  ===========================================
activity description   ``f"{activity}@{digest}"``
entity description     ``f"{entity}@{digest}"``
usage / generation     ``f"{activity}/{role}@{digest}"``
parameter description  ``f"{activity}/param/{name}@{digest}"``
=====================  ===========================================

The logprov variant of the file (``activity_descriptions`` / ``entity_descriptions`` top-level
keys, ``entity_description`` instead of ``entityName``, parameters named only by their
``value``) is read too.

``ActivityDescription.type`` is not in the YAML; it is filled from a fixed table
(:data:`ACTIVITY_TYPES`) using the IVOA ProvDM vocabulary (Observation, Simulation,
Reduction, Calibration, Reconstruction, Selection, Analysis); unknown activities get
``None``. ``dl1_datacheck`` is a quality check, which has no value of its own in that list,
so it is typed ``Analysis``. A ``contact`` field, when present, is appended to the
description (``"<description> (contact: <contact>)"``) since the table has no column for it.

Problems that do not prevent reading the model (an item without ``role``, a role used
twice for the same activity, an ``entityName`` that names no entity) are collected in
:attr:`Model.warnings` and the item (or the reference) is left out; a malformed YAML file or
a wrong shape raises :class:`provdb.errors.ParseError` naming the line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provdb.errors import ParseError
from provdb.ingest.records import (
    ActivityDescriptionRow,
    EntityDescriptionRow,
    GenerationDescriptionRow,
    ParameterDescriptionRow,
    UsageDescriptionRow,
)

__all__ = ["ACTIVITY_TYPES", "Model", "load_model", "model_from_bytes"]

ACTIVITY_TYPES: dict[str, str] = {
    "drs4_pedestal": "Calibration",
    "calibrate_charge": "Calibration",
    "catB_calibration": "Calibration",
    "r0_to_dl1": "Reduction",
    "dl1ab": "Reduction",
    "dl1_to_dl2": "Reduction",
    "dl1_datacheck": "Analysis",  # a quality check: 'Quality' is not a ProvDM activity type
}
"""ProvDM ``ActivityDescription.type`` of the lstosa activities; anything else gets None."""

# optional ProvDM attributes of a parameter item -> ParameterDescriptionRow field
_PARAMETER_FIELDS = {
    "arraysize": "arraysize",
    "xtype": "xtype",
    "unit": "unit",
    "ucd": "ucd",
    "utype": "utype",
    "min": "min_value",
    "max": "max_value",
    "default": "default_value",
    "options": "options",
}


@dataclass
class Model:
    """The description rows of one ``definition.yaml``, plus lookups by name / role."""

    digest: str
    source: str
    activity_descriptions: list[ActivityDescriptionRow] = field(default_factory=list)
    entity_descriptions: list[EntityDescriptionRow] = field(default_factory=list)
    usage_descriptions: list[UsageDescriptionRow] = field(default_factory=list)
    generation_descriptions: list[GenerationDescriptionRow] = field(default_factory=list)
    parameter_descriptions: list[ParameterDescriptionRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    _lookup: dict[str, dict[Any, str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _lookup_sizes: tuple[int, ...] = field(default=(), init=False, repr=False, compare=False)

    # ---- lookups (dictionaries rebuilt when the lists above change length) ---------

    def _index(self) -> dict[str, dict[Any, str]]:
        sizes = (
            len(self.activity_descriptions),
            len(self.entity_descriptions),
            len(self.usage_descriptions),
            len(self.generation_descriptions),
            len(self.parameter_descriptions),
        )
        if self._lookup is None or sizes != self._lookup_sizes:
            acts = {r.id: r.name for r in self.activity_descriptions}
            self._lookup = {
                "activity": {r.name: r.id for r in self.activity_descriptions},
                "entity": {r.name: r.id for r in self.entity_descriptions},
                "usage": {
                    (acts.get(r.activity_description_id), r.role): r.id
                    for r in self.usage_descriptions
                },
                "generation": {
                    (acts.get(r.activity_description_id), r.role): r.id
                    for r in self.generation_descriptions
                },
                "parameter": {
                    (acts.get(r.activity_description_id), r.name): r.id
                    for r in self.parameter_descriptions
                },
            }
            self._lookup_sizes = sizes
        return self._lookup

    def activity_description_id(self, activity_name: str) -> str | None:
        """Id of the description of ``activity_name`` (e.g. ``'r0_to_dl1'``), or None."""
        return self._index()["activity"].get(activity_name)

    def entity_description_id(self, entity_name: str) -> str | None:
        """Id of the description of ``entity_name`` (e.g. ``'DL1SubrunDataset'``), or None."""
        return self._index()["entity"].get(entity_name)

    def usage_description_id(self, activity_name: str, role: str) -> str | None:
        """Id of the usage description of ``activity_name`` with ``role``, or None."""
        return self._index()["usage"].get((activity_name, role))

    def generation_description_id(self, activity_name: str, role: str) -> str | None:
        """Id of the generation description of ``activity_name`` with ``role``, or None."""
        return self._index()["generation"].get((activity_name, role))

    def parameter_description_id(self, activity_name: str, name: str) -> str | None:
        """Id of the description of parameter ``name`` of ``activity_name``, or None."""
        return self._index()["parameter"].get((activity_name, name))


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------


def load_model(path: str | Path) -> Model:
    """Read a ``definition.yaml`` file (lstosa or logprov flavour) into a :class:`Model`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ParseError(str(path), None, f"cannot read the model file: {exc.strerror}") from exc
    return model_from_bytes(data, source=str(path))


def model_from_bytes(data: bytes, *, source: str) -> Model:
    """Build a :class:`Model` from the bytes of a ``definition.yaml``.

    ``source`` names the file in error messages and is kept in :attr:`Model.source`.
    """
    digest = hashlib.sha256(data).hexdigest()[:8]
    node, doc = _parse_yaml(data, source)
    return _Builder(source, digest, node).build(doc)


# --------------------------------------------------------------------------------------
# YAML reading with line numbers
# --------------------------------------------------------------------------------------


def _parse_yaml(data: bytes, source: str) -> tuple[yaml.Node | None, Any]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseError(source, line, "the model file is not valid UTF-8") from exc
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        doc = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise ParseError(source, line, f"malformed YAML: {what}") from exc
    except yaml.YAMLError as exc:  # e.g. a reader error (control characters)
        raise ParseError(source, None, f"malformed YAML: {exc}") from exc
    finally:
        loader.dispose()
    return node, doc


def _child(node: yaml.Node | None, key: Any) -> yaml.Node | None:
    """The value node of ``key`` in a mapping node, or the ``key``-th item of a sequence."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v
    elif (
        isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value)
    ):
        return node.value[key]
    return None


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _text(value: Any) -> str | None:
    """A YAML scalar as stripped text; None for null or empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --------------------------------------------------------------------------------------
# Model construction
# --------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, source: str, digest: str, root: yaml.Node | None) -> None:
        self.source = source
        self.digest = digest
        self.root = root
        self.model = Model(digest=digest, source=source)

    def fail(self, node: yaml.Node | None, reason: str) -> ParseError:
        return ParseError(self.source, _line(node), reason)

    def build(self, doc: Any) -> Model:
        if doc is None:
            raise ParseError(self.source, None, "the model file is empty")
        if not isinstance(doc, dict):
            raise self.fail(
                self.root, "the model must be a mapping with 'activities' and 'entities'"
            )
        act_key = _first_key(doc, "activities", "activity_descriptions")
        ent_key = _first_key(doc, "entities", "entity_descriptions")
        if act_key is None and ent_key is None:
            raise self.fail(
                self.root,
                "no 'activities' (lstosa) or 'activity_descriptions' (logprov) key at the "
                "top level: is this a definition.yaml?",
            )
        entities = self._mapping(doc, ent_key, self.root)
        activities = self._mapping(doc, act_key, self.root)

        ent_node = _child(self.root, ent_key) if ent_key else None
        for name, spec in entities.items():
            self._entity(str(name), spec, _child(ent_node, name))
        act_node = _child(self.root, act_key) if act_key else None
        for name, spec in activities.items():
            self._activity(str(name), spec, _child(act_node, name))
        return self.model

    def _mapping(self, parent: dict, key: str | None, parent_node: yaml.Node | None) -> dict:
        if key is None:
            return {}
        value = parent.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(
                _child(parent_node, key) or parent_node,
                f"'{key}' must be a mapping of names to definitions, not a {type(value).__name__}",
            )
        return value

    # ---- entities ------------------------------------------------------------------

    def _entity(self, name: str, spec: Any, node: yaml.Node | None) -> None:
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise self.fail(node, f"entity '{name}' must be a mapping")
        self.model.entity_descriptions.append(
            EntityDescriptionRow(
                id=f"{name}@{self.digest}",
                name=name,
                description=_text(spec.get("description")),
                docurl=_text(spec.get("docurl")),
                type=_text(spec.get("type")),
                content_type=_text(spec.get("contentType")),
            )
        )

    # ---- activities ----------------------------------------------------------------

    def _activity(self, name: str, spec: Any, node: yaml.Node | None) -> None:
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise self.fail(node, f"activity '{name}' must be a mapping")
        description = _text(spec.get("description"))
        contact = _text(spec.get("contact"))
        if contact:
            suffix = f"contact: {contact}"
            description = f"{description} ({suffix})" if description else suffix
        act_id = f"{name}@{self.digest}"
        self.model.activity_descriptions.append(
            ActivityDescriptionRow(
                id=act_id,
                name=name,
                description=description,
                docurl=_text(spec.get("docurl")),
                type=ACTIVITY_TYPES.get(name),
            )
        )
        for kind in ("usage", "generation"):
            items = self._list(spec, kind, name, node)
            seen: set[str] = set()
            for i, item in enumerate(items):
                self._io_item(kind, name, act_id, i, item, _child(_child(node, kind), i), seen)
        params = self._list(spec, "parameters", name, node)
        seen_params: set[str] = set()
        for i, item in enumerate(params):
            self._parameter(name, act_id, item, _child(_child(node, "parameters"), i), seen_params)

    def _list(self, spec: dict, key: str, activity: str, node: yaml.Node | None) -> list:
        value = spec.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(
                _child(node, key) or node,
                f"'{key}' of activity '{activity}' must be a list (or empty)",
            )
        return value

    def _io_item(
        self,
        kind: str,
        activity: str,
        act_id: str,
        index: int,
        item: Any,
        node: yaml.Node | None,
        seen: set[str],
    ) -> None:
        if not isinstance(item, dict):
            raise self.fail(
                node, f"{kind} item {index + 1} of activity '{activity}' must be a mapping"
            )
        where = f"line {_line(node)}: " if node is not None else ""
        role = _text(item.get("role"))
        missing = f"{kind} item {index + 1} of activity '{activity}' has no role"
        if not self._new_item(where, role, seen, missing, f"{kind} role '{role}'", activity):
            return
        entity_name = _text(
            item.get("entityName") or item.get("entity_description") or item.get("entityType")
        )
        entity_id = None
        if entity_name is not None:
            entity_id = self.model_entity_id(entity_name)
            if entity_id is None:
                self.model.warnings.append(
                    f"{where}{kind} '{role}' of activity '{activity}' names entity "
                    f"'{entity_name}', which the model does not define: no entity description"
                )
        multiplicity = item.get("multiplicity")
        cls = UsageDescriptionRow if kind == "usage" else GenerationDescriptionRow
        self.model_rows(kind).append(
            cls(
                id=f"{activity}/{role}@{self.digest}",
                activity_description_id=act_id,
                role=role,
                entity_description_id=entity_id,
                description=_text(item.get("description")),
                multiplicity=_text(multiplicity),
            )
        )

    def _new_item(
        self, where: str, key: str | None, seen: set[str], missing: str, item: str, activity: str
    ) -> bool:
        """Whether an item of ``activity`` has a ``key`` (role, name) not ``seen`` before (it
        is then added); if not, warn (``missing``, or ``item`` appearing twice): skipped."""
        if key is None:
            self.model.warnings.append(f"{where}{missing}: skipped")
            return False
        if key in seen:
            self.model.warnings.append(
                f"{where}{item} of activity '{activity}' appears twice: the later item is skipped"
            )
            return False
        seen.add(key)
        return True

    def _parameter(
        self, activity: str, act_id: str, item: Any, node: yaml.Node | None, seen: set[str]
    ) -> None:
        if not isinstance(item, dict):
            raise self.fail(node, f"parameter of activity '{activity}' must be a mapping")
        where = f"line {_line(node)}: " if node is not None else ""
        # logprov parameters have no name: the attribute they are read from names them
        name = _text(item.get("name")) or _text(item.get("value"))
        missing = f"a parameter of activity '{activity}' has neither name nor value"
        if not self._new_item(where, name, seen, missing, f"parameter '{name}'", activity):
            return
        extra = {attr: _text(item[key]) for key, attr in _PARAMETER_FIELDS.items() if key in item}
        self.model.parameter_descriptions.append(
            ParameterDescriptionRow(
                id=f"{activity}/param/{name}@{self.digest}",
                activity_description_id=act_id,
                name=name,
                datatype=_text(item.get("datatype")) or "char",
                description=_text(item.get("description")),
                **extra,
            )
        )

    def model_entity_id(self, name: str) -> str | None:
        return self.model.entity_description_id(name)

    def model_rows(self, kind: str) -> list:
        return (
            self.model.usage_descriptions if kind == "usage" else self.model.generation_descriptions
        )


def _first_key(doc: dict, *keys: str) -> str | None:
    for key in keys:
        if key in doc:
            return key
    return None
