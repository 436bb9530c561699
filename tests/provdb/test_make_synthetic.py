"""bench/make_synthetic.py: synthetic lstosa nights in the exact prov.log format (spec §1)."""

from __future__ import annotations

import ast
import gzip
import hashlib
import itertools
import re
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from provdb.ingest.lstosa.definition import Model, load_model
from tests.conftest import synthetic_module

PROV_LINE = re.compile(
    r"INFO provLogger __PROV__(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?)__PROV__(\{.*\})"
)
WARNING_LINE = re.compile(
    r"WARNING provLogger Derivation detected in dl1ab for DL1SubrunDataset\. ID: ([0-9a-f]{32})"
)

# role sequence of each burst (current definition, InterleavedPedestalEventsFile absent)
BURSTS = {
    "drs4_pedestal": (["Subrun for pedestal"], ["Pedestal", "Check plot for pedestal"]),
    "calibrate_charge": (
        ["Subrun for calibration", "Pedestal file"],
        ["Coefficients calibration file", "Check plot for calibration"],
    ),
    "r0_to_dl1": (
        [
            "Observation subrun",
            "Pedestal file",
            "Coefficients calibration file",
            "Time calibration file",
            "Systematic correction factor file",
            "Pointing file",
            "Run summary",
        ],
        ["DL1 subrun dataset", "Muons subrun dataset"],
    ),
    "dl1ab": (["DL1 subrun dataset", "Analysis configuration file"], ["DL1AB subrun dataset"]),
    "dl1_datacheck": (
        ["DL1AB subrun dataset", "Muons subrun dataset"],
        ["DL1Check HDF5 file", "DL1Check PDF file", "DL1Check subrun dataset"],
    ),
}


@pytest.fixture(scope="module")
def ms() -> ModuleType:
    """The generator, imported by path (bench/ is not a package)."""
    return synthetic_module()


@pytest.fixture(scope="module")
def model(samples: Path) -> Model:
    return load_model(samples / "lstosa" / "config" / "definition.yaml")


def kind_of(d: dict[str, Any]) -> str:
    """Record kind from its keys, in the order of spec §1.4."""
    if "session_id" in d:
        return "session"
    if "activity_id" in d and "startTime" in d:
        return "start"
    if "activity_id" in d and "parameters" in d:
        return "parameters"
    if "entity_id" in d and "member_id" not in d and "progenitor_id" not in d:
        return "entity"
    if "activity_id" in d and "used_id" in d:
        return "used"
    if "activity_id" in d and "generated_id" in d:
        return "generated"
    if "entity_id" in d and "progenitor_id" in d:
        return "derived"
    if "entity_id" in d and "member_id" in d:
        return "member"
    if "activity_id" in d and "endTime" in d:
        return "end"
    return "unknown"


class Rec:
    __slots__ = ("d", "index", "kind", "time", "time_text")

    def __init__(self, index: int, kind: str, d: Any, time_text: str | None) -> None:
        self.index, self.kind, self.d, self.time_text = index, kind, d, time_text
        self.time = datetime.fromisoformat(time_text) if time_text else None


def parse(lines: list[bytes]) -> list[Rec]:
    """Check every line against the grammar and parse it (WARNING lines kept as text)."""
    out = []
    for i, raw in enumerate(lines):
        assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw[:80]
        text = raw[:-1].decode("utf-8")
        m = PROV_LINE.fullmatch(text)
        if m is None:
            w = WARNING_LINE.fullmatch(text)
            assert w is not None, f"line {i + 1} matches no grammar: {text[:120]}"
            out.append(Rec(i, "warning", w.group(1), None))
            continue
        assert text.count("__PROV__") == 2
        payload = ast.literal_eval(m.group(2))
        assert isinstance(payload, dict)
        out.append(Rec(i, kind_of(payload), payload, m.group(1)))
    return out


def night(ms: ModuleType, **kwargs: Any) -> list[bytes]:
    return list(ms.generate_night(**kwargs))


def counted_night(
    ms: ModuleType, runs: int, subruns: int, *, calibration: int = 1, **options: Any
) -> tuple[list[Rec], Counter[str], dict[str, int]]:
    """The records of a generated night (``options``: dl2, dl3, reprocess, interleave), after
    checking that each kind counts as ``expected_counts`` says; also those two counts."""
    recs = parse(
        night(ms, runs=runs, subruns=subruns, calibration=calibration, packages=3, **options)
    )
    got = Counter(r.kind for r in recs)
    kinds = {k: options[k] for k in ("dl2", "reprocess", "dl3") if k in options}
    want = ms.expected_counts(runs, subruns, calibration, **kinds)
    assert {k: got.get(k, 0) for k in want if k != "total"} == {
        k: v for k, v in want.items() if k != "total"
    }
    return recs, got, want


