"""Tests of the W3C PROV reader (PROV-JSON / PROV-XML / PROV-N, voprov, lstosa run-wise JSON)."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import re
from collections import Counter
from dataclasses import astuple, fields, replace
from datetime import datetime
from pathlib import Path

import pytest

from provdb.errors import ParseError
from provdb.ingest.records import (
    ActivityDescriptionRow,
    ActivityRow,
    AgentRow,
    ArchiveRow,
    AssociationRow,
    ConfigFileRow,
    DerivationRow,
    EntityRow,
    GenerationRow,
    InformRow,
    MemberRow,
    ParameterRow,
    SessionRow,
    UsageDescriptionRow,
    UsedRow,
)
from provdb.ingest.w3c_prov import detect, document_id, parse_bytes, parse_file
from tests.provdb import logprov_files

LSTOSA = "generated/lstosa_simulate_processing"
RUN_JSON = f"{LSTOSA}/DL1/20200117/v0.1.0/tailcut84/log/calibration_to_dl1_{{run}}_prov.json"
DL2_JSON = (
    f"{LSTOSA}/DL2/20200117/v0.1.0/tailcut84/nsb_tuning_0.14/log/"
    "calibration_to_dl2_{run}_prov.json"
)
VOPROV = "generated/voprov_serializations/voprov_example"


def by_type(rows: list[ArchiveRow]) -> dict[type, list[ArchiveRow]]:
    out: dict[type, list[ArchiveRow]] = {}
    for row in rows:
        out.setdefault(type(row), []).append(row)
    return out


def normalised(rows: list[ArchiveRow], doc: str) -> set[tuple]:
    """Rows as comparable tuples, with the document id (which hashes the bytes) blanked."""
    out = set()
    for row in rows:
        values = tuple(repr(sorted(v.items())) if isinstance(v, dict) else v for v in astuple(row))
        values = tuple(v.replace(doc, "DOC") if isinstance(v, str) else v for v in values)
        out.add((type(row).__name__, *values))
    return out


# --------------------------------------------------------------------------- lstosa JSON


@pytest.fixture(scope="module")
def run_01807(samples: Path) -> list[ArchiveRow]:
    return list(parse_file(samples / RUN_JSON.format(run="01807")))


def test_lstosa_run_json_counts(run_01807: list[ArchiveRow]) -> None:
    counts = Counter(type(row) for row in run_01807)
    # spec §3.4: 44 entities (one is the session), 5 activities, 1 agent, 15 used,
    # 10 wasGeneratedBy, 11 wasDerivedFrom
    assert counts[ActivityRow] == 5
    assert counts[UsedRow] == 15
    assert counts[GenerationRow] == 10
    assert counts[DerivationRow] == 11
    assert counts[EntityRow] + counts[SessionRow] == 44
    assert counts[SessionRow] == 1
    assert counts[AgentRow] == 1


def test_lstosa_entity_ids_match_prov_log(run_01807: list[ArchiveRow], samples: Path) -> None:
    prov_log = (samples / LSTOSA / "prov.log").read_text()
    log_ids = set(
        re.findall(
            r"'(?:entity_id|progenitor_id|used_id|generated_id)': '([0-9a-f]{32})'", prov_log
        )
    )
    entities = {row.id: row for row in run_01807 if isinstance(row, EntityRow)}
    raw = entities["14ce42cc4e3b42a03e3fb86f75e61459"]
    assert raw.name == "RawObservationFile"
    assert raw.entity_type == "File"
    assert raw.content_type == "application/fits"
    assert raw.location.endswith("/R0G/20200117/LST-1.1.Run01804.fits.fz")
    assert "14ce42cc4e3b42a03e3fb86f75e61459" in log_ids
    # every file entity and every dangling derivation id is an md5 id of prov.log
    files = [r for r in entities.values() if r.entity_type == "File" or r.attributes is None]
    bare = [r for r in entities.values() if r.name is None and r.entity_type is None]
    assert len(bare) == 22
    assert {r.id for r in files if r.entity_type != "Parameters"} <= log_ids | {
        r.id for r in entities.values() if r.entity_type == "Parameters"
    }
    assert {r.id for r in bare} <= log_ids


def test_lstosa_collections_and_relations(run_01807: list[ArchiveRow]) -> None:
    rows = by_type(run_01807)
    entity_ids = {row.id for row in rows[EntityRow]}
    activity_ids = {row.id for row in rows[ActivityRow]}
    coll = next(r for r in rows[EntityRow] if r.name == "R0Collection")
    assert coll.entity_type == "SetCollection"
    assert coll.attributes == {"size": "11"}
    for used in rows[UsedRow]:
        assert used.entity_id in entity_ids and used.activity_id in activity_ids
    for gen in rows[GenerationRow]:
        assert gen.entity_id in entity_ids and gen.activity_id in activity_ids
    for der in rows[DerivationRow]:
        assert {der.generated_entity_id, der.used_entity_id} <= entity_ids
    roles = {used.role for used in rows[UsedRow]}
    assert "Subrun for pedestal" in roles


def test_lstosa_activity_ids_are_document_scoped(samples: Path) -> None:
    path = samples / RUN_JSON.format(run="01807")
    doc = "w3c:" + hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    assert document_id(path.read_bytes()) == doc
    first = list(parse_file(path))
    second = list(parse_file(path))
    assert first == second
    acts = {row.original_id: row for row in first if isinstance(row, ActivityRow)}
    assert set(acts) == {"ef1b87", "eee15f", "f5b73f", "545697", "d5cc75"}
    for local, row in acts.items():
        assert row.id == f"{doc}:{local}"
    dl1ab = acts["545697"]
    assert dl1ab.name == "dl1ab"
    assert dl1ab.script == "/tmp/lst-osa-venv/bin/datasequence"
    assert dl1ab.start_time == datetime(2026, 11, 23, 19, 30, 7, 496223)
    assert dl1ab.start_time_text == "2026-11-23T19:30:07.496223"
    assert dl1ab.end_time_text == "2026-11-23T19:30:44.968312"
    assert dl1ab.attributes == {"in_session": "2020011701807"}
    assert dl1ab.session_id == f"{doc}:session:2020011701807"
    # calibration activities point to a session that the document does not contain
    assert acts["ef1b87"].session_id is None
    # the other run's document gets other activity ids
    other = list(parse_file(samples / RUN_JSON.format(run="01808")))
    other_ids = {row.id for row in other if isinstance(row, ActivityRow)}
    assert not other_ids & {row.id for row in acts.values()}


def test_lstosa_session_parameters_agent(run_01807: list[ArchiveRow]) -> None:
    rows = by_type(run_01807)
    (session,) = rows[SessionRow]
    assert session.original_id == "2020011701807"
    assert session.id.endswith(":session:2020011701807")
    assert session.name == "01807"
    assert session.observation_date == "20200117"
    assert session.observation_run == "01807"
    assert session.software_version == "v0.12.3"
    assert session.config_file.endswith("sequencer.cfg")
    assert session.config_file_hash == "13af0c4ed0e7c8bc679f50fe3542b130"
    assert session.config_file_hash_type == "md5"
    assert "2020011701807" not in {row.id for row in rows[EntityRow]}

    dl1ab = next(row for row in rows[ActivityRow] if row.original_id == "545697")
    assert rows[ParameterRow] == [
        ParameterRow(
            activity_id=dl1ab.id,
            name="StoreImage",
            parameter_value="True",
            value_entity_id="545697_parameters",
        )
    ]
    params = next(row for row in rows[EntityRow] if row.id == "545697_parameters")
    assert params.entity_type == "Parameters"
    setup = [u for u in rows[UsedRow] if u.entity_id == "545697_parameters"]
    assert setup == [UsedRow(activity_id=dl1ab.id, entity_id="545697_parameters", role="Setup")]
    assert rows[AgentRow] == [AgentRow(id="Anonymous", name="Anonymous")]


def test_lstosa_dl2_copy_gives_same_rows(samples: Path, run_01807: list[ArchiveRow]) -> None:
    dl2 = list(parse_file(samples / DL2_JSON.format(run="01807")))
    assert dl2 == run_01807  # byte-identical copy: same document id, same rows
    other = list(parse_file(samples / DL2_JSON.format(run="01808")))
    assert Counter(type(row) for row in other)[ActivityRow] == 5


# --------------------------------------------------------------------------- voprov


@pytest.mark.parametrize("ext", ["json", "xml", "provn"])
def test_voprov_serialisation(samples: Path, ext: str) -> None:
    warnings: list[str] = []
    rows = list(parse_file(samples / f"{VOPROV}.{ext}", warnings=warnings))
    typed = by_type(rows)
    ns = "http://example.org/lst#"
    (act1, act0) = typed[ActivityRow]
    assert act1.id == ns + "act1" and act1.name == "r0_to_dl1"
    assert act1.start_time == datetime(2020, 1, 17, 10, 0)
    assert act1.end_time == datetime(2020, 1, 17, 10, 5)
    assert act1.activity_description_id == ns + "r0_to_dl1_desc"
    assert act0 == ActivityRow(id=ns + "act0")  # referenced by wasInformedBy only
    assert any("lst:act0" in w and "not declared" in w for w in warnings)
    assert {r.id: (r.name, r.location) for r in typed[EntityRow]} == {
        ns + "e0": ("R0SubrunDataset", "/data/r0.fits.fz"),
        ns + "e1": ("DL1SubrunDataset", "/data/dl1.h5"),
        ns + "coll": (None, None),
    }
    assert typed[ParameterRow] == [ParameterRow(ns + "act1", "StoreImage", "True")]
    assert typed[ConfigFileRow] == [
        ConfigFileRow(ns + "act1", "lstchain_config", location="/cfg/lstchain.json")
    ]
    assert typed[ActivityDescriptionRow] == [
        ActivityDescriptionRow(ns + "r0_to_dl1_desc", "r0_to_dl1", version="0.10")
    ]
    assert typed[UsageDescriptionRow] == [
        UsageDescriptionRow(ns + "ud1", ns + "r0_to_dl1_desc", "Observation subrun")
    ]
    assert typed[UsedRow] == [
        UsedRow(ns + "act1", ns + "e0", "Observation subrun", usage_description_id=ns + "ud1")
    ]
    assert typed[GenerationRow] == [GenerationRow(ns + "e1", ns + "act1", "DL1 subrun dataset")]
    assert typed[AgentRow] == [AgentRow(ns + "user", "user")]
    assert typed[AssociationRow] == [AssociationRow(ns + "act1", ns + "user")]
    assert typed[InformRow] == [InformRow(ns + "act1", ns + "act0")]
    assert typed[DerivationRow] == [DerivationRow(ns + "e1", ns + "e0")]
    assert typed[MemberRow] == [MemberRow(ns + "coll", ns + "e1")]


def test_voprov_three_serialisations_agree(samples: Path) -> None:
    results = []
    for ext in ("json", "xml", "provn"):
        path = samples / f"{VOPROV}.{ext}"
        results.append(normalised(list(parse_file(path)), document_id(path.read_bytes())))
    assert results[0] == results[1] == results[2]
    kinds = {t[0] for t in results[0]}
    assert {"ParameterRow", "ConfigFileRow", "ActivityDescriptionRow"} <= kinds


# --------------------------------------------------------------------------- logprov


def test_logprov_json_and_xml(tmp_path: Path) -> None:
    """logprov's voprov documents: #configuration# bundles, voprov_1 prefix, big int ids."""
    session = "http://example.org/logprov/session/"
    results = {}
    for ext in ("json", "xml"):
        path = logprov_files.write_prov(tmp_path, ext)
        rows = list(parse_file(path))
        typed = by_type(rows)
        assert len(typed[ActivityRow]) == 3
        assert len(typed[EntityRow]) == 5  # the session, two files, two Python objects
        assert len(typed[UsedRow]) == 3
        assert len(typed[GenerationRow]) == 3
        assert len(typed[AssociationRow]) == 3
        assert len(typed[DerivationRow]) == 1
        assert typed[AgentRow] == [AgentRow(id=f"{session}analyst", name="analyst")]
        # parameters live in #configuration#<act> bundles, linked by wasConfiguredBy
        sid = logprov_files.SESSION
        assert sorted((p.activity_id, p.name, p.parameter_value) for p in typed[ParameterRow]) == [
            (f"{session}{sid}_b7d913", "kwargs.width", "3"),
            (f"{session}{sid}_c44e70", "kwargs.threshold", "5.0"),
        ]
        img = next(r for r in typed[EntityRow] if r.id == f"{session}{sid}_{logprov_files.IMG_ID}")
        assert (img.name, img.location, img.entity_value, img.entity_type) == (
            "Image in img",
            "img",
            "<Image 64x64>",
            "PythonObject",
        )
        # the renamed voprov_1 prefix is read as voprov
        assert img.attributes == {"voprov:entity_description": "Image"}
        results[ext] = normalised(rows, document_id(path.read_bytes()))
    assert results["json"] == results["xml"]


