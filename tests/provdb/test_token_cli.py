"""`provdb token create/list/revoke` as a user runs them (real subprocess, real PostgreSQL)."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa

from tests.conftest import run_cli


def test_create_prints_the_secret_once_and_stores_only_its_hash(engine, cli_env) -> None:
    result = run_cli("token", "create", "lst-cluster", env=cli_env)
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("provdb_") and len(secret) >= 40
    assert "shown only now" in result.stderr and "PROVDB_TOKEN" in result.stderr
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM archive.api_token")).mappings().all()
        dump = conn.execute(sa.text("SELECT t::text FROM archive.api_token t")).scalar_one()
    assert len(rows) == 1
    assert rows[0]["name"] == "lst-cluster" and rows[0]["scope"] == "ingest"
    assert rows[0]["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in dump and secret.removeprefix("provdb_") not in dump
    # a second token gets another secret
    other = run_cli("token", "create", "lst-cluster-2", env=cli_env)
    assert other.returncode == 0 and other.stdout.strip() != secret


def test_list_and_revoke(cli_env) -> None:
    empty = run_cli("token", "list", env=cli_env)
    assert empty.returncode == 0 and "no tokens" in empty.stdout
    for name in ("a-cluster", "b-cluster"):
        assert run_cli("token", "create", name, env=cli_env).returncode == 0
    revoked = run_cli("token", "revoke", "a-cluster", env=cli_env)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    again = run_cli("token", "revoke", "a-cluster", env=cli_env)
    assert again.returncode == 0 and "already revoked" in again.stdout
    table = run_cli("token", "list", env=cli_env)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "scope", "created"]
    a = next(line for line in lines if line.startswith("a-cluster"))
    b = next(line for line in lines if line.startswith("b-cluster"))
    assert a.split()[-1] != "-" and b.split()[-1] == "-"  # revoked time / not revoked
    rows = json.loads(run_cli("token", "list", "--json", env=cli_env).stdout)
    assert [(r["name"], r["scope"], r["revoked"] != "-") for r in rows] == [
        ("a-cluster", "ingest", True),
        ("b-cluster", "ingest", False),
    ]
    assert "provdb_" not in table.stdout


def test_token_errors_are_one_line(cli_env) -> None:
    assert run_cli("token", "create", "dup", env=cli_env).returncode == 0
    cases = [
        (("token", "create", "dup"), "a token named 'dup' exists"),
        (("token", "create", "bad name/x"), "is not allowed"),
        (("token", "revoke", "nobody"), "no token named 'nobody'"),
    ]
    for args, message in cases:
        result = run_cli(*args, env=cli_env)
        assert result.returncode == 2
        assert result.stderr.startswith("provdb: error: ") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    wrong_scope = run_cli("token", "create", "x", "--scope", "admin", env=cli_env)
    assert wrong_scope.returncode == 2 and "admin" in wrong_scope.stderr


def test_help_teaches_with_examples() -> None:
    for args in (("token",), ("token", "create"), ("token", "list"), ("token", "revoke")):
        result = run_cli(*args, "--help")
        assert result.returncode == 0 and "Examples:" in result.stdout
