"""Streaming writers for query results: VOTable (TABLEDATA, BINARY2), CSV, TSV, JSON.

Pure generators: no web framework, no database. Each writer takes the result's
:class:`Field` list and an iterable of row batches and returns a :class:`ResultStream`,
an iterator of ``bytes`` chunks whose :attr:`ResultStream.result` reports the rows
written, the overflow (MAXREC) and any error that ended the stream.
"""

from provdb.votable.fields import Field
from provdb.votable.values import format_timestamp

from .document import VOTABLE_NAMESPACE, VOTABLE_VERSION, error_document, votable_stream
from .stream import ResultStream, StreamResult
from .textformats import csv_stream, json_stream, tsv_stream

__all__ = [
    "VOTABLE_NAMESPACE",
    "VOTABLE_VERSION",
    "Field",
    "ResultStream",
    "StreamResult",
    "csv_stream",
    "error_document",
    "format_timestamp",
    "json_stream",
    "tsv_stream",
    "votable_stream",
]
