"""Tests of provdb.ingest.ctapipe_json on real ctapipe provenance logs."""

from __future__ import annotations

import bz2
import copy
import gzip
import json
import lzma
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from provdb.errors import ParseError
from provdb.ingest.ctapipe_json import (
    detect,
    iter_activities,
    map_activity,
    parse_file,
)
from provdb.ingest.identifiers import environment_id, path_entity_id
from provdb.ingest.records import (
    ActivityRow,
    AgentRow,
    AssociationRow,
    EntityRow,
    EnvironmentRow,
    GenerationRow,
    ParameterRow,
    SessionRow,
    UsedRow,
)
from tests.provdb import logprov_files

GLUED = "generated/ctapipe_tool/lstchain-demo-dl1-to-dl2.provenance.log"
OLD = "ctapipe/provenance.log"
EMPTY = "lstchain/provenance.log"
RUN = "/tmp/lst-ctapipe-run"
UUID_OK = "eeeede2d-482b-4443-bde2-2e3a20af5149"
UUID_ERR = "dec51371-fe2c-459a-9b89-bc19fbbad09a"


def of_type(rows: list[Any], cls: type) -> list[Any]:
    return [r for r in rows if type(r) is cls]


def activities(samples: Path, name: str) -> list[dict[str, Any]]:
    return [act for _, act in iter_activities((samples / name).read_bytes())]


def write_log(path: Path, *arrays: list[dict[str, Any]], glue: str = "") -> Path:
    """Write arrays the way ctapipe does: indent=3, no final newline, glued."""
    path.write_text(glue.join(json.dumps(a, indent=3) for a in arrays), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------
# iter_activities
# --------------------------------------------------------------------------------------


def test_iter_activities_glued_arrays_and_lines(samples: Path) -> None:
    path = samples / GLUED
    lines = path.read_text(encoding="utf-8").splitlines()
    found = list(iter_activities(path.read_bytes(), path=str(path)))
    assert [act["activity_uuid"] for _, act in found] == [UUID_OK, UUID_ERR]
    assert [line for line, _ in found] == [2, 861]
    for line, _ in found:
        assert lines[line - 1].strip() == "{"
        assert '"activity_name"' in lines[line]
    assert lines[859] == "]["  # the glue (ctapipe issue #3058)


def test_iter_activities_accepts_text_whitespace_and_empty_arrays() -> None:
    act = {"activity_uuid": "u1", "activity_name": "t"}
    text = "\ufeff \n[]\n[ ]" + json.dumps([act, act]) + "\n\n[]  \n"
    found = list(iter_activities(text))
    assert [a for _, a in found] == [act, act]
    assert [line for line, _ in found] == [3, 3]
    assert list(iter_activities(b"")) == []
    assert list(iter_activities(b"[]")) == []
    assert list(iter_activities(b"[][]\n")) == []


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("hello", 1, "expected '['"),
        ("[]\n\nxyz", 3, "expected '['"),
        ("[\n 1\n]", 2, "expected an activity object"),
        ('[\n {"a": 1}\n {"b": 2}]', 3, "expected ',' or ']'"),
        ('[\n {"a": 1},\n]', 3, "expected an activity object"),
        ('[\n {"a": 1,\n  "b": tru}\n]', 3, "invalid JSON in the activity starting at line 2"),
        ('[\n {"a": 1}', 2, "truncated"),
        ('[\n {"a": 1}\n,', 3, "truncated"),
        ('[\n {"a": "unterminated\n', 2, "truncated"),
        ('[\n {"a": [1,\n', 3, "truncated"),
        ("[", 1, "truncated"),
    ],
)
def test_iter_activities_syntax_errors(text: str, line: int, words: str) -> None:
    with pytest.raises(ParseError) as info:
        list(iter_activities(text, path="x.provenance.log"))
    err = info.value
    assert err.line == line
    assert words in err.reason
    assert str(err).startswith(f"x.provenance.log:{line}: ")