@pytest.fixture(scope="module")
def small(ms: ModuleType) -> list[Rec]:
    return parse(night(ms, runs=2, subruns=3))


@pytest.fixture(scope="module")
def sample_records(samples: Path) -> list[Rec]:
    path = samples / "generated" / "lstosa_simulate_processing" / "prov.log"
    return parse(path.read_bytes().splitlines(keepends=True))


# ------------------------------------------------------------------------------ shape


def test_cli_small_night_counts(ms: ModuleType, tmp_path: Path, capsys) -> None:
    out = tmp_path / "night.prov.log"
    assert ms.main(["--runs", "2", "--subruns", "3", "--out", str(out)]) == 0
    summary = capsys.readouterr().err.strip().splitlines()
    assert len(summary) == 1
    data = out.read_bytes()
    lines = data.splitlines(keepends=True)
    assert f"{len(lines)} lines" in summary[0] and f"{len(data)} bytes" in summary[0]
    assert "MB/s" in summary[0]
    recs = parse(lines)
    counts = Counter(r.kind for r in recs)
    expected = ms.expected_counts(2, 3, 1)
    assert expected["total"] == len(lines) == 2 * 3 * 46 + 20
    for kind, n in expected.items():
        if kind != "total":
            assert counts.get(kind, 0) == n, kind
    assert "unknown" not in counts
    # same bytes through the library entry point
    assert b"".join(night(ms, runs=2, subruns=3)) == data


def test_counts_formula(ms: ModuleType) -> None:
    counts = ms.expected_counts(30, 150, 2)
    assert counts["total"] == 30 * 150 * ms.LINES_PER_SUBRUN + 2 * ms.LINES_PER_CALIBRATION
    assert counts["session"] == 3 * 4500 + 4
    for runs, subruns, calib in [(0, 0, 0), (0, 5, 2), (3, 0, 1), (1, 2, 3)]:
        recs = parse(night(ms, runs=runs, subruns=subruns, calibration=calib, packages=3))
        got = Counter(r.kind for r in recs)
        want = ms.expected_counts(runs, subruns, calib)
        assert sum(got.values()) == want["total"]
        assert all(got.get(k, 0) == v for k, v in want.items() if k != "total")


def test_matches_the_real_sample(ms: ModuleType, sample_records: list[Rec]) -> None:
    """Same kinds, counts and key order as lstosa's own night (1 calibration, 20 subruns)."""
    synthetic = parse(night(ms, runs=1, subruns=20))
    assert Counter(r.kind for r in synthetic) == Counter(r.kind for r in sample_records)

    def key_orders(recs: list[Rec]) -> dict[str, set[tuple[str, ...]]]:
        orders: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for r in recs:
            if r.kind != "warning":
                orders[r.kind].add(tuple(r.d))
        return orders

    assert key_orders(synthetic) == key_orders(sample_records)

    def shape(d: dict) -> dict:
        return {k: shape(v) if isinstance(v, dict) else type(v).__name__ for k, v in d.items()}

    real = next(r.d["system"] for r in sample_records if r.kind == "session")
    for r in synthetic:
        if r.kind == "session":
            system = r.d["system"]
            assert set(system) == set(real)
            for part in ("platform", "python", "environment"):
                assert list(system[part]) == list(real[part])
            assert set(system["python"]["packages"][0]) == {"name", "version", "path"}

    # burst line sequences (kind by kind) are those of the sample
    def sequences(recs: list[Rec]) -> Counter:
        seqs: Counter = Counter()
        current: list[str] = []
        for r in recs:
            current.append(r.kind)
            if r.kind == "end":
                seqs[tuple(current)] += 1
                current = []
        return seqs

    assert set(sequences(synthetic)) == set(sequences(sample_records))


