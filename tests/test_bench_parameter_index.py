"""bench/bench_parameter_index.py runs end to end at a tiny scale (a real subprocess and
a real embedded server)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_bench_script


def test_bench_parameter_index_tiny(tmp_path: Path, bench_workdir: Path) -> None:
    out = tmp_path / "parameter-index.json"
    done = run_bench_script(
        "bench_parameter_index.py",
        *("--nights", "3", "--runs", "2", "--subruns", "3", "--every", "3"),
        *("--workdir", str(bench_workdir), "--output", str(out)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    nights = results["per_night"]
    # 6 subruns: 1 DL1AB + 4 DL1 -> DL2 parameters each, and 3 per run's DL3 activity
    assert [n["rows"] for n in nights] == [36, 36, 36]
    assert [n["order"][0] for n in nights] == ["hash", "btree", "spgist"]
    assert "index_bytes" in nights[0] and "index_bytes" not in nights[1]
    for variant in ("hash", "btree", "spgist", "name"):
        assert all(n[variant]["shared_hit"] > 0 for n in nights)
        # the run of the night's first activities: 3 subruns
        assert nights[-1][variant]["run_lookup_rows"] == 3
        assert nights[-1][variant]["hot_value_rows"] == 18
    # a 100 kB value: a b-tree entry must fit in a page, the others take it
    assert results["long_value"]["spgist"] == "ok" and results["long_value"]["hash"] == "ok"
    assert "maximum size" in results["long_value"]["btree"]


def test_bench_parameter_index_bad_arguments(tmp_path: Path) -> None:
    refused = run_bench_script(
        "bench_parameter_index.py", "--nights", "0", "--output", str(tmp_path / "x")
    )
    assert refused.returncode == 2
    assert "must be at least 1" in refused.stderr
    assert not (tmp_path / "x").exists()
