"""``provdb stats`` / :func:`provdb.answers.stats.activity_stats` on a real archive.

The archive holds the sample night's lstosa ``prov.log`` with one ``endTime`` record
removed (that activity never ended) and a ctapipe provenance log written here with one
completed and one failed activity (status ``error``, exit code 1). Every expected value
is computed from the log records themselves (``ast.literal_eval`` of the prov.log lines,
``statistics`` for median and p95), never from SQL.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import statistics
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.answers.stats import StatsError, activity_stats
from provdb.ingest.pipeline import ingest_file
from tests.conftest import run_cli

NIGHT = "20200117"
MARK = "__PROV__"


def _records(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        if line.count(MARK) >= 2:
            out.append(ast.literal_eval(line.split(MARK, 2)[2]))
    return out


def _durations(records: list[dict]) -> dict[str, list[float | None]]:
    """name -> durations (None for an activity that never ended), pairing start and end
    records by (activity_id, session_tag) in log order."""
    open_: dict[tuple, tuple[str, dt.datetime]] = {}
    out: dict[str, list[float | None]] = {}
    for r in records:
        if "startTime" in r and "activity_id" in r:
            key = (r["activity_id"], r.get("session_tag"))
            open_[key] = (r["name"], dt.datetime.fromisoformat(r["startTime"]))
        elif "endTime" in r:
            name, start = open_.pop((r["activity_id"], r.get("session_tag")))
            end = dt.datetime.fromisoformat(r["endTime"])
            out.setdefault(name, []).append((end - start).total_seconds())
    for name, _start in open_.values():
        out.setdefault(name, []).append(None)
    return out


def _p95(values: list[float]) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


CTAPIPE = [
    {
        "activity_name": "stats-good-tool",
        "activity_uuid": "11111111-1111-1111-1111-111111111111",
        "status": "completed",
        "start": {"time_utc": "2024-03-01T10:00:00.000"},
        "stop": {"time_utc": "2024-03-01T10:00:30.000"},
        "input": [],
        "output": [],
        "exit_code": 0,
    },
    {
        "activity_name": "stats-bad-tool",
        "activity_uuid": "22222222-2222-2222-2222-222222222222",
        "status": "error",
        "start": {"time_utc": "2024-03-01T11:00:00.000"},
        "stop": {"time_utc": "2024-03-01T11:00:05.500"},
        "input": [],
        "output": [],
        "exit_code": 1,
    },
]


@pytest.fixture
def night_log(samples: Path, tmp_path: Path) -> tuple[Path, str]:
    """The sample prov.log without the end record of its last r0_to_dl1 of run 01807."""
    src = samples / "generated/lstosa_simulate_processing/prov.log"
    lines = src.read_text().splitlines(keepends=True)
    starts = [
        ast.literal_eval(x.split(MARK, 2)[2])
        for x in lines
        if "'startTime'" in x and "'r0_to_dl1:01807'" in x and "'activity_id'" in x
    ]
    victim = starts[-1]["activity_id"]
    kept = [x for x in lines if not ("'endTime'" in x and f"'activity_id': '{victim}'" in x)]
    assert len(kept) == len(lines) - 1
    out = tmp_path / "prov.log"
    out.write_text("".join(kept))
    return out, victim


@pytest.fixture
def archive(engine: sa.Engine, night_log: tuple[Path, str], tmp_path: Path) -> sa.Engine:
    ctapipe = tmp_path / "tool.provenance.log"
    ctapipe.write_text(json.dumps(CTAPIPE, indent=2))
    raw = engine.raw_connection()
    try:
        for path in (night_log[0], ctapipe):
            result = ingest_file(raw.driver_connection, path)
            assert result.status == "new" and result.rejects == 0, result.error
    finally:
        raw.close()
    return engine


def test_night_by_step_matches_the_log(archive: sa.Engine, night_log: tuple[Path, str]) -> None:
    expected = _durations(_records(night_log[0]))
    report = activity_stats(archive, night=NIGHT, by="step", top=3)
    got = {g.group: g for g in report.groups}
    assert set(got) == set(expected)
    for name, durs in expected.items():
        ended = [d for d in durs if d is not None]
        g = got[name]
        assert g.activities == len(durs)
        assert g.never_ended == durs.count(None)
        assert g.completed == len(ended) and g.failed == 0
        assert g.median_s == pytest.approx(statistics.median(ended), abs=1e-9)
        assert g.p95_s == pytest.approx(_p95(ended), abs=1e-9)
        assert g.max_s == pytest.approx(max(ended), abs=1e-9)
        assert g.total_s == pytest.approx(sum(ended), abs=1e-6)
    all_durs = [d for ds in expected.values() for d in ds]
    assert report.summary.activities == len(all_durs)
    assert report.summary.never_ended == 1
    top = sorted((d for d in all_durs if d is not None), reverse=True)[:3]
    assert [a.duration_s for a in report.slowest] == pytest.approx(top, abs=1e-9)
    # the never-ended activity is listed, with its run
    (open_,) = report.never_ended
    assert open_.id.startswith(night_log[1] + "@") and open_.run == "20200117_01807"
    assert open_.end is None and open_.duration_s is None
    assert report.failures == []  # lstosa records no failure


def test_archive_counts_the_ctapipe_failure(archive: sa.Engine) -> None:
    report = activity_stats(archive, by="step")
    got = {g.group: g for g in report.groups}
    assert got["stats-bad-tool"].failed == 1 and got["stats-bad-tool"].completed == 0
    assert got["stats-bad-tool"].max_s == pytest.approx(5.5)
    assert got["stats-good-tool"].completed == 1 and got["stats-good-tool"].failed == 0
    (failure,) = report.failures
    assert (failure.name, failure.status, failure.exit_code) == ("stats-bad-tool", "error", 1)
    assert report.summary.failed == 1
    # by night: the ctapipe activities have no night
    nights = {g.group: g for g in activity_stats(archive, by="night").groups}
    assert nights["-"].activities == 2 and nights[NIGHT].failed == 0


def test_by_run_counts_the_nights_calibration_in_each_run(
    archive: sa.Engine, night_log: tuple[Path, str]
) -> None:
    records = _records(night_log[0])
    tags = [r.get("session_tag", "") for r in records if "startTime" in r and "activity_id" in r]
    calibration = sum(1 for t in tags if t.split(":")[0] in ("drs4_pedestal", "calibrate_charge"))
    per_run = {
        f"{NIGHT}_{run}": sum(1 for t in tags if t.endswith(":" + run)) + calibration
        for run in ("01807", "01808")
    }
    report = activity_stats(archive, night=NIGHT, by="run")
    assert {g.group: g.activities for g in report.groups} == per_run
    one = activity_stats(archive, run="1807", by="step")
    assert one.run == "01807" and one.summary.activities == per_run[f"{NIGHT}_01807"]
    assert (
        activity_stats(archive, run=f"{NIGHT}_01808").summary.activities
        == per_run[f"{NIGHT}_01808"]
    )


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"night": "20200118"}, "unknown night 20200118: the archive's latest nights are 20200117"),
        ({"night": "17/01/2020"}, "is not a date YYYYMMDD"),
        ({"run": "09999"}, "unknown run 09999"),
        ({"run": "run7"}, "is not a run number"),
        ({"by": "day"}, "unknown grouping 'day'"),
    ],
)
def test_bad_arguments_say_what_exists(archive: sa.Engine, kwargs: dict, needle: str) -> None:
    with pytest.raises(StatsError, match=needle):
        activity_stats(archive, **kwargs)


def test_cli_text_json_and_errors(
    archive: sa.Engine, cli_env: dict[str, str], night_log: tuple[Path, str]
) -> None:
    n = sum(len(d) for d in _durations(_records(night_log[0])).values())
    text = run_cli("stats", "--night", NIGHT, "--top", "2", env=cli_env)
    assert text.returncode == 0, text.stderr
    first = text.stdout.splitlines()[0]
    assert first.startswith(
        f"{n} activities in night 20200117: {n - 1} completed, 0 failed, 1 never"
    )
    assert "2 slowest activities" in text.stdout and "1 never ended" in text.stdout
    assert "r0_to_dl1" in text.stdout and "dl1_datacheck" in text.stdout

    js = run_cli("stats", "--by", "run", "--night", NIGHT, "--format", "json", env=cli_env)
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    assert set(data) == {
        "night", "run", "by", "top", "summary", "groups", "slowest", "failures", "never_ended"
    }  # fmt: skip
    assert data["summary"]["activities"] == n and data["by"] == "run"
    assert sorted(g["group"] for g in data["groups"]) == ["20200117_01807", "20200117_01808"]
    assert data["never_ended"][0]["end"] is None

    bad = run_cli("stats", "--night", "20991231", env=cli_env)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == (
        "provdb: error: unknown night 20991231: the archive's latest nights are 20200117; "
        "give --night YYYYMMDD"
    )
    assert run_cli("stats", "--by", "week", env=cli_env).returncode == 2


def test_empty_archive(engine: sa.Engine, cli_env: dict[str, str]) -> None:
    report = activity_stats(engine, by="night")
    assert report.summary.activities == 0 and report.groups == [] and report.nights == []
    assert report.summary.median_s is None
    out = run_cli("stats", env=cli_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("0 activities in the whole archive: 0 completed")
    bad = run_cli("stats", "--night", "20200117", env=cli_env)
    assert bad.returncode == 2
    assert "unknown night 20200117: the archive's latest nights are none" in bad.stderr
