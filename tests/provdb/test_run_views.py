"""Run-level views compared with lstosa's own run-wise PROV-JSON (runs 01807 and 01808).

lstosa's provprocess collapses a run's subrun activities into one random-id activity per
step and keeps only run-level files. provdb keeps the subrun records and exposes the run
level through the archive.run_activity / run_step / run_entity views. This test pins
down, file by file, how the two agree and every way they differ:

1. every file lstosa's run-wise document names is in provdb's run view, except
2. the four synthetic SetCollection entities provprocess invents (R0Collection,
   DL1Collection, MuonsCollection, DL1CheckCollection: directories with ids that depend
   on line order, spec §3.2) — provdb invents nothing;
3. provdb also lists every subrun file (R0, DL1a, DL1b, muons, DL1 check subrun
   datasets), which provprocess drops by name ("Subrun" in the entity name);
4. the empty entities of lstosa's JSON (dangling derivation ids, spec §3.2) are DL1
   subrun datasets that provdb knows in full.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.ingest.pipeline import ingest_file

RUNWISE = "generated/lstosa_simulate_processing/DL1/20200117/v0.1.0/tailcut84/log"
SUBRUNS = {"01807": 11, "01808": 9}
COLLECTIONS = {"R0Collection", "DL1Collection", "MuonsCollection", "DL1CheckCollection"}


@pytest.fixture
def night(engine: sa.Engine, samples: Path) -> sa.Engine:
    raw = engine.raw_connection()
    try:
        result = ingest_file(
            raw.driver_connection, samples / "generated/lstosa_simulate_processing/prov.log"
        )
    finally:
        raw.close()
    assert result.status == "new" and result.rejects == 0, result.error
    return engine


def _lstosa_files(samples: Path, run: str) -> tuple[dict[str, tuple], set[str]]:
    doc = json.loads((samples / RUNWISE / f"calibration_to_dl1_{run}_prov.json").read_text())
    files = {
        v["filepath"]: (v.get("prov:label"), v.get("prov:type"))
        for v in doc["entity"].values()
        if "filepath" in v
    }
    empty = {k.removeprefix("id:") for k, v in doc["entity"].items() if not v}
    return files, empty


@pytest.mark.parametrize("run", sorted(SUBRUNS))
def test_run_view_files_match_lstosa_runwise_json(
    night: sa.Engine, samples: Path, run: str
) -> None:
    lstosa, empty = _lstosa_files(samples, run)
    with night.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT DISTINCT location, entity_name, subrun_level, entity_id "
                "FROM archive.run_entity WHERE run_id = :r AND step_group = 'all'"
            ),
            {"r": f"20200117_{run}"},
        ).all()
    provdb = {r.location: (r.entity_name, r.subrun_level) for r in rows}
    # 2. lstosa's only extra files are its four invented collections
    only_lstosa = set(lstosa) - set(provdb)
    assert {lstosa[p][0] for p in only_lstosa} == COLLECTIONS
    assert {lstosa[p][1] for p in only_lstosa} == {"SetCollection"}
    # 1. everything else lstosa names is in provdb, at run level
    assert all(not provdb[p][1] for p in set(lstosa) & set(provdb))
    assert set(lstosa) - only_lstosa == {p for p, (_, sub) in provdb.items() if not sub}
    # 3. provdb's only extra files are the subrun datasets, one per subrun and kind
    n = SUBRUNS[run]
    extra = Counter(provdb[p][0] for p in set(provdb) - set(lstosa))
    assert extra == {
        "R0SubrunDataset": n,
        "DL1SubrunDataset": 2 * n,
        "MuonsSubrunDataset": n,
        "DL1CheckSubrunDataset": n,
    }
    assert all(provdb[p][1] for p in set(provdb) - set(lstosa))
    # 4. lstosa's empty (dangling) entities are DL1 subrun datasets provdb has in full
    names = {r.entity_id: r.entity_name for r in rows}
    assert empty and all(names.get(e) == "DL1SubrunDataset" for e in empty)


@pytest.mark.parametrize("run", sorted(SUBRUNS))
def test_run_steps_have_deterministic_ids_and_all_subruns(night: sa.Engine, run: str) -> None:
    with night.connect() as conn:
        steps = {
            r.step_group: r
            for r in conn.execute(
                sa.text("SELECT * FROM archive.run_step WHERE observation_run = :r"), {"r": run}
            )
        }
    assert set(steps) == {"calibration", "r0_to_dl1", "all"}
    n = SUBRUNS[run]
    assert steps["r0_to_dl1"].n_activities == 3 * n  # r0_to_dl1, dl1ab, dl1_datacheck
    assert steps["calibration"].n_activities == 2  # drs4_pedestal, calibrate_charge
    assert steps["all"].n_activities == 3 * n + 2
    assert steps["all"].run_step_id == f"20200117_{run}:all"
    assert steps["all"].software_versions == "v0.12.3"
    assert steps["all"].start_time <= steps["r0_to_dl1"].start_time


def test_run_views_are_stable_across_reingest(night: sa.Engine, samples: Path) -> None:
    query = sa.text("SELECT run_step_id, n_activities FROM archive.run_step ORDER BY 1")
    with night.connect() as conn:
        before = conn.execute(query).all()
    raw = night.raw_connection()
    try:
        path = samples / "generated/lstosa_simulate_processing/prov.log"
        assert ingest_file(raw.driver_connection, path).status == "unchanged"
    finally:
        raw.close()
    with night.connect() as conn:
        assert conn.execute(query).all() == before
