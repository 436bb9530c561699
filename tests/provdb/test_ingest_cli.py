"""``provdb ingest`` as a user runs it: a real subprocess on this test's own database."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import run_cli
from tests.provdb import logprov_files

NIGHT = Path("generated/lstosa_simulate_processing/prov.log")
PARALLEL = Path("generated/lstosa_parallel_datasequence/prov.log")
CTAPIPE = Path("generated/ctapipe_tool/lstchain-demo-dl1-to-dl2.provenance.log")
DEFINITION = Path("lstosa/config/definition.yaml")

#: the provenance files of the sample tree, relative to it (everything else is skipped)
PROVENANCE_SAMPLES = {
    "ctapipe/provenance.log",
    "lstchain/provenance.log",
    "generated/ctapipe_tool/lstchain-demo-dl1-to-dl2.provenance.log",
    "generated/lstosa_parallel_datasequence/prov.log",
    "generated/lstosa_simulate_processing/prov.log",
    *(
        f"generated/lstosa_simulate_processing/{level}/20200117/v0.1.0/tailcut84/{sub}log/"
        f"calibration_to_{level.lower()}_{run}_prov.{ext}"
        for level, sub in (("DL1", ""), ("DL2", "nsb_tuning_0.14/"))
        for run in ("01807", "01808")
        for ext in ("json", "log")
    ),
    "generated/voprov_serializations/voprov_example.json",
    "generated/voprov_serializations/voprov_example.provn",
    "generated/voprov_serializations/voprov_example.xml",
}


def counts(engine: sa.Engine) -> dict[str, int]:
    """Row count of every provenance/archive table."""
    with engine.connect() as c:
        names = c.execute(
            sa.text(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema IN ('provenance', 'archive') AND table_type = 'BASE TABLE'"
            )
        ).scalars()
        return {t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in names}


def query(engine: sa.Engine, sql: str, **params: Any) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql), params).all()]


def summary_count(stdout: str, label: str) -> int | None:
    """The number in the summary table's row ``label`` (None if the row is absent)."""
    m = re.search(rf"│\s*{re.escape(label)}\s*│\s*([\d,]+)\s*│", stdout)
    return int(m.group(1).replace(",", "")) if m else None


