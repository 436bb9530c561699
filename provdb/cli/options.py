"""The click options several ``provdb`` commands share, as decorators.

Each option with a default shows it in ``--help``. Commands use them as
``@options.formats("text", "json", help=...)``, next to plain ``@click.option`` for
options of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

__all__ = ["INGEST_FORMATS", "choice", "formats", "listen", "quiet", "value", "whole_number"]

F = TypeVar("F", bound=Callable[..., Any])

#: The ``--format`` values of ``provdb ingest`` and ``provdb push``.
INGEST_FORMATS = ("auto", "lstosa", "ctapipe", "prov-json", "prov-xml", "prov-n")


def value(*decls: str, default: Any, help: str, **attrs: Any) -> Callable[[F], F]:
    """An option with a ``default`` that ``--help`` shows (``attrs``: more click settings)."""
    return click.option(*decls, default=default, show_default=True, help=help, **attrs)


def choice(
    *decls: str,
    choices: Sequence[str],
    default: str | None = None,
    help: str,
    case_sensitive: bool = True,
) -> Callable[[F], F]:
    """An option taking one of ``choices``; ``default``: the first one unless given."""
    kind = click.Choice(list(choices), case_sensitive=case_sensitive)
    chosen = choices[0] if default is None else default
    return value(*decls, type=kind, default=chosen, help=help)


def formats(
    *choices: str, help: str, default: str | None = None, case_sensitive: bool = True
) -> Callable[[F], F]:
    """``--format`` (the parameter ``fmt``) taking one of ``choices`` (default: the first)."""
    return choice(
        "--format",
        "fmt",
        choices=choices,
        default=default,
        help=help,
        case_sensitive=case_sensitive,
    )


def whole_number(
    *decls: str, low: int, high: int | None = None, default: int, help: str
) -> Callable[[F], F]:
    """A whole-number option from ``low`` to ``high`` (no upper bound when ``None``)."""
    return value(*decls, type=click.IntRange(low, high), default=default, help=help)


def quiet(help: str) -> Callable[[F], F]:
    """``--quiet``/``-q``: a flag that silences what ``help`` says."""
    return click.option("--quiet", "-q", is_flag=True, help=help)


def listen(func: F) -> F:
    """``--host`` and ``--port`` of a command that serves the archive over HTTP."""
    func = click.option("--port", default=8080, show_default=True, type=int, help="TCP port.")(func)
    return value(
        "--host", default="127.0.0.1", help="Address to listen on (0.0.0.0 for every interface)."
    )(func)
