#!/usr/bin/env python
"""What enforcing the relation tables' foreign keys costs a night's ingest on a large archive.

Every relation row of the ProvDM tables (``used``, ``wasGeneratedBy``, ``parameter``...)
references an activity and/or an entity, and PostgreSQL checks each reference with a
trigger: an index probe of the referenced key and a ``FOR KEY SHARE`` lock on its row.
The loader writes the referenced activities and entities first (bare rows for ids the
source names without describing them), so those checks never fail on provdb's own
ingest; migration 0019 stopped enforcing them on the derived closure tables. This
benchmark measures what they cost on the primary tables, to decide with numbers.

On an existing archive (the year benchmark's PROVDB_HOME), each trial takes one night's
activities and the entities they used or generated, gives each a new random id
(``md5(id || salt)``: a new night's ids land at random places of every index, as they
do), inserts those activities and entities, and then each relation table's rows of the
night under ``EXPLAIN (ANALYZE, BUFFERS, WAL)``, in the order the loader uses (the
table's unique constraint); then it rolls back: the archive is unchanged. Recorded per
table: rows, execution time, the time of each foreign-key trigger, buffers and WAL::

    python bench/bench_fk_checks.py --home /tmp/yb-40m/provdb-home --trials 4
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402
from _common import home_conninfo, log, trials_on_archive  # noqa: E402
from bench_insert_order import _sum_buffers  # noqa: E402

from provdb import schema  # noqa: E402

#: the relation tables a night's lstosa log fills, in the loader's order
RELATIONS = (
    "provenance.used",
    "provenance.wasgeneratedby",
    "provenance.wasassociatedwith",
    "provenance.parameter",
    "provenance.configfile",
    "provenance.wasinformedby",
    "provenance.wasderivedfrom",
)
ACTIVITY = "provenance.activity"
ENTITY = "provenance.entity"

#: the night's activities and the entities they used or generated, each with a new id
NIGHT_IDS = """
CREATE TEMP TABLE _map ON COMMIT DROP AS
WITH acts AS (
    SELECT a.id FROM archive.processing_session s
    JOIN provenance.activity a ON a.session_id = s.id
    WHERE s.night = %(night)s
)
SELECT id AS old, md5(id || %(salt)s) AS new, 'a' AS kind FROM acts
UNION ALL
SELECT id, md5(id || %(salt)s), 'e' FROM (
    SELECT u.entity_id AS id FROM provenance.used u JOIN acts ON acts.id = u.activity_id
    UNION
    SELECT g.entity_id FROM provenance.wasgeneratedby g JOIN acts ON acts.id = g.activity_id
) ents
"""


def _renamed(column: Any) -> str:
    """The SELECT expression of ``column``: its new id when it names a renamed row."""
    refs = {fk.column.table.fullname for fk in column.foreign_keys}
    kind = "a" if ACTIVITY in refs else "e" if ENTITY in refs else None
    if column.primary_key and column.table.fullname in (ACTIVITY, ENTITY):
        kind = "a" if column.table.fullname == ACTIVITY else "e"
    if kind is None:
        return f"t.{column.name}"
    return (
        f"COALESCE((SELECT m.new FROM _map m WHERE m.old = t.{column.name} "
        f"AND m.kind = '{kind}'), t.{column.name})"
    )


def _copy_sql(table: str) -> tuple[str, str]:
    """``(INSERT ... SELECT renamed rows of the night, row filter)`` for one table."""
    model = schema.metadata.tables[table]
    columns = [c for c in model.columns if not (c.primary_key and c.identity is not None)]
    refs = [
        c.name
        for c in columns
        if c.primary_key
        or any(fk.column.table.fullname in (ACTIVITY, ENTITY) for fk in c.foreign_keys)
    ]
    # a row of the night: its first reference (the table's own id for activity and
    # entity; the activity, or the generated entity) is a renamed id
    first = refs[0]
    unique = next(
        (
            tuple(c.name for c in k.columns)
            for k in model.constraints
            if isinstance(k, sa.UniqueConstraint)
        ),
        tuple(c.name for c in model.primary_key.columns),
    )
    names = ", ".join(c.name for c in columns)
    values = ", ".join(f"{_renamed(c)} AS {c.name}" for c in columns)
    sql = (
        f"INSERT INTO {table} ({names}) SELECT * FROM (SELECT {values} FROM {table} t "
        f"WHERE t.{first} IN (SELECT old FROM _map)) r ORDER BY {', '.join(unique)} "
        "ON CONFLICT DO NOTHING"
    )
    return sql, first


def trial(conn: Any, night: Any, salt: str) -> dict[str, Any]:
    """One night's rows renamed and inserted table by table; rolled back."""
    out: dict[str, Any] = {"night": str(night), "tables": {}}
    with conn.cursor() as cur:
        cur.execute(NIGHT_IDS, {"night": night, "salt": salt})
        cur.execute("CREATE INDEX ON _map (old)")
        cur.execute("ANALYZE _map")
        for table in (ACTIVITY, ENTITY, *RELATIONS):
            sql, _ = _copy_sql(table)
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) {sql}")
            plan = cur.fetchone()[0][0]
            triggers = {
                t["Constraint Name"]: round(t["Time"], 1)
                for t in plan.get("Triggers", [])
                if t.get("Constraint Name")
            }
            out["tables"][table] = {
                "rows": int(plan["Plan"]["Plans"][0]["Actual Rows"]),
                "execution_ms": round(plan["Execution Time"], 1),
                "fk_ms": round(sum(triggers.values()), 1),
                "fk_triggers_ms": triggers,
                **_sum_buffers(plan),
            }
    conn.rollback()
    return out


