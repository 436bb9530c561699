"""bench/bench_obscore.py runs end to end at a tiny scale (a real subprocess and archive)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_bench_script


def test_bench_obscore_tiny(tmp_path: Path) -> None:
    out = tmp_path / "obscore.json"
    done = run_bench_script(
        "bench_obscore.py",
        *("--products", "2000", "--repeat", "1", "--touched", "50"),
        *("--home", str(tmp_path / "home"), "--output", str(out)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    assert results["table_rows"] == 2000
    # the same queries give the same rows on the view and on the table
    for name, figures in results["table"].items():
        assert figures["rows"] == results["view"][name]["rows"], name
    assert results["table"]["by_publisher_did"]["rows"] == 1
    # 20 pointings within 3 deg of the Crab: none in the 2 deg cone has p ~ 2e-4
    assert results["table"]["cone_2deg_crab"]["rows"] > 0
    assert results["table_refresh"]["touched"] == 50
