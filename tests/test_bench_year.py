"""bench/bench_year.py runs end to end at a tiny scale (real subprocesses, a real archive,
a real ``provdb serve``), writes its results incrementally and resumes."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import run_bench_script


def run_bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    work, output = str(tmp_path / "work"), str(tmp_path / "year.json")
    return run_bench_script(
        "bench_year.py",
        *("--runs", "1", "--subruns", "2", "--workdir", work, "--output", output, *args),
        timeout=900,
    )


def test_a_few_nights_then_resume(tmp_path: Path) -> None:
    first = run_bench(
        tmp_path,
        "--nights",
        "2",
        "--reprocess-every",
        "2",
        "--failure-every",
        "2",
        "--count-every",
        "1",
        "--explain-nights",
        "2",
        "--queries",
        "--partitioning",
        "--service-env",
        "PROVDB_PROVSAP_NODE_LIMIT=3",
    )
    assert first.returncode == 0, first.stderr[-3000:]
    results = json.loads((tmp_path / "year.json").read_text())
    nights = results["nights"]
    assert [n["night"] for n in nights] == [1, 2]
    assert [n["date"] for n in nights] == ["20250101", "20250102"]
    assert [n["reprocess"] for n in nights] == [0, 2]
    assert [n["failures"] for n in nights] == [0, 1]
    for n in nights:
        assert n["records"] > 100 and n["records_per_s"] > 0 and n["peak_rss_mb"] > 20
        assert n["status"] == {"new": 2}  # the prov.log and the ctapipe log
        assert set(n["steps_s"]) >= {"closure_edges", "closure_update", "flags", "obscore"}
        assert n["archive"]["tables"]["archive.lineage_closure"]["total_mb"] > 0
    sizes = [n["archive"]["entity_rows"] for n in nights]
    assert 0 < sizes[0] < sizes[1]
    assert "explain" in nights[1] and "explain" not in nights[0]
    plans = [e for e in nights[1]["explain"] if e["step"] == "closure_update"]
    assert plans and all(e["plan_text"] for e in plans)
    summary = results["summary"]
    assert summary["nights"] == 2 and summary["records_per_s"]["last_over_first"] > 0
    # the read side, each with its direct PostgreSQL time
    queries = results["queries"]
    assert queries["dl3_lineage_closure"]["rows"] > 5
    assert (
        queries["dl3_lineage_closure"]["rows"]
        == queries["dl3_lineage_closure"]["direct_postgresql"]["rows"]
    )
    assert queries["products_of_one_version"]["rows"] > 0  # night 2 was reprocessed
    assert queries["dl3_lineage_provsap"]["provsap_http"]["median_ms"] > 0
    # the served service got --service-env: its ProvSAP graph is cut at 3 nodes (and
    # the terminal nodes the cut leaves, such as the generating activity)
    assert queries["service_env"] == {"PROVDB_PROVSAP_NODE_LIMIT": "3"}
    assert queries["dl3_lineage_provsap"]["truncated"] is True
    assert 3 <= queries["dl3_lineage_provsap"]["nodes"] < 10
    assert queries["ui_run_page"]["bytes"] > 1000
    assert queries["night_check_cli"]["exit_status"] in (0, 1)
    part = results["partitioning"]
    assert part["partitions"] == 3  # two nights and the default partition
    assert part["lookups"]["one_entity_id"]["by_night"]["scans"] >= 2
    assert part["remove_one_night"]["delete_rows"] > 0
    svg = ET.parse(tmp_path / "year.svg").getroot()
    assert svg.tag.endswith("svg") and len(svg.findall(".//{*}polyline")) >= 5

    # resume after night 2: nights 1-2 kept, night 3 ingested into the same archive
    again = run_bench(tmp_path, "--nights", "3", "--start-night", "2", "--count-every", "1")
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = json.loads((tmp_path / "year.json").read_text())["nights"]
    assert [n["night"] for n in resumed] == [1, 2, 3]
    assert resumed[0] == nights[0]
    assert resumed[2]["archive"]["entity_rows"] > sizes[1]  # the same archive grew on
    # nights 1 and 3 have the same shape: the closure grew by the same number of rows
    lineage = [n["archive"]["lineage_rows"] for n in resumed]
    assert lineage[2] - lineage[1] == lineage[0] > 0


def test_bad_arguments_say_what_to_do(tmp_path: Path) -> None:
    res = run_bench(tmp_path, "--database-url", "postgresql+psycopg://x@127.0.0.1:1/x")
    assert res.returncode == 2 and "--allow-reset" in res.stderr
    res = run_bench(tmp_path, "--nights", "0")
    assert res.returncode == 2 and "must be positive" in res.stderr
    res = run_bench(tmp_path, "--service-env", "PROVDB_NO_SUCH=1")
    assert res.returncode == 1 and "expected NAME=VALUE" in res.stderr
    res = run_bench(tmp_path, "--service-env", "PROVDB_PROVSAP_NODE_LIMIT=many")
    assert res.returncode == 1 and "PROVDB_PROVSAP_NODE_LIMIT='many'" in res.stderr
    assert not (tmp_path / "year.json").exists()


def test_nights_in_parallel_give_the_archive_of_nights_one_by_one(tmp_path: Path) -> None:
    same = ("--nights", "4", "--reprocess-every", "2", "--failure-every", "2", "--fingerprint")
    together = run_bench(tmp_path / "parallel", *same, "--parallel", "2")
    assert together.returncode == 0, together.stderr[-3000:]
    one_by_one = run_bench(tmp_path / "serial", *same)
    assert one_by_one.returncode == 0, one_by_one.stderr[-3000:]
    par = json.loads((tmp_path / "parallel" / "year.json").read_text())
    ser = json.loads((tmp_path / "serial" / "year.json").read_text())
    # the same rows in every table, the same closure, edges and flags
    assert par["fingerprint"] == ser["fingerprint"]
    counts = par["fingerprint"]["row_counts"]
    assert counts["archive.lineage"] > counts["archive.lineage_edge"] > 0
    assert counts["archive.ingest_file"] == 8  # two files a night
    assert [n["batch"] for n in par["nights"]] == [1, 1, 2, 2]
    assert ser["batches"] == [] and all("batch" not in n for n in ser["nights"])
    batches = par["batches"]
    assert [b["nights"] for b in batches] == [[1, 2], [3, 4]]
    for batch, nights in zip(batches, (par["nights"][:2], par["nights"][2:]), strict=True):
        assert batch["parallel"] == 2
        assert batch["records"] == sum(n["records"] for n in nights) > 0
        assert batch["records_per_s"] > 0 and len(batch["per_process_records_per_s"]) == 2
        assert batch["peak_rss_mb_sum"] == round(sum(n["peak_rss_mb"] for n in nights), 1)
        assert batch["postgresql_counters_delta"]["deadlocks"] == 0
        assert batch["lock_waits"]["samples"] > 0
        assert batch["server_log"] == {
            "available": True,
            "problem_lines": 0,
            "deadlocks": 0,
            "first": [],
        }
        assert batch["retry_lines"] == 0
    # the night's files are new in both archives: nothing was skipped or read twice
    assert all(n["status"] == {"new": 2} for n in par["nights"] + ser["nights"])
    res = run_bench(tmp_path, "--parallel", "0")
    assert res.returncode == 2 and "--parallel must be positive" in res.stderr