def run(home: Path, trials: int) -> dict[str, Any]:
    """``trials`` nights from across ``home``'s archive, one trial each."""
    import psycopg

    with home_conninfo(home) as conninfo, psycopg.connect(conninfo) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT version_num FROM alembic_version")
            migration = cur.fetchone()[0]
            cur.execute(
                "SELECT DISTINCT night FROM archive.processing_session "
                "WHERE night IS NOT NULL ORDER BY night"
            )
            nights = [r[0] for r in cur.fetchall()]
            cur.execute(
                "SELECT pg_database_size(current_database()), "
                "current_setting('shared_buffers'), current_setting('max_wal_size')"
            )
            size, buffers, max_wal = cur.fetchone()
        conn.rollback()
        step = max(1, len(nights) // (trials + 1))
        chosen = nights[step : step * (trials + 1) : step][:trials]
        results = []
        for i, night in enumerate(chosen):
            res = trial(conn, night, f"fk{i}")
            rel = [res["tables"][t] for t in RELATIONS]
            total = sum(r["execution_ms"] for r in rel)
            fk = sum(r["fk_ms"] for r in rel)
            log(
                f"trial {i + 1}/{trials} night {night}: relations {total / 1000:.2f} s, "
                f"of which foreign-key checks {fk / 1000:.2f} s ({fk / total:.0%})"
            )
            results.append(res)

    def median(table: str, key: str) -> float:
        return statistics.median(r["tables"][table][key] for r in results)

    keys = ("rows", "execution_ms", "fk_ms", "shared_read_blocks", "shared_dirtied_blocks")
    per_table = {t: {k: median(t, k) for k in keys} for t in (ACTIVITY, ENTITY, *RELATIONS)}
    totals = [
        (
            sum(r["tables"][t]["execution_ms"] for t in RELATIONS),
            sum(r["tables"][t]["fk_ms"] for t in RELATIONS),
        )
        for r in results
    ]
    return {
        "archive": {
            "migration": migration,
            "nights": len(nights),
            "database_gb": round(size / 1e9, 1),
            "shared_buffers": buffers,
            "max_wal_size": max_wal,
        },
        "trials": results,
        "median": per_table,
        "relations_median": {
            "execution_ms": statistics.median(t for t, _ in totals),
            "fk_ms": statistics.median(f for _, f in totals),
            "fk_share": round(statistics.median(f / t for t, f in totals), 3),
        },
    }


def main(argv: list[str] | None = None) -> int:
    out, path = trials_on_archive(
        __doc__,
        "bench_fk_checks.py",
        "foreign-key checks of the relation tables (bench/bench_fk_checks.py)",
        run,
        trials=4,
        trials_help="nights to measure (default 4)",
        name="fk-checks",
        argv=argv,
    )
    log(f"relations, median of trials: {out['relations_median']}")
    log(f"results -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
