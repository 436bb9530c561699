"""Tests of the streaming lstosa/logprov ``prov.log`` parser, on the real sample files."""

from __future__ import annotations

import ast
import bz2
import gzip
import lzma
from collections import Counter
from pathlib import Path

import pytest

from provdb.errors import ParseError
from provdb.ingest.lstosa import (
    BARE_DICT,
    LOGPROV_PREFIX,
    LSTOSA_PREFIX,
    LstosaLogReader,
    detect,
    parse_file,
    parse_lines,
    parse_payload,
)
from provdb.ingest.records import (
    LstosaActivityEnd,
    LstosaActivityStart,
    LstosaDerived,
    LstosaEntity,
    LstosaGenerated,
    LstosaMember,
    LstosaParameters,
    LstosaSession,
    LstosaUnknown,
    LstosaUsed,
    NonProvenanceLine,
    RejectedLine,
    SourcePosition,
)
from tests.provdb import logprov_files

GEN = Path("generated")
NIGHT = GEN / "lstosa_simulate_processing" / "prov.log"
PARALLEL = GEN / "lstosa_parallel_datasequence" / "prov.log"
CTAPIPE = GEN / "ctapipe_tool" / "lstchain-demo-dl1-to-dl2.provenance.log"

T = b"2026-11-23T19:29:56.577745"
GOOD = b"INFO provLogger __PROV__" + T + b"__PROV__{'activity_id': '9d3257', 'endTime': "
GOOD += b"'2026-11-23T19:29:56.573026', 'session_tag': 'drs4_pedestal:01804-01809'}\n"


def prov_line(payload: bytes, time: bytes = T) -> bytes:
    return b"INFO provLogger __PROV__" + time + b"__PROV__" + payload + b"\n"


def kinds(items: list) -> Counter[str]:
    return Counter(type(x).__name__ for x in items)


@pytest.fixture(scope="module")
def night(samples: Path) -> tuple[LstosaLogReader, list]:
    reader = parse_file(samples / NIGHT)
    return reader, list(reader)


# --------------------------------------------------------------------------------------
# The sample night
# --------------------------------------------------------------------------------------


def test_sample_night_counts_per_kind(night, samples: Path) -> None:
    reader, items = night
    assert kinds(items) == {
        "LstosaSession": 62,
        "LstosaActivityStart": 62,
        "LstosaActivityEnd": 62,
        "LstosaParameters": 20,
        "LstosaEntity": 347,
        "LstosaUsed": 223,
        "LstosaGenerated": 124,
        "LstosaDerived": 20,
        "NonProvenanceLine": 20,
    }
    assert reader.prefix == LSTOSA_PREFIX
    assert reader.format_name == "lstosa"
    assert reader.lines_read == 940
    assert reader.next_line == 941
    assert reader.offset_reached == (samples / NIGHT).stat().st_size
    assert reader.torn_tail is None
    assert (reader.n_records, reader.n_rejected, reader.n_non_provenance) == (920, 0, 20)
    assert reader.decode_fallbacks == 0
    assert not reader.dropped_keys


def test_sample_night_positions_are_line_starts(night, samples: Path) -> None:
    _, items = night
    raw_lines = (samples / NIGHT).read_bytes().splitlines(keepends=True)
    starts = [0]
    for line in raw_lines:
        starts.append(starts[-1] + len(line))
    assert [x.pos for x in items] == [SourcePosition(i + 1, starts[i]) for i in range(940)]
    warning = next(x for x in items if isinstance(x, NonProvenanceLine))
    assert warning.text.startswith("WARNING provLogger Derivation detected in dl1ab")
    assert not warning.text.endswith("\n")


