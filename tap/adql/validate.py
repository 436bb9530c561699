"""Lexical and structural checks: what is ADQL, and what this service accepts.

Three layers, each refusing with a precise :class:`~tap.adql.errors.ADQLError`:

1. :func:`tokenize` — sqlglot's tokenizer (trimmed, see :mod:`tap.adql.dialect`), then
   an allow-list of token types: no ``;``, ``::``, ``~``, ``[ ]``, ``@``, ``$``, ``/* */``,
   ``N''`` strings, ...; regular identifiers must be ADQL regular identifiers.
2. :func:`parse` — exactly one statement whose root is a query.
3. :func:`check_tree` — every node of the tree must be of an allowed type, with only
   allowed arguments; functions are checked by name, CAST targets against ADQL's list.
"""

from __future__ import annotations

import difflib
import re
import typing as t

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from tap.adql.dialect import ADQL, MATH_FUNCTIONS, ADQLFunction
from tap.adql.errors import ADQLError, position
from tap.adql.geometry import SUPPORTED as SUPPORTED_GEOMETRY
from tap.adql.geometry import GeoFunction, check_geometry

__all__ = [
    "GEOMETRY_FUNCTIONS",
    "RESERVED_WORDS",
    "check_tree",
    "parse",
    "tokenize",
]

_DIALECT = ADQL()

#: ADQL 2.1 reserved words (SQL-92 list plus ADQL's additions): regular identifiers
#: must not be one of them; a delimited identifier ("size") must be used instead.
RESERVED_WORDS = frozenset(
    """
    ABSOLUTE ACTION ADD ALL ALLOCATE ALTER AND ANY ARE AS ASC ASSERTION AT AUTHORIZATION AVG
    BEGIN BETWEEN BIT BIT_LENGTH BOTH BY CASCADE CASCADED CASE CAST CATALOG CHAR CHARACTER
    CHAR_LENGTH CHARACTER_LENGTH CHECK CLOSE COALESCE COLLATE COLLATION COLUMN COMMIT CONNECT
    CONNECTION CONSTRAINT CONSTRAINTS CONTINUE CONVERT CORRESPONDING COUNT CREATE CROSS CURRENT
    CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATE DAY DEALLOCATE DECIMAL
    DECLARE DEFAULT DEFERRABLE DEFERRED DELETE DESC DESCRIBE DESCRIPTOR DIAGNOSTICS DISCONNECT
    DISTINCT DOMAIN DOUBLE DROP ELSE END END-EXEC ESCAPE EXCEPT EXCEPTION EXEC EXECUTE EXISTS
    EXTERNAL EXTRACT FALSE FETCH FIRST FLOAT FOR FOREIGN FOUND FROM FULL GET GLOBAL GO GOTO
    GRANT GROUP HAVING HOUR IDENTITY IMMEDIATE IN INDICATOR INITIALLY INNER INPUT INSENSITIVE
    INSERT INT INTEGER INTERSECT INTERVAL INTO IS ISOLATION JOIN KEY LANGUAGE LAST LEADING LEFT
    LEVEL LIKE LOCAL LOWER MATCH MAX MIN MINUTE MODULE MONTH NAMES NATIONAL NATURAL NCHAR NEXT
    NO NOT NULL NULLIF NUMERIC OCTET_LENGTH OF ON ONLY OPEN OPTION OR ORDER OUTER OUTPUT
    OVERLAPS PAD PARTIAL POSITION PRECISION PREPARE PRESERVE PRIMARY PRIOR PRIVILEGES PROCEDURE
    PUBLIC READ REAL REFERENCES RELATIVE RESTRICT REVOKE RIGHT ROLLBACK ROWS SCHEMA SCROLL
    SECOND SECTION SELECT SESSION SESSION_USER SET SIZE SMALLINT SOME SPACE SQL SQLCODE SQLERROR
    SQLSTATE SUBSTRING SUM SYSTEM_USER TABLE TEMPORARY THEN TIME TIMESTAMP TIMEZONE_HOUR
    TIMEZONE_MINUTE TO TRAILING TRANSACTION TRANSLATE TRANSLATION TRIM TRUE UNION UNIQUE UNKNOWN
    UPDATE UPPER USAGE USER USING VALUE VALUES VARCHAR VARYING VIEW WHEN WHENEVER WHERE WITH
    WORK WRITE YEAR ZONE
    ABS ACOS ASIN ATAN ATAN2 CEILING COS COT DEGREES EXP FLOOR LOG LOG10 MOD PI POWER RADIANS
    RAND ROUND SIN SQRT TAN TRUNCATE AREA BOX CENTROID CIRCLE CONTAINS COORD1 COORD2 COORDSYS
    DISTANCE INTERSECTS POINT POLYGON REGION BIGINT ILIKE IN_UNIT OFFSET TOP
    """.split()  # noqa: SIM905 - the list as the standard prints it
)

