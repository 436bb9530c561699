"""archive.product_version with migration 0015's indexes: the same rows as a query of
the base tables written here (samples with scanned files; a generated night with
reprocessing, ingested again, then a second night), and plans that use the indexes.

The reference is computed in Python from provenance.entity, wasgeneratedby, activity
and archive.software, with the data-level rule re-implemented with ``re``: it shares no
SQL with the view, so a view or index change that alters rows fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from provdb.schema.product_type import PRODUCT_TYPE_INDEX, product_type_sql
from tests.conftest import REPO, run_cli
from tests.provdb.test_versions import versions_archive  # noqa: F401  (fixture)

_LEVEL = r"(?:^|[^A-Z0-9])(R0|R1|DL[0-5])(?![0-9])"
COLUMNS = (
    "entity_id, entity_name, location, product_type, package, version, major, minor, "
    "patch, source, origin"
)


def _level(attributes: Any, name: str | None, location: str | None) -> str | None:
    """The view's product_type rule, in Python."""
    scan = attributes.get("scan") if isinstance(attributes, dict) else None
    if isinstance(scan, dict) and scan.get("data_level") is not None:
        return str(scan["data_level"])
    if name is not None and (m := re.search(_LEVEL, name.upper())):
        return m.group(1)
    if location is not None and (m := re.search(_LEVEL + r"[^/]*$", location.upper())):
        return m.group(1)
    return None


def _reference(conn: sa.Connection) -> set[tuple[Any, ...]]:
    """Products and their versions from the base tables (file rows, then log rows)."""
    entities = {
        row.id: row
        for row in conn.execute(
            sa.text("SELECT id, name, location, attributes FROM provenance.entity")
        )
    }
    software = conn.execute(
        sa.text(
            "SELECT entity_id, session_id, package, version, major, minor, patch, source "
            "FROM archive.software"
        )
    ).all()
    by_session: dict[str, list[Any]] = {}
    for w in software:
        if w.session_id is not None:
            by_session.setdefault(w.session_id, []).append(w)
    session_of = dict(conn.execute(sa.text("SELECT id, session_id FROM provenance.activity")).all())
    out: set[tuple[Any, ...]] = set()

    def row(e: Any, w: Any, source: str) -> tuple[Any, ...]:
        level = _level(e.attributes, e.name, e.location)
        return (e.id, e.name, e.location, level, w.package, w.version, w.major, w.minor,
                w.patch, source, w.source)  # fmt: skip

    for w in software:
        if w.entity_id is not None:
            out.add(row(entities[w.entity_id], w, "file"))
    generations = conn.execute(
        sa.text("SELECT entity_id, activity_id FROM provenance.wasgeneratedby")
    )
    for entity_id, activity_id in generations:
        for w in by_session.get(session_of.get(activity_id), ()):
            out.add(row(entities[entity_id], w, "log"))
    return out


def _view(conn: sa.Connection) -> list[tuple[Any, ...]]:
    return [
        tuple(r) for r in conn.execute(sa.text(f"SELECT {COLUMNS} FROM archive.product_version"))
    ]


def _assert_view_is_reference(engine: sa.Engine) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        view = _view(conn)
        expected = _reference(conn)
    assert len(view) == len(set(view)), "the view's UNION returned duplicates"
    assert set(view) == expected
    return expected


def test_samples_view_rows_equal_the_reference(versions_archive: dict, engine: sa.Engine) -> None:  # noqa: F811
    rows = _assert_view_is_reference(engine)
    # both kinds of rows and several data levels are there to compare
    assert {r[9] for r in rows} == {"file", "log"}
    assert {"DL1", "DL2"} <= {r[3] for r in rows}


def _plan(conn: sa.Connection, where: str) -> str:
    conn.execute(sa.text("ANALYZE provenance.entity"))
    conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
    lines = conn.execute(
        sa.text(f"EXPLAIN SELECT DISTINCT entity_id FROM archive.product_version WHERE {where}")
    )
    return "\n".join(r[0] for r in lines)


