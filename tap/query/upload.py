"""TAP_UPLOAD: user VOTables (inline ``param:`` parts or http(s) URLs) as temporary tables.

Each uploaded table becomes ``TAP_UPLOAD.<name>`` in ADQL and a temporary table
``pg_temp.tap_upload_<name>`` in PostgreSQL, created in the query's own transaction
and dropped at its end. Column names are the FIELD names, exactly.

One request stays within a budget: at most ``upload_tables`` tables, ``upload_bytes``
bytes and ``upload_rows`` rows for all its uploads together. URLs are fetched by
:mod:`tap.query.fetch_url` (no internal addresses, bounded time). Rows are not turned
into a Python list: :class:`UploadRows` hands them to PostgreSQL's COPY one at a time
from the parsed table's arrays.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from provdb.votable.fields import Field
from tap.config import TapConfig
from tap.errors import UsageError
from tap.query.execute import UploadTable
from tap.query.fetch_url import FetchPolicy, FetchRefused, fetch_url, parse_allow_list

__all__ = ["UploadRows", "fetch_policy", "load_uploads", "read_votable", "sql_table_name"]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# VOTable datatype -> PostgreSQL type for scalars
_PG = {
    "boolean": "boolean",
    "bit": "boolean",
    "unsignedByte": "smallint",
    "short": "smallint",
    "int": "integer",
    "long": "bigint",
    "float": "real",
    "double": "double precision",
}


def sql_table_name(name: str) -> str:
    """PostgreSQL name of the temporary table holding upload ``name``."""
    return f"tap_upload_{name.lower()}"


def fetch_policy(config: TapConfig, max_bytes: int) -> FetchPolicy:
    """The URL fetch rules of ``config`` for a fetch of at most ``max_bytes`` bytes."""
    hosts, networks = parse_allow_list(config.upload_allow)
    return FetchPolicy(
        max_bytes=max_bytes,
        connect_timeout=min(10.0, float(config.upload_timeout)),
        total_timeout=float(config.upload_timeout),
        allow_hosts=hosts,
        allow_networks=networks,
    )


def _too_large(uri: str, config: TapConfig) -> UsageError:
    return UsageError(
        f"UPLOAD {uri}: the uploads of one request may have {config.upload_bytes} bytes "
        "in total (PROVDB_TAP_UPLOAD_BYTES)"
    )


def _fetch(uri: str, files: Mapping[str, Any], limit: int, config: TapConfig) -> bytes:
    if uri.startswith("param:"):
        part = uri[len("param:") :]
        storage = files.get(part)
        if storage is None:
            raise UsageError(f"UPLOAD refers to {uri!r} but the request has no part {part!r}")
        if isinstance(storage, Path):  # an async job's saved part
            with storage.open("rb") as fh:
                data = fh.read(limit + 1)
        elif hasattr(storage, "read"):
            data = storage.read(limit + 1)
        else:
            data = bytes(storage)
    elif uri.lower().startswith(("http://", "https://")):
        if not config.upload_urls:
            raise UsageError(
                f"UPLOAD {uri}: this service does not fetch URLs (PROVDB_TAP_UPLOAD_URLS=0); "
                "send the table inline as param:<part>"
            )
        try:
            data = fetch_url(uri, fetch_policy(config, limit))
        except FetchRefused as exc:
            if "PROVDB_TAP_UPLOAD_BYTES" in str(exc):
                raise _too_large(uri, config) from None
            raise UsageError(str(exc)) from None
    else:
        raise UsageError(f"UPLOAD URI {uri!r}: use param:<part> or an http(s) URL")
    if len(data) > limit:
        raise _too_large(uri, config)
    return data


def _value(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, float) and v != v:
        return None
    return v


def _column_values(data: Any, mask: Any) -> list[Any]:
    """Python values of one column chunk: masked cells, NaN -> None, bytes -> str."""
    values = data.tolist()
    kind = data.dtype.kind
    if kind in "fc" or kind in "SOV" or mask.any():
        masked = mask.tolist()
        values = [None if m else _value(v) for v, m in zip(values, masked, strict=True)]
    return values


def read_votable(data: bytes, name: str) -> tuple[list[Field], list[tuple[str, str]], UploadRows]:
    """Fields, PostgreSQL column definitions and rows of the first table of a VOTable."""
    from astropy.io.votable import parse

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = parse(io.BytesIO(data), verify="ignore").get_first_table()
    except Exception as exc:
        raise UsageError(f"UPLOAD {name}: not a readable VOTable ({exc})") from None
    fields, columns = [], []
    for f in table.fields:
        arraysize = f.arraysize
        if f.datatype in ("char", "unicodeChar"):
            pgtype = "timestamp" if f.xtype == "timestamp" else "text"
        elif arraysize in (None, "1"):
            pgtype = _PG.get(f.datatype, "")
        else:
            pgtype = ""
        if not pgtype:
            raise UsageError(
                f"UPLOAD {name}: column {f.name!r} ({f.datatype}"
                f"[{arraysize}]) has a type this service cannot store"
            )
        fields.append(
            Field(
                name=f.name,
                datatype=f.datatype,
                # arraysize "1" is deprecated (VOTable 1.3 erratum 3): a single
                # character has no arraysize
                arraysize=arraysize
                if f.datatype in ("char", "unicodeChar") and arraysize != "1"
                else None,
                xtype=f.xtype,
                ucd=f.ucd,
                unit=str(f.unit) if f.unit else None,
                utype=f.utype,
                description=f.description,
            )
        )
        columns.append((f.name, pgtype))
    return fields, columns, UploadRows(table.array, [f.name for f in table.fields])


class UploadRows:
    """The rows of a parsed VOTable, made one at a time (for COPY) from its arrays.

    A list of tuples would hold every value as a Python object, several times the size of
    the arrays; this keeps one chunk of ``CHUNK`` rows alive at a time (numpy's
    ``tolist`` converts a chunk at C speed). Iterable more than once.
    """

    CHUNK = 10_000

    def __init__(self, array: Any, names: Sequence[str]) -> None:
        import numpy as np

        self._columns = [
            (np.ma.getdata(array[name]), np.ma.getmaskarray(array[name])) for name in names
        ]
        self._n = len(array)

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[tuple]:
        for start in range(0, self._n, self.CHUNK):
            stop = start + self.CHUNK
            cells = [
                _column_values(data[start:stop], mask[start:stop]) for data, mask in self._columns
            ]
            yield from zip(*cells, strict=True)


def load_uploads(
    uploads: Sequence[tuple[str, str]], files: Mapping[str, Any], config: TapConfig
) -> tuple[list[UploadTable], dict[str, list[Field]]]:
    """Fetch and parse every UPLOAD; returns the temporary tables and their fields.

    Raises
    ------
    UsageError
        A bad name or URI, a refused URL, an unreadable VOTable, or more tables, bytes or
        rows than one request may upload (the message names the setting).
    """
    tables: list[UploadTable] = []
    fields_by_name: dict[str, list[Field]] = {}
    if len(uploads) > config.upload_tables:
        raise UsageError(
            f"{len(uploads)} UPLOAD tables in one request; at most {config.upload_tables} "
            "(PROVDB_TAP_UPLOAD_TABLES)"
        )
    bytes_left = config.upload_bytes
    rows_left = config.upload_rows
    for name, uri in uploads:
        if not _NAME.match(name):
            raise UsageError(f"UPLOAD table name {name!r} is not an ADQL regular identifier")
        if name.lower() in {n.lower() for n in fields_by_name}:
            raise UsageError(f"UPLOAD table name {name!r} given twice")
        data = _fetch(uri, files, bytes_left, config)
        bytes_left -= len(data)
        fields, columns, rows = read_votable(data, name)
        del data  # the parsed arrays are all that is needed now
        rows_left -= len(rows)
        if rows_left < 0:
            raise UsageError(
                f"UPLOAD {name}: the uploads of one request may have {config.upload_rows} "
                "rows in total (PROVDB_TAP_UPLOAD_ROWS)"
            )
        tables.append(UploadTable(sql_name=sql_table_name(name), columns=columns, rows=rows))
        fields_by_name[name] = fields
    return tables, fields_by_name