#: ADQL geometry functions (optional feature adqlgeo; those offered: SUPPORTED_GEOMETRY).
GEOMETRY_FUNCTIONS = frozenset(
    {
        "AREA", "BOX", "CENTROID", "CIRCLE", "CONTAINS", "COORD1", "COORD2", "COORDSYS",
        "DISTANCE", "INTERSECTS", "POINT", "POLYGON", "REGION",
    }
)  # fmt: skip

#: Every function name a query may call (for suggestions).
KNOWN_FUNCTIONS = (
    *MATH_FUNCTIONS,
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "LOWER",
    "UPPER",
    "COALESCE",
    "CAST",
    *SUPPORTED_GEOMETRY,
)

_REGULAR_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")

_ALLOWED_TOKENS = frozenset(
    {
        TokenType.L_PAREN,
        TokenType.R_PAREN,
        TokenType.COMMA,
        TokenType.DOT,
        TokenType.DASH,
        TokenType.PLUS,
        TokenType.STAR,
        TokenType.SLASH,
        TokenType.EQ,
        TokenType.NEQ,
        TokenType.LT,
        TokenType.GT,
        TokenType.LTE,
        TokenType.GTE,
        TokenType.DPIPE,
        TokenType.STRING,
        TokenType.NUMBER,
        TokenType.IDENTIFIER,
        TokenType.VAR,
        TokenType.TOP,
        *ADQL.Tokenizer.KEYWORDS.values(),
    }
)

_TOKEN_MESSAGES: dict[TokenType, tuple[str, str | None]] = {
    TokenType.SEMICOLON: (
        "';' is not allowed: a query is exactly one ADQL statement",
        None,
    ),
    TokenType.TILDE: ("'~' (regular expression match) is not ADQL", "use LIKE or ILIKE"),
    TokenType.L_BRACKET: ("'[' (array subscript) is not ADQL", None),
    TokenType.R_BRACKET: ("']' is not ADQL", None),
    TokenType.L_BRACE: ("'{' is not ADQL", None),
    TokenType.R_BRACE: ("'}' is not ADQL", None),
    TokenType.PARAMETER: ("'@' is not ADQL", None),
    TokenType.PLACEHOLDER: ("'?' (query parameter) is not ADQL", None),
    TokenType.HASH: ("'#' is not ADQL", None),
    TokenType.AMP: ("'&' (bitwise and) is not ADQL", None),
    TokenType.CARET: ("'^' is not ADQL", "use POWER(x, y)"),
    TokenType.MOD: ("'%' is not ADQL", "use MOD(x, y)"),
    TokenType.PIPE: ("'|' is not ADQL", "string concatenation is '||'"),
    TokenType.BACKSLASH: ("'\\' is not ADQL", None),
    TokenType.NOT: ("'!' is not ADQL", "use NOT, or != / <> for inequality"),
    TokenType.NATIONAL_STRING: ("N'...' strings are not ADQL", "write '...'"),
}


def _error_at(text: str, offset: int | None, message: str, hint: str | None = None) -> ADQLError:
    if offset is None:
        return ADQLError(message, hint=hint)
    line, column = position(text, offset)
    return ADQLError(message, line, column, hint)


