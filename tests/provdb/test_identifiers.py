"""Tests of provdb.ingest.identifiers: ids shared by every ingester."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
from pathlib import Path

import pytest

from provdb.ingest.identifiers import digest, environment_id, path_entity_id, split_system

GLUED = Path("generated/ctapipe_tool/lstchain-demo-dl1-to-dl2.provenance.log")
LSTOSA_PROV = Path("generated/lstosa_simulate_processing/prov.log")


def _lstosa_file_entities(prov_log: Path) -> dict[str, str]:
    """entity_id -> filepath of every file entity record of an lstosa prov.log."""
    pairs: dict[str, str] = {}
    for line in prov_log.read_text(encoding="utf-8").splitlines():
        parts = line.split("__PROV__")
        if len(parts) != 3 or "'filepath'" not in parts[2]:
            continue
        record = ast.literal_eval(parts[2])
        if "entity_id" in record and record.get("filepath"):
            pairs[record["entity_id"]] = record["filepath"]
    return pairs


def _glued_systems(samples: Path) -> list[dict]:
    text = (samples / GLUED).read_text(encoding="utf-8")
    decoder, pos, systems = json.JSONDecoder(), 0, []
    while pos < len(text):  # the file is two glued arrays: "][", no final newline
        array, pos = decoder.raw_decode(text, pos)
        systems += [act["system"] for act in array]
    return systems


# --------------------------------------------------------------------------------------
# path_entity_id
# --------------------------------------------------------------------------------------


def test_path_entity_id_equals_lstosa_ids(samples: Path) -> None:
    pairs = _lstosa_file_entities(samples / LSTOSA_PROV)
    assert len(pairs) > 10
    for entity_id, filepath in pairs.items():
        assert path_entity_id(filepath) == entity_id, filepath


def test_path_entity_id_known_lstosa_pair(samples: Path) -> None:
    filepath = "/tmp/lst-osa-run/test_osa/test_files0/R0G/20200117/LST-1.1.Run01807.0000.fits.fz"
    text = (samples / LSTOSA_PROV).read_text(encoding="utf-8")
    match = re.search(
        r"'entity_id': '([0-9a-f]{32})'[^}]*'filepath': '" + re.escape(filepath), text
    )
    assert match is not None
    assert path_entity_id(filepath) == match.group(1) == "00ca04a8c30ca3ef1af97285a03cdc87"


def test_path_entity_id_is_md5_of_normalised_path() -> None:
    path = "/data/LST-1/dl1_LST-1.Run01807.0000.h5"
    expected = hashlib.md5(path.encode()).hexdigest()
    assert path_entity_id(path) == expected
    assert path_entity_id("/data/LST-1/") == path_entity_id("/data/LST-1")
    assert path_entity_id("/data//LST-1/./dl1_LST-1.Run01807.0000.h5") == expected
    assert re.fullmatch(r"[0-9a-f]{32}", expected)


def test_path_entity_id_file_urls_share_the_path_id() -> None:
    path = "/data/my dir/model.sav"
    assert path_entity_id("file:///data/my%20dir/model.sav") == path_entity_id(path)
    assert path_entity_id("file://localhost/data/my%20dir/model.sav") == path_entity_id(path)
    assert path_entity_id("FILE:///data/my%20dir/model.sav") == path_entity_id(path)
    # another host is another file: the whole URL is hashed
    remote = "file://otherhost/data/my%20dir/model.sav"
    assert path_entity_id(remote) == hashlib.md5(remote.encode()).hexdigest()


def test_path_entity_id_other_urls_hash_the_url_string() -> None:
    for url in ("http://example.org/a/b.fits", "root://eos.cta//a/b.h5", "s3://bucket/k/"):
        assert path_entity_id(url) == hashlib.md5(url.encode()).hexdigest()
    # not a URL (no "//" after the colon): a relative path
    assert path_entity_id("id:abc") == hashlib.md5(b"id:abc").hexdigest()


def test_path_entity_id_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        path_entity_id("")


# --------------------------------------------------------------------------------------
# split_system / environment_id
# --------------------------------------------------------------------------------------


def test_split_system(samples: Path) -> None:
    system = _glued_systems(samples)[0]
    before = copy.deepcopy(system)
    environment, per_call = split_system(system)
    assert system == before  # input untouched
    assert "arguments" not in environment and "start_time_utc" not in environment
    assert per_call == {
        "arguments": system["arguments"],
        "start_time_utc": system["start_time_utc"],
    }
    assert environment["ctapipe_version"] == "0.25.1"
    assert {**environment, **per_call} == system
    assert split_system({"a": 1}) == ({"a": 1}, {})


def test_environment_id_ignores_per_call_keys(samples: Path) -> None:
    first, second = _glued_systems(samples)
    assert first["arguments"] != second["arguments"]
    assert first["start_time_utc"] != second["start_time_utc"]
    env_id = environment_id(first)
    assert env_id == environment_id(second)
    assert re.fullmatch(r"env-[0-9a-f]{16}", env_id)
    assert environment_id(split_system(first)[0]) == env_id


def test_environment_id_is_canonical_sha256(samples: Path) -> None:
    system = _glued_systems(samples)[0]
    environment, _ = split_system(system)
    canonical = json.dumps(
        environment, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    expected = "env-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert environment_id(system) == expected
    reordered = dict(reversed(list(system.items())))
    assert environment_id(reordered) == expected


def test_environment_id_changes_with_a_package_version(samples: Path) -> None:
    system = _glued_systems(samples)[0]
    changed = copy.deepcopy(system)
    package = changed["python"]["packages"][0]
    package["version"] = package["version"] + ".post1"
    assert environment_id(changed) != environment_id(system)
    other_host = copy.deepcopy(system)
    other_host["platform"]["node"] = "cp01"
    assert environment_id(other_host) != environment_id(system)


def test_environment_id_accepts_non_json_values() -> None:
    from datetime import datetime

    assert environment_id({"boot": datetime(2020, 1, 1)}) == environment_id(
        {"boot": "2020-01-01 00:00:00"}
    )


# --------------------------------------------------------------------------------------
# digest
# --------------------------------------------------------------------------------------


def test_digest() -> None:
    assert digest("a", "b") == hashlib.sha1(b"a\x1fb").hexdigest()[:16]
    assert digest("a", "b", length=40) == hashlib.sha1(b"a\x1fb").hexdigest()
    assert len(digest("x", length=8)) == 8
    assert digest("ab", "c") != digest("a", "bc")
    assert digest() == hashlib.sha1(b"").hexdigest()[:16]
    for bad in (0, 41):
        with pytest.raises(ValueError):
            digest("a", length=bad)
