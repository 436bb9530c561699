"""VOTable 1.4 result documents, streamed; and the TAP error document.

Skeleton (see ``ivoa-standards.md`` §4.4)::

    <VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
     <RESOURCE type="results">
      <INFO name="QUERY_STATUS" value="OK"/>
      <INFO name="standardID" value="ivo://ivoa.net/std/TAP"/>
      <INFO name="QUERY" value="..."/>                 (optional)
      <TABLE> <FIELD .../>... <DATA>rows</DATA> </TABLE>
      <INFO name="QUERY_STATUS" value="OVERFLOW"/>     (truncated at MAXREC)
      <INFO name="QUERY_STATUS" value="ERROR">..</INFO> (failed while streaming)
     </RESOURCE>
    </VOTABLE>

pyvo takes the last QUERY_STATUS of the results resource, so the trailing INFO decides.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from provdb.votable.fields import Field
from provdb.votable.tabledata import TabledataRows
from provdb.votable.values import xml_attr, xml_text

from .binary2 import Base64Chunker, Binary2Rows
from .stream import ErrorMessage, ResultStream, StreamResult

__all__ = [
    "SERIALIZATIONS",
    "VOTABLE_NAMESPACE",
    "VOTABLE_VERSION",
    "VOTableEncoder",
    "error_document",
    "votable_stream",
]

VOTABLE_VERSION = "1.4"
VOTABLE_NAMESPACE = "http://www.ivoa.net/xml/VOTable/v1.3"
TAP_STANDARD_ID = "ivo://ivoa.net/std/TAP"
SERIALIZATIONS = ("binary2", "tabledata")

Info = tuple[str, str, str | None]

_PROLOGUE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<VOTABLE version="{VOTABLE_VERSION}" xmlns="{VOTABLE_NAMESPACE}">\n'
    '<RESOURCE type="results">\n'
)
_EPILOGUE = "</RESOURCE>\n</VOTABLE>\n"


def _info(name: str, value: str, content: str | None = None) -> str:
    start = f'<INFO name="{xml_attr(name)}" value="{xml_attr(value)}"'
    if content is None:
        return start + "/>\n"
    return f"{start}>{xml_text(content)}</INFO>\n"


def _infos(infos: Sequence[Info], query: str | None) -> str:
    parts = [_info("standardID", TAP_STANDARD_ID)]
    if query is not None:
        parts.append(_info("QUERY", query))
    for info in infos:
        name, value, content = info
        parts.append(_info(name, value, content))
    return "".join(parts)


#: XML ID given to the FIELD that the DataLink service descriptor refers to, when its
#: name cannot be used (astropy names columns by ID: the column's name is kept if it can)
DATALINK_FIELD_ID = "datalink_id"


def datalink_field_id(field: Field) -> str:
    """The XML ID of the FIELD the DataLink descriptor refers to: its name if that is an
    XML name (astropy then keeps the column name), else :data:`DATALINK_FIELD_ID`."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", field.name) and field.name != "datalink":
        return field.name
    return DATALINK_FIELD_ID


def datalink_column(fields: Sequence[Field]) -> int | None:
    """The column holding product ids that DataLink resolves, if any: an ObsCore
    ``obs_publisher_did`` (UCD ``meta.ref.ivoid``), else an entity id (utype
    ``voprov:Entity.id``, or a column named ``entity_id``)."""
    for test in (
        lambda f: f.name.lower() == "obs_publisher_did" or f.ucd == "meta.ref.ivoid",
        lambda f: (f.utype or "").lower() == "voprov:entity.id",
        lambda f: f.name.lower() == "entity_id" and (f.ucd or "").startswith("meta.id"),
    ):
        for index, field in enumerate(fields):
            if field.datatype in ("char", "unicodeChar") and test(field):
                return index
    return None


def _field(field: Field, xml_id: str | None = None) -> str:
    attrs = [f'name="{xml_attr(field.name)}"', f'datatype="{xml_attr(field.datatype)}"']
    if xml_id is not None:
        attrs.append(f'ID="{xml_id}"')
    for attr in ("arraysize", "xtype", "ucd", "unit", "utype"):
        value = getattr(field, attr)
        if value is not None:
            attrs.append(f'{attr}="{xml_attr(value)}"')
    start = "<FIELD " + " ".join(attrs)
    if field.description is None:
        return start + "/>\n"
    return f"{start}>\n  <DESCRIPTION>{xml_text(field.description)}</DESCRIPTION>\n</FIELD>\n"


@functools.lru_cache(maxsize=256)
def _table_head(fields: tuple[Field, ...], datalink: str | None) -> tuple[str, str]:
    """The FIELD elements of ``fields`` and the DataLink service descriptor that goes
    with them (``""`` without one), for a ``{links}`` URL or None.

    Built once per field list and URL: writing 14 FIELDs costs ~150 us, more than the
    rest of a one-row result document, and every query of one shape has the same
    fields. Bounded (the URL follows the request's Host when no base URL is set).
    """
    link_column = datalink_column(fields) if datalink else None
    descriptor = ""
    if link_column is not None and datalink:
        from tap.datalink.document import datalink_descriptor

        descriptor = datalink_descriptor(datalink, datalink_field_id(fields[link_column]))
    fields_xml = "".join(
        _field(f, datalink_field_id(f) if i == link_column else None) for i, f in enumerate(fields)
    )
    return fields_xml, descriptor


