"""One setting: its name, kind, default and help, and how its value is read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from provdb.errors import ConfigError
from provdb.settings.types import Kind

__all__ = ["Setting"]


@dataclass(frozen=True)
class Setting:
    """A ``PROVDB_*`` environment variable, declared once in :mod:`provdb.settings.catalog`.

    Parameters
    ----------
    name:
        The variable, ``PROVDB_...``.
    kind:
        What it holds (:mod:`provdb.settings.types`): parses and validates the text.
    default:
        The value when the variable is unset or empty (``None``: nothing).
    help:
        One sentence: what it does (the docs' settings table and ``provdb settings``).
    group:
        Key of :data:`provdb.settings.catalog.GROUPS`.
    unit:
        Unit of the value (``"s"``, ``"bytes"``, ``"rows"``...), or ``None``.
    default_text:
        How to show a default that depends on the machine (``default_factory``) or is
        "nothing" in a way worth saying ("from the request's Host header").
    default_factory:
        Computes the default at read time (PROVDB_HOME: the platform's data folder).
    secret:
        Never shown (tokens).
    """

    name: str
    kind: Kind
    default: Any
    help: str
    group: str
    unit: str | None = None
    default_text: str | None = None
    default_factory: Callable[[], Any] | None = None
    secret: bool = False

    def is_set(self, environ: Mapping[str, str], variable: str | None = None) -> bool:
        """True when ``environ`` gives this variable (or ``variable``) a non-blank value."""
        return bool((environ.get(variable or self.name) or "").strip())

    def read(self, environ: Mapping[str, str], variable: str | None = None) -> Any:
        """The typed value in ``environ`` (its default when unset or blank).

        ``variable`` reads this setting's kind from another variable, for a command
        that lets its user choose the name (``provdb push --token-env NAME``); errors
        then name that variable.

        Raises
        ------
        provdb.errors.ConfigError
            ``NAME='text': expected <what is allowed>`` when the text is unusable.
        """
        name = variable or self.name
        raw = environ.get(name)
        if raw is None or not raw.strip():
            return self.default_factory() if self.default_factory else self.default
        try:
            return self.kind.parse(raw.strip())
        except ValueError as exc:
            shown = "***" if self.secret else repr(self.kind.mask(raw))
            detail = f" ({exc})" if str(exc) else ""
            raise ConfigError(f"{name}={shown}: expected {self.kind.allowed}{detail}") from None

    def show(self, value: Any) -> str:
        """``value`` as an operator writes it ("" for nothing, "***" for a secret)."""
        if value is None:
            return ""
        if self.secret:
            return "***"
        return self.kind.show(value)

    @property
    def default_shown(self) -> str:
        """The default as documented (machine-independent)."""
        if self.default_text is not None:
            return self.default_text
        return self.show(self.default)
