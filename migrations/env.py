"""Alembic environment for provdb.

The connection comes from ``provdb.migrate`` (``config.attributes['connection']``) or,
for the plain ``alembic`` command, from provdb's own settings — never from an ini file,
so no credentials live in the repository.
"""

from __future__ import annotations

from alembic import context

import provdb.schema
from provdb.schema.base import SCHEMAS, in_database

config = context.config
# provdb.migrate.revision may compare with other models (its tests do)
target_metadata = config.attributes.get("target_metadata", provdb.schema.Base.metadata)


def include_name(name, type_, parent_names):
    """Compare only provdb's own schemas (leave public, tap_upload, ... alone)."""
    if type_ == "schema":
        return name in SCHEMAS
    return True


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=include_name,
        include_object=in_database,
        compare_type=True,
        compare_server_default=False,
        version_table_schema="public",
    )


def run_migrations_offline() -> None:
    from provdb.config import Settings

    url = Settings.from_env().database_url or "postgresql+psycopg://localhost/provdb"
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        include_schemas=True,
        include_name=include_name,
        include_object=in_database,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from provdb.db import connect

    db = connect()
    try:
        with db.engine.begin() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        db.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
