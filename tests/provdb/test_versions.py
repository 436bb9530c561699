"""Software versions: parsing, session rows, products by version (SQL, CLI, ADQL/TAP, pyvo).

The archive of these tests holds every sample log (sessions: lstosa 'v0.12.3', ctapipe
0.25.1 and 0.7.0) plus the scanned sample HDF5 files and the generated tree of
``test_scan`` (lstchain 0.9.13 / 0.10.5 files, ctapipe 0.17.0), so that the version
queries have both 'file' and 'log' answers, and old versions to find.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL

from provdb.ingest.identifiers import path_entity_id
from provdb.versions import (
    normalize_package,
    parse_version,
    products_by_version,
    products_with_version,
    sync_session_versions,
    version_parts,
)
from tests.conftest import REPO, free_port, run_cli
from tests.http_sessions import ClosingSession
from tests.provdb.test_scan import H5_SAMPLES, make_tree

EXAMPLES = REPO / "tap/example_queries"
MIGRATION = next((REPO / "migrations/versions").glob("*_0006_*.py"))


def test_parse_version_and_package_names() -> None:
    assert parse_version("v0.12.3") == ("0.12.3", 0, 12, 3)
    assert parse_version(b" 0.9.13 ") == ("0.9.13", 0, 9, 13)
    assert parse_version("0.7.0.post34+git92816b6") == ("0.7.0.post34+git92816b6", 0, 7, 0)
    assert parse_version("1.3") == ("1.3", 1, 3, None)
    assert parse_version("unknown") == ("unknown", None, None, None)
    assert parse_version("vintage") == ("vintage", None, None, None)  # 'v' kept: no digit
    assert parse_version("  ") is None and parse_version(None) is None
    assert version_parts("0.10.16.dev3+g1234") == (0, 10, 16)
    assert normalize_package("CTAPIPE_IO_LST") == normalize_package("ctapipe-io-lst")
    assert normalize_package("ctapipe-io-lst") == "ctapipe_io_lst"


# ----------------------------------------------------------------------------- archive


def _ingest_samples(samples: Path, cli_env: dict[str, str]) -> None:
    result = run_cli(
        "ingest",
        "-q",
        "--model",
        str(samples / "lstosa/config/definition.yaml"),
        str(samples),
        env=cli_env,
    )
    assert result.returncode == 0, result.stderr


def _session_rows(engine: sa.Engine) -> set[tuple[Any, ...]]:
    with engine.connect() as c:
        return {
            tuple(r)
            for r in c.execute(
                sa.text(
                    "SELECT session_id, source, keyword, package, version, major, minor, patch "
                    "FROM archive.software WHERE session_id IS NOT NULL"
                )
            )
        }


def test_session_rows_from_code_and_migration_agree(
    engine: sa.Engine, cli_env: dict[str, str], samples: Path
) -> None:
    _ingest_samples(samples, cli_env)
    with engine.begin() as c:
        # the ingest already filled them: start again from none
        c.execute(sa.text("DELETE FROM archive.software WHERE session_id IS NOT NULL"))
        written = sync_session_versions(c)
        assert sync_session_versions(c) == 0  # idempotent
    rows = _session_rows(engine)
    assert written == len(rows) > 0
    by_session: dict[str, set[tuple[str, str, str]]] = {}
    for sid, source, _, package, version, *_ in rows:
        by_session.setdefault(sid, set()).add((source, package, version))
    with engine.connect() as c:
        query = sa.text("SELECT id, source_format FROM archive.processing_session")
        sessions = {sid: fmt for sid, fmt in c.execute(query)}
    for sid, fmt in sessions.items():
        got = by_session.get(sid, set())
        if fmt == "lstosa" and sid.startswith("20200117"):
            # lstosa: 'v0.12.3' is lstchain 0.12.3; the environment gives ctapipe
            assert ("session", "lstchain", "0.12.3") in got
            assert ("environment", "ctapipe", "0.25.1") in got
            assert ("environment", "lstchain", "0.12.3") not in got  # declared one kept
        if fmt == "ctapipe":
            assert {p for s, p, _ in got if s == "ctapipe"} == {"ctapipe"}
    assert ("ctapipe", "ctapipe", "0.7.0.post34+git92816b6") in set().union(*by_session.values())
    # the migration's frozen copy of the statement gives exactly the same rows
    spec = importlib.util.spec_from_file_location("migration_0006", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM archive.software"))
        c.exec_driver_sql(module.SESSION_ROWS)
    assert _session_rows(engine) == rows


def test_ingest_syncs_exactly_the_sessions_of_each_file(
    engine: sa.Engine, cli_env: dict[str, str], samples: Path
) -> None:
    """Each ingested file syncs only its own sessions' versions (the loader's
    ``session_ids``): over every sample format together that gives exactly the rows of
    one sync over the whole archive, so no session is missed."""
    _ingest_samples(samples, cli_env)
    by_ingest = _session_rows(engine)
    assert len({row[0] for row in by_ingest}) > 3  # lstosa and ctapipe sessions
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM archive.software WHERE session_id IS NOT NULL"))
        sync_session_versions(c)
    assert _session_rows(engine) == by_ingest


@pytest.fixture
def versions_archive(
    engine: sa.Engine,
    db_url: URL,
    cli_env: dict[str, str],
    samples: Path,
    tmp_path: Path,
) -> dict[str, Any]:
    """Samples ingested and sessions synced, the sample HDF5 files and the generated
    tree scanned, TAP_SCHEMA publishing archive.product_version."""
    from provdb.schema import tap_schema
    from provdb.schema.software import PRODUCT_VERSION_VIEW

    _ingest_samples(samples, cli_env)
    with engine.begin() as c:
        sync_session_versions(c)
    root = tmp_path / "data"
    expected = make_tree(root)
    result = run_cli("scan", "-q", str(root), str(samples / H5_SAMPLES), env=cli_env)
    assert result.returncode == 1, result.stderr  # the tree's two bad files
    # published by the migrations themselves: no test-side registration
    assert PRODUCT_VERSION_VIEW in tap_schema.VIEWS
    return {
        "url": db_url.render_as_string(hide_password=False),
        "root": root,
        "expected": expected,
        "dl2_old": str(root / "dl2/dl2_LST-1.Run02000.0000.h5"),
        "dl2_new": str(root / "dl2/dl2_LST-1.Run02000.0001.h5"),
        "dl2_sample": str((samples / H5_SAMPLES / "dl2_LST-1.Run01807.0000.h5").resolve()),
    }


def test_products_by_version_and_the_versions_command(
    engine: sa.Engine, cli_env: dict[str, str], versions_archive: dict[str, Any]
) -> None:
    with engine.connect() as c:
        rows = products_by_version(c, product_type="dl2", package="LSTCHAIN")
        every = products_by_version(c)
        listed = products_with_version(c, "lstchain", major=0, minor=9, product_type="DL2")
    table = {(r["version"], r["product_type"]): r for r in rows}
    assert set(table) == {("0.9.13", "DL2"), ("0.10.5", "DL2"), ("0.12.3", "DL2")}
    old = table[("0.9.13", "DL2")]
    # the tree's DL2: the file says 0.9.13, and so does its /provenance session
    assert (old["n_products"], old["n_from_files"], old["n_from_logs"]) == (1, 1, 1)
    assert (old["major"], old["minor"], old["patch"]) == (0, 9, 13)
    assert table[("0.10.5", "DL2")]["n_from_logs"] == 0
    # sample DL2 (file + log) and the ctapipe sample log's DL2 output (log only)
    assert table[("0.12.3", "DL2")]["n_products"] == 2
    assert {r["package"] for r in every} >= {"lstchain", "ctapipe", "ctapipe_io_lst", "pyirf"}
    versions_of = [(r["package"], r["major"], r["minor"]) for r in every]
    assert versions_of == sorted(versions_of, key=lambda v: (v[0], v[1] is None, v[1], v[2]))
    assert [(r["location"], r["sources"]) for r in listed] == [
        (versions_archive["dl2_old"], "file,log")
    ]

    result = run_cli("versions", "--product-type", "DL2", "--package", "lstchain", env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = [ln for ln in result.stdout.splitlines() if "lstchain" in ln]
    assert [ln.split("│")[2].strip() for ln in lines] == ["0.9.13", "0.10.5", "0.12.3"]
    result = run_cli("versions", "--json", "--package", "ctapipe", env=cli_env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {(r["version"], r["product_type"]) for r in data} >= {
        ("0.17.0", "DL1"),
        ("0.17.0", "DL2"),
        ("0.25.1", "DL1"),
    }
    result = run_cli("versions", "--package", "nothing_like_this", env=cli_env)
    assert result.returncode == 0 and "No software versions" in result.stdout


# ----------------------------------------------------------------------------- ADQL


def _example(name: str) -> str:
    path = next(EXAMPLES.glob(f"{name}_*.adql"))
    lines = path.read_text().splitlines()
    assert lines[0].startswith("-- ") and lines[1].startswith("-- ")  # title, description
    return "\n".join(ln for ln in lines if not ln.startswith("--")).strip()


@contextlib.contextmanager
def _app(url: str, home: Path) -> Iterator[Any]:
    """The TAP Flask application on ``url`` (its connections closed afterwards)."""
    from provdb.config import Settings
    from provdb.db import connect
    from tap.app import create_app

    settings = Settings(database_url=url, home=home)
    database = connect(settings)
    try:
        yield create_app(settings=settings, start_workers=False, database=database)
    finally:
        database.dispose()


def _csv(client: Any, query: str) -> list[dict[str, str]]:
    import csv
    import io

    r = client.post(
        "/tap/sync",
        data={"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv", "MAXREC": "100000"},
    )
    assert r.status_code == 200, (query, r.get_data(as_text=True)[:800])
    return list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))


#: "every DL2 product made with lstchain 0.9.x" (the issue's words)
DL2_LSTCHAIN_09 = (
    "SELECT DISTINCT location, version, source FROM archive.product_version "
    "WHERE product_type = 'DL2' AND package = 'lstchain' AND major = 0 AND minor = 9"
)
#: "every product whose chain used ctapipe < 0.20": its own versions or its ancestors'
OWN_CTAPIPE_LT_020 = (
    "SELECT DISTINCT location FROM archive.product_version "
    "WHERE package = 'ctapipe' AND major = 0 AND minor < 20"
)
CHAIN_CTAPIPE_LT_020 = (
    "SELECT DISTINCT p.location FROM archive.lineage AS l "
    "JOIN archive.product_version AS v ON v.entity_id = l.ancestor_id "
    "JOIN provenance.entity AS p ON p.id = l.entity_id "
    "WHERE v.package = 'ctapipe' AND v.major = 0 AND v.minor < 20"
)


def test_version_queries_through_tap(versions_archive: dict[str, Any], tmp_path: Path) -> None:
    with _app(versions_archive["url"], tmp_path) as app:
        _check_version_queries(app.test_client(), versions_archive)


def _check_version_queries(client: Any, versions_archive: dict[str, Any]) -> None:
    root = versions_archive["root"]
    # the published examples run and return products
    dl1 = _csv(client, _example("20"))
    assert dl1 and {r["version"] for r in dl1} == {"0.12.3"}
    assert {r["source"] for r in dl1} == {"file", "log"}  # scanned sample DL1s, logs
    chain = _csv(client, _example("21"))
    assert chain and all(r["ctapipe_version"].startswith("0.") for r in chain)
    assert versions_archive["dl2_old"] in {r["product"] for r in chain}
    overview = _csv(client, _example("22"))
    assert {"lstchain", "ctapipe"} <= {r["package"] for r in overview}
    assert all(int(r["n_products"]) > 0 for r in overview)

    rows = _csv(client, DL2_LSTCHAIN_09)
    assert {(r["location"], r["source"]) for r in rows} == {
        (versions_archive["dl2_old"], "file"),
        (versions_archive["dl2_old"], "log"),
    }
    own = {r["location"] for r in _csv(client, OWN_CTAPIPE_LT_020)}
    chain_old = {r["location"] for r in _csv(client, CHAIN_CTAPIPE_LT_020)}
    assert {
        str(root / "dl1/dl1_LST-1.Run02000.0000.h5"),
        versions_archive["dl2_old"],
        str(root / "dl3/dl3_LST-1.Run02000.fits"),
    } <= own
    assert versions_archive["dl2_old"] in chain_old  # its input was made with 0.17.0
    assert versions_archive["dl2_sample"] not in own | chain_old  # ctapipe 0.25.1 only

    # archive.software is published, with the version index flagged
    columns = _csv(
        client,
        "SELECT column_name, indexed FROM tap_schema.columns WHERE table_name = 'archive.software'",
    )
    indexed = {r["column_name"] for r in columns if r["indexed"] == "1"}
    assert {"package", "major", "minor", "patch", "entity_id", "session_id"} <= indexed
    file_rows = _csv(
        client,
        "SELECT e.location, s.package, s.version FROM archive.software AS s "
        "JOIN provenance.entity AS e ON e.id = s.entity_id WHERE s.source = 'file-root' "
        f"AND s.entity_id = '{path_entity_id(versions_archive['dl2_new'])}'",
    )
    assert file_rows == [
        {"location": versions_archive["dl2_new"], "package": "lstchain", "version": "0.10.5"}
    ]


@pytest.fixture
def http_tap(versions_archive: dict[str, Any], tmp_path: Path) -> Iterator[str]:
    """The TAP service of this test's archive over real HTTP (for pyvo)."""
    from werkzeug.serving import make_server

    with _app(versions_archive["url"], tmp_path) as app:
        server = make_server("127.0.0.1", free_port(), app)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}/tap"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