def test_iter_activities_invalid_utf8_names_the_line() -> None:
    with pytest.raises(ParseError) as info:
        list(iter_activities(b'[\n {"a":\n "\xff"}]', path="bad.log"))
    assert info.value.line == 3
    assert "UTF-8" in str(info.value)


def test_iter_activities_yields_before_the_error(samples: Path) -> None:
    data = (samples / GLUED).read_bytes()
    gen = iter_activities(data[: len(data) // 2 + 2000], path="cut.log")
    line, act = next(gen)
    assert (line, act["activity_uuid"]) == (2, UUID_OK)
    with pytest.raises(ParseError, match="truncated"):
        next(gen)


# --------------------------------------------------------------------------------------
# parse_file: current ctapipe (0.25), glued arrays
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def glued_rows(samples: Path) -> list[Any]:
    return list(parse_file(samples / GLUED))


def test_glued_sample_activities(glued_rows: list[Any]) -> None:
    acts = {a.id: a for a in of_type(glued_rows, ActivityRow)}
    assert list(acts) == [UUID_OK, UUID_ERR]
    ok, err = acts[UUID_OK], acts[UUID_ERR]
    assert (ok.status, ok.exit_code) == ("completed", 0)
    assert (err.status, err.exit_code) == ("error", 1)
    assert ok.name == err.name == "lstchain-demo-dl1-to-dl2"
    assert ok.original_id == UUID_OK
    assert ok.start_time == datetime(2026, 11, 23, 19, 37, 0, 739000)
    assert ok.end_time == datetime(2026, 11, 23, 19, 37, 1, 141000)
    assert ok.start_time.tzinfo is None
    assert (ok.start_time_text, ok.end_time_text) == (
        "2026-11-23T19:37:00.739",
        "2026-11-23T19:37:01.141",
    )
    assert ok.session_id == "ctapipe:" + UUID_OK
    assert ok.script == "demo_tool.py"
    assert ok.command_line == (
        "demo_tool.py --input dl1_LST-1.Run01807.0000.h5 "
        "--output dl2_LST-1.Run01807.0000.h5 -c config.json"
    )
    assert err.command_line is not None and err.command_line.endswith("--fail")
    assert ok.attributes == {"duration_min": pytest.approx(0.0067)}


def test_glued_sample_sessions_and_environment(samples: Path, glued_rows: list[Any]) -> None:
    envs = of_type(glued_rows, EnvironmentRow)
    assert len(envs) == 1  # both runs share one environment: only argv/start differ
    env = envs[0]
    systems = [act["system"] for act in activities(samples, GLUED)]
    assert env.id == environment_id(systems[0]) == environment_id(systems[1])
    assert "arguments" not in env.system and "start_time_utc" not in env.system
    assert env.system["platform"]["n_cpus"] == 2
    sessions = of_type(glued_rows, SessionRow)
    assert [s.id for s in sessions] == ["ctapipe:" + UUID_OK, "ctapipe:" + UUID_ERR]
    for session in sessions:
        assert session.software_version == "0.25.1"
        assert session.environment_id == env.id
        assert session.name == "lstchain-demo-dl1-to-dl2"
    assert sessions[0].original_id == UUID_OK
    # USER is null in this sample: no agent
    assert of_type(glued_rows, AgentRow) == []
    assert of_type(glued_rows, AssociationRow) == []


def test_glued_sample_config_parameters(glued_rows: list[Any]) -> None:
    params: dict[str, dict[str, str]] = {}
    for p in of_type(glued_rows, ParameterRow):
        assert p.name not in params.setdefault(p.activity_id, {})
        params[p.activity_id][p.name] = p.parameter_value
    ok, err = params[UUID_OK], params[UUID_ERR]
    assert len(ok) == len(err) == 17
    assert ok["LSTDemoTool.n_events"] == "5"
    assert ok["LSTDemoTool.fail"] == "false"
    assert err["LSTDemoTool.fail"] == "true"
    assert ok["LSTDemoTool.log_file"] == "null"
    assert ok["LSTDemoTool.log_level"] == "30"
    assert ok["LSTDemoTool.log_config"] == "{}"
    assert ok["LSTDemoTool.config_files"] == json.dumps([f"{RUN}/config.json"])
    assert ok["LSTDemoTool.log_datefmt"] == "%Y-%m-%d %H:%M:%S"
    assert ok["LSTDemoTool.output_file"] == f"{RUN}/dl2_LST-1.Run01807.0000.h5"
    assert err["LSTDemoTool.output_file"] == f"{RUN}/dl2_LST-1.Run01807.0001.h5"


def test_glued_sample_used_and_generated(glued_rows: list[Any]) -> None:
    entities = {e.location: e for e in of_type(glued_rows, EntityRow)}
    # the config file and the DL1 input are read by both runs: one entity each
    assert len(of_type(glued_rows, EntityRow)) == len(entities) == 3
    config = entities[f"{RUN}/config.json"]
    dl1 = entities[f"{RUN}/dl1_LST-1.Run01807.0000.h5"]
    dl2 = entities[f"{RUN}/dl2_LST-1.Run01807.0000.h5"]
    for entity in entities.values():
        assert entity.id == path_entity_id(entity.location)
    assert (config.name, config.attributes, config.content_type) == ("config.json", None, None)
    assert dl1.name == "dl1_LST-1.Run01807.0000.h5"
    meta = dl1.attributes["reference_meta"]
    assert meta["CTA PRODUCT DESCRIPTION"] == "demo DL1"
    assert meta["CTA INSTRUMENT ID"] == "LST-1"
    assert dl1.content_type == "hdf5"
    # fabricated default metadata: kept as written, but an empty format is no content type
    assert dl2.attributes["reference_meta"]["CTA CONTACT NAME"] == "root"
    assert dl2.content_type is None

    used = {(u.activity_id, u.entity_id, u.role) for u in of_type(glued_rows, UsedRow)}
    assert used == {
        (UUID_OK, config.id, "Tool Configuration"),
        (UUID_OK, dl1.id, "dl1 input file"),
        (UUID_ERR, config.id, "Tool Configuration"),
        (UUID_ERR, dl1.id, "dl1 input file"),
    }
    generated = of_type(glued_rows, GenerationRow)
    assert [(g.entity_id, g.activity_id, g.role) for g in generated] == [
        (dl2.id, UUID_OK, "dl2 output file")
    ]


def test_rows_come_in_load_order(glued_rows: list[Any]) -> None:
    seen: set[str] = set()
    for row in glued_rows:
        if isinstance(row, EnvironmentRow | EntityRow):
            seen.add(row.id)
        elif isinstance(row, SessionRow):
            assert row.environment_id in seen
            seen.add(row.id)
        elif isinstance(row, ActivityRow):
            assert row.session_id in seen
            seen.add(row.id)
        elif isinstance(row, UsedRow | GenerationRow):
            assert row.activity_id in seen and row.entity_id in seen
        elif isinstance(row, ParameterRow):
            assert row.activity_id in seen


# --------------------------------------------------------------------------------------
# De-duplication by activity_uuid
# --------------------------------------------------------------------------------------


def test_repeated_activity_is_kept_once(samples: Path, tmp_path: Path) -> None:
    first, second = activities(samples, GLUED)
    # a process that runs two tools: first write [A], second write [A, B]
    path = write_log(tmp_path / "multi.provenance.log", [first], [first, second])
    rows = list(parse_file(path))
    assert [a.id for a in of_type(rows, ActivityRow)] == [UUID_OK, UUID_ERR]
    assert len(of_type(rows, SessionRow)) == 2
    assert len(of_type(rows, EnvironmentRow)) == 1
    assert rows == list(parse_file(samples / GLUED))
    # iter_activities itself does not de-duplicate
    assert len(list(iter_activities(path.read_bytes()))) == 3


@pytest.mark.parametrize("running_first", [True, False])
def test_completed_copy_wins_over_running(
    samples: Path, tmp_path: Path, running_first: bool
) -> None:
    first, second = activities(samples, GLUED)
    running = copy.deepcopy(first)
    running.update(status="running", stop={}, exit_code=None, output=[])
    del running["duration_min"]
    copies = [running, first] if running_first else [first, running]
    path = write_log(tmp_path / "run.provenance.log", [copies[0]], [copies[1], second])
    rows = list(parse_file(path))
    acts = of_type(rows, ActivityRow)
    assert [a.id for a in acts] == [UUID_OK, UUID_ERR]
    assert (acts[0].status, acts[0].exit_code) == ("completed", 0)
    assert acts[0].end_time == datetime(2026, 11, 23, 19, 37, 1, 141000)
    assert len(of_type(rows, GenerationRow)) == 1


def test_running_activity_mapping(samples: Path) -> None:
    act = copy.deepcopy(activities(samples, GLUED)[0])
    act.update(status="running", stop={}, exit_code=None)
    rows = map_activity(act, path="p", line=2)
    (activity,) = of_type(rows, ActivityRow)
    assert activity.status == "running"
    assert activity.end_time is None and activity.end_time_text is None
    assert activity.exit_code is None


# --------------------------------------------------------------------------------------
# Old (2019, ctapipe 0.7) and empty logs
# --------------------------------------------------------------------------------------


def test_old_2019_log(samples: Path) -> None:
    rows = list(parse_file(samples / OLD))
    acts = of_type(rows, ActivityRow)
    assert [a.name for a in acts] == ["test2", "test1", "myactivity", "application"]
    # old API misuse: status holds the activity name; kept as written
    assert [a.status for a in acts] == ["test2", "test1", "myactivity", "completed"]
    assert all(a.exit_code is None for a in acts)
    assert acts[0].start_time == datetime(2019, 10, 23, 7, 33, 50, 636000)
    assert acts[0].command_line == "/Users/kkosack/anaconda3/envs/cta-dev/bin/pytest ctapipe/core"

    (env,) = of_type(rows, EnvironmentRow)
    assert env.system["platform"]["num_cpus"] == 12  # not renamed
    assert env.system["pyhessio_version"] == "2.1.1"
    sessions = of_type(rows, SessionRow)
    assert {s.software_version for s in sessions} == {"0.7.0.post34+git92816b6"}

    assert of_type(rows, AgentRow) == [AgentRow(id="kkosack", name="kkosack", type="Person")]
    assert {(a.activity_id, a.agent_id, a.role) for a in of_type(rows, AssociationRow)} == {
        (a.id, "kkosack", "Operator") for a in acts
    }

    used = of_type(rows, UsedRow)
    assert len(used) == 3 and all(u.role is None for u in used)
    entities = {e.id: e for e in of_type(rows, EntityRow)}
    assert all(e.attributes is None for e in entities.values())  # no reference_meta in 0.7
    (gen,) = of_type(rows, GenerationRow)
    assert entities[gen.entity_id].name == "output.txt"
    assert gen.activity_id == "fdd1fc54-1626-4247-9d7f-4d7af5781478"

    params = {p.name: p.parameter_value for p in of_type(rows, ParameterRow)}
    assert params == {
        "MyTool.config_file": "",
        "MyTool.log_datefmt": "%Y-%m-%d %H:%M:%S",
        "MyTool.log_format": "%(levelname)s [%(name)s] (%(module)s/%(funcName)s): %(message)s",
        "MyTool.log_level": "10",
        "MyTool.userparam": "1.0",
    }


def test_empty_log_gives_nothing(samples: Path) -> None:
    assert (samples / EMPTY).read_bytes() == b"[]"
    assert list(parse_file(samples / EMPTY)) == []
    assert list(parse_file(str(samples / EMPTY))) == []


# --------------------------------------------------------------------------------------
# Damaged files
# --------------------------------------------------------------------------------------


def test_truncated_file_raises_parse_error(samples: Path, tmp_path: Path) -> None:
    data = (samples / GLUED).read_bytes()
    path = tmp_path / "cut.provenance.log"
    path.write_bytes(data[:30000])
    with pytest.raises(ParseError) as info:
        list(parse_file(path))
    err = info.value
    last_line = data[:30000].count(b"\n") + 1
    assert err.line is not None and 861 <= err.line <= last_line
    assert str(err).startswith(f"{path}:{err.line}: ")
    assert "truncated" in err.reason and "line 861" in err.reason


def test_garbage_file_raises_parse_error(samples: Path, tmp_path: Path) -> None:
    path = tmp_path / "garbage.provenance.log"
    path.write_bytes(b"\n\nINFO provLogger __PROV__2020__PROV__{'a': 1}\n")
    with pytest.raises(ParseError, match=rf"^{re.escape(str(path))}:3: expected '\['"):
        list(parse_file(path))
    # a damaged line in the middle of an activity
    lines = (samples / GLUED).read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[4].strip() == '"status": "completed",'
    lines[4] = lines[4].replace(",", "")
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ParseError) as info:
        list(parse_file(path))
    assert str(info.value).startswith(f"{path}:6: invalid JSON in the activity starting at line 2")


def test_activity_without_uuid_raises(tmp_path: Path) -> None:
    path = write_log(tmp_path / "x.provenance.log", [{"activity_name": "t", "status": "completed"}])
    with pytest.raises(ParseError, match=rf"^{re.escape(str(path))}:2: .*activity_uuid"):
        list(parse_file(path))


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(parse_file(tmp_path / "none.provenance.log"))


# --------------------------------------------------------------------------------------
# Compressed copies
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
)
def test_compressed_copies(
    samples: Path, glued_rows: list[Any], tmp_path: Path, suffix: str, compress: Any
) -> None:
    path = tmp_path / f"lstchain-demo-dl1-to-dl2.provenance.log{suffix}"
    path.write_bytes(compress((samples / GLUED).read_bytes()))
    assert list(parse_file(path)) == glued_rows
    assert list(parse_file(str(path))) == glued_rows


