"""archive.product_flag kept current by every ingest and scan (provdb.answers.flags).

The key property: after any sequence of ingests and scans, the incrementally maintained
table equals a full rebuild, and equals the flags expected from the scenario's records
(tests/provdb/check_scenario.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.answers.flags import rebuild_flags
from provdb.ingest.pipeline import ingest_file
from tests.conftest import run_cli, write_synthetic_night
from tests.provdb import check_scenario as sc
from tests.provdb.test_scan import H5_SAMPLES

FLAG_COLUMNS = "entity_id, rule, severity, detail, cause_id"


def _ingest(engine: sa.Engine, path: Path, **kwargs):
    raw = engine.raw_connection()
    try:
        return ingest_file(raw.driver_connection, path, **kwargs)
    finally:
        raw.close()


def _flags(engine: sa.Engine) -> set[tuple]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text(f"SELECT {FLAG_COLUMNS} FROM archive.product_flag")))


def _since(engine: sa.Engine) -> dict[tuple[str, str], object]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT entity_id, rule, since FROM archive.product_flag"))
        return {(e, r): s for e, r, s in rows}


def _rebuilt(engine: sa.Engine) -> set[tuple]:
    """A full recompute, rolled back so that the incremental table is kept."""
    with engine.connect() as conn:
        trans = conn.begin()
        rebuild_flags(conn)
        rows = set(conn.execute(sa.text(f"SELECT {FLAG_COLUMNS} FROM archive.product_flag")))
        trans.rollback()
    return rows


@pytest.mark.parametrize("order", [("part1", "part2"), ("part2", "part1")])
def test_incremental_flags_equal_a_rebuild_and_the_expected_ones(
    engine: sa.Engine, tmp_path: Path, order: tuple[str, str]
) -> None:
    files = sc.paths()
    for i, part in enumerate(order):
        text = getattr(sc, part)(files)
        result = _ingest(engine, sc.write(tmp_path / str(i), "prov.log", text))
        assert result.status == "new", result.error
        assert _flags(engine) == _rebuilt(engine)
    assert {(r, e) for e, r, *_ in _flags(engine)} == sc.expected(files, regenerated=True)


def test_since_is_kept_while_a_flag_stays(engine: sa.Engine, tmp_path: Path) -> None:
    files = sc.paths()
    _ingest(engine, sc.write(tmp_path / "a", "prov.log", sc.part1(files)))
    before = _since(engine)
    assert {(r, e) for e, r in before} == sc.expected(files, regenerated=False)
    _ingest(engine, sc.write(tmp_path / "b", "prov.log", sc.part2(files)))
    after = _since(engine)
    assert all(after[k] == v for k, v in before.items())
    assert set(after) > set(before)


def test_a_failed_ingest_leaves_the_flags_as_they_were(engine: sa.Engine, tmp_path: Path) -> None:
    files = sc.paths()
    _ingest(engine, sc.write(tmp_path / "a", "prov.log", sc.part1(files)))
    before = _flags(engine)
    bad = sc.part2(files) + "INFO provLogger __PROV__2026-01-18T00:00:00__PROV__{'broken'\n"
    result = _ingest(engine, sc.write(tmp_path / "b", "prov.log", bad), strict=True)
    assert result.status == "failed"
    assert _flags(engine) == before
    assert not any(r == "stale" for _, r, *_ in before)


def test_scanned_hashes_regeneration_and_a_silent_change(
    engine: sa.Engine, tmp_path: Path, samples: Path, cli_env: dict[str, str]
) -> None:
    """CAL scanned before and after its regeneration: 2 hashes, 2 generations, no
    conflict. DL1.0000 rewritten without a new generation: 2 hashes, 1 generation."""
    root = tmp_path / "data"
    files = sc.paths(str(root.resolve()))
    # a sample without embedded history (the lstchain samples record their own
    # generation, which a scan would add); the second content: the same bytes and more
    # (HDF5 ignores bytes past its end of file)
    one = samples / H5_SAMPLES / "dl1_meta_sample.h5"
    for short in ("CAL", "DL1.0000"):
        Path(files[short]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(one, files[short])

    def scan() -> None:
        result = run_cli(
            "scan", "-q", "--hash", "md5", files["CAL"], files["DL1.0000"], env=cli_env
        )
        assert result.returncode == 0, result.stderr

    _ingest(engine, sc.write(tmp_path / "a", "prov.log", sc.part1(files)))
    scan()
    for short in ("CAL", "DL1.0000"):  # CAL regenerated below; DL1.0000 silently
        with open(files[short], "ab") as f:
            f.write(b"\0" * 4096)
    _ingest(engine, sc.write(tmp_path / "b", "prov.log", sc.part2(files)))
    scan()
    with engine.connect() as conn:
        counts = dict(
            conn.execute(
                sa.text("SELECT entity_id, count(*) FROM archive.entity_hash GROUP BY 1")
            ).all()
        )
    assert counts == {sc.fid(files["CAL"]): 2, sc.fid(files["DL1.0000"]): 2}
    expected = sc.expected(files, regenerated=True) | {("hash-conflict", sc.fid(files["DL1.0000"]))}
    ours = {sc.fid(p) for p in files.values()}
    found = {(r, e) for e, r, *_ in _flags(engine) if e in ours}
    assert found == expected
    assert _flags(engine) == _rebuilt(engine)
    result = run_cli("check", "--rule", "hash-conflict", "--format", "json", env=cli_env)
    assert result.returncode == 1 and files["DL1.0000"] in result.stdout


def _affected_after(engine: sa.Engine, entity_id: str, **stages: bool) -> set[str]:
    """Entities update_flags recomputes when one batch names ``entity_id`` as a used input
    (``used=True``) or as a generated/changed entity (``touched=True``); rolled back."""
    from provdb.answers import flags

    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE _one (entity_id text)")
            cur.execute("INSERT INTO _one VALUES (%s)", (entity_id,))
            flags.note_batch(
                cur,
                entity_stages=["_one"] if stages.get("touched") else [],
                used_stages=["_one"] if stages.get("used") else [],
            )
            flags.update_flags(cur)
            cur.execute("SELECT entity_id FROM _flags_affected")
            affected = {row[0] for row in cur.fetchall()}
        conn.rollback()
        return affected
    finally:
        raw.close()


def test_a_file_every_night_uses_does_not_recompute_the_whole_archive(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The month's time calibration file is an input of every night's products: a new use
    of it (the next night) refreshes it alone; a change of it, all its descendants. Before
    this, each night recomputed the flags of every earlier product (bench_year.py)."""
    for night, (date, first_run) in enumerate((("20250101", 2000), ("20250102", 2010))):
        path = write_synthetic_night(
            tmp_path / f"{date}.prov.log",
            2,
            2,
            date=date,
            seed=night + 1,
            first_run=first_run,
            dl2=True,
            dl3=True,
            connected_calibration=True,
        )
        assert _ingest(engine, path).status == "new"
    with engine.connect() as conn:
        (calib,) = conn.execute(
            sa.text("SELECT id FROM provenance.entity WHERE name = 'TimeCalibrationFile'")
        ).one()
        descendants = set(
            conn.execute(
                sa.text("SELECT entity_id FROM archive.lineage WHERE ancestor_id = :a"),
                {"a": calib},
            ).scalars()
        )
    assert len(descendants) > 20  # both nights' DL1, DL2 and DL3 products
    assert _affected_after(engine, calib, used=True) == {calib}
    assert _affected_after(engine, calib, touched=True) == descendants | {calib}
    # and the flags the two nights left are those of a full recompute
    assert _flags(engine) == _rebuilt(engine)