def _suggest(word: str, candidates: t.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(
        word.upper(), [c.upper() for c in candidates], n=1, cutoff=0.7
    )
    return f"did you mean {matches[0]}?" if matches else None


# ----------------------------------------------------------------------------- tokens


def _unterminated(adql: str) -> tuple[int | None, str]:
    """Offset of an unterminated string or delimited identifier, if there is one."""
    i, n = 0, len(adql)
    while i < n:
        char = adql[i]
        if char == "-" and adql.startswith("--", i):
            end = adql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if char in "'\"":
            j = i + 1
            while True:
                j = adql.find(char, j)
                if j < 0:
                    what = "string" if char == "'" else "delimited identifier"
                    return i, what
                if adql.startswith(char * 2, j):
                    j += 2
                    continue
                break
            i = j + 1
            continue
        i += 1
    return None, ""


#: What may follow ``OFFSET n``: ADQL 2.1 puts OFFSET at the very end of a query.
_AFTER_OFFSET = frozenset(
    {TokenType.R_PAREN, TokenType.UNION, TokenType.EXCEPT, TokenType.INTERSECT}
)


def _check_count(adql: str, tokens: list[Token], i: int) -> None:
    """``TOP n`` / ``OFFSET n``: n is an unsigned integer, and OFFSET comes last.

    sqlglot parses a missing count as an incomplete LIMIT, and an OFFSET anywhere among
    the clauses (PostgreSQL's order): both are refused here in ADQL's words.
    """
    keyword = tokens[i]
    word = keyword.text.upper()
    value = tokens[i + 1] if i + 1 < len(tokens) else None
    if value is None or value.token_type != TokenType.NUMBER:
        raise _error_at(
            adql,
            keyword.start,
            f"{word} needs an unsigned integer",
            f"e.g. {'SELECT TOP 10 ...' if word == 'TOP' else '... ORDER BY id OFFSET 10'}",
        )
    after = tokens[i + 2] if i + 2 < len(tokens) else None
    if (
        word == "OFFSET"
        and after is not None
        and after.token_type not in _AFTER_OFFSET
        and after.text.upper() not in ("ROW", "ROWS")  # refused below with its own message
    ):
        raise _error_at(
            adql,
            keyword.start,
            f"OFFSET must come last, not before '{after.text}'",
            "ADQL 2.1 order: ... WHERE ... GROUP BY ... HAVING ... ORDER BY ... OFFSET n",
        )


def _join_string_parts(tokens: list[Token]) -> list[Token]:
    """Merge string literal parts separated by spaces, newlines or comments into one.

    ADQL 2.1 (section 2.1.2, after SQL-92): ``'abc' -- note`` newline ``'def'`` is the
    single literal ``'abcdef'``. sqlglot would read it as CONCAT('abc', 'def').
    """
    joined: list[Token] = []
    for token in tokens:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and token.token_type == TokenType.STRING
            and previous.token_type == TokenType.STRING
        ):
            joined[-1] = Token(
                TokenType.STRING,
                previous.text + token.text,
                token.line,
                token.col,
                previous.start,
                token.end,
                previous.comments + token.comments,
            )
            continue
        joined.append(token)
    return joined