def test_sample_night_sessions_equal_a_plain_literal_eval(night, samples: Path) -> None:
    """The cached-``system`` fast path must give exactly what ``ast.literal_eval`` gives."""
    _, items = night
    raw_lines = (samples / NIGHT).read_bytes().splitlines()
    sessions = [x for x in items if isinstance(x, LstosaSession)]
    for s in sessions:
        ref = ast.literal_eval(raw_lines[s.pos.line - 1].split(b"__PROV__")[2].decode())
        assert s.system == ref["system"]
        assert list(s.system) == list(ref["system"])
        assert s.session_id == ref["session_id"]
        assert s.start_time == ref["startTime"]
        assert s.session_tag == ref["session_tag"]
        assert s.record_time == raw_lines[s.pos.line - 1].split(b"__PROV__")[1].decode()
    calib = sessions[0]
    assert calib.session_id == "0180401809"
    assert (calib.name, calib.pedestal_run, calib.calibration_run) == (
        "01804-01809",
        "01804",
        "01809",
    )
    assert calib.observation_run is None
    assert calib.config_file_hash_type == "md5"
    assert calib.extra == {}
    assert calib.system is not None
    assert calib.system["environment"]["CONDA_PREFIX"] is None
    assert len(calib.system["python"]["packages"]) > 100
    data = next(s for s in sessions if s.observation_run == "01807")
    assert data.session_id == "2020011701807"
    assert data.observation_date == "20200117"
    assert data.software_version == "v0.12.3"
    assert "-s" in data.system["arguments"]  # simulate mode


def test_sample_night_record_fields(night) -> None:
    _, items = night
    start = next(x for x in items if isinstance(x, LstosaActivityStart))
    assert start.activity_id == "9d3257"
    assert start.name == "drs4_pedestal"
    assert start.in_session == "0180401809"
    assert start.agent_name == "Anonymous"
    assert start.script == "/tmp/lst-osa-venv/bin/calibration_pipeline"
    assert start.extra == {}
    entity = next(x for x in items if isinstance(x, LstosaEntity))
    assert entity.entity_id == "14ce42cc4e3b42a03e3fb86f75e61459"
    assert entity.name == "RawObservationFile"
    assert entity.content_type == "application/fits"
    assert (entity.type, entity.hash_type, entity.location) == ("File", "md5", None)
    assert entity.extra == {}
    used = next(x for x in items if isinstance(x, LstosaUsed))
    assert (used.activity_id, used.entity_id, used.role) == (
        "9d3257",
        "14ce42cc4e3b42a03e3fb86f75e61459",
        "Subrun for pedestal",
    )
    gen = next(x for x in items if isinstance(x, LstosaGenerated))
    assert (gen.activity_id, gen.role) == ("9d3257", "Pedestal")
    end = next(x for x in items if isinstance(x, LstosaActivityEnd))
    assert (end.activity_id, end.end_time) == ("9d3257", "2026-11-23T19:29:56.573026")
    params = next(x for x in items if isinstance(x, LstosaParameters))
    assert params.parameters == {"StoreImage": True}
    derived = next(x for x in items if isinstance(x, LstosaDerived))
    assert derived.session_tag.startswith("dl1ab:")
    assert derived.entity_id != derived.progenitor_id


def test_offset_reached_is_end_of_the_line_being_yielded(samples: Path) -> None:
    reader = parse_file(samples / NIGHT)
    for item in reader:
        if item.pos.line == 10:
            raw = (samples / NIGHT).read_bytes().splitlines(keepends=True)
            assert reader.offset_reached == item.pos.offset + len(raw[9])
            assert reader.next_line == 11
            break
    reader.close()


# --------------------------------------------------------------------------------------
# Interleaved (parallel) sample
# --------------------------------------------------------------------------------------


def test_parallel_sample_interleaved_bursts(samples: Path) -> None:
    reader = parse_file(samples / PARALLEL)
    items = list(reader)
    assert reader.lines_read == 1380
    assert not [x for x in items if isinstance(x, RejectedLine)]
    assert kinds(items)["NonProvenanceLine"] == 30
    assert reader.n_records == 1350
    starts = {x.activity_id: x for x in items if isinstance(x, LstosaActivityStart)}
    ends = {x.activity_id: x for x in items if isinstance(x, LstosaActivityEnd)}
    assert "a11475" in starts and "a11475" in ends
    # a11475's burst is interrupted by the start *and end* of 6172ea (spec §1.7)
    assert starts["a11475"].pos.line < starts["6172ea"].pos.line < ends["a11475"].pos.line
    assert ends["6172ea"].pos.line < ends["a11475"].pos.line
    # file order and record_time order disagree
    assert ends["a11475"].record_time < ends["6172ea"].record_time


# --------------------------------------------------------------------------------------
# Run-wise .log products and logprov
# --------------------------------------------------------------------------------------


