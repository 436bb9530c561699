"""docker/citus: the Citus cluster a user can try (docs/scale-out.md).

Docker is not available to the tests, so the compose file is checked as YAML (services,
order, no password written in it), and distribute.sql against provdb's real schema: it
places every table exactly once, and its constraint changes, run on a migrated
PostgreSQL database (rolled back), leave a schema that follows Citus's rules for
distributed tables (every primary key and unique constraint holds the distribution
column; foreign keys only between colocated tables on their distribution columns, or
towards reference tables).
"""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
import yaml

from provdb.schema.base import Base

REPO = Path(__file__).resolve().parent.parent
CITUS = REPO / "docker" / "citus"
LOCAL = {"uws.job", "archive.api_token"}  # stay on the coordinator


def _placement() -> tuple[dict[str, str], set[str]]:
    """distribute.sql's distributed tables (name -> column) and reference tables."""
    text = (CITUS / "distribute.sql").read_text()
    distributed = dict(re.findall(r"create_distributed_table\('([\w.]+)', '(\w+)'", text))
    reference = re.findall(r"create_reference_table\('([\w.]+)'\)", text)
    assert len(reference) == len(set(reference)), "a reference table is named twice"
    return distributed, set(reference)


def test_compose_is_valid_yaml_in_order_and_holds_no_password() -> None:
    text = (CITUS / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert {
        "coordinator",
        "worker1",
        "worker2",
        "cluster",
        "schema",
        "distribute",
        "provdb",
    } <= set(services)
    for name in ("coordinator", "worker1", "worker2"):
        assert services[name]["image"].startswith("citusdata/citus:")
        password = services[name]["environment"]["POSTGRES_PASSWORD"]
        assert password.startswith("${POSTGRES_PASSWORD:?"), password
    # the chain: nodes -> cluster -> schema -> distribute -> provdb
    assert services["cluster"]["depends_on"]["worker2"]["condition"] == "service_healthy"
    for service, before in (
        ("schema", "cluster"),
        ("distribute", "schema"),
        ("provdb", "distribute"),
    ):
        assert services[service]["depends_on"][before]["condition"] == (
            "service_completed_successfully"
        )
    assert "citus_add_node('worker1', 5432)" in " ".join(services["cluster"]["command"])
    assert services["distribute"]["volumes"] == ["./distribute.sql:/distribute.sql:ro"]
    for service in ("schema", "provdb"):
        assert (CITUS / services[service]["build"]["context"] / "docker/Dockerfile").is_file()
        url = services[service]["environment"]["PROVDB_DATABASE_URL"]
        assert "@coordinator:5432/provdb" in url and "${POSTGRES_PASSWORD:?" in url
    assert not re.search(r"PASSWORD:\s*['\"]?\w", text), "a password is written in compose.yaml"


def test_distribute_sql_places_every_provdb_table_once() -> None:
    distributed, reference = _placement()
    assert not set(distributed) & reference
    tables = {t.fullname for t in Base.metadata.sorted_tables if not t.info.get("is_view")}
    placed = set(distributed) | reference | LOCAL
    assert placed == tables, (
        f"not placed: {sorted(tables - placed)}; unknown: {sorted(placed - tables)}"
    )
    for table, column in distributed.items():
        assert column in Base.metadata.tables[table].columns, (table, column)


def test_distribute_sql_constraints_follow_citus_rules_on_the_real_schema(
    engine: sa.Engine,
) -> None:
    distributed, reference = _placement()
    text = (CITUS / "distribute.sql").read_text()
    block = text[text.index("BEGIN;") + len("BEGIN;") : text.index("COMMIT;")]
    with engine.connect() as conn:
        trans = conn.begin()
        for statement in filter(str.strip, block.split(";")):
            if statement.strip().startswith("--") and "ALTER" not in statement:
                continue
            conn.exec_driver_sql(statement)  # a wrong constraint name fails here
        rows = conn.execute(
            sa.text(
                """
                SELECT c.contype, c.conrelid::regclass::text,
                       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) k
                             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k),
                       c.confrelid::regclass::text,
                       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) k
                             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k)
                FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                WHERE n.nspname IN ('provenance', 'archive', 'ivoa', 'tap_schema', 'uws')
                  AND c.contype IN ('p', 'u', 'f')
                """
            )
        ).all()
        trans.rollback()
    checked = 0
    for kind, table, columns, target, target_columns in rows:
        if table in distributed and kind in ("p", "u"):
            assert distributed[table] in columns, f"{table}: {columns} lacks the shard key"
            checked += 1
        if kind != "f":
            continue
        if table in reference:
            assert target in reference, f"reference table {table} points to {target}"
        elif table in distributed and target in distributed:
            # colocated: the foreign key joins the two distribution columns
            assert columns == [distributed[table]] and target_columns == [distributed[target]], (
                table,
                columns,
                target,
            )
            checked += 1
    assert checked > 20