# --------------------------------------------------------------------------- compression


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
)
def test_compressed_copies(samples: Path, tmp_path: Path, suffix: str, compress) -> None:
    for name in (RUN_JSON.format(run="01807"), f"{VOPROV}.xml", f"{VOPROV}.provn"):
        src = samples / name
        dest = tmp_path / (src.name + suffix)
        dest.write_bytes(compress(src.read_bytes()))
        assert list(parse_file(dest)) == list(parse_file(src))
        assert detect(dest.read_bytes()[:4096]) == detect(src.read_bytes()[:4096])


def test_parse_bytes_matches_parse_file(samples: Path) -> None:
    path = samples / f"{VOPROV}.provn"
    rows = list(parse_bytes(path.read_bytes(), format="prov-n", path=str(path)))
    assert rows == list(parse_file(path))
    assert list(parse_bytes(gzip.compress(path.read_bytes()), format="prov-n")) == rows


# --------------------------------------------------------------------------- detect


def test_detect(samples: Path, tmp_path: Path) -> None:
    assert detect((samples / RUN_JSON.format(run="01807")).read_bytes()[:2048]) == "prov-json"
    logprov_json = logprov_files.write_prov(tmp_path, "json")
    assert detect(logprov_json.read_bytes()[:2048]) == "prov-json"
    assert detect((samples / f"{VOPROV}.json").read_bytes()[:2048]) == "prov-json"
    assert detect((samples / f"{VOPROV}.xml").read_bytes()[:2048]) == "prov-xml"
    assert detect(logprov_files.write_prov(tmp_path, "xml").read_bytes()[:2048]) == "prov-xml"
    assert detect((samples / f"{VOPROV}.provn").read_bytes()[:2048]) == "prov-n"
    assert detect(b"// a comment\n/* another */ document\nendDocument\n") == "prov-n"
    assert detect(b"{}") == "prov-json"
    # not W3C PROV: the lstosa prov.log, a ctapipe log (JSON array), other JSON and XML
    assert detect((samples / LSTOSA / "prov.log").read_bytes()[:2048]) is None
    assert detect(b'[{"activity_name": "x"}]') is None
    assert detect(b'{"name": "x"}') is None
    assert detect(b"<?xml version='1.0'?><html/>") is None
    assert detect(b"") is None


