"""PROV-JSON written without the prov model (provdb.lineage.provjson_container).

The reference is the ``prov`` library itself: the document of
:func:`provdb.lineage.provjson.prov_document` serialised by ``prov``. The fast writer must
give the same JSON (parsed) for graphs holding every kind of node, relation, attached
object and value type, in both models. Pure: no database.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from provdb.lineage.graph import Edge, Node, ProvGraph
from provdb.lineage.provjson import prov_document, to_prov_json
from provdb.lineage.provjson_container import JsonDocument, dumps


def _graph(*, truncated: bool = False) -> ProvGraph:
    g = ProvGraph(roots=[("entity", "dl2")], depth=None, limit=7, truncated=truncated)
    t0 = datetime(2020, 1, 18, 3, 4, 5, 123456, tzinfo=UTC)
    cest = timezone(timedelta(hours=2))
    g.add_node(
        Node(
            "entity",
            "dl2",
            {
                "name": "DL2 fichier é",  # non-ASCII
                "location": "/data/DL2/dl2 (run 1807).h5",  # characters PROV-N escapes
                "entity_type": "prov:Collection",
                "generated_at_time": t0,
                "size_bytes": 5_000_000_000,  # xsd:long
                "content_hash": "abc",
                "entity_description_id": "DL2File",
                "attributes": {"n_events": 12, "ratio": 0.25, "ok": True, "nested": {"a": [1]}},
            },
            level=0,
            start=True,
        )
    )
    g.add_node(
        Node(
            "entity",
            "dl1",
            {"name": "DL1", "entity_value": "42", "comment": "Σ", "size_bytes": 1 << 70},
            level=2,
        )
    )
    g.add_node(Node("entity", "member", {"name": "member"}, level=1))
    g.add_node(
        Node(
            "activity",
            "dl1_to_dl2@2020-01-18",
            {
                "name": "dl1_to_dl2",
                "start_time": t0,
                "end_time": datetime(2020, 1, 18, 5, tzinfo=cest),
                "session_id": "s1",
                "exit_code": 0,
                "status": "ok",
                "activity_description_id": "dl1_to_dl2",
                "command_line": 'lstchain_dl1_to_dl2 --input "a b"',
            },
            level=1,
        )
    )
    g.add_node(Node("activity", "earlier", {"name": "r0_to_dl1"}, level=3))
    g.add_node(Node("agent", "lstanalyzer", {"name": "LST analyzer", "type": "Person"}))
    g.add_node(Node("agent", "bot", {"type": "robot", "email": "x@y"}))
    for edge in (
        Edge("used", "dl1_to_dl2@2020-01-18", "dl1", (("role", "input"), ("used_time", t0)), 1),
        Edge(
            "used",
            "dl1_to_dl2@2020-01-18",
            "member",
            (("role", "input"), ("usage_description_id", "u1")),
            2,
        ),
        Edge("wasGeneratedBy", "dl2", "dl1_to_dl2@2020-01-18", (("role", "output"),), 3),
        Edge(
            "wasGeneratedBy",
            "dl1",
            "earlier",
            (("generation_description_id", "g1"),),
            4,
        ),
        Edge("wasDerivedFrom", "dl2", "dl1", (), 5),
        Edge("wasAssociatedWith", "dl1_to_dl2@2020-01-18", "lstanalyzer", (("role", "op"),), 6),
        Edge("wasAttributedTo", "dl2", "bot", (), 7),
        Edge("wasInformedBy", "dl1_to_dl2@2020-01-18", "earlier", (), 8),
        Edge("hadMember", "dl2", "member", (), 9),
    ):
        g.add_edge(edge)
    act = "dl1_to_dl2@2020-01-18"
    g.parameters[act] = [
        {"id": 1, "name": "gamma", "parameter_value": "0.7", "parameter_description_id": "p1"},
        # the same name twice: two records with one identifier (a list in PROV-JSON)
        {"id": 2, "name": "gamma", "parameter_value": "0.8"},
        {"id": 3, "name": "model", "parameter_value": "rf", "value_entity_id": "dl1"},
    ]
    g.config_files[act] = [
        {
            "id": 5,
            "name": "config",
            "location": "/cfg/a.json",
            "comment": "c",
            "content_hash": "h",
            "config_file_description_id": "c1",
        }
    ]
    g.sessions["s1"] = {
        "id": "s1",
        "name": "session",
        "software_version": "v0.12.3",
        "night": date(2020, 1, 17),
        "observation_run": 1807,
    }
    g.descriptions["activityDescription"]["dl1_to_dl2"] = {
        "id": "dl1_to_dl2",
        "name": "dl1_to_dl2",
        "version": "1",
        "type": "Reconstruction",
    }
    g.descriptions["entityDescription"]["DL2File"] = {
        "id": "DL2File",
        "name": "DL2",
        "content_type": "application/x-hdf",
        "activity_description_id": "dl1_to_dl2",
    }
    g.descriptions["usageDescription"]["u1"] = {"id": "u1", "role": "input", "multiplicity": 2}
    g.descriptions["generationDescription"]["g1"] = {"id": "g1", "role": "output"}
    g.descriptions["parameterDescription"]["p1"] = {
        "id": "p1",
        "name": "gamma",
        "min_value": "0",
        "max_value": "1",
        "arraysize": "*",
    }
    g.descriptions["configFileDescription"]["c1"] = {"id": "c1", "name": "config"}
    return g.finish()


def _reference(graph: ProvGraph, model: str) -> dict:
    text = prov_document(graph, model=model).serialize(format="json", indent=2)
    return json.loads(text)


@pytest.mark.parametrize("model", ["IVOA", "W3C"])
@pytest.mark.parametrize("truncated", [False, True])
def test_same_document_as_the_prov_library(model: str, truncated: bool) -> None:
    graph = _graph(truncated=truncated)
    fast = to_prov_json(graph, model=model)
    ours = json.loads(fast)
    assert ours == _reference(graph, model)
    # the cases the writer has to get right are in it
    assert isinstance(ours["entity"]["provdb:dl1_to_dl2@2020-01-18/parameter/gamma"], list)
    assert ours["entity"]["provdb:dl1"]["provdb:size_bytes"]["type"] == "xsd:integer"
    assert ours["entity"]["provdb:dl2"]["provdb:size_bytes"]["type"] == "xsd:long"
    assert "DL2 fichier é" in fast.decode("utf-8")  # UTF-8, not \\u escapes
    assert ("provdb:truncated" in ours["entity"]["provdb:dl2"]) is truncated


def test_an_empty_graph_and_a_lone_node() -> None:
    empty = ProvGraph().finish()
    assert json.loads(to_prov_json(empty)) == _reference(empty, "IVOA")
    lone = ProvGraph(roots=[("agent", "a")])
    lone.add_node(Node("agent", "a", {}, level=0, start=True))
    assert json.loads(to_prov_json(lone.finish(), model="W3C")) == _reference(lone, "W3C")


def test_equal_anonymous_records_share_one_id_as_in_prov() -> None:
    """prov names an anonymous record by its content: two equal ones become one id."""
    doc = JsonDocument()
    ns = doc.add_namespace("provdb", "urn:provdb:")
    for _ in range(2):
        doc.used(ns["a"], ns["e"], None, None, [("prov:role", "in")])
    doc.used(ns["a"], ns["e"], None, None, [("prov:role", "other")])
    out = doc.container()["used"]
    assert list(out) == ["_:id1", "_:id2"]
    assert isinstance(out["_:id1"], list) and len(out["_:id1"]) == 2


def test_a_repeated_value_is_written_once_but_a_differently_typed_one_is_kept() -> None:
    doc = JsonDocument()
    ns = doc.add_namespace("provdb", "urn:provdb:")
    doc.entity(ns["x"], [("prov:type", "t"), ("prov:type", "t"), ("prov:type", ns["t"])])
    doc.entity(ns["y"], [(ns["n"], 1), (ns["n"], True), (ns["n"], 1)])
    out = doc.container()["entity"]
    assert out["provdb:x"]["prov:type"] == ["t", {"$": "provdb:t", "type": "xsd:QName"}]
    assert out["provdb:y"]["provdb:n"] == [{"$": "1", "type": "xsd:int"}, True]


def test_compact_output_and_no_other_indentation() -> None:
    doc = JsonDocument()
    doc.add_namespace("provdb", "urn:provdb:")
    assert dumps(doc.container(), indent=None) == b'{"prefix":{"provdb":"urn:provdb:"}}'
    with pytest.raises(ValueError, match="indent must be 2 or None"):
        dumps(doc.container(), indent=4)


def test_repeated_attributes_and_shared_anonymous_ids_match_the_prov_library() -> None:
    """The writer's fast path hands repeated attributes and anonymous records that share
    their related nodes to a general path: both give prov's document."""
    from prov.model import ProvDocument

    t0 = datetime(2020, 1, 18, 3, 4, 5, tzinfo=UTC)
    ours, ref = JsonDocument(), ProvDocument()
    ns_ours = ours.add_namespace("provdb", "urn:provdb:")
    ns_ref = ref.add_namespace("provdb", "urn:provdb:")
    for doc, ns in ((ours, ns_ours), (ref, ns_ref)):
        a, e, f = ns["a"], ns["e"], ns["f"]
        doc.entity(e, [("prov:label", "x"), ("prov:label", "x"), ("prov:label", "y")])
        doc.entity(f, [(ns["n"], 1), ("prov:label", "f"), (ns["n"], 2)])
        # equal content in another order: one id; a different role: another id
        doc.used(a, e, t0, None, [("prov:role", "in"), (ns["k"], 1)])
        doc.used(a, e, t0, None, [(ns["k"], 1), ("prov:role", "in")])
        doc.used(a, e, t0, None, [("prov:role", "out")])
        doc.used(a, e, None, None, [("prov:role", "in"), ("prov:role", "again")])
        doc.used(a, f, None, None, None)
        doc.wasGeneratedBy(f, a, t0, None, [("prov:role", "r"), ("prov:role", "r")])
        doc.wasDerivedFrom(f, e)
        doc.wasDerivedFrom(f, e)
    expected = json.loads(ref.serialize(format="json", indent=2))
    assert json.loads(dumps(ours.container())) == expected
    assert isinstance(expected["used"]["_:id1"], list)  # the shared id is in the case
