"""The lineage closure (archive.lineage_closure, shown by the view archive.lineage) kept by
the ingest, checked on the sample night."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from provdb.ingest.pipeline import ingest_file
from provdb.lineage.closure import rebuild_all

NIGHT = "generated/lstosa_simulate_processing/prov.log"
DL1B = "%/tailcut84/dl1_LST-1.Run01807.0002.h5"
DL1A = "%/v0.1.0/dl1_LST-1.Run01807.0002.h5"
R0 = "%/R0G/20200117/LST-1.1.Run01807.0002.fits.fz"
PEDESTAL_USED = "%/drs4_baseline/20200117/v0.1.1/drs4_pedestal.Run01804.0000.h5"


def _ingest(engine: sa.Engine, path: Path) -> None:
    raw = engine.raw_connection()
    try:
        result = ingest_file(raw.driver_connection, path)
    finally:
        raw.close()
    assert result.status in ("new", "grown"), result.error


def _closure(engine: sa.Engine) -> set[tuple]:
    with engine.connect() as conn:
        return set(
            conn.execute(sa.text("SELECT entity_id, ancestor_id, depth FROM archive.lineage"))
        )


def _ancestors(engine: sa.Engine, like: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.location, l.depth FROM provenance.entity e "
                "JOIN archive.lineage l ON l.entity_id = e.id "
                "JOIN provenance.entity a ON a.id = l.ancestor_id WHERE e.location LIKE :p"
            ),
            {"p": like},
        ).all()
    return {loc: depth for loc, depth in rows}


def test_back_lineage_of_a_dl1b_file(engine: sa.Engine, samples: Path) -> None:
    _ingest(engine, samples / NIGHT)
    anc = _ancestors(engine, DL1B)
    by_end = {loc.rsplit("/", 2)[-2] + "/" + loc.rsplit("/", 1)[-1]: d for loc, d in anc.items()}
    assert by_end["v0.1.0/dl1_LST-1.Run01807.0002.h5"] == 1  # DL1a, via the derivation
    assert by_end["20200117/LST-1.1.Run01807.0002.fits.fz"] == 2  # its R0 subrun
    assert by_end["v0.1.1/drs4_pedestal.Run01804.0000.h5"] == 2  # the pedestal r0_to_dl1 used
    # the dl1ab self-loop does not make a file its own ancestor
    assert not any(loc.endswith("tailcut84/dl1_LST-1.Run01807.0002.h5") for loc in anc)


def test_forth_from_a_pedestal_file_reaches_dl1_products(engine: sa.Engine, samples: Path) -> None:
    _ingest(engine, samples / NIGHT)
    with engine.connect() as conn:
        products = conn.execute(
            sa.text(
                "SELECT d.name, count(*) FROM provenance.entity p "
                "JOIN archive.lineage l ON l.ancestor_id = p.id "
                "JOIN provenance.entity d ON d.id = l.entity_id "
                "WHERE p.location LIKE :p GROUP BY d.name"
            ),
            {"p": PEDESTAL_USED},
        ).all()
    counts = dict(products)
    assert counts["DL1SubrunDataset"] == 2 * 20  # DL1a + DL1b of the 20 subruns
    assert counts["DL1CheckSubrunDataset"] == 20


def test_incremental_closure_equals_full_rebuild(
    engine: sa.Engine, samples: Path, tmp_path: Path
) -> None:
    lines = (samples / NIGHT).read_bytes().splitlines(keepends=True)
    growing = tmp_path / "prov.log"
    growing.write_bytes(b"".join(lines[: len(lines) // 2]))
    _ingest(engine, growing)
    growing.write_bytes(b"".join(lines))
    _ingest(engine, growing)
    incremental = _closure(engine)
    assert incremental
    with engine.begin() as conn:
        rebuild_all(conn)
    assert _closure(engine) == incremental


ENTITY_IDS = "SELECT regexp_replace(id, '^.*[:/]', ''), id FROM provenance.entity"


def _prov_json(
    path: Path, steps: list[tuple[str, str, str]], locations: dict[str, str] | None = None
) -> Path:
    """A PROV-JSON document of ``steps`` (activity, used entity, generated entity), with
    ``locations`` of some entities."""
    import json

    doc: dict = {"prefix": {"ex": "http://example.org/"}, "entity": {}, "activity": {}}
    doc["used"], doc["wasGeneratedBy"] = {}, {}
    for n, (activity, used, generated) in enumerate(steps):
        doc["activity"][f"ex:{activity}"] = {}
        doc["entity"][f"ex:{used}"] = {}
        doc["entity"][f"ex:{generated}"] = {}
        for entity in (used, generated):
            if entity in (locations or {}):
                doc["entity"][f"ex:{entity}"]["prov:location"] = locations[entity]
        doc["used"][f"_:u{n}"] = {"prov:activity": f"ex:{activity}", "prov:entity": f"ex:{used}"}
        doc["wasGeneratedBy"][f"_:g{n}"] = {
            "prov:activity": f"ex:{activity}",
            "prov:entity": f"ex:{generated}",
        }
    path.write_text(json.dumps(doc))
    return path


def test_an_old_entity_given_a_parent_updates_its_descendants(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """An entity of an earlier file that gets a new parent (and a column filled in, so
    the merge updates its row) has its descendants recomputed: they get the new
    ancestor, as a full rebuild gives them."""
    _ingest(engine, _prov_json(tmp_path / "first.json", [("s1", "a", "b"), ("s2", "b", "c")]))
    with engine.connect() as conn:
        ids = {short: full for short, full in conn.execute(sa.text(ENTITY_IDS))}
    before = _closure(engine)
    assert (ids["c"], ids["a"], 2) in before
    # the second file makes "a" (old) the product of "z" (new), and adds "d" (new) after
    # "c"; it also gives "a" the location it lacked: "a" is written (an update), not created
    second = [("s0", "z", "a"), ("s3", "c", "d")]
    _ingest(engine, _prov_json(tmp_path / "second.json", second, {"a": "/data/a.fits"}))
    with engine.connect() as conn:
        ids = {short: full for short, full in conn.execute(sa.text(ENTITY_IDS))}
    incremental = _closure(engine)
    for entity, depth in (("a", 1), ("b", 2), ("c", 3), ("d", 4)):
        assert (ids[entity], ids["z"], depth) in incremental, entity
    with engine.begin() as conn:
        rebuild_all(conn)
    assert _closure(engine) == incremental


def _row_places(engine: sa.Engine) -> dict[tuple[str, str], str]:
    """Where each closure row is stored (its ctid): a rewritten row moves."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT n.entity_id, a.entity_id, l.ctid::text FROM archive.lineage_closure l "
                "JOIN archive.entity_number n ON n.no = l.entity_no "
                "JOIN archive.entity_number a ON a.no = l.ancestor_no"
            )
        )
        return {(e, a): ctid for e, a, ctid in rows}


