"""``provdb reproduce``: recipes and affected products, on real PostgreSQL.

Expected answers come from the log records themselves: the sample night's prov.log lines
(``__PROV__`` split + ``ast.literal_eval``) and small logs written here, whose answer is
known by construction.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.answers.recipe import (
    AmbiguousProduct,
    UnknownProduct,
    affected_products,
    build_recipe,
    resolve_product,
)
from provdb.answers.recipe_format import recipe_json, recipe_md, recipe_sh
from provdb.ingest.ctapipe_json import iter_activities
from tests.conftest import run_cli
from tests.provdb.recipe_logs import (
    CAL,
    OBS2,
    OBS4,
    P2,
    P4,
    RAW_CAL,
    T1,
    activity,
    end_of,
    ingest,
    line,
    records,
    reprocessing_log,
    session,
)

NIGHT = "generated/lstosa_simulate_processing/prov.log"
GLUED = "generated/ctapipe_tool/lstchain-demo-dl1-to-dl2.provenance.log"
ROOT = "/tmp/lst-osa-run/test_osa/test_files0"
DL1A = f"{ROOT}/DL1/20200117/v0.1.0/dl1_LST-1.Run01807.0002.h5"
CHECK = f"{ROOT}/DL1/20200117/v0.1.0/tailcut84/datacheck_dl1_LST-1.Run01807.0002.h5"


@pytest.fixture
def reprocessed(engine: sa.Engine, tmp_path: Path) -> sa.Engine:
    ingest(engine, reprocessing_log(tmp_path / "prov.log"))
    return engine


@pytest.fixture
def night(engine: sa.Engine, samples: Path) -> sa.Engine:
    ingest(engine, samples / NIGHT)
    return engine


# ----------------------------------------------------------------------------- sample night


def test_recipe_of_a_dl1_subrun_matches_the_log(night: sa.Engine, samples: Path) -> None:
    recs = records(samples / NIGHT)
    ids = {r["filepath"]: r["entity_id"] for r in recs if "filepath" in r}
    product = ids[DL1A]
    # from the log: the activities that generated DL1A, the last one started
    gens = [r["activity_id"] for r in recs if r.get("generated_id") == product]
    starts = {
        r["activity_id"]: r["startTime"]
        for r in recs
        if "startTime" in r and "name" in r and "activity_id" in r
    }
    last = max(gens, key=lambda a: starts[a])
    used = {
        r["used_id"]: r["used_role"]
        for r in recs
        if r.get("activity_id") == last and "used_id" in r
    }
    with night.connect() as conn:
        recipe = build_recipe(conn, DL1A)
    assert recipe.product == product
    (step,) = recipe.steps  # r0_to_dl1 reads only raw and calibration files of other runs
    assert step.name == "r0_to_dl1"
    assert step.activity_id.split("@")[0] == last
    assert step.started.isoformat() == starts[last]
    assert {r.entity_id: r.role for r in step.inputs} == used
    assert {o.entity_id for o in step.outputs} >= {product}


def test_datacheck_recipe_goes_through_dl1ab_to_r0_to_dl1(night: sa.Engine, samples: Path) -> None:
    recs = records(samples / NIGHT)
    ids = {r["filepath"]: r["entity_id"] for r in recs if "filepath" in r}
    names = {r["activity_id"]: r["name"] for r in recs if "name" in r and "activity_id" in r}

    def maker(path: str) -> str:
        (aid,) = {r["activity_id"] for r in recs if r.get("generated_id") == ids[path]}
        return aid

    dl1b = DL1A.replace("v0.1.0/", "v0.1.0/tailcut84/")
    # the log: dl1ab uses and generates DL1b, and records DL1b wasDerivedFrom DL1a
    derived = {
        r["progenitor_id"] for r in recs if "progenitor_id" in r and r["entity_id"] == ids[dl1b]
    }
    assert derived == {ids[DL1A]}
    expected = [maker(DL1A), maker(dl1b), maker(CHECK)]
    with night.connect() as conn:
        recipe = build_recipe(conn, CHECK)
    assert [s.activity_id.split("@")[0] for s in recipe.steps] == expected
    assert [s.name for s in recipe.steps] == [names[a] for a in expected]
    dl1ab = recipe.steps[1]
    progenitor = {r.entity_id: r for r in dl1ab.inputs}[ids[DL1A]]
    assert progenitor.generated_by == recipe.steps[0].activity_id
    assert progenitor.role.startswith("progenitor of")


def test_file_name_resolution(night: sa.Engine) -> None:
    with night.connect() as conn:
        with pytest.raises(AmbiguousProduct) as exc:
            resolve_product(conn, "dl1_LST-1.Run01807.0002.h5")
        assert DL1A in str(exc.value) and "tailcut84" in str(exc.value)
        assert resolve_product(conn, "datacheck_dl1_LST-1.Run01807.0002.h5") == (
            resolve_product(conn, CHECK)
        )
        with pytest.raises(UnknownProduct, match=r"no product 'nope\.h5'"):
            resolve_product(conn, "nope.h5")


# ----------------------------------------------------------------------------- reprocessing


def test_reprocessing_picks_the_generation_read(reprocessed: sa.Engine) -> None:
    with reprocessed.connect() as conn:
        early = build_recipe(conn, P2[0])
        late = build_recipe(conn, P4[0])
    assert [(s.name, s.activity_id.split("@")[0]) for s in early.steps] == [
        ("calibrate_charge", "c1"),
        ("r0_to_dl1", "r2"),
    ]
    assert [(s.name, s.activity_id.split("@")[0]) for s in late.steps] == [
        ("calibrate_charge", "c3"),
        ("r0_to_dl1", "r4"),
    ]
    assert early.steps[0].software["lstchain"] == "v0.9.1"
    assert late.steps[0].software["lstchain"] == "v0.12.3"
    cal = {r.entity_id: r for r in late.steps[1].inputs}[CAL[0]]
    assert not cal.raw and cal.generated_by == late.steps[0].activity_id
    assert {r.entity_id for r in late.raw_inputs} == {RAW_CAL[0], OBS4[0]}


def test_product_takes_its_latest_generation(reprocessed: sa.Engine) -> None:
    with reprocessed.connect() as conn:
        recipe = build_recipe(conn, CAL[1][1])
    assert [s.activity_id.split("@")[0] for s in recipe.steps] == ["c3"]


def test_affected_lists_both_products(reprocessed: sa.Engine) -> None:
    with reprocessed.connect() as conn:
        result = affected_products(conn, "calibration.Run01809.h5")
    assert {p.entity_id for p in result.products} == {P2[0], P4[0]}
    assert {step for step, _ in result.groups()} == {"r0_to_dl1"}


# ----------------------------------------------------------------------------- failed step


def test_failed_ctapipe_activity_shows_status(engine: sa.Engine, samples: Path, tmp_path) -> None:
    acts = [a for _, a in iter_activities((samples / GLUED).read_bytes())]
    failed = copy.deepcopy(next(a for a in acts if a.get("status") == "error"))
    failed["output"] = [{"url": "/tmp/x/partial_dl2.h5", "role": "dl2 output file"}]
    path = tmp_path / "failed.provenance.log"
    path.write_text(json.dumps([failed], indent=3))
    ingest(engine, path)
    with engine.connect() as conn:
        recipe = build_recipe(conn, "partial_dl2.h5")
    (step,) = recipe.steps
    assert (step.status, step.exit_code) == (failed["status"], failed["exit_code"])
    assert step.command_line and "--fail" in step.command_line
    assert "exit code: 1" in recipe_md(recipe) and "exit code 1" in recipe_sh(recipe)
    assert json.loads(recipe_json(recipe))["steps"][0]["exit_code"] == 1


# ----------------------------------------------------------------------------- CLI

STEP_KEYS = {
    "activity_id",
    "name",
    "command_line",
    "script",
    "status",
    "exit_code",
    "parameters",
    "config_files",
    "software",
    "inputs",
    "outputs",
    "started",
    "ended",
}


def test_cli_formats_and_output(reprocessed: sa.Engine, cli_env, tmp_path: Path) -> None:
    md = run_cli("reproduce", P4[1][1], env=cli_env)
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# Recipe for /dl1/dl1_LST-1.Run01807.0004.h5")
    out = tmp_path / "recipe.json"
    js = run_cli("reproduce", P4[0], "--format", "json", "-o", str(out), env=cli_env)
    assert js.returncode == 0 and js.stdout == ""
    body = json.loads(out.read_text())
    assert set(body) == {"product", "location", "raw_inputs", "steps"}
    assert all(set(s) == STEP_KEYS for s in body["steps"])
    sh = run_cli("reproduce", P4[0], "--format", "sh", env=cli_env)
    assert "provdb never runs this script" in sh.stdout
    assert "pip install lstchain==v0.12.3" in sh.stdout
    script = tmp_path / "redo.sh"
    script.write_text(sh.stdout)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    aff = run_cli("reproduce", "--affected", CAL[0], "--format", "json", env=cli_env)
    got = {p["entity_id"] for g in json.loads(aff.stdout)["groups"] for p in g["products"]}
    assert got == {P2[0], P4[0]}


def test_cli_errors(reprocessed: sa.Engine, cli_env) -> None:
    bad = run_cli("reproduce", "f" * 32, env=cli_env)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "entity id" in bad.stderr


def test_cli_ambiguous_name_lists_candidates(night: sa.Engine, cli_env) -> None:
    dup = run_cli("reproduce", "dl1_LST-1.Run01807.0002.h5", env=cli_env)
    assert dup.returncode == 2
    assert DL1A in dup.stderr and DL1A.replace("v0.1.0/", "v0.1.0/tailcut84/") in dup.stderr
    assert dup.stderr.strip().count("\n") == 0


def test_config_content_comes_from_the_scanned_product(
    engine: sa.Engine, cli_env: dict[str, str], tmp_path: Path
) -> None:
    import h5py

    from provdb.ingest.identifiers import path_entity_id

    product = tmp_path / "dl1_LST-1.Run01807.0005.h5"
    pid = path_entity_id(str(product))
    log = tmp_path / "prov.log"
    lines = [line(T1, session("s1", T1, "v0.12.3"))]
    lines += activity(
        "x1",
        "r0_to_dl1",
        "s1",
        T1,
        end_of(T1),
        dict([OBS2]),
        {pid: ("DL1 subrun dataset", str(product))},
    )
    log.write_text("".join(lines))
    assert run_cli("ingest", "-q", str(log), env=cli_env).returncode == 0
    config = {"image_extractor": "LocalPeakWindowSum", "tailcut": {"picture_thresh": 8}}
    with h5py.File(product, "w") as f:
        f.attrs["config"] = json.dumps(config)
    scan = run_cli("scan", "-q", str(product), env=cli_env)
    assert scan.returncode == 0, scan.stderr
    with engine.connect() as conn:
        (step,) = build_recipe(conn, str(product)).steps
    (embedded,) = [c for c in step.config_files if c.content]
    assert json.loads(embedded.content) == config
    assert embedded.path == str(product) and embedded.hash_type == "sha256"
