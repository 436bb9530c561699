"""bench/bench_follow.py runs end to end at a tiny scale (real serve, real follower)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_bench_script


def test_bench_follow_measures_latency_and_memory(tmp_path: Path) -> None:
    output = tmp_path / "follow.json"
    result = run_bench_script(
        "bench_follow.py",
        *("--seconds", "3", "--rate", "5", "--interval", "0.5"),
        *("--workdir", str(tmp_path / "work"), "--output", str(output)),
    )
    assert output.exists(), result.stderr[-3000:]
    figures = json.loads(output.read_text())
    assert figures["products_written"] >= 10
    assert figures["products_seen"] == figures["products_written"], result.stderr[-3000:]
    assert set(figures["latency_s"]) == {"median", "p95", "max", "min"}
    assert figures["follower_rss_mb"]["samples"]
    assert figures["follower_exit_status"] == 0
    assert figures["follower_final_line"].startswith("provdb ingest --follow: stopped (SIGTERM)")
    assert f"{figures['products_written'] * 4:,} records" in figures["follower_final_line"]
