"""provdb check (provdb.answers.checks and the CLI) on scenario logs and on the samples."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.answers.check_format import at_or_above, format_json, format_text
from provdb.answers.checks import CheckError, run_checks
from provdb.ingest.pipeline import ingest_file
from tests.conftest import run_cli
from tests.provdb import check_scenario as sc

NIGHT_LOG = "generated/lstosa_simulate_processing/prov.log"


def ingest(engine: sa.Engine, path: Path) -> None:
    raw = engine.raw_connection()
    try:
        result = ingest_file(raw.driver_connection, path)
    finally:
        raw.close()
    assert result.status == "new" and result.rejects == 0, result.error


@pytest.fixture
def scenario(engine: sa.Engine, tmp_path: Path) -> dict[str, str]:
    files = sc.paths()
    ingest(engine, sc.write(tmp_path / "a", "prov.log", sc.part1(files)))
    ingest(engine, sc.write(tmp_path / "b", "prov.log", sc.part2(files)))
    return files


def _entity_pairs(report) -> set[tuple[str, str]]:
    return {(f.rule, f.subject_id) for f in report.findings if f.subject_kind == "entity"}


def test_reprocessing_scenario_findings_are_the_constructed_ones(
    engine: sa.Engine, scenario: dict[str, str]
) -> None:
    report = run_checks(engine)
    assert _entity_pairs(report) == sc.expected(scenario, regenerated=True)
    (run,) = [f for f in report.findings if f.subject_kind == "run"]
    assert (run.rule, run.subject_id) == ("incomplete-run", "20200117_01807")
    assert "dl1_datacheck" in run.detail and "0002" in run.detail and "0001" not in run.detail
    by_key = {(f.rule, f.subject_id): f for f in report.findings}
    stale = by_key[("stale", sc.fid(scenario["DL1.0000"]))]
    assert stale.cause_id == sc.fid(scenario["CAL"]) and scenario["CAL"] in stale.detail
    mixed = by_key[("mixed-versions", sc.fid(scenario["DCHK.0000"]))]
    assert mixed.detail == "lineage ran lstchain 0.10.0, 0.9.0"  # not the environment's 9.9.9
    with engine.connect() as conn:
        env = conn.execute(
            sa.text(
                "SELECT count(*) FROM archive.software WHERE package = 'lstchain' "
                "AND version = '9.9.9' AND source = 'environment'"
            )
        ).scalar()
    assert env == 1  # the environment row exists: the rule chose the declared version
    missing = by_key[("missing-input", sc.fid(scenario["DL1.0002"]))]
    assert missing.cause_id == sc.fid(scenario["PED"]) and "PedestalFile" in missing.detail
    failed = by_key[("failed-ancestor", sc.fid(scenario["DCHK.0001"]))]
    assert "never ended" in failed.detail and failed.severity == "error"
    assert report.by_rule["stale"] == 5 and report.by_severity["error"] == 2


def test_before_the_regeneration_nothing_is_stale_or_mixed(
    engine: sa.Engine, tmp_path: Path
) -> None:
    files = sc.paths()
    ingest(engine, sc.write(tmp_path, "prov.log", sc.part1(files)))
    assert _entity_pairs(run_checks(engine)) == sc.expected(files, regenerated=False)


def test_scopes_rules_and_bad_arguments(engine: sa.Engine, scenario: dict[str, str]) -> None:
    dl1 = sc.fid(scenario["DL1.0002"])
    one = run_checks(engine, ident=dl1)
    assert {f.subject_id for f in one.findings} == {dl1}
    assert {f.rule for f in one.findings} == {"stale", "mixed-versions", "missing-input"}
    only = run_checks(engine, run="20200117_01807", rules=["stale"])
    assert {f.rule for f in only.findings} == {"stale"} and len(only.findings) == 5
    # the calibration session is run 01809: run 1807 does not hold CAL
    assert sc.fid(scenario["CAL"]) not in {f.subject_id for f in only.findings}
    with pytest.raises(CheckError, match=r"no entity with id 'nope'.*md5"):
        run_checks(engine, ident="nope")
    with pytest.raises(CheckError, match=r"YYYYMMDD"):
        run_checks(engine, night="2020-01-17")
    with pytest.raises(CheckError, match=r"no processed product for night 20210101"):
        run_checks(engine, night="20210101")
    with pytest.raises(CheckError, match=r"unknown rule 'bogus'"):
        run_checks(engine, rules=["bogus"])


def test_formatters_and_fail_on(engine: sa.Engine, scenario: dict[str, str]) -> None:
    report = run_checks(engine, night=sc.NIGHT)
    doc = json.loads(format_json(report))
    assert set(doc) == {"findings", "summary"}
    assert doc["summary"]["by_severity"]["error"] == 2
    assert set(doc["findings"][0]) == {
        "rule",
        "severity",
        "subject_kind",
        "subject_id",
        "location",
        "detail",
        "cause_id",
    }
    text = format_text(report)
    assert text.splitlines()[0].split()[:4] == ["SEVERITY", "RULE", "KIND", "SUBJECT"]
    assert "by rule: stale 5" in text
    assert at_or_above(report, "error") and not at_or_above(report, "never")


def test_check_command_exit_codes(engine, scenario, cli_env) -> None:
    result = run_cli("check", "--night", sc.NIGHT, env=cli_env)
    assert result.returncode == 1, result.stderr
    assert "failed-ancestor" in result.stdout
    result = run_cli("check", "--rule", "stale", "--format", "json", env=cli_env)
    assert result.returncode == 0, result.stderr  # warnings only, default --fail-on error
    assert json.loads(result.stdout)["summary"]["by_rule"] == {"stale": 5}
    result = run_cli("check", "--rule", "stale", "--fail-on", "warning", env=cli_env)
    assert result.returncode == 1
    result = run_cli("check", "--id", "0123", env=cli_env)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("provdb: error: no entity with id '0123'")
    assert len(result.stderr.strip().splitlines()) == 1
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM archive.product_flag"))
    result = run_cli("check", "--rebuild-flags", "--rule", "stale", env=cli_env)
    n_flags = len(sc.expected(scenario, regenerated=True))
    assert result.returncode == 0 and f"rebuilt: {n_flags} flag(s)" in result.stderr
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM archive.product_flag")).scalar() == n_flags
        )
    result = run_cli("check", "--help")
    assert result.returncode == 0 and "provdb check --night 20200117" in result.stdout


def test_samples_findings_are_the_ones_read_in_the_log(engine: sa.Engine, samples: Path) -> None:
    """The sample night: r0_to_dl1 uses v0.1.1 calibration files that nothing generated
    (the night's calibration made the v0.12.3 ones): every product made from them is
    missing-input, and nothing else is flagged."""
    ingest(engine, samples / NIGHT_LOG)
    records = [
        ast.literal_eval(line.split("__PROV__")[2])
        for line in (samples / NIGHT_LOG).read_text().splitlines()
        if "__PROV__" in line
    ]
    generated = {r["generated_id"] for r in records if "generated_id" in r}
    entities = {r["entity_id"]: r for r in records if "entity_id" in r}
    raw = {
        "R0SubrunDataset",
        "RawObservationFile",
        "RunSummaryFile",
        "PointingFile",
        "TimeCalibrationFile",
        "SystematicCorrectionFile",
        "AnalysisConfigFile",
    }
    missing = {
        r["used_id"]
        for r in records
        if "used_id" in r
        and r["used_id"] not in generated
        and entities[r["used_id"]]["name"] not in raw
        and not entities[r["used_id"]]["name"].startswith("R0")
    }
    assert {entities[m]["filepath"].split("/")[-2] for m in missing} == {"v0.1.1"}
    report = run_checks(engine)
    assert {f.rule for f in report.findings} == {"missing-input"}
    assert {f.cause_id for f in report.findings} <= missing
    # every entity generated by an activity that used a missing input is flagged
    acts = {r["activity_id"] for r in records if r.get("used_id") in missing}
    direct = {
        r["generated_id"] for r in records if r.get("activity_id") in acts and "generated_id" in r
    }
    assert direct <= {f.subject_id for f in report.findings}


def test_a_product_remade_after_the_regeneration_is_no_longer_stale(
    engine: sa.Engine, scenario: dict[str, str], tmp_path: Path
) -> None:
    # the pair "product, regenerated ancestor" decides, not the ancestor alone
    ingest(engine, sc.write(tmp_path / "c", "prov.log", sc.remake_dl1(scenario)))
    report = run_checks(engine, rules=["stale"])
    stale = {f.subject_id for f in report.findings}
    expected = {sc.fid(scenario[k]) for k in ("DL1.0001", "DL1.0002", "DCHK.0000", "DCHK.0001")}
    assert stale == expected
    # the same through the flags the ingest keeps
    with engine.connect() as conn:
        flagged = conn.execute(
            sa.text("SELECT entity_id FROM archive.product_flag WHERE rule = 'stale'")
        ).scalars()
        assert set(flagged) == expected
