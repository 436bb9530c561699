"""The loader inserts each batch of relations in the order of the unique index its
``ON CONFLICT`` checks (provdb.ingest.load._ORDER): that index is where the rows land,
and sorted they land on it left to right (docs/performance.md)."""

from __future__ import annotations

import sqlalchemy as sa

from provdb.ingest import load


def test_every_relation_is_inserted_in_the_order_of_its_unique_index(engine: sa.Engine) -> None:
    relations = {t.table for t in load.TABLES if t.key is None}
    assert set(load._ORDER) == relations
    with engine.connect() as conn:
        for table, order in load._ORDER.items():
            schema, name = table.split(".")
            columns = conn.execute(
                sa.text(
                    "SELECT a.attname FROM pg_constraint c "
                    "JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, n) ON true "
                    "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
                    "WHERE c.conrelid = CAST(:t AS regclass) AND c.contype = 'u' ORDER BY k.n"
                ),
                {"t": f"{schema}.{name}"},
            ).scalars()
            assert order == ", ".join(columns), table