def test_an_unchanged_re_sighting_touches_nothing_but_a_filled_gap_does(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The loader marks an entity as changed only when it is new or gets a column filled
    in (the merge keeps first values): re-reading the same entity record changes nothing."""
    from provdb.ingest.load import _CHANGED_STAGE

    path = tmp_path / "night.prov.log"
    write_synthetic_night(path, 1, 2, dl2=True, connected_calibration=True)
    assert _ingest(engine, path).status == "new"
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            cur.execute("SELECT id, location FROM provenance.entity ORDER BY id LIMIT 2")
            (same, same_loc), (gap, _) = cur.fetchall()
            cur.execute("UPDATE provenance.entity SET content_type = NULL WHERE id = %s", (gap,))
            cur.execute(
                "CREATE TEMP TABLE _stage_entity AS "
                "SELECT * FROM provenance.entity WHERE id IN (%s, %s)",
                (same, gap),
            )
            cur.execute("UPDATE _stage_entity SET content_type = 'application/x-hdf'")
            cur.execute(
                "UPDATE _stage_entity SET content_type = e.content_type "
                "FROM provenance.entity e WHERE e.id = _stage_entity.id "
                "AND e.content_type IS NOT NULL"
            )
            from provdb.ingest.load import TABLES, Loader

            entity = next(t for t in TABLES if t.table == "provenance.entity")
            Loader(conn, source_format="lstosa")._note_changed_entities(cur, entity)
            cur.execute(f"SELECT entity_id FROM {_CHANGED_STAGE}")
            changed = {row[0] for row in cur.fetchall()}
        conn.rollback()
    finally:
        raw.close()
    assert same_loc
    assert changed == {gap}
