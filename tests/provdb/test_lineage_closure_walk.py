"""ProvSAP nodes from the lineage closure (provdb.lineage.closure_walk) against the walk.

One database per module holds the sample night (lstosa, with definition.yaml), the
parallel datasequence sample, the voprov example (hadMember, wasInformedBy: the closure
does not cover them) and two generated nights with DL2 and DL3 and shared calibration
(a multi-level archive). Every comparison is of the whole PROV-JSON document (and the
PROV-VOTABLE one, which carries the levels) that the two paths give, and of ProvSAP's
PROV-JSON answer (:func:`provdb.lineage.provjson_answer.prov_json_answer`, written
straight from the rows where the closure answers) with the walk's document.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from provdb.cursor import cursor
from provdb.lineage.closure_walk import closure_nodes
from provdb.lineage.export import serialize
from provdb.lineage.provjson_answer import prov_json_answer
from provdb.lineage.traverse import UnknownNode, lineage, resolve_ids
from tests.conftest import ingested_archive, write_synthetic_night

FILES = (
    "generated/lstosa_simulate_processing/prov.log",
    "generated/lstosa_parallel_datasequence/prov.log",
    "generated/voprov_serializations/voprov_example.json",
)


@pytest.fixture(scope="module")
def archive(provdb_template, samples: Path, tmp_path_factory) -> Iterator[sa.Engine]:
    folder = tmp_path_factory.mktemp("closure_walk")
    nights = [
        write_synthetic_night(
            folder / f"{date}.prov.log",
            2,
            2,
            date=date,
            seed=index + 1,
            first_run=first_run,
            dl2=True,
            dl3=True,
            connected_calibration=True,
            reprocess=1 if index else 0,
        )
        for index, (date, first_run) in enumerate((("20250101", 2000), ("20250102", 2010)))
    ]
    paths = [samples / f for f in FILES] + nights
    definition = samples / "lstosa/config/definition.yaml"
    with ingested_archive(provdb_template, "provdb_closure_walk", paths, definition) as engine:
        yield engine


def _documents(conn, ids: list[str], **kw) -> tuple[bytes, bytes]:
    graph = lineage(conn, ids, **kw)
    return serialize(graph, "prov-json"), serialize(graph, "prov-votable", request={})


def _same(conn, ids: list[str], **kw) -> None:
    walked = _documents(conn, ids, use_closure=False, **kw)
    closed = _documents(conn, ids, use_closure=True, **kw)
    assert closed[0] == walked[0], (ids, kw)
    assert closed[1] == walked[1], (ids, kw)
    answer = prov_json_answer(conn, ids, **kw)
    assert answer.body == walked[0], (ids, kw)


def _answers(conn, ident: str, **kw) -> bool:
    """Whether the closure answers (rather than leaving it to the walk)."""
    roots = resolve_ids(conn, [ident])
    options = {"depth": None, "agent": False, "members": False, "limit": 1000} | kw
    with cursor(conn) as cur:
        return closure_nodes(cur, roots, **options) is not None


def _ids(conn, where: str) -> list[str]:
    return list(
        conn.execute(sa.text(f"SELECT id FROM provenance.entity WHERE {where} ORDER BY id"))
        .scalars()
        .all()
    )


def test_dl3_lineage_comes_from_the_closure_and_equals_the_walk(archive: sa.Engine) -> None:
    with archive.connect() as conn:
        dl3s = _ids(conn, "name = 'DL3RunFile'")
        assert len(dl3s) >= 4
        for dl3 in dl3s:
            assert _answers(conn, dl3, direction="BACK")
            _same(conn, [dl3], depth=None, direction="BACK")
            graph = lineage(conn, [dl3], depth=None)
            # the whole chain: DL3 <- DL2 <- DL1 <- R0 and calibration, several levels
            assert max(n.level for n in graph.entities) >= 6
            assert {"used", "wasGeneratedBy", "wasAssociatedWith"} <= {
                e.relation for e in graph.edges
            }
        # several start nodes at once
        _same(conn, dl3s[:3], depth=None, direction="BACK")


def test_every_depth_is_honoured_like_the_walk(archive: sa.Engine) -> None:
    with archive.connect() as conn:
        (dl3, *_) = _ids(conn, "name = 'DL3RunFile'")
        (pedestal, *_) = _ids(conn, "name = 'PedestalFile'")
        sizes = []
        for depth in range(9):
            assert _answers(conn, dl3, direction="BACK", depth=depth)
            _same(conn, [dl3], depth=depth, direction="BACK")
            _same(conn, [pedestal], depth=depth, direction="FORTH")
            sizes.append(len(lineage(conn, [dl3], depth=depth)))
        assert sizes[0] == 1 and sizes == sorted(sizes) and sizes[-1] > sizes[2]


def test_forth_from_calibration_files_comes_from_the_closure(archive: sa.Engine) -> None:
    with archive.connect() as conn:
        for pedestal in _ids(conn, "name = 'PedestalFile'"):
            assert _answers(conn, pedestal, direction="FORTH")
            _same(conn, [pedestal], depth=None, direction="FORTH")


def test_a_sample_of_every_entity_gives_the_walks_document(archive: sa.Engine) -> None:
    """Samples, voprov example and generated nights; wherever the closure answers or not."""
    with archive.connect() as conn:
        sample = list(
            conn.execute(
                sa.text("SELECT id FROM provenance.entity ORDER BY md5(id) LIMIT 60")
            ).scalars()
        )
        for ident in sample:
            for direction in ("BACK", "FORTH"):
                _same(conn, [ident], depth=None, direction=direction)


def test_relations_the_closure_does_not_hold_leave_it_to_the_walk(archive: sa.Engine) -> None:
    with archive.connect() as conn:
        # the voprov example: a collection (hadMember) and wasInformedBy
        members = list(
            conn.execute(sa.text("SELECT entity_id FROM provenance.hadmember")).scalars()
        )
        informed = conn.execute(
            sa.text(
                "SELECT g.entity_id FROM provenance.wasinformedby i "
                "JOIN provenance.wasgeneratedby g ON g.activity_id = i.informed_id"
            )
        ).scalars()
        for ident in [*members, *informed]:
            assert not _answers(conn, ident, direction="BACK")
            _same(conn, [ident], depth=None, direction="BACK")
        assert members


def test_agent_members_activity_starts_and_the_limit_leave_it_to_the_walk(
    archive: sa.Engine,
) -> None:
    with archive.connect() as conn:
        (dl3, *_) = _ids(conn, "name = 'DL3RunFile'")
        assert not _answers(conn, dl3, direction="BACK", agent=True)
        assert not _answers(conn, dl3, direction="BACK", members=True)
        assert not _answers(conn, dl3, direction="BACK", limit=5)
        _same(conn, [dl3], depth=None, agent=True)
        _same(conn, [dl3], depth=None, limit=5)
        truncated = lineage(conn, [dl3], depth=None, limit=5)
        assert truncated.truncated and len(truncated) >= 5
        (activity,) = conn.execute(
            sa.text("SELECT activity_id FROM provenance.wasgeneratedby WHERE entity_id = :e"),
            {"e": dl3},
        ).scalars()
        _same(conn, [activity], depth=None)


def test_missing_closure_falls_back_to_the_walk(archive: sa.Engine) -> None:
    """A bulk-loaded archive has no closure rows: the walk answers, same document."""
    with archive.connect() as conn:
        (dl3, *_) = _ids(conn, "name = 'DL3RunFile'")
        before = _documents(conn, [dl3], depth=None)
        conn.execute(sa.text("DELETE FROM archive.lineage_closure"))
        assert not _answers(conn, dl3, direction="BACK")
        assert _documents(conn, [dl3], depth=None) == before
        conn.rollback()


def test_stale_closure_falls_back_to_the_walk(archive: sa.Engine) -> None:
    """Closure rows missing below one ancestor (stale): noticed, and the walk answers."""
    with archive.connect() as conn:
        (dl3, *_) = _ids(conn, "name = 'DL3RunFile'")
        before = _documents(conn, [dl3], depth=None)
        deleted = conn.execute(
            sa.text(
                "DELETE FROM archive.lineage_closure WHERE (entity_no, ancestor_no) IN "
                "(SELECT l.entity_no, l.ancestor_no FROM archive.lineage_closure l "
                "JOIN archive.entity_number n ON n.no = l.entity_no "
                "JOIN archive.entity_number a ON a.no = l.ancestor_no WHERE n.entity_id = :e "
                "ORDER BY l.depth DESC, a.entity_id LIMIT 1)"
            ),
            {"e": dl3},
        ).rowcount
        assert deleted == 1
        assert not _answers(conn, dl3, direction="BACK")
        assert _documents(conn, [dl3], depth=None) == before
        conn.rollback()


def test_unknown_id_is_still_an_error(archive: sa.Engine) -> None:
    with archive.connect() as conn, pytest.raises(UnknownNode):
        lineage(conn, ["no-such-file.h5"], depth=None)
