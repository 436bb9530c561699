"""the value index of provenance.parameter: SP-GiST instead of hash

0013 indexed ``parameter_value`` with a hash index (equality, and no length limit where
a b-tree refuses entries over ~2.7 kB such as configuration dumps). But a hash index
keeps every duplicate of a value in one bucket chain, and an insert walks that chain to
its last page: lstosa logs the same values on every activity of a kind (``DL1ProdID``,
``StoreImage = True``: thousands of rows a night each), so each such row's insert read a
chain growing night after night: 1,200 buffer visits per parameter row after 280
nights of a year's parameters, 0.10 s for the first night's rows and 2.44 s for the
280th's. SP-GiST's ``text_ops`` (a radix tree, in
core PostgreSQL) answers the same ``parameter_value = ...`` filters, takes values of any
length, and costs the same at night 280 as at night 1
(``bench/results/2026-12-07-parameter-index.json``, docs/performance.md).

The index keeps its name. Building it reads the whole table once (seconds for millions
of rows); the upgrade holds a lock on ``provenance.parameter`` meanwhile: upgrade when
the archive is quiet.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

INDEX = "ix_parameter_parameter_value"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="parameter", schema="provenance")
    op.create_index(
        INDEX, "parameter", ["parameter_value"], schema="provenance", postgresql_using="spgist"
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="parameter", schema="provenance")
    op.create_index(
        INDEX, "parameter", ["parameter_value"], schema="provenance", postgresql_using="hash"
    )
