"""RESPONSEFORMAT (alias FORMAT) resolution: MIME types and short names to writers.

Accepted (case-insensitive; missing or empty = ``votable``), with the Content-Type answered:

* ``votable`` → BINARY2, ``application/x-votable+xml``;
* ``votable/b2``, ``votableb2``, ``binary2`` → BINARY2,
  ``application/x-votable+xml;serialization=BINARY2``;
* ``votable/td``, ``votabletd``, ``tabledata`` → TABLEDATA,
  ``application/x-votable+xml;serialization=TABLEDATA``;
* ``application/x-votable+xml``, ``text/xml``, ``application/xml``, each with an optional
  ``;serialization=BINARY2|TABLEDATA`` → as asked, answered with the same MIME type;
* ``csv``, ``text/csv``, ``text/csv;header=present`` → CSV, ``text/csv;header=present``;
  ``text/csv;header=absent`` → CSV without the header line, ``text/csv;header=absent``;
* ``tsv``, ``text/tab-separated-values`` → TSV, ``text/tab-separated-values``;
* ``json``, ``application/json`` → JSON, ``application/json``.

A client that asks by MIME type gets that MIME type back (DALI), spelled canonically;
parameters other than ``serialization`` and ``header`` (``charset`` ...) are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from provdb.votable.fields import Field
from tap.votable.document import votable_stream
from tap.votable.stream import ResultStream
from tap.votable.textformats import csv_stream, json_stream, tsv_stream

__all__ = ["ACCEPTED", "DEFAULT_FORMAT", "OutputFormat", "Writer", "resolve_format"]

VOTABLE_MIME = "application/x-votable+xml"

#: ``writer(fields, batches, *, overflow_after=None, infos=(), query=None)``
Writer = Callable[..., ResultStream]


@dataclass(frozen=True)
class OutputFormat:
    """A resolved RESPONSEFORMAT.

    Attributes
    ----------
    name:
        Canonical short name: ``votable``, ``votable/td``, ``csv``, ``tsv`` or ``json``.
    mime:
        The Content-Type to answer with.
    writer:
        ``writer(fields, batches, *, overflow_after=None, infos=(), query=None,
        error_message=None) -> ResultStream`` (see :func:`tap.votable.votable_stream`).
    extension:
        File name extension for the result (``vot``, ``csv``, ``tsv``, ``json``).
    is_votable:
        True for the VOTable serializations.
    serialization:
        ``binary2`` or ``tabledata`` for VOTable, else None.
    """

    name: str
    mime: str
    writer: Writer
    extension: str = "vot"
    is_votable: bool = True
    serialization: str | None = None

    def write(
        self,
        fields: Sequence[Field],
        batches: Iterable[Sequence[Sequence[Any]]],
        **options: Any,
    ) -> ResultStream:
        """Shorthand for ``self.writer(fields, batches, **options)``."""
        return self.writer(fields, batches, **options)


def _votable(name: str, mime: str, serialization: str) -> OutputFormat:
    return OutputFormat(
        name,
        mime,
        partial(votable_stream, serialization=serialization),
        serialization=serialization,
    )


_BINARY2 = ("binary2", "b2")
_TABLEDATA = ("tabledata", "td")

_SHORT_NAMES: dict[str, OutputFormat] = {
    "votable": _votable("votable", VOTABLE_MIME, "binary2"),
    **dict.fromkeys(
        ("votable/b2", "votableb2", "binary2", "votable/binary2"),
        _votable("votable", f"{VOTABLE_MIME};serialization=BINARY2", "binary2"),
    ),
    **dict.fromkeys(
        ("votable/td", "votabletd", "tabledata", "votable/tabledata"),
        _votable("votable/td", f"{VOTABLE_MIME};serialization=TABLEDATA", "tabledata"),
    ),
    "csv": OutputFormat("csv", "text/csv;header=present", csv_stream, "csv", False),
    "tsv": OutputFormat("tsv", "text/tab-separated-values", tsv_stream, "tsv", False),
    "json": OutputFormat("json", "application/json", json_stream, "json", False),
}

_VOTABLE_MIMES = (VOTABLE_MIME, "text/xml", "application/xml")

#: Every accepted spelling (for messages and docs); MIME parameters as in the table above.
ACCEPTED: tuple[str, ...] = (
    *_SHORT_NAMES,
    VOTABLE_MIME,
    f"{VOTABLE_MIME};serialization=BINARY2",
    f"{VOTABLE_MIME};serialization=TABLEDATA",
    "text/xml",
    "application/xml",
    "text/csv",
    "text/csv;header=present",
    "text/csv;header=absent",
    "text/tab-separated-values",
    "application/json",
)

DEFAULT_FORMAT = _SHORT_NAMES["votable"]


def _unsupported(value: str) -> ValueError:
    return ValueError(
        f"unsupported RESPONSEFORMAT {value!r}; accepted values: {', '.join(ACCEPTED)}"
    )


def _parse_mime(value: str) -> tuple[str, dict[str, str]]:
    mime, *rest = value.split(";")
    params: dict[str, str] = {}
    for item in rest:
        key, sep, val = item.partition("=")
        if not sep:
            continue
        params[key.strip().lower()] = val.strip().strip('"').lower()
    return mime.strip().lower(), params


def resolve_format(value: str | None) -> OutputFormat:
    """The output format for a RESPONSEFORMAT/FORMAT value.

    Parameters
    ----------
    value:
        A MIME type (with optional ``serialization``/``header`` parameter) or a short
        name, case-insensitive; ``None`` or blank selects VOTable BINARY2.

    Raises
    ------
    ValueError
        For anything else; the message lists the accepted values.
    """
    if value is None or not value.strip():
        return DEFAULT_FORMAT
    key = value.strip().lower()
    if key in _SHORT_NAMES:
        return _SHORT_NAMES[key]
    mime, params = _parse_mime(key)
    if mime in _VOTABLE_MIMES:
        serialization = params.get("serialization")
        if serialization is None:
            return _votable("votable", mime, "binary2")
        if serialization in _BINARY2:
            return _votable("votable", f"{mime};serialization=BINARY2", "binary2")
        if serialization in _TABLEDATA:
            return _votable("votable/td", f"{mime};serialization=TABLEDATA", "tabledata")
        raise _unsupported(value)
    if mime == "text/csv":
        header = params.get("header", "present")
        if header == "present":
            return _SHORT_NAMES["csv"]
        if header == "absent":
            return OutputFormat(
                "csv",
                "text/csv;header=absent",
                partial(csv_stream, header=False),
                "csv",
                False,
            )
        raise _unsupported(value)
    if mime == "text/tab-separated-values":
        return _SHORT_NAMES["tsv"]
    if mime == "application/json":
        return _SHORT_NAMES["json"]
    raise _unsupported(value)
