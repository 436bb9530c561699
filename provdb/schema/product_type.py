"""The data level (product type) of an entity, as one SQL expression.

``archive.product_version.product_type`` (migration 0006) is this expression over
``provenance.entity``: the level ``provdb scan`` read from the file's structure
(``attributes.scan.data_level``), else ``R0``/``R1``/``DL0``-``DL5`` found in the entity
name, else in the file name. Migration 0015 indexes the same expression on
``provenance.entity`` (:data:`PRODUCT_TYPE_INDEX`), so that a filter on the view's
``product_type`` is an index lookup with statistics instead of two regular expressions
evaluated over every entity of the archive. The planner matches an index by its
expression tree, so the text here must stay the view's expression, column for column
(a test compares them).
"""

from __future__ import annotations

__all__ = ["PRODUCT_TYPE_INDEX", "PRODUCT_TYPE_INDEX_SQL", "product_type_sql"]

#: The level pattern: R0, R1 or DL0-DL5 standing alone (not DL10, not part of a word).
_LEVEL = r"'(?:^|[^A-Z0-9])(R0|R1|DL[0-5])(?![0-9])'"

#: Name of the expression index on provenance.entity (migration 0015).
PRODUCT_TYPE_INDEX = "ix_entity_product_type"


def product_type_sql(alias: str = "") -> str:
    """The product-type expression over ``provenance.entity`` (columns prefixed with
    ``alias.`` when given, bare for the index definition).

    >>> product_type_sql("e").startswith("coalesce(e.attributes #>> '{scan,data_level}'")
    True
    """
    p = f"{alias}." if alias else ""
    return (
        f"coalesce({p}attributes #>> '{{scan,data_level}}', "
        f"substring(upper({p}name) from {_LEVEL}), "
        f"substring(upper({p}location) from {_LEVEL[:-1]}[^/]*$'))"
    )


#: The same expression as SQLAlchemy reflects it (``pg_get_indexdef(oid, 1, true)``): the models
#: declare the index with it, because Alembic compares index expressions as text and
#: ``substring(x from p)`` comes back as ``"substring"(x, p)``. The same function calls,
#: so the planner matches the index to the view's expression.
PRODUCT_TYPE_INDEX_SQL = (
    "COALESCE(attributes #>> '{scan,data_level}'::text[], "
    f'"substring"(upper(name), {_LEVEL}::text), '
    f'"substring"(upper(location), {_LEVEL[:-1]}[^/]*$\'::text))'
)