def test_unknown_format_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    with pytest.raises(ParseError) as info:
        parse_file(path)
    assert info.value.line is None and str(path) in str(info.value)
    with pytest.raises(ValueError):
        parse_bytes(b"{}", format="rdf")


# --------------------------------------------------------------------------- errors


def test_malformed_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        '{\n  "prefix": {"id": "id:"},\n  "entity": {\n    "id:a": {}\n    "id:b": {}\n}}\n'
    )
    with pytest.raises(ParseError) as info:
        parse_file(path)
    assert info.value.line == 5
    assert info.value.path == str(path)
    assert str(info.value).startswith(f"{path}:5: invalid JSON")


def test_json_record_not_an_object_names_line(tmp_path: Path) -> None:
    data = b'{\n  "prefix": {"id": "id:"},\n  "activity": {\n    "id:abc": "oops"\n  }\n}\n'
    with pytest.raises(ParseError) as info:
        parse_bytes(data, format="prov-json", path="x.json")
    assert info.value.line == 4


def test_malformed_xml_names_line(samples: Path, tmp_path: Path) -> None:
    lines = (samples / f"{VOPROV}.xml").read_text().splitlines()
    assert lines[5].strip() == "<prov:name>r0_to_dl1</prov:name>"
    lines[5] = "    <prov:name>r0_to_dl1</prov:nam>"
    path = tmp_path / "bad.xml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError) as info:
        parse_file(path)
    assert info.value.line == 6
    assert "invalid XML" in info.value.reason


