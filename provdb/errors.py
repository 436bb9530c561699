"""The provdb error family: each error says who failed and what to do."""

from __future__ import annotations

__all__ = ["ConfigError", "DatabaseError", "IngestError", "ParseError", "ProvdbError"]


class ProvdbError(Exception):
    """Base class of every error provdb raises on purpose.

    The CLI prints ``str(error)`` as a one-line message and exits non-zero, so the
    message must say what went wrong *and* what the user can do about it.
    """

    exit_code: int = 2


class ConfigError(ProvdbError):
    """A setting (environment variable, path, option) is unusable."""


class DatabaseError(ProvdbError):
    """The database cannot be reached, or is at an unexpected migration."""


class ParseError(ProvdbError):
    """A source file cannot be parsed.

    Parameters
    ----------
    path:
        The file being read.
    line:
        1-based line number, or ``None`` when the error concerns the whole file.
    reason:
        What is wrong, in words an operator understands.
    """

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class IngestError(ProvdbError):
    """An ingest could not complete; nothing of the affected file was kept."""
