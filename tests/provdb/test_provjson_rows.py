"""ProvSAP's PROV-JSON written straight from the rows (provdb.lineage.provjson_rows)
against the general path (the walk's graph written by provdb.lineage.provjson).

One database per module: a generated night with DL2, DL3, shared calibration and a
reprocessing with a new software version (DL3 files with hundreds of ancestors), and the
lstosa sample night read with its definition.yaml (descriptions of activities, entities,
usages, generations, parameters). Every comparison is of the bytes. Shapes the row
writer leaves to the general path are made in a transaction that is rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.cursor import cursor
from provdb.lineage.closure_walk import closure_nodes
from provdb.lineage.export import serialize
from provdb.lineage.provjson_answer import from_rows, prov_json_answer
from provdb.lineage.traverse import UnknownNode, lineage, resolve_ids
from tests.conftest import ingested_archive, write_synthetic_night


@pytest.fixture(scope="module")
def archive(provdb_template, samples: Path, tmp_path_factory) -> Iterator[sa.Engine]:
    folder = tmp_path_factory.mktemp("provjson_rows")
    night = write_synthetic_night(
        folder / "20250103.prov.log",
        2,
        3,
        date="20250103",
        seed=7,
        first_run=3000,
        dl2=True,
        dl3=True,
        connected_calibration=True,
        reprocess=1,
    )
    sample = samples / "generated/lstosa_simulate_processing/prov.log"
    definition = samples / "lstosa/config/definition.yaml"
    with ingested_archive(
        provdb_template, "provdb_provjson_rows", [sample, night], definition
    ) as engine:
        yield engine


def _general(conn, ids: list[str], *, model: str = "IVOA", **kw) -> tuple[bytes, int]:
    """The general path's document (the walk's graph) and its node count."""
    graph = lineage(conn, ids, use_closure=False, **kw)
    return serialize(graph, "prov-json", model=model), len(graph.nodes)


def _direct(conn, ids: list[str], **kw):
    """The row writer's answer, ``None`` when it leaves the request to the general path."""
    options = {"depth": None, "direction": "BACK", "agent": False, "members": False}
    options |= {"limit": 1000} | kw
    with cursor(conn) as cur:
        found = closure_nodes(cur, resolve_ids(conn, ids), **options)
    assert found is not None, (ids, kw)
    return from_rows(conn, found)


def _ids(conn, where: str) -> list[str]:
    sql = f"SELECT id FROM provenance.entity WHERE {where} ORDER BY id"
    return list(conn.execute(sa.text(sql)).scalars())


def test_dl3_of_a_reprocessed_night_is_written_from_the_rows(archive: sa.Engine) -> None:
    with archive.connect() as conn:
        dl3s = _ids(conn, "name = 'DL3RunFile'")
        assert len(dl3s) == 2  # two runs; the first reprocessed (same files, new activities)
        versions = set()
        for dl3 in dl3s:
            answer = _direct(conn, [dl3])
            assert answer is not None
            body, nodes = _general(conn, [dl3], depth=None)
            assert answer.body == body
            assert answer.nodes == nodes and not answer.truncated
            document = json.loads(body)
            # many ancestors, and every kind of record the row writer makes
            assert len(document["entity"]) > 100
            assert {"activity", "agent", "used", "wasGeneratedBy", "wasAssociatedWith"} <= set(
                document
            )
            kinds = {str(e.get("prov:type")) for e in document["entity"].values()}
            assert any("voprov:Parameter" in k for k in kinds)
            assert any("provdb:ExecutionSession" in k for k in kinds)
            versions |= {a.get("provdb:software_version") for a in document["activity"].values()}
        assert len(versions - {None}) >= 2  # the reprocessing's new version is in some
        # several start nodes, and every depth in both directions
        answer = _direct(conn, dl3s[:3])
        assert answer is not None and answer.body == _general(conn, dl3s[:3], depth=None)[0]
        (pedestal, *_) = _ids(conn, "name = 'PedestalFile'")
        for depth in (0, 1, 2, 5):
            for ident, direction in ((dl3s[0], "BACK"), (pedestal, "FORTH")):
                answer = _direct(conn, [ident], depth=depth, direction=direction)
                expected = _general(conn, [ident], depth=depth, direction=direction)[0]
                assert answer is not None and answer.body == expected, (depth, direction)


def test_descriptions_of_the_sample_night_are_written_from_the_rows(archive: sa.Engine) -> None:
    with archive.connect() as conn:
        described = _ids(
            conn,
            "entity_description_id IS NOT NULL AND location LIKE '%20200117%' "
            "AND id IN (SELECT entity_id FROM provenance.wasgeneratedby)",
        )
        assert described
        seen: set[str] = set()
        for ident in described[:6]:
            answer = _direct(conn, [ident])
            assert answer is not None
            assert answer.body == _general(conn, [ident], depth=None)[0]
            document = json.loads(answer.body)
            for record in document["entity"].values():
                kind = record.get("prov:type")
                if isinstance(kind, dict) and kind["$"].endswith("Description"):
                    seen.add(kind["$"])
        assert {"voprov:ActivityDescription", "voprov:EntityDescription"} <= seen