def tokenize(adql: str) -> list[Token]:
    """Tokens of ``adql``, refusing anything lexically foreign to ADQL."""
    if not adql.strip():
        raise ADQLError("empty query")
    try:
        tokens = _DIALECT.tokenize(adql)
    except TokenError as err:
        offset, what = _unterminated(adql)
        if offset is not None:
            raise _error_at(adql, offset, f"unterminated {what}") from None
        raise ADQLError(f"cannot read the query: {err}") from None
    if not tokens:
        raise ADQLError("empty query (only comments)")

    for i, token in enumerate(tokens):
        kind = token.token_type
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        adjacent = nxt is not None and nxt.start == token.end + 1
        if kind == TokenType.SLASH and adjacent and nxt.token_type == TokenType.STAR:
            raise _error_at(adql, token.start, "'/* */' comments are not ADQL", "use -- comments")
        if kind == TokenType.COLON and adjacent and nxt.token_type == TokenType.COLON:
            raise _error_at(adql, token.start, "'::' casts are not ADQL", "use CAST(x AS type)")
        if kind == TokenType.DASH and adjacent and nxt.token_type == TokenType.GT:
            raise _error_at(adql, token.start, "'->' (JSON operator) is not ADQL")
        if kind == TokenType.SEMICOLON:
            trailing = all(tk.token_type == TokenType.SEMICOLON for tk in tokens[i:])
            raise _error_at(
                adql,
                token.start,
                *(
                    ("';' is not allowed at the end of an ADQL query", "remove it")
                    if trailing
                    else _TOKEN_MESSAGES[kind]
                ),
            )
        if kind not in _ALLOWED_TOKENS:
            message, hint = _TOKEN_MESSAGES.get(
                kind, (f"unexpected character(s) '{token.text}': not ADQL", None)
            )
            raise _error_at(adql, token.start, message, hint)
        if kind == TokenType.VAR and not _REGULAR_IDENTIFIER.match(token.text):
            raise _error_at(
                adql,
                token.start,
                f"'{token.text}' is not a valid ADQL name",
                "regular names are letters, digits and '_', starting with a letter; "
                'quote other names like "this"',
            )
        if kind == TokenType.IDENTIFIER and token.text == "":
            raise _error_at(adql, token.start, 'empty delimited identifier ""')
        if (
            kind == TokenType.VAR
            and adjacent
            and nxt.token_type == TokenType.STRING
            and token.text.upper() in ("E", "B", "X", "U")
        ):
            raise _error_at(
                adql, token.start, f"{token.text}'...' strings are not ADQL", "write '...'"
            )
        if kind in (TokenType.TOP, TokenType.OFFSET):
            _check_count(adql, tokens, i)
        if (
            kind == TokenType.VAR
            and token.text.upper() in ("ROW", "ROWS")
            and i >= 2
            and tokens[i - 2].token_type == TokenType.OFFSET
        ):
            raise _error_at(adql, token.start, "OFFSET n ROWS is not ADQL", "write OFFSET n")
        if (
            kind == TokenType.VAR
            and token.text.upper() == "NULLS"
            and nxt is not None
            and nxt.text.upper() in ("FIRST", "LAST")
        ):
            raise _error_at(adql, token.start, "NULLS FIRST/LAST is not ADQL")

    tokens = _join_string_parts(tokens)
    first = tokens[0]
    if first.token_type not in (TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN):
        raise _error_at(
            adql,
            first.start,
            f"an ADQL query starts with SELECT (or WITH), not '{first.text}'",
            _suggest(first.text, ("SELECT", "WITH")),
        )
    return tokens


# ----------------------------------------------------------------------------- parse


def _parse_error(adql: str, err: ParseError) -> ADQLError:
    info = err.errors[0] if err.errors else {}
    description = str(info.get("description") or "syntax error")
    description = re.sub(r" but got <Token.*", "", description)
    description = re.sub(
        r"Required keyword: '(\w+)' missing for <class '[\w.]+\.(\w+)'>",
        lambda m: f"incomplete {m.group(2).upper()}",
        description,
    )
    description = description.replace("Invalid expression / Unexpected token", "syntax error")
    highlight = str(info.get("highlight") or "")
    line, col = info.get("line"), info.get("col")
    at_end = not str(info.get("end_context") or "").strip()
    if line is None or col is None:
        return ADQLError(description)
    column = max(1, int(col) - len(highlight) + 1)
    if at_end and "Expected" in description:
        return ADQLError(
            f"unexpected end of query after '{highlight}': {description}", int(line), column
        )
    near = f" at '{highlight}'" if highlight else ""
    return ADQLError(f"{description}{near}", int(line), column)