def test_run_wise_log_files(samples: Path) -> None:
    files = sorted((samples / GEN / "lstosa_simulate_processing").rglob("*_prov.log"))
    assert len(files) == 4
    for path in files:
        reader = parse_file(path)
        items = list(reader)
        assert reader.prefix == BARE_DICT
        assert reader.format_name == "run-wise"
        assert not [x for x in items if isinstance(x, RejectedLine | LstosaUnknown)]
        assert reader.n_records == reader.lines_read
        assert all(x.record_time == "" for x in items)
        session = items[0]
        assert isinstance(session, LstosaSession)
        # 'None' strings from lstosa's YAML round trip are nulls again
        assert session.system["environment"]["CONDA_PREFIX"] is None
        assert session.system["environment"]["HOME"] == "/root"
        assert session.pedestal_run == "01804"
        assert session.observation_run in {"01807", "01808"}
        collections = [
            x for x in items if isinstance(x, LstosaEntity) and x.type == "SetCollection"
        ]
        assert collections
        assert all(c.session_tag is None and set(c.extra) == {"size"} for c in collections)
        assert all(isinstance(c.extra["size"], int) for c in collections)
        used = [x for x in items if isinstance(x, LstosaUsed)]
        assert any(u.session_tag is None for u in used)


def test_logprov_log(tmp_path: Path) -> None:
    reader = parse_file(logprov_files.write_log(tmp_path))
    items = list(reader)
    assert reader.prefix == LOGPROV_PREFIX
    assert reader.format_name == "logprov"
    assert reader.lines_read == len(logprov_files.LOG_TEXT.splitlines()) == 25
    assert not [x for x in items if isinstance(x, RejectedLine | LstosaUnknown)]
    non_prov = [x for x in items if isinstance(x, NonProvenanceLine)]
    assert [x.text.split()[0] for x in non_prov] == ["DEBUG", "DEBUG", "WARNING", "DEBUG"]
    assert non_prov[2].text == "WARNING No definition for function plot_image"
    c = kinds(items)
    assert c["LstosaSession"] == 1
    assert c["LstosaActivityStart"] == c["LstosaActivityEnd"] == 3
    assert c["LstosaParameters"] == 2
    assert c["LstosaDerived"] == 1
    assert c["LstosaEntity"] == 5  # includes the 2 id-as-key entities
    session = next(x for x in items if isinstance(x, LstosaSession))
    assert session.session_id == str(logprov_files.SESSION)  # int in the file
    assert session.session_tag is None
    assert set(session.extra) == {"module", "class", "definitions"}
    assert session.system["platform"]["node"] == "lab1"
    start = next(x for x in items if isinstance(x, LstosaActivityStart))
    assert start.in_session == str(logprov_files.SESSION)
    assert start.script is None
    # the logprov bug: {..., 41234567890123456789012: 41234567890123456789012}
    big = str(logprov_files.IMG_ID)
    assert int(big) > 2**64
    keyed = [x for x in items if isinstance(x, LstosaEntity) and x.entity_id == big]
    assert len(keyed) == 2  # once as entity_id (generation), once as key (usage)
    assert all(x.extra["entity_description"] == "Image" for x in keyed)
    assert all(int(big) not in x.extra for x in keyed)
    count = next(
        x
        for x in items
        if isinstance(x, LstosaEntity) and x.entity_id == str(logprov_files.COUNT_ID)
    )
    assert (count.location, count.extra["value"]) == ("n", "17")
    file_entity = [
        x for x in items if isinstance(x, LstosaEntity) and x.entity_id.startswith("file:")
    ]
    assert len(file_entity) == 2
    gen = [x for x in items if isinstance(x, LstosaGenerated)]
    assert all(isinstance(g.entity_id, str) for g in gen)
    assert any(g.entity_id == str(logprov_files.COUNT_ID) for g in gen)
    used = [x for x in items if isinstance(x, LstosaUsed)]
    assert {u.entity_id for u in used} == {big, logprov_files.RAW, logprov_files.SMOOTHED}
    modifier = next(x for x in items if isinstance(x, LstosaEntity) and "modifier" in x.extra)
    assert modifier.extra["modifier"] == 1
    assert modifier.location == "outfile"