def test_filters_use_the_indexes(versions_archive: dict, engine: sa.Engine) -> None:  # noqa: F811
    # with sequential scans off the planner can only read entities by product_type
    # through the index if the index's expression is the view's, node for node
    with engine.begin() as conn:
        plan = _plan(conn, "product_type = 'DL2'")
        assert plan.count(PRODUCT_TYPE_INDEX) == 2, plan  # both arms of the UNION
    with engine.begin() as conn:
        # a version as written: both columns are index conditions of the new index (the
        # older one on the numeric parts can only filter the package's rows)
        conn.execute(sa.text("ANALYZE archive.software"))
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                sa.text(
                    "EXPLAIN SELECT session_id FROM archive.software "
                    "WHERE package = 'lstchain' AND version = '0.12.3'"
                )
            )
        )
        assert "ix_software_version_session" in plan, plan
    with engine.connect() as conn:
        # and the expression the models declare is the one the view computes
        got = conn.execute(
            sa.text(
                f"SELECT count(*) FILTER (WHERE {product_type_sql('e')} IS DISTINCT FROM "
                "v.product_type) FROM archive.product_version v "
                "JOIN provenance.entity e ON e.id = v.entity_id"
            )
        ).scalar_one()
        assert got == 0


# ----------------------------------------------------------------------------- generated


def _night(tmp_path: Path, name: str, date: str, first_run: int) -> Path:
    """A small generated lstosa night with DL2, DL3 and one reprocessed run (lstchain
    0.12.3, then 0.12.4 for the reprocessing)."""
    folder = tmp_path / name
    folder.mkdir()
    out = folder / "prov.log"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench/make_synthetic.py"),
            "--runs",
            "2",
            "--subruns",
            "2",
            "--dl2",
            "--dl3",
            "--reprocess",
            "1",
            "--date",
            date,
            "--first-run",
            str(first_run),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return folder


def _ingest(folder: Path, samples: Path, cli_env: dict[str, str]) -> None:
    model = str(samples / "lstosa/config/definition.yaml")
    result = run_cli("ingest", "-q", "--model", model, str(folder), env=cli_env)
    assert result.returncode == 0, result.stderr


def test_generated_reprocessing_and_later_nights_stay_current(
    engine: sa.Engine, cli_env: dict[str, str], samples: Path, tmp_path: Path
) -> None:
    first = _night(tmp_path, "n1", "20201101", 3000)
    _ingest(first, samples, cli_env)
    rows = _assert_view_is_reference(engine)
    versions = {(r[4], r[5]) for r in rows if r[10] == "session"}
    assert versions == {("lstchain", "0.12.3"), ("lstchain", "0.12.4")}
    # the reprocessed DL3 has both lstosa versions; the product-type filter finds it
    with engine.connect() as conn:
        dl3 = conn.execute(
            sa.text(
                "SELECT entity_id, array_agg(DISTINCT version ORDER BY version) "
                "FROM archive.product_version WHERE package = 'lstchain' "
                "AND origin = 'session' AND product_type = 'DL3' GROUP BY entity_id"
            )
        ).all()
    assert len(dl3) == 2 and ["0.12.3", "0.12.4"] in [v for _, v in dl3]

    _ingest(first, samples, cli_env)  # the same night again: nothing changes
    assert _assert_view_is_reference(engine) == rows

    second = _night(tmp_path, "n2", "20201102", 3100)
    _ingest(second, samples, cli_env)
    grown = _assert_view_is_reference(engine)
    assert rows < grown
    with engine.connect() as conn:
        new_dl3 = conn.execute(
            sa.text(
                "SELECT count(DISTINCT entity_id) FROM archive.product_version "
                "WHERE product_type = 'DL3' AND location LIKE '%20201102%'"
            )
        ).scalar_one()
    assert new_dl3 == 2