def test_sessions(ms: ModuleType, small: list[Rec]) -> None:
    sessions = [r for r in small if r.kind == "session"]
    calib = [s.d for s in sessions if "pedestal_run" in s.d]
    data = [s.d for s in sessions if "observation_run" in s.d]
    assert len(calib) == 2 and len(data) == 18
    assert {c["session_tag"] for c in calib} == {
        "drs4_pedestal:01804-01805",
        "calibrate_charge:01804-01805",
    }
    assert all(c["session_id"] == "0180401805" and c["name"] == "01804-01805" for c in calib)
    subruns = Counter(d["system"]["arguments"][-2] for d in data)
    assert subruns == {f"{run}.{sub:04d}": 3 for run in ("01807", "01808") for sub in range(3)}
    for d in data:
        run = d["observation_run"]
        assert d["session_id"] == f"20200117{run}" and d["name"] == run
        assert d["session_tag"].endswith(f":{run}")
        assert d["system"]["arguments"][-1] == "LST1"
        assert len(d["system"]["python"]["packages"]) == 170
        assert d["config_file_hash"] == hashlib.md5(d["config_file"].encode()).hexdigest()
        assert d["observation_date"] == "20200117"
        datetime.fromisoformat(d["system"]["start_time_utc"])
    sizes = [len(repr(s.d)) for s in sessions]
    assert all(15_000 < n < 30_000 for n in sizes), sizes  # ~20 kB like the sample


def test_entities_and_roles_follow_the_model(small: list[Rec], model: Model) -> None:
    entities = [r.d for r in small if r.kind == "entity"]
    assert entities
    for e in entities:
        assert e["entity_id"] == hashlib.md5(str(Path(e["filepath"])).encode()).hexdigest()
        assert e["hash"] == e["entity_id"] and e["hash_type"] == "md5"
        assert e["type"] == "File"
        assert model.entity_description_id(e["name"]) is not None
        assert e["filepath"].startswith("/")
    content = {r.name: r.content_type for r in model.entity_descriptions}
    assert all(e["contentType"] == content[e["name"]] for e in entities)
    names = {r.d["activity_id"]: r.d["name"] for r in small if r.kind == "start"}
    for r in small:
        if r.kind == "used":
            assert model.usage_description_id(names[r.d["activity_id"]], r.d["used_role"])
        elif r.kind == "generated":
            act = names[r.d["activity_id"]]
            assert model.generation_description_id(act, r.d["generated_role"])
    for r in small:
        if "activity_id" in r.d:
            assert re.fullmatch(r"[0-9a-f]{6}", r.d["activity_id"])


def test_dl1ab_self_loop_and_derivation(small: list[Rec]) -> None:
    warnings = [r for r in small if r.kind == "warning"]
    derived = [r for r in small if r.kind == "derived"]
    assert len(warnings) == len(derived) == 6
    for w, d in zip(warnings, derived, strict=True):
        assert d.d["entity_id"] == w.d
        assert small[w.index + 1].kind == "session"  # as in the sample: WARNING, session, derived
        assert small[w.index + 2] is d
        assert d.d["session_tag"].startswith("dl1ab:")
    by_act: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in small:
        if r.kind in ("used", "generated"):
            by_act[r.d["activity_id"]][r.kind].append(r.d.get("used_id") or r.d["generated_id"])
    starts = {r.d["activity_id"]: r.d["name"] for r in small if r.kind == "start"}
    for aid, name in starts.items():
        if name == "dl1ab":
            assert by_act[aid]["used"][0] == by_act[aid]["generated"][0]  # self-loop
            params = [r.d for r in small if r.kind == "parameters" and r.d["activity_id"] == aid]
            assert [p["parameters"] for p in params] == [{"StoreImage": True}]


def test_times(ms: ModuleType, small: list[Rec]) -> None:
    provs = [r for r in small if r.time is not None]
    assert all(a.time <= b.time for a, b in itertools.pairwise(provs))  # sequential
    assert provs[0].time.date().isoformat() == "2020-01-18"  # morning after the night
    starts = {r.d["activity_id"]: r for r in small if r.kind == "start"}
    ends = {r.d["activity_id"]: r for r in small if r.kind == "end"}
    assert set(starts) == set(ends)
    for aid, s in starts.items():
        start = datetime.fromisoformat(s.d["startTime"])
        end = datetime.fromisoformat(ends[aid].d["endTime"])
        assert start < end <= ends[aid].time
        assert s.time >= end  # everything is written after the call returned
        assert (end - start).total_seconds() >= 10
        if s.d["name"] == "r0_to_dl1":
            assert (end - start).total_seconds() >= 120  # minutes per subrun
    for r in small:
        if r.kind == "session":
            utc = datetime.fromisoformat(r.d["system"]["start_time_utc"])
            nxt = small[r.index + 1] if small[r.index + 1].kind == "start" else small[r.index + 2]
            assert nxt.d["startTime"] == r.d["startTime"]
            assert utc <= r.time


