"""provdb.ingest.pipeline.ingest_file on real PostgreSQL: samples, generated nights, bad input.

Every test gets its own freshly migrated database (``engine``) and talks to it through the
psycopg connection the pipeline expects. Nothing is mocked: files are real (the read-only
samples, or copies and generated nights in ``tmp_path``), rows are read back with SQL.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from provdb.ingest.lstosa.definition import load_model
from provdb.ingest.pipeline import FileResult, ingest_file
from tests.conftest import synthetic_module

NIGHT = Path("generated/lstosa_simulate_processing/prov.log")
PARALLEL = Path("generated/lstosa_parallel_datasequence/prov.log")
CTAPIPE = Path("generated/ctapipe_tool/lstchain-demo-dl1-to-dl2.provenance.log")
RUNWISE_JSON = Path(
    "generated/lstosa_simulate_processing/DL1/20200117/v0.1.0/tailcut84/log/"
    "calibration_to_dl1_01807_prov.json"
)
VOPROV = Path("generated/voprov_serializations")
LSTCHAIN_EMPTY = Path("lstchain/provenance.log")
DEFINITION = Path("lstosa/config/definition.yaml")

#: columns that record when something was written, not what: left out of content snapshots
_WHEN_COLUMNS = {"first_seen", "created", "first_ingest", "last_ingest", "duration_s", "since"}


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def conn(engine: sa.Engine) -> Iterator[Any]:
    """A psycopg 3 connection (autocommit off) on this test's database."""
    raw = engine.raw_connection()
    try:
        yield raw.driver_connection
    finally:
        raw.close()


@pytest.fixture(scope="module")
def synth() -> ModuleType:
    """bench/make_synthetic.py, imported by path (bench/ is not a package)."""
    return synthetic_module()


def tables(engine: sa.Engine) -> list[str]:
    """Every table of the provenance and archive schemas."""
    with engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema IN ('provenance', 'archive') AND table_type = 'BASE TABLE' "
                "ORDER BY 1"
            )
        ).all()
    names = [r[0] for r in rows]
    assert "provenance.activity" in names and "archive.ingest_reject" in names
    return names


def counts(engine: sa.Engine) -> dict[str, int]:
    """Row count of every provenance/archive table."""
    with engine.connect() as c:
        return {
            t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables(engine)
        }


_BY_IDS = {"archive.lineage_closure": "archive.lineage"}


def content(engine: sa.Engine, skip: tuple[str, ...] = ()) -> dict[str, Counter]:
    """Multiset of the rows of every table, without surrogate keys (and references to
    ingested files' ids) and write times."""
    out: dict[str, Counter] = {}
    with engine.connect() as c:
        for t in tables(engine):
            if t in skip:
                continue
            # the closure is keyed by entity numbers, given in the order entities came
            # in: its rows are compared by id, through the view
            t = _BY_IDS.get(t, t)
            schema, name = t.split(".")
            cols = c.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"
                ),
                {"s": schema, "t": name},
            ).all()
            keep = [
                col
                for col, dtype in cols
                if col not in _WHEN_COLUMNS
                # surrogate keys, and references to archive.ingest_file's (the same records
                # read from another file, or in other steps, get other file ids)
                and not (col in ("id", "ingest_file_id", "no") and dtype == "bigint")
            ]
            select = ", ".join(f"{col}::text" for col in keep)
            # which activities some file gave: the same records read from two files (a
            # compressed copy, a re-read) are one activity with two sources
            distinct = "DISTINCT " if t == "archive.activity_source" else ""
            out[t] = Counter(
                tuple(r) for r in c.execute(sa.text(f"SELECT {distinct}{select} FROM {t}"))
            )
    return out


def scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as c:
        return c.execute(sa.text(sql), params).scalar_one()


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql), params).all()]


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def truncate_archive(engine: sa.Engine) -> None:
    """Empty every provenance/archive table (to compare two ingests in one database)."""
    with engine.begin() as c:
        c.execute(sa.text(f"TRUNCATE {', '.join(tables(engine))} CASCADE"))


def write_night(synth: ModuleType, path: Path, runs: int, subruns: int, **kw: Any) -> Path:
    path.write_bytes(b"".join(synth.generate_night(runs, subruns, **kw)))
    return path


def ok(result: FileResult, status: str = "new") -> FileResult:
    assert result.error is None, result.error
    assert result.status == status, result
    return result


START = re.compile(
    rb"'activity_id': '([0-9a-f]{6})', 'name': '(\w+)', 'startTime'.*'session_tag': '([^']*)'"
)


# ----------------------------------------------------------------------------- 1. sample night


