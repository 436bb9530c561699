"""The settings registry: every ``PROVDB_*`` environment variable, declared once.

Each setting (:class:`Setting`) has a name, a kind that validates it
(:mod:`provdb.settings.types`), a default, a unit, a group and a help line; the
declarations are in :mod:`provdb.settings.catalog`. This package is the only code that
reads ``PROVDB_*`` variables (``tests/provdb/test_settings.py`` checks the sources):
everything else asks :func:`value`, or uses a typed view built from it
(:class:`provdb.config.Settings`, :class:`provdb.config.IngestLimits`,
:class:`provdb.config.ObsCoreSettings`, ``tap.config.TapConfig``).

A bad value is one line naming the variable and what it allows
(``PROVDB_TAP_MAXREC='abc': expected an integer >= 0``), never a silent fallback;
``provdb serve`` checks them all at start (:func:`check`). ``provdb settings`` lists
every setting with its value and where it came from; the settings table of
``docs/settings.md`` is :func:`provdb.settings.render.markdown`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from provdb.errors import ConfigError
from provdb.settings.catalog import GROUPS, SETTINGS
from provdb.settings.setting import Setting

__all__ = ["GROUPS", "SETTINGS", "Setting", "check", "default", "setting", "source", "value"]


def setting(name: str) -> Setting:
    """The declaration of ``name`` (KeyError for an undeclared name: a programming error)."""
    return SETTINGS[name]


def value(
    name: str, environ: Mapping[str, str] | None = None, *, variable: str | None = None
) -> Any:
    """The typed value of setting ``name`` in ``environ`` (default: this process's).

    ``variable``: read it from that environment variable instead of ``name`` (same
    kind, default and secrecy), for options such as ``provdb push --token-env NAME``.

    Raises
    ------
    provdb.errors.ConfigError
        The variable's text is unusable; the message names it and says what is allowed.
    """
    return SETTINGS[name].read(os.environ if environ is None else environ, variable)


def default(name: str) -> Any:
    """The declared default of ``name`` (typed views use it as their field default)."""
    return SETTINGS[name].default


def source(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Where the value of ``name`` comes from: ``"env"`` or ``"default"``."""
    return "env" if SETTINGS[name].is_set(os.environ if environ is None else environ) else "default"


def check(environ: Mapping[str, str] | None = None) -> None:
    """Validate every setting given in ``environ``.

    Raises
    ------
    provdb.errors.ConfigError
        One line listing every unusable value (``A='x': expected ...; B='y': ...``).
    """
    env = os.environ if environ is None else environ
    errors = []
    for item in SETTINGS.values():
        try:
            item.read(env)
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("; ".join(errors))
