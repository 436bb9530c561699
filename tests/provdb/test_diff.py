"""``provdb diff``: step-by-step comparison of two recipes (pure, and the CLI)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import sqlalchemy as sa

from provdb.answers.compare import compare_recipes, diff_json, diff_text
from provdb.answers.recipe import ConfigFile, FileRef, Recipe, Step, build_recipe
from tests.conftest import run_cli
from tests.provdb.recipe_logs import CAL, OBS2, OBS4, P2, P4, ingest, reprocessing_log


@pytest.fixture
def reprocessed(engine: sa.Engine, tmp_path) -> sa.Engine:
    ingest(engine, reprocessing_log(tmp_path / "prov.log"))
    return engine


def _step(aid: str, name: str, **kw) -> Step:
    return Step(aid, name, None, None, datetime(2026, 1, 1), None, None, None, **kw)


def test_compare_pure_reports_each_kind_of_change() -> None:
    a = Recipe(
        "A",
        "/a",
        [
            _step(
                "a1",
                "calib",
                software={"lstchain": "0.9.1", "numpy": "1.0"},
                parameters={"x": "1", "y": "2"},
                config_files=[ConfigFile("cfg", "/c.json", "h1", "md5")],
                inputs=[FileRef("r", "/raw.fz", "Raw", "hr", "md5", raw=True)],
            ),
            _step("a2", "dl1ab"),
            _step("a3", "dl1ab"),
        ],
    )
    b = Recipe(
        "B",
        "/b",
        [
            _step(
                "b1",
                "calib",
                software={"lstchain": "0.12.3", "numpy": "1.0"},
                parameters={"x": "1", "y": "3", "z": "4"},
                config_files=[ConfigFile("cfg", "/c.json", "h2", "md5")],
                inputs=[FileRef("r", "/raw.fz", "Raw", "hr", "md5", raw=True)],
            ),
            _step("b2", "dl1ab"),
            _step("b4", "datacheck"),
        ],
    )
    cmp = compare_recipes(a, b)
    assert not cmp.same
    assert [(s.name, s.status, s.a, s.b) for s in cmp.steps] == [
        ("calib", "differs", "a1", "b1"),
        ("dl1ab", "same", "a2", "b2"),
        ("dl1ab", "only_a", "a3", None),
        ("datacheck", "only_b", None, "b4"),
    ]
    first = cmp.steps[0]
    assert [(c.key, c.a, c.b) for c in first.software] == [("lstchain", "0.9.1", "0.12.3")]
    assert [(c.key, c.a, c.b) for c in first.parameters] == [("y", "2", "3"), ("z", None, "4")]
    assert [c.key for c in first.config_files] == ["cfg"] and first.inputs == []
    text = diff_text(cmp)
    assert "lstchain  0.9.1  ->  0.12.3" in text and "only a" in text
    body = json.loads(diff_json(cmp))
    assert set(body) == {"a", "b", "same", "steps"}
    assert set(body["steps"][0]) >= {
        "name",
        "status",
        "software",
        "parameters",
        "config_files",
        "inputs",
    }
    assert compare_recipes(a, a).same


def test_diff_of_reprocessed_products(reprocessed: sa.Engine) -> None:
    with reprocessed.connect() as conn:
        cmp = compare_recipes(build_recipe(conn, P2[0]), build_recipe(conn, P4[0]))
    calib, dl1 = cmp.steps
    assert calib.status == dl1.status == "differs"
    assert [(c.key, c.a, c.b) for c in calib.software] == [("lstchain", "v0.9.1", "v0.12.3")]
    changed = {c.key: c for c in dl1.inputs}
    # the calibration file is the same path but another generation; the subrun differs
    assert set(changed) == {CAL[1][0], OBS2[1][0]}
    assert CAL[1][1] in changed[CAL[1][0]].a and CAL[1][1] in changed[CAL[1][0]].b
    assert OBS4[1][1] in changed[OBS2[1][0]].b


def test_diff_cli_exit_codes(reprocessed: sa.Engine, cli_env) -> None:
    differ = run_cli("diff", P2[0], P4[0], env=cli_env)
    assert differ.returncode == 1, differ.stderr
    assert "lstchain" in differ.stdout and "v0.9.1  ->  v0.12.3" in differ.stdout
    same = run_cli("diff", P4[0], P4[1][1], "--format", "json", env=cli_env)
    assert same.returncode == 0 and json.loads(same.stdout)["same"] is True
    bad = run_cli("diff", P4[0], "nope.h5", env=cli_env)
    assert bad.returncode == 2 and "no product 'nope.h5'" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0