def test_sample_night_is_archived_completely(engine, conn, samples):
    result = ok(ingest_file(conn, samples / NIGHT))
    assert result.format == "lstosa"
    assert result.rejects == 0
    assert result.other_lines == 20  # the WARNING ... Derivation detected lines
    assert dict(result.records) == {
        "Session": 62,
        "ActivityStart": 62,
        "ActivityEnd": 62,
        "Parameters": 20,
        "Entity": 347,
        "Used": 223,
        "Generated": 124,
        "Derived": 20,
    }
    n = counts(engine)
    assert n["provenance.activity"] == 62
    # no two activities merged: every lstosa short id is its own activity
    assert scalar(engine, "SELECT count(DISTINCT original_id) FROM provenance.activity") == 62
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM provenance.activity WHERE start_time IS NULL "
            "OR end_time IS NULL OR session_id IS NULL OR id LIKE '%@nostart%'",
        )
        == 0
    )
    # 62 session records, ~20 kB each, are a handful of distinct contexts
    assert n["archive.processing_session"] < 10
    assert set(
        r[0] for r in rows(engine, "SELECT original_id FROM archive.processing_session")
    ) == {
        "0180401809",
        "2020011701807",
        "2020011701808",
    }
    assert 1 <= n["archive.environment"] <= 2
    assert n["provenance.wasderivedfrom"] == 20
    assert n["provenance.used"] == 223
    assert n["provenance.wasgeneratedby"] == 124  # every generation kept, self-loops too
    # dl1ab uses and generates the same entity (spec §10.10)
    loops = rows(
        engine,
        "SELECT a.name, count(*) FROM provenance.used u "
        "JOIN provenance.wasgeneratedby g ON g.activity_id = u.activity_id "
        "AND g.entity_id = u.entity_id JOIN provenance.activity a ON a.id = u.activity_id "
        "GROUP BY a.name",
    )
    assert loops == [("dl1ab", 20)]
    params = rows(
        engine,
        "SELECT a.name, p.name, p.parameter_value, count(DISTINCT a.id) "
        "FROM provenance.parameter p JOIN provenance.activity a ON a.id = p.activity_id "
        "GROUP BY 1, 2, 3",
    )
    assert params == [("dl1ab", "StoreImage", "True", 20)]
    assert n["provenance.parameter"] == 20
    assert rows(engine, "SELECT id, name FROM provenance.agent") == [("Anonymous", "Anonymous")]
    assert (
        scalar(
            engine,
            "SELECT count(DISTINCT activity_id) FROM provenance.wasassociatedwith "
            "WHERE agent_id = 'Anonymous'",
        )
        == 62
    )
    assert (
        scalar(
            engine,
            "SELECT count(DISTINCT activity_id) FROM provenance.configfile "
            "WHERE location LIKE '%/sequencer.cfg' AND name = 'sequencer.cfg'",
        )
        == 62
    )
    # UTC by default: the stored time is the text, and the text is kept as written
    times = rows(
        engine,
        "SELECT start_time, start_time_text, end_time, end_time_text FROM provenance.activity",
    )
    for start, start_text, end, end_text in times:
        assert start == datetime.fromisoformat(start_text)
        assert end == datetime.fromisoformat(end_text)
        assert start_text.startswith("2026-11-23T")
    book = rows(
        engine,
        "SELECT path, format, status, n_records, n_rejects, n_other_lines, lines_read, "
        "offset_reached, size_bytes FROM archive.ingest_file",
    )
    size = (samples / NIGHT).stat().st_size
    assert book == [(str(samples / NIGHT), "lstosa", "complete", 920, 0, 20, 940, size, size)]


@pytest.mark.parametrize(
    ("zone", "hours"),
    [("Europe/Madrid", 1), ("Atlantic/Canary", 0), ("America/New_York", -5)],
)
def test_timezone_converts_naive_local_times_to_utc(engine, conn, samples, zone, hours):
    ok(ingest_file(conn, samples / NIGHT, timezone=zone))
    times = rows(
        engine,
        "SELECT start_time, start_time_text, end_time, end_time_text FROM provenance.activity",
    )
    assert len(times) == 62
    shift = timedelta(hours=hours)
    for start, start_text, end, end_text in times:
        # November 2026: Madrid is UTC+1, the Canaries UTC+0, New York UTC-5
        assert start == datetime.fromisoformat(start_text) - shift
        assert end == datetime.fromisoformat(end_text) - shift


def test_timezone_follows_the_date(engine, conn, synth, tmp_path):
    """The Canaries are UTC+1 in summer: the offset depends on the night, not the zone."""
    night = write_night(synth, tmp_path / "prov.log", 1, 1, date="20200717", packages=3)
    ok(ingest_file(conn, night, timezone="Atlantic/Canary"))
    times = rows(engine, "SELECT start_time, start_time_text FROM provenance.activity")
    assert len(times) == 5
    for start, text in times:
        assert text.startswith("2020-07-18T")
        assert start == datetime.fromisoformat(text) - timedelta(hours=1)


# ----------------------------------------------------------------------------- 2. interleaving