def parse(adql: str, tokens: list[Token]) -> exp.Query:
    """The single query statement of ``tokens``."""
    try:
        statements = _DIALECT.parser().parse(tokens, adql)
    except ParseError as err:
        raise _parse_error(adql, err) from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise ADQLError(f"exactly one ADQL statement expected, got {len(statements)}")
    tree = statements[0]
    while isinstance(tree, exp.Subquery) and not tree.alias and isinstance(tree.this, exp.Query):
        tree = tree.this
    if not isinstance(tree, exp.Select | exp.Union | exp.Intersect | exp.Except):
        raise ADQLError("an ADQL query must be a SELECT (optionally with WITH and set operations)")
    tree.parent = None
    return tree


# ----------------------------------------------------------------------------- tree


_BINARY = {"this", "expression"}
_ALLOWED_ARGS: dict[type[exp.Expr], frozenset[str]] = {
    k: frozenset(v)
    for k, v in {
        exp.Select: {
            "expressions", "from_", "joins", "where", "group", "having", "order", "limit",
            "offset", "distinct", "with_",
        },
        exp.Union: {"this", "expression", "distinct", "order", "limit", "offset", "with_"},
        exp.Intersect: {"this", "expression", "distinct", "order", "limit", "offset", "with_"},
        exp.Except: {"this", "expression", "distinct", "order", "limit", "offset", "with_"},
        exp.Subquery: {"this", "alias"},
        exp.With: {"expressions"},
        exp.CTE: {"this", "alias"},
        exp.TableAlias: {"this"},
        exp.From: {"this"},
        exp.Join: {"this", "on", "using", "side", "kind", "method"},
        exp.Table: {"this", "db", "catalog", "alias", "joins"},
        exp.Identifier: {"this", "quoted"},
        exp.Column: {"this", "table", "db", "catalog"},
        exp.Star: set(),
        exp.Alias: {"this", "alias"},
        exp.Where: {"this"},
        exp.Having: {"this"},
        exp.Group: {"expressions"},
        exp.Order: {"expressions"},
        exp.Ordered: {"this", "desc", "nulls_first"},
        exp.Limit: {"expression"},
        exp.Offset: {"expression"},
        exp.Distinct: {"expressions"},
        exp.Literal: {"this", "is_string"},
        exp.Null: set(),
        exp.Boolean: {"this"},
        exp.Paren: {"this"},
        exp.EQ: _BINARY,
        exp.NEQ: _BINARY,
        exp.LT: _BINARY,
        exp.LTE: _BINARY,
        exp.GT: _BINARY,
        exp.GTE: _BINARY,
        exp.And: _BINARY,
        exp.Or: _BINARY,
        exp.Not: {"this"},
        exp.Neg: {"this"},
        exp.Add: _BINARY,
        exp.Sub: _BINARY,
        exp.Mul: _BINARY,
        exp.Div: {"this", "expression", "typed", "safe"},
        exp.DPipe: {"this", "expression", "safe"},
        exp.Between: {"this", "low", "high"},
        exp.In: {"this", "expressions", "query"},
        exp.Like: {"this", "expression", "negate"},
        exp.ILike: {"this", "expression", "negate"},
        exp.Is: {"this", "expression", "negate"},
        exp.Exists: {"this"},
        exp.Count: {"this", "expressions", "big_int"},
        exp.Sum: {"this"},
        exp.Avg: {"this"},
        exp.Min: {"this"},
        exp.Max: {"this"},
        exp.Lower: {"this"},
        exp.Upper: {"this"},
        exp.Coalesce: {"this", "expressions", "is_nvl", "is_null"},
        exp.Cast: {"this", "to"},
        exp.DataType: {"this", "expressions", "nested"},
        exp.DataTypeParam: {"this"},
        ADQLFunction: {"this", "expressions"},
        GeoFunction: {"this", "expressions"},
    }.items()
}  # fmt: skip

