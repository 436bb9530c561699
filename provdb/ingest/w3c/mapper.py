"""Reader of W3C PROV documents (PROV-JSON, PROV-XML, PROV-N) into archive rows.

Supported serialisations
------------------------
* **PROV-JSON** (W3C member submission), including lstosa's run-wise ``*_prov.json``
  (spec §3.4) and the IVOA *voprov* variant with extra top-level keys (``parameter``,
  ``configFile``, ``wasConfiguredBy``, ``activityDescription``, ``isDescribedBy``,
  ``usageDescription``, ``isRelatedTo`` ...; spec §6). Named bundles (logprov's
  ``#configuration#<act>``) are flattened into the document.
* **PROV-XML**, in the W3C ``prov`` namespace or in voprov's ``voprov`` namespace
  (``<voprov:document>``, ``voprov:id`` / ``voprov:ref``); ``bundleContent`` is flattened.
* **PROV-N**, with voprov's extra statements. The parser is hand-written (recursive
  descent) and accepts voprov's unquoted positional literals, e.g.
  ``usageDescription(lst:ud1, Observation subrun)``.

The ``prov`` package is not used to read: its readers reject voprov's keys and elements.
All three readers produce one neutral statement list that a single mapper turns into rows,
so a document gives the same rows whichever serialisation it comes in.

Identifiers
-----------
``doc = document_id(data) = "w3c:" + sha1(<decompressed bytes>)[:12]``.

* **Entities** (and the description classes): a name in a namespace whose URI is
  literally ``id:`` (lstosa) gives its *local part* (lstosa's md5-of-path ids, equal to the
  ids the ``prov.log`` ingester makes); a name in a real URI namespace (``scheme:`` followed
  by something: ``http://...``, ``urn:...``, ``ivo://...``) gives the expanded URI; a blank
  node (``_:x``) gives ``f"{doc}:_:x"``; anything else gives ``prefix:local`` as written.
* **Activities**: a real URI namespace gives the expanded URI; any other name is
  document-scoped, ``f"{doc}:{src}"`` with ``original_id = src`` where ``src`` is the local
  part for ``id:`` names (lstosa's random 6-hex ids) and ``prefix:local`` otherwise.
* **Agents**: a real URI namespace gives the expanded URI; otherwise the local part
  (``id:Anonymous`` -> ``Anonymous``): agent ids are names.
* **Sessions** (lstosa's ``prov:type "ExecutionSession"`` entity): ``f"{doc}:session:{src}"``.

Relations reference the same transformed ids. A relation naming an element that the
document does not declare gets a bare ``EntityRow`` / ``ActivityRow`` / ``AgentRow`` so the
loader's foreign keys hold.

Row order
---------
Parents come before children: descriptions, sessions, agents, entities, activities, then
relations, parameters and configuration files. Relation rows are de-duplicated.

Warnings
--------
Statements with no archive table (``wasStartedBy``, ``actedOnBehalfOf``, ...), unknown
statement kinds, relations missing a mandatory end, unparseable times and the like are not
errors: they are reported as text in the ``warnings`` list passed by the caller. Malformed
input raises :class:`~provdb.errors.ParseError` naming the line.

The module is pure: no database, no printing.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from lxml import etree

from provdb.errors import ParseError
from provdb.ingest.compression import (
    COMPRESSION_ERRORS,
    DecompressionLimitError,
    compression_of,
    decompress,
    decompress_head,
    read_document,
)
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

__all__ = [
    "FORMATS",
    "PROV_NS",
    "VOPROV_NS",
    "detect",
    "document_id",
    "parse_bytes",
    "parse_file",
]

#: The format names :func:`detect` returns and :func:`parse_bytes` accepts.
FORMATS: Final = ("prov-json", "prov-xml", "prov-n")

#: W3C PROV namespace.
PROV_NS: Final = "http://www.w3.org/ns/prov#"
#: IVOA Provenance DM namespace as used by voprov.
VOPROV_NS: Final = "http://www.ivoa.net/documents/ProvenanceDM/index.html#"
_XSD_NS: Final = "http://www.w3.org/2001/XMLSchema#"
_XSI_NS: Final = "http://www.w3.org/2001/XMLSchema-instance"
_PROV_NAMESPACES: Final = (PROV_NS, VOPROV_NS)

_HEAD_SIZE: Final = 8192

# ---------------------------------------------------------------------------------------
# Statement kinds
# ---------------------------------------------------------------------------------------

# element keyword -> (class used by the mapper, implied prov:type or None)
_ELEMENT_KINDS: Final[dict[str, tuple[str, str | None]]] = {
    "entity": ("entity", None),
    "valueEntity": ("entity", "voprov:ValueEntity"),
    "datasetEntity": ("entity", "voprov:DatasetEntity"),
    "activity": ("activity", None),
    "agent": ("agent", None),
    "parameter": ("parameter", None),
    "configFile": ("configFile", None),
    "activityDescription": ("activityDescription", None),
    "usageDescription": ("usageDescription", None),
    "generationDescription": ("generationDescription", None),
    "entityDescription": ("entityDescription", None),
    "valueDescription": ("entityDescription", "voprov:ValueDescription"),
    "datasetDescription": ("entityDescription", "voprov:DatasetDescription"),
    "parameterDescription": ("parameterDescription", None),
    "configFileDescription": ("configFileDescription", None),
}

_RELATION_KINDS: Final = frozenset(
    {
        "used",
        "wasGeneratedBy",
        "wasInformedBy",
        "wasStartedBy",
        "wasEndedBy",
        "wasInvalidatedBy",
        "wasDerivedFrom",
        "wasAttributedTo",
        "wasAssociatedWith",
        "actedOnBehalfOf",
        "wasInfluencedBy",
        "specializationOf",
        "alternateOf",
        "mentionOf",
        "hadMember",
        "isDescribedBy",
        "isRelatedTo",
        "wasConfiguredBy",
        "hadReference",
    }
)

# PROV-XML element names that are subtypes of a base record.
_XML_SUBTYPES: Final[dict[str, tuple[str, str]]] = {
    "person": ("agent", "prov:Person"),
    "organization": ("agent", "prov:Organization"),
    "softwareAgent": ("agent", "prov:SoftwareAgent"),
    "plan": ("entity", "prov:Plan"),
    "collection": ("entity", "prov:Collection"),
    "emptyCollection": ("entity", "prov:EmptyCollection"),
    "bundle": ("entity", "prov:Bundle"),
    "wasRevisionOf": ("wasDerivedFrom", "prov:Revision"),
    "wasQuotedFrom": ("wasDerivedFrom", "prov:Quotation"),
    "hadPrimarySource": ("wasDerivedFrom", "prov:PrimarySource"),
}

# Formal attributes whose values are qualified names (references to other records).
_REF_ATTRS: Final = frozenset(
    {
        "entity",
        "activity",
        "agent",
        "informed",
        "informant",
        "trigger",
        "starter",
        "ender",
        "plan",
        "delegate",
        "responsible",
        "generatedEntity",
        "usedEntity",
        "generation",
        "usage",
        "collection",
        "influencee",
        "influencer",
        "specificEntity",
        "generalEntity",
        "alternate1",
        "alternate2",
        "bundle",
        "described",
        "descriptor",
        "related",
        "relator",
        "configured",
        "configurator",
        "referenced",
        "referrer",
    }
)

# PROV-N positional arguments after the identifier (elements) or after the optional
# ``id;`` (relations), as canonical attribute keys.
_PROVN_POSITIONAL: Final[dict[str, tuple[str, ...]]] = {
    "entity": (),
    "valueEntity": (),
    "datasetEntity": (),
    "agent": (),
    "activity": ("prov:startTime", "prov:endTime"),
    "parameter": ("voprov:name", "voprov:value"),
    "configFile": ("voprov:name", "voprov:location"),
    "activityDescription": ("voprov:name",),
    "usageDescription": ("voprov:role",),
    "generationDescription": ("voprov:role",),
    "entityDescription": ("voprov:name",),
    "valueDescription": ("voprov:name", "voprov:valueType"),
    "datasetDescription": ("voprov:name", "voprov:contentType"),
    "parameterDescription": ("voprov:name", "voprov:valueType"),
    "configFileDescription": ("voprov:name", "voprov:contentType"),
    "used": ("prov:activity", "prov:entity", "prov:time"),
    "wasGeneratedBy": ("prov:entity", "prov:activity", "prov:time"),
    "wasInformedBy": ("prov:informed", "prov:informant"),
    "wasStartedBy": ("prov:activity", "prov:trigger", "prov:starter", "prov:time"),
    "wasEndedBy": ("prov:activity", "prov:trigger", "prov:ender", "prov:time"),
    "wasInvalidatedBy": ("prov:entity", "prov:activity", "prov:time"),
    "wasDerivedFrom": (
        "prov:generatedEntity",
        "prov:usedEntity",
        "prov:activity",
        "prov:generation",
        "prov:usage",
    ),
    "wasAttributedTo": ("prov:entity", "prov:agent"),
    "wasAssociatedWith": ("prov:activity", "prov:agent", "prov:plan"),
    "actedOnBehalfOf": ("prov:delegate", "prov:responsible", "prov:activity"),
    "wasInfluencedBy": ("prov:influencee", "prov:influencer"),
    "specializationOf": ("prov:specificEntity", "prov:generalEntity"),
    "alternateOf": ("prov:alternate1", "prov:alternate2"),
    "mentionOf": ("prov:specificEntity", "prov:generalEntity", "prov:bundle"),
    "hadMember": ("prov:collection", "prov:entity"),
    "isDescribedBy": ("voprov:described", "voprov:descriptor"),
    "isRelatedTo": ("voprov:related", "voprov:relator"),
    "wasConfiguredBy": ("voprov:configured", "voprov:configurator", "voprov:artefactType"),
    "hadReference": ("voprov:referenced", "voprov:referrer"),
}

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

# ---------------------------------------------------------------------------------------
# Neutral statement model
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _QName:
    """A qualified name as written (``prefix``/``local``) with its namespace URI if known."""

    prefix: str | None
    local: str
    uri: str | None

    @property
    def written(self) -> str:
        return f"{self.prefix}:{self.local}" if self.prefix else self.local

    @property
    def key(self) -> str:
        """Identity inside one document (two prefixes for one URI name the same thing)."""
        return self.uri + self.local if self.uri is not None else self.written


_Value = str | _QName


@dataclass(slots=True)
class _Stmt:
    kind: str
    ident: _QName | None
    attrs: list[tuple[str, _Value]]
    line: int | None


_PREDEFINED: Final = {"prov": PROV_NS, "xsd": _XSD_NS, "xsi": _XSI_NS}


class _Namespaces:
    """Prefix map of a document or bundle (a bundle inherits its document's prefixes)."""

    def __init__(self, parent: _Namespaces | None = None) -> None:
        self.prefixes: dict[str, str] = dict(parent.prefixes if parent else _PREDEFINED)
        self.default: str | None = parent.default if parent else None

    def qname(self, text: str) -> _QName:
        text = text.strip()
        if ":" in text:
            prefix, local = text.split(":", 1)
            return _QName(prefix, local, self.prefixes.get(prefix))
        return _QName(None, text, self.default)

    def key(self, text: str) -> str:
        q = self.qname(text)
        return _canonical_key(q.prefix, q.local, q.uri)


def _canonical_key(prefix: str | None, local: str, uri: str | None) -> str:
    """Attribute key: ``prov:x`` / ``voprov:x`` for the two PROV namespaces, else as written."""
    if uri == PROV_NS:
        return "prov:" + local
    if uri == VOPROV_NS:
        return "voprov:" + local
    return f"{prefix}:{local}" if prefix else local


def _is_ref_key(key: str) -> bool:
    prefix, _, local = key.partition(":")
    return prefix in ("prov", "voprov") and local in _REF_ATTRS


def _text(value: _Value) -> str:
    return value.written if isinstance(value, _QName) else value


def _where(path: str, line: int | None) -> str:
    return f"{path}:{line}" if line is not None else path


# ---------------------------------------------------------------------------------------
# PROV-JSON reader
# ---------------------------------------------------------------------------------------


class _JsonReader:
    def __init__(self, text: str, path: str, warnings: list[str]) -> None:
        self.text = text
        self.path = path
        self.warnings = warnings
        self._cursor = 0
        self._newlines: list[int] | None = None

    # -- line numbers: json gives none for values, so find the key text (document order)
    def _line_at(self, pos: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return bisect.bisect_left(self._newlines, pos) + 1

    def _locate(self, key: str) -> int | None:
        needle = json.dumps(key, ensure_ascii=False)
        pos = self.text.find(needle, self._cursor)
        if pos < 0:
            pos = self.text.find(needle)
            if pos < 0:
                return None
        else:
            self._cursor = pos + len(needle)
        return self._line_at(pos)

    def _error(self, key: str | None, reason: str) -> ParseError:
        line = self._locate(key) if key is not None else None
        return ParseError(self.path, line, reason)

    def read(self) -> list[_Stmt]:
        repeated: list[str] = []

        def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            obj = dict(pairs)
            if len(obj) < len(pairs):
                seen: set[str] = set()
                for k, _ in pairs:
                    if k in seen:
                        repeated.append(k)
                    seen.add(k)
            return obj

        try:
            obj = json.loads(self.text, object_pairs_hook=pairs_hook)
        except json.JSONDecodeError as exc:
            raise ParseError(
                self.path, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        except RecursionError:
            raise ParseError(self.path, None, "invalid JSON: nested too deeply") from None
        if not isinstance(obj, dict):
            raise ParseError(
                self.path, 1, f"a PROV-JSON document is a JSON object, not {type(obj).__name__}"
            )
        for key in dict.fromkeys(repeated):
            self.warnings.append(
                f"{_where(self.path, self._locate(key))}: key {key!r} repeated in one JSON "
                "object; the last value is used"
            )
        self._cursor = 0
        out: list[_Stmt] = []
        self._container(obj, None, out, nested=False)
        return out

    def _container(
        self, obj: dict[str, Any], parent: _Namespaces | None, out: list[_Stmt], *, nested: bool
    ) -> None:
        ns = _Namespaces(parent)
        prefixes = obj.get("prefix")
        if prefixes is not None:
            if not isinstance(prefixes, dict):
                raise self._error("prefix", 'the "prefix" value must be a JSON object')
            for prefix, uri in prefixes.items():
                if not isinstance(uri, str):
                    raise self._error(prefix, f"namespace {prefix!r} must be a string URI")
                if prefix == "default":
                    ns.default = uri
                else:
                    ns.prefixes[prefix] = uri
        for kind, group in obj.items():
            if kind == "prefix":
                continue
            if kind == "bundle":
                if not isinstance(group, dict):
                    raise self._error("bundle", 'the "bundle" value must be a JSON object')
                if nested:
                    self.warnings.append(
                        f"{_where(self.path, self._locate(kind))}: nested bundle flattened"
                    )
                for bundle_id, content in group.items():
                    if not isinstance(content, dict):
                        raise self._error(bundle_id, f"bundle {bundle_id!r} must be an object")
                    self._locate(bundle_id)
                    self._container(content, ns, out, nested=True)
                continue
            line = self._locate(kind)
            if kind not in _ELEMENT_KINDS and kind not in _RELATION_KINDS:
                count = len(group) if isinstance(group, dict | list) else 1
                self.warnings.append(
                    f"{_where(self.path, line)}: unknown PROV-JSON key {kind!r} "
                    f"({count} record(s)) skipped"
                )
                continue
            if not isinstance(group, dict):
                raise ParseError(
                    self.path, line, f"the {kind!r} value must map identifiers to records"
                )
            for rec_id, content in group.items():
                rec_line = self._locate(rec_id)
                items = content if isinstance(content, list) else [content]
                for item in items:
                    if not isinstance(item, dict):
                        raise ParseError(
                            self.path,
                            rec_line,
                            f"{kind} record {rec_id!r} must be a JSON object, "
                            f"not {type(item).__name__}",
                        )
                    out.append(self._stmt(kind, rec_id, item, ns, rec_line))

    def _stmt(
        self, kind: str, rec_id: str, item: dict[str, Any], ns: _Namespaces, line: int | None
    ) -> _Stmt:
        ident = ns.qname(rec_id) if rec_id else None
        attrs: list[tuple[str, _Value]] = []
        for key, value in item.items():
            ckey = ns.key(key)
            ref = _is_ref_key(ckey)
            for text in _json_values(value):
                attrs.append((ckey, ns.qname(text) if ref else text))
        return _Stmt(kind, ident, attrs, line)


def _json_values(value: Any) -> list[str]:
    """All values of a PROV-JSON attribute as text (arrays flattened, typed literals unwrapped)."""
    if value is None:
        return []
    if isinstance(value, list):
        return [text for item in value for text in _json_values(item)]
    if isinstance(value, dict):
        if "$" in value:
            return _json_values(value["$"])
        return [json.dumps(value, ensure_ascii=False, sort_keys=True)]
    if isinstance(value, str):
        return [value]
    return [json.dumps(value)]


# ---------------------------------------------------------------------------------------
# PROV-XML reader
# ---------------------------------------------------------------------------------------


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )


def _xml_qname(element: etree._Element, text: str) -> _QName:
    text = text.strip()
    nsmap = element.nsmap
    if ":" in text:
        prefix, local = text.split(":", 1)
        uri = nsmap.get(prefix)
        if uri is None:
            uri = _PREDEFINED.get(prefix)
        return _QName(prefix, local, uri)
    return _QName(None, text, nsmap.get(None))


def _xml_attr(element: etree._Element, name: str) -> str | None:
    for ns in _PROV_NAMESPACES:
        value = element.get(f"{{{ns}}}{name}")
        if value is not None:
            return value
    return None


class _XmlReader:
    def __init__(self, data: bytes, path: str, warnings: list[str]) -> None:
        self.data = data
        self.path = path
        self.warnings = warnings

    def read(self) -> list[_Stmt]:
        try:
            root = etree.fromstring(self.data, _xml_parser())
        except etree.XMLSyntaxError as exc:
            line = exc.lineno if exc.lineno else None
            raise ParseError(self.path, line, f"invalid XML: {exc.msg}") from None
        if root is None:
            raise ParseError(self.path, None, "invalid XML: empty document")
        qname = etree.QName(root)
        if qname.localname != "document" or qname.namespace not in _PROV_NAMESPACES:
            raise ParseError(
                self.path,
                root.sourceline,
                f"root element is {root.tag!r}, not a PROV <document> "
                f"in the {PROV_NS} or {VOPROV_NS} namespace",
            )
        out: list[_Stmt] = []
        self._container(root, out, nested=False)
        return out

    def _container(self, parent: etree._Element, out: list[_Stmt], *, nested: bool) -> None:
        for element in parent:
            if not isinstance(element.tag, str):
                continue
            qname = etree.QName(element)
            where = _where(self.path, element.sourceline)
            local = qname.localname
            if qname.namespace not in _PROV_NAMESPACES:
                self.warnings.append(f"{where}: non-PROV element {element.tag!r} skipped")
                continue
            if local == "bundleContent":
                if nested:
                    self.warnings.append(f"{where}: nested bundle flattened")
                self._container(element, out, nested=True)
                continue
            if local == "other":
                self.warnings.append(f"{where}: <{local}> element skipped")
                continue
            implied: str | None = None
            if local in _XML_SUBTYPES:
                kind, implied = _XML_SUBTYPES[local]
            else:
                kind = local
            if kind not in _ELEMENT_KINDS and kind not in _RELATION_KINDS:
                self.warnings.append(f"{where}: unknown PROV-XML element <{local}> skipped")
                continue
            rec_id = _xml_attr(element, "id")
            ident = _xml_qname(element, rec_id) if rec_id else None
            attrs: list[tuple[str, _Value]] = []
            if implied is not None:
                attrs.append(("prov:type", implied))
            xsi_type = element.get(f"{{{_XSI_NS}}}type")
            if xsi_type is not None:
                attrs.append(("prov:type", xsi_type))
            for child in element:
                if not isinstance(child.tag, str):
                    continue
                attrs.extend(self._attribute(child))
            out.append(_Stmt(kind, ident, attrs, element.sourceline))

    def _attribute(self, child: etree._Element) -> list[tuple[str, _Value]]:
        cq = etree.QName(child)
        key = _canonical_key(child.prefix, cq.localname, cq.namespace)
        ref = _xml_attr(child, "ref")
        if ref is None and len(child):
            # ProvToolbox style: the prov:ref sits on a single nested element
            for grandchild in child:
                if isinstance(grandchild.tag, str):
                    ref = _xml_attr(grandchild, "ref")
                    break
        if _is_ref_key(key):
            target = ref if ref is not None else (child.text or "").strip()
            if not target:
                self.warnings.append(
                    f"{_where(self.path, child.sourceline)}: <{key}> without a reference skipped"
                )
                return []
            return [(key, _xml_qname(child, target))]
        value = ref if ref is not None else "".join(child.itertext())
        return [(key, value)]


# ---------------------------------------------------------------------------------------
# PROV-N reader (hand-written recursive descent)
# ---------------------------------------------------------------------------------------

# A bare name: keywords, prefixes and qualified names (backslash escapes allowed).
_NAME_RE: Final = re.compile(r"(?:[^\s(),;=\[\]<>\"'\\]|\\.)+")
# A bare argument (voprov writes unquoted literals with spaces): up to , ) ; [ ] or newline.
_BARE_RE: Final = re.compile(r"[^,();\[\]\"\n]+")
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


@dataclass(slots=True)
class _Tok:
    kind: str  # 'marker' | 'bare' | 'string' | 'iri' | 'qname'
    text: str
    pos: int


class _ProvNReader:
    def __init__(self, text: str, path: str, warnings: list[str]) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.path = path
        self.warnings = warnings
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    # -- low level ---------------------------------------------------------------------
    def _line(self, pos: int | None = None) -> int:
        return bisect.bisect_left(self._newlines, self.i if pos is None else pos) + 1

    def _error(self, reason: str, pos: int | None = None) -> ParseError:
        return ParseError(self.path, self._line(pos), reason)

    def _missing(self, reason: str) -> ParseError:
        """Error for a missing separator: reported on the line of the preceding token."""
        j = self.i
        while j > 0 and self.s[j - 1].isspace():
            j -= 1
        return self._error(f"{reason}, found {self._found()}", j)

    def _found(self) -> str:
        if self.i >= self.n:
            return "end of input"
        return repr(self.s[self.i : self.i + 20].split("\n", 1)[0])

    def _ws(self) -> None:
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c.isspace():
                self.i += 1
            elif s.startswith("//", self.i):
                end = s.find("\n", self.i)
                self.i = n if end < 0 else end + 1
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                if end < 0:
                    raise self._error("unterminated /* comment")
                self.i = end + 2
            else:
                break

    def _peek(self) -> str:
        return self.s[self.i] if self.i < self.n else ""

    def _expect(self, char: str, what: str) -> None:
        self._ws()
        if self._peek() != char:
            raise self._missing(f"expected {char!r} {what}")
        self.i += 1

    def _name(self, what: str) -> str:
        self._ws()
        m = _NAME_RE.match(self.s, self.i)
        if not m:
            raise self._error(f"expected {what}, found {self._found()}")
        self.i = m.end()
        return m.group(0)

    def _iri(self) -> str:
        self._ws()
        if self._peek() != "<":
            raise self._error(f"expected an IRI in <...>, found {self._found()}")
        end = self.s.find(">", self.i + 1)
        nl = self.s.find("\n", self.i + 1)
        if end < 0 or (0 <= nl < end):
            raise self._error("unterminated IRI <...>")
        iri = self.s[self.i + 1 : end]
        self.i = end + 1
        return iri

    def _string(self) -> str:
        start = self.i
        s = self.s
        if s.startswith('"""', self.i):
            end = s.find('"""', self.i + 3)
            if end < 0:
                raise self._error('unterminated """ string', start)
            text = s[self.i + 3 : end]
            self.i = end + 3
        else:
            self.i += 1
            parts: list[str] = []
            while True:
                if self.i >= self.n:
                    raise self._error("unterminated string", start)
                c = s[self.i]
                if c == '"':
                    self.i += 1
                    break
                if c == "\\" and self.i + 1 < self.n:
                    nxt = s[self.i + 1]
                    parts.append(_ESCAPES.get(nxt, nxt))
                    self.i += 2
                    continue
                if c == "\n":
                    raise self._error("unterminated string", start)
                parts.append(c)
                self.i += 1
            text = "".join(parts)
        # optional datatype or language tag
        save = self.i
        self._ws()
        if self.s.startswith("%%", self.i):
            self.i += 2
            self._name("a datatype after %%")
        elif self._peek() == "@":
            self.i += 1
            self._name("a language tag")
        else:
            self.i = save
        return text

    def _quoted_qname(self) -> str:
        start = self.i
        end = self.s.find("'", self.i + 1)
        nl = self.s.find("\n", self.i + 1)
        if end < 0 or (0 <= nl < end):
            raise self._error("unterminated qualified-name literal '...'", start)
        text = self.s[self.i + 1 : end]
        self.i = end + 1
        return text

    def _value(self, what: str) -> _Tok:
        """One argument or attribute value (a bare one ends at , ) ; [ ] or a newline)."""
        self._ws()
        pos = self.i
        c = self._peek()
        if c == '"':
            return _Tok("string", self._string(), pos)
        if c == "<":
            return _Tok("iri", self._iri(), pos)
        if c == "'":
            return _Tok("qname", self._quoted_qname(), pos)
        m = _BARE_RE.match(self.s, self.i)
        text = (m.group(0) if m else "").rstrip()
        if not text:
            raise self._error(f"expected {what}, found {self._found()}")
        self.i = pos + len(text)
        if text == "-":
            return _Tok("marker", text, pos)
        return _Tok("bare", text, pos)

    # -- grammar -----------------------------------------------------------------------
    def read(self) -> list[_Stmt]:
        out: list[_Stmt] = []
        self._ws()
        m = _NAME_RE.match(self.s, self.i)
        if m and m.group(0) == "document":
            self.i = m.end()
            self._body(_Namespaces(), out, end="endDocument", nested=False)
            self._ws()
            if self.i < self.n:
                raise self._error(f"unexpected text after endDocument: {self._found()}")
        else:
            self._body(_Namespaces(), out, end=None, nested=False)
        return out

    def _body(self, ns: _Namespaces, out: list[_Stmt], *, end: str | None, nested: bool) -> None:
        while True:
            self._ws()
            if self.i >= self.n:
                if end is not None:
                    raise self._error(f"missing {end}")
                return
            pos = self.i
            word = self._name("a statement keyword")
            if word == end:
                return
            if word == "prefix":
                prefix = self._name("a prefix name")
                ns.prefixes[prefix] = self._iri()
            elif word == "default":
                ns.default = self._iri()
            elif word == "bundle":
                self._name("a bundle identifier")
                if nested:
                    self.warnings.append(f"{self.path}:{self._line(pos)}: nested bundle flattened")
                self._body(_Namespaces(ns), out, end="endBundle", nested=True)
            elif word in ("endDocument", "endBundle", "document"):
                raise self._error(f"unexpected {word!r}", pos)
            else:
                self._statement(word, pos, ns, out)

    def _statement(self, kind: str, pos: int, ns: _Namespaces, out: list[_Stmt]) -> None:
        self._ws()
        if self._peek() != "(":
            raise self._missing(f"expected '(' after {kind!r}")
        self.i += 1
        rel_id: _Tok | None = None
        args: list[_Tok] = []
        attrs: list[tuple[str, _Tok]] = []
        self._ws()
        if self._peek() == ")":
            self.i += 1
        else:
            while True:
                self._ws()
                if self._peek() == "[":
                    attrs = self._attributes()
                    self._expect(")", f"to close {kind}(...)")
                    break
                tok = self._value("an argument")
                self._ws()
                c = self._peek()
                if c == ";" and rel_id is None and not args:
                    rel_id = tok
                    self.i += 1
                    continue
                args.append(tok)
                if c == ",":
                    self.i += 1
                    continue
                if c == ")":
                    self.i += 1
                    break
                raise self._missing(f"expected ',' or ')' in {kind}(...)")
        line = self._line(pos)
        if kind not in _PROVN_POSITIONAL:
            self.warnings.append(f"{self.path}:{line}: unknown PROV-N statement {kind!r} skipped")
            return
        out.append(self._build(kind, rel_id, args, attrs, ns, line))

    def _attributes(self) -> list[tuple[str, _Tok]]:
        self.i += 1  # '['
        attrs: list[tuple[str, _Tok]] = []
        self._ws()
        if self._peek() == "]":
            self.i += 1
            return attrs
        while True:
            key = self._name("an attribute name")
            self._expect("=", f"after attribute {key!r}")
            attrs.append((key, self._value("an attribute value")))
            self._ws()
            c = self._peek()
            if c == ",":
                self.i += 1
                continue
            if c == "]":
                self.i += 1
                return attrs
            raise self._missing("expected ',' or ']' in an attribute list")

    def _qname(self, ns: _Namespaces, tok: _Tok) -> _QName:
        if tok.kind == "iri":
            return _QName(None, tok.text, None)
        text = re.sub(r"\\(.)", r"\1", tok.text) if tok.kind == "bare" else tok.text
        return ns.qname(text)

    def _build(
        self,
        kind: str,
        rel_id: _Tok | None,
        args: list[_Tok],
        attr_toks: list[tuple[str, _Tok]],
        ns: _Namespaces,
        line: int,
    ) -> _Stmt:
        positional = _PROVN_POSITIONAL[kind]
        ident: _QName | None = None
        if kind in _ELEMENT_KINDS:
            if rel_id is not None:
                raise self._error(f"{kind} takes no 'id;' prefix", rel_id.pos)
            if not args or args[0].kind == "marker":
                raise ParseError(self.path, line, f"{kind} statement without an identifier")
            ident = self._qname(ns, args[0])
            args = args[1:]
        elif rel_id is not None and rel_id.kind != "marker":
            ident = self._qname(ns, rel_id)
        if len(args) > len(positional):
            self.warnings.append(
                f"{self.path}:{line}: {kind} has {len(args)} positional arguments, "
                f"expected at most {len(positional)}; the extra ones are ignored"
            )
        attrs: list[tuple[str, _Value]] = []
        for key, tok in zip(positional, args, strict=False):
            if tok.kind == "marker":
                continue
            attrs.append((key, self._qname(ns, tok) if _is_ref_key(key) else tok.text))
        for name, tok in attr_toks:
            key = ns.key(re.sub(r"\\(.)", r"\1", name))
            attrs.append((key, self._qname(ns, tok) if _is_ref_key(key) else tok.text))
        return _Stmt(kind, ident, attrs, line)


# ---------------------------------------------------------------------------------------
# Mapping statements to archive rows
# ---------------------------------------------------------------------------------------


def _is_real_uri(uri: str | None) -> bool:
    """``scheme:`` followed by something (``id:``, ``param:``, ``session:`` are not URIs)."""
    if not uri:
        return False
    m = re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", uri)
    return bool(m) and len(uri) > m.end()


def _source_id(q: _QName) -> str:
    """The id as the source meant it: local part for lstosa's ``id:``, else as written."""
    return q.local if q.uri == "id:" else q.written


def _parse_time(text: str | None) -> datetime | None:
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


class _Attrs:
    """The attributes of one record; ``take`` consumes single values, ``rest`` keeps the others."""

    def __init__(self, pairs: list[tuple[str, _Value]]) -> None:
        self.pairs = pairs
        self.taken: set[int] = set()

    def take(self, *keys: str) -> str | None:
        for key in keys:
            for index, (k, v) in enumerate(self.pairs):
                if k == key and index not in self.taken:
                    self.taken.add(index)
                    return _text(v)
        return None

    def take_where(self, key: str, predicate: Callable[[str], bool]) -> str | None:
        for index, (k, v) in enumerate(self.pairs):
            if k == key and index not in self.taken and predicate(_text(v)):
                self.taken.add(index)
                return _text(v)
        return None

    def values(self, key: str) -> list[str]:
        return [_text(v) for k, v in self.pairs if k == key]

    def refs(self, local: str) -> list[_QName]:
        keys = ("prov:" + local, "voprov:" + local)
        return [v for k, v in self.pairs if k in keys and isinstance(v, _QName)]

    def ref(self, local: str) -> _QName | None:
        found = self.refs(local)
        return found[0] if found else None

    def rest(self) -> dict[str, Any] | None:
        grouped: dict[str, list[str]] = {}
        for index, (k, v) in enumerate(self.pairs):
            if index not in self.taken:
                grouped.setdefault(k, []).append(_text(v))
        if not grouped:
            return None
        return {k: v[0] if len(v) == 1 else v for k, v in sorted(grouped.items())}


def _vo(a: _Attrs, local: str) -> str | None:
    return a.take("voprov:" + local, "prov:" + local)


def _name_of(a: _Attrs) -> str | None:
    return a.take("prov:label", "prov:name", "voprov:name", "voprov:label")


def _local_of(value: str) -> str:
    return value.rsplit(":", 1)[-1] if ":" in value else value


@dataclass(slots=True)
class _Node:
    cls: str
    qname: _QName
    line: int | None
    attrs: list[tuple[str, _Value]] = field(default_factory=list)


class _Mapper:
    def __init__(self, doc: str, path: str, warnings: list[str]) -> None:
        self.doc = doc
        self.path = path
        self.warnings = warnings
        self.nodes: dict[tuple[str, str], _Node] = {}
        self.relations: list[_Stmt] = []
        # entity/activity/agent references seen in relations: key -> qname
        self.need: dict[str, dict[str, tuple[_QName, int | None]]] = {
            "entity": {},
            "activity": {},
            "agent": {},
        }
        self._line: int | None = None  # line of the relation being mapped
        self.skipped: dict[str, int] = defaultdict(int)

    # -- ids ---------------------------------------------------------------------------
    def entity_id(self, q: _QName) -> str:
        if q.uri == "id:":
            return q.local
        if _is_real_uri(q.uri):
            return f"{q.uri}{q.local}"
        if q.prefix == "_" and q.uri is None:
            return f"{self.doc}:{q.written}"
        return q.written

    def activity_id(self, q: _QName) -> tuple[str, str | None]:
        if _is_real_uri(q.uri):
            return f"{q.uri}{q.local}", None
        src = _source_id(q)
        return f"{self.doc}:{src}", src

    def agent_id(self, q: _QName) -> str:
        if _is_real_uri(q.uri):
            return f"{q.uri}{q.local}"
        return q.local

    def session_id(self, q: _QName) -> str:
        return f"{self.doc}:session:{_source_id(q)}"

    def warn(self, line: int | None, message: str) -> None:
        self.warnings.append(f"{_where(self.path, line)}: {message}")

    # -- collection --------------------------------------------------------------------
    def collect(self, stmts: Iterable[_Stmt]) -> None:
        for st in stmts:
            if st.kind in _ELEMENT_KINDS:
                cls, implied = _ELEMENT_KINDS[st.kind]
                if st.ident is None:
                    self.warn(st.line, f"{st.kind} without an identifier skipped")
                    continue
                node = self.nodes.get((cls, st.ident.key))
                if node is None:
                    node = self.nodes[(cls, st.ident.key)] = _Node(cls, st.ident, st.line)
                attrs = list(st.attrs)
                if implied is not None and not any(k == "prov:type" for k, _ in attrs):
                    attrs.insert(0, ("prov:type", implied))
                for pair in attrs:
                    if pair not in node.attrs:
                        node.attrs.append(pair)
            else:
                self.relations.append(st)

    def cls_of(self, q: _QName) -> str | None:
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

    def declared(self, cls: str) -> list[_Node]:
        return [node for (c, _), node in self.nodes.items() if c == cls]

    # -- main --------------------------------------------------------------------------
    def rows(self) -> list[ArchiveRow]:
        sessions: dict[str, SessionRow] = {}  # entity key -> row
        session_by_source: dict[str, str] = {}  # session src id -> session row id
        for node in self.declared("entity"):
            if "ExecutionSession" in {_local_of(t) for t in _Attrs(node.attrs).values("prov:type")}:
                row = self.session_row(node)
                sessions[node.qname.key] = row
                session_by_source[_source_id(node.qname)] = row.id

        # description links
        described: dict[str, str] = {}  # element key -> description key
        parent_ad: dict[str, str] = {}  # usage/generation/param/config desc key -> AD key
        related_ed: dict[str, str] = {}  # usage/generation desc key -> entity desc key
        configured: dict[str, list[_QName]] = defaultdict(list)  # param/config key -> acts
        references: dict[str, _QName] = {}  # parameter key -> value entity

        used_rows: list[UsedRow] = []
        used_roles: list[tuple[str, str | None]] = []  # (activity key, role) per used row
        gen_rows: list[GenerationRow] = []
        gen_roles: list[tuple[str, str | None]] = []
        other_rows: list[ArchiveRow] = []
        generated_at: dict[str, str] = {}
        invalidated_at: dict[str, str] = {}
        parameter_entities: dict[str, list[_QName]] = defaultdict(list)

        for st in self.relations:
            a = _Attrs(st.attrs)
            kind = st.kind
            self._line = st.line
            if kind == "used":
                act, ent = a.ref("activity"), a.ref("entity")
                if act is None or ent is None:
                    self.warn(st.line, "used without an activity or an entity skipped")
                    continue
                role = _vo(a, "role")
                if role is None and "Setup" in {_local_of(t) for t in a.values("prov:type")}:
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
                ent, act = a.ref("entity"), a.ref("activity")
                if act is None or ent is None:
                    self.warn(st.line, "wasGeneratedBy without an entity or an activity skipped")
                    continue
                role = _vo(a, "role")
                time_text = a.take("prov:time", "voprov:time")
                if time_text:
                    generated_at.setdefault(ent.key, time_text)
                gen_rows.append(
                    GenerationRow(
                        entity_id=self.ent_ref(ent), activity_id=self.act_ref(act), role=role
                    )
                )
                gen_roles.append((act.key, role))
            elif kind == "wasAssociatedWith":
                act, agent = a.ref("activity"), a.ref("agent")
                if act is None or agent is None:
                    self.warn(st.line, "wasAssociatedWith without an activity or an agent skipped")
                    continue
                other_rows.append(
                    AssociationRow(self.act_ref(act), self.agent_ref(agent), _vo(a, "role"))
                )
            elif kind == "wasAttributedTo":
                ent, agent = a.ref("entity"), a.ref("agent")
                if ent is None or agent is None:
                    self.warn(st.line, "wasAttributedTo without an entity or an agent skipped")
                    continue
                other_rows.append(
                    AttributionRow(self.ent_ref(ent), self.agent_ref(agent), _vo(a, "role"))
                )
            elif kind == "wasDerivedFrom":
                gen, used = a.ref("generatedEntity"), a.ref("usedEntity")
                if gen is None or used is None:
                    self.warn(st.line, "wasDerivedFrom without both entities skipped")
                    continue
                other_rows.append(DerivationRow(self.ent_ref(gen), self.ent_ref(used)))
            elif kind == "wasInformedBy":
                informed, informant = a.ref("informed"), a.ref("informant")
                if informed is None or informant is None:
                    self.warn(st.line, "wasInformedBy without both activities skipped")
                    continue
                other_rows.append(InformRow(self.act_ref(informed), self.act_ref(informant)))
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
                act, conf = a.ref("configured"), a.ref("configurator")
                if act is None or conf is None:
                    self.warn(st.line, "wasConfiguredBy without both ends skipped")
                    continue
                artefact = _vo(a, "artefactType")
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
            a = _Attrs(node.attrs)
            ad_rows[node.qname.key] = ActivityDescriptionRow(
                id=self.entity_id(node.qname),
                name=_vo(a, "name") or a.take("prov:label") or node.qname.local,
                version=_vo(a, "version"),
                description=_vo(a, "description"),
                docurl=_vo(a, "docurl"),
                type=_vo(a, "type"),
                subtype=_vo(a, "subtype"),
            )
        ed_rows: dict[str, EntityDescriptionRow] = {}
        for node in self.declared("entityDescription"):
            a = _Attrs(node.attrs)
            ed_rows[node.qname.key] = EntityDescriptionRow(
                id=self.entity_id(node.qname),
                name=_vo(a, "name") or a.take("prov:label") or node.qname.local,
                description=_vo(a, "description"),
                docurl=_vo(a, "docurl"),
                type=_vo(a, "type"),
                content_type=_vo(a, "contentType"),
            )
        ud_rows: list[UsageDescriptionRow | GenerationDescriptionRow] = []
        role_desc: dict[tuple[str, str, str], str] = {}  # (cls, AD key, role) -> desc id
        for cls, row_type in (
            ("usageDescription", UsageDescriptionRow),
            ("generationDescription", GenerationDescriptionRow),
        ):
            for node in self.declared(cls):
                a = _Attrs(node.attrs)
                ad_key = parent_ad.get(node.qname.key)
                role = _vo(a, "role")
                if ad_key not in ad_rows or role is None:
                    self.warn(
                        node.line,
                        f"{cls} {node.qname.written!r} skipped: "
                        + ("no role" if role is None else "not related to an activityDescription"),
                    )
                    continue
                ed_key = related_ed.get(node.qname.key)
                desc_id = self.entity_id(node.qname)
                ud_rows.append(
                    row_type(
                        id=desc_id,
                        activity_description_id=ad_rows[ad_key].id,
                        role=role,
                        entity_description_id=ed_rows[ed_key].id if ed_key in ed_rows else None,
                        description=_vo(a, "description"),
                        type=_vo(a, "type"),
                        multiplicity=_vo(a, "multiplicity"),
                    )
                )
                role_desc.setdefault((cls, ad_key, role), desc_id)
        pd_rows: dict[str, ParameterDescriptionRow] = {}
        for node in self.declared("parameterDescription"):
            a = _Attrs(node.attrs)
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
                name=_vo(a, "name") or node.qname.local,
                datatype=_vo(a, "valueType") or _vo(a, "datatype") or "char",
                arraysize=_vo(a, "arraysize"),
                xtype=_vo(a, "xtype"),
                unit=_vo(a, "unit"),
                ucd=_vo(a, "ucd"),
                utype=_vo(a, "utype") or _vo(a, "uType"),
                min_value=_vo(a, "min"),
                max_value=_vo(a, "max"),
                default_value=_vo(a, "default"),
                options=_vo(a, "options"),
                description=_vo(a, "description"),
            )
        cd_rows: dict[str, ConfigFileDescriptionRow] = {}
        for node in self.declared("configFileDescription"):
            a = _Attrs(node.attrs)
            ad_key = parent_ad.get(node.qname.key)
            content_type = _vo(a, "contentType")
            if ad_key not in ad_rows or content_type is None:
                self.warn(
                    node.line,
                    f"configFileDescription {node.qname.written!r} skipped: "
                    + (
                        "no contentType"
                        if content_type is None
                        else "not related to an activityDescription"
                    ),
                )
                continue
            cd_rows[node.qname.key] = ConfigFileDescriptionRow(
                id=self.entity_id(node.qname),
                activity_description_id=ad_rows[ad_key].id,
                name=_vo(a, "name") or node.qname.local,
                content_type=content_type,
                description=_vo(a, "description"),
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
            if "Parameters" in {_local_of(t) for t in _Attrs(node.attrs).values("prov:type")}:
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
            a = _Attrs(node.attrs)
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
            a = _Attrs(node.attrs)
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
            comment = _vo(a, "comment")
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
    def ent_ref(self, q: _QName) -> str:
        self.need["entity"].setdefault(q.key, (q, self._line))
        return self.entity_id(q)

    def act_ref(self, q: _QName) -> str:
        self.need["activity"].setdefault(q.key, (q, self._line))
        return self.activity_id(q)[0]

    def agent_ref(self, q: _QName) -> str:
        self.need["agent"].setdefault(q.key, (q, self._line))
        return self.agent_id(q)

    def time(self, text: str | None, line: int | None, what: str) -> datetime | None:
        if text is None:
            return None
        value = _parse_time(text)
        if value is None and text.strip():
            self.warn(line, f"{what} {text!r} is not an ISO 8601 date-time")
        return value

    def link_description(self, st: _Stmt, a: _Attrs, described: dict[str, str]) -> None:
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
        self, st: _Stmt, a: _Attrs, parent_ad: dict[str, str], related_ed: dict[str, str]
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

    # -- element rows ------------------------------------------------------------------
    def session_row(self, node: _Node) -> SessionRow:
        a = _Attrs(node.attrs)
        return SessionRow(
            id=self.session_id(node.qname),
            original_id=_source_id(node.qname),
            name=a.take("prov:label"),
            observation_date=a.take("observation_date"),
            observation_run=a.take("observation_run"),
            pedestal_run=a.take("pedestal_run"),
            calibration_run=a.take("calibration_run"),
            software_version=a.take("software_version"),
            config_file=a.take("config_file"),
            config_file_hash=a.take("config_file_hash"),
            config_file_hash_type=a.take("config_file_hash_type"),
        )

    def entity_row(self, node: _Node) -> EntityRow:
        a = _Attrs(node.attrs)
        name = _name_of(a)
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
        self, node: _Node, entity_id: str, users: list[_QName]
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
                        parameter_value=_text(value),
                        value_entity_id=entity_id,
                    )
                )
        return rows

    def activity_row(self, node: _Node, session_by_source: dict[str, str]) -> ActivityRow:
        a = _Attrs(node.attrs)
        act_id, original = self.activity_id(node.qname)
        name = _name_of(a)
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

    def agent_row(self, node: _Node) -> AgentRow:
        a = _Attrs(node.attrs)
        name = _name_of(a) or node.qname.local
        agent_type = a.take_where("prov:type", lambda t: _local_of(t) in _AGENT_TYPES)
        row = AgentRow(
            id=self.agent_id(node.qname),
            name=name,
            type=_local_of(agent_type) if agent_type else None,
            comment=_vo(a, "comment"),
            email=_vo(a, "email"),
            affiliation=_vo(a, "affiliation"),
            phone=_vo(a, "phone"),
            address=_vo(a, "address"),
            url=_vo(a, "url"),
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


# ---------------------------------------------------------------------------------------
# Decompression and format detection
# ---------------------------------------------------------------------------------------


def _decompress(data: bytes, path: str) -> bytes:
    try:
        return decompress(data)
    except DecompressionLimitError as exc:
        raise ParseError(path, None, str(exc)) from None
    except (*COMPRESSION_ERRORS, ValueError) as exc:
        raise ParseError(
            path, None, f"corrupt or truncated {compression_of(data)} data: {exc}"
        ) from None


_JSON_KEY_RE: Final = re.compile(
    rb'"(?:prefix|bundle|'
    + "|".join(sorted(set(_ELEMENT_KINDS) | set(_RELATION_KINDS))).encode()
    + rb')"\s*:'
)
_XML_DOC_RE: Final = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?document[\s>/]")
_PROVN_COMMENT_RE: Final = re.compile(rb"(?:\s+|//[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)


def detect(head: bytes) -> str | None:
    """Recognise a W3C PROV serialisation from the first bytes of a file.

    Parameters
    ----------
    head
        The first few kilobytes of the file (more is fine). gzip, bzip2 and xz
        compressed heads are decompressed as far as they go.

    Returns
    -------
    str or None
        ``'prov-json'`` (a JSON object with a PROV-JSON top-level key such as ``prefix``,
        ``entity`` or ``activity``, or the empty object), ``'prov-xml'`` (an XML
        ``document`` element with the W3C PROV or voprov namespace), ``'prov-n'`` (text
        starting with the ``document`` keyword, comments allowed), or ``None``.
    """
    data = decompress_head(bytes(head), _HEAD_SIZE * 4)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    text = data.lstrip()
    if text.startswith(b"{"):
        if _JSON_KEY_RE.search(text) or re.fullmatch(rb"\{\s*\}\s*", text):
            return "prov-json"
        return None
    if text.startswith(b"<"):
        if _XML_DOC_RE.search(text) and (PROV_NS.encode() in text or VOPROV_NS.encode() in text):
            return "prov-xml"
        return None
    m = _PROVN_COMMENT_RE.match(data)
    rest = data[m.end() :] if m else data
    if re.match(rb"document(?:\s|//|/\*|$)", rest):
        return "prov-n"
    return None


_SUFFIX_FORMATS: Final = {
    ".json": "prov-json",
    ".jsonld": None,
    ".xml": "prov-xml",
    ".provx": "prov-xml",
    ".provn": "prov-n",
    ".pn": "prov-n",
}


def _format_from_suffix(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in (".gz", ".bz2", ".xz"):
        suffixes.pop()
    return _SUFFIX_FORMATS.get(suffixes[-1]) if suffixes else None


# ---------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------


def document_id(data: bytes) -> str:
    """Document id used to scope activity and session ids: ``"w3c:" + sha1(data)[:12]``.

    Parameters
    ----------
    data
        The document bytes; compressed data is decompressed first, so a compressed copy
        of a file has the same id as the file.

    Returns
    -------
    str
        ``"w3c:"`` followed by 12 lowercase hex characters.
    """
    return "w3c:" + hashlib.sha1(_decompress(bytes(data), "<stream>")).hexdigest()[:12]


def _decode(data: bytes, path: str, what: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(path, line, f"{what} is not valid UTF-8: {exc.reason}") from None


def parse_bytes(
    data: bytes,
    *,
    format: str,
    path: str = "<stream>",
    warnings: list[str] | None = None,
) -> Iterator[ArchiveRow]:
    """Parse a W3C PROV document held in memory.

    Parameters
    ----------
    data
        The document bytes (gzip/bzip2/xz compressed data is decompressed first).
    format
        One of :data:`FORMATS`: ``'prov-json'``, ``'prov-xml'`` or ``'prov-n'``.
    path
        Name used in error and warning messages.
    warnings
        Optional list that receives one message per thing that was read but not stored
        (statement kinds with no archive table, unknown keys/elements/statements,
        unparseable times, unlinked parameters, references to undeclared elements...).

    Returns
    -------
    Iterator[ArchiveRow]
        The archive rows, parents before children (see the module docstring).
        The document is parsed eagerly: errors are raised by this call, and
        ``warnings`` is complete when it returns.

    Raises
    ------
    ParseError
        Malformed JSON/XML/PROV-N (with the line of the problem), invalid UTF-8, corrupt
        compressed data, or a document whose structure is not PROV.
    ValueError
        If ``format`` is not one of :data:`FORMATS`.
    """
    if format not in FORMATS:
        raise ValueError(f"unknown W3C PROV format {format!r}; expected one of {FORMATS}")
    sink: list[str] = warnings if warnings is not None else []
    raw = _decompress(bytes(data), path)
    doc = "w3c:" + hashlib.sha1(raw).hexdigest()[:12]
    stmts: list[_Stmt]
    if format == "prov-json":
        stmts = _JsonReader(_decode(raw, path, "PROV-JSON"), path, sink).read()
    elif format == "prov-xml":
        stmts = _XmlReader(raw, path, sink).read()
    else:
        stmts = _ProvNReader(_decode(raw, path, "PROV-N"), path, sink).read()
    mapper = _Mapper(doc, path, sink)
    mapper.collect(stmts)
    return iter(mapper.rows())


def parse_file(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    warnings: list[str] | None = None,
) -> Iterator[ArchiveRow]:
    """Parse a W3C PROV file (PROV-JSON, PROV-XML or PROV-N, optionally compressed).

    Parameters
    ----------
    path
        The file. gzip, bzip2 and xz compression is recognised by its magic bytes.
    format
        ``'prov-json'``, ``'prov-xml'`` or ``'prov-n'``; when ``None`` the format is
        recognised with :func:`detect`, falling back on the file suffix
        (``.json``, ``.xml``/``.provx``, ``.provn``).
    warnings
        Optional list that receives the warnings, as in :func:`parse_bytes`.

    Returns
    -------
    Iterator[ArchiveRow]
        The archive rows (see :func:`parse_bytes`).

    Raises
    ------
    ParseError
        If the file cannot be read, its format is not recognised, or it is malformed.
    ValueError
        If ``format`` is not one of :data:`FORMATS`.
    """
    file = Path(path)
    name = str(file)
    try:
        data = read_document(file)
    except OSError as exc:
        raise ParseError(name, None, f"cannot read the file: {exc.strerror or exc}") from None
    except DecompressionLimitError as exc:
        raise ParseError(name, None, str(exc)) from None
    except (*COMPRESSION_ERRORS, ValueError) as exc:
        with open(file, "rb") as fh:
            kind = compression_of(fh.read(6))
        raise ParseError(name, None, f"corrupt or truncated {kind} data: {exc}") from None
    fmt = format or detect(data[:_HEAD_SIZE]) or _format_from_suffix(file)
    if fmt is None:
        raise ParseError(
            name,
            None,
            "not recognised as W3C PROV (PROV-JSON, PROV-XML or PROV-N); pass format= to force one",
        )
    return parse_bytes(data, format=fmt, path=name, warnings=warnings)
