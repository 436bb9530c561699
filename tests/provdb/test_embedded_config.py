"""The embedded server's settings (provdb.embedded_config, PROVDB_EMBEDDED_SHARED_BUFFERS,
PROVDB_EMBEDDED_MAX_WAL_SIZE): the automatic size, the files written into pgdata, a real
server started with them, and `provdb db status` reading its checkpoints."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from provdb import settings
from provdb.embedded_config import (
    CONF_NAME,
    DEFAULT_MAX_WAL_SIZE,
    MAX_AUTO,
    MIN_SHARED_BUFFERS,
    auto_shared_buffers,
    machine_memory,
    write_server_config,
)
from provdb.errors import ConfigError
from tests.conftest import run_cli, run_python

MiB, GiB = 1 << 20, 1 << 30

#: run a statement (argv[2]) argv[3] times on the embedded server of pgdata argv[1]
RUN_SQL = """
import sys
from pathlib import Path
import psycopg
from provdb.db import start_embedded
server, socket_dir = start_embedded(Path(sys.argv[1]))
with psycopg.connect(host=socket_dir, dbname="postgres", user="postgres", autocommit=True) as c:
    for _ in range(int(sys.argv[3])):
        c.execute(sys.argv[2])
server.cleanup()
"""


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        (None, MIN_SHARED_BUFFERS),  # unknown: PostgreSQL's own default
        (256 * MiB, MIN_SHARED_BUFFERS),  # a quarter would be less than the default
        (GiB + 7, 256 * MiB),  # whole MiB
        (8 * GiB, 2 * GiB),
        (24 * GiB, MAX_AUTO),  # capped: the size measured on the year archive
    ],
)
def test_the_automatic_size_is_a_quarter_of_memory_within_bounds(
    memory: int | None, expected: int
) -> None:
    assert auto_shared_buffers(memory) == expected


def test_the_machine_memory_is_read_and_is_the_setting_default() -> None:
    memory = machine_memory()
    assert memory is not None and memory > 0
    assert settings.value("PROVDB_EMBEDDED_SHARED_BUFFERS", {}) == auto_shared_buffers(memory)


def test_a_size_below_postgresql_default_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ConfigError, match="PROVDB_EMBEDDED_SHARED_BUFFERS"):
        settings.value("PROVDB_EMBEDDED_SHARED_BUFFERS", {"PROVDB_EMBEDDED_SHARED_BUFFERS": "1MB"})
    # PostgreSQL refuses less than two WAL segments
    with pytest.raises(ConfigError, match="PROVDB_EMBEDDED_MAX_WAL_SIZE"):
        settings.value("PROVDB_EMBEDDED_MAX_WAL_SIZE", {"PROVDB_EMBEDDED_MAX_WAL_SIZE": "16MiB"})
    assert settings.value("PROVDB_EMBEDDED_MAX_WAL_SIZE", {}) == DEFAULT_MAX_WAL_SIZE
    assert settings.value(
        "PROVDB_EMBEDDED_SHARED_BUFFERS", {"PROVDB_EMBEDDED_SHARED_BUFFERS": "2GiB"}
    ) == (2 * GiB)


def test_the_config_is_included_once_and_rewritten_only_when_it_changes(tmp_path: Path) -> None:
    main = tmp_path / "postgresql.conf"
    main.write_text("max_connections = 100\n")
    assert write_server_config(tmp_path, 512 * MiB) is True
    assert write_server_config(tmp_path, 512 * MiB) is False
    assert "shared_buffers = '512MB'" in (tmp_path / CONF_NAME).read_text()
    assert write_server_config(tmp_path, 3 * GiB) is True
    assert "shared_buffers = '3072MB'" in (tmp_path / CONF_NAME).read_text()
    assert f"max_wal_size = '{DEFAULT_MAX_WAL_SIZE >> 20}MB'" in (tmp_path / CONF_NAME).read_text()
    assert write_server_config(tmp_path, 3 * GiB, 2 * GiB) is True
    assert "max_wal_size = '2048MB'" in (tmp_path / CONF_NAME).read_text()
    lines = main.read_text().splitlines()
    assert lines[0] == "max_connections = 100"
    assert lines.count(f"include_if_exists = '{CONF_NAME}'") == 1


@pytest.fixture
def home() -> Iterator[Path]:
    # not under pytest's basetemp (0700 when run as root: the server's own user must
    # reach the data), as in conftest.pg_server
    folder = Path(tempfile.mkdtemp(prefix="provdb-test-buffers-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_embedded_server_starts_with_the_setting_and_alter_system_wins(home: Path) -> None:
    env = {
        "PROVDB_HOME": str(home),
        "PROVDB_EMBEDDED_SHARED_BUFFERS": "160MiB",
        "PROVDB_EMBEDDED_MAX_WAL_SIZE": "96MiB",
    }
    done = run_cli("db", "status", "--json", env=env)
    assert done.returncode in (0, 1), done.stderr  # 1: an empty archive needs upgrading
    assert json.loads(done.stdout)["shared_buffers"] == "160MB"
    assert json.loads(done.stdout)["max_wal_size"] == "96MB"
    # an operator's ALTER SYSTEM (postgresql.auto.conf) is read after provdb.conf
    alter = "ALTER SYSTEM SET shared_buffers = '144MB'"
    altered = run_python(["-c", RUN_SQL, str(home / "pgdata"), alter, "1"], env=env)
    assert altered.returncode == 0, altered.stderr
    done = run_cli("db", "status", "--json", env=env)
    assert json.loads(done.stdout)["shared_buffers"] == "144MB"
    assert "shared_buffers = '160MB'" in (home / "pgdata" / CONF_NAME).read_text()


def test_db_status_counts_checkpoints_and_says_what_to_raise_when_most_were_requested(
    home: Path,
) -> None:
    env = {"PROVDB_HOME": str(home)}
    done = run_cli("db", "status", env=env)
    assert "requested" in done.stdout and "max_wal_size" in done.stdout
    assert "Most checkpoints were requested" not in done.stdout  # a new server: no advice
    before = json.loads(run_cli("db", "status", "--json", env=env).stdout)["checkpoints"]
    # checkpoints asked for count as requested, as those the WAL forces do
    asked = run_python(["-c", RUN_SQL, str(home / "pgdata"), "CHECKPOINT", "12"], env=env)
    assert asked.returncode == 0, asked.stderr
    after = json.loads(run_cli("db", "status", "--json", env=env).stdout)["checkpoints"]
    assert after["requested"] >= before["requested"] + 12
    done = run_cli("db", "status", env=env)
    assert "Most checkpoints were requested" in done.stdout
    assert "PROVDB_EMBEDDED_SHARED_BUFFERS, PROVDB_EMBEDDED_MAX_WAL_SIZE" in done.stdout
