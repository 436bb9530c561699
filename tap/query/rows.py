"""A query's result as Python values: for pages that show rows, not for clients.

:func:`result_rows` runs a prepared query exactly as ``/sync`` does (same translation,
role, timeout, row limit, overflow and error rules: :func:`tap.query.run.result_stream`)
but keeps each value as the JSON result format would give it once decoded
(:class:`tap.votable.textformats.JsonValues`), so the browser UI shows what a client
would get without encoding a JSON document and parsing it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from provdb.votable.fields import Field
from tap.query.run import PreparedQuery, result_stream
from tap.votable.stream import ResultStream
from tap.votable.textformats import JsonValues, json_metadata

__all__ = ["ResultRows", "result_rows"]


@dataclass
class ResultRows:
    """What a query returned, as the JSON result format says it."""

    #: one dict per column: name, datatype, arraysize, xtype, unit, ucd, utype, description
    columns: list[dict[str, Any]]
    #: the rows (at most the query's row limit), each a list of values (None: NULL)
    rows: list[list[Any]]
    #: True when the result has more rows than it was allowed to deliver
    overflow: bool
    #: the message of the error that stopped the result part way, if any
    error: str | None


def result_rows(
    prepared: PreparedQuery, connect: Callable[[], Any], *, role: str | None
) -> ResultRows:
    """Run ``prepared`` (see the module docstring) and return its rows.

    Errors before the first row (bad casts, timeouts) raise as for ``/sync``
    (:class:`tap.errors.TapError`); an error after it ends the rows and is reported in
    :attr:`ResultRows.error`.
    """
    made: list[tuple[JsonValues, ResultStream]] = []

    def writer(
        fields: Sequence[Field],
        batches: Iterable[Any],
        *,
        overflow_after: int | None = None,
        **_ignored: Any,
    ) -> ResultStream:
        values = JsonValues(fields)
        stream = ResultStream(values, batches, overflow_after=overflow_after)
        made.append((values, stream))
        return stream

    for _nothing in result_stream(prepared, connect, role=role, writer=writer):
        pass  # the encoder keeps the rows; the chunks are empty
    values, stream = made[0]
    return ResultRows(
        columns=json_metadata(prepared.fields),
        rows=values.data,
        overflow=stream.result.overflow,
        error=stream.result.error_message,
    )
