"""bench/bench_closure_keys.py runs end to end at a tiny scale (a real subprocess and a
real embedded server)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_bench_script


def test_bench_closure_keys_tiny(tmp_path: Path, bench_workdir: Path) -> None:
    out = tmp_path / "closure-keys.json"
    done = run_bench_script(
        "bench_closure_keys.py",
        *("--nights", "3", "--entities-per-night", "60", "--ancestors", "4"),
        *("--every", "3", "--workdir", str(bench_workdir), "--output", str(out)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    nights = results["per_night"]
    # 10 entities after the 50 calibration files: 2 calibration ancestors each, and the
    # 2 entities before it among those 10 (1 for the first-but-one, 0 for the first)
    assert [n["rows"] for n in nights] == [37, 37, 37]
    assert [n["first"] for n in nights] == ["text", "int", "text"]
    assert "bytes" in nights[0] and "bytes" not in nights[1] and "bytes" in nights[2]
    for variant in ("text", "int"):
        assert all(n[variant]["wal_bytes"] > 0 and n[variant]["wal_records"] > 0 for n in nights)
        summary = results["summary"][variant]
        assert summary["pk_bytes"] == nights[-1]["bytes"][f"closure_{variant}_pkey"] > 0
    assert results["settings"]["shared_buffers"] and results["command"].endswith(str(out))


def test_bench_closure_keys_bad_arguments(tmp_path: Path) -> None:
    refused = run_bench_script(
        "bench_closure_keys.py", "--entities-per-night", "50", "--output", str(tmp_path / "x")
    )
    assert refused.returncode == 2
    assert "--entities-per-night must be more than 50" in refused.stderr
    assert not (tmp_path / "x").exists()