def test_version_queries_through_pyvo(versions_archive: dict[str, Any], http_tap: str) -> None:
    import pyvo

    # closes the responses pyvo leaves open, with their sockets (see ClosingSession)
    with ClosingSession() as session:
        tap = pyvo.dal.TAPService(http_tap, session=session)
        assert "archive.product_version" in set(tap.tables.keys())
        table = tap.run_sync(DL2_LSTCHAIN_09).to_table()
        assert set(table["location"]) == {versions_archive["dl2_old"]}
        chain = tap.run_sync(CHAIN_CTAPIPE_LT_020).to_table()
        assert versions_archive["dl2_old"] in set(chain["location"])
        dl1 = tap.run_sync(_example("20")).to_table()
        assert len(dl1) > 0 and set(dl1["version"]) == {"0.12.3"}


def test_session_package_rule() -> None:
    from provdb.ingest.load import session_package

    assert session_package("lstosa", "v0.12.3") == "lstchain"
    assert session_package("prov-json", "v0.9.6") == "lstchain"
    assert session_package("ctapipe", "0.25.1") == "ctapipe"
    assert session_package("ctapipe", "ctapipe-io-lst 0.22.4") == "ctapipe_io_lst"
    assert session_package("ctapipe", None) is None
    assert session_package("lstosa", "") is None


