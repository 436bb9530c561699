"""ADQLError: every refusal of a query, with where it happened."""

from __future__ import annotations

__all__ = ["ADQLError", "position"]


class ADQLError(Exception):
    """A query the service refuses (syntax, unknown name, unsupported feature).

    Parameters
    ----------
    message:
        What is wrong, e.g. ``unknown column 'nme' in provenance.entity``.
    line, column:
        1-based position of the offending token in the ADQL text, when known.
    hint:
        How to fix it, e.g. ``did you mean 'name'?``.

    ``str(error)`` is ``"line L, column C: message (hint)"``, ready for a TAP error
    document.
    """

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.message
        if self.line is not None and self.column is not None:
            text = f"line {self.line}, column {self.column}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text

    def __reduce__(self) -> tuple[type[ADQLError], tuple[str, int | None, int | None, str | None]]:
        return (ADQLError, (self.message, self.line, self.column, self.hint))


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character ``offset`` in ``text``."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column
