"""TAP_UPLOAD: user VOTables (inline ``param:`` parts or http(s) URLs) as temporary tables.

Each uploaded table becomes ``TAP_UPLOAD.<name>`` in ADQL and a temporary table
``pg_temp.tap_upload_<name>`` in PostgreSQL, created in the query's own transaction
and dropped at its end. Column names are the FIELD names, exactly.
"""

from __future__ import annotations

import io
import re
import urllib.request
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from provdb.votable.fields import Field
from tap.config import TapConfig
from tap.errors import UsageError
from tap.query.execute import UploadTable

__all__ = ["load_uploads", "read_votable", "sql_table_name"]

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


def _fetch(uri: str, files: Mapping[str, Any], limit: int) -> bytes:
    if uri.startswith("param:"):
        part = uri[len("param:") :]
        storage = files.get(part)
        if storage is None:
            raise UsageError(f"UPLOAD refers to {uri!r} but the request has no part {part!r}")
        data = storage.read(limit + 1) if hasattr(storage, "read") else bytes(storage)
    elif uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri, timeout=30) as resp:
                data = resp.read(limit + 1)
        except OSError as exc:
            raise UsageError(f"cannot fetch UPLOAD {uri}: {exc}") from None
    else:
        raise UsageError(f"UPLOAD URI {uri!r}: use param:<part> or an http(s) URL")
    if len(data) > limit:
        raise UsageError(f"UPLOAD {uri} is larger than the limit of {limit} bytes")
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


def read_votable(data: bytes, name: str) -> tuple[list[Field], list[tuple[str, str]], list[tuple]]:
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
    import numpy as np

    array = table.array
    columns_data = []
    for f in table.fields:
        col = array[f.name]
        mask = np.ma.getmaskarray(col)
        data = np.ma.getdata(col)
        columns_data.append((data, mask))
    rows = [
        tuple(None if mask[i] else _value(data[i]) for data, mask in columns_data)
        for i in range(len(array))
    ]
    return fields, columns, rows


def load_uploads(
    uploads: Sequence[tuple[str, str]], files: Mapping[str, Any], config: TapConfig
) -> tuple[list[UploadTable], dict[str, list[Field]]]:
    """Fetch and parse every UPLOAD; returns the temporary tables and their fields."""
    tables: list[UploadTable] = []
    fields_by_name: dict[str, list[Field]] = {}
    for name, uri in uploads:
        if not _NAME.match(name):
            raise UsageError(f"UPLOAD table name {name!r} is not an ADQL regular identifier")
        if name.lower() in {n.lower() for n in fields_by_name}:
            raise UsageError(f"UPLOAD table name {name!r} given twice")
        data = _fetch(uri, files, config.upload_bytes)
        fields, columns, rows = read_votable(data, name)
        tables.append(UploadTable(sql_name=sql_table_name(name), columns=columns, rows=rows))
        fields_by_name[name] = fields
    return tables, fields_by_name
