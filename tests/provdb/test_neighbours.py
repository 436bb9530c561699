"""``provdb.lineage.neighbours.unexplored``: neighbours beyond a drawing, counted up to a cap.

On the sample archive (every sample log, ingested by the real CLI): the counts are exact
below the cap, ``cap + 1`` above it (what the pages draw as "more than ..."), and a node
whose link rows repeat the same neighbour is still counted exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import URL

from provdb.lineage.graph import MORE_CAP, Node, ProvGraph
from provdb.lineage.neighbours import unexplored
from provdb.lineage.svg import svg_python


@pytest.fixture(scope="module")
def pg(archive_url: URL) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(
        archive_url.set(drivername="postgresql").render_as_string(hide_password=False),
        autocommit=True,
    )
    yield conn
    conn.close()


def _one(pg: psycopg.Connection, sql: str) -> tuple:
    row = pg.execute(sql).fetchone()
    assert row is not None, sql
    return row


def _activities_of(pg: psycopg.Connection, agent: str) -> int:
    return _one(
        pg,
        "SELECT count(DISTINCT activity_id) FROM provenance.wasassociatedwith "
        f"WHERE agent_id = '{agent}'",
    )[0]


def test_counts_are_exact_below_the_cap_and_capped_above(pg: psycopg.Connection) -> None:
    # the agent with the most activities: its neighbours are those activities
    agent, n = _one(
        pg,
        "SELECT agent_id, count(DISTINCT activity_id) AS n FROM provenance.wasassociatedwith "
        "GROUP BY agent_id ORDER BY n DESC, agent_id LIMIT 1",
    )
    assert n > 10
    key = ("agent", agent)
    assert unexplored(pg, [key], "BOTH") == {key: n}
    assert unexplored(pg, [key], "BOTH", cap=n) == {key: n}
    assert unexplored(pg, [key], "BOTH", cap=n - 1) == {key: n}  # n == cap + 1: "more than"
    assert unexplored(pg, [key], "BOTH", cap=5) == {key: 6}
    # drawn neighbours are not counted
    drawn = [
        ("activity", a)
        for (a,) in pg.execute(
            "SELECT DISTINCT activity_id FROM provenance.wasassociatedwith "
            f"WHERE agent_id = '{agent}' ORDER BY 1 LIMIT 3"
        )
    ]
    assert unexplored(pg, [key], "BOTH", drawn=[key, *drawn]) == {key: n - 3}


def test_an_entity_counts_what_used_and_generated_it(pg: psycopg.Connection) -> None:
    # a calibration-like file: the entity used by the most activities
    entity, users = _one(
        pg,
        "SELECT entity_id, count(DISTINCT activity_id) AS n FROM provenance.used "
        "GROUP BY entity_id ORDER BY n DESC, entity_id LIMIT 1",
    )
    expected = _one(
        pg,
        f"""SELECT count(DISTINCT t) FROM (
              SELECT 'a' || activity_id AS t FROM provenance.used WHERE entity_id = '{entity}'
              UNION ALL SELECT 'a' || activity_id FROM provenance.wasgeneratedby
                        WHERE entity_id = '{entity}'
              UNION ALL SELECT 'e' || used_entity_id FROM provenance.wasderivedfrom
                        WHERE generated_entity_id = '{entity}'
              UNION ALL SELECT 'e' || generated_entity_id FROM provenance.wasderivedfrom
                        WHERE used_entity_id = '{entity}'
              UNION ALL SELECT 'e' || collection_id FROM provenance.hadmember
                        WHERE entity_id = '{entity}') x""",
    )[0]
    assert expected >= users > 2
    key = ("entity", entity)
    assert unexplored(pg, [key], "BOTH") == {key: expected}
    assert unexplored(pg, [key], "BOTH", cap=2) == {key: 3}
    assert unexplored(pg, [key], "FORTH")[key] >= users
    # nodes the archive does not know, and an empty drawing, have nothing beyond
    assert unexplored(pg, [("entity", "no-such-entity")], "BOTH") == {}
    assert unexplored(pg, [], "BOTH") == {}


def test_repeated_links_to_one_neighbour_are_counted_once(pg: psycopg.Connection) -> None:
    # an activity linked twice to one entity (used and generated it: lstosa's dl1ab
    # rewrites its input), so its first cap + 1 link rows may name fewer than cap + 1
    # neighbours: it is counted again, exactly
    found = pg.execute(
        """SELECT u.activity_id FROM provenance.used u
           JOIN provenance.wasgeneratedby g
             ON g.activity_id = u.activity_id AND g.entity_id = u.entity_id
           ORDER BY 1 LIMIT 1"""
    ).fetchone()
    if found is None:  # the samples hold such a loop; say so if they stop holding one
        pytest.fail("no activity of the samples used and generated the same entity")
    key = ("activity", found[0])
    exact = unexplored(pg, [key], "BOTH")[key]
    rows = _one(
        pg,
        f"""SELECT count(*) FROM (
              SELECT entity_id FROM provenance.used WHERE activity_id = '{found[0]}'
              UNION ALL SELECT entity_id FROM provenance.wasgeneratedby
                        WHERE activity_id = '{found[0]}'
              UNION ALL SELECT informant_id FROM provenance.wasinformedby
                        WHERE informed_id = '{found[0]}'
              UNION ALL SELECT informed_id FROM provenance.wasinformedby
                        WHERE informant_id = '{found[0]}') x""",
    )[0]
    assert rows > exact  # the repetition
    # a cap at which the link rows are cut among repetitions: still the exact count
    assert unexplored(pg, [key], "BOTH", cap=exact) == {key: exact}
    with pytest.raises(ValueError, match="cap"):
        unexplored(pg, [key], "BOTH", cap=0)


def test_a_capped_count_is_drawn_as_more_than_the_cap() -> None:
    graph = ProvGraph(roots=[("agent", "a")], depth=1, direction="BACK", limit=10)
    graph.add_node(Node("agent", "a", level=0))
    graph.add_node(Node("entity", "e", level=1))
    svg = svg_python(
        graph.finish(), more={("agent", "a"): MORE_CAP + 1, ("entity", "e"): MORE_CAP}
    ).decode()
    agent = svg[svg.index('id="agent:a"') :].split(">", 1)[0]
    entity = svg[svg.index('id="entity:e"') :].split(">", 1)[0]
    assert f'data-more="{MORE_CAP + 1}"' in agent and f'data-more-over="{MORE_CAP}"' in agent
    assert f'data-more="{MORE_CAP}"' in entity and "data-more-over" not in entity