def test_whole_second_times(ms: ModuleType) -> None:
    recs = parse(night(ms, runs=1, subruns=4, zero_us_rate=0.3, packages=2))
    texts = [r.time_text for r in recs if r.time_text]
    texts += [
        r.d[k]
        for r in recs
        if r.kind in ("start", "end")
        for k in ("startTime", "endTime")
        if k in r.d
    ]
    assert any("." not in t for t in texts)
    assert all(re.fullmatch(r"[\d\-]+T\d\d:\d\d:\d\d(\.\d{6})?", t) for t in texts)
    none = parse(night(ms, runs=1, subruns=4, zero_us_rate=0.0, packages=2))
    assert all("." in r.time_text for r in none if r.time_text)


# ------------------------------------------------------------------------ interleaving


def test_interleaving_keeps_each_burst_in_order(ms: ModuleType, small: list[Rec]) -> None:
    recs = parse(night(ms, runs=2, subruns=3, interleave=4))
    assert Counter(r.kind for r in recs) == Counter(r.kind for r in small)
    starts = {r.d["activity_id"]: r for r in recs if r.kind == "start"}
    assert len(starts) == 20  # no id collision with this seed
    per_act: dict[str, list[Rec]] = defaultdict(list)
    for r in recs:
        if r.kind in ("start", "parameters", "used", "generated", "end"):
            per_act[r.d["activity_id"]].append(r)
    for aid, lines in per_act.items():
        name = starts[aid].d["name"]
        usage, generation = BURSTS[name]
        expected = (
            ["start"]
            + (["parameters"] if name == "dl1ab" else [])
            + [f"used:{role}" for role in usage]
            + [f"generated:{role}" for role in generation]
            + ["end"]
        )
        got = [
            f"{r.kind}:{r.d.get('used_role') or r.d.get('generated_role')}"
            if r.kind in ("used", "generated")
            else r.kind
            for r in lines
        ]
        assert got == expected, name
    # the session record comes before its start, each entity before its used/generated
    sessions = {
        (r.d["session_tag"], r.d["startTime"]): r.index for r in recs if r.kind == "session"
    }
    for s in starts.values():
        assert sessions[(s.d["session_tag"], s.d["startTime"])] < s.index
    seen: set[tuple[str, str]] = set()
    for r in recs:
        if r.kind == "entity":
            seen.add((r.d["entity_id"], r.d["session_tag"]))
        elif r.kind in ("used", "generated"):
            eid = r.d.get("used_id") or r.d["generated_id"]
            assert (eid, r.d["session_tag"]) in seen
    # bursts of different subruns really interleave at line granularity
    spans = sorted((lines[0].index, lines[-1].index) for lines in per_act.values())
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))
    # and every record is still written after its activity ended
    ends = {
        r.d["activity_id"]: datetime.fromisoformat(r.d["endTime"]) for r in recs if r.kind == "end"
    }
    for aid, lines in per_act.items():
        assert all(r.time >= ends[aid] for r in lines)


def test_interleaving_changes_the_order_only(ms: ModuleType) -> None:
    """Interleaved or not, a night holds the same entities, relations and session tags."""

    def content(recs: list[Rec]) -> tuple[Counter, Counter, Counter]:
        entities = Counter(repr(r.d) for r in recs if r.kind == "entity")
        relations = Counter(
            (
                r.kind,
                r.d.get("used_role") or r.d.get("generated_role"),
                r.d["session_tag"],
                r.d.get("used_id") or r.d.get("generated_id"),
            )
            for r in recs
            if r.kind in ("used", "generated")
        )
        tags = Counter(r.d["session_tag"] for r in recs if r.kind != "warning")
        return entities, relations, tags

    sequential = parse(night(ms, runs=1, subruns=8, packages=2))
    interleaved = parse(night(ms, runs=1, subruns=8, interleave=8, packages=2))
    assert content(sequential) == content(interleaved)
    assert content(interleaved)[2] == {
        "r0_to_dl1:01807": 8 * 21,
        "dl1ab:01807": 8 * 11,
        "dl1_datacheck:01807": 8 * 13,
        "drs4_pedestal:01804-01805": 9,
        "calibrate_charge:01804-01805": 11,
    }