def with_bad_line(samples: Path, tmp_path: Path, at: int = 200) -> Path:
    lines = (samples / NIGHT).read_bytes().splitlines(keepends=True)
    bad = b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__{'activity_id': 'ab\n"
    path = tmp_path / "prov.log"
    path.write_bytes(b"".join([*lines[: at - 1], bad, *lines[at - 1 :]]))
    return path.resolve()


def broken_ctapipe(samples: Path, tmp_path: Path) -> Path:
    data = (samples / CTAPIPE).read_bytes()
    cut = data.index(b"][") + len(data) // 4
    path = tmp_path / "broken.provenance.log"
    path.write_bytes(data[:cut] + b"{{{ not json ]]" + data[cut:])
    return path.resolve()


# ----------------------------------------------------------------------------- help


def test_ingest_help_teaches_with_examples() -> None:
    result = run_cli("ingest", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: provdb ingest" in result.stdout
    assert "Examples:" in result.stdout and "provdb ingest " in result.stdout
    for option in ("--format", "--model", "--timezone", "--strict", "--dry-run", "--quiet"):
        assert option in result.stdout
    assert "Exit status" in result.stdout


# ----------------------------------------------------------------------------- exit codes


def test_clean_sample_exits_0_with_a_summary(cli_env, engine, samples) -> None:
    result = run_cli("ingest", str(samples / NIGHT), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "records/s" in result.stdout
    assert summary_count(result.stdout, "new") == 1
    assert summary_count(result.stdout, "records read") == 920
    assert summary_count(result.stdout, "rejected lines") == 0
    assert summary_count(result.stdout, "provenance.activity") == 62
    assert counts(engine)["provenance.activity"] == 62
    # the second run says so and adds nothing
    before = counts(engine)
    again = run_cli("ingest", str(samples / NIGHT), env=cli_env)
    assert again.returncode == 0, again.stderr
    assert summary_count(again.stdout, "unchanged") == 1
    assert summary_count(again.stdout, "new") is None
    assert counts(engine) == before


def test_rejected_line_exits_1_and_names_file_and_line(cli_env, engine, samples, tmp_path):
    path = with_bad_line(samples, tmp_path, at=200)
    result = run_cli("ingest", str(path), env=cli_env)
    assert result.returncode == 1, result.stderr
    assert f"{path}:200: " in result.stderr
    assert summary_count(result.stdout, "rejected lines") == 1
    assert counts(engine)["provenance.activity"] == 62
    assert query(engine, "SELECT line_number FROM archive.ingest_reject") == [(200,)]


def test_strict_exits_2_and_keeps_nothing(cli_env, engine, samples, tmp_path):
    path = with_bad_line(samples, tmp_path)
    result = run_cli("ingest", "--strict", str(path), env=cli_env)
    assert result.returncode == 2
    assert f"{path}:200: " in result.stderr and "--strict" in result.stderr
    assert all(v == 0 for v in counts(engine).values())


def test_failing_file_exits_2_keeps_nothing_of_it_and_the_others_go_in(
    cli_env, engine, samples, tmp_path
):
    broken = broken_ctapipe(samples, tmp_path)
    result = run_cli("ingest", str(broken), str(samples / NIGHT), env=cli_env)
    assert result.returncode == 2
    assert str(broken) in result.stderr
    assert summary_count(result.stdout, "failed") == 1
    assert summary_count(result.stdout, "new") == 1
    assert query(engine, "SELECT path FROM archive.ingest_file") == [(str(samples / NIGHT),)]
    assert query(engine, "SELECT count(*) FROM provenance.activity WHERE status IS NOT NULL") == [
        (0,)
    ]
    assert counts(engine)["provenance.activity"] == 62


def test_forced_wrong_format_exits_2(cli_env, engine, samples):
    result = run_cli("ingest", "--format", "ctapipe", str(samples / NIGHT), env=cli_env)
    assert result.returncode == 2
    assert str(samples / NIGHT) in result.stderr
    assert all(v == 0 for v in counts(engine).values())


def test_missing_path_exits_2(cli_env, tmp_path):
    result = run_cli("ingest", str(tmp_path / "nowhere.log"), env=cli_env)
    assert result.returncode == 2
    assert "nowhere.log: no such file or directory" in result.stderr


def test_unknown_timezone_is_one_line_error(cli_env, samples):
    result = run_cli("ingest", "--timezone", "Mars/Olympus", str(samples / NIGHT), env=cli_env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "provdb: error: unknown time zone 'Mars/Olympus': use an IANA name such as UTC or "
        "Atlantic/Canary"
    ]


# ----------------------------------------------------------------------------- walking a tree


def test_directory_walk_ingests_provenance_and_skips_the_rest(cli_env, engine, samples):
    every_file = [
        Path(root, name)
        for root, dirs, files in os.walk(samples)
        for name in files
        if not name.startswith(".") and not any(part.startswith(".") for part in Path(root).parts)
    ]
    others = len(every_file) - len(PROVENANCE_SAMPLES)
    assert others > 10  # PDFs, HDF5, YAML, SVG, sequencer.cfg, SOURCES.md...

    first = run_cli("ingest", str(samples), env=cli_env)
    assert first.returncode == 0, first.stderr
    assert f"{others} file(s) in the given folders are not provenance logs and were skipped" in (
        first.stderr
    )
    assert summary_count(first.stdout, "new") == len(PROVENANCE_SAMPLES)
    ingested = {
        Path(p).relative_to(samples).as_posix()
        for (p,) in query(engine, "SELECT path FROM archive.ingest_file")
    }
    assert ingested == PROVENANCE_SAMPLES
    assert query(engine, "SELECT count(*) FROM archive.ingest_file WHERE status <> 'complete'") == [
        (0,)
    ]
    before = counts(engine)

    second = run_cli("ingest", str(samples), env=cli_env)
    assert second.returncode == 0, second.stderr
    assert summary_count(second.stdout, "unchanged") == len(PROVENANCE_SAMPLES)
    assert summary_count(second.stdout, "new") is None
    assert counts(engine) == before


def test_logprov_log_and_its_documents(cli_env, engine, tmp_path):
    """A logprov session: its _PROV_ log and the PROV-JSON/XML logprov makes of it."""
    folder = tmp_path / "logprov"
    folder.mkdir()
    written = logprov_files.write_all(folder)
    model = logprov_files.write_definition(tmp_path)
    first = run_cli("ingest", "--model", str(model), str(folder), env=cli_env)
    assert first.returncode == 0, first.stderr
    assert summary_count(first.stdout, "new") == 3
    formats = dict(query(engine, "SELECT path, format FROM archive.ingest_file"))
    assert {Path(p).name: f for p, f in formats.items()} == {
        written[0].name: "lstosa",  # the prov.log family; the reader tells logprov apart
        written[1].name: "prov-json",
        written[2].name: "prov-xml",
    }
    assert query(engine, "SELECT count(*) FROM archive.ingest_reject") == [(0,)]
    # the log's activities are linked to the logprov model's descriptions
    linked = query(
        engine,
        "SELECT a.name, d.name FROM provenance.activity a "
        "JOIN provenance.activitydescription d ON d.id = a.activity_description_id "
        "ORDER BY a.name",
    )
    assert linked == [
        ("count_stars", "count_stars"),
        ("load_image", "load_image"),
        ("smooth", "smooth"),
    ]
    before = counts(engine)
    second = run_cli("ingest", str(folder), env=cli_env)
    assert second.returncode == 0, second.stderr
    assert summary_count(second.stdout, "unchanged") == 3
    assert counts(engine) == before


def test_glob_pattern_and_quiet(cli_env, engine, samples):
    pattern = str(samples / "generated" / "voprov_serializations" / "voprov_example.*")
    result = run_cli("ingest", "-q", pattern, env=cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert len(query(engine, "SELECT path FROM archive.ingest_file")) == 3


# ----------------------------------------------------------------------------- options


def test_dry_run_writes_nothing_but_reports(cli_env, engine, samples):
    result = run_cli(
        "ingest", "--dry-run", str(samples / NIGHT), str(samples / CTAPIPE), env=cli_env
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"dry run:\s+nothing\s+written", result.stdout), result.stdout
    assert summary_count(result.stdout, "dry-run") == 2
    assert summary_count(result.stdout, "records read") == 920 + 47
    assert all(v == 0 for v in counts(engine).values())


def test_model_and_timezone(cli_env, engine, samples):
    result = run_cli(
        "ingest",
        "--model",
        str(samples / DEFINITION),
        "--timezone",
        "Europe/Madrid",
        str(samples / NIGHT),
        env=cli_env,
    )
    assert result.returncode == 0, result.stderr
    assert query(
        engine,
        "SELECT count(*), count(activity_description_id), "
        "count(*) FILTER (WHERE start_time = start_time_text::timestamp - interval '1 hour') "
        "FROM provenance.activity",
    ) == [(62, 62, 62)]
    assert query(
        engine,
        "SELECT count(*), count(usage_description_id) FROM provenance.used",
    ) == [(223, 223)]
    assert query(
        engine,
        "SELECT count(*), count(generation_description_id) FROM provenance.wasgeneratedby",
    ) == [(124, 124)]


def test_compressed_file(cli_env, engine, samples, tmp_path):
    import gzip

    path = tmp_path / "prov.log.gz"
    path.write_bytes(gzip.compress((samples / NIGHT).read_bytes()))
    result = run_cli("ingest", str(path), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert summary_count(result.stdout, "records read") == 920
    assert counts(engine)["provenance.activity"] == 62


# ----------------------------------------------------------------------------- concurrency


def test_two_processes_on_one_file_never_duplicate(cli_env, engine, samples, tmp_path):
    path = tmp_path / "prov.log"
    shutil.copyfile(samples / PARALLEL, path)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        results[i] = run_cli("ingest", str(path), env=cli_env)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=200)
    for r in results:
        assert r is not None and r.returncode == 0, r and r.stderr
    statuses = sorted("new" if summary_count(r.stdout, "new") else "unchanged" for r in results)
    assert statuses == ["new", "unchanged"], [r.stdout for r in results]
    together = counts(engine)
    assert together["archive.ingest_file"] == 1

    # a single ingest of the same file into an empty archive gives the same counts
    with engine.begin() as c:
        c.execute(sa.text(f"TRUNCATE {', '.join(together)} CASCADE"))
    single = run_cli("ingest", str(path), env=cli_env)
    assert single.returncode == 0, single.stderr
    assert counts(engine) == together


def test_other_files_are_skipped_in_a_folder_but_refused_when_named(
    cli_env, engine, samples, tmp_path
):
    folder = tmp_path / "tree"
    folder.mkdir()
    shutil.copyfile(samples / NIGHT, folder / "prov.log")
    (folder / "notes.txt").write_text("nothing to see\n")
    (folder / "empty.log").write_bytes(b"")
    result = run_cli("ingest", str(folder), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "2 file(s) in the given folders are not provenance logs and were skipped" in (
        result.stderr
    )
    assert counts(engine)["archive.ingest_file"] == 1
    named = run_cli("ingest", str(folder / "notes.txt"), env=cli_env)
    assert named.returncode == 2
    assert f"{(folder / 'notes.txt').resolve()}" in named.stderr
    assert "not a provenance file" in named.stderr
    assert counts(engine)["archive.ingest_file"] == 1
