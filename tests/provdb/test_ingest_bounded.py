"""Issue 18: one bad file never stops an ingest run, and no file can take unbounded work.

Each test runs the real ``provdb ingest`` in a subprocess on this test's own database,
with a good sample file placed *after* the bad one, so "the run goes on" is checked.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import run_cli
from tests.provdb.test_ingest_cli import NIGHT, summary_count

GOOD_LINE = (
    "INFO provLogger __PROV__2026-11-23T19:29:56.577353__PROV__{'entity_id': 'e1', "
    "'name': 'RawObservationFile', 'filepath': '/data/r0/run1.fits.fz', 'hash': 'e1', "
    "'hash_type': 'md5', 'type': 'File', 'session_tag': 'x'}\n"
)


def activities(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return c.execute(sa.text("SELECT count(*) FROM provenance.activity")).scalar_one()


def rejects(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as c:
        return [
            (r, n)
            for r, n in c.execute(
                sa.text("SELECT reason, octet_length(raw) FROM archive.ingest_reject")
            ).all()
        ]


def good_copy(samples: Path, folder: Path) -> Path:
    """The clean sample night log, named to sort after the bad files."""
    target = folder / "zz_good_prov.log"
    shutil.copy(samples / NIGHT, target)
    return target


def test_deeply_nested_json_fails_alone_and_the_run_goes_on(cli_env, engine, samples, tmp_path):
    deep = tmp_path / "a_deep.provenance.log"
    depth = 200_000
    deep.write_text(
        '[{"activity_name": "x", "activity_uuid": "u", "config": '
        + "[" * depth
        + "]" * depth
        + "}]"
    )
    good = good_copy(samples, tmp_path)
    result = run_cli("ingest", str(deep), str(good), env=cli_env)
    assert result.returncode == 2, result.stderr
    assert f"{deep}: nested too deeply to be read" in result.stderr
    assert "Traceback" not in result.stderr
    assert summary_count(result.stdout, "failed") == 1
    assert activities(engine) == 62  # the good file after it went in whole


def test_decompression_bomb_is_refused_and_the_run_goes_on(cli_env, engine, samples, tmp_path):
    bomb = tmp_path / "a_bomb_prov.log"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        fh.write(GOOD_LINE.encode())
        zeros = b"\0" * (1 << 20)
        for _ in range(64):  # 64 MiB of zeros in ~64 kB
            fh.write(zeros)
    assert bomb.stat().st_size < 200_000
    good = good_copy(samples, tmp_path)
    env = {**cli_env, "PROVDB_INGEST_RATIO_FLOOR_BYTES": str(4 << 20)}
    result = run_cli("ingest", str(bomb), str(good), env=env)
    assert result.returncode == 2, result.stderr
    assert f"{bomb}: gzip data expands more than 200 times" in result.stderr
    assert "decompression bomb" in result.stderr
    assert activities(engine) == 62
    with engine.connect() as c:  # nothing of the bomb was kept
        paths = c.execute(sa.text("SELECT path FROM archive.ingest_file")).scalars().all()
    assert paths == [str(good)]


def test_compressed_document_over_the_document_limit_is_refused(cli_env, engine, tmp_path):
    doc = tmp_path / "big.provenance.log.xz"
    import lzma

    with lzma.open(doc, "wb") as fh:
        fh.write(b'[{"activity_name": "x", "activity_uuid": "u", "pad": "')
        fh.write(b"a" * (3 << 20))
        fh.write(b'"}]')
    env = {**cli_env, "PROVDB_INGEST_MAX_DOCUMENT_BYTES": str(1 << 20)}
    result = run_cli("ingest", str(doc), env=env)
    assert result.returncode == 2, result.stderr
    assert "PROVDB_INGEST_MAX_DOCUMENT_BYTES" in result.stderr
    assert "Traceback" not in result.stderr


def test_oversized_line_is_one_reject_and_the_rest_of_the_file_goes_in(
    cli_env, engine, samples, tmp_path
):
    log = tmp_path / "long_prov.log"
    text = (samples / NIGHT).read_bytes()
    huge = GOOD_LINE.replace("/data/r0/run1.fits.fz", "/d/" + "x" * (20 << 20)).encode()
    log.write_bytes(huge + text)
    result = run_cli("ingest", str(log), env=cli_env)  # default limit: 16 MiB per line
    assert result.returncode == 1, result.stderr
    assert f"{log}:1: line of {len(huge):,} bytes is longer than" in result.stderr
    assert activities(engine) == 62
    [(reason, kept)] = rejects(engine)
    assert "PROVDB_INGEST_MAX_LINE_BYTES" in reason
    assert kept == 64 * 1024  # its first bytes, not 20 MB
    # offsets stayed exact: the grown file resumes after the line, nothing read twice
    with log.open("ab") as fh:
        fh.write(GOOD_LINE.replace("e1", "e2").encode())
    again = run_cli("ingest", str(log), env=cli_env)
    assert again.returncode == 0, again.stderr
    assert summary_count(again.stdout, "grown") == 1
    assert summary_count(again.stdout, "records read") == 1


def test_random_bytes_are_kept_as_rejects(cli_env, engine, tmp_path):
    noise = tmp_path / "noise.log"
    noise.write_bytes(os.urandom(1 << 20))
    result = run_cli("ingest", "--format", "lstosa", str(noise), env=cli_env)
    assert result.returncode == 1, result.stderr
    assert "binary data (control characters)" in result.stderr
    assert summary_count(result.stdout, "rejected lines") > 0
    assert len(rejects(engine)) == summary_count(result.stdout, "rejected lines")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_sockets_and_link_loops_are_skipped_never_opened(cli_env, engine, samples, tmp_path):
    folder = tmp_path / "night"
    folder.mkdir()
    good = good_copy(samples, folder)
    os.mkfifo(folder / "a_fifo.log")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "a_socket"))
    os.symlink("loop_b", folder / "loop_a")
    os.symlink("loop_a", folder / "loop_b")
    os.symlink("..", folder / "up")  # a link to a parent folder: a walk/glob loop
    os.symlink(".", folder / "self")
    try:
        for args in ([str(folder)], [str(tmp_path / "**" / "*.log")]):
            result = run_cli("ingest", *args, env=cli_env, timeout=120)
            assert result.returncode == 0, result.stderr
            assert summary_count(result.stdout, "new") in (1, None)
            if args == [str(folder)]:
                assert f"{folder / 'a_fifo.log'}: skipped: a FIFO" in result.stderr
                assert f"{folder / 'a_socket'}: skipped: a socket" in result.stderr
                assert f"{folder / 'loop_a'}: skipped: a symbolic link loop" in result.stderr
            else:
                assert "a_fifo.log: skipped: a FIFO" in result.stderr
        assert activities(engine) == 62
        with engine.connect() as c:
            paths = c.execute(sa.text("SELECT path FROM archive.ingest_file")).scalars().all()
        assert paths == [str(good)]
    finally:
        sock.close()


def test_field_too_large_for_the_archive_is_one_reject(cli_env, engine, tmp_path):
    log = tmp_path / "wide_prov.log"
    wide = GOOD_LINE.replace("/data/r0/run1.fits.fz", "/d/" + os.urandom(50_000).hex())
    log.write_text(wide + GOOD_LINE.replace("e1", "e3"))
    result = run_cli("ingest", str(log), env=cli_env)
    assert result.returncode == 1, result.stderr
    assert f"{log}:1: field 'filepath' is longer than 2,048 bytes" in result.stderr
    with engine.connect() as c:
        ids = c.execute(sa.text("SELECT id FROM provenance.entity")).scalars().all()
    assert ids == ["e3"]  # the next line of the same file went in
    [(reason, kept)] = rejects(engine)
    assert "PROVDB_INGEST_MAX_FIELD_BYTES" in reason
    assert kept == len(wide) - 1  # the line verbatim, without its newline
