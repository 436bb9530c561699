"""Operations of the running service, over real HTTP: /metrics, service metadata,
approximate row counts in /tap/tables, and what `provdb serve` prints."""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import URL

from tests.servers import Served, free_port, serve_provdb

NIGHT = Path("generated/lstosa_simulate_processing/prov.log")  # a sample lstosa night

METADATA = {
    "PROVDB_SERVICE_TITLE": "LST-1 provenance archive",
    "PROVDB_SERVICE_DESCRIPTION": "Provenance of the LST-1 on-site analysis & reprocessing.",
    "PROVDB_SERVICE_PUBLISHER": "CTAO LST collaboration",
    "PROVDB_SERVICE_CONTACT_NAME": "LST archive operators",
    "PROVDB_SERVICE_CONTACT_EMAIL": "lst-archive@example.org",
}


def scrape(site: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics parsed by prometheus_client's own parser: (sample, labels) -> value."""
    r = requests.get(site + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=")
    values = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def requests_of(values: dict, endpoint: str, status: str) -> float:
    key = ("provdb_http_requests_total", (("endpoint", endpoint), ("status", status)))
    return values.get(key, 0.0)


def archive_scalar(url: URL, sql: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- metrics


def test_metrics_count_requests_by_endpoint_and_status_class(tap_server: str) -> None:
    # the shared server runs 2 gunicorn workers: the counts are the sum of both
    site = tap_server.removesuffix("/tap")
    before = scrape(site)
    for _ in range(3):
        assert requests.get(tap_server + "/availability", timeout=10).status_code == 200
    assert requests.get(tap_server + "/tables/provenance.nope", timeout=10).status_code == 404
    assert requests.get(site + "/no/such/page", timeout=10).status_code == 404
    after = scrape(site)
    # a request is counted when its response is closed, a moment after the client has
    # it (and by whichever worker served it): wait until the last one shows
    deadline = time.monotonic() + 10
    while (
        requests_of(after, "unmatched", "4xx") < requests_of(before, "unmatched", "4xx") + 1
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
        after = scrape(site)

    assert requests_of(after, "vosi.availability", "2xx") == (
        requests_of(before, "vosi.availability", "2xx") + 3
    )
    assert requests_of(after, "vosi.table", "4xx") == requests_of(before, "vosi.table", "4xx") + 1
    # unknown URLs share one label: a scanner cannot create a series per URL
    assert requests_of(after, "unmatched", "4xx") == requests_of(before, "unmatched", "4xx") + 1
    assert not any("no/such" in str(labels) for _, labels in after)

    # the duration is observed once the response is sent, a moment after the client has it
    hist = ("provdb_http_request_duration_seconds_count", (("endpoint", "vosi.availability"),))
    deadline = time.monotonic() + 10
    while after.get(hist, 0) < before.get(hist, 0) + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        after = scrape(site)
    assert after[hist] == before.get(hist, 0) + 3
    assert after[("provdb_database_up", ())] == 1


def test_metrics_tap_jobs_by_phase_after_an_async_job(tap_server: str, archive_url: URL) -> None:
    r = requests.post(
        tap_server + "/async",
        data={"LANG": "ADQL", "QUERY": "SELECT TOP 3 id FROM provenance.entity", "PHASE": "RUN"},
        timeout=30,
    )
    job = r.url
    deadline = time.monotonic() + 60
    while requests.get(job + "/phase", timeout=10).text not in ("COMPLETED", "ERROR"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert requests.get(job + "/phase", timeout=10).text == "COMPLETED"

    values = scrape(tap_server.removesuffix("/tap"))
    completed = archive_scalar(archive_url, "SELECT count(*) FROM uws.job WHERE phase='COMPLETED'")
    assert completed >= 1
    assert values[("provdb_tap_jobs", (("phase", "COMPLETED"),))] == completed
    # every phase is there, also those no job is in
    assert values[("provdb_tap_jobs", (("phase", "HELD"),))] == 0
    requests.delete(job, timeout=10)


def test_metrics_ingest_totals_equal_the_archive(tap_server: str, archive_url: URL) -> None:
    values = scrape(tap_server.removesuffix("/tap"))
    records = archive_scalar(archive_url, "SELECT sum(n_records) FROM archive.ingest_file")
    rejects = archive_scalar(archive_url, "SELECT sum(n_rejects) FROM archive.ingest_file")
    files = archive_scalar(archive_url, "SELECT count(*) FROM archive.ingest_file")
    assert records > 1000
    assert values[("provdb_ingest_records_total", ())] == records
    assert values[("provdb_ingest_rejected_lines_total", ())] == rejects
    by_status = sum(v for (name, _), v in values.items() if name == "provdb_ingest_files")
    assert by_status == files
    newest = archive_scalar(
        archive_url,
        "SELECT extract(epoch FROM max(last_ingest AT TIME ZONE 'UTC')) FROM archive.ingest_file",
    )
    assert abs(values[("provdb_ingest_last_timestamp_seconds", ())] - newest) <= 1


def test_metrics_db_pool(tap_server: str) -> None:
    site = tap_server.removesuffix("/tap")
    r = requests.get(
        tap_server + "/sync",
        params={"LANG": "ADQL", "QUERY": "SELECT TOP 1 id FROM provenance.entity"},
        timeout=30,
    )
    assert r.status_code == 200
    # the pool's gauges are updated when the response is closed, after its last byte was
    # sent: a scrape answered by the other worker (or thread) can come first, so wait for
    # the state rather than read it once
    deadline = time.monotonic() + 10
    while True:
        values = scrape(site)
        in_use = values[("provdb_db_pool_connections", (("state", "in_use"),))]
        idle = values[("provdb_db_pool_connections", (("state", "idle"),))]
        if (in_use == 0 and idle >= 1) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert in_use == 0  # nothing else runs a /sync query now
    assert idle >= 1  # the connection of the query above went back to its pool
    max_idle = values[("provdb_db_pool_max_idle", ())]
    assert max_idle in (8, 16)  # 8 per worker process that has answered a request
    # without read replicas the query's sync slot is a lock of its own transaction: the
    # slot pool (session locks on the primary, for queries sent to replicas) stays unused
    assert values[("provdb_db_slot_pool_connections", (("state", "in_use"),))] == 0
    assert values[("provdb_db_slot_pool_connections", (("state", "idle"),))] == 0
    assert values[("provdb_db_slot_pool_max_idle", ())] in (8, 16)


# ----------------------------------------------------------------------------- metadata


@pytest.fixture(scope="module")
def described(archive_url: URL) -> Iterator[Served]:
    """A one-worker service with its metadata set (metrics in single-process mode)."""
    with serve_provdb(archive_url, METADATA, workers=1) as served:
        yield served


def test_serve_prints_the_ui_url_next_to_the_tap_url(described: Served) -> None:
    site = described.site
    text = described.log.read_text()
    assert f"provdb TAP service: {site}/tap (external database " in text
    assert f"provdb browser UI:  {site}/ui/" in text
    assert requests.get(site + "/ui/", timeout=10).status_code == 200


def test_metadata_on_the_tap_home_page_and_the_ui(described: Served) -> None:
    site = described.site
    home = requests.get(site + "/tap", timeout=10).text
    assert "<title>LST-1 provenance archive</title>" in home
    assert "<h1>LST-1 provenance archive</h1>" in home
    assert "Provenance of the LST-1 on-site analysis &amp; reprocessing." in home
    assert "Published by CTAO LST collaboration." in home
    assert '<a href="mailto:lst-archive@example.org">LST archive operators</a>' in home

    ui = requests.get(site + "/ui/", timeout=10).text
    assert ">LST-1 provenance archive</a>" in ui  # the header
    assert "CTAO LST collaboration" in ui  # the footer
    assert 'href="mailto:lst-archive@example.org">LST archive operators</a>' in ui


def test_metadata_in_vosi_capabilities(described: Served) -> None:
    site = described.site
    root = ET.fromstring(requests.get(site + "/tap/capabilities", timeout=10).content)
    tap = next(
        c for c in root.iter("capability") if c.get("standardID") == "ivo://ivoa.net/std/TAP"
    )
    description = tap.find("description").text
    assert description == (
        "LST-1 provenance archive: Provenance of the LST-1 on-site analysis & reprocessing. "
        "Publisher: CTAO LST collaboration. "
        "Contact: LST archive operators <lst-archive@example.org>."
    )


def test_default_metadata(tap_server: str) -> None:
    home = requests.get(tap_server, timeout=10).text
    assert "<h1>provdb ProvTAP service</h1>" in home and "Published by" not in home
    caps = requests.get(tap_server + "/capabilities", timeout=10).text
    assert "<description>provdb ProvTAP service: A TAP 1.1 / ADQL 2.1 service" in caps


def test_single_process_metrics(described: Served) -> None:
    site = described.site
    before = scrape(site)
    requests.get(site + "/ui/", timeout=10)
    after = scrape(site)
    assert requests_of(after, "ui.home", "2xx") == requests_of(before, "ui.home", "2xx") + 1
    assert after[("provdb_db_pool_max_idle", ())] == 8
    assert any(name == "provdb_build_info" for name, _ in after)


def test_metrics_count_a_held_sync_slot(described: Served, archive_url: URL) -> None:
    """A sync query that waits (on a table lock taken here) holds one /sync-pool
    connection, and its slot as a lock of that connection's transaction (no slot-pool
    connection without read replicas); both are free when it ends."""
    site = described.site
    slot = ("provdb_db_slot_pool_connections", (("state", "in_use"),))
    sync = ("provdb_db_pool_connections", (("state", "in_use"),))
    engine = sa.create_engine(archive_url)
    held = sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted "
        "AND a.application_name = 'provdb-tap'"
    )
    answers: list[requests.Response] = []
    try:
        with engine.connect() as conn, engine.connect() as probe:
            # the metrics' own queries read uws.job and archive.ingest_file, not this table
            conn.execute(sa.text("LOCK TABLE provenance.agent IN ACCESS EXCLUSIVE MODE"))
            query = {"LANG": "ADQL", "QUERY": "SELECT TOP 1 id FROM provenance.agent"}
            waiting = threading.Thread(
                target=lambda: answers.append(
                    requests.get(site + "/tap/sync", params=query, timeout=120)
                )
            )
            waiting.start()
            deadline = time.monotonic() + 30
            values = scrape(site)
            while values[sync] < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
                values = scrape(site)
            assert values[sync] == 1 and values[slot] == 0
            # the slot, on the query's connection: taken by the first statement after the
            # pool hands the connection out, so a moment after the metric counts it
            # (a new transaction per look: pg_stat_activity is read once per transaction)
            deadline = time.monotonic() + 30
            while probe.execute(held).scalar() != 1 and time.monotonic() < deadline:
                probe.rollback()
                time.sleep(0.1)
            assert probe.execute(held).scalar() == 1
            probe.rollback()
            conn.rollback()  # the lock goes: the query answers
            waiting.join(timeout=60)
            assert probe.execute(held).scalar() == 0  # freed with the query's transaction
    finally:
        engine.dispose()
    assert answers and answers[0].status_code == 200, answers
    after = scrape(site)
    assert after[slot] == 0 and after[sync] == 0
    assert after[("provdb_db_slot_pool_max_idle", ())] == 8


def test_metrics_can_be_switched_off(archive_url: URL) -> None:
    with serve_provdb(archive_url, {"PROVDB_METRICS": "0"}) as served:
        assert requests.get(served.site + "/metrics", timeout=10).status_code == 404
        assert requests.get(served.tap + "/availability", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PROVDB_SERVICE_CONTACT_EMAIL", "nobody", "expected an e-mail address"),
        ("PROVDB_METRICS", "maybe", "expected 1 or 0"),
    ],
)
def test_bad_settings_stop_serve_with_one_line(
    archive_url: URL, name: str, value: str, message: str
) -> None:
    from tests.conftest import run_cli

    env = {
        "PROVDB_DATABASE_URL": archive_url.render_as_string(hide_password=False),
        name: value,
    }
    result = run_cli("serve", "--port", str(free_port()), env=env, timeout=60)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"provdb: error: {name}={value!r}") and message in last


# ----------------------------------------------------------------------------- nrows


def test_tables_give_approximate_row_counts(tap_server: str, archive_url: URL) -> None:
    # statistics as fresh as autovacuum leaves them after a quiet while (data unchanged)
    engine = sa.create_engine(archive_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    root = ET.fromstring(requests.get(tap_server + "/tables", timeout=30).content)
    nrows = {
        t.find("name").text: int(t.find("nrows").text)
        for t in root.iter("table")
        if t.find("nrows") is not None
    }
    views = [t.find("name").text for t in root.iter("table") if t.get("type") == "view"]
    assert views and not set(views) & set(nrows)  # views get no count
    # a small archive: ANALYZE reads every row, the statistics are exact
    engine = sa.create_engine(archive_url)
    with engine.connect() as conn:
        for name in ("provenance.entity", "provenance.activity", "provenance.used"):
            exact = conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar()
            assert nrows[name] == exact, name
    engine.dispose()
    one = ET.fromstring(requests.get(tap_server + "/tables/provenance.entity", timeout=30).content)
    assert int(one.find("nrows").text) == nrows["provenance.entity"]
    # the <nrows> element sits where VODataService 1.2 puts it: after utype, before columns
    entity = next(t for t in root.iter("table") if t.find("name").text == "provenance.entity")
    tags = [child.tag for child in entity]
    assert tags.index("nrows") < tags.index("column")


def test_row_counts_from_statistics_or_a_bounded_count(engine: sa.Engine) -> None:
    from tap.vosi.rowcounts import approximate_rows

    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO provenance.agent (id, name) "
                "SELECT 'a' || g, 'agent ' || g FROM generate_series(1, 25) g"
            )
        )
    with engine.connect() as conn:
        stats = conn.execute(
            sa.text("SELECT reltuples FROM pg_class WHERE oid = 'provenance.agent'::regclass")
        ).scalar()
        assert stats < 0  # never analysed: counted
        assert approximate_rows(conn)["provenance.agent"] == 25
        assert "provenance.agent" not in approximate_rows(conn, count_limit=10)  # too big
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE provenance.agent"))
        assert approximate_rows(conn, count_limit=10)["provenance.agent"] == 25


def test_metrics_count_rejected_lines(db_url: URL, samples: Path, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    lines = (samples / NIGHT).read_bytes().splitlines(keepends=True)
    bad = b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__{'activity_id': 'ab\n"
    path = tmp_path / "prov.log"
    path.write_bytes(b"".join([*lines[:99], bad, *lines[99:]]))
    env = {"PROVDB_DATABASE_URL": db_url.render_as_string(hide_password=False)}
    assert run_cli("ingest", "-q", str(path), env=env).returncode == 1  # 1: lines rejected

    with serve_provdb(db_url) as served:
        values = scrape(served.site)
    assert values[("provdb_ingest_rejected_lines_total", ())] == 1
    records = archive_scalar(db_url, "SELECT sum(n_records) FROM archive.ingest_file")
    assert values[("provdb_ingest_records_total", ())] == records > 0
    assert values[("provdb_ingest_files", (("status", "complete"),))] == 1


def test_metrics_say_when_the_archive_does_not_answer(db_url: URL) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from tap.metrics import ArchiveCollector

    # a real server, a database that does not exist on it
    engine = sa.create_engine(db_url.set(database="provdb_no_such_database"))
    registry = CollectorRegistry()
    registry.register(ArchiveCollector(engine))
    text = generate_latest(registry).decode()
    engine.dispose()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["provdb_database_up"].samples[0].value == 0
    assert "provdb_tap_jobs" not in families  # no made-up zeros when nothing is known


def test_serve_writes_the_combined_access_log_line(described: Served) -> None:
    # provdb/access_log.py writes gunicorn's default line itself: the same fields, the
    # same escaping of a double quote inside one
    r = requests.get(
        described.site + "/tap/availability?probe=access-log",
        headers={"User-Agent": 'probe "quoted" agent', "Referer": "http://example.org/p"},
        timeout=30,
    )
    assert r.status_code == 200
    pattern = re.compile(
        r"^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
        r'"GET /tap/availability\?probe=access-log HTTP/1\.1" 200 (\d+) '
        r'"http://example\.org/p" "probe \\"quoted\\" agent"$'
    )
    deadline = time.monotonic() + 10
    while True:  # the worker writes the line after the response
        lines = [m for m in map(pattern.match, described.log.read_text().splitlines()) if m]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(lines) == 1, described.log.read_text()[-2000:]
    assert int(lines[0].group(1)) == len(r.content)


def test_serve_runs_provdbs_gthread_worker(described: Served) -> None:
    # gthread with the spaced heartbeat of provdb/gthread_worker.py
    assert "Using worker: provdb.gthread_worker.ThreadWorker" in described.log.read_text()