# --------------------------------------------------------------------------------------
# Malformed lines
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"INFO provLogger __PROV__garbage\n", "appears only once"),
        (prov_line(b"garbage"), "payload is not a Python dict literal"),
        (prov_line(b"{'activity_id': 'a'}__PROV__x"), "appears 3 times"),
        (prov_line(b"[1, 2, 3]"), "payload is a list, not a dict"),
        (prov_line(b"'just a string'"), "payload is a str, not a dict"),
        (prov_line(b"{'activity_id': 'a', 'endTime': '2026"), "unterminated string"),
        (prov_line(b"{'activity_id': 'a', 'endTime': '2026'"), "was never closed"),
        (prov_line(b"{'activity_id': 'a', 'used_id': [1, 2}"), "YAML fallback failed too"),
        (prov_line(b""), "payload is empty"),
        (prov_line(b"{'activity_id': None, 'endTime': 'x'}"), "unusable 'activity_id'"),
        (prov_line(b"{'activity_id': '', 'used_id': 'e'}"), "unusable 'activity_id'"),
        (prov_line(b"{'activity_id': 'a', 'endTime': None}"), "empty 'endTime'"),
        (prov_line(b"{'activity_id': 'a', 'parameters': 'x'}"), "expected a dict"),
        (prov_line(b"{'entity_id': ['x']}"), "unusable 'entity_id'"),
        (prov_line(b"{'activity_id': 'a', 'endTime': 'x'}", time=b"yesterday"), "ISO date-time"),
        (prov_line(b"{'activity_id': 'a', 'endTime': 'x'}", time=b"\xff\xfe"), "ISO date-time"),
        (
            prov_line(b"{'activity_id': '\xff', 'endTime': 'x', 'y': [}"),
            "not a Python dict literal",
        ),
    ],
)
def test_malformed_lines_are_rejected_with_a_reason(line: bytes, reason: str) -> None:
    reader = parse_lines([GOOD, line, GOOD], path="night/prov.log", start_line=7)
    items = list(reader)
    assert isinstance(items[0], LstosaActivityEnd)
    assert isinstance(items[2], LstosaActivityEnd)
    reject = items[1]
    assert isinstance(reject, RejectedLine)
    assert reason in reject.reason
    assert reject.pos == SourcePosition(8, len(GOOD))
    assert reject.raw == line[:-1]  # verbatim bytes, without the newline
    assert reader.n_rejected == 1
    assert reader.offset_reached == 2 * len(GOOD) + len(line)


def test_truncated_payload_reason_names_column() -> None:
    line = prov_line(b"{'session_id': '2020011701807', 'name': '01807', 'system': {'executable'")
    (reject,) = list(parse_lines([line]))
    assert isinstance(reject, RejectedLine)
    assert reject.reason.startswith("payload is not a Python dict literal: ")
    assert "column" in reject.reason


def test_non_utf8_bytes_do_not_crash() -> None:
    latin1_path = prov_line(b"{'entity_id': 'e1', 'filepath': '/fefs/caf\xe9.h5', 'type': 'File'}")
    broken = b"INFO provLogger __PROV__" + T + b"__PROV__{'a\xff\xfe': \n"
    warning = b"WARNING provLogger File entity /fefs/\xe9t\xe9 not found\n"
    reader = parse_lines([latin1_path, broken, warning])
    entity, reject, note = list(reader)
    assert isinstance(entity, LstosaEntity)
    assert entity.filepath == "/fefs/caf\xe9.h5"  # Latin-1 decoding is lossless
    assert entity.filepath.encode("latin-1") == b"/fefs/caf\xe9.h5"
    assert isinstance(reject, RejectedLine)
    assert reject.raw == broken[:-1]
    assert reject.pos.line == 2
    assert isinstance(note, NonProvenanceLine)
    assert note.text == "WARNING provLogger File entity /fefs/\xe9t\xe9 not found"
    assert reader.decode_fallbacks == 3


def test_utf8_and_escapes_are_read_like_python(tmp_path: Path) -> None:
    payload = {
        "entity_id": "e",
        "filepath": "/fefs/café/ü.h5",
        "location": "it's",
        "type": 'a "quoted" \\ path\n',
        "contentType": None,
    }
    reader = parse_lines([prov_line(repr(payload).encode())])
    (entity,) = list(reader)
    assert isinstance(entity, LstosaEntity)
    assert entity.filepath == "/fefs/café/ü.h5"
    assert entity.location == "it's"
    assert entity.type == 'a "quoted" \\ path\n'
    assert entity.content_type is None
    assert reader.decode_fallbacks == 0


