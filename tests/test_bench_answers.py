"""bench/bench_answers.py runs end to end at a tiny scale (a real subprocess, real archives)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import SAMPLES, run_bench_script

#: relation rows bench_lineage.generate writes (its docstring): 25 per subrun, and per
#: night the calibration chain's (drs4_pedestal: 1 used + 1 generation + 1 association;
#: calibrate_charge: 4 used + 1 generation + 1 association)
PER_SUBRUN, PER_NIGHT = 25, 9


def run_bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_bench_script(
        "bench_answers.py",
        *("--home", str(tmp_path / "home"), *args),
        env={"PROVDB_SAMPLES": str(SAMPLES)},
    )


def test_bench_answers_tiny(tmp_path: Path) -> None:
    out = tmp_path / "answers.json"
    done = run_bench(
        tmp_path,
        *("--runs", "2", "--subruns", "2", "--reprocess", "1", "--failures", "1"),
        *("--nights", "2", "--archive-runs", "2", "--archive-subruns", "3"),
        *("--products", "3", "--pairs", "2", "--output", str(out)),
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert "results in" in done.stderr
    night, archive = results["night"], results["archive"]
    # 2 x 2 subruns + 1 reprocessed run x 2, each 46 + 18 lines; 2 calibration sequences
    assert night["generation"]["lines"] == (4 + 2) * (46 + 18) + 2 * 20
    assert night["ingest"]["exit_status"] == 0
    assert night["ingest"]["status"] == {"new": 2}  # prov.log and the ctapipe log
    assert night["ingest"]["rejected_lines"] == 0
    assert night["ingest"]["records"] > 0 and night["ingest"]["records_per_s"] > 0
    assert archive["relation_rows"]["total"] == 2 * 2 * 3 * PER_SUBRUN + 2 * PER_NIGHT
    # every answer is measured, or said to be skipped because its module is not there
    for part, key, module in [
        (night, "run_checks", "checks"),
        (archive, "build_recipe", "recipe"),
        (archive, "compare_recipes", "recipe"),
    ]:
        entry = part[key]
        if results["modules"][module] and (module != "recipe" or results["modules"]["compare"]):
            assert "error" not in entry, entry
            assert "skipped" not in entry, entry
        elif not results["modules"][module]:
            assert entry == {"skipped": f"provdb.answers.{module} not available"}
            assert f"skipped: provdb.answers.{module} not available" in done.stderr
    assert not (tmp_path / "home" / "night").exists()  # removed without --keep
    assert not (tmp_path / "home" / "archive").exists()


def test_bench_answers_bad_arguments(tmp_path: Path) -> None:
    done = run_bench(tmp_path, "--parts", "nights")
    assert done.returncode == 2 and "--parts takes night, archive" in done.stderr
    done = run_bench(tmp_path, "--model", str(tmp_path / "none.yaml"))
    assert done.returncode == 2 and "none.yaml not found" in done.stderr
    done = run_bench(tmp_path, "--runs", "2", "--reprocess", "3")
    assert done.returncode == 2 and "--reprocess" in done.stderr
