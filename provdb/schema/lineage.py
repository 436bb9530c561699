"""Lineage closure: every ancestor of every entity, with its distance, for ADQL.

ADQL has no recursive queries, so provdb maintains the transitive closure of the
entity derivation graph, which ADQL joins as two views:

* ``lineage``: (entity_id, ancestor_id, depth), depth = length of the shortest chain;
* ``lineage_edge``: direct derivations, entity -> parent entity, from two sources: an
  activity that used P and generated C (C <- P), and wasDerivedFrom (C <- P);
  self-loops (lstosa's dl1ab uses and generates the same id) are left out: the rows of
  ``lineage`` with depth 1 (a chain of one step is a direct derivation; migration 0022).

The closure itself is ``lineage_closure`` (entity_no, ancestor_no, depth), keyed by
entity numbers that ``entity_number`` gives in ingest order (migration 0023). Keyed by
lstosa's md5 ids, each night's ~214,000 rows went to random leaf pages of a primary key
that outgrew the server's buffers (the closure was 17.7 GB of a 47.2 GB year archive,
8.1 GB since); by numbers a night's rows go to the right edge of each index
(bench/bench_closure_keys.py, docs/performance.md). ``lineage`` shows the numbers as ids again.

The ingest keeps the closure up to date in the same transaction as the rows it comes
from (provdb.lineage.closure). The view's references to ``provenance.entity`` are
declared (TAP_SCHEMA publishes them); the closure's are not constraints (migration
0019): every row is derived from used, wasGeneratedBy and wasDerivedFrom rows whose
entities PostgreSQL has already checked.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from provdb.schema.base import ARCHIVE, NOT_ENFORCED, PROVENANCE, Base

__all__ = ["LINEAGE_EDGE_VIEW", "LINEAGE_VIEW", "EntityNumber", "LineageClosure"]

ENTITY = f"{PROVENANCE}.entity.id"


def _declared_keys(table: str, *columns: str) -> tuple[sa.ForeignKeyConstraint, ...]:
    """References to provenance.entity that the database does not enforce."""
    return tuple(
        sa.ForeignKeyConstraint(
            [column], [ENTITY], name=f"fk_{table}_{column}", info=dict(NOT_ENFORCED)
        )
        for column in columns
    )


def _id_column(name: str, comment: str) -> sa.Column:
    """An entity id column of the closure's views, ``indexed`` for TAP_SCHEMA: the
    closure's indexes (through ``archive.entity_number``) serve lookups by it."""
    return sa.Column(
        name, sa.Text, comment=comment, info={"ucd": "meta.id", "principal": True, "indexed": True}
    )


class EntityNumber(Base):
    """A number for each entity of the closure, given in ingest order (not published)."""

    __tablename__ = "entity_number"
    __table_args__ = (
        {
            "schema": ARCHIVE,
            "comment": "A number for each entity of the lineage closure, in ingest order: "
            "the keys of archive.lineage_closure (internal; ADQL sees archive.lineage)",
        },
    )

    no: Mapped[int] = mapped_column(
        sa.BigInteger,
        sa.Identity(always=True),
        primary_key=True,
        comment="The entity's number (ascending in ingest order)",
    )
    entity_id: Mapped[str] = mapped_column(
        sa.Text, nullable=False, unique=True, comment="The entity (provenance.entity.id)"
    )


class LineageClosure(Base):
    """The closure rows by entity number (not published: ADQL reads :data:`LINEAGE_VIEW`)."""

    __tablename__ = "lineage_closure"
    __table_args__ = (
        {
            "schema": ARCHIVE,
            "comment": "Transitive closure of entity derivations by entity number "
            "(archive.entity_number); archive.lineage shows it with entity ids",
        },
    )

    entity_no: Mapped[int] = mapped_column(
        sa.BigInteger, primary_key=True, comment="The entity's number"
    )
    ancestor_no: Mapped[int] = mapped_column(
        sa.BigInteger, primary_key=True, index=True, comment="An ancestor's number"
    )
    depth: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, comment="Derivation steps on the shortest chain"
    )


#: ``archive.lineage``, a view (migration 0023) of :class:`LineageClosure` with the
#: entity ids in place of the numbers, described for TAP with its declared keys. A
#: lookup by either id goes through ``archive.entity_number``'s unique index to the
#: closure's primary key or its ancestor index.
LINEAGE_VIEW = sa.Table(
    "lineage",
    Base.metadata,
    _id_column("entity_id", "The entity"),
    _id_column("ancestor_id", "One of its ancestors (an input of an input of ...)"),
    sa.Column(
        "depth",
        sa.Integer,
        comment="Derivation steps on the shortest chain (1: a direct input)",
        info={"ucd": "meta.number", "principal": True},
    ),
    *_declared_keys("lineage", "entity_id", "ancestor_id"),
    schema=ARCHIVE,
    comment="Transitive closure of entity derivations: every ancestor of every entity "
    "with its distance. Join it in ADQL for full lineage (ADQL has no recursion)",
    info={"is_view": True},
)


#: ``archive.lineage_edge``, a view (migration 0022) on :data:`LINEAGE_VIEW`, described for
#: TAP with its declared keys; ``is_view`` keeps Alembic from creating it as a table.
LINEAGE_EDGE_VIEW = sa.Table(
    "lineage_edge",
    Base.metadata,
    _id_column("entity_id", "The derived entity"),
    _id_column("parent_id", "An entity it was directly derived from"),
    *_declared_keys("lineage_edge", "entity_id", "parent_id"),
    schema=ARCHIVE,
    comment="Direct derivations between entities (generated by an activity that used, or "
    "wasDerivedFrom): the rows of archive.lineage with depth 1",
    info={"is_view": True},
)
