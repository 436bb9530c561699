"""Shared fixtures: sample files, a real PostgreSQL per session, a fresh database per test.

One PostgreSQL server runs for the whole session: provdb's embedded server (started in
a temporary PROVDB_HOME), or the server named by ``PROVDB_TEST_DATABASE_URL``. A
template database is migrated once; every test that asks for ``engine`` gets its own
database cloned from it by pytest-postgresql's janitor (and dropped afterwards).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from pytest_postgresql import factories
from pytest_postgresql.executors.noop import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy.engine import URL, make_url

from provdb.samples import path as samples_path
from tests.servers import as_user, free_port, serve_provdb

__all__ = [
    "REPO",
    "free_port",
    "run_cli",
    "scratch_database",
    "serve_provdb",
    "synthetic_module",
    "write_synthetic_night",
]

#: under CI a skipped test is a failure (see tests/ci_skips.py); each module's leaks are
#: collected, and reported, at its end (see tests/module_garbage.py)
pytest_plugins = ["tests.ci_skips", "tests.module_garbage"]

REPO = Path(__file__).resolve().parent.parent
#: the sample tree: the copy shipped in provdb/samples unless PROVDB_SAMPLES names another
SAMPLES = Path(os.environ.get("PROVDB_SAMPLES") or samples_path()).resolve()


@pytest.fixture(scope="session")
def samples() -> Path:
    """The read-only sample tree (``provdb/samples``; override with PROVDB_SAMPLES)."""
    if not SAMPLES.is_dir():
        pytest.fail(f"sample folder {SAMPLES} not found: unset PROVDB_SAMPLES to use provdb's own")
    return SAMPLES


# ----------------------------------------------------------------------------- server


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NoopExecutor]:
    """Connection details of the session's PostgreSQL server (embedded unless configured)."""
    external = os.environ.get("PROVDB_TEST_DATABASE_URL")
    if external:
        url = make_url(external)
        yield NoopExecutor(
            host=url.host or "localhost",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            options="",
            dbname="provdb_test",
            maintenance_dbname=url.database or "postgres",
        )
        return
    import shutil
    import tempfile

    from provdb.db import start_embedded

    # Not under pytest's basetemp: a second pytest session on the machine prunes old
    # basetemp folders, which would pull the data folder from under a running server.
    home = Path(tempfile.mkdtemp(prefix="provdb-test-pg-"))
    server, socket_dir = start_embedded(home / "pgdata")
    try:
        yield NoopExecutor(
            host=socket_dir, port=5432, user="postgres", options="", dbname="provdb_test"
        )
    finally:
        server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(home, ignore_errors=True)


def migrate_template(
    host: str, port: int, user: str, dbname: str, password: str | None, **_: object
) -> None:
    """pytest-postgresql loader: bring the template database to the newest migration."""
    from provdb import migrate

    engine = sa.create_engine(server_url(host, port, user, password, dbname))
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def server_url(host: str, port: int | str, user: str, password: str | None, dbname: str) -> URL:
    """SQLAlchemy URL for a database of the test server (TCP host or Unix socket folder)."""
    if host.startswith("/"):
        return URL.create(
            "postgresql+psycopg",
            username=user,
            password=password,
            database=dbname,
            query={"host": host, "port": str(port)},
        )
    return URL.create(
        "postgresql+psycopg",
        username=user,
        password=password,
        host=host,
        port=int(port),
        database=dbname,
    )


@pytest.fixture(scope="session")
def provdb_template(pg_server: NoopExecutor) -> Iterator[NoopExecutor]:
    """The session's template database, migrated once; tests get clones of it."""
    janitor = DatabaseJanitor(
        user=pg_server.user,
        host=pg_server.host,
        port=pg_server.port,
        dbname=pg_server.template_dbname,
        password=pg_server.password,
        maintenance_dbname=pg_server.maintenance_dbname,
        as_template=True,
    )
    janitor.drop()
    with janitor:
        janitor.load(migrate_template)
        yield pg_server


postgresql = factories.postgresql("provdb_template")


@pytest.fixture
def db_url(postgresql) -> URL:
    """URL of this test's own fresh, migrated database."""
    info = postgresql.info
    return server_url(info.host, info.port, info.user, info.password, info.dbname)


@pytest.fixture
def engine(db_url: URL) -> Iterator[sa.Engine]:
    """SQLAlchemy engine on this test's own database."""
    eng = sa.create_engine(db_url)
    yield eng
    eng.dispose()