def test_w3c_model_and_walked_requests_take_the_general_path(archive: sa.Engine) -> None:
    with archive.connect() as conn:
        (dl3, *_) = _ids(conn, "name = 'DL3RunFile'")
        w3c = prov_json_answer(conn, [dl3], depth=None, model="W3C")
        assert w3c.body == _general(conn, [dl3], depth=None, model="W3C")[0]
        agent = prov_json_answer(conn, [dl3], depth=None, agent=True)
        assert agent.body == _general(conn, [dl3], depth=None, agent=True)[0]
        cut = prov_json_answer(conn, [dl3], depth=None, limit=5)
        assert cut.truncated and cut.body == _general(conn, [dl3], depth=None, limit=5)[0]
        with pytest.raises(UnknownNode):
            prov_json_answer(conn, ["no-such-file"])
        with pytest.raises(ValueError, match="depth"):
            prov_json_answer(conn, [dl3], depth=-1)


def _relation_rows(conn, dl3: str) -> tuple[str, str]:
    """A used row of the DL3's lineage (its activity and entity)."""
    return conn.execute(
        sa.text(
            "SELECT u.activity_id, u.entity_id FROM provenance.used u "
            "JOIN provenance.wasgeneratedby g ON g.activity_id = u.activity_id "
            "WHERE g.entity_id = :e ORDER BY u.id LIMIT 1"
        ),
        {"e": dl3},
    ).one()


def test_rarer_shapes_are_written_from_the_rows_like_the_graph(archive: sa.Engine) -> None:
    """Two uses of one file by one activity, typed collections with a value, attributed
    entities and agent details: still written from the rows, the same bytes."""
    with archive.connect() as conn:
        (dl3, *_) = _ids(conn, "name = 'DL3RunFile'")
        activity, entity = _relation_rows(conn, dl3)
        conn.execute(
            sa.text(
                "INSERT INTO provenance.used (id, activity_id, entity_id, role, used_time) "
                "SELECT max(id) + 1, :a, :e, 'a second role', now() FROM provenance.used"
            ),
            {"a": activity, "e": entity},
        )
        conn.execute(
            sa.text(
                "UPDATE provenance.entity SET entity_type = 'prov:Collection', "
                'entity_value = \'42\', attributes = \'{"n": 3, "ok": true, "x": [1]}\' '
                "WHERE id = :e"
            ),
            {"e": entity},
        )
        conn.execute(
            sa.text(
                "INSERT INTO provenance.agent (id, name, type, email) "
                "VALUES ('someone', 'Some One', 'Person', 'so@example.org')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO provenance.wasattributedto (id, entity_id, agent_id, role) "
                "SELECT coalesce(max(id), 0) + 1, :e, 'someone', 'author' "
                "FROM provenance.wasattributedto"
            ),
            {"e": dl3},
        )
        # every optional column of entities, activities, parameters and config files
        conn.execute(
            sa.text(
                "UPDATE provenance.entity SET comment = 'Σ é', invalidated_at_time = now(), "
                "content_type = 'application/x-hdf5', size_bytes = 5000000000, "
                "content_hash = 'abc', content_hash_type = 'md5' WHERE id = :e"
            ),
            {"e": dl3},
        )
        conn.execute(
            sa.text(
                "UPDATE provenance.activity SET comment = 'rerun', status = 'ok', "
                'exit_code = 0, attributes = \'{"nested": {"b": [1, 2]}, "n": null}\' '
                "WHERE id = :a"
            ),
            {"a": activity},
        )
        conn.execute(
            sa.text(
                "UPDATE provenance.parameter SET value_entity_id = :e "
                "WHERE id = (SELECT min(id) FROM provenance.parameter WHERE activity_id = :a)"
            ),
            {"a": activity, "e": entity},
        )
        conn.execute(
            sa.text(
                "UPDATE provenance.configfile SET comment = 'tuned', location = NULL "
                "WHERE activity_id = :a"
            ),
            {"a": activity},
        )
        answer = _direct(conn, [dl3])
        assert answer is not None
        assert answer.body == _general(conn, [dl3], depth=None)[0]
        document = json.loads(answer.body)
        assert document["activity"][f"provdb:{activity}"]["voprov:comment"] == "rerun"
        attached = [e for e in document["entity"].values() if "voprov:name" in e]
        assert any("voprov:valueEntity" in e for e in attached)
        assert any(e.get("voprov:comment") == "tuned" for e in attached)
        assert document["wasAttributedTo"] and "provdb:someone" in document["agent"]
        assert "a second role" in [u.get("prov:role") for u in document["used"].values()]
        assert document["entity"][f"provdb:{entity}"]["prov:type"][-1] == {
            "$": "voprov:ValueEntity",
            "type": "xsd:QName",
        }
        conn.rollback()


def test_shapes_left_to_the_general_path_give_the_same_bytes(archive: sa.Engine) -> None:
    """An ``attributes`` key equal to a column's name (the attribute given twice): the row
    writer declines, the general path answers, the bytes are the graph's."""
    with archive.connect() as conn:
        (dl3, *_) = _ids(conn, "name = 'DL3RunFile'")
        conn.execute(
            sa.text(
                "UPDATE provenance.entity SET size_bytes = 5, "
                "attributes = '{\"size_bytes\": 6}' WHERE id = :e"
            ),
            {"e": dl3},
        )
        assert _direct(conn, [dl3]) is None
        answer = prov_json_answer(conn, [dl3], depth=None)
        body, nodes = _general(conn, [dl3], depth=None)
        assert answer.body == body and answer.nodes == nodes
        # both values, as prov keeps them
        assert len(json.loads(body)["entity"][f"provdb:{dl3}"]["provdb:size_bytes"]) == 2
        conn.rollback()
