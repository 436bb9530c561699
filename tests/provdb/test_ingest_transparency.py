"""What an ingest tells the operator: conflicting values (archive.ingest_conflict),
garbage vs diagnostics, rejected lines as safe text, and the summary's account of
grown, changed and partial files and of skipped files (``provdb ingest`` subprocess)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from provdb.ingest.pipeline import ingest_file
from provdb.ingest.raw_text import raw_text
from tests.conftest import run_cli

NIGHT = Path("generated/lstosa_simulate_processing/prov.log")
RAW_ID = "14ce42cc4e3b42a03e3fb86f75e61459"  # the night's first entity (line 3)


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[tuple]:
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql), params).all()]


def night_lines(samples: Path) -> list[bytes]:
    return (samples / NIGHT).read_bytes().splitlines(keepends=True)


def ingest(engine: sa.Engine, path: Path, **kw: Any):
    raw = engine.raw_connection()
    try:
        return ingest_file(raw.driver_connection, path, **kw)
    finally:
        raw.close()


def contradicting_log(samples: Path, folder: Path) -> Path:
    """A second log that gives the night's first entity another content type and size."""
    line = night_lines(samples)[2]
    assert RAW_ID.encode() in line and b"'application/fits'" in line
    other = line.replace(b"'application/fits'", b"'application/x-fits'")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "prov.log"
    path.write_bytes(b"WARNING provLogger an lstosa diagnostic\n" + other)
    return path


# ----------------------------------------------------------------------------- conflicts


def test_conflicting_values_are_counted_stored_and_not_duplicated(engine, samples, tmp_path):
    first = ingest(engine, samples / NIGHT)
    assert first.status == "new" and first.conflicts == 0
    second_path = contradicting_log(samples, tmp_path / "b")
    second = ingest(engine, second_path)
    assert second.error is None and second.status == "new"
    assert second.conflicts == 1
    assert rows(
        engine,
        "SELECT f.path, c.line_number, c.table_name, c.object_id, c.attribute, "
        "c.kept_value, c.new_value FROM archive.ingest_conflict c "
        "JOIN archive.ingest_file f ON f.id = c.ingest_file_id",
    ) == [
        (
            str(second_path),
            2,
            "provenance.entity",
            RAW_ID,
            "content_type",
            "application/fits",
            "application/x-fits",
        )
    ]
    # the first sighting is kept
    assert rows(engine, "SELECT content_type FROM provenance.entity WHERE id = :i", i=RAW_ID) == [
        ("application/fits",)
    ]
    # unchanged: skipped; touched: same bytes, nothing read again; no duplicate either way
    assert ingest(engine, second_path).status == "unchanged"
    second_path.touch()
    ingest(engine, second_path)
    # changed: read again from the start, its conflicts replaced, not added
    with open(second_path, "ab") as fh:
        fh.write(b"INFO another diagnostic\n")
    second_path.write_bytes(second_path.read_bytes().replace(b"an lstosa", b"one lstosa"))
    again = ingest(engine, second_path)
    assert again.status == "changed" and again.conflicts == 1
    assert again.restart_reason.startswith("sha256 of the first ")
    assert rows(engine, "SELECT count(*) FROM archive.ingest_conflict") == [(1,)]