def test_record_time_inversions(ms: ModuleType) -> None:
    """Interleaved: a few record times go backwards (descheduled writer), never in a burst."""
    recs = parse(night(ms, runs=1, subruns=200, interleave=8, packages=0))
    provs = [r for r in recs if r.time is not None]
    inversions = sum(b.time < a.time for a, b in itertools.pairwise(provs))
    assert 0 < inversions < len(provs) // 100
    last: dict[str, datetime] = {}
    for r in provs:
        aid = r.d.get("activity_id")
        if aid is not None and r.kind != "start":
            assert r.time >= last[aid]
        if aid is not None:
            last[aid] = r.time
    sequential = parse(night(ms, runs=1, subruns=50, packages=0))
    times = [r.time for r in sequential if r.time is not None]
    assert times == sorted(times)


# ------------------------------------------------------------------------ options


def test_determinism(ms: ModuleType) -> None:
    a = night(ms, runs=1, subruns=3, seed=7, interleave=3)
    b = night(ms, runs=1, subruns=3, seed=7, interleave=3)
    c = night(ms, runs=1, subruns=3, seed=8, interleave=3)
    assert a == b
    assert a != c


def test_large_run_numbers_and_options(ms: ModuleType) -> None:
    recs = parse(
        night(
            ms,
            runs=2,
            subruns=1,
            first_run=10000,
            date="20240301",
            calibration=2,
            packages=5,
            connected_calibration=True,
            simulate=True,
            base_dir="/data/lst",
        )
    )
    sessions = [r.d for r in recs if r.kind == "session"]
    data = [s for s in sessions if "observation_run" in s]
    assert {s["observation_run"] for s in data} == {"10000", "10001"}
    assert {s["session_id"] for s in data} == {"2024030110000", "2024030110001"}
    calib = {s["session_id"] for s in sessions if "pedestal_run" in s}
    assert calib == {"0999509996", "0999709998"}
    assert all("-s" in s["system"]["arguments"] for s in sessions)
    assert all(len(s["system"]["python"]["packages"]) == 5 for s in sessions)
    paths = {r.d["filepath"] for r in recs if r.kind == "entity"}
    assert all(p.startswith("/data/lst/") or "/lstchain/" in p for p in paths)
    # connected: r0_to_dl1 uses the very pedestal file drs4_pedestal generated
    generated = {r.d["generated_id"] for r in recs if r.kind == "generated"}
    ped_used = {
        r.d["used_id"] for r in recs if r.kind == "used" and r.d["used_role"] == "Pedestal file"
    }
    assert ped_used <= generated
    # runs are split between the two calibration sequences
    run_ped = {
        s["observation_run"]: next(
            a for a in s["system"]["arguments"] if a.startswith("--drs4-pedestal-file=")
        )
        for s in data
    }
    assert len(set(run_ped.values())) == 2


def test_gzip_and_help(ms: ModuleType, tmp_path: Path, capsys) -> None:
    plain, packed = tmp_path / "n.log", tmp_path / "n.log.gz"
    args = ["--runs", "1", "--subruns", "2", "--interleave", "2", "--seed", "3"]
    assert ms.main([*args, "--out", str(plain)]) == 0
    assert ms.main([*args, "--out", str(packed), "--gzip"]) == 0
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        ms.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--interleave" in text and "--calibration" in text and "46 lines" in text
    assert ms.main(["--runs", "1", "--date", "2020-01-17", "--out", str(plain)]) == 2
    assert "YYYYMMDD" in capsys.readouterr().err


def test_bad_arguments(ms: ModuleType) -> None:
    for kwargs in ({"runs": -1}, {"interleave": 0}, {"first_run": 0}, {"zero_us_rate": 2.0}):
        with pytest.raises(ValueError):
            ms.generate_night(**kwargs)


# ------------------------------------------------------------- grown nights (#11)

DL2_ROLES = (
    [
        "DL1 subrun dataset",
        "RFModelEnergyFile",
        "RFModelDispNormFile",
        "RFModelDispSignFile",
        "RFModelGammanessFile",
        "Analysis configuration file",
    ],
    ["DL2 subrun dataset"],
)