def test_damaged_compressed_file(samples: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.provenance.log.gz"
    path.write_bytes(gzip.compress((samples / GLUED).read_bytes())[:500])
    with pytest.raises(ParseError, match=rf"^{re.escape(str(path))}: cannot decompress gzip"):
        list(parse_file(path))


# --------------------------------------------------------------------------------------
# map_activity on its own
# --------------------------------------------------------------------------------------


def test_map_activity_edge_cases(samples: Path) -> None:
    act = copy.deepcopy(activities(samples, GLUED)[0])
    act["system"]["environment"]["USER"] = "lstanalyzer"
    act["samples"] = [{"time_utc": "2026-11-23T19:37:01.000"}]
    act["future_key"] = {"x": 1}
    act["input"] = [
        {"url": "/fefs/models/RF/", "role": "RF models", "reference_meta": None},
        {"url": "file:///fefs/data/a%20b.h5", "role": None},
        {"url": "file:///fefs/data/a%20b.h5", "role": None},  # exact repeat: kept once
        "/fefs/very/old/bare_path.txt",
    ]
    act["config"] = {"Tool": {"Comp": {"q": {"value": 1.5, "unit": "deg"}, "empty": {}}}}
    rows = map_activity(act, path="p.log", line=2)

    assert rows[0] == of_type(rows, EnvironmentRow)[0]
    assert of_type(rows, AgentRow) == [
        AgentRow(id="lstanalyzer", name="lstanalyzer", type="Person")
    ]
    assert of_type(rows, AssociationRow) == [
        AssociationRow(activity_id=UUID_OK, agent_id="lstanalyzer", role="Operator")
    ]
    (activity,) = of_type(rows, ActivityRow)
    assert activity.attributes == {
        "duration_min": act["duration_min"],
        "samples": act["samples"],
        "future_key": {"x": 1},
    }
    entities = of_type(rows, EntityRow)
    assert [e.name for e in entities] == [
        "RF",
        "a b.h5",
        "bare_path.txt",
        "dl2_LST-1.Run01807.0000.h5",
    ]
    rf = entities[0]
    assert (rf.location, rf.id, rf.attributes) == (
        "/fefs/models/RF/",
        path_entity_id("/fefs/models/RF"),
        None,
    )
    assert entities[1].id == path_entity_id("/fefs/data/a b.h5")
    assert [(u.entity_id, u.role) for u in of_type(rows, UsedRow)] == [
        (rf.id, "RF models"),
        (entities[1].id, None),
        (entities[2].id, None),
    ]
    params = {p.name: p.parameter_value for p in of_type(rows, ParameterRow)}
    assert params == {"Tool.Comp.q": '{"unit": "deg", "value": 1.5}', "Tool.Comp.empty": "{}"}


def test_map_activity_minimal_and_bad_shapes() -> None:
    rows = map_activity({"activity_uuid": "u"}, path="p", line=1)
    assert rows == [
        SessionRow(id="ctapipe:u", original_id="u"),
        ActivityRow(id="u", original_id="u", session_id="ctapipe:u"),
    ]
    for bad, words in [
        ([], "JSON object"),
        ({"activity_name": "t"}, "activity_uuid"),
        ({"activity_uuid": "u", "system": []}, "'system'"),
        ({"activity_uuid": "u", "input": {}}, "'input'"),
        ({"activity_uuid": "u", "output": [{"role": "x"}]}, "output #1 has no 'url'"),
        ({"activity_uuid": "u", "input": [3]}, "input #1 is not an object"),
    ]:
        with pytest.raises(ParseError, match=words) as info:
            map_activity(bad, path="p.log", line=7)  # type: ignore[arg-type]
        assert str(info.value).startswith("p.log:7: ")


def test_map_activity_time_zones_and_exit_codes() -> None:
    act = {
        "activity_uuid": "u",
        "start": {"time_utc": "2024-01-01T01:00:00.5+01:00"},
        "stop": {"time_utc": "not a time"},
        "exit_code": "2",
    }
    (activity,) = of_type(map_activity(act, path="p", line=1), ActivityRow)
    assert activity.start_time == datetime(2024, 1, 1, 0, 0, 0, 500000)
    assert activity.end_time is None and activity.end_time_text == "not a time"
    assert activity.exit_code == 2


# --------------------------------------------------------------------------------------
# detect
# --------------------------------------------------------------------------------------


def test_detect(samples: Path, tmp_path: Path) -> None:
    for name in (GLUED, OLD, EMPTY):
        head = (samples / name).read_bytes()[:1024]
        assert detect(head), name
        assert detect(gzip.compress((samples / name).read_bytes())[:1024]), name
        assert detect(lzma.compress((samples / name).read_bytes())[:1024]), name
    assert detect(b"  \n[]\n")
    for name in (
        "generated/lstosa_simulate_processing/prov.log",
        "generated/voprov_serializations/voprov_example.json",
        "generated/ctapipe_tool/config.json",
        "lstchain/lstchain_standard_config.json",
        logprov_files.write_log(tmp_path),
        logprov_files.write_prov(tmp_path, "json"),
    ):
        assert not detect((samples / name).read_bytes()[:1024]), name
    assert not detect(b"")
    assert not detect(b"[1, 2, 3]")
    assert not detect(b"\x1f\x8bnot really gzip")


def test_differing_final_copies_last_written_wins(tmp_path: Path) -> None:
    old = {"activity_uuid": "u", "status": "completed", "stop": {"time_utc": "2024-01-01T00:00"}}
    new = {**old, "exit_code": 0}
    other = {"activity_uuid": "v", "status": "running", "stop": {}}
    path = write_log(tmp_path / "x.provenance.log", [old, other], [new, other], glue="\n")
    acts = of_type(list(parse_file(path)), ActivityRow)
    assert [(a.id, a.exit_code) for a in acts] == [("u", 0), ("v", None)]