class VOTableEncoder:
    """The :class:`~tap.votable.stream.Encoder` of a VOTable result document.

    Parameters
    ----------
    fields:
        The result columns.
    serialization:
        ``"binary2"`` (default) or ``"tabledata"``.
    infos:
        Extra ``(name, value, text)`` INFOs placed before the TABLE.
    query:
        The query, echoed as ``<INFO name="QUERY">``.
    row_encoder:
        BINARY2 only: ``row_encoder(rows) -> bytes`` replaces the Python row encoder, for
        rows that arrive already encoded (see :mod:`tap.votable.binary2_sql`).
    datalink:
        URL of the DataLink ``{links}`` endpoint: if a column holds product ids
        (:func:`datalink_column`), a DataLink service descriptor referring to it
        follows the results RESOURCE.
    """

    def __init__(
        self,
        fields: Sequence[Field],
        *,
        serialization: str = "binary2",
        infos: Sequence[Info] = (),
        query: str | None = None,
        row_encoder: Callable[[Sequence[Sequence[Any]]], bytes] | None = None,
        datalink: str | None = None,
    ) -> None:
        serialization = serialization.lower()
        if serialization not in SERIALIZATIONS:
            raise ValueError(
                f"unknown VOTable serialization {serialization!r};"
                f" expected one of {', '.join(SERIALIZATIONS)}"
            )
        self.serialization = serialization
        self._binary = serialization == "binary2"
        if row_encoder is not None and not self._binary:
            raise ValueError("row_encoder is for the binary2 serialization only")
        if self._binary:
            self._encode = row_encoder or Binary2Rows(fields).encode
            self._base64 = Base64Chunker()
            data_start = '<DATA><BINARY2><STREAM encoding="base64">\n'
            self._data_end = "</STREAM></BINARY2></DATA>\n"
        else:
            self._tabledata = TabledataRows(fields)
            data_start = "<DATA><TABLEDATA>\n"
            self._data_end = "</TABLEDATA></DATA>\n"
        # fields are hashable (frozen): the row writers cache by them as well
        fields_xml, self._descriptor = _table_head(tuple(fields), datalink)
        self._header = (
            _PROLOGUE
            + _info("QUERY_STATUS", "OK")
            + _infos(infos, query)
            + "<TABLE>\n"
            + fields_xml
            + data_start
        ).encode("utf-8")

    def header(self) -> bytes:
        return self._header

    def rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        if self._binary:
            return self._base64.feed(self._encode(rows))
        return self._tabledata.encode(rows)

    def footer(self, result: StreamResult) -> bytes:
        parts = []
        if self._binary:
            parts.append(self._base64.flush().decode("ascii"))
        parts.append(self._data_end)
        parts.append("</TABLE>\n")
        if result.error is not None:
            parts.append(_info("QUERY_STATUS", "ERROR", result.error_message or "error"))
        elif result.overflow:
            parts.append(_info("QUERY_STATUS", "OVERFLOW"))
        parts.append("</RESOURCE>\n" + self._descriptor + "</VOTABLE>\n")
        return "".join(parts).encode("utf-8")


def votable_stream(
    fields: Sequence[Field],
    batches: Iterable[Sequence[Sequence[Any]]],
    *,
    serialization: str = "binary2",
    overflow_after: int | None = None,
    infos: Sequence[Info] = (),
    query: str | None = None,
    error_message: ErrorMessage | None = None,
    row_encoder: Callable[[Sequence[Sequence[Any]]], bytes] | None = None,
    datalink: str | None = None,
) -> ResultStream:
    """Stream a query result as a VOTable 1.4 document.

    Parameters
    ----------
    fields:
        The result columns, in SELECT order.
    batches:
        Row batches (sequences of tuples), e.g. from ``cursor.fetchmany``; send up to
        MAXREC+1 rows so that the overflow can be seen.
    serialization:
        ``"binary2"`` (default) or ``"tabledata"``.
    overflow_after:
        MAXREC: at most this many rows are written; if another row arrives, reading stops
        and a trailing ``QUERY_STATUS=OVERFLOW`` INFO is written. ``0`` writes the FIELDs
        only (plus OVERFLOW if any row exists). ``None``: no limit.
    infos:
        Extra ``(name, value, text)`` INFOs before the TABLE (``text`` may be ``None``).
    query:
        Echoed in ``<INFO name="QUERY">``.
    error_message:
        Turns an exception raised by ``batches`` into the trailing ERROR INFO's text
        (default: the exception's message).
    row_encoder:
        BINARY2 only: encodes a batch of pre-encoded rows (see :class:`VOTableEncoder`).
    datalink:
        The DataLink ``{links}`` URL (see :class:`VOTableEncoder`).

    Returns
    -------
    ResultStream
        An iterator of ``bytes`` chunks. An exception from ``batches`` ends the document
        well-formed with ``<INFO name="QUERY_STATUS" value="ERROR">`` after the TABLE and
        is not re-raised: ``stream.result`` (``rows``, ``overflow``, ``error``) tells.

    Raises
    ------
    ValueError
        For an unknown serialization or a field the writers cannot encode (at call time).
    """
    encoder = VOTableEncoder(
        fields,
        serialization=serialization,
        infos=infos,
        query=query,
        row_encoder=row_encoder,
        datalink=datalink,
    )
    return ResultStream(
        encoder, batches, overflow_after=overflow_after, error_message=error_message
    )


def error_document(message: str, *, query: str | None = None, infos: Sequence[Info] = ()) -> bytes:
    """The TAP/DALI error VOTable: a results RESOURCE with ``QUERY_STATUS=ERROR``, no TABLE.

    Parameters
    ----------
    message:
        Human-readable text of the INFO (XML-escaped here).
    query:
        Echoed in ``<INFO name="QUERY">`` when given.
    infos:
        Extra ``(name, value, text)`` INFOs.
    """
    return (
        _PROLOGUE + _info("QUERY_STATUS", "ERROR", message) + _infos(infos, query) + _EPILOGUE
    ).encode("utf-8")
