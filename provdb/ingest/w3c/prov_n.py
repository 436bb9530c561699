"""PROV-N reader: a hand-written recursive-descent parser of PROV-N into statements.

It accepts voprov's extra statements and its unquoted positional literals, e.g.
``usageDescription(lst:ud1, Observation subrun)``; positional arguments become the same
canonical attribute keys the other readers give. Errors name the line. Pure: no database,
no printing.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Final

from provdb.errors import ParseError
from provdb.ingest.w3c.statements import (
    ELEMENT_KINDS,
    Namespaces,
    QName,
    Stmt,
    Value,
    is_ref_key,
)
from provdb.prov_formal import PROV_FORMAL

# PROV-N positional arguments after the identifier (elements) or after the optional
# ``id;`` (relations), as canonical attribute keys.
_PROVN_POSITIONAL: Final[dict[str, tuple[str, ...]]] = {
    **PROV_FORMAL,
    "valueEntity": (),
    "datasetEntity": (),
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
    "isDescribedBy": ("voprov:described", "voprov:descriptor"),
    "isRelatedTo": ("voprov:related", "voprov:relator"),
    "wasConfiguredBy": ("voprov:configured", "voprov:configurator", "voprov:artefactType"),
    "hadReference": ("voprov:referenced", "voprov:referrer"),
}


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


class ProvNReader:
    """Reads one PROV-N document (text) into statements; ``read`` raises ParseError."""

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
    def read(self) -> list[Stmt]:
        out: list[Stmt] = []
        self._ws()
        m = _NAME_RE.match(self.s, self.i)
        if m and m.group(0) == "document":
            self.i = m.end()
            self._body(Namespaces(), out, end="endDocument", nested=False)
            self._ws()
            if self.i < self.n:
                raise self._error(f"unexpected text after endDocument: {self._found()}")
        else:
            self._body(Namespaces(), out, end=None, nested=False)
        return out

    def _body(self, ns: Namespaces, out: list[Stmt], *, end: str | None, nested: bool) -> None:
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
                self._body(Namespaces(ns), out, end="endBundle", nested=True)
            elif word in ("endDocument", "endBundle", "document"):
                raise self._error(f"unexpected {word!r}", pos)
            else:
                self._statement(word, pos, ns, out)

    def _statement(self, kind: str, pos: int, ns: Namespaces, out: list[Stmt]) -> None:
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

    def _qname(self, ns: Namespaces, tok: _Tok) -> QName:
        if tok.kind == "iri":
            return QName(None, tok.text, None)
        text = re.sub(r"\\(.)", r"\1", tok.text) if tok.kind == "bare" else tok.text
        return ns.qname(text)

    def _build(
        self,
        kind: str,
        rel_id: _Tok | None,
        args: list[_Tok],
        attr_toks: list[tuple[str, _Tok]],
        ns: Namespaces,
        line: int,
    ) -> Stmt:
        positional = _PROVN_POSITIONAL[kind]
        ident: QName | None = None
        if kind in ELEMENT_KINDS:
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
        attrs: list[tuple[str, Value]] = []
        for key, tok in zip(positional, args, strict=False):
            if tok.kind == "marker":
                continue
            attrs.append((key, self._qname(ns, tok) if is_ref_key(key) else tok.text))
        for name, tok in attr_toks:
            key = ns.key(re.sub(r"\\(.)", r"\1", name))
            attrs.append((key, self._qname(ns, tok) if is_ref_key(key) else tok.text))
        return Stmt(kind, ident, attrs, line)
