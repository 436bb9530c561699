"""ProvSAP lineage walk (provdb.lineage.traverse) on the sample night, in PostgreSQL.

One fresh database per module, cloned from the migrated template, with the sample
night's ``prov.log`` ingested through the real ingest; every test only reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.ingest.pipeline import ingest_file
from provdb.lineage.traverse import UnknownNode, lineage, resolve_ids
from tests.conftest import scratch_database

NIGHT = "generated/lstosa_simulate_processing/prov.log"
ROOT = "/tmp/lst-osa-run/test_osa/test_files0"
DL1A = f"{ROOT}/DL1/20200117/v0.1.0/dl1_LST-1.Run01807.0002.h5"
DL1B = f"{ROOT}/DL1/20200117/v0.1.0/tailcut84/dl1_LST-1.Run01807.0002.h5"
R0 = f"{ROOT}/R0G/20200117/LST-1.1.Run01807.0002.fits.fz"
CALIB = f"{ROOT}/monitoring/PixelCalibration/Cat-A"
PEDESTAL = f"{CALIB}/drs4_baseline/20200117/v0.1.1/drs4_pedestal.Run01804.0000.h5"
COEFFICIENTS = f"{CALIB}/calibration/20200117/v0.1.1/calibration_filters_52.Run01809.0000.h5"
TIME_CALIBRATION = (
    f"{CALIB}/drs4_time_sampling_from_FF/20191124/pro/time_calibration.Run01625.0000.h5"
)
SYSTEMATICS = f"{CALIB}/ffactor_systematics/20200725/pro/ffactor_systematics_20200725.h5"


@pytest.fixture(scope="module")
def night(provdb_template, samples: Path) -> Iterator[sa.Engine]:
    """A database holding the sample night (module-scoped: the tests only read it)."""
    with scratch_database(provdb_template, "provdb_lineage") as url:
        engine = sa.create_engine(url)
        raw = engine.raw_connection()
        try:
            result = ingest_file(raw.driver_connection, samples / NIGHT)
        finally:
            raw.close()
        assert result.status == "new" and result.rejects == 0, result.error
        yield engine
        engine.dispose()


def _walk(engine: sa.Engine, *ids: str, **kwargs):
    with engine.connect() as conn:
        return lineage(conn, list(ids), **kwargs)


def _locations(graph) -> dict[str, int]:
    return {n.attrs["location"]: n.level for n in graph.entities if n.attrs.get("location")}


def test_back_lineage_of_a_dl1_subrun_reaches_r0_and_calibration(night: sa.Engine) -> None:
    graph = _walk(night, DL1A, depth=None, direction="BACK")
    found = _locations(graph)
    assert found[DL1A] == 0
    # one relation per step: DL1 <-wasGeneratedBy- r0_to_dl1 (1) -used-> inputs (2)
    assert found[R0] == 2
    for calibration in (PEDESTAL, COEFFICIENTS, TIME_CALIBRATION, SYSTEMATICS):
        assert found[calibration] == 2, calibration
    (activity,) = graph.activities
    assert activity.attrs["name"] == "r0_to_dl1" and activity.level == 1
    roles = {e.role for e in graph.edges_of("used")}
    assert {"Pedestal file", "Observation subrun", "Time calibration file"} <= roles
    assert {e.relation for e in graph.edges} >= {"used", "wasGeneratedBy", "wasAssociatedWith"}
    assert not graph.truncated


def test_back_lineage_of_dl1b_goes_through_the_dl1ab_self_loop(night: sa.Engine) -> None:
    graph = _walk(night, DL1B, depth=None, direction="BACK")
    found = _locations(graph)
    assert found[DL1A] == 1  # wasDerivedFrom is a one-step shortcut
    assert found[R0] == 3
    dl1ab = [a for a in graph.activities if a.attrs["name"] == "dl1ab"]
    assert len(dl1ab) == 1 and dl1ab[0].level == 1
    # the loop (dl1ab uses and generates DL1b) is returned, and the walk ended
    dl1b = next(n.id for n in graph.entities if n.attrs.get("location") == DL1B)
    assert any(e.relation == "used" and e.target == dl1b for e in graph.edges)
    assert any(e.relation == "wasGeneratedBy" and e.source == dl1b for e in graph.edges)


def test_forth_from_the_pedestal_reaches_the_dl1_products(night: sa.Engine) -> None:
    graph = _walk(night, PEDESTAL, depth=None, direction="FORTH")
    names = [n.attrs.get("name") for n in graph.entities]
    assert names.count("DL1SubrunDataset") == 2 * 20  # DL1a and DL1b of the 20 subruns
    assert names.count("DL1CheckSubrunDataset") == 20
    assert {a.attrs["name"] for a in graph.activities} == {"r0_to_dl1", "dl1ab", "dl1_datacheck"}
    found = _locations(graph)
    assert found[DL1A] == 2 and found[DL1B] == 3  # pedestal -used- act -gen- DL1a -der- DL1b
    assert R0 not in found  # FORTH does not go back to other inputs


@pytest.mark.parametrize(
    ("depth", "kinds"),
    [
        (0, {"entity": 1}),
        (1, {"entity": 1, "activity": 1}),
        (2, {"entity": 8, "activity": 1}),
    ],
)
def test_depth_counts_relations(night: sa.Engine, depth: int, kinds: dict[str, int]) -> None:
    graph = _walk(night, DL1A, depth=depth)
    walked = {}
    for node in graph.nodes.values():
        if node.level is not None:
            walked[node.kind] = walked.get(node.kind, 0) + 1
            assert node.level <= depth
    assert walked == kinds
    # agents of returned activities come along, outside the walk
    assert all(n.level is None for n in graph.agents)
    assert bool(graph.agents) == (depth > 0)


def test_default_depth_is_one(night: sa.Engine) -> None:
    graph = _walk(night, DL1B)
    assert max(n.level for n in graph.nodes.values() if n.level is not None) == 1
    assert _locations(graph)[DL1A] == 1


def test_node_limit_truncates_and_says_so(night: sa.Engine) -> None:
    full = _walk(night, PEDESTAL, depth=None, direction="FORTH")
    cut = _walk(night, PEDESTAL, depth=None, direction="FORTH", limit=10)
    walked = [n for n in cut.nodes.values() if n.level is not None]
    assert cut.truncated and cut.limit == 10 and len(walked) == 10
    assert not full.truncated
    # stable: the same cut twice
    again = _walk(night, PEDESTAL, depth=None, direction="FORTH", limit=10)
    assert sorted(cut.nodes) == sorted(again.nodes)
    # exactly the number of reachable nodes is not a truncation
    n = sum(1 for n in full.nodes.values() if n.level is not None)
    exact = _walk(night, PEDESTAL, depth=None, direction="FORTH", limit=n)
    assert not exact.truncated and len(exact.nodes) == len(full.nodes)


def test_ids_resolve_by_id_prefix_and_location(night: sa.Engine) -> None:
    with night.connect() as conn:
        (by_path,) = resolve_ids(conn, [DL1A])
        assert by_path[0] == "entity"
        ident = by_path[1]
        assert resolve_ids(conn, [ident]) == [by_path]
        assert resolve_ids(conn, [f"provdb:{ident}"]) == [by_path]
        assert resolve_ids(conn, [f"urn:provdb:{ident}"]) == [by_path]
        with pytest.raises(UnknownNode) as info:
            resolve_ids(conn, [ident, "no-such-thing"])
        assert "no-such-thing" in str(info.value) and isinstance(info.value, LookupError)


def test_several_ids_and_activity_ids(night: sa.Engine) -> None:
    graph = _walk(night, DL1A, depth=1)
    (activity,) = graph.activities
    both = _walk(night, activity.id, R0, depth=0)
    assert {n.key for n in both.nodes.values() if n.start} == {
        ("activity", activity.id),
        ("entity", next(n.id for n in _walk(night, R0, depth=0).entities)),
    }
    # BACK from an activity: its inputs at depth 1
    inputs = _walk(night, activity.id, depth=1)
    assert R0 in _locations(inputs) and PEDESTAL in _locations(inputs)


def test_agents_are_terminal_unless_asked(night: sa.Engine) -> None:
    only = _walk(night, "Anonymous", depth=None)
    assert list(only.nodes) == [("agent", "Anonymous")]
    walked = _walk(night, "Anonymous", depth=1, agent=True, limit=5000)
    assert walked.activities and all(a.level == 1 for a in walked.activities)
    assert not walked.entities


def test_activities_come_with_parameters_config_session_descriptions(night: sa.Engine) -> None:
    graph = _walk(night, DL1B, depth=1)
    (dl1ab,) = [a for a in graph.activities if a.attrs["name"] == "dl1ab"]
    params = {p["name"]: p["parameter_value"] for p in graph.parameters[dl1ab.id]}
    assert params == {"StoreImage": "True"}
    assert graph.config_files[dl1ab.id][0]["name"] == "sequencer.cfg"
    session = graph.session_of(dl1ab)
    assert session["software_version"] == "v0.12.3" and session["observation_run"] == "01807"


def test_descriptions_come_along_with_a_model(engine: sa.Engine, samples: Path) -> None:
    from provdb.ingest.lstosa.definition import load_model

    model = load_model(samples / "lstosa/config/definition.yaml")
    raw = engine.raw_connection()
    try:
        ingest_file(raw.driver_connection, samples / NIGHT, model=model)
    finally:
        raw.close()
    graph = _walk(engine, DL1A, depth=2)
    assert {d["name"] for d in graph.descriptions["activityDescription"].values()} == {"r0_to_dl1"}
    assert "PedestalFile" in {d["name"] for d in graph.descriptions["entityDescription"].values()}
    assert any(
        d["role"] == "Pedestal file" for d in graph.descriptions["usageDescription"].values()
    )


def test_bad_arguments(night: sa.Engine) -> None:
    with pytest.raises(ValueError):
        _walk(night, DL1A, direction="SIDEWAYS")
    with pytest.raises(ValueError):
        _walk(night, DL1A, depth=-1)
    with pytest.raises(ValueError):
        _walk(night, DL1A, limit=0)


def _graph_db(engine: sa.Engine) -> sa.Engine:
    """A tiny hand-made graph: a collection C of M1, M2 (attributed to agent P), made by
    activity A (informed by activity B), which used X; activity U used M1."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO provenance.entity (id, name) VALUES "
                "('C', 'collection'), ('M1', 'member 1'), ('M2', 'member 2'), ('X', 'input')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO provenance.activity (id, name) VALUES "
                "('A', 'make'), ('B', 'before'), ('U', 'use')"
            )
        )
        conn.execute(sa.text("INSERT INTO provenance.agent (id, name) VALUES ('P', 'person')"))
        conn.execute(
            sa.text(
                "INSERT INTO provenance.hadmember (collection_id, entity_id) "
                "VALUES ('C', 'M1'), ('C', 'M2')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO provenance.wasgeneratedby (entity_id, activity_id) VALUES ('C', 'A')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO provenance.used (activity_id, entity_id) "
                "VALUES ('A', 'X'), ('U', 'M1')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO provenance.wasinformedby (informed_id, informant_id) VALUES ('A', 'B')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO provenance.wasattributedto (entity_id, agent_id, role) "
                "VALUES ('M1', 'P', 'Author'), ('M2', 'P', 'Author')"
            )
        )
    return engine


