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
from tests.conftest import run_cli
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