def synthetic_module() -> ModuleType:
    """bench/make_synthetic.py (the lstosa night generator), imported by path: bench/ is
    not a package. It is put in sys.modules as ``make_synthetic`` before it runs (its
    dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(
        "make_synthetic", REPO / "bench" / "make_synthetic.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_synthetic", module)
    spec.loader.exec_module(module)
    return module


def write_synthetic_night(path: Path, runs: int, subruns: int, **options: Any) -> Path:
    """A generated lstosa prov.log night (``generate_night(runs, subruns, **options)``)
    written to ``path``; returns ``path``."""
    path.write_bytes(b"".join(synthetic_module().generate_night(runs, subruns, **options)))
    return path


@contextmanager
def scratch_database(pg: NoopExecutor, prefix: str, *, migrated: bool = True) -> Iterator[URL]:
    """A database of its own on the test server, dropped on exit.

    ``migrated``: cloned from the migrated template; otherwise empty (no schema at all).
    """
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    janitor = DatabaseJanitor(
        user=pg.user,
        host=pg.host,
        port=pg.port,
        dbname=name,
        password=pg.password,
        maintenance_dbname=pg.maintenance_dbname,
        template_dbname=pg.template_dbname if migrated else None,
    )
    with janitor:
        yield server_url(pg.host, pg.port, pg.user, pg.password, name)


@contextmanager
def ingested_archive(
    pg: NoopExecutor, prefix: str, paths: Sequence[Path], model: Path
) -> Iterator[sa.Engine]:
    """A scratch database (:func:`scratch_database`) with ``paths`` ingested in this
    process, one ``ingest_file`` each in order with the lstosa definition ``model``; every
    file must be new. Yields an engine on it (disposed on exit)."""
    from provdb.ingest.lstosa.definition import load_model
    from provdb.ingest.pipeline import ingest_file

    with scratch_database(pg, prefix) as url:
        engine = sa.create_engine(url)
        try:
            lstosa_model = load_model(model)
            for path in paths:
                raw = engine.raw_connection()
                try:
                    result = ingest_file(raw.driver_connection, path, model=lstosa_model)
                finally:
                    raw.close()
                assert result.status == "new", (path, result.error)
            yield engine
        finally:
            engine.dispose()


@pytest.fixture
def empty_db_url(pg_server: NoopExecutor) -> Iterator[URL]:
    """A fresh database with no schema at all (for migration tests)."""
    with scratch_database(pg_server, "provdb_empty", migrated=False) as url:
        yield url


# ----------------------------------------------------------------------------- CLI


def run_python(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 300,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGV`` from the checkout in a real subprocess: without the caller's
    PROVDB_* settings, with ``env``; as the system ``user`` if given (root only, see
    :func:`tests.servers.as_user`). Output is captured as text."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PROVDB_")}
    full_env.update(env or {})
    return subprocess.run(
        [*as_user(user), sys.executable, *argv],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=timeout,
        cwd=REPO,
    )


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 300,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m provdb ARGS`` in a real subprocess (as a user would); see
    :func:`run_python`."""
    return run_python(["-m", "provdb", *args], env=env, input=input, timeout=timeout, user=user)


def run_bench_script(
    script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``bench/SCRIPT ARGS`` in a real subprocess (the benchmarks' own tests); see
    :func:`run_python`."""
    return run_python([str(REPO / "bench" / script), *args], env=env, timeout=timeout)


@pytest.fixture
def bench_workdir() -> Iterator[Path]:
    """A benchmark's workdir (not yet created), not under pytest's basetemp: another
    pytest session on the machine makes that 0700 again, and the embedded servers' own
    user must reach their data."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="provdb-test-bench-"))
    yield folder / "work"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cli_env(db_url: URL) -> dict[str, str]:
    """Environment that points the CLI at this test's database."""
    return {"PROVDB_DATABASE_URL": db_url.render_as_string(hide_password=False)}


# ----------------------------------------------------------------------------- service


@pytest.fixture(scope="session")
def archive_url(provdb_template: NoopExecutor, samples: Path) -> Iterator[URL]:
    """A session database holding every sample log, ingested by the real CLI."""
    with sample_archive(provdb_template, samples, "provdb_archive") as url:
        yield url


@contextmanager
def sample_archive(pg: NoopExecutor, samples: Path, prefix: str) -> Iterator[URL]:
    """A database of its own holding every sample log (ingested by the real CLI), dropped
    on exit: for tests whose services must not share the session archive's job queue."""
    with scratch_database(pg, prefix) as url:
        env = {"PROVDB_DATABASE_URL": url.render_as_string(hide_password=False)}
        result = run_cli(
            "ingest",
            "-q",
            "--model",
            str(samples / "lstosa/config/definition.yaml"),
            str(samples),
            env=env,
        )
        assert result.returncode == 0, result.stderr
        yield url


@pytest.fixture(scope="session")
def tap_server(archive_url: URL) -> Iterator[str]:
    """`provdb serve` (gunicorn, 2 processes) on the sample archive; yields the TAP base URL."""
    env = {"PROVDB_TAP_MAXREC": "100000"}
    with serve_provdb(archive_url, env, workers=2, prefix="provdb-test-tap-") as served:
        yield served.tap