#: Nodes refused with a dedicated message: node type -> (message, keyword to point at, hint).
_REFUSED: dict[type[exp.Expr], tuple[str, str | None, str | None]] = {
    exp.Case: ("CASE is not part of ADQL 2.1", "CASE", "use COALESCE or separate queries"),
    exp.Window: ("window functions (OVER) are not ADQL", "OVER", None),
    exp.Into: ("SELECT ... INTO is not allowed", "INTO", None),
    exp.Lock: ("FOR UPDATE/SHARE is not allowed", "FOR", None),
    exp.Lateral: ("LATERAL is not ADQL", "LATERAL", None),
    exp.TableSample: ("TABLESAMPLE is not ADQL", "TABLESAMPLE", None),
    exp.Escape: ("LIKE ... ESCAPE is not ADQL", "ESCAPE", None),
    exp.Any: ("quantified comparisons (ANY/SOME) are not ADQL", "ANY", "use IN or EXISTS"),
    exp.All: ("quantified comparisons (ALL) are not ADQL", "ALL", "use NOT EXISTS"),
    exp.Interval: ("INTERVAL is not ADQL", "INTERVAL", None),
    exp.Values: ("VALUES is not ADQL", "VALUES", None),
    exp.Unnest: ("UNNEST is not ADQL", "UNNEST", None),
    exp.Fetch: ("FETCH is not ADQL", "FETCH", "use SELECT TOP n"),
    exp.Collate: ("COLLATE is not ADQL", "COLLATE", None),
    exp.SimilarTo: ("SIMILAR TO is not ADQL", "SIMILAR TO", "use LIKE"),
    exp.Mod: ("'%' is not ADQL", None, "use MOD(x, y)"),
}

_CAST_TARGETS = {
    exp.DType.INT: "INTEGER",
    exp.DType.SMALLINT: "SMALLINT",
    exp.DType.BIGINT: "BIGINT",
    exp.DType.FLOAT: "REAL",
    exp.DType.DOUBLE: "DOUBLE PRECISION",
    exp.DType.CHAR: "CHAR",
    exp.DType.VARCHAR: "VARCHAR",
    exp.DType.TIMESTAMP: "TIMESTAMP",
}
_CAST_LIST = "INTEGER, SMALLINT, BIGINT, REAL, DOUBLE PRECISION, CHAR(n), VARCHAR(n), TIMESTAMP"


_IN_NEEDS = "IN needs a parenthesised list or subquery"
_IN_HINT = "e.g. x IN ('a', 'b') or x IN (SELECT ...)"