def bursts_of(recs: list[Rec]) -> dict[str, dict[str, Any]]:
    """Per activity id (unique in these small nights): name, start, roles, paths, params."""
    out: dict[str, dict[str, Any]] = {}
    paths = {r.d["entity_id"]: r.d["filepath"] for r in recs if r.kind == "entity"}
    for r in recs:
        if r.kind == "start":
            out[r.d["activity_id"]] = {
                "name": r.d["name"],
                "tag": r.d["session_tag"],
                "start": datetime.fromisoformat(r.d["startTime"]),
                "used": [],
                "generated": [],
            }
        elif r.kind == "used":
            out[r.d["activity_id"]]["used"].append((r.d["used_role"], paths[r.d["used_id"]]))
        elif r.kind == "generated":
            b = out[r.d["activity_id"]]
            b["generated"].append((r.d["generated_role"], paths[r.d["generated_id"]]))
        elif r.kind == "parameters":
            out[r.d["activity_id"]]["parameters"] = r.d["parameters"]
    return out


def test_grown_counts(ms: ModuleType) -> None:
    assert ms.expected_counts(2, 3, 1) == ms.expected_counts(2, 3, 1, dl2=False, reprocess=0)
    big = ms.expected_counts(30, 150, 1, dl2=True, reprocess=3)
    n = 30 * 150 + 3 * 150
    assert big["total"] == n * (46 + 18) + 2 * 20
    cases = [
        (2, 3, 1, True, 0, 1),
        (3, 2, 1, False, 2, 1),
        (3, 2, 2, True, 1, 2),
        (2, 2, 0, True, 5, 1),  # reprocess beyond the last run: every run; no calibration
    ]
    for runs, subruns, calib, dl2, reprocess, interleave in cases:
        recs, got, want = counted_night(
            ms,
            runs,
            subruns,
            calibration=calib,
            dl2=dl2,
            reprocess=reprocess,
            interleave=interleave,
        )
        assert sum(got.values()) == want["total"]
        names = Counter(r.d["name"] for r in recs if r.kind == "start")
        subs = (runs + min(reprocess, runs)) * subruns
        assert names["dl1_to_dl2"] == (subs if dl2 else 0)
        calibs = calib + (max(calib, 1) if reprocess else 0)
        assert names["drs4_pedestal"] == names["calibrate_charge"] == calibs
    with pytest.raises(ValueError, match="reprocess"):
        ms.generate_night(reprocess=-1)


def test_dl3_bursts_gather_each_run(ms: ModuleType) -> None:
    """--dl3: one dl2_to_dl3 per (re)processed run, using every DL2 subrun file of the run,
    the IRF and the DL3 config, generating the run's DL3 file; counts as expected_counts."""
    for runs, subruns, reprocess, interleave in [(2, 3, 0, 1), (3, 2, 1, 2), (2, 4, 5, 3)]:
        recs, _, _ = counted_night(
            ms, runs, subruns, dl2=True, dl3=True, reprocess=reprocess, interleave=interleave
        )
        starts = {r.d["activity_id"]: r for r in recs if r.kind == "start"}
        dl3 = [a for a, r in starts.items() if r.d["name"] == "dl2_to_dl3"]
        assert len(dl3) == runs + min(reprocess, runs)
        dl2_files = {
            r.d["generated_id"]
            for r in recs
            if r.kind == "generated" and "DL2" in r.d["generated_role"]
        }
        for aid in dl3:
            used = [r.d for r in recs if r.kind == "used" and r.d["activity_id"] == aid]
            made = [r.d for r in recs if r.kind == "generated" and r.d["activity_id"] == aid]
            assert sum(u["used_id"] in dl2_files for u in used) == subruns
            assert {u["used_role"] for u in used} >= {"Instrument response functions"}
            assert [g["generated_role"] for g in made] == ["DL3 run file"]
    assert b"".join(night(ms, runs=2, subruns=3, dl2=True)) == b"".join(
        night(ms, runs=2, subruns=3, dl2=True, dl3=False)
    )
    with pytest.raises(ValueError, match="dl3 needs dl2"):
        ms.generate_night(dl3=True)


