"""bench/bench_used_index.py runs end to end at a tiny scale (real subprocesses and archives)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_bench_script

INDEX = "provenance.ix_provenance_used_entity_id"


def test_bench_used_index_tiny(tmp_path: Path, bench_workdir: Path) -> None:
    out = tmp_path / "used-index.json"
    done = run_bench_script(
        "bench_used_index.py",
        *("--ingest", str(bench_workdir), "--nights", "1", "--runs", "1", "--subruns", "2"),
        *("--output", str(out)),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ingest = json.loads(out.read_text())["ingest"]
    with_index, without = ingest["with_index"], ingest["without_index"]
    assert with_index["used_rows"] == without["used_rows"] > 0
    assert INDEX in with_index["index_bytes"] and INDEX not in without["index_bytes"]
    assert "provenance.ix_used_entity_activity" in without["index_bytes"]
    # WAL is measured for each arm (which writes less shows at scale only: a tiny night's
    # difference is one index page, within what hint bits and timing make vary)
    assert with_index["wal_bytes_total"] > 0 and without["wal_bytes_total"] > 0
    assert ingest["index_bytes_saved"] == with_index["index_bytes"][INDEX]
    assert len(with_index["per_night"]) == 1 and "load_average_1m" in with_index["per_night"][0]

    # --plans needs an archive that still has the index: one at 0017 is refused in a line
    refused = run_bench_script(
        "bench_used_index.py",
        *("--plans", str(bench_workdir / "without" / "provdb-home"), "--output", str(out)),
    )
    assert refused.returncode != 0
    assert f"{INDEX} is not in that archive" in refused.stderr
    assert "plans" not in json.loads(out.read_text())