def test_members_informed_by_and_attribution(engine: sa.Engine) -> None:
    db = _graph_db(engine)
    ids = lambda g: {k[1] for k, n in g.nodes.items() if n.level is not None}  # noqa: E731
    # membership is followed upwards always: M1 -> C -> A -> X, B (informant)
    up = _walk(db, "M1", depth=None)
    assert ids(up) == {"M1", "C", "A", "X", "B"}
    assert up.node("entity", "C").level == 1 and up.node("activity", "B").level == 3
    assert {e.relation for e in up.edges} >= {"hadMember", "wasInformedBy", "wasAttributedTo"}
    assert ("agent", "P") in up.nodes  # the attributed agent comes along
    assert "C" in up.collections()
    # downwards only with MEMBERS
    assert ids(_walk(db, "C", depth=None, direction="FORTH")) == {"C"}
    down = _walk(db, "C", depth=None, direction="FORTH", members=True)
    assert ids(down) == {"C", "M1", "M2", "U"}
    # FORTH from an informant activity reaches the informed one and its product
    forth = _walk(db, "B", depth=None, direction="FORTH")
    assert ids(forth) == {"B", "A", "C"}
    # through the agent with AGENT=true
    agent = _walk(db, "P", depth=1, agent=True)
    assert ids(agent) == {"P", "M1", "M2"}


def test_text_array_gives_postgresql_back_every_id(night: sa.Engine) -> None:
    """Id arrays go to PostgreSQL as one array literal: quotes, backslashes, commas,
    braces, spaces, NULL-like words and non-ASCII ids come back as they were."""
    from provdb.lineage.traverse import text_array

    ids = ['a"b', "c\\d", "e,f", "{g}", " h ", "NULL", "", "é@2020-01-17T00:00:00"]
    assert text_array([]) == "{}"
    with night.connect() as conn:
        back = conn.exec_driver_sql("SELECT %(i)s::text[]", {"i": text_array(ids)}).scalar()
    assert back == ids