def test_dl2_bursts_follow_the_model(ms: ModuleType, model: Model) -> None:
    recs = parse(night(ms, runs=2, subruns=3, dl2=True, interleave=2, packages=3))
    bursts = bursts_of(recs)
    dl2 = [b for b in bursts.values() if b["name"] == "dl1_to_dl2"]
    assert len(dl2) == 6
    models = set()
    for b in dl2:
        run = b["tag"].split(":")[1]
        assert [role for role, _ in b["used"]] == DL2_ROLES[0]
        assert [role for role, _ in b["generated"]] == DL2_ROLES[1]
        for role, _ in b["used"]:
            assert model.usage_description_id("dl1_to_dl2", role), role
        assert model.generation_description_id("dl1_to_dl2", "DL2 subrun dataset")
        (_, out_path), sub = b["generated"][0], b["parameters"]["ObservationSubRun"]
        assert b["parameters"]["ObservationRun"] == run
        assert out_path == (
            f"/fefs/aswg/data/real/DL2/20200117/v0.1.0/tailcut84/nsb_tuning_0.14/"
            f"dl2_LST-1.Run{run}.{sub}.h5"
        )
        dl1 = b["used"][0][1]
        assert dl1.endswith(f"/tailcut84/dl1_LST-1.Run{run}.{sub}.h5")
        # the DL1 file it reads is the one dl1ab of the same subrun wrote
        assert any(
            o["name"] == "dl1ab" and o["generated"] == [("DL1AB subrun dataset", dl1)]
            for o in bursts.values()
        )
        models.add(tuple(p for _, p in b["used"][1:5]))
    assert len(models) == 1  # the RF models are shared by every run
    assert all(p.startswith("/fefs/aswg/data/models/") for p in next(iter(models)))
    # entity names of the burst are model entities with their content types
    content = {r.name: r.content_type for r in model.entity_descriptions}
    for r in recs:
        if r.kind == "entity" and r.d["session_tag"].startswith("dl1_to_dl2"):
            assert content[r.d["name"]] == r.d["contentType"]


def test_reprocessing(ms: ModuleType) -> None:
    recs = parse(night(ms, runs=3, subruns=2, reprocess=2, dl2=True, packages=3))
    bursts = list(bursts_of(recs).values())  # in order of their start records
    sessions = [r.d for r in recs if r.kind == "session"]
    first, second = bursts[: 2 + 3 * 2 * 4], bursts[2 + 3 * 2 * 4 :]
    assert [b["name"] for b in second[:2]] == ["drs4_pedestal", "calibrate_charge"]
    assert {b["tag"].split(":")[1] for b in second[2:]} == {"01807", "01808"}
    assert len(second[2:]) == 2 * 2 * 4
    assert min(b["start"] for b in second) > max(b["start"] for b in first)
    versions = Counter(s["software_version"] for s in sessions)
    assert versions == {"v0.12.3": len(first), "v0.12.4": len(second)}
    # the rerun regenerates the calibration files the runs used, at the same paths
    rerun_out = {p for b in second[:2] for _, p in b["generated"]}
    used_calib = {
        p
        for b in first
        if b["name"] == "r0_to_dl1"
        for role, p in b["used"]
        if role in ("Pedestal file", "Coefficients calibration file")
    }
    assert used_calib and used_calib <= rerun_out
    # reprocessed subruns write the same paths as the first pass
    out_first = {p for b in first[2:] for _, p in b["generated"]}
    out_second = {p for b in second[2:] for _, p in b["generated"]}
    assert out_second < out_first
    assert not any("Run01809" in p for p in out_second)


def ctapipe_activities(text: str) -> list[dict[str, Any]]:
    """The glued arrays of a ctapipe provenance log, decoded independently of provdb."""
    import json

    decoder, pos, out = json.JSONDecoder(), 0, []
    while pos < len(text):
        array, pos = decoder.raw_decode(text, pos)
        out.extend(array)
    return out