def test_parallel_bursts_are_linked_by_activity_id(engine, conn, samples):
    path = samples / PARALLEL
    starts = [m for line in lines_of(path) if (m := START.search(line))]
    result = ok(ingest_file(conn, path))
    assert result.rejects == 0
    assert scalar(engine, "SELECT count(*) FROM provenance.activity") == len(starts)
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM provenance.activity WHERE end_time IS NULL "
            "OR session_id IS NULL OR id LIKE '%@nostart%'",
        )
        == 0
    )
    # a11475's burst was interrupted by 6172ea's session and start records (spec §1.7)
    (act,) = rows(
        engine,
        "SELECT id, name, start_time_text, end_time_text, session_tag FROM provenance.activity "
        "WHERE original_id = 'a11475'",
    )
    assert act[1:] == (
        "r0_to_dl1",
        "2026-11-23T19:34:24.904306",
        "2026-11-23T19:34:24.904520",
        "r0_to_dl1:01807",
    )
    used = rows(
        engine,
        "SELECT role, entity_id FROM provenance.used WHERE activity_id = :a ORDER BY role",
        a=act[0],
    )
    assert [r[0] for r in used] == [
        "Coefficients calibration file",
        "Observation subrun",
        "Pedestal file",
        "Pointing file",
        "Run summary",
        "Systematic correction factor file",
        "Time calibration file",
    ]
    assert ("Observation subrun", "c5593636704fcd0513a83075148317a0") in used
    generated = rows(
        engine,
        "SELECT role, entity_id FROM provenance.wasgeneratedby WHERE activity_id = :a "
        "ORDER BY role",
        a=act[0],
    )
    assert generated == [
        ("DL1 subrun dataset", "49091e62b4f3b2c3c9f22035b6d6f4dc"),
        ("Muons subrun dataset", "713aa3540d31a17aab3300836b3cbfbc"),
    ]
    # and the interrupting activity has its own complete burst
    other = rows(
        engine,
        "SELECT a.end_time_text, count(u.*) FROM provenance.activity a "
        "JOIN provenance.used u ON u.activity_id = a.id WHERE a.original_id = '6172ea' "
        "GROUP BY a.id",
    )
    assert len(other) == 1 and other[0][0] is not None and other[0][1] == 7


# ----------------------------------------------------------------------------- 3. idempotence


def test_second_ingest_is_unchanged_and_adds_nothing(engine, conn, samples, tmp_path):
    first = ok(ingest_file(conn, samples / NIGHT))
    before, snapshot = counts(engine), content(engine)
    second = ok(ingest_file(conn, samples / NIGHT), "unchanged")
    assert second.n_records == 0 and not second.inserted
    assert counts(engine) == before
    assert content(engine) == snapshot
    assert first.n_records == 920


@pytest.mark.parametrize(
    "sample", [NIGHT, CTAPIPE, RUNWISE_JSON], ids=["lstosa", "ctapipe", "prov-json"]
)
def test_touched_file_adds_nothing(engine, conn, samples, tmp_path, sample):
    path = tmp_path / sample.name
    shutil.copyfile(samples / sample, path)
    ok(ingest_file(conn, path))
    before = counts(engine)
    snapshot = content(engine, skip=("archive.ingest_file",))
    stat = path.stat()
    os.utime(path, (stat.st_atime + 3600, stat.st_mtime + 3600))  # new mtime, same bytes
    again = ok(ingest_file(conn, path), "unchanged")
    assert sum(again.inserted.values()) == 0
    assert counts(engine) == before
    assert content(engine, skip=("archive.ingest_file",)) == snapshot
    # the new mtime is remembered: the next run takes the fast path
    assert scalar(engine, "SELECT mtime FROM archive.ingest_file") == path.stat().st_mtime
    third = ok(ingest_file(conn, path), "unchanged")
    assert third.bytes_read == 0


# ----------------------------------------------------------------------------- 4. incremental


def test_growing_log_read_in_steps_equals_one_shot(engine, conn, samples, tmp_path):
    """The parallel sample appended in four steps, cut inside interleaved bursts."""
    lines = lines_of(samples / PARALLEL)
    # 530: inside a11475's burst (start at 508, end at 548), after 6172ea's session record
    cuts = [300, 530, 1000, len(lines)]
    path = tmp_path / "prov.log"
    path.write_bytes(b"")
    done = 0
    statuses = []
    for cut in cuts:
        with open(path, "ab") as fh:
            fh.write(b"".join(lines[done:cut]))
        done = cut
        result = ingest_file(conn, path)
        assert result.error is None and result.rejects == 0
        statuses.append(result.status)
        book = rows(engine, "SELECT offset_reached, lines_read, status FROM archive.ingest_file")
        assert book == [(path.stat().st_size, cut, "complete")]
    assert statuses == ["new", "grown", "grown", "grown"]
    assert scalar(engine, "SELECT n_records FROM archive.ingest_file") == sum(
        1 for line in lines if b"__PROV__" in line
    )
    stepwise_counts = counts(engine)
    stepwise = content(engine, skip=("archive.ingest_file",))

    truncate_archive(engine)
    whole = tmp_path / "whole.prov.log"
    shutil.copyfile(samples / PARALLEL, whole)
    ok(ingest_file(conn, whole))
    assert counts(engine) == stepwise_counts
    assert content(engine, skip=("archive.ingest_file",)) == stepwise
    assert scalar(engine, "SELECT count(*) FROM provenance.activity WHERE id LIKE '%nostart%'") == 0