def _numbers(engine: sa.Engine) -> dict[str, int]:
    """Each entity's number in the closure."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT entity_id, no FROM archive.entity_number")).all())


def test_a_new_entity_takes_the_closure_of_an_old_parent_as_it_is(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A file that only adds a step after an old entity recomputes the new entity alone:
    its ancestors beyond the old parent come from the parent's closure rows, the old
    entities' rows stay where they are, and a full rebuild gives the same closure."""
    _ingest(engine, _prov_json(tmp_path / "first.json", [("s1", "a", "b"), ("s2", "b", "c")]))
    before, places = _closure(engine), _row_places(engine)
    _ingest(engine, _prov_json(tmp_path / "second.json", [("s3", "c", "d")]))
    with engine.connect() as conn:
        ids = {short: full for short, full in conn.execute(sa.text(ENTITY_IDS))}
    after = _closure(engine)
    assert after - before == {
        (ids["d"], ids["c"], 1),
        (ids["d"], ids["b"], 2),
        (ids["d"], ids["a"], 3),
    }
    assert before <= after
    now = _row_places(engine)
    assert {key: now[key] for key in places} == places  # not deleted and written again
    # the new entity's number follows the old ones': its rows go to the index's end
    numbers = _numbers(engine)
    assert numbers[ids["d"]] > max(numbers[ids[old]] for old in "abc")
    with engine.begin() as conn:
        rebuild_all(conn)
    assert _closure(engine) == after
    assert _numbers(engine) == numbers  # a rebuild keeps the numbers