def test_malformed_provn_names_line(samples: Path, tmp_path: Path) -> None:
    lines = (samples / f"{VOPROV}.provn").read_text().splitlines()
    assert lines[8].strip().startswith("entity(lst:e1,")
    lines[8] = '  entity(lst:e1, [prov:name="DL1SubrunDataset", voprov:location="/data/dl1.h5"]'
    path = tmp_path / "bad.provn"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError) as info:
        parse_file(path)
    assert info.value.line == 9
    assert "')'" in info.value.reason


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('document\n  entity(ex:a, [ex:k="unterminated])\nendDocument\n', 2),
        ("document\n  prefix ex <http://x/>\n  entity ex:a\nendDocument\n", 3),
        ("document\n  entity(ex:a)\n", 3),
        ("document\n  /* never closed\n  entity(ex:a)\nendDocument\n", 2),
    ],
)
def test_provn_syntax_errors(text: str, line: int) -> None:
    with pytest.raises(ParseError) as info:
        parse_bytes(text.encode(), format="prov-n", path="x.provn")
    assert info.value.line == line


def test_truncated_gzip(samples: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress((samples / f"{VOPROV}.json").read_bytes())[:-20])
    with pytest.raises(ParseError) as info:
        parse_file(path, format="prov-json")
    assert "gzip" in info.value.reason


