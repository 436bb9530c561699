"""What every ``provdb`` command shares: help settings, one-line errors, the archive.

Kept apart from the :mod:`provdb.cli` package so that the runners the commands call
(:mod:`provdb.ingest.ingest_cli`, :mod:`provdb.scan.scan_cli`) use the same pieces without
importing the click group and every command it registers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from provdb.errors import DatabaseError, ProvdbError

__all__ = [
    "CONTEXT_SETTINGS",
    "fail",
    "handle_errors",
    "open_archive",
    "write_output",
]

F = TypeVar("F", bound=Callable[..., Any])

#: ``-h`` as well as ``--help``, and help text wrapped at 100 columns.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def fail(message: str, code: int = 2) -> None:
    """Print ``provdb: error: MESSAGE`` on stderr and exit with ``code``."""
    click.echo(f"provdb: error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn ProvdbError into a one-line message and a non-zero exit status."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ProvdbError as exc:
            fail(str(exc), exc.exit_code)

    return wrapper  # type: ignore[return-value]


def open_archive(*, current: bool = False) -> Any:
    """The archive of the environment's settings (a :class:`provdb.db.Database`).

    With ``current``, refuse (``DatabaseError``: one line saying to run ``provdb db
    upgrade``) an archive whose schema is not at the newest migration: the commands that
    read it expect its tables.
    """
    from provdb.config import Settings
    from provdb.db import connect

    database = connect(Settings.from_env())
    if current:
        from provdb import migrate

        try:
            state = migrate.state(database.engine)
        except BaseException:
            database.dispose()
            raise
        if not state.up_to_date:
            database.dispose()
            raise DatabaseError(
                f"the archive schema is at migration {state.current or 'none'}, not "
                f"{state.head}: run `provdb db upgrade` first"
            )
    return database


def write_output(body: bytes, output: str | None) -> None:
    """Write ``body`` to the file ``output``, or to stdout when it is ``None``."""
    if output:
        from pathlib import Path

        Path(output).write_bytes(body)
        click.echo(f"wrote {len(body):,} bytes to {output}", err=True)
    else:
        stream = click.get_binary_stream("stdout")
        stream.write(body)
        stream.flush()
