"""The UI home page's statements at archive scale (tap/ui/home_queries.py).

On the sample night (the ``archive`` fixture of test_ui.py): big tables' totals given as
PostgreSQL's estimate and said so, the latest runs read from the index equal to grouping
every session, and the software version totals of the skip scan equal to counting the
``archive.product_version`` view.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from tap.ui import home_queries
from tests.tap.test_ui import all_rows, app, archive, client, get_ok, one, text_of

__all__ = ["app", "archive", "client"]  # fixtures used here


def test_big_tables_are_estimated_and_said_so(client, archive, monkeypatch) -> None:
    with archive.connect() as c:
        c.execute(sa.text("ANALYZE provenance.activity, provenance.entity"))
        c.commit()
    activities = one(archive, "SELECT count(*) FROM provenance.activity")
    entities = one(archive, "SELECT count(*) FROM provenance.entity")
    # below the threshold: exact counts, no "about"
    text = text_of(get_ok(client, "/ui/"))
    assert f"{activities:,} activities" in text and "about" not in text
    # above it (a threshold the samples pass): the analysed estimate, marked as one
    monkeypatch.setattr(home_queries, "EXACT_BELOW", min(activities, entities))
    html = get_ok(client, "/ui/")
    text = text_of(html)
    for name, table in (("activities", "activity"), ("entities", "entity")):
        estimate = one(
            archive,
            "SELECT reltuples::bigint FROM pg_class WHERE oid = CAST(:t AS regclass)",
            t=f"provenance.{table}",
        )
        assert f"about {int(float(f'{estimate:.3g}')):,} {name}" in text
    assert html.count('class="estimate"') == 2
    assert "SELECT COUNT(*) gives the exact number" in html


def test_table_totals_estimates_only_analysed_tables(archive) -> None:
    with archive.connect() as c:
        c.execute(sa.text("ANALYZE provenance.activity"))
        totals = home_queries.table_totals(c, exact_below=0)
        analysed = {
            name
            for name, table in home_queries.TABLES.items()
            if c.execute(
                sa.text("SELECT reltuples >= 0 FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                {"t": table},
            ).scalar_one()
        }
        assert "activities" in analysed
        assert set(totals["estimated"]) == analysed
        # a table PostgreSQL never analysed has no estimate: counted
        for name in set(home_queries.TABLES) - analysed:
            table = home_queries.TABLES[name]
            assert totals[name] == c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def test_latest_runs_are_those_of_grouping_every_session(archive) -> None:
    every = all_rows(
        archive,
        """SELECT observation_date, observation_run,
                  string_agg(DISTINCT concat_ws(' ', software_package, software_version), ', ')
                  FILTER (WHERE software_version IS NOT NULL) AS software_versions,
                  count(*) AS sessions
           FROM archive.processing_session
           WHERE observation_run IS NOT NULL AND observation_date ~ '^[0-9]{8}$'
           GROUP BY 1, 2 ORDER BY 1 DESC, 2 DESC""",
    )
    assert len(every) == 2
    with archive.connect() as c:
        for n in (1, 2, 30):
            found = home_queries.home_page(c, runs=n)["runs"]
            assert [
                (r["observation_date"], r["observation_run"], r["software_versions"], r["sessions"])
                for r in found
            ] == [tuple(r) for r in every[:n]]


def test_software_versions_match_the_product_version_view(client, archive) -> None:
    def shown() -> tuple[int, int]:
        m = re.search(r"(\d+) software versions of (\d+) packages", text_of(get_ok(client, "/ui/")))
        assert m
        return int(m.group(1)), int(m.group(2))

    def expected() -> tuple[int, int]:
        return (
            one(archive, "SELECT count(DISTINCT (package, version)) FROM archive.product_version"),
            one(archive, "SELECT count(DISTINCT package) FROM archive.product_version"),
        )

    assert shown() == expected()
    with archive.begin() as c:
        # a file's version counts; a session's that generated nothing does not, unless
        # another session of the same pair generated something
        entity = c.execute(sa.text("SELECT min(id) FROM provenance.entity")).scalar_one()
        # a session without activities, whose software row sorts first in its pair
        c.execute(sa.text("INSERT INTO archive.processing_session (id) VALUES ('!idle')"))
        c.execute(
            sa.text(
                "INSERT INTO archive.software (entity_id, source, package, version) "
                "VALUES (:e, 'file-root', 'zz_file_only', '9.9')"
            ),
            {"e": entity},
        )
        pair = c.execute(
            sa.text(
                "SELECT package, version FROM archive.product_version "
                "WHERE source = 'log' ORDER BY package, version LIMIT 1"
            )
        ).one()
        c.execute(
            sa.text(
                "INSERT INTO archive.software (session_id, source, package, version) "
                "VALUES ('!idle', 'session', 'aa_idle_only', '0.1'), "
                "('!idle', 'session', :p, :v)"
            ),
            {"p": pair[0], "v": pair[1]},
        )
        # the skip scan samples the idle session for that pair: the recheck must save it
        first = c.execute(
            sa.text(
                "SELECT session_id FROM archive.software WHERE package = :p AND version = :v "
                "ORDER BY session_id LIMIT 1"
            ),
            {"p": pair[0], "v": pair[1]},
        ).scalar_one()
        assert first == "!idle"
    assert shown() == expected()
    versions = one(
        archive,
        "SELECT count(*) FROM archive.product_version WHERE package = 'zz_file_only'",
    )
    assert versions >= 1
