"""PROV-JSON reader: a PROV-JSON document (W3C member submission, lstosa's run-wise
``*_prov.json``, the voprov variant with its extra top-level keys) into statements.

Named bundles (logprov's ``#configuration#<act>``) are flattened into the document. JSON
gives no line numbers for values, so errors and warnings find the key's text in document
order. Pure: no database, no printing.
"""

from __future__ import annotations

import bisect
import json
import re
from typing import Any

from provdb.errors import ParseError
from provdb.ingest.w3c.statements import (
    ELEMENT_KINDS,
    RELATION_KINDS,
    Namespaces,
    Stmt,
    Value,
    is_ref_key,
    place,
)

# ---------------------------------------------------------------------------------------
# PROV-JSON reader
# ---------------------------------------------------------------------------------------


class JsonReader:
    """Reads one PROV-JSON document (text) into statements; ``read`` raises ParseError."""

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

    def read(self) -> list[Stmt]:
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
                f"{place(self.path, self._locate(key))}: key {key!r} repeated in one JSON "
                "object; the last value is used"
            )
        self._cursor = 0
        out: list[Stmt] = []
        self._container(obj, None, out, nested=False)
        return out

    def _container(
        self, obj: dict[str, Any], parent: Namespaces | None, out: list[Stmt], *, nested: bool
    ) -> None:
        ns = Namespaces(parent)
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
                        f"{place(self.path, self._locate(kind))}: nested bundle flattened"
                    )
                for bundle_id, content in group.items():
                    if not isinstance(content, dict):
                        raise self._error(bundle_id, f"bundle {bundle_id!r} must be an object")
                    self._locate(bundle_id)
                    self._container(content, ns, out, nested=True)
                continue
            line = self._locate(kind)
            if kind not in ELEMENT_KINDS and kind not in RELATION_KINDS:
                count = len(group) if isinstance(group, dict | list) else 1
                self.warnings.append(
                    f"{place(self.path, line)}: unknown PROV-JSON key {kind!r} "
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
        self, kind: str, rec_id: str, item: dict[str, Any], ns: Namespaces, line: int | None
    ) -> Stmt:
        ident = ns.qname(rec_id) if rec_id else None
        attrs: list[tuple[str, Value]] = []
        for key, value in item.items():
            ckey = ns.key(key)
            ref = is_ref_key(ckey)
            for text in _json_values(value):
                attrs.append((ckey, ns.qname(text) if ref else text))
        return Stmt(kind, ident, attrs, line)


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