class _Checker:
    def __init__(self, adql: str, tokens: list[Token]) -> None:
        self.adql = adql
        self.tokens = tokens

    # where -----------------------------------------------------------------

    def offset_of(self, node: exp.Expr | None) -> int | None:
        """Character offset of a node (its own, or its first positioned descendant)."""
        if node is None:
            return None
        for sub in node.walk():
            start = sub.meta.get("start") if sub._meta else None
            if start is not None:
                return int(start)
        return None

    def keyword_offset(self, keyword: str) -> int | None:
        for token in self.tokens:
            if token.text.upper() == keyword:
                return token.start
        return None

    def fail(
        self,
        message: str,
        node: exp.Expr | None = None,
        keyword: str | None = None,
        hint: str | None = None,
    ) -> t.NoReturn:
        offset = self.keyword_offset(keyword) if keyword else None
        if offset is None:
            offset = self.offset_of(node)
        raise _error_at(self.adql, offset, message, hint)

    # what ------------------------------------------------------------------

    def check(self, tree: exp.Query) -> None:
        for node in tree.walk():
            kind = type(node)
            refused = _REFUSED.get(kind)
            if refused:
                message, keyword, hint = refused
                self.fail(message, node, keyword, hint)
            if isinstance(node, exp.Anonymous):
                self.check_unknown_function(node)
            allowed = _ALLOWED_ARGS.get(kind)
            if allowed is None:
                self.fail(f"unsupported construct: {node.key.upper()}", node)
            checker = getattr(self, f"check_{node.key}", None)
            if checker is not None:
                checker(node)
            for arg, value in node.args.items():
                if arg not in allowed and value not in (None, False, []):
                    self.refuse_arg(node, arg)

    def refuse_arg(self, node: exp.Expr, arg: str) -> t.NoReturn:
        if isinstance(node, exp.TableAlias) and arg == "columns":
            self.fail("column lists in aliases, AS t(a, b), are not ADQL", node)
        if isinstance(node, exp.Select) and arg == "laterals":
            self.fail("LATERAL is not ADQL", node, "LATERAL")
        if isinstance(node, exp.Select) and arg == "into":
            self.fail("SELECT ... INTO is not allowed", node, "INTO")
        if isinstance(node, exp.Select) and arg == "windows":
            self.fail("window functions (WINDOW) are not ADQL", node, "WINDOW")
        if isinstance(node, exp.Select) and arg == "locks":
            self.fail("FOR UPDATE/SHARE is not allowed", node, "FOR")
        if isinstance(node, exp.In) and arg == "field":
            self.fail(_IN_NEEDS, node.args["field"], hint=_IN_HINT)
        if isinstance(node, exp.Table) and arg == "sample":
            self.fail("TABLESAMPLE is not ADQL", node, "TABLESAMPLE")
        self.fail(f"unsupported construct: {node.key.upper()} with {arg.upper()}", node)

    def check_unknown_function(self, node: exp.Anonymous) -> t.NoReturn:
        name = node.name
        upper = name.upper()
        if upper in GEOMETRY_FUNCTIONS:
            self.fail(
                f"the geometry function {upper} is not supported by this service",
                node,
                hint="supported: " + ", ".join(SUPPORTED_GEOMETRY),
            )
        if upper == "IN_UNIT":
            self.fail("IN_UNIT is not supported by this service", node)
        self.fail(f"unknown function '{name}'", node, hint=_suggest(name, KNOWN_FUNCTIONS))

    # per node type ---------------------------------------------------------

    def check_with(self, node: exp.With) -> None:
        if node.args.get("recursive"):
            self.fail(
                "WITH RECURSIVE is not supported (ADQL 2.1 has only non-recursive WITH)",
                node,
                "RECURSIVE",
            )
        parent = node.parent
        if parent is None or parent.parent is not None:
            self.fail("WITH is only allowed at the start of the query", node, "WITH")

    def check_limit(self, node: exp.Limit) -> None:
        if not node.meta.get("top"):
            self.fail("LIMIT is not ADQL", node, "LIMIT", "use SELECT TOP n")
        self.check_unsigned(node.expression, "TOP")

    def check_offset(self, node: exp.Offset) -> None:
        self.check_unsigned(node.expression, "OFFSET")

    def check_unsigned(self, value: exp.Expr | None, keyword: str) -> None:
        if not (isinstance(value, exp.Literal) and value.is_int and int(value.this) >= 0):
            self.fail(f"{keyword} needs an unsigned integer", value, keyword)

    def check_select(self, node: exp.Select) -> None:
        # sqlglot accepts an empty select list; PostgreSQL then returns rows with no
        # column, which no VOTable can carry: refuse it here, pointing where the list
        # should be (the FROM right after SELECT / DISTINCT)
        if node.expressions:
            return
        word = "DISTINCT" if node.args.get("distinct") else "SELECT"
        message = f"{word} needs a select list: the columns or expressions to return"
        hint = "e.g. SELECT * FROM t, or SELECT TOP 10 id, name FROM t"
        table = self.offset_of(node.args.get("from_"))
        froms = [
            tok.start
            for tok in self.tokens
            if tok.text.upper() == "FROM" and (table is None or tok.start < table)
        ]
        raise _error_at(self.adql, froms[-1] if froms else None, message, hint)

    def check_distinct(self, node: exp.Distinct) -> None:
        if node.args.get("on"):
            self.fail("DISTINCT ON is not ADQL", node, "DISTINCT")
        if isinstance(node.parent, exp.Func) and len(node.expressions) != 1:
            self.fail("an aggregate with DISTINCT takes exactly one argument", node)

    def check_join(self, node: exp.Join) -> None:
        kind = (node.args.get("kind") or "").upper()
        side = (node.args.get("side") or "").upper()
        method = (node.args.get("method") or "").upper()
        if kind == "CROSS":
            self.fail("CROSS JOIN is not ADQL", node, "CROSS", "use a comma join: FROM a, b")
        if kind not in ("", "INNER", "OUTER") or side not in ("", "LEFT", "RIGHT", "FULL"):
            self.fail(f"{kind or side} JOIN is not ADQL", node)
        if method not in ("", "NATURAL"):
            self.fail(f"{method} JOIN is not ADQL", node)
        has_condition = node.args.get("on") or node.args.get("using")
        if method == "NATURAL" and has_condition:
            self.fail("a NATURAL JOIN takes no ON or USING", node, "NATURAL")
        if not method and not has_condition and not node.meta.get("comma"):
            self.fail("JOIN needs ON or USING (or NATURAL JOIN)", node, "JOIN")

    def check_in(self, node: exp.In) -> None:
        if node.expressions or node.args.get("query") or node.args.get("field"):
            return
        # "x IN" or "x IN ()": point at the IN that follows x
        after = self.offset_of(node.this) or 0
        offset = next(
            (
                tok.start
                for tok in self.tokens
                if tok.token_type == TokenType.IN and tok.start > after
            ),
            None,
        )
        raise _error_at(self.adql, offset, _IN_NEEDS, _IN_HINT)

    def check_is(self, node: exp.Is) -> None:
        if not isinstance(node.expression, exp.Null):
            self.fail("only IS [NOT] NULL is ADQL", node, "IS")

    def check_cast(self, node: exp.Cast) -> None:
        to = node.args.get("to")
        kind = to.this if isinstance(to, exp.DataType) else None
        name = _CAST_TARGETS.get(kind)  # type: ignore[arg-type]
        allowed = _CAST_LIST
        if name is None:
            shown = to.sql(ADQL) if isinstance(to, exp.DataType) else "?"
            self.fail(
                f"CAST to {shown} is not supported",
                node,
                shown.split("(")[0].upper() if shown != "?" else None,
                f"ADQL CAST targets are {allowed}",
            )
        params = to.expressions if isinstance(to, exp.DataType) else []
        if params and (name not in ("CHAR", "VARCHAR") or len(params) != 1):
            self.fail(f"CAST to {name} takes no length", node, name)
        for param in params:
            value = param.this if isinstance(param, exp.DataTypeParam) else param
            if not (isinstance(value, exp.Literal) and value.is_int and int(value.this) > 0):
                self.fail(f"the length of {name} must be a positive integer", node, name)

    def check_identifier(self, node: exp.Identifier) -> None:
        if node.quoted:
            return
        parent = node.parent
        if isinstance(parent, exp.Table) or (
            isinstance(parent, exp.Column) and node.arg_key in ("table", "db", "catalog")
        ):
            # table names are looked up in TAP_SCHEMA, whatever they are, and may be used
            # as qualifiers
            return
        if node.name.upper() in RESERVED_WORDS:
            self.fail(
                f"'{node.name}' is an ADQL reserved word",
                node,
                hint=f'write it as a delimited identifier: "{node.name.lower()}"',
            )

    def check_adqlfunction(self, node: ADQLFunction) -> None:
        name = node.name
        low, high = MATH_FUNCTIONS[name]
        count = len(node.expressions)
        if not low <= count <= high:
            expected = str(low) if low == high else f"{low} or {high}"
            self.fail(f"{name} takes {expected} argument(s), got {count}", node)

    def check_geofunction(self, node: GeoFunction) -> None:
        def fail(message: str, where: exp.Expr, hint: str | None = None) -> t.NoReturn:
            self.fail(message, where, hint=hint)

        check_geometry(node, fail)


def check_tree(adql: str, tokens: list[Token], tree: exp.Query) -> None:
    """Refuse any node, argument, function or name outside what this service offers."""
    _Checker(adql, tokens).check(tree)