def test_torn_last_line_is_not_yielded_and_resume_reads_it(tmp_path: Path, samples: Path) -> None:
    complete = (samples / NIGHT).read_bytes()
    session_line = complete.splitlines(keepends=True)[0]
    half = session_line[: len(session_line) // 2]
    path = tmp_path / "prov.log"
    path.write_bytes(complete + half)

    reader = parse_file(path)
    items = list(reader)
    assert len(items) == 940
    assert not [x for x in items if isinstance(x, RejectedLine)]
    assert reader.offset_reached == len(complete)
    assert reader.next_line == 941
    assert reader.torn_tail == half

    # the writer finishes the line; the next run resumes where we stopped
    with path.open("ab") as fh:
        fh.write(session_line[len(half) :] + GOOD)
    again = parse_file(path, start_offset=reader.offset_reached, start_line=reader.next_line)
    session, end = list(again)
    assert isinstance(session, LstosaSession)
    assert session.pos == SourcePosition(941, len(complete))
    assert session.session_id == "0180401809"
    assert isinstance(end, LstosaActivityEnd)
    assert end.pos == SourcePosition(942, len(complete) + len(session_line))
    assert again.torn_tail is None
    assert again.offset_reached == path.stat().st_size


def test_torn_tail_in_parse_lines() -> None:
    torn = GOOD[:50]
    reader = parse_lines([GOOD, GOOD, torn], start_offset=1000, start_line=5)
    items = list(reader)
    assert [x.pos for x in items] == [SourcePosition(5, 1000), SourcePosition(6, 1000 + len(GOOD))]
    assert reader.offset_reached == 1000 + 2 * len(GOOD)
    assert reader.lines_read == 2
    assert reader.next_line == 7
    assert reader.torn_tail == torn


def test_line_split_over_two_items_is_joined() -> None:
    reader = parse_lines([GOOD[:30], GOOD[30:], GOOD])
    items = list(reader)
    assert [type(x) for x in items] == [LstosaActivityEnd, LstosaActivityEnd]
    assert items[1].pos == SourcePosition(2, len(GOOD))
    assert reader.torn_tail is None


def test_blank_lines_and_crlf() -> None:
    crlf = GOOD[:-1] + b"\r\n"
    reader = parse_lines([b"\n", crlf, b"   \n", b"WARNING provLogger note\r\n", GOOD])
    items = list(reader)
    assert [type(x) for x in items] == [LstosaActivityEnd, NonProvenanceLine, LstosaActivityEnd]
    assert items[0].session_tag == "drs4_pedestal:01804-01809"
    assert items[1].text == "WARNING provLogger note"
    assert items[2].pos.line == 5
    assert reader.n_blank == 2
    assert reader.lines_read == 5


# --------------------------------------------------------------------------------------
# Kind inference, ids, formats
# --------------------------------------------------------------------------------------


def test_kind_inference_follows_spec_order() -> None:
    lines = [
        prov_line(b"{'entity_id': 'e', 'activity_id': 'a', 'used_id': 'e'}"),  # 4 before 5
        prov_line(b"{'entity_id': 'e', 'progenitor_id': 'p', 'member_id': 'm'}"),  # 7 before 8
        prov_line(b"{'entity_id': 'c', 'member_id': 'm', 'session_tag': 't'}"),
        prov_line(b"{'activity_id': 'a', 'startTime': 't0', 'endTime': 't1'}"),  # 2 before 9
        prov_line(b"{'session_id': 'x', 'activity_id': 'a', 'startTime': 't'}"),  # 1 first
        prov_line(b"{'foo': 1, 'bar': [1, 2]}"),
        prov_line(b"{'activity_id': 'a', 'generated_id': 'g', 'generated_time': 't'}"),
    ]
    reader = parse_lines(lines)
    items = list(reader)
    assert [type(x) for x in items] == [
        LstosaEntity,
        LstosaDerived,
        LstosaMember,
        LstosaActivityStart,
        LstosaSession,
        LstosaUnknown,
        LstosaGenerated,
    ]
    assert items[0].extra == {"activity_id": "a", "used_id": "e"}
    assert (items[2].entity_id, items[2].member_id) == ("c", "m")
    assert items[3].extra == {"endTime": "t1"}
    assert items[4].extra == {"activity_id": "a"}
    assert items[5].payload == {"foo": 1, "bar": [1, 2]}
    assert reader.dropped_keys == {
        ("wasDerivedFrom", "member_id"): 1,
        ("wasGeneratedBy", "generated_time"): 1,
    }


def test_old_format_integer_ids_become_text() -> None:
    big = 2**70 + 3
    lines = [
        prov_line(
            b"{'session_id': 8758186474493, 'name': 1807, 'startTime': 't', "
            b"'observation_run': 1807, 'software_version': 'v0.5'}"
        ),
        prov_line(b"{'activity_id': 'a', 'used_id': %d, 'used_role': 'x'}" % big),
        prov_line(b"{'entity_id': %d, 'progenitor_id': 12}" % big),
        prov_line(b"{'activity_id': 'a', 'parameters': {'ObservationRun': 1807, 'X': 'y'}}"),
    ]
    session, used, derived, params = list(parse_lines(lines))
    assert session.session_id == "8758186474493"
    assert session.observation_run == "1807"
    assert session.name == "1807"
    assert session.session_tag is None
    assert session.system is None
    assert used.entity_id == str(big)
    assert (derived.entity_id, derived.progenitor_id) == (str(big), "12")
    assert params.parameters == {"ObservationRun": 1807, "X": "y"}


def test_explicit_prefix_and_autodetection() -> None:
    logprov = b"INFO _PROV_" + T + b"_PROV_{'activity_id': 'a', 'endTime': 'x'}\n"
    assert isinstance(next(parse_lines([logprov])), LstosaActivityEnd)
    # with the lstosa prefix forced, a logprov line is not provenance
    (item,) = list(parse_lines([logprov], prefix=LSTOSA_PREFIX))
    assert isinstance(item, NonProvenanceLine)
    bare = b"{'activity_id': 'a', 'endTime': 'None', 'session_tag': 'None'}\n"
    (item,) = list(parse_lines([bare]))
    assert isinstance(item, RejectedLine)  # endTime 'None' is null in run-wise files
    assert "empty 'endTime'" in item.reason
    (item,) = list(parse_lines([GOOD], prefix=BARE_DICT))
    assert isinstance(item, NonProvenanceLine)
    reader = parse_lines([b"DEBUG starting\n", b"WARNING provLogger x\n"])
    assert kinds(list(reader)) == {"NonProvenanceLine": 2}
    assert reader.prefix is None


def test_session_fast_path_falls_back_on_unusual_layout() -> None:
    system = {
        "executable": "/usr/bin/python",
        "platform": {"node": "cp01", "num_cpus": 2},
        "python": {"packages": [{"name": f"p{i}", "version": "1.0"} for i in range(300)]},
        "environment": {"HOME": "/home/lstanalyzer", "CONDA_PREFIX": None},
        "arguments": ["datasequence", "--config", 'it\'s "odd"'],
        "start_time_utc": "2026-01-01T00:00:00",
    }
    base = {"session_id": "2020011701807", "name": "01807", "startTime": "t", "system": system}
    reordered = dict(base, system=dict(reversed(list(system.items()))))
    lines = [prov_line(repr(base).encode()), prov_line(repr(reordered).encode())]
    lines.append(prov_line(repr(dict(base, system="not a dict" * 500)).encode()))
    first, second, third = list(parse_lines(lines * 2))[:3]
    assert first.system == system and list(first.system) == list(system)
    assert second.system == system and list(second.system) == list(reordered["system"])
    assert third.system is None and third.extra == {"system": "not a dict" * 500}


# --------------------------------------------------------------------------------------
# Files: compression, resume
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("opener", [gzip.open, bz2.open, lzma.open], ids=["gz", "bz2", "xz"])
def test_compressed_files_are_read_transparently(opener, tmp_path: Path, samples: Path, night):
    _, plain = night
    path = tmp_path / "prov.log.compressed"  # detected by magic bytes, not by name
    with opener(path, "wb") as fh:
        fh.write((samples / NIGHT).read_bytes())
    reader = parse_file(path)
    assert list(reader) == plain
    assert reader.offset_reached == (samples / NIGHT).stat().st_size
    resumed = parse_file(path, start_offset=plain[600].pos.offset, start_line=601)
    assert list(resumed) == plain[600:]


def test_resume_gives_the_same_records_as_a_full_read(samples: Path, night) -> None:
    _, full = night
    for cut in (1, 2, 500, 939):
        pos = full[cut].pos
        resumed = list(parse_file(samples / NIGHT, start_offset=pos.offset, start_line=pos.line))
        assert resumed == full[cut:]


def test_resume_at_a_bad_offset_is_refused(samples: Path, night) -> None:
    _, full = night
    with pytest.raises(ParseError, match="not at a line start"):
        parse_file(samples / NIGHT, start_offset=full[3].pos.offset + 5)
    size = (samples / NIGHT).stat().st_size
    with pytest.raises(ParseError, match="beyond the end of the file") as info:
        parse_file(samples / NIGHT, start_offset=size + 100)
    assert str(info.value).startswith(str(samples / NIGHT))
    reader = parse_file(samples / NIGHT, start_offset=size, start_line=941)
    assert list(reader) == []
    assert reader.offset_reached == size


def test_missing_file_and_corrupt_compressed_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="cannot open"):
        parse_file(tmp_path / "nope.log")
    path = tmp_path / "prov.log.gz"
    data = gzip.compress(b"".join(prov_line(b"{'n': %d}" % i) for i in range(20000)))
    path.write_bytes(data[: len(data) // 2])
    reader = parse_file(path)
    with pytest.raises(ParseError, match="gzip stream is corrupt or truncated"):
        list(reader)


def test_reader_is_a_context_manager(samples: Path) -> None:
    with parse_file(samples / NIGHT) as reader:
        first = next(reader)
    assert isinstance(first, LstosaSession)
    assert list(reader) == []


# --------------------------------------------------------------------------------------
# detect() and parse_payload()
# --------------------------------------------------------------------------------------


def test_detect(samples: Path, tmp_path: Path) -> None:
    def head(rel: Path | str, n: int = 4096) -> bytes:
        with open(samples / rel, "rb") as fh:
            return fh.read(n)

    assert detect(head(NIGHT))
    assert detect(head(PARALLEL))
    assert detect(head(logprov_files.write_log(tmp_path)))
    for run_wise in (samples / GEN / "lstosa_simulate_processing").rglob("*_prov.log"):
        assert detect(run_wise.read_bytes()[:4096])
    assert detect(gzip.compress((samples / NIGHT).read_bytes())[:4096])
    assert detect(b"WARNING provLogger Derivation detected in dl1ab\n")

    assert not detect(head(CTAPIPE))
    assert not detect(head(logprov_files.write_prov(tmp_path, "json")))
    assert not detect(head(GEN / "voprov_serializations" / "voprov_example.json"))
    assert not detect(head(GEN / "voprov_serializations" / "voprov_example.xml"))
    assert not detect(b"")
    assert not detect(b"INFO something else entirely\n")


def test_parse_payload() -> None:
    assert parse_payload("{'a': 'b', 'n': 1}") == {"a": "b", "n": 1}
    assert parse_payload("{'a': None, 't': True, 'u': ('glibc', '2.36')}") == {
        "a": None,
        "t": True,
        "u": ("glibc", "2.36"),
    }
    assert parse_payload("{\"s\": \"it's\", 'k': '\\n'}") == {"s": "it's", "k": "\n"}
    assert parse_payload("{1: 2}") == {1: 2}
    # not Python literals: the YAML fallback reads them (None stays null, floats stay floats)
    value = parse_payload("{'x': inf, 'y': 1e-05, 'z': None, 'w': 'None'}")
    assert value == {"x": float("inf"), "y": 1e-05, "z": None, "w": "None"}
    with pytest.raises(ValueError, match="payload is a list, not a dict"):
        parse_payload("[1]")
    with pytest.raises(ValueError, match="payload is empty"):
        parse_payload("  ")
    with pytest.raises(
        ValueError, match=r"non-literal expression .os\.system\('ls'\). at column 1"
    ):
        parse_payload("os.system('ls')")
    with pytest.raises(ValueError, match="was never closed at column 1"):
        parse_payload("{'a': 'b', ")
    with pytest.raises(ValueError, match="YAML fallback failed too"):
        parse_payload("{'a': [1, 2}")
    # JSON's NaN is not a Python literal: not read as a float by the JSON shortcut
    assert parse_payload("{'a': NaN}") == {"a": "NaN"}