# --------------------------------------------------------------------------- W3C details


def test_standard_provn_features_and_warnings() -> None:
    text = """document
  // comment
  prefix ex <http://example.org/>
  prefix id <id:>
  entity(ex:e1, [prov:type='prov:Plan', ex:size=3, prov:label="a \\"quoted\\" name"])
  activity(id:abc123, 2020-01-01T00:00:00Z, -, [prov:label="step" %% xsd:string])
  agent(ex:ann, [prov:type='prov:Person', prov:label="Ann"])
  used(ex:u1; id:abc123, ex:e1, 2020-01-01T00:00:01)
  wasGeneratedBy(-; ex:e2, id:abc123, 2020-01-01T00:00:02)
  wasAssociatedWith(id:abc123, ex:ann, -, [prov:role="Operator"])
  wasAttributedTo(ex:e2, ex:ann)
  wasStartedBy(id:abc123, -, -, -)
  bundle ex:b1
    entity(ex:e3)
    hadMember(ex:e3, ex:e1)
  endBundle
  frobnicate(ex:e1)
endDocument
"""
    warnings: list[str] = []
    rows = list(parse_bytes(text.encode(), format="prov-n", path="t.provn", warnings=warnings))
    doc = document_id(text.encode())
    typed = by_type(rows)
    e1 = next(r for r in typed[EntityRow] if r.id == "http://example.org/e1")
    assert e1.entity_type == "prov:Plan"
    assert e1.name == 'a "quoted" name'
    assert e1.attributes == {"ex:size": "3"}
    # e2 is only generated: a bare row, with the generation time as generatedAtTime
    e2 = next(r for r in typed[EntityRow] if r.id == "http://example.org/e2")
    assert e2.generated_at_time == datetime(2020, 1, 1, 0, 0, 2)
    (act,) = typed[ActivityRow]
    assert act.id == f"{doc}:abc123" and act.original_id == "abc123"
    assert act.start_time == datetime(2020, 1, 1) and act.start_time_text.endswith("Z")
    assert act.name == "step" and act.end_time is None
    assert typed[AgentRow] == [AgentRow("http://example.org/ann", "Ann", type="Person")]
    (used,) = typed[UsedRow]
    assert used.used_time == datetime(2020, 1, 1, 0, 0, 1)
    assert typed[AssociationRow] == [
        AssociationRow(act.id, "http://example.org/ann", role="Operator")
    ]
    assert typed[MemberRow] == [MemberRow("http://example.org/e3", "http://example.org/e1")]
    assert any("frobnicate" in w and ":17:" in w for w in warnings)
    assert any("wasStartedBy" in w for w in warnings)


