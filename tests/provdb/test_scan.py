"""``provdb scan``: readers, safe config decoding, the pipeline and the command.

The sample HDF5 files (``generated/lstchain_hdf5``, attributes listed in
``hdf5_attributes_dump.txt``) and a tree generated here with h5py and astropy: root
attributes as str and bytes, a JSON config, pickled configs (plain, and with a Python
object that must stay opaque), Python-repr configs, table versions that differ from
the root's, /provenance/dl1_to_dl2, FITS headers and HISTORY, a corrupt .h5 and a
truncated .fits.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import re
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from provdb.ingest.identifiers import path_entity_id
from provdb.scan.metadata import FileMetadata, decode_config, jsonable
from provdb.scan.safe_pickle import NotPlainPickle, loads_plain
from tests.conftest import run_cli

H5_SAMPLES = Path("generated/lstchain_hdf5")

#: versions of the sample files, as hdf5_attributes_dump.txt shows them
SAMPLE_VERSIONS = {
    "dl1_LST-1.Run01807.0000.h5": {
        ("lstchain", "0.12.3", "file-root", "CTA ACTIVITY SOFTWARE VERSION"),
    },
    "dl1_meta_sample.h5": {
        ("lstchain", "0.12.3", "file-root", "LSTCHAIN_VERSION"),
        ("ctapipe", "0.25.1", "file-root", "CTAPIPE_VERSION"),
        ("ctapipe_io_lst", "0.29.2", "file-root", "CTAPIPE_IO_LST_VERSION"),
    },
    "dl2_LST-1.Run01807.0000.h5": {
        ("lstchain", "0.12.3", "file-root", "LSTCHAIN_VERSION"),
        ("ctapipe", "0.25.1", "file-root", "CTAPIPE_VERSION"),
        ("ctapipe_io_lst", "0.29.2", "file-root", "CTAPIPE_IO_LST_VERSION"),
    },
}

CONFIG = {
    "source_config": {"EventSource": {"allowed_tels": [1], "max_events": None}},
    "tailcut": {"picture_thresh": 8, "boundary_thresh": 4, "keep_isolated_pixels": False},
    "events_filters": {"intensity": [0, 1e9]},
    "n_training_events": 0.8,
}

ACTIVITY_UUID = "0b7a5a4e-2a2b-4c4f-9d7e-1234567890ab"


# ----------------------------------------------------------------------------- tree


def _h5_table(f: Any, path: str, **attrs: Any) -> None:
    data = np.zeros(3, dtype=[("obs_id", "<i8"), ("event_id", "<i8")])
    ds = f.create_dataset(path, data=data)
    ds.attrs["CLASS"] = np.bytes_(b"TABLE")
    for key, value in attrs.items():
        ds.attrs[key] = value


def make_tree(root: Path) -> dict[str, Any]:
    """Write the test tree; returns what a scan must find, by path relative to ``root``.

    ``versions``: {relpath: {(package, version, source, keyword)}}; ``failed``:
    {relpath: reason pattern}; ``skipped``: relpaths; ``configs``: {relpath: encoding}.
    """
    import h5py
    from astropy.io import fits

    for sub in ("dl1", "dl2", "calib", "old", "dl3", "irf", "bad", "other"):
        (root / sub).mkdir(parents=True, exist_ok=True)

    # DL1: root attributes as bytes and as str, JSON config on a table, a table copied
    # from an earlier step that keeps its own (older) lstchain version
    with h5py.File(root / "dl1/dl1_LST-1.Run02000.0000.h5", "w") as f:
        f.attrs["LSTCHAIN_VERSION"] = np.bytes_(b"0.9.13")
        f.attrs["CTAPIPE_VERSION"] = "0.17.0"
        f.attrs["CTAPIPE_IO_LST_VERSION"] = np.bytes_(b"0.18.2")
        f.attrs["CONTACT"] = np.bytes_(b"LST Consortium")
        _h5_table(
            f,
            "dl1/event/telescope/parameters/LST_LSTCam",
            LSTCHAIN_VERSION=np.bytes_(b"0.9.13"),
            CTAPIPE_VERSION=np.bytes_(b"0.17.0"),
            config=np.bytes_(json.dumps(CONFIG).encode()),
        )
        _h5_table(
            f,
            "dl1/event/telescope/monitoring/pedestal",
            LSTCHAIN_VERSION=np.bytes_(b"0.9.10"),
            config=np.bytes_(json.dumps(CONFIG).encode()),
        )
    # DL2: PyTables' pickled dict (protocol 0, shown as bytes by h5py) and the running
    # dl1_to_dl2 activity in /provenance
    activity = {
        "activity_name": "lstchain_dl1_to_dl2",
        "activity_uuid": ACTIVITY_UUID,
        "status": "running",
        "start": {"time_utc": "2026-11-23T19:37:00.739"},
        "stop": {},
        "system": {
            "ctapipe_version": "0.17.0",
            "python": {
                "version_string": "3.11.7",
                "packages": [
                    {"name": "lstchain", "version": "0.9.13"},
                    {"name": "ctapipe-io-lst", "version": "0.18.2"},
                    {"name": "requests", "version": "2.31.0"},
                ],
            },
        },
        "input": [
            {"url": str(root / "dl1/dl1_LST-1.Run02000.0000.h5"), "role": "dl1 input file"},
            {"url": "/models/20200117", "role": "RF models"},
        ],
        "output": [],
        "exit_code": None,
        "config": {"DL1ToDL2": {"n_events": 5}},
    }
    with h5py.File(root / "dl2/dl2_LST-1.Run02000.0000.h5", "w") as f:
        f.attrs["LSTCHAIN_VERSION"] = np.bytes_(b"0.9.13")
        f.attrs["CTAPIPE_VERSION"] = np.bytes_(b"0.17.0")
        _h5_table(
            f,
            "dl2/event/telescope/parameters/LST_LSTCam",
            LSTCHAIN_VERSION=np.bytes_(b"0.9.13"),
            config=np.bytes_(pickle.dumps(CONFIG, protocol=0)),
        )
        f.create_dataset(
            "provenance/dl1_to_dl2", data=json.dumps(activity), dtype=h5py.string_dtype()
        )
    # DL2 whose pickled config is an opaque value (np.void) holding a Python object
    with h5py.File(root / "dl2/dl2_LST-1.Run02000.0001.h5", "w") as f:
        f.attrs["LSTCHAIN_VERSION"] = np.bytes_(b"0.10.5")
        config = {**CONFIG, "output": PurePosixPath("/data/out.h5")}
        _h5_table(
            f,
            "dl2/event/telescope/parameters/LST_LSTCam",
            config=np.void(pickle.dumps(config, protocol=2)),
        )
    # time calibration: Python-repr config at the root (h5py), 'v'-prefixed version
    with h5py.File(root / "calib/time_calibration.Run02000.0000.h5", "w") as f:
        f.attrs["LSTCHAIN_VERSION"] = "v0.9.13"
        f.attrs["config"] = str({"TimeCorrectionCalculate": {"n_combine": 8, "range": (0, 4)}})
        f.attrs["n_events"] = 20000
        f.attrs["n_harm"] = 16
    # a traitlets repr that is no Python literal
    with h5py.File(root / "calib/drs4_pedestal.Run02000.0000.h5", "w") as f:
        f.attrs["LSTCHAIN_VERSION"] = "0.9.13"
        f.attrs["config"] = "{'DRS4Tool': {'unit': <Quantity 1. deg>}}"
    # lstchain < 0.8: no metadata at all
    with h5py.File(root / "old/dl1_LST-1.Run01000.0000.h5", "w") as f:
        _h5_table(f, "dl1/event/telescope/parameters/LST_LSTCam")

    # DL3 FITS: CREATOR, HIERARCH version keyword, HISTORY
    primary = fits.PrimaryHDU()
    primary.header["CREATOR"] = "lstchain v0.9.13"
    primary.header["TELESCOP"] = "CTA-N"
    primary.header.add_history("Created with ctapipe v0.17.0")
    events = fits.BinTableHDU.from_columns(
        [fits.Column(name="ENERGY", format="E", array=np.ones(10))], name="EVENTS"
    )
    events.header["HDUCLAS1"] = "EVENTS"
    events.header["HIERARCH CTAPIPE_IO_LST_VERSION"] = "0.18.2"
    fits.HDUList([primary, events]).writeto(root / "dl3/dl3_LST-1.Run02000.fits")
    # IRF, gzip-compressed: PROGRAM + PROGVER
    irf_primary = fits.PrimaryHDU()
    irf_primary.header["PROGRAM"] = "pyirf"
    irf_primary.header["PROGVER"] = "0.8.1"
    irf_primary.header.add_history("gammapy version 1.1")
    buffer = root / "irf/irf.fits"
    fits.HDUList([irf_primary]).writeto(buffer)
    (root / "irf/irf.fits.gz").write_bytes(gzip.compress(buffer.read_bytes()))
    buffer.unlink()

    # bad files
    (root / "bad/corrupt.h5").write_bytes(b"this is not HDF5\n" * 64)
    good = (root / "dl3/dl3_LST-1.Run02000.fits").read_bytes()
    (root / "bad/truncated.fits").write_bytes(good[: len(good) - 2000])
    (root / "other/readme.txt").write_text("not a data file\n")

    return {
        "versions": {
            "dl1/dl1_LST-1.Run02000.0000.h5": {
                ("lstchain", "0.9.13", "file-root", "LSTCHAIN_VERSION"),
                ("ctapipe", "0.17.0", "file-root", "CTAPIPE_VERSION"),
                ("ctapipe_io_lst", "0.18.2", "file-root", "CTAPIPE_IO_LST_VERSION"),
                (
                    "lstchain",
                    "0.9.10",
                    "file-table:/dl1/event/telescope/monitoring/pedestal",
                    "LSTCHAIN_VERSION",
                ),
            },
            "dl2/dl2_LST-1.Run02000.0000.h5": {
                ("lstchain", "0.9.13", "file-root", "LSTCHAIN_VERSION"),
                ("ctapipe", "0.17.0", "file-root", "CTAPIPE_VERSION"),
            },
            "dl2/dl2_LST-1.Run02000.0001.h5": {
                ("lstchain", "0.10.5", "file-root", "LSTCHAIN_VERSION"),
            },
            "calib/time_calibration.Run02000.0000.h5": {
                ("lstchain", "0.9.13", "file-root", "LSTCHAIN_VERSION"),
            },
            "calib/drs4_pedestal.Run02000.0000.h5": {
                ("lstchain", "0.9.13", "file-root", "LSTCHAIN_VERSION"),
            },
            "old/dl1_LST-1.Run01000.0000.h5": set(),
            "dl3/dl3_LST-1.Run02000.fits": {
                ("lstchain", "0.9.13", "file-root", "CREATOR"),
                ("ctapipe", "0.17.0", "file-root", "HISTORY"),
                ("ctapipe_io_lst", "0.18.2", "file-table:EVENTS", "CTAPIPE_IO_LST_VERSION"),
            },
            "irf/irf.fits.gz": {
                ("pyirf", "0.8.1", "file-root", "PROGRAM+PROGVER"),
                ("gammapy", "1.1", "file-root", "HISTORY"),
            },
        },
        "configs": {
            "dl1/dl1_LST-1.Run02000.0000.h5": "json",
            "dl2/dl2_LST-1.Run02000.0000.h5": "pickle",
            "dl2/dl2_LST-1.Run02000.0001.h5": "pickle-opaque",
            "calib/time_calibration.Run02000.0000.h5": "python-literal",
            "calib/drs4_pedestal.Run02000.0000.h5": "text",
        },
        "data_levels": {
            "dl1/dl1_LST-1.Run02000.0000.h5": "DL1",
            "dl2/dl2_LST-1.Run02000.0000.h5": "DL2",
            "dl3/dl3_LST-1.Run02000.fits": "DL3",
        },
        "failed": {
            "bad/corrupt.h5": r"not an HDF5 file",
            "bad/truncated.fits": r"truncated",
        },
        "skipped": {"other/readme.txt"},
    }


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    root = tmp_path / "data"
    return root, make_tree(root)


def read_any(path: Path) -> Any:
    from provdb.scan.pipeline import classify, read_file

    kind = classify(path)
    assert kind is not None, path
    return read_file(str(path), kind)


def file_versions(engine: sa.Engine) -> dict[str, set[tuple[str, str, str, str]]]:
    """Software rows of scanned files, by location."""
    with engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT e.location, w.package, w.version, w.source, w.keyword "
                "FROM archive.software w JOIN provenance.entity e ON e.id = w.entity_id"
            )
        ).all()
    out: dict[str, set[tuple[str, str, str, str]]] = {}
    for loc, *rest in rows:
        out.setdefault(loc, set()).add(tuple(rest))  # type: ignore[arg-type]
    return out


def sync_sessions(engine: sa.Engine) -> int:
    """What the ingest does after each file (provdb.versions.sync_session_versions)."""
    from provdb.versions import sync_session_versions

    with engine.begin() as c:
        return sync_session_versions(c)


def scan_conn(engine: sa.Engine) -> Any:
    """A raw psycopg connection on the test database (close it)."""
    return engine.raw_connection()


# ----------------------------------------------------------------------------- safe pickle


@pytest.mark.parametrize("protocol", range(6))
def test_plain_pickles_are_rebuilt_without_unpickling(protocol: int) -> None:
    value = {
        "a": [1, 2.5, None, True, False, "é", (1, 2)],
        "b": {"set": {3, 1}, 7: "seven", "big": 2**70},
    }
    assert loads_plain(pickle.dumps(value, protocol=protocol)) == {
        "a": [1, 2.5, None, True, False, "é", [1, 2]],
        "b": {"set": [1, 3], 7: "seven", "big": 2**70},
    }


def test_pickles_with_code_or_objects_are_refused() -> None:
    evil = b"cos\nsystem\n(S'touch /tmp/provdb-pwned'\ntR."
    with pytest.raises(NotPlainPickle, match=r"GLOBAL os\.system"):
        loads_plain(evil)
    with pytest.raises(NotPlainPickle, match="pathlib"):
        loads_plain(pickle.dumps({"p": PurePosixPath("/x")}, protocol=4))
    with pytest.raises(NotPlainPickle, match="byte string"):
        loads_plain(pickle.dumps({"b": b"raw"}, protocol=3))
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(NotPlainPickle, match="self-referencing"):
        loads_plain(pickle.dumps(loop))
    for broken in (b"", b"(dp0\nVa\np1\n", b"\x80\x04garbage"):
        with pytest.raises(NotPlainPickle, match="not a valid pickle"):
            loads_plain(broken)
    assert not os.path.exists("/tmp/provdb-pwned")


def test_decode_config_handles_the_three_encodings() -> None:
    as_json = decode_config(np.bytes_(json.dumps(CONFIG).encode()), "/t")
    assert (as_json.encoding, as_json.value) == ("json", CONFIG)
    as_pickle = decode_config(pickle.dumps(CONFIG, protocol=0), "/t")
    assert (as_pickle.encoding, as_pickle.value) == ("pickle", CONFIG)
    assert "without unpickling" in (as_pickle.note or "")
    opaque = decode_config(pickle.dumps({"o": PurePosixPath("/x")}, protocol=2), "/t")
    assert opaque.encoding == "pickle-opaque" and opaque.value is None
    assert opaque.base64 and "not unpickled" in (opaque.note or "")
    literal = decode_config("{'a': (1, 2), 'b': None}", "/")
    assert (literal.encoding, literal.value) == ("python-literal", {"a": [1, 2], "b": None})
    text = decode_config("{'a': <Quantity 1. deg>}", "/")
    assert text.encoding == "text" and text.value.startswith("{'a'") and text.note
    binary = decode_config(b"\xff\xfe\x00\x01", "/")
    assert binary.encoding == "opaque" and binary.base64


# ----------------------------------------------------------------------------- readers


def test_sample_hdf5_files_give_the_versions_of_the_dump(samples: Path) -> None:
    dump = (samples / H5_SAMPLES / "hdf5_attributes_dump.txt").read_text()
    for name, expected in SAMPLE_VERSIONS.items():
        meta = read_any(samples / H5_SAMPLES / name)
        assert meta.error is None, meta.error
        assert set(meta.versions) == expected, name
        for package, version, _, keyword in expected:
            # every version comes from an attribute the dump lists for that file
            section = dump.split(f"FILE {name}")[1].split("=" * 20)[0]
            assert f"'{keyword}': bytes_ = b'{version}'" in section, (name, package)
    dl2 = read_any(samples / H5_SAMPLES / "dl2_LST-1.Run01807.0000.h5")
    assert dl2.config_encoding == "pickle" and dl2.data_level == "DL2"
    assert dl2.config["tailcut"]["picture_thresh"] == 8
    # the restricted reader agrees with a real unpickling of this (trusted) sample file
    import h5py

    with h5py.File(samples / H5_SAMPLES / "dl2_LST-1.Run01807.0000.h5") as f:
        raw = bytes(f["dl2/event/telescope/parameters/LST_LSTCam"].attrs["config"])
    assert jsonable(pickle.loads(raw)) == dl2.config  # (inf as text: jsonb has no inf)
    activity = dl2.provenance["dl1_to_dl2"]
    assert activity["activity_uuid"] == "eeeede2d-482b-4443-bde2-2e3a20af5149"
    assert activity["status"] == "running" and activity["stop"] == {}
    meta = read_any(samples / H5_SAMPLES / "dl1_meta_sample.h5")
    assert meta.config_encoding == "json" and meta.configs[0]["nodes"] == [
        "/dl1/event/telescope/monitoring/pedestal"
    ]
    assert meta.extra["root_attributes"]["CONTACT"] == "LST Consortium"


def test_generated_tree_readers(tree: tuple[Path, dict[str, Any]]) -> None:
    root, expected = tree
    for rel, versions in expected["versions"].items():
        meta = read_any(root / rel)
        assert meta.error is None, (rel, meta.error)
        assert set(meta.versions) == versions, rel
    for rel, encoding in expected["configs"].items():
        assert read_any(root / rel).configs[0]["encoding"] == encoding, rel
    for rel, level in expected["data_levels"].items():
        assert read_any(root / rel).data_level == level, rel
    for rel, reason in expected["failed"].items():
        meta = read_any(root / rel)
        assert meta.error and re.search(reason, meta.error), (rel, meta.error)
    calib = read_any(root / "calib/time_calibration.Run02000.0000.h5")
    assert calib.config == {"TimeCorrectionCalculate": {"n_combine": 8, "range": [0, 4]}}
    assert calib.extra["root_attributes"]["n_harm"] == 16
    dl3 = read_any(root / "dl3/dl3_LST-1.Run02000.fits")
    assert dl3.history == ["Created with ctapipe v0.17.0"]
    assert dl3.extra["primary_header"]["TELESCOP"] == "CTA-N"


def _as_json(meta: FileMetadata) -> dict[str, Any]:
    """Everything read from a file, as comparable JSON-able values."""
    data = asdict(meta)
    data["versions"] = [v._asdict() for v in meta.versions]
    return jsonable(data)


def test_parallel_reading_gives_the_serial_result(tree: tuple[Path, dict[str, Any]]) -> None:
    from provdb.scan.pipeline import _read_all, classify

    root, _ = tree
    tasks = [
        (str(p), kind, "md5")
        for p in sorted(root.rglob("*"))
        if p.is_file() and (kind := classify(p)) is not None
    ]
    serial = [(_as_json(m), text) for m, text in _read_all(tasks, 1)]
    parallel = [(_as_json(m), text) for m, text in _read_all(tasks, 2)]
    assert len(serial) == len(tasks) >= 10
    assert parallel == serial


# ----------------------------------------------------------------------------- archive


def test_scan_samples_records_entities_and_versions(
    engine: sa.Engine, cli_env: dict[str, str], samples: Path
) -> None:
    folder = samples / H5_SAMPLES
    result = run_cli("scan", str(folder), env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "scanned (new)" in result.stdout and "software versions found" in result.stdout
    got = file_versions(engine)
    for name, expected in SAMPLE_VERSIONS.items():
        path = str((folder / name).resolve())
        assert got[path] == expected
        with engine.connect() as c:
            row = c.execute(
                sa.text(
                    "SELECT id, content_type, size_bytes, attributes -> 'scan' "
                    "FROM provenance.entity WHERE location = :p"
                ),
                {"p": path},
            ).one()
        assert row[0] == path_entity_id(path)
        assert row[1] == "application/x-hdf" and row[2] == (folder / name).stat().st_size
        assert row[3]["format"] == "hdf5" and row[3]["mtime"].endswith("Z")
    # the dl2 file's /provenance activity is in the graph: it generated the file and
    # used the dl1 file; its 'running' status is not recorded as final
    dl2 = path_entity_id(str((folder / "dl2_LST-1.Run01807.0000.h5").resolve()))
    with engine.connect() as c:
        gen = c.execute(
            sa.text(
                "SELECT a.id, a.status, g.role FROM provenance.wasgeneratedby g "
                "JOIN provenance.activity a ON a.id = g.activity_id WHERE g.entity_id = :e"
            ),
            {"e": dl2},
        ).one()
        ancestors = c.execute(
            sa.text(
                "SELECT e.location FROM archive.lineage l "
                "JOIN provenance.entity e ON e.id = l.ancestor_id WHERE l.entity_id = :e"
            ),
            {"e": dl2},
        ).scalars()
        session_rows = c.execute(
            sa.text("SELECT package, version, source FROM archive.software WHERE session_id = :s"),
            {"s": "ctapipe:" + gen[0]},
        ).all()
    assert gen == ("eeeede2d-482b-4443-bde2-2e3a20af5149", None, "output (/provenance/dl1_to_dl2)")
    assert "/tmp/lst-ctapipe-run/dl1_LST-1.Run01807.0000.h5" in set(ancestors)
    assert ("ctapipe", "0.25.1", "ctapipe") in session_rows
    assert ("lstchain", "0.12.3", "environment") in session_rows


def test_scan_tree_reports_bad_files_and_keeps_the_rest(
    engine: sa.Engine, cli_env: dict[str, str], tree: tuple[Path, dict[str, Any]]
) -> None:
    root, expected = tree
    result = run_cli("scan", str(root), env=cli_env)
    assert result.returncode == 1, result.stderr
    for rel, reason in expected["failed"].items():
        line = next(ln for ln in result.stderr.splitlines() if ln.startswith(str(root / rel)))
        assert re.match(rf"{re.escape(str(root / rel))}: .*{reason}", line), line
    assert "Traceback" not in result.stderr
    got = file_versions(engine)
    for rel, versions in expected["versions"].items():
        assert got.get(str(root / rel), set()) == versions, rel
    with engine.connect() as c:
        books = dict(
            c.execute(sa.text("SELECT path, status FROM archive.scan_file")).all()  # type: ignore[arg-type]
        )
        configs = dict(
            c.execute(
                sa.text(
                    "SELECT location, attributes #> '{scan,configs,0}' FROM provenance.entity "
                    "WHERE attributes ? 'scan'"
                )
            ).all()  # type: ignore[arg-type]
        )
    for rel in expected["versions"]:
        assert books[str(root / rel)] == "ok"
    for rel in expected["failed"]:
        assert books[str(root / rel)] == "failed"
    assert str(root / "other/readme.txt") not in books
    pickled = configs[str(root / "dl2/dl2_LST-1.Run02000.0000.h5")]
    assert pickled["encoding"] == "pickle" and pickled["value"] == CONFIG
    opaque = configs[str(root / "dl2/dl2_LST-1.Run02000.0001.h5")]
    assert opaque["encoding"] == "pickle-opaque" and "pathlib" in opaque["note"]
    assert opaque["base64"]  # kept as bytes, never unpickled


def test_scan_is_incremental(engine: sa.Engine, tree: tuple[Path, dict[str, Any]]) -> None:
    from provdb.ingest.pipeline import discover
    from provdb.scan.pipeline import scan_files

    root, expected = tree
    files, _, explicit = discover([str(root)])
    raw = scan_conn(engine)
    try:
        conn = raw.driver_connection
        first = scan_files(conn, files, explicit=explicit)
        assert first.statuses["new"] == len(expected["versions"])
        second = scan_files(conn, files, explicit=explicit)
        assert second.statuses["unchanged"] == len(expected["versions"])
        assert second.statuses["new"] == second.statuses["changed"] == 0
        # bad files are tried again (and reported again)
        assert second.statuses["failed"] == len(expected["failed"])
        assert second.versions == 0
        # a file touched or rewritten is read again; its versions are replaced
        import h5py

        target = root / "calib/time_calibration.Run02000.0000.h5"
        with h5py.File(target, "a") as f:
            f.attrs["LSTCHAIN_VERSION"] = "0.9.14"
        st = target.stat()
        os.utime(target, (st.st_atime, st.st_mtime + 10))
        third = scan_files(conn, files, explicit=explicit, hash_name="sha256")
        statuses = {o.path: o.status for o in third.outcomes}
        assert statuses[str(target)] == "changed"
        # asking for a checksum reads again the files recorded without one
        assert third.statuses["changed"] == len(expected["versions"])
        fourth = scan_files(conn, files, explicit=explicit, hash_name="sha256")
        assert fourth.statuses["unchanged"] == len(expected["versions"])
    finally:
        raw.close()
    assert file_versions(engine)[str(target)] == {
        ("lstchain", "0.9.14", "file-root", "LSTCHAIN_VERSION")
    }
    import hashlib

    with engine.connect() as c:
        digest, kind = c.execute(
            sa.text(
                "SELECT content_hash, content_hash_type FROM provenance.entity WHERE location = :p"
            ),
            {"p": str(target)},
        ).one()
    assert (digest, kind) == (hashlib.sha256(target.read_bytes()).hexdigest(), "sha256")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_scan_jobs_give_the_same_archive(
    engine: sa.Engine, cli_env: dict[str, str], tree: tuple[Path, dict[str, Any]], jobs: str
) -> None:
    root, expected = tree
    result = run_cli("scan", "--jobs", jobs, "--hash", "md5", "-q", str(root), env=cli_env)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""  # --quiet: no summary
    got = file_versions(engine)
    assert {k: v for k, v in got.items() if k.startswith(str(root))} == {
        str(root / rel): v for rel, v in expected["versions"].items() if v
    }
    with engine.connect() as c:
        hashes = c.execute(
            sa.text("SELECT count(*) FROM provenance.entity WHERE content_hash_type = 'md5'")
        ).scalar_one()
    assert hashes == len(expected["versions"])


def test_scan_explicit_non_data_file_and_missing_path(
    cli_env: dict[str, str], tree: tuple[Path, dict[str, Any]]
) -> None:
    root, _ = tree
    result = run_cli("scan", str(root / "other/readme.txt"), env=cli_env)
    assert result.returncode == 1
    assert f"{root / 'other/readme.txt'}: not an HDF5 or FITS file" in result.stderr
    result = run_cli("scan", str(root / "nope"), str(root / "dl1"), env=cli_env)
    assert result.returncode == 2
    assert f"{root / 'nope'}: no such file or directory" in result.stderr


def _lstosa_log_for(root: Path, samples: Path) -> tuple[Path, Path]:
    """The sample night's prov.log with its files moved under ``root`` (ids recomputed as
    lstosa computes them); returns the log and the path of one of its DL1b files."""
    text = (samples / "generated/lstosa_simulate_processing/prov.log").read_text()
    prefix = "/tmp/lst-osa-run/test_osa/test_files0"
    ids = {}
    for m in re.finditer(r"'entity_id': '([0-9a-f]{32})'[^{}]*?'filepath': '([^']+)'", text):
        ids[m.group(1)] = path_entity_id(m.group(2).replace(prefix, str(root)))
    text = text.replace(prefix, str(root))
    for old, new in ids.items():
        text = text.replace(old, new)
    log = root / "prov.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(text)
    return log, root / "DL1/20200117/v0.1.0/tailcut84/dl1_LST-1.Run01807.0000.h5"


def test_a_scanned_file_and_the_same_file_in_a_prov_log_are_one_entity(
    engine: sa.Engine, cli_env: dict[str, str], samples: Path, tmp_path: Path
) -> None:
    import h5py

    root = tmp_path / "osa"
    log, dl1 = _lstosa_log_for(root, samples)
    result = run_cli("ingest", "-q", str(log), env=cli_env)
    assert result.returncode == 0, result.stderr
    sync_sessions(engine)
    dl1.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(dl1, "w") as f:
        f.attrs["LSTCHAIN_VERSION"] = np.bytes_(b"0.12.3")
    result = run_cli("scan", "-q", str(dl1), env=cli_env)
    assert result.returncode == 0, result.stderr
    with engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT id, name, attributes ? 'scan' FROM provenance.entity WHERE location = :p"
            ),
            {"p": str(dl1)},
        ).all()
        sources = c.execute(
            sa.text(
                "SELECT DISTINCT source, origin FROM archive.product_version "
                "WHERE entity_id = :e AND package = 'lstchain' AND version = '0.12.3'"
            ),
            {"e": path_entity_id(str(dl1))},
        ).all()
    # one entity: lstosa's id, lstosa's name, the scan's metadata
    assert rows == [(path_entity_id(str(dl1)), "DL1SubrunDataset", True)]
    assert set(sources) == {("file", "file-root"), ("log", "session")}
