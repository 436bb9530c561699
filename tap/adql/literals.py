"""Queries that differ only in their string literals share one translation.

Clients ask the same question about different things: "the entity with id '<md5>'", "the
activities of run '01800'". Translating ADQL costs 2-3 ms (sqlglot's ``qualify`` and
``annotate_types`` are most of it), more than PostgreSQL takes to answer such a query.
The translator copies string literals into the SQL, and looks inside one only to refuse
a numeric column compared with a string that is not a number (a template's marker is
such a string: that shape then has no template, and each query is translated as it is).
So a query is translated once with each string literal replaced by a unique marker
(:func:`split_literals`), and a later query of the same shape gets that SQL with its own
literals written where the markers are (:func:`fill`), the way the ADQL dialect writes
string literals.

A template is used only when each marker appears exactly once in its SQL, as a whole
literal, and nowhere in the result fields (:func:`usable`); otherwise, or when the template
does not translate, the query is translated as it is (and its own errors, with their
line and column, are the ones reported).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.tokens import TokenType

from tap.adql.dialect import ADQL
from tap.adql.errors import ADQLError
from tap.adql.translate import Translation
from tap.adql.validate import tokenize

__all__ = ["LiteralSplit", "fill", "split_literals", "usable"]

# Random per process, so no query can contain a marker by accident or on purpose.
_MARK = f"pdbl{secrets.token_hex(8)}"
_MARKER = re.compile(f"'{_MARK}x([0-9]+)y'")


def _marker(i: int) -> str:
    # the trailing 'y' keeps marker 1 from being a prefix of marker 10
    return f"{_MARK}x{i}y"


@dataclass(frozen=True)
class LiteralSplit:
    """An ADQL query cut into its shape and its string literals.

    Attributes
    ----------
    template:
        The query with its i-th string literal replaced by ``'<marker i>'``.
    values:
        The literals' values (quotes undone), in order.
    """

    template: str
    values: tuple[str, ...]


#: a string literal: quotes, with ``''`` for a quote inside (the ADQL tokenizer's only
#: string escape)
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
#: what the fast split leaves to the tokenizer: identifiers in double quotes and
#: comments (either may hold a quote), backslashes
_TOKENIZER_ONLY = re.compile(r'"|--|\\')


def split_literals(adql: str) -> LiteralSplit | None:
    """The shape and string literals of ``adql``; None without string literals, or when
    the query does not even tokenize (its translation will say why).

    Most queries are cut by a regular expression (~3 us instead of ~50 us for sqlglot's
    tokenizer, a twentieth of a one-row query's CPU): when the query has no double
    quote, comment or backslash, every quote belongs to a string literal, and the
    tokenizer would find the same literals. A literal glued to a word (``N'..'``,
    ``x'..'``), literals only spaces apart (the parts of one) or a stray quote send the
    query to the tokenizer.
    """
    fast = _split_fast(adql)
    if fast is not None:
        return fast or None
    try:
        tokens = tokenize(adql)
    except ADQLError:
        return None
    parts: list[str] = []
    values: list[str] = []
    position = 0
    for token in tokens:
        if token.token_type != TokenType.STRING:
            continue
        parts.append(adql[position : token.start])
        parts.append(f"'{_marker(len(values))}'")
        values.append(token.text)
        position = token.end + 1
    if not values:
        return None
    parts.append(adql[position:])
    return LiteralSplit("".join(parts), tuple(values))


def _split_fast(adql: str) -> LiteralSplit | bool | None:
    """:func:`split_literals` without the tokenizer: the split, False (no literal), or
    None when the tokenizer must decide (see there)."""
    if _TOKENIZER_ONLY.search(adql) is not None:
        return None
    parts: list[str] = []
    values: list[str] = []
    position = 0
    for match in _LITERAL.finditer(adql):
        start = match.start()
        before = adql[position:start]
        if "'" in before or (start and (adql[start - 1].isalnum() or adql[start - 1] in "_$")):
            return None
        if values and not before.strip():  # parts of one literal (ADQL 2.1, 2.1.2)
            return None
        parts.append(before)
        parts.append(f"'{_marker(len(values))}'")
        values.append(match.group(1).replace("''", "'"))
        position = match.end()
    rest = adql[position:]
    if "'" in rest:
        return None
    if not values:
        return False
    parts.append(rest)
    return LiteralSplit("".join(parts), tuple(values))


def usable(template: Translation, split: LiteralSplit) -> bool:
    """Whether the translation of ``split.template`` can serve every query of its shape."""
    sql = template.sql
    for i in range(len(split.values)):
        marker = _marker(i)
        if sql.count(f"'{marker}'") != 1 or sql.count(marker) != 1:
            return False
    return _MARK not in repr(template.fields)


def fill(template: Translation, values: tuple[str, ...]) -> Translation:
    """The translation of the query whose literals are ``values``, from a usable template."""

    def literal(match: re.Match[str]) -> str:
        value = values[int(match.group(1))]
        if "'" not in value and "\\" not in value:
            # what the dialect writes for such a value, without building an expression
            # (most literals are identifiers and file names: this is ~30x cheaper)
            return f"'{value}'"
        return exp.Literal.string(value).sql(dialect=ADQL)

    # one pass: a value that happens to contain marker text is not looked at again
    return dataclasses.replace(template, sql=_MARKER.sub(literal, template.sql))