def test_prov_json_typed_values_lists_and_blank_nodes() -> None:
    data = b"""{
  "prefix": {"ex": "urn:example:", "default": "http://example.org/default#"},
  "entity": {
    "ex:e1": {"prov:type": [{"$": "prov:Collection", "type": "xsd:QName"}, "Dataset"],
              "prov:value": {"$": 42, "type": "xsd:int"}, "local": true},
    "_:b1": {}
  },
  "agent": {"ex:bot": {"prov:type": {"$": "prov:SoftwareAgent", "type": "xsd:QName"}}},
  "hadMember": {"_:m": {"prov:collection": "ex:e1", "prov:entity": ["_:b1", "ex:e3"]}},
  "wasAttributedTo": {"_:a": {"prov:entity": "ex:e1", "prov:agent": "ex:bot"}}
}"""
    rows = list(parse_bytes(data, format="prov-json"))
    doc = document_id(data)
    typed = by_type(rows)
    e1 = next(r for r in typed[EntityRow] if r.id == "urn:example:e1")
    assert e1.entity_type == "prov:Collection"
    assert e1.entity_value == "42"
    assert e1.attributes == {"prov:type": "Dataset", "local": "true"}
    assert {r.id for r in typed[EntityRow]} == {"urn:example:e1", f"{doc}:_:b1", "urn:example:e3"}
    assert typed[MemberRow] == [
        MemberRow("urn:example:e1", f"{doc}:_:b1"),
        MemberRow("urn:example:e1", "urn:example:e3"),
    ]
    assert typed[AgentRow] == [AgentRow("urn:example:bot", "bot", type="SoftwareAgent")]


def test_rows_are_plain_dataclasses(run_01807: list[ArchiveRow]) -> None:
    # every row is one of the archive dataclasses, copyable without surprises
    for row in run_01807:
        assert fields(row)
        assert replace(row) == row


def test_relations_missing_an_end_are_skipped_with_a_warning() -> None:
    text = """document
  prefix ex <http://example.org/>
  activity(ex:a)
  entity(ex:e)
  agent(ex:ag)
  used(ex:a, -, -)
  wasGeneratedBy(ex:e, -, -)
  wasAssociatedWith(ex:a, -, -)
  wasAttributedTo(ex:e, -)
  wasDerivedFrom(ex:e, -)
  wasInformedBy(ex:a, -)
  hadMember(ex:e, -)
endDocument
"""
    warnings: list[str] = []
    rows = list(parse_bytes(text.encode(), format="prov-n", path="t.provn", warnings=warnings))
    assert sorted(type(r).__name__ for r in rows) == ["ActivityRow", "AgentRow", "EntityRow"]
    assert warnings == [
        "t.provn:6: used without an activity or an entity skipped",
        "t.provn:7: wasGeneratedBy without an entity or an activity skipped",
        "t.provn:8: wasAssociatedWith without an activity or an agent skipped",
        "t.provn:9: wasAttributedTo without an entity or an agent skipped",
        "t.provn:10: wasDerivedFrom without both entities skipped",
        "t.provn:11: wasInformedBy without both activities skipped",
        "t.provn:12: hadMember without a collection or a member skipped",
    ]
