"""ivoa.obscore: which products, values from DL3 headers and logs, kept current by ingest
and scan (the same rows as a rebuild), settings, bad settings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.config import ObsCoreSettings
from provdb.errors import ConfigError
from provdb.obscore import rebuild
from tests import dl3_files
from tests.conftest import run_cli

HC_EV_M = 1.239841984e-6


def _rows(engine: sa.Engine) -> dict[str, dict]:
    with engine.connect() as c:
        return {
            r["location"]: dict(r)
            for r in c.execute(sa.text("SELECT * FROM ivoa.obscore")).mappings()
        }


def _load(tmp_path: Path, env: dict[str, str]) -> tuple[list[Path], list[Path]]:
    dl3, logs = dl3_files.write_all(tmp_path / "dl3")
    ingest = run_cli("ingest", "-q", *map(str, logs), env=env)
    assert ingest.returncode == 0, ingest.stderr
    scan = run_cli("scan", str(tmp_path / "dl3"), env=env)
    assert scan.returncode == 0, scan.stderr + scan.stdout
    return dl3, logs


def test_dl3_rows_come_from_the_headers_and_the_logs(
    engine: sa.Engine, cli_env: dict[str, str], tmp_path: Path
) -> None:
    dl3, _ = _load(tmp_path, cli_env)
    rows = _rows(engine)
    run = dl3_files.RUNS[0]
    row = rows[str(dl3[0])]
    assert row["dataproduct_type"] == "event"
    assert row["calib_level"] == 2 and row["data_level"] == "DL3"
    assert row["obs_id"] == str(run.run)
    assert row["target_name"] == "Crab"
    assert row["s_ra"] == pytest.approx(run.ra) and row["s_dec"] == pytest.approx(run.dec)
    assert row["s_fov"] == 4.5
    assert row["s_region"].startswith("CIRCLE ICRS ")
    t0 = dl3_files.tstart(run)
    assert row["t_min"] == pytest.approx(dl3_files.MJDREF + t0 / 86400, abs=1e-9)
    assert row["t_max"] == pytest.approx(dl3_files.MJDREF + (t0 + 1200) / 86400, abs=1e-9)
    assert row["t_exptime"] == pytest.approx(1140.0)
    # 80 TeV .. 20 GeV in metres
    assert row["em_min"] == pytest.approx(HC_EV_M / 80e12)
    assert row["em_max"] == pytest.approx(HC_EV_M / 0.02e12)
    assert row["access_estsize"] == math.ceil(dl3[0].stat().st_size / 1024)
    assert row["software_name"] == "lstchain" and row["software_version"] == "0.9.13"
    assert row["activity_name"] == "lstchain_create_dl3_file"
    assert row["n_flags"] == 0 and row["quality_flags"] is None
    assert row["obs_publisher_did"] == f"ivo://provdb.local/product?{row['entity_id']}"
    assert row["access_url"].startswith("http://127.0.0.1:8080/datalink/links?ID=ivo%3A%2F%2F")
    assert row["access_format"] == "application/x-votable+xml;content=datalink"
    assert (row["obs_collection"], row["facility_name"], row["instrument_name"]) == (
        "LST-1",
        "LST-1",
        "LSTCam",
    )
    flagged = rows[str(dl3[2])]
    assert flagged["n_flags"] >= 1 and "failed-ancestor" in flagged["quality_flags"]
    # DL1 and DL2 files of the logs are products too (no pointing known), R0 files not
    levels = {r["data_level"] for r in rows.values()}
    assert levels == {"DL1", "DL2", "DL3"}
    dl2 = rows[str(tmp_path / "dl3" / "dl2_LST-1.Run02001.h5")]
    assert dl2["obs_id"] == "2001" and dl2["s_ra"] is None and dl2["calib_level"] == 1
    assert dl2["software_name"] == "ctapipe" and dl2["activity_name"] == "lstchain_dl1_to_dl2"
    assert not any(loc.endswith(".fits.fz") for loc in rows)


def test_incremental_rows_equal_a_rebuild(
    engine: sa.Engine, cli_env: dict[str, str], tmp_path: Path, samples: Path
) -> None:
    _load(tmp_path, cli_env)
    ingest = run_cli("ingest", "-q", str(samples / "ctapipe"), env=cli_env)
    assert ingest.returncode == 0, ingest.stderr
    keep = ("updated",)
    before = {k: {c: v for c, v in r.items() if c not in keep} for k, r in _rows(engine).items()}
    with engine.begin() as conn:
        assert rebuild(conn) == len(before)
    after = {k: {c: v for c, v in r.items() if c not in keep} for k, r in _rows(engine).items()}
    assert before == after


def test_a_failed_log_changes_no_obscore_row(
    engine: sa.Engine, cli_env: dict[str, str], tmp_path: Path
) -> None:
    _load(tmp_path, cli_env)
    before = _rows(engine)
    bad = tmp_path / "bad.provenance.log"
    bad.write_text('[{"activity_name": "x", "activity_uuid": 3, "output": [', encoding="utf-8")
    result = run_cli("ingest", "--strict", str(bad), env=cli_env)
    assert result.returncode == 2
    assert _rows(engine) == before


def test_settings_shape_collection_did_and_access_url(
    engine: sa.Engine, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **cli_env,
        "PROVDB_OBSCORE_COLLECTION": "LST-1 DL3",
        "PROVDB_OBSCORE_AUTHORITY": "ivo://example.org/lst",
        "PROVDB_OBSCORE_ACCESS_URL": "https://data.example.org/lst{path}",
        "PROVDB_OBSCORE_FOV": "5",
    }
    dl3, _ = _load(tmp_path, env)
    row = _rows(engine)[str(dl3[0])]
    assert row["obs_collection"] == "LST-1 DL3"
    assert row["obs_publisher_did"] == f"ivo://example.org/lst?{row['entity_id']}"
    assert row["access_url"] == f"https://data.example.org/lst{dl3[0]}"
    assert row["access_format"] == "application/fits"
    assert row["s_fov"] == 5.0
    assert row["s_region"].endswith(" 2.5")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PROVDB_OBSCORE_FOV", "wide", "expected a number > 0"),
        ("PROVDB_OBSCORE_AUTHORITY", "http://example.org", "expected an IVOA identifier"),
        ("PROVDB_OBSCORE_ACCESS_URL", "https://x/{where}", "not a valid pattern"),
    ],
)
def test_bad_settings_are_one_clear_error(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ObsCoreSettings.from_env({name: value})


def test_bad_setting_fails_the_ingest_and_keeps_nothing(
    engine: sa.Engine, cli_env: dict[str, str], tmp_path: Path
) -> None:
    _, logs = dl3_files.write_all(tmp_path / "dl3")
    result = run_cli("ingest", str(logs[0]), env={**cli_env, "PROVDB_OBSCORE_FOV": "wide"})
    assert result.returncode == 2
    assert "PROVDB_OBSCORE_FOV" in result.stderr
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM provenance.activity")).scalar() == 0


def test_cli_shows_the_products_and_rebuilds_after_a_settings_change(
    engine: sa.Engine, cli_env: dict[str, str], tmp_path: Path
) -> None:
    dl3, _ = _load(tmp_path, cli_env)
    shown = run_cli("obscore", env=cli_env)
    assert shown.returncode == 0, shown.stderr
    dl3_line = next(line for line in shown.stdout.splitlines() if line.startswith("DL3"))
    assert dl3_line.split()[1:] == ["5", "5", "1"]  # products, with pointing, flagged
    env = {**cli_env, "PROVDB_TAP_BASE_URL": "https://archive.example.org/tap"}
    rebuilt = run_cli("obscore", "--rebuild", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "Rebuilt ivoa.obscore" in rebuilt.stdout
    row = _rows(engine)[str(dl3[0])]
    assert row["access_url"].startswith("https://archive.example.org/datalink/links?ID=")
    bad = run_cli("obscore", "--rebuild", env={**cli_env, "PROVDB_OBSCORE_AUTHORITY": "x"})
    assert bad.returncode == 2 and "PROVDB_OBSCORE_AUTHORITY" in bad.stderr
    assert _rows(engine)[str(dl3[0])]["access_url"] == row["access_url"]