def test_session_package_from_ingest_and_migration_agree(
    engine: sa.Engine, cli_env: dict[str, str], samples: Path
) -> None:
    _ingest_samples(samples, cli_env)
    query = sa.text(
        "SELECT s.id, s.source_format, s.software_version, s.software_package, w.package "
        "FROM archive.processing_session s LEFT JOIN archive.software w "
        "ON w.session_id = s.id AND w.source IN ('session', 'ctapipe')"
    )
    with engine.connect() as c:
        rows = c.execute(query).all()
    packages = {r.software_package for r in rows}
    assert {"lstchain", "ctapipe"} <= packages  # versions of both are now told apart
    for r in rows:
        # the session's package is the one archive.software gives its declared version
        assert (r.software_package is None) == (not r.software_version), r
        if r.software_version:
            assert r.software_package == r.package, r
    # the migration's backfill of existing rows gives exactly the same packages
    module_path = next((REPO / "migrations/versions").glob("*_0011_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0011", module_path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE archive.processing_session SET software_package = NULL"))
        c.exec_driver_sql(module.BACKFILL)
    with engine.connect() as c:
        assert sorted(map(tuple, c.execute(query).all())) == sorted(map(tuple, rows))
    # published in TAP_SCHEMA like the other session columns
    with engine.connect() as c:
        described = c.execute(
            sa.text(
                "SELECT description FROM tap_schema.columns "
                "WHERE table_name = 'archive.processing_session' "
                "AND column_name = 'software_package'"
            )
        ).scalar_one()
    assert "software_version" in described
