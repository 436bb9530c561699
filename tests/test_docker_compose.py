"""Issue 18: docker compose holds no password, and the service is no superuser."""

from __future__ import annotations

import os
import re
import subprocess

import psycopg
import yaml

from tests.conftest import REPO

COMPOSE = REPO / "docker/compose.yaml"
INIT = REPO / "docker/initdb/10-provdb-role.sh"


def test_compose_has_no_default_password_and_needs_an_env_file() -> None:
    text = COMPOSE.read_text()
    compose = yaml.safe_load(text)
    db_env = compose["services"]["db"]["environment"]
    for name in ("POSTGRES_PASSWORD", "PROVDB_DB_PASSWORD"):
        # ${VAR:?message}: compose refuses to start while docker/.env does not set it
        assert re.fullmatch(r"\$\{" + name + r":\?[^}]+\}", db_env[name]), db_env[name]
    for service in ("provdb", "follow"):
        url = compose["services"][service]["environment"]["PROVDB_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://provdb:${PROVDB_DB_PASSWORD:?")
    # the service role is not the image's superuser (POSTGRES_USER)
    assert db_env["POSTGRES_USER"] != "provdb"
    assert "./initdb:/docker-entrypoint-initdb.d:ro" in compose["services"]["db"]["volumes"]
    example = (REPO / "docker/env.example").read_text()
    assert "POSTGRES_PASSWORD=\n" in example and "PROVDB_DB_PASSWORD=\n" in example
    assert "docker/.env" in (REPO / ".gitignore").read_text()


def test_init_script_creates_a_login_role_that_is_no_superuser(pg_server) -> None:
    env = {
        **os.environ,
        "POSTGRES_USER": pg_server.user,
        "PGHOST": str(pg_server.host),
        "PGPORT": str(pg_server.port),
        "PROVDB_DB_PASSWORD": "s3cretTest",
    }
    if pg_server.password:
        env["PGPASSWORD"] = pg_server.password
    admin = psycopg.connect(
        host=str(pg_server.host),
        port=pg_server.port,
        user=pg_server.user,
        password=pg_server.password,
        dbname="postgres",
        autocommit=True,
    )
    try:
        done = subprocess.run(
            ["bash", str(INIT)], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        row = admin.execute(
            "SELECT rolsuper, rolcanlogin, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = 'provdb'"
        ).fetchone()
        assert row == (False, True, True, False)
        owner = admin.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'provdb'"
        ).fetchone()
        assert owner == ("provdb",)
        # without the password variable the script refuses, with a clear message
        env.pop("PROVDB_DB_PASSWORD")
        refused = subprocess.run(
            ["bash", str(INIT)], env=env, capture_output=True, text=True, timeout=60
        )
        assert refused.returncode != 0 and "docker/.env" in refused.stderr
    finally:
        admin.execute("DROP DATABASE IF EXISTS provdb")
        admin.execute("DROP ROLE IF EXISTS provdb")
        admin.close()
