"""Declarative base and the single source of truth for table metadata.

Every table and column declares its description here (SQLAlchemy ``comment``, which
also lands in PostgreSQL as ``COMMENT ON``) and, where the ProvTAP mapping gives them,
its UCD, utype and unit in ``Column.info``. Alembic, TAP_SCHEMA, VOSI ``/tables`` and
VOTable FIELDs are all derived from this metadata, never maintained by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, mapped_column

__all__ = [
    "ARCHIVE",
    "PROVENANCE",
    "SCHEMAS",
    "Base",
    "Timestamp",
    "fk_column",
    "id_column",
    "json_column",
    "tap_column",
    "text_column",
    "time_column",
]

#: IVOA Provenance DM tables (published through TAP as the ``provenance`` schema).
PROVENANCE = "provenance"
#: What the archive needs beyond the DM: execution context and ingest bookkeeping.
ARCHIVE = "archive"
#: Every schema provdb owns (Alembic compares only these).
SCHEMAS = (PROVENANCE, ARCHIVE, "tap_schema", "uws", "ivoa")

# Short, predictable constraint names (PostgreSQL cuts identifiers at 63 bytes, and a
# migration can only drop a constraint it can name).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}

Timestamp = sa.DateTime(timezone=False)

#: ``info`` of a foreign key that is declared (TAP_SCHEMA publishes it as a join for
#: clients) but not a constraint in the database: the tables derived from others by the
#: ingest in the same transaction (the lineage closure), whose every row comes from
#: rows that the database already checked. See :func:`in_database`.
NOT_ENFORCED = {"enforced": False}


def in_database(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object``: leave out the declared-only foreign keys
    (:data:`NOT_ENFORCED`), which the migrations do not create, and the views described
    on this metadata (``info["is_view"]``: a migration creates them with SQL)."""
    if type_ == "foreign_key_constraint" and not reflected:
        return obj.info.get("enforced", True) is not False
    if type_ == "table" and not reflected:
        return not obj.info.get("is_view")
    return True


class Base(DeclarativeBase):
    """Base of every provdb table."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def tap_column(
    type_: Any,
    *args: Any,
    description: str,
    ucd: str | None = None,
    utype: str | None = None,
    unit: str | None = None,
    principal: bool = False,
    xtype: str | None = None,
    **kwargs: Any,
) -> Any:
    """A mapped column carrying its TAP metadata.

    Parameters
    ----------
    type_:
        SQLAlchemy type.
    description:
        Human description; becomes the PostgreSQL column comment and TAP_SCHEMA description.
    ucd, utype, unit, xtype:
        VO annotations copied verbatim into TAP_SCHEMA.columns.
    principal:
        TAP_SCHEMA ``principal`` flag (columns a client shows by default).
    """
    info = {
        "ucd": ucd,
        "utype": utype,
        "unit": unit,
        "principal": principal,
        "xtype": xtype,
    }
    return mapped_column(type_, *args, comment=description, info=info, **kwargs)


def id_column(description: str, *, utype: str | None = None, ucd: str = "meta.id;meta.main") -> Any:
    """Primary-key text identifier."""
    return tap_column(
        sa.Text, primary_key=True, description=description, ucd=ucd, utype=utype, principal=True
    )


def fk_column(
    target: str,
    description: str,
    *,
    nullable: bool = True,
    utype: str | None = None,
    ucd: str = "meta.id",
    type_: Any = sa.Text,
    ondelete: str | None = None,
    index: bool = True,
) -> Any:
    """Foreign-key column referencing ``schema.table.column``.

    Indexed on its own unless ``index=False``: for a column that leads a composite index of
    its table, which serves the same lookups, a second index only costs writes.
    """
    return tap_column(
        type_,
        sa.ForeignKey(target, ondelete=ondelete),
        nullable=nullable,
        index=index,
        description=description,
        ucd=ucd,
        utype=utype,
        principal=True,
    )


def text_column(description: str, *, nullable: bool = True, **kwargs: Any) -> Any:
    """A free text column."""
    return tap_column(sa.Text, nullable=nullable, description=description, **kwargs)


def time_column(description: str, *, ucd: str, utype: str | None = None, **kwargs: Any) -> Any:
    """A naive UTC timestamp (ProvDM datetimes are nominally UTC, without a zone)."""
    return tap_column(
        Timestamp, description=description, ucd=ucd, utype=utype, xtype="timestamp", **kwargs
    )


def json_column(description: str, **kwargs: Any) -> Any:
    """A JSONB document (served through TAP as text)."""
    return tap_column(JSONB, nullable=True, description=description, **kwargs)


# Re-exported for type annotations in the model modules.
__all__ += ["datetime"]