def test_summary_reports_conflicts(cli_env, engine, samples, tmp_path) -> None:
    assert run_cli("ingest", "-q", str(samples / NIGHT), env=cli_env).returncode == 0
    second = contradicting_log(samples, tmp_path / "b")
    result = run_cli("ingest", str(second), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "1 conflicting value(s) kept the first sighting; see archive.ingest_conflict" in (
        result.stdout
    )
    assert f"{second}: 1 conflicting value(s) kept the first sighting" in result.stdout


# ----------------------------------------------------------------------------- garbage


def test_garbage_is_rejected_and_diagnostics_are_counted(engine, samples, tmp_path) -> None:
    lines = night_lines(samples)
    garbage = b"\x1b[31mrm -rf \xff\xfe garbage\x00 line\n"
    path = tmp_path / "prov.log"
    path.write_bytes(
        b"".join(lines[:4])
        + b"ERROR provLogger a real diagnostic\n"
        + garbage
        + b"".join(lines[4:])
    )
    rejected: list[str] = []
    result = ingest(engine, path, on_reject=rejected.append)
    assert result.error is None
    assert result.rejects == 1
    assert rejected == [f"{path}:6: " + rejected[0].split(": ", 1)[1]]
    # binary bytes are named as such (the reader); text garbage as "not a diagnostic"
    assert "binary data (control characters), neither a provenance record" in rejected[0]
    clean = ingest(engine, samples / NIGHT)
    assert result.other_lines == clean.other_lines + 1  # the ERROR line is a diagnostic
    ((line, raw, text, is_error),) = rows(
        engine, "SELECT line_number, raw, raw_text, is_error FROM archive.ingest_reject"
    )
    assert (line, bytes(raw), is_error) == (6, garbage[:-1], True)
    assert text == "\\x1b[31mrm -rf \\xff\\xfe garbage\\x00 line" == raw_text(garbage[:-1])
    assert rows(
        engine,
        "SELECT n_rejects, n_other_lines FROM archive.ingest_file WHERE path = :p",
        p=str(path),
    ) == [(1, clean.other_lines + 1)]


# ----------------------------------------------------------------------------- summary


def test_summary_says_where_a_grown_file_was_read_on_and_what_was_left(
    cli_env, engine, samples, tmp_path
) -> None:
    lines = night_lines(samples)
    path = tmp_path / "prov.log"
    head = b"".join(lines[:100])
    torn = lines[100][:30]
    path.write_bytes(head + torn)
    first = run_cli("ingest", str(path), env=cli_env)
    assert first.returncode == 0, first.stderr
    assert (
        f"{path}: partial: torn tail at line 101 (30 bytes without an end of line) left for "
        "the next run" in first.stdout
    )
    path.write_bytes(b"".join(lines[:200]))
    grown = run_cli("ingest", str(path), env=cli_env)
    assert grown.returncode == 0, grown.stderr
    assert f"{path}: grown: read on from byte {len(head):,} (line 101): 100 more line(s)" in (
        grown.stdout
    )
    # rewritten in the part already read: read again, and the summary says why
    assert lines[0].startswith(b"INFO ")
    path.write_bytes(b"WARN" + b"".join(lines[:200])[4:])  # same size, other bytes
    changed = run_cli("ingest", str(path), env=cli_env)
    assert changed.returncode == 0, changed.stderr
    size = len(b"".join(lines[:200]))
    assert (
        f"{path}: changed: read again from the start: sha256 of the first {size:,} bytes "
        "differs from the last ingest" in changed.stdout
    )
    # truncated below what was read
    path.write_bytes(b"".join(lines[:10]))
    short = run_cli("ingest", str(path), env=cli_env)
    assert short.returncode == 0, short.stderr
    assert "fewer than the" in short.stdout and "(truncated or replaced)" in short.stdout


def test_skipped_files_are_summarised_by_reason_and_listed_with_v(
    cli_env, engine, samples, tmp_path
) -> None:
    folder = tmp_path / "night"
    folder.mkdir()
    shutil.copyfile(samples / NIGHT, folder / "prov.log")
    for name in ("a.h5", "b.h5", "c.fits.fz"):
        (folder / name).write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    (folder / "empty.log").write_bytes(b"")
    (folder / "notes.txt").write_text("nothing to see\n")
    quiet = run_cli("ingest", str(folder), env=cli_env)
    assert quiet.returncode == 0, quiet.stderr
    assert "5 file(s) in the given folders are not provenance logs and were skipped" in (
        quiet.stderr
    )
    assert "  2 HDF5 files: use provdb scan" in quiet.stderr
    assert "  1 FITS file: use provdb scan" in quiet.stderr
    assert "  1 empty file: nothing to read" in quiet.stderr
    assert "  1 other file: not a provenance log provdb reads" in quiet.stderr
    assert str(folder / "a.h5") not in quiet.stderr
    verbose = run_cli("ingest", "-v", str(folder), env=cli_env)
    assert verbose.returncode == 0, verbose.stderr
    listed = verbose.stderr.splitlines()
    at = listed.index("  2 HDF5 files: use provdb scan")
    assert listed[at + 1 : at + 3] == [f"    {folder / 'a.h5'}", f"    {folder / 'b.h5'}"]
    assert f"    {folder / 'notes.txt'}" in listed
