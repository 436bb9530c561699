"""Filtering parameters by name and value (migrations 0013, 0021): an index serves it, and
a long value (a configuration dump, over the ~2.7 kB a btree entry may hold, and not
compressible below it) is stored and found."""

from __future__ import annotations

import os

import sqlalchemy as sa

FILTER = (
    "SELECT a.id FROM provenance.activity a JOIN provenance.parameter p ON p.activity_id = a.id"
    " WHERE p.name = 'gain' AND p.parameter_value = 'v17'"
)


def test_filter_by_name_and_value_uses_the_indexes(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO provenance.activity (id, name) "
                "SELECT 'a' || g, 'r0_to_dl1' FROM generate_series(1, 5000) g"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO provenance.parameter (activity_id, name, parameter_value) "
                "SELECT 'a' || g, n, 'v' || (g % 400) FROM generate_series(1, 5000) g,"
                " unnest(ARRAY['gain', 'threshold', 'window']) n"
            )
        )
        # a value a btree index would refuse (index row size exceeds maximum): 100 kB of
        # random hex, which compression cannot bring under a third of a page
        long_value = os.urandom(50_000).hex()
        conn.execute(
            sa.text(
                "INSERT INTO provenance.parameter (activity_id, name, parameter_value) "
                "VALUES ('a1', 'config', :v)"
            ),
            {"v": long_value},
        )
        conn.execute(sa.text("ANALYZE provenance.parameter"))
        plan = "\n".join(r[0] for r in conn.execute(sa.text("EXPLAIN " + FILTER)))
        assert "ix_parameter_parameter_value" in plan, plan
        rows = conn.execute(sa.text(FILTER)).scalars().all()
        assert sorted(rows) == sorted(f"a{g}" for g in range(1, 5001) if g % 400 == 17)
        stored = conn.execute(
            sa.text("SELECT parameter_value FROM provenance.parameter WHERE parameter_value = :v"),
            {"v": long_value},
        ).scalar_one()
        assert stored == long_value