def test_ctapipe_log(ms: ModuleType, tmp_path: Path, capsys) -> None:
    log = tmp_path / "dl2.provenance.log"
    args = ["--runs", "4", "--subruns", "1", "--out", str(tmp_path / "p.log")]
    assert ms.main([*args, "--ctapipe-log", str(log), "--failures", "2"]) == 0
    assert "4 ctapipe activities (2 failed)" in capsys.readouterr().err
    text = log.read_text()
    assert text.startswith("[\n") and "\n][\n" in text and not text.endswith("\n")
    acts = ctapipe_activities(text)
    assert [a["activity_name"] for a in acts] == ["lstchain_dl1_to_dl2"] * 4
    assert Counter((a["status"], a["exit_code"]) for a in acts) == {
        ("completed", 0): 2,
        ("error", 1): 2,
    }
    assert len({a["activity_uuid"] for a in acts}) == 4
    for i, a in enumerate(acts):
        run = f"{1807 + i:05d}"
        assert a["input"][2]["url"].endswith(f"/tailcut84/dl1_LST-1.Run{run}.h5")
        assert a["input"][1]["role"] == "RF models"
        assert a["output"][0]["url"].endswith(f"/nsb_tuning_0.14/dl2_LST-1.Run{run}.h5")
        start = datetime.fromisoformat(a["start"]["time_utc"])
        stop = datetime.fromisoformat(a["stop"]["time_utc"])
        minutes = (stop - start).total_seconds() / 60
        assert a["duration_min"] == pytest.approx(minutes, abs=0.001)
        assert (0.3 < minutes < 5.1) if a["status"] == "error" else (8 <= minutes <= 25)
    assert all(
        datetime.fromisoformat(b["start"]["time_utc"])
        > datetime.fromisoformat(a["stop"]["time_utc"])
        for a, b in itertools.pairwise(acts)
    )
    assert ms.main([*args, "--ctapipe-log", str(log), "--failures", "5"]) == 2
    assert "failures" in capsys.readouterr().err
    assert ms.main([*args, "--failures", "1"]) == 2
    assert "--ctapipe-log" in capsys.readouterr().err


def test_grown_night_ingests(ms: ModuleType, engine, tmp_path: Path, model: Model) -> None:
    """--dl2 --reprocess 1 --ctapipe-log: the archive holds what the lines say."""
    from provdb.ingest.pipeline import ingest_file

    prov, log = tmp_path / "prov.log", tmp_path / "dl2.provenance.log"
    args = ["--runs", "2", "--subruns", "2", "--dl2", "--reprocess", "1", "--packages", "5"]
    assert ms.main([*args, "--out", str(prov), "--ctapipe-log", str(log), "--failures", "1"]) == 0
    recs = parse(prov.read_bytes().splitlines(keepends=True))
    acts = ctapipe_activities(log.read_text())

    def md5(path: str) -> str:
        return hashlib.md5(str(Path(path)).encode()).hexdigest()

    names = {r.d["entity_id"]: r.d["name"] for r in recs if r.kind == "entity"}
    generations = Counter(r.d["generated_id"] for r in recs if r.kind == "generated")
    for a in acts:
        generations.update(md5(o["url"]) for o in a["output"])
    dl2_ids = {e for e, n in names.items() if n == "DL2SubrunDataset"}
    assert len(dl2_ids) == 4
    failed = {a["activity_uuid"] for a in acts if a["status"] == "error"}
    assert len(failed) == 1

    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        for path in (prov, log):
            result = ingest_file(conn, path, model=model)
            assert result.error is None and result.rejects == 0, result
    finally:
        raw.close()
    with engine.connect() as c:
        got_dl2 = {
            row[0]
            for row in c.exec_driver_sql(
                "SELECT id FROM provenance.entity WHERE name = 'DL2SubrunDataset'"
            )
        }
        got_gen = dict(
            c.exec_driver_sql(
                "SELECT entity_id, count(*) FROM provenance.wasgeneratedby GROUP BY entity_id"
            ).all()
        )
        got_failed = {
            row[0]
            for row in c.exec_driver_sql(
                "SELECT id FROM provenance.activity WHERE status = 'error' AND exit_code = 1"
            )
        }
        descr = c.exec_driver_sql(
            "SELECT d.description FROM provenance.activity a JOIN "
            "provenance.activitydescription d ON d.id = a.activity_description_id "
            "WHERE a.name = 'dl1_to_dl2' LIMIT 1"
        ).scalar()
    assert got_dl2 == dl2_ids
    assert got_gen == dict(generations)
    assert sorted(Counter(got_gen.values()).items()) == sorted(
        Counter(generations.values()).items()
    )
    # run 01807 was reprocessed: its subrun DL2 files have two generations, 01808's one
    dl2_dir = "/fefs/aswg/data/real/DL2/20200117/v0.1.0/tailcut84/nsb_tuning_0.14"
    again = {md5(f"{dl2_dir}/dl2_LST-1.Run01807.{s:04d}.h5") for s in range(2)}
    assert again <= dl2_ids
    assert {e: got_gen[e] for e in dl2_ids} == {e: 2 if e in again else 1 for e in dl2_ids}
    assert got_failed == failed
    assert descr == "Create DL2 files for an DL1 run and subrun"
