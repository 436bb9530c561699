"""A complexity budget for one ADQL query, checked before the costly steps run.

Why: sqlglot 30.x parses ``a JOIN b JOIN c ...`` (JOINs without ``ON``) in time that
doubles with every JOIN (bench/sqlglot_joins.py: 13 JOINs 0.1 s, 16 JOINs several
seconds), and its scope analysis (``qualify``) is quadratic in the depth of an
expression (2,000 ``OR`` take ~5 s). A 560-byte query could hold a worker for minutes.

So, in order and each before the step it protects:

1. the text length (before tokenizing);
2. the token count and the JOIN counts (before parsing): at most ``max_joins`` JOINs,
   and at most :data:`JOINS_WITHOUT_CONDITION` in a row without ``ON``/``USING``
   (``CROSS JOIN`` and ``NATURAL JOIN`` need none and are parsed in linear time);
3. the depth of the parsed tree (before ``qualify``);
4. a wall-clock deadline around the whole translation (:func:`deadline`), the backstop
   for whatever the structural limits do not foresee.

Every refusal is an :class:`~tap.adql.errors.ADQLError` that names the limit and the
setting that raises it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from tap.adql.errors import ADQLError, position

__all__ = ["JOINS_WITHOUT_CONDITION", "QueryBudget", "TranslationTimeout", "deadline"]

#: JOINs in a row without ON/USING that sqlglot still parses quickly (2^n backtracking:
#: 8 take ~10 ms, 13 take ~0.1 s, see bench/results/sqlglot_joins.json)
JOINS_WITHOUT_CONDITION = 8

_NO_CONDITION_NEEDED = {TokenType.CROSS, TokenType.NATURAL}


@dataclass(frozen=True)
class QueryBudget:
    """Limits on one query's size and shape (service settings, see tap/config.py)."""

    max_chars: int = 100_000
    max_tokens: int = 10_000
    max_joins: int = 32
    max_depth: int = 100

    def check_text(self, adql: str) -> None:
        """Refuse a query text longer than ``max_chars``."""
        if len(adql) > self.max_chars:
            raise ADQLError(
                f"the query is {len(adql):,} characters long, more than the "
                f"{self.max_chars:,} this service reads (PROVDB_TAP_QUERY_MAX_CHARS)",
                hint="upload long lists of values as a table (UPLOAD) and JOIN it",
            )

    def check_tokens(self, adql: str, tokens: list[Token]) -> None:
        """Refuse too many tokens or JOINs, before sqlglot parses them."""
        if len(tokens) > self.max_tokens:
            raise ADQLError(
                f"the query has {len(tokens):,} tokens, more than the {self.max_tokens:,} "
                "this service parses (PROVDB_TAP_QUERY_MAX_TOKENS)",
                hint="upload long lists of values as a table (UPLOAD) and JOIN it",
            )
        joins = 0
        in_a_row = 0
        previous: Token | None = None
        for token in tokens:
            kind = token.token_type
            if kind == TokenType.JOIN:
                joins += 1
                # a JOIN that needs no condition does not start a backtracking branch
                if previous is None or previous.token_type not in _NO_CONDITION_NEEDED:
                    in_a_row += 1
                if in_a_row > JOINS_WITHOUT_CONDITION:
                    raise ADQLError(
                        f"more than {JOINS_WITHOUT_CONDITION} JOINs in a row without ON or "
                        "USING: this service cannot parse such a query in reasonable time",
                        *position(adql, token.start),
                        "give each JOIN its ON condition, or write CROSS JOIN",
                    )
            elif kind in (TokenType.ON, TokenType.USING):
                in_a_row = 0
            previous = token
        if joins > self.max_joins:
            raise ADQLError(
                f"the query has {joins} JOINs, more than the {self.max_joins} this service "
                "allows (PROVDB_TAP_QUERY_MAX_JOINS)",
                hint="split the question into several queries",
            )

    def check_tree(self, tree: exp.Expr) -> None:
        """Refuse an expression tree deeper than ``max_depth`` (before scope analysis)."""
        stack: list[tuple[Any, int]] = [(tree, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > self.max_depth:
                raise ADQLError(
                    f"the query is nested more than {self.max_depth} levels deep "
                    "(a chain of OR / AND / || counts one level per operator; "
                    "PROVDB_TAP_QUERY_MAX_DEPTH)",
                    hint="use IN (...) for a list of values, or split the query",
                )
            for child in node.iter_expressions():
                stack.append((child, depth + 1))


class TranslationTimeout(BaseException):
    """Raised inside a translation that passed its deadline (see :func:`deadline`).

    A BaseException, so that no ``except Exception`` inside sqlglot swallows it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`ADQLError` if the block runs longer than ``seconds`` (this thread).

    Python cannot interrupt another thread, and a signal timer works only in the main
    thread (gunicorn's gthread workers serve requests in others), so a per-thread
    profile hook checks the clock every 256 Python calls and raises into the running
    code. It costs about 2-3 ms per translation, paid only on a translation-cache miss.
    """
    if seconds <= 0:
        yield
        return
    limit = time.monotonic() + seconds
    clock = time.monotonic
    calls = 0

    def hook(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call":
            calls += 1
            if not calls & 255 and clock() > limit:
                raise TranslationTimeout

    previous = sys.getprofile()
    if previous is not None and not callable(previous):
        # a profiler written in C runs (cProfile: sys.getprofile() gives its Profile
        # object), and sys.setprofile could not put it back: no deadline under it
        yield
        return
    sys.setprofile(hook)
    try:
        yield
    except TranslationTimeout:
        raise ADQLError(
            f"translating the query took longer than {seconds:g} s "
            "(PROVDB_TAP_TRANSLATE_SECONDS): it is too complex for this service",
            hint="simplify it: fewer JOINs, shorter expressions",
        ) from None
    finally:
        # (Python removes a hook that raised; this restores the one before it)
        sys.setprofile(previous)
