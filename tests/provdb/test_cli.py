"""The provdb command line, run as a real subprocess against real PostgreSQL servers."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pytest

from provdb import __version__
from tests.conftest import REPO, run_cli


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert __version__ in result.stdout


@pytest.mark.parametrize("args", [(), ("db",), ("db", "upgrade"), ("db", "status")])
def test_help_teaches_with_examples(args: tuple[str, ...]) -> None:
    result = run_cli(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: provdb" in result.stdout
    if len(args) < 2:
        assert "Examples:" in result.stdout
        assert "provdb db upgrade" in result.stdout


def test_serve_help_lists_every_service_setting() -> None:
    """Each PROVDB_TAP_* variable tap/config.py reads is named in `provdb serve --help`."""
    import re

    names = set(re.findall(r'"(PROVDB_TAP_[A-Z0-9_]+)"', (REPO / "tap/config.py").read_text()))
    assert "PROVDB_TAP_BINARY2_SQL" in names
    result = run_cli("serve", "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for name in names - {"PROVDB_TAP_BASE_URL"}:  # that one is the --base-url option
        short = name.removeprefix("PROVDB_TAP")
        assert name in text or f"/ {short}" in text, name
    assert "--base-url" in text


def test_upgrade_and_status_on_external_server(cli_env: dict[str, str]) -> None:
    first = run_cli("db", "upgrade", env=cli_env)
    assert first.returncode == 0, first.stderr
    assert "already at migration" in first.stdout  # the test database is migrated
    status = run_cli("db", "status", "--json", env=cli_env)
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["server"] == "external"
    assert info["up_to_date"] is True
    assert info["migration"] == info["head"]
    assert int(info["postgresql"].split(".")[0]) >= 15


def test_downgrade_then_status_says_what_to_do(cli_env: dict[str, str]) -> None:
    down = run_cli("db", "downgrade", "--revision", "base", "--yes", env=cli_env)
    assert down.returncode == 0, down.stderr
    status = run_cli("db", "status", env=cli_env)
    assert status.returncode == 1
    assert "run `provdb db upgrade`" in status.stdout
    up = run_cli("db", "upgrade", env=cli_env)
    assert up.returncode == 0 and "empty -> " in up.stdout


def test_unreachable_database_url_is_one_line_error() -> None:
    env = {"PROVDB_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/provdb"}
    result = run_cli("db", "status", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("provdb: error: cannot connect to PostgreSQL at 127.0.0.1:1/provdb")
    assert "PROVDB_DATABASE_URL" in lines[0]


def test_malformed_database_url_is_one_line_error() -> None:
    result = run_cli("db", "status", env={"PROVDB_DATABASE_URL": "mysql://x@y/z"})
    assert result.returncode == 2
    assert "expected a PostgreSQL URL like postgresql+psycopg://" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_migration_on_newer_database_is_refused(cli_env: dict[str, str], engine) -> None:
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    result = run_cli("db", "upgrade", env=cli_env)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line
    assert "ffff_from_the_future" in line and "pip install -U provdb" in line


def test_unwritable_home_is_one_line_error(tmp_path: Path) -> None:
    home = tmp_path / "readonly"
    home.mkdir()
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    target = home / "provdb"
    try:
        if os.geteuid() == 0:
            # root writes anywhere: use a path under a regular file instead
            blocker = tmp_path / "afile"
            blocker.write_text("x")
            target = blocker / "provdb"
        result = run_cli("db", "upgrade", env={"PROVDB_HOME": str(target)})
    finally:
        home.chmod(stat.S_IRWXU)
    assert result.returncode == 2
    assert result.stderr.startswith(f"provdb: error: PROVDB_HOME {target}")
    assert "not writable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _embedded_upgrade_twice(home: Path, user: str | None = None) -> None:
    env = {"PROVDB_HOME": str(home), "HOME": str(home.parent)}
    prefix: list[str] = []
    if user:
        env["USER"] = user
    first = run_cli("db", "upgrade", env=env) if not user else _run_as(user, env, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "empty -> " in first.stdout
    again = run_cli("db", "upgrade", env=env) if not user else _run_as(user, env, "db", "upgrade")
    assert again.returncode == 0, again.stderr
    assert "already at migration" in again.stdout
    status = (
        run_cli("db", "status", "--json", env=env)
        if not user
        else _run_as(user, env, "db", "status", "--json")
    )
    info = json.loads(status.stdout)
    assert info["server"] == "embedded"
    assert info["location"] == str(home / "pgdata")
    assert info["up_to_date"] is True
    assert (home / "pgdata" / "PG_VERSION").is_file()  # data survive the process
    del prefix


def _run_as(user: str, env: dict[str, str], *args: str):
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    full_env.update(env)
    return subprocess.run(
        [
            "setpriv",
            f"--reuid={user}",
            f"--regid={pwd.getpwnam(user).pw_gid}",
            "--clear-groups",
            sys.executable,
            "-m",
            "provdb",
            *args,
        ],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=300,
    )


def test_embedded_server_on_fresh_home_as_current_user(tmp_path: Path) -> None:
    _embedded_upgrade_twice(tmp_path / "home")


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to switch to an unprivileged user",
)
def test_embedded_server_on_fresh_home_as_normal_user() -> None:
    # The unprivileged user must be able to reach the checkout and the virtualenv: a CI
    # clone may sit under a root-only folder, so open the path prefixes for traversal
    # (what the embedded server itself does for its data folder when run as root).
    for target in (REPO, Path(sys.prefix)):
        for folder in (target, *target.parents):
            folder.chmod(folder.stat().st_mode | 0o005)
    base = Path(tempfile.mkdtemp(prefix="provdb-user-"))
    try:
        base.chmod(0o755)
        os.chown(base, pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
        _embedded_upgrade_twice(base / "home", user="nobody")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_upgrade_across_the_flag_migration_computes_the_flags(
    cli_env: dict[str, str], engine, samples: Path
) -> None:
    """An archive from before migration 0007 gets its product flags from `db upgrade`."""
    import sqlalchemy as sa

    night = samples / "generated" / "lstosa_simulate_processing" / "prov.log"
    ingest = run_cli("ingest", "-q", str(night), env=cli_env)
    assert ingest.returncode == 0, ingest.stderr
    query = "SELECT entity_id, rule FROM archive.product_flag ORDER BY 1, 2"
    with engine.connect() as conn:
        flags = conn.execute(sa.text(query)).all()
    # the night's runs read v0.1.1 calibration files that no activity of it generated
    assert {rule for _, rule in flags} >= {"missing-input"}
    down = run_cli("db", "downgrade", "--revision", "0006", env=cli_env)
    assert down.returncode == 0, down.stderr
    up = run_cli("db", "upgrade", env=cli_env)
    assert up.returncode == 0, up.stderr
    assert f"product flags of the existing archive: {len(flags)} flag(s)" in up.stdout
    with engine.connect() as conn:
        assert conn.execute(sa.text(query)).all() == flags
    again = run_cli("db", "upgrade", env=cli_env)
    assert "product flags" not in again.stdout  # only when crossing 0007
