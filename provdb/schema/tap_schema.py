"""TAP_SCHEMA: its tables, and its rows derived from the SQLAlchemy metadata.

The archive's tables carry their descriptions, UCDs, utypes and units in the models
(:mod:`provdb.schema.base`); this module turns that single source into TAP_SCHEMA rows
(``tap_schema_rows``) and writes them (``refresh``), which ``provdb db upgrade`` does
after every migration. Nothing here is maintained by hand, so TAP_SCHEMA, VOSI
``/tables`` and the VOTable FIELDs of query results cannot drift apart.

Published: ``ivoa.obscore``; every table of schema ``provenance``; from schema ``archive``
the execution context (``session``, ``environment``), the ingest bookkeeping (files
read, rejected lines with their raw bytes and a safe text form, conflicting values) and
the views; and TAP_SCHEMA itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped

from provdb.schema.base import ARCHIVE, PROVENANCE, Base, tap_column
from provdb.schema.bookkeeping import INGEST_FILE_AGE_VIEW
from provdb.schema.obscore import IVOA
from provdb.schema.software import PRODUCT_VERSION_VIEW

__all__ = [
    "PUBLISHED_ARCHIVE_TABLES",
    "TAP_SCHEMA",
    "VIEWS",
    "refresh",
    "tap_schema_rows",
    "votable_type",
]

TAP_SCHEMA = "tap_schema"

#: archive tables published through TAP (besides all of schema ``provenance``)
PUBLISHED_ARCHIVE_TABLES = (
    "processing_session",
    "environment",
    "lineage",
    "lineage_edge",
    "software",
    "product_flag",
    "entity_hash",
    "ingest_file",
    "ingest_reject",
    "ingest_conflict",
    "activity_source",
)


def _std(type_: Any, description: str, *, nullable: bool | None = None, **kw: Any) -> Any:
    """A column of TAP_SCHEMA itself (flagged std: defined by the TAP standard)."""
    if nullable is None:
        nullable = not kw.get("primary_key", False)
    info_kw = {k: kw.pop(k) for k in ("ucd", "utype", "unit") if k in kw}
    col = tap_column(type_, nullable=nullable, description=description, **info_kw, **kw)
    col.column.info["std"] = True
    return col


class TapSchemas(Base):
    __tablename__ = "schemas"
    __table_args__ = {"schema": TAP_SCHEMA, "comment": "Schemas published by this service"}

    schema_name: Mapped[str] = _std(
        sa.Text, "Schema name, as used in queries", primary_key=True, ucd="meta.id", principal=True
    )
    utype: Mapped[str | None] = _std(sa.Text, "Utype of the schema")
    description: Mapped[str | None] = _std(sa.Text, "Description of the schema")
    schema_index: Mapped[int | None] = _std(sa.Integer, "Recommended display order")


class TapTables(Base):
    __tablename__ = "tables"
    __table_args__ = {"schema": TAP_SCHEMA, "comment": "Tables published by this service"}

    schema_name: Mapped[str] = _std(
        sa.Text, "Schema the table belongs to", nullable=False, ucd="meta.id"
    )
    table_name: Mapped[str] = _std(
        sa.Text,
        "Fully qualified table name, as used in queries",
        primary_key=True,
        ucd="meta.id;meta.main",
        principal=True,
    )
    table_type: Mapped[str] = _std(sa.Text, "'table' or 'view'", nullable=False, ucd="meta.code")
    utype: Mapped[str | None] = _std(sa.Text, "Utype of the table")
    description: Mapped[str | None] = _std(sa.Text, "Description of the table")
    table_index: Mapped[int | None] = _std(sa.Integer, "Recommended display order")


class TapColumns(Base):
    __tablename__ = "columns"
    __table_args__ = {"schema": TAP_SCHEMA, "comment": "Columns of the published tables"}

    table_name: Mapped[str] = _std(
        sa.Text, "Table the column belongs to", primary_key=True, ucd="meta.id"
    )
    column_name: Mapped[str] = _std(
        sa.Text,
        "Column name, as used in queries",
        primary_key=True,
        ucd="meta.id;meta.main",
        principal=True,
    )
    datatype: Mapped[str] = _std(sa.Text, "VOTable datatype", nullable=False, ucd="meta.code")
    arraysize: Mapped[str | None] = _std(sa.Text, "VOTable arraysize", ucd="meta.code")
    xtype: Mapped[str | None] = _std(sa.Text, "VOTable xtype", ucd="meta.code")
    size: Mapped[int | None] = _std(sa.Integer, "Length of fixed-size arrays (deprecated)")
    description: Mapped[str | None] = _std(sa.Text, "Description of the column")
    utype: Mapped[str | None] = _std(sa.Text, "Utype of the column")
    unit: Mapped[str | None] = _std(sa.Text, "Unit (VOUnit)", ucd="meta.unit")
    ucd: Mapped[str | None] = _std(sa.Text, "UCD of the column", ucd="meta.ucd")
    indexed: Mapped[int] = _std(sa.Integer, "1 if the column is indexed", nullable=False)
    principal: Mapped[int] = _std(sa.Integer, "1 if the column is of main interest", nullable=False)
    std: Mapped[int] = _std(sa.Integer, "1 if the column is defined by a standard", nullable=False)
    column_index: Mapped[int | None] = _std(sa.Integer, "Recommended display order")


class TapKeys(Base):
    __tablename__ = "keys"
    __table_args__ = {"schema": TAP_SCHEMA, "comment": "Foreign keys between published tables"}

    key_id: Mapped[str] = _std(sa.Text, "Key identifier", primary_key=True, ucd="meta.id")
    from_table: Mapped[str] = _std(
        sa.Text, "Table holding the foreign key", nullable=False, ucd="meta.id"
    )
    target_table: Mapped[str] = _std(
        sa.Text, "Table the key points to", nullable=False, ucd="meta.id"
    )
    description: Mapped[str | None] = _std(sa.Text, "Description of the key")
    utype: Mapped[str | None] = _std(sa.Text, "Utype of the key")


class TapKeyColumns(Base):
    __tablename__ = "key_columns"
    __table_args__ = {"schema": TAP_SCHEMA, "comment": "Columns of the foreign keys"}

    key_id: Mapped[str] = _std(sa.Text, "Key identifier", primary_key=True, ucd="meta.id")
    from_column: Mapped[str] = _std(
        sa.Text, "Column in from_table", primary_key=True, ucd="meta.id"
    )
    target_column: Mapped[str] = _std(
        sa.Text, "Column in target_table", nullable=False, ucd="meta.id"
    )


# TAP 1.1's own TAP_SCHEMA foreign keys (declared, and enforced below by constraints)
_TAP_SCHEMA_KEYS = (
    ("tables_schema_name", "tables", "schema_name", "schemas", "schema_name"),
    ("columns_table_name", "columns", "table_name", "tables", "table_name"),
    ("keys_from_table", "keys", "from_table", "tables", "table_name"),
    ("keys_target_table", "keys", "target_table", "tables", "table_name"),
    ("key_columns_key_id", "key_columns", "key_id", "keys", "key_id"),
)
for _name, _src, _col, _dst, _dcol in _TAP_SCHEMA_KEYS:
    Base.metadata.tables[f"{TAP_SCHEMA}.{_src}"].append_constraint(
        sa.ForeignKeyConstraint(
            [_col], [f"{TAP_SCHEMA}.{_dst}.{_dcol}"], name=f"fk_{_src}_{_col}", ondelete="CASCADE"
        )
    )


# ----------------------------------------------------------------------------- views

_VIEW_META = sa.MetaData()


def _view(name: str, comment: str, *columns: tuple[str, Any, str, dict[str, Any]]) -> sa.Table:
    cols = [
        sa.Column(cname, ctype, comment=desc, info={"principal": False, **extra})
        for cname, ctype, desc, extra in columns
    ]
    return sa.Table(
        name, _VIEW_META, *cols, schema=ARCHIVE, comment=comment, info={"is_view": True}
    )


_T = sa.Text
_TS = sa.DateTime()
#: The run-level views (migration 0002), described for TAP like the tables.
VIEWS = (
    _view(
        "run_activity",
        "lstosa activities with their run and step group (calibration, r0_to_dl1, "
        "dl1_to_dl2); a night's calibration activities belong to each of its runs",
        (
            "run_id",
            _T,
            "Run identifier '<YYYYMMDD>_<run>'",
            {"ucd": "meta.id;obs", "principal": True},
        ),
        ("observation_date", _T, "Observation date (YYYYMMDD)", {"ucd": "time.epoch;obs"}),
        ("observation_run", _T, "Observation run number", {"ucd": "meta.id;obs"}),
        (
            "step_group",
            _T,
            "calibration, r0_to_dl1 or dl1_to_dl2",
            {"ucd": "meta.code.class", "principal": True},
        ),
        ("activity_id", _T, "The activity (provenance.activity.id)", {"ucd": "meta.id"}),
        ("activity_name", _T, "Name of the activity", {"ucd": "meta.title"}),
        (
            "software_version",
            _T,
            "Software version of the activity's session",
            {"ucd": "meta.version"},
        ),
        (
            "session_id",
            _T,
            "The activity's session (archive.processing_session.id)",
            {"ucd": "meta.id.assoc"},
        ),
        ("start_time", _TS, "Start of the activity (UTC)", {"ucd": "time.start"}),
        ("end_time", _TS, "End of the activity (UTC)", {"ucd": "time.end"}),
    ),
    _view(
        "run_step",
        "One row per run and step group (and 'all'): the run-level view of lstosa's subrun "
        "activities, with deterministic ids '<date>_<run>:<group>'",
        (
            "run_step_id",
            _T,
            "'<YYYYMMDD>_<run>:<step group>'",
            {"ucd": "meta.id;meta.main", "principal": True},
        ),
        ("run_id", _T, "Run identifier '<YYYYMMDD>_<run>'", {"ucd": "meta.id;obs"}),
        ("observation_date", _T, "Observation date (YYYYMMDD)", {"ucd": "time.epoch;obs"}),
        ("observation_run", _T, "Observation run number", {"ucd": "meta.id;obs"}),
        ("step_group", _T, "calibration, r0_to_dl1, dl1_to_dl2 or all", {"ucd": "meta.code.class"}),
        ("n_activities", sa.BigInteger, "Number of (subrun) activities", {"ucd": "meta.number"}),
        ("start_time", _TS, "First start (UTC)", {"ucd": "time.start"}),
        ("end_time", _TS, "Last end (UTC)", {"ucd": "time.end"}),
        (
            "software_versions",
            _T,
            "Software versions used, comma-separated",
            {"ucd": "meta.version"},
        ),
    ),
    _view(
        "run_entity",
        "Files used, generated or derived from by each run step",
        ("run_step_id", _T, "The run step (archive.run_step.run_step_id)", {"ucd": "meta.id"}),
        ("run_id", _T, "Run identifier '<YYYYMMDD>_<run>'", {"ucd": "meta.id;obs"}),
        ("step_group", _T, "calibration, r0_to_dl1, dl1_to_dl2 or all", {"ucd": "meta.code.class"}),
        (
            "entity_id",
            _T,
            "The entity (provenance.entity.id)",
            {"ucd": "meta.id", "principal": True},
        ),
        ("relation", _T, "used, generated or progenitor", {"ucd": "meta.code"}),
        ("role", _T, "Role of the entity in the relation", {"ucd": "meta.code.class"}),
        ("entity_name", _T, "Name of the entity (kind of file)", {"ucd": "meta.title"}),
        ("location", _T, "Path of the file", {"ucd": "meta.ref", "principal": True}),
        (
            "subrun_level",
            sa.Integer,
            "1 for subrun files (lstosa's provprocess drops them), else 0",
            {"ucd": "meta.code"},
        ),
    ),
    PRODUCT_VERSION_VIEW,
    INGEST_FILE_AGE_VIEW,
)


# ----------------------------------------------------------------------------- types


def votable_type(column: sa.Column) -> tuple[str, str | None, str | None]:
    """VOTable (datatype, arraysize, xtype) of a column.

    Identifiers and codes are ``char`` (ASCII, and FK sources and targets must agree);
    other text is ``unicodeChar`` so that non-ASCII names and paths survive.
    """
    t = column.type
    ucd = (column.info.get("ucd") or "") if column.info else ""
    if isinstance(t, sa.Boolean):
        return "boolean", None, None
    if isinstance(t, sa.SmallInteger):
        return "short", None, None
    if isinstance(t, sa.BigInteger):
        return "long", None, None
    if isinstance(t, sa.Integer):
        return "int", None, None
    if isinstance(t, sa.Double | sa.Float | sa.Numeric):
        return "double", None, None
    if isinstance(t, sa.DateTime | sa.Date):
        return "char", "*", "timestamp"
    if isinstance(t, sa.LargeBinary):
        return "unsignedByte", "*", None
    # text and JSON
    if column.info.get("std") or ucd.startswith(
        (
            "meta.id",
            "meta.code",
            "meta.ucd",
            "meta.unit",
            "meta.version",
            "meta.email",
            "time",
            "meta.number",
        )
    ):
        return "char", "*", None
    return "unicodeChar", "*", None


# ----------------------------------------------------------------------------- rows

#: ADQL reserved words used as column names (only TAP_SCHEMA's mandated "size")
_ADQL_RESERVED = frozenset({"size"})


@dataclass(frozen=True)
class _Published:
    schema: str
    name: str
    table: sa.Table
    is_view: bool

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def published_tables() -> list[_Published]:
    """Every table and view TAP exposes, in display order."""
    out: list[_Published] = []
    meta = Base.metadata
    for table in meta.sorted_tables:
        if table.schema == PROVENANCE:
            out.append(_Published(PROVENANCE, table.name, table, False))
    for name in PUBLISHED_ARCHIVE_TABLES:
        table = meta.tables[f"{ARCHIVE}.{name}"]
        out.append(_Published(ARCHIVE, name, table, bool(table.info.get("is_view"))))
    out.extend(_Published(ARCHIVE, v.name, v, True) for v in VIEWS)
    out.append(_Published(IVOA, "obscore", meta.tables[f"{IVOA}.obscore"], False))
    for name in ("schemas", "tables", "columns", "keys", "key_columns"):
        out.append(_Published(TAP_SCHEMA, name, meta.tables[f"{TAP_SCHEMA}.{name}"], False))
    order = {IVOA: 0, PROVENANCE: 1, ARCHIVE: 2, TAP_SCHEMA: 3}
    dm_first = {"activity": 0, "entity": 1, "agent": 2, "used": 3, "wasgeneratedby": 4}
    out.sort(key=lambda p: (order[p.schema], dm_first.get(p.name, 9), p.name))
    return out


_SCHEMA_DESCRIPTIONS = {
    IVOA: ("IVOA data models: ObsCore 1.1 (ivoa.obscore, the archive's science products)", None),
    PROVENANCE: ("IVOA Provenance Data Model 1.0 tables (ProvTAP)", "voprov"),
    ARCHIVE: (
        "provdb archive: execution context of activities (software versions, "
        "environments), run-level views of lstosa provenance and the ingest bookkeeping "
        "(files read, rejected lines, conflicting values)",
        None,
    ),
    TAP_SCHEMA: ("Description of the tables of this service (TAP 1.1)", None),
}


def tap_schema_rows(existing: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """TAP_SCHEMA content derived from the metadata: rows per TAP_SCHEMA table.

    ``existing``: qualified names of the tables and views present in the database; when
    given, only those are published (a database migrated to an older revision).
    """
    published = published_tables()
    if existing is not None:
        published = [p for p in published if p.qualified in existing]
    names = {p.table.fullname: p.qualified for p in published}
    schemas = [
        {"schema_name": s, "utype": u, "description": d, "schema_index": i}
        for i, (s, (d, u)) in enumerate(_SCHEMA_DESCRIPTIONS.items())
        if any(p.schema == s for p in published)
    ]
    tables, columns, keys, key_columns = [], [], [], []
    for t_index, p in enumerate(published):
        table = p.table
        tables.append(
            {
                "schema_name": p.schema,
                "table_name": p.qualified,
                "table_type": "view" if p.is_view else "table",
                "utype": (table.info or {}).get("utype"),
                "description": table.comment,
                "table_index": t_index,
            }
        )
        indexed_cols = {c.name for c in table.primary_key.columns}
        for ix in table.indexes:
            indexed_cols.update(c.name for c in ix.columns)
        for uq in table.constraints:
            if isinstance(uq, sa.UniqueConstraint):
                cols = list(uq.columns)
                if cols:
                    indexed_cols.add(cols[0].name)
        for c_index, col in enumerate(table.columns):
            datatype, arraysize, xtype = votable_type(col)
            info = col.info or {}
            columns.append(
                {
                    "table_name": p.qualified,
                    # a reserved word is published delimited, as queries must write it
                    # (TAP 1.1: TAP_SCHEMA.columns' own "size")
                    "column_name": f'"{col.name}"' if col.name in _ADQL_RESERVED else col.name,
                    "datatype": datatype,
                    "arraysize": arraysize,
                    "xtype": info.get("xtype") or xtype,
                    "size": None,
                    "description": col.comment,
                    "utype": info.get("utype"),
                    "unit": info.get("unit"),
                    "ucd": info.get("ucd"),
                    # a view's column can say that its table's index serves it
                    "indexed": int(col.name in indexed_cols or bool(info.get("indexed"))),
                    "principal": int(bool(info.get("principal"))),
                    "std": int(bool(info.get("std"))),
                    "column_index": c_index,
                }
            )
        for fk in sorted(table.foreign_key_constraints, key=lambda f: f.name or ""):
            target = fk.referred_table.fullname
            if target not in names:
                continue
            key_id = f"{p.qualified}.{fk.name}"
            keys.append(
                {
                    "key_id": key_id,
                    "from_table": p.qualified,
                    "target_table": names[target],
                    "description": f"{', '.join(fk.column_keys)} refers to {names[target]}",
                    "utype": None,
                }
            )
            for element in fk.elements:
                key_columns.append(
                    {
                        "key_id": key_id,
                        "from_column": element.parent.name,
                        "target_column": element.column.name,
                    }
                )
    return {
        "schemas": schemas,
        "tables": tables,
        "columns": columns,
        "keys": keys,
        "key_columns": key_columns,
    }


def refresh(connection: sa.Connection) -> dict[str, int]:
    """Rewrite TAP_SCHEMA from the metadata, inside the caller's transaction."""
    existing = {
        f"{schema}.{name}"
        for schema, name in connection.execute(
            sa.text(
                "SELECT n.nspname, c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'v', 'm', 'p') AND n.nspname = ANY(:s)"
            ),
            {"s": [IVOA, PROVENANCE, ARCHIVE, TAP_SCHEMA]},
        )
    }
    rows = tap_schema_rows(existing)
    for name in ("key_columns", "keys", "columns", "tables", "schemas"):
        connection.execute(sa.text(f"DELETE FROM {TAP_SCHEMA}.{name}"))
    for name in ("schemas", "tables", "columns", "keys", "key_columns"):
        if rows[name]:
            connection.execute(Base.metadata.tables[f"{TAP_SCHEMA}.{name}"].insert(), rows[name])
    return {name: len(r) for name, r in rows.items()}