def test_torn_last_line_waits_for_the_writer(engine, conn, samples, tmp_path):
    lines = lines_of(samples / NIGHT)
    n = 100
    torn = next(i for i in range(n, len(lines)) if b"'session_id'" in lines[i])  # ~20 kB
    head = b"".join(lines[:torn])
    half = lines[torn][: len(lines[torn]) // 2]
    path = tmp_path / "prov.log"
    path.write_bytes(head + half)
    rejected: list[str] = []
    first = ingest_file(conn, path, on_reject=rejected.append)
    assert first.error is None and first.status == "partial"
    assert first.rejects == 0 and rejected == []
    assert rows(engine, "SELECT status, offset_reached, lines_read FROM archive.ingest_file") == [
        ("partial", len(head), torn)
    ]
    assert scalar(engine, "SELECT count(*) FROM archive.ingest_reject") == 0
    # read again while still torn: nothing new, still partial
    again = ingest_file(conn, path)
    assert again.status == "partial" and again.n_records == 0
    # the writer finishes the line and goes on
    with open(path, "ab") as fh:
        fh.write(lines[torn][len(half) :] + b"".join(lines[torn + 1 :]))
    grown = ok(ingest_file(conn, path), "grown")
    assert grown.records["Session"] >= 1 and grown.rejects == 0
    assert rows(engine, "SELECT status, offset_reached, lines_read FROM archive.ingest_file") == [
        ("complete", path.stat().st_size, len(lines))
    ]
    # the bookkeeping adds up the three reads
    assert rows(engine, "SELECT n_records, n_other_lines, n_rejects FROM archive.ingest_file") == [
        (920, 20, 0)
    ]
    assert scalar(engine, "SELECT records FROM archive.ingest_file")["Entity"] == 347
    incremental = content(engine, skip=("archive.ingest_file",))
    truncate_archive(engine)
    ok(ingest_file(conn, samples / NIGHT))
    assert content(engine, skip=("archive.ingest_file",)) == incremental


def test_rejects_in_the_grown_part_keep_absolute_line_numbers(engine, conn, samples, tmp_path):
    lines = lines_of(samples / NIGHT)
    bad = b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__{'activity_id': \n"
    path = tmp_path / "prov.log"
    path.write_bytes(b"".join([*lines[:10], bad, *lines[10:400]]))
    first = ingest_file(conn, path)
    assert first.status == "new" and first.rejects == 1
    with open(path, "ab") as fh:
        fh.write(b"".join([*lines[400:600], bad, *lines[600:]]))
    messages: list[str] = []
    grown = ingest_file(conn, path, on_reject=messages.append)
    assert grown.status == "grown" and grown.rejects == 1
    # line 11 is the first bad line, then 390 + 200 lines, then the second one
    assert [m.split(": ", 1)[0] for m in messages] == [f"{path}:{11 + 390 + 200 + 1}"]
    assert rows(engine, "SELECT line_number FROM archive.ingest_reject ORDER BY 1") == [
        (11,),
        (602,),
    ]
    assert rows(engine, "SELECT n_rejects, n_records, lines_read FROM archive.ingest_file") == [
        (2, 920, 942)
    ]
    assert scalar(engine, "SELECT count(*) FROM provenance.activity") == 62


def test_progress_reports_every_byte_and_record(conn, samples, tmp_path):
    seen = [0, 0]

    def progress(nbytes: int, nrecords: int) -> None:
        seen[0] += nbytes
        seen[1] += nrecords

    result = ok(ingest_file(conn, samples / NIGHT, progress=progress))
    assert seen == [(samples / NIGHT).stat().st_size, result.n_records]
    seen[:] = [0, 0]
    result = ok(ingest_file(conn, samples / CTAPIPE, progress=progress))
    assert seen == [(samples / CTAPIPE).stat().st_size, result.n_records]


def test_changed_file_is_read_again_and_old_rejects_dropped(engine, conn, samples, tmp_path):
    lines = lines_of(samples / NIGHT)
    path = tmp_path / "prov.log"
    path.write_bytes(b"".join([*lines[:5], b"INFO provLogger __PROV__x__PROV__{}\n", *lines[5:]]))
    first = ingest_file(conn, path)
    assert first.status == "new" and first.rejects == 1
    path.write_bytes(b"".join(lines))  # the operator repaired the file: same size or not
    second = ok(ingest_file(conn, path), "changed")
    assert second.rejects == 0 and second.n_records == 920
    assert scalar(engine, "SELECT count(*) FROM archive.ingest_reject") == 0
    assert rows(engine, "SELECT n_rejects, n_records FROM archive.ingest_file") == [(0, 920)]
    assert scalar(engine, "SELECT count(*) FROM provenance.activity") == 62


# ----------------------------------------------------------------------------- 5. bad input

BAD_LINES = {
    "garbage payload": b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__!!garbage{]\n",
    "truncated dict": (
        b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__{'activity_id': '9d3257', "
        b"'used_id': '14ce42cc4e3b42a03e\n"
    ),
    "not utf-8": (
        b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__{'entity_id': '\xff\xfe\x80"
        b"', 'name': \xc3(\n"
    ),
    "NUL in a value": (
        b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__{'entity_id': "
        b"'0123456789abcdef0123456789abcdef', 'name': 'R0Sub\\x00run', 'filepath': '/d/f.fits', "
        b"'session_tag': 'r0_to_dl1:01807'}\n"
    ),
}


def _session_with_nul(samples: Path) -> bytes:
    """A real ~20 kB session record whose environment (a jsonb column) holds a NUL."""
    line = next(x for x in lines_of(samples / NIGHT) if b"'arguments': [" in x)
    return line.replace(b"'arguments': [", b"'arguments': ['--evil\\x00', ", 1)


def night_with_bad_lines(samples: Path, tmp_path: Path) -> tuple[Path, dict[int, bytes]]:
    """The sample night with each bad line inserted in the middle; {line number: line}."""
    lines = lines_of(samples / NIGHT)
    out: list[bytes] = []
    where: dict[int, bytes] = {}
    bad_lines = [*BAD_LINES.values(), _session_with_nul(samples)]
    positions = iter([101, 333, 500, 777, 901])
    at = next(positions)
    for line in lines:
        out.append(line)
        if len(out) == at - 1:
            bad = bad_lines[len(where)]
            out.append(bad)
            where[len(out)] = bad
            at = next(positions, -1)
    path = tmp_path / "prov.log"
    path.write_bytes(b"".join(out))
    assert len(where) == len(bad_lines)
    return path, where


def test_bad_lines_are_rejected_kept_verbatim_and_the_rest_ingested(
    engine, conn, samples, tmp_path
):
    path, bad = night_with_bad_lines(samples, tmp_path)
    messages: list[str] = []
    result = ingest_file(conn, path, on_reject=messages.append)
    assert result.error is None and result.status == "new"
    assert result.rejects == len(bad)
    assert [m.split(": ", 1)[0] for m in messages] == [f"{path}:{n}" for n in sorted(bad)]
    assert all(len(m.split(": ", 1)[1]) > 5 for m in messages)  # a reason follows
    stored = rows(
        engine,
        "SELECT line_number, raw, is_error, reason FROM archive.ingest_reject ORDER BY line_number",
    )
    assert [(line, bytes(raw)) for line, raw, *_ in stored] == [
        (n, bad[n].rstrip(b"\n")) for n in sorted(bad)
    ]
    assert all(is_error for _, _, is_error, _ in stored)
    offsets = rows(engine, "SELECT byte_offset FROM archive.ingest_reject ORDER BY line_number")
    data = path.read_bytes()
    for (offset,), n in zip(offsets, sorted(bad), strict=True):
        assert data[offset : offset + len(bad[n])] == bad[n]
    # everything else went in
    assert result.records["ActivityStart"] == 62 and result.records["Entity"] == 347
    assert scalar(engine, "SELECT count(*) FROM provenance.activity") == 62
    assert scalar(engine, "SELECT count(*) FROM provenance.used") == 223
    assert rows(engine, "SELECT n_rejects, n_records, status FROM archive.ingest_file") == [
        (len(bad), 920, "complete")
    ]


def test_non_utf8_record_is_read_not_rejected(engine, conn, samples, tmp_path):
    """Paths are written raw in the locale encoding (spec §10.19): latin-1 is not an error."""
    lines = lines_of(samples / NIGHT)
    latin = (
        b"INFO provLogger __PROV__2026-11-23T19:29:56.577397__PROV__{'entity_id': "
        b"'fedcba9876543210fedcba9876543210', 'name': 'R0SubrunDataset', "
        b"'filepath': '/data/caf\xe9.fits', 'session_tag': 'r0_to_dl1:01807'}\n"
    )
    path = tmp_path / "prov.log"
    path.write_bytes(b"".join([*lines[:50], latin, *lines[50:]]))
    result = ok(ingest_file(conn, path))
    assert result.rejects == 0
    assert (
        scalar(
            engine,
            "SELECT location FROM provenance.entity WHERE id = :i",
            i="fedcba9876543210fedcba9876543210",
        )
        == "/data/caf\xe9.fits"
    )


def test_strict_refuses_the_whole_file(engine, conn, samples, tmp_path):
    ok(ingest_file(conn, samples / CTAPIPE))  # something already in the archive
    before, snapshot = counts(engine), content(engine)
    path, bad = night_with_bad_lines(samples, tmp_path)
    messages: list[str] = []
    result = ingest_file(conn, path, strict=True, on_reject=messages.append)
    assert result.status == "failed"
    assert "--strict" in result.error and str(path) in result.error
    assert result.rejects == len(bad) and len(messages) == len(bad)
    assert counts(engine) == before
    assert content(engine) == snapshot
    assert (
        scalar(engine, "SELECT count(*) FROM archive.ingest_file WHERE path = :p", p=str(path)) == 0
    )
    # without --strict the same file goes in (the failure left no lock or state behind)
    assert ingest_file(conn, path).status == "new"


def _broken_ctapipe(samples: Path, tmp_path: Path) -> Path:
    data = (samples / CTAPIPE).read_bytes()
    second = data.index(b"][") + 2
    cut = second + (len(data) - second) // 2  # break the second array in its middle
    path = tmp_path / "broken.provenance.log"
    path.write_bytes(data[:cut] + b'"oops: }{ ,,,' + data[cut:])
    return path


def _broken_prov_json(samples: Path, tmp_path: Path) -> Path:
    data = (samples / RUNWISE_JSON).read_bytes()
    path = tmp_path / "broken_prov.json"
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _truncated_gzip(samples: Path, tmp_path: Path) -> Path:
    data = gzip.compress((samples / NIGHT).read_bytes())
    path = tmp_path / "prov.log.gz"
    path.write_bytes(data[: len(data) * 3 // 4])
    return path


def _ctapipe_with_nul(samples: Path, tmp_path: Path) -> Path:
    """Valid JSON, but a value PostgreSQL text cannot hold."""
    data = (samples / CTAPIPE).read_bytes()
    assert b'"lstchain-demo-dl1-to-dl2"' in data
    path = tmp_path / "nul.provenance.log"
    path.write_bytes(data.replace(b'"lstchain-demo-dl1-to-dl2"', b'"lstchain\\u0000demo"', 1))
    return path


def _broken_prov_xml(samples: Path, tmp_path: Path) -> Path:
    data = (samples / VOPROV / "voprov_example.xml").read_bytes()
    path = tmp_path / "broken.xml"
    path.write_bytes(data[: len(data) // 2] + b"<<</not-closed")
    return path


@pytest.mark.parametrize(
    "make",
    [_broken_ctapipe, _broken_prov_json, _truncated_gzip, _broken_prov_xml, _ctapipe_with_nul],
    ids=["ctapipe-json", "prov-json", "truncated-gzip", "prov-xml", "ctapipe-nul"],
)
def test_file_failing_midway_leaves_the_archive_as_it_was(engine, conn, samples, tmp_path, make):
    ok(ingest_file(conn, samples / NIGHT))
    before, snapshot = counts(engine), content(engine)
    path = make(samples, tmp_path)
    result = ingest_file(conn, path)
    assert result.status == "failed", result
    assert result.error and str(path) in result.error
    assert counts(engine) == before
    assert content(engine) == snapshot
    # the connection is usable afterwards
    assert ingest_file(conn, samples / CTAPIPE).status == "new"


def test_rewritten_file_that_fails_keeps_the_earlier_ingest(engine, conn, samples, tmp_path):
    path = tmp_path / "tool.provenance.log"
    shutil.copyfile(samples / CTAPIPE, path)
    ok(ingest_file(conn, path))
    before, snapshot = counts(engine), content(engine)
    shutil.copyfile(_broken_ctapipe(samples, tmp_path), path)
    assert ingest_file(conn, path).status == "failed"
    assert counts(engine) == before
    assert content(engine) == snapshot  # bookkeeping too: size, checksum, status


# ----------------------------------------------------------------------------- 6. concurrency


def test_concurrent_ingests_of_one_file_never_duplicate(engine, samples, tmp_path):
    path = tmp_path / "prov.log"
    shutil.copyfile(samples / PARALLEL, path)
    barrier = threading.Barrier(2)
    results: list[FileResult] = []
    errors: list[BaseException] = []

    def worker() -> None:
        raw = engine.raw_connection()
        try:
            barrier.wait(timeout=30)
            results.append(ingest_file(raw.driver_connection, path))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            raw.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(r.status for r in results) == ["new", "unchanged"]
    together = counts(engine)
    snapshot = content(engine)
    truncate_archive(engine)
    raw = engine.raw_connection()
    try:
        ok(ingest_file(raw.driver_connection, path))
    finally:
        raw.close()
    assert counts(engine) == together
    assert content(engine) == snapshot


# ----------------------------------------------------------------------------- 7. formats


def test_ctapipe_log_stores_status_and_exit_code(engine, conn, samples):
    result = ok(ingest_file(conn, samples / CTAPIPE))
    assert result.format == "ctapipe"
    acts = rows(
        engine,
        "SELECT name, status, exit_code, start_time IS NOT NULL, end_time IS NOT NULL "
        "FROM provenance.activity ORDER BY start_time",
    )
    assert acts == [
        ("lstchain-demo-dl1-to-dl2", "completed", 0, True, True),
        ("lstchain-demo-dl1-to-dl2", "error", 1, True, True),
    ]
    assert scalar(engine, "SELECT count(*) FROM provenance.used") == 4
    assert scalar(engine, "SELECT count(*) FROM provenance.wasgeneratedby") == 1


def test_runwise_prov_json_joins_the_prov_log_entities(engine, conn, samples):
    ok(ingest_file(conn, samples / NIGHT))
    night_entities = {r[0] for r in rows(engine, "SELECT id FROM provenance.entity")}
    result = ok(ingest_file(conn, samples / RUNWISE_JSON))
    assert result.format == "prov-json"
    assert result.records["Activity"] == 5
    new = rows(
        engine,
        "SELECT id, name, location FROM provenance.entity WHERE NOT (id = ANY(:ids))",
        ids=list(night_entities),
    )
    # only the run-wise collections and the synthetic parameters entity are new: every
    # file the run-wise document mentions has the id prov.log gave it
    assert new, "the document has collections of its own"
    for _, name, location in new:
        assert name.endswith(("Collection", "Parameters")), (name, location)
    linked = scalar(
        engine,
        "SELECT count(*) FROM provenance.used u JOIN provenance.activity a ON a.id = u.activity_id "
        "WHERE a.original_id IS DISTINCT FROM a.id AND a.session_tag IS NULL "
        "AND u.entity_id = ANY(:ids)",
        ids=list(night_entities),
    )
    assert linked > 0
    # its derivations are the ones prov.log recorded: nothing new
    assert result.inserted["provenance.wasderivedfrom"] == 0
    assert result.known["provenance.wasderivedfrom"] == 11


def test_voprov_json_xml_and_provn_give_the_same_rows(engine, conn, samples):
    first = ok(ingest_file(conn, samples / VOPROV / "voprov_example.json"))
    assert first.format == "prov-json"
    after_json = counts(engine)
    assert after_json["provenance.activity"] == 2 and after_json["provenance.entity"] == 3
    assert after_json["provenance.hadmember"] == 1 and after_json["provenance.configfile"] == 1
    snapshot = content(engine, skip=("archive.ingest_file",))
    for name, fmt in (("voprov_example.xml", "prov-xml"), ("voprov_example.provn", "prov-n")):
        result = ok(ingest_file(conn, samples / VOPROV / name))
        assert result.format == fmt
        assert result.n_records == first.n_records
        assert sum(result.inserted.values()) == 0, result.inserted
        assert content(engine, skip=("archive.ingest_file",)) == snapshot


def test_lstchain_empty_array_is_an_empty_file_not_an_error(engine, conn, samples):
    result = ok(ingest_file(conn, samples / LSTCHAIN_EMPTY))
    assert result.format == "ctapipe" and result.n_records == 0
    n = counts(engine)
    assert n.pop("archive.ingest_file") == 1
    assert all(v == 0 for v in n.values()), n
    assert ingest_file(conn, samples / LSTCHAIN_EMPTY).status == "unchanged"


@pytest.mark.parametrize(
    "sample", [NIGHT, CTAPIPE, RUNWISE_JSON], ids=["lstosa", "ctapipe", "prov-json"]
)
def test_compressed_copies_give_the_same_rows(engine, conn, samples, tmp_path, sample):
    plain = ok(ingest_file(conn, samples / sample))
    snapshot = content(engine, skip=("archive.ingest_file",))
    data = (samples / sample).read_bytes()
    for suffix, compress in (
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
    ):
        path = tmp_path / (sample.name + suffix)
        path.write_bytes(compress(data))
        result = ok(ingest_file(conn, path))
        assert result.format == plain.format
        assert result.records == plain.records
        assert result.rejects == plain.rejects == 0
        assert sum(result.inserted.values()) == 0, (suffix, result.inserted)
        assert content(engine, skip=("archive.ingest_file",)) == snapshot
        assert ingest_file(conn, path).status == "unchanged"


def test_compressed_night_alone_equals_plain_night(engine, conn, samples, tmp_path):
    path = tmp_path / "prov.log.xz"
    path.write_bytes(lzma.compress((samples / NIGHT).read_bytes()))
    ok(ingest_file(conn, path))
    compressed = content(engine, skip=("archive.ingest_file",))
    truncate_archive(engine)
    ok(ingest_file(conn, samples / NIGHT))
    assert content(engine, skip=("archive.ingest_file",)) == compressed


# ----------------------------------------------------------------------------- 8. model


def test_model_links_descriptions(engine, conn, samples):
    model = load_model(samples / DEFINITION)
    ok(ingest_file(conn, samples / NIGHT, model=model))
    assert (
        scalar(
            engine, "SELECT count(*) FROM provenance.activity WHERE activity_description_id IS NULL"
        )
        == 0
    )
    described = rows(
        engine,
        "SELECT a.name, d.name FROM provenance.activity a "
        "JOIN provenance.activitydescription d ON d.id = a.activity_description_id "
        "GROUP BY 1, 2 ORDER BY 1",
    )
    assert described == [
        ("calibrate_charge", "calibrate_charge"),
        ("dl1_datacheck", "dl1_datacheck"),
        ("dl1ab", "dl1ab"),
        ("drs4_pedestal", "drs4_pedestal"),
        ("r0_to_dl1", "r0_to_dl1"),
    ]
    # every role of the sample is in the definition: every relation is described, by the
    # description of its own activity and role
    for table, column, desc in (
        ("used", "usage_description_id", "usagedescription"),
        ("wasgeneratedby", "generation_description_id", "generationdescription"),
    ):
        assert (
            scalar(engine, f"SELECT count(*) FROM provenance.{table} WHERE {column} IS NULL") == 0
        )
        mismatched = scalar(
            engine,
            f"SELECT count(*) FROM provenance.{table} r "
            "JOIN provenance.activity a ON a.id = r.activity_id "
            f"JOIN provenance.{desc} d ON d.id = r.{column} "
            "WHERE d.role IS DISTINCT FROM r.role "
            "OR d.activity_description_id IS DISTINCT FROM a.activity_description_id",
        )
        assert mismatched == 0, table
    assert (
        scalar(engine, "SELECT count(*) FROM provenance.entity WHERE entity_description_id IS NULL")
        == 0
    )
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM provenance.parameter WHERE parameter_description_id IS NULL",
        )
        == 0
    )


def test_model_role_that_does_not_match_stays_undescribed(engine, conn, samples, tmp_path):
    lines = lines_of(samples / NIGHT)
    path = tmp_path / "prov.log"
    path.write_bytes(
        b"".join(
            line.replace(b"'used_role': 'Pointing file'", b"'used_role': 'Mystery'")
            for line in lines
        )
    )
    ok(ingest_file(conn, path, model=load_model(samples / DEFINITION)))
    assert rows(
        engine,
        "SELECT role, count(*) FROM provenance.used WHERE usage_description_id IS NULL "
        "GROUP BY role",
    ) == [("Mystery", 20)]


# ----------------------------------------------------------------------------- 9. dry run


@pytest.mark.parametrize("sample", [NIGHT, CTAPIPE], ids=["lstosa", "ctapipe"])
def test_dry_run_writes_nothing_but_reports(engine, conn, samples, sample):
    before = counts(engine)
    result = ingest_file(
        conn, samples / sample, dry_run=True, model=load_model(samples / DEFINITION)
    )
    assert result.status == "dry-run" and result.error is None
    assert result.n_records == (920 if sample == NIGHT else 47)
    assert counts(engine) == before
    # and a real ingest afterwards is a first ingest
    assert ingest_file(conn, samples / sample).status == "new"


# ----------------------------------------------------------------------------- 11. generated


def test_generated_interleaved_night(engine, conn, synth, tmp_path):
    runs, subruns = 3, 4
    path = write_night(
        synth, tmp_path / "prov.log", runs, subruns, seed=1, interleave=4, packages=20
    )
    expected = synth.expected_counts(runs, subruns)
    result = ok(ingest_file(conn, path))
    assert result.rejects == 0
    assert result.other_lines == expected["warning"]
    assert result.records["Session"] == expected["session"]
    assert result.records["ActivityStart"] == expected["start"] == runs * subruns * 3 + 2
    assert result.records["Used"] == expected["used"]
    assert result.records["Generated"] == expected["generated"]
    assert scalar(engine, "SELECT count(*) FROM provenance.activity") == expected["start"]
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM provenance.activity WHERE end_time IS NULL OR "
            "session_id IS NULL OR id LIKE '%nostart%'",
        )
        == 0
    )
    assert scalar(engine, "SELECT count(*) FROM provenance.used") == expected["used"]
    assert scalar(engine, "SELECT count(*) FROM provenance.wasgeneratedby") == expected["generated"]
    assert scalar(engine, "SELECT count(*) FROM provenance.wasderivedfrom") == expected["derived"]
    assert scalar(engine, "SELECT count(*) FROM provenance.parameter") == expected["parameters"]
    # every r0_to_dl1 has its seven inputs and two outputs, whatever the interleaving
    per_activity = rows(
        engine,
        "SELECT a.name, (SELECT count(*) FROM provenance.used u WHERE u.activity_id = a.id), "
        "(SELECT count(*) FROM provenance.wasgeneratedby g WHERE g.activity_id = a.id) "
        "FROM provenance.activity a",
    )
    shape = {"r0_to_dl1": (7, 2), "dl1ab": (2, 1), "dl1_datacheck": (2, 3)}
    for name, used, generated in per_activity:
        if name in shape:
            assert (used, generated) == shape[name], name
    # session records are stored once per distinct context (run x node environment)
    assert (
        scalar(engine, "SELECT count(DISTINCT original_id) FROM archive.processing_session")
        == runs + 1
    )
    assert (
        scalar(engine, "SELECT count(*) FROM archive.processing_session") < expected["session"] // 2
    )
    assert scalar(engine, "SELECT count(*) FROM archive.environment") <= 2 * 40  # nodes x envs


def test_colliding_short_ids_never_merge(engine, conn, synth, tmp_path):
    """lstosa's 6-hex ids collide (spec §1.6): force collisions, same run and across runs."""
    data = b"".join(synth.generate_night(2, 3, seed=7, interleave=2, packages=3))
    starts = [
        (m.group(1), m.group(2).decode(), m.group(3).decode())
        for line in data.splitlines()
        if (m := START.search(line))
    ]
    by_tag: dict[str, list[bytes]] = {}
    for aid, _name, tag in starts:
        by_tag.setdefault(tag, []).append(aid)
    assert len({aid for aid, _, _ in starts}) == len(starts)  # no natural collision here
    # waves of 2 processes: (1807.0, 1807.1), (1807.2, 1808.0), (1808.1, 1808.2)
    cross_keep, cross_drop = by_tag["r0_to_dl1:01807"][-1], by_tag["r0_to_dl1:01808"][0]
    same_keep, same_drop = by_tag["dl1ab:01807"][0], by_tag["dl1ab:01807"][-1]
    for keep, drop in ((cross_keep, cross_drop), (same_keep, same_drop)):
        data = data.replace(b"'activity_id': '" + drop + b"'", b"'activity_id': '" + keep + b"'")
    path = tmp_path / "prov.log"
    path.write_bytes(data)
    result = ok(ingest_file(conn, path))
    assert result.rejects == 0
    assert scalar(engine, "SELECT count(*) FROM provenance.activity") == len(starts) == 20
    assert scalar(engine, "SELECT count(DISTINCT original_id) FROM provenance.activity") == 18
    for short, name, n_used, n_generated in (
        (cross_keep.decode(), "r0_to_dl1", 7, 2),
        (same_keep.decode(), "dl1ab", 2, 1),
    ):
        twins = rows(
            engine,
            "SELECT a.id, a.name, a.session_tag, a.end_time IS NOT NULL, "
            "(SELECT count(*) FROM provenance.used u WHERE u.activity_id = a.id), "
            "(SELECT count(*) FROM provenance.wasgeneratedby g WHERE g.activity_id = a.id), "
            "(SELECT count(*) FROM provenance.parameter p WHERE p.activity_id = a.id) "
            "FROM provenance.activity a WHERE a.original_id = :s ORDER BY a.start_time",
            s=short,
        )
        assert len(twins) == 2, twins
        assert twins[0][0] != twins[1][0]
        for _, act_name, _, ended, used, generated, params in twins:
            assert act_name == name and ended
            assert (used, generated) == (n_used, n_generated)
            assert params == (1 if name == "dl1ab" else 0)
        if name == "r0_to_dl1":
            assert {t[2] for t in twins} == {"r0_to_dl1:01807", "r0_to_dl1:01808"}
        else:
            assert {t[2] for t in twins} == {"dl1ab:01807"}
