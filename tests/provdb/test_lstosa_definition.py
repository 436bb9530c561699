"""lstosa definition.yaml -> ProvDM description rows (spec §2)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from provdb.errors import ParseError
from provdb.ingest.lstosa.definition import ACTIVITY_TYPES, Model, load_model, model_from_bytes
from tests.provdb import logprov_files


@pytest.fixture(scope="module")
def current(samples: Path) -> Model:
    return load_model(samples / "lstosa" / "config" / "definition.yaml")


def _history(samples: Path, prefix: str) -> Path:
    (match,) = sorted((samples / "lstosa" / "history").glob(f"{prefix}*/definition.yaml"))
    return match


# spec §2.5: activity -> (usage roles, generation roles)
CURRENT = {
    "drs4_pedestal": (["Subrun for pedestal"], ["Pedestal", "Check plot for pedestal"]),
    "calibrate_charge": (
        ["Subrun for calibration", "Pedestal file"],
        ["Coefficients calibration file", "Check plot for calibration"],
    ),
    "r0_to_dl1": (
        [
            "Observation subrun",
            "Pedestal file",
            "Coefficients calibration file",
            "Time calibration file",
            "Systematic correction factor file",
            "Pointing file",
            "Interleaved pedestal events file",
            "Run summary",
        ],
        ["DL1 subrun dataset", "Muons subrun dataset"],
    ),
    "dl1ab": (
        ["DL1 subrun dataset", "Analysis configuration file"],
        ["DL1AB subrun dataset"],
    ),
    "dl1_datacheck": (
        ["DL1AB subrun dataset", "Muons subrun dataset"],
        ["DL1Check HDF5 file", "DL1Check PDF file", "DL1Check subrun dataset"],
    ),
    "dl1_to_dl2": (
        [
            "DL1 subrun dataset",
            "RFModelEnergyFile",
            "RFModelDispNormFile",
            "RFModelDispSignFile",
            "RFModelGammanessFile",
            "Analysis configuration file",
        ],
        ["DL2 merged file", "DL2 subrun dataset"],
    ),
    "catB_calibration": ([], []),
}


def _roles(model: Model, rows, activity: str) -> list[str]:
    act_id = model.activity_description_id(activity)
    return [r.role for r in rows if r.activity_description_id == act_id]


def test_current_model_activities_and_roles(current: Model) -> None:
    assert sorted(a.name for a in current.activity_descriptions) == sorted(CURRENT)
    for activity, (usage, generation) in CURRENT.items():
        assert _roles(current, current.usage_descriptions, activity) == usage, activity
        assert _roles(current, current.generation_descriptions, activity) == generation
    assert current.warnings == []


def test_current_model_ids_and_digest(samples: Path, current: Model) -> None:
    data = (samples / "lstosa" / "config" / "definition.yaml").read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:8]
    assert current.digest == digest
    assert current.source.endswith("definition.yaml")
    assert current.activity_description_id("r0_to_dl1") == f"r0_to_dl1@{digest}"
    assert current.entity_description_id("DL1SubrunDataset") == f"DL1SubrunDataset@{digest}"
    assert (
        current.usage_description_id("dl1ab", "DL1 subrun dataset")
        == f"dl1ab/DL1 subrun dataset@{digest}"
    )
    assert (
        current.generation_description_id("dl1ab", "DL1AB subrun dataset")
        == f"dl1ab/DL1AB subrun dataset@{digest}"
    )
    assert current.usage_description_id("dl1ab", "DL1AB subrun dataset") is None
    assert current.activity_description_id("no_such_activity") is None
    assert current.entity_description_id("NoSuchEntity") is None
    # every id is unique inside its table
    for rows in (
        current.activity_descriptions,
        current.entity_descriptions,
        current.usage_descriptions,
        current.generation_descriptions,
        current.parameter_descriptions,
    ):
        ids = [r.id for r in rows]
        assert len(ids) == len(set(ids))
        assert all(i.endswith(f"@{digest}") for i in ids)


def test_current_model_attributes(current: Model) -> None:
    acts = {a.name: a for a in current.activity_descriptions}
    assert acts["r0_to_dl1"].description == "Create DL1 files for an observation run and subrun"
    assert {name: a.type for name, a in acts.items()} == {
        name: ACTIVITY_TYPES.get(name) for name in acts
    }
    assert acts["drs4_pedestal"].type == "Calibration"
    assert acts["dl1ab"].type == "Reduction"
    assert acts["dl1_datacheck"].type == "Analysis"

    ents = {e.name: e for e in current.entity_descriptions}
    assert len(ents) == 30
    assert ents["DL1SubrunDataset"].type == "File"
    assert ents["DL1SubrunDataset"].content_type == "application/x-hdf"
    assert ents["R0Collection"].type == "SetCollection"
    assert ents["R0Collection"].content_type is None
    assert ents["PythonObject"].description == "Python variable in memory"

    # usage items point at their entity description
    for row in current.usage_descriptions + current.generation_descriptions:
        assert row.entity_description_id in {e.id for e in ents.values()}
    usage = {r.id: r for r in current.usage_descriptions}
    item = usage[current.usage_description_id("r0_to_dl1", "Run summary")]
    assert item.entity_description_id == ents["RunSummaryFile"].id
    assert item.description == "Run summary configuration"

    (param,) = current.parameter_descriptions
    assert param.name == "StoreImage"
    assert param.activity_description_id == acts["dl1ab"].id
    assert param.id == f"dl1ab/param/StoreImage@{current.digest}"
    assert param.datatype == "char"
    assert param.description == "Store DL1 Image"
    assert current.parameter_description_id("dl1ab", "StoreImage") == param.id


def test_reload_is_idempotent(samples: Path, current: Model) -> None:
    again = load_model(samples / "lstosa" / "config" / "definition.yaml")
    assert again.activity_descriptions == current.activity_descriptions
    assert again.usage_descriptions == current.usage_descriptions
    assert again.parameter_descriptions == current.parameter_descriptions


def test_history_models_load_with_distinct_digests(samples: Path, current: Model) -> None:
    m2021 = load_model(_history(samples, "2021"))
    m2020 = load_model(_history(samples, "2020"))
    assert len({current.digest, m2021.digest, m2020.digest}) == 3

    # 2021: r0_to_dl1 logged its run numbers as parameters, dl1_to_dl2 used RFModelDispFile
    assert [a.name for a in m2021.activity_descriptions] == ["r0_to_dl1", "dl1_to_dl2"]
    assert m2021.parameter_description_id("r0_to_dl1", "ObservationSubRun") is not None
    assert m2021.usage_description_id("r0_to_dl1", "Processing configuration file") is not None
    assert m2021.usage_description_id("dl1_to_dl2", "RFModelDispFile") is not None
    assert m2021.entity_description_id("RFModelDispFile") == f"RFModelDispFile@{m2021.digest}"

    # 2020: the gammapy model; the same activity name in two models gives two ids
    names = [a.name for a in m2020.activity_descriptions]
    assert "get_observations" in names and "run_fit" in names
    assert all(a.type is None for a in m2020.activity_descriptions)
    assert m2020.usage_description_id("get_datasets", "exclusion_mask") is not None
    # get_flux_points declares the role 'fitted_model' twice: kept once, reported
    assert _roles(m2020, m2020.usage_descriptions, "get_flux_points") == [
        "fitted_model",
        "datasets",
    ]
    assert any("fitted_model" in w and "twice" in w for w in m2020.warnings)
    assert current.activity_description_id("dl1ab") != m2021.activity_description_id("dl1ab")


def test_logprov_variant(tmp_path: Path) -> None:
    model = load_model(logprov_files.write_definition(tmp_path))
    assert not model.warnings
    names = [a.name for a in model.activity_descriptions]
    assert names == ["load_image", "smooth", "count_stars"]
    ents = {e.name: e for e in model.entity_descriptions}
    assert set(ents) == {"FitsImage", "Image", "Count"}
    assert ents["FitsImage"].docurl == "https://fits.gsfc.nasa.gov/fits_standard.html"
    assert ents["FitsImage"].content_type == "application/fits"
    assert ents["Image"].type == "PythonObject"
    # 'entity_description' instead of 'entityName'
    row = next(
        r for r in model.usage_descriptions if r.id == model.usage_description_id("smooth", "image")
    )
    assert row.entity_description_id == ents["Image"].id
    gen = next(
        r
        for r in model.generation_descriptions
        if r.id == model.generation_description_id("count_stars", "count")
    )
    assert gen.entity_description_id == ents["Count"].id
    # parameters without a name are named by the attribute they read
    assert model.parameter_description_id("smooth", "kwargs.width") is not None
    assert model.parameter_description_id("count_stars", "kwargs.threshold") is not None
    # multi-line quoted descriptions are folded by YAML
    (act,) = [a for a in model.activity_descriptions if a.name == "load_image"]
    assert act.description == "Read an image from a FITS file"


def test_null_lists_and_warnings() -> None:
    text = b"""
activities:
    a1:
        description: "first"
        contact: "someone@example.org"
        parameters:
        usage: null
        generation:
            - description: "no role here"
              entityName: E1
            - role: out
              entityName: Missing
              multiplicity: 1
            - role: out2
              entityName: E1
    a2:
entities:
    E1:
        type: File
        contentType: text/plain
"""
    model = model_from_bytes(text, source="inline.yaml")
    assert model.source == "inline.yaml"
    assert [a.name for a in model.activity_descriptions] == ["a1", "a2"]
    a1 = model.activity_descriptions[0]
    assert a1.description == "first (contact: someone@example.org)"
    assert a1.type is None
    assert model.usage_descriptions == []
    gens = {g.role: g for g in model.generation_descriptions}
    assert set(gens) == {"out", "out2"}
    assert gens["out"].entity_description_id is None  # unknown entity: no dangling reference
    assert gens["out"].multiplicity == "1"
    assert gens["out2"].entity_description_id == model.entity_description_id("E1")
    assert len(model.warnings) == 2
    assert any("no role" in w and "line 9" in w for w in model.warnings)
    assert any("Missing" in w for w in model.warnings)


def test_parameter_attributes() -> None:
    text = b"""activities:
  act:
    parameters:
      - name: p
        value: p
        datatype: int
        unit: s
        min: 0
        max: 10
        default: 3
      - name: p
        value: again
      - description: nameless
"""
    model = model_from_bytes(text, source="p.yaml")
    (p,) = model.parameter_descriptions
    assert (p.datatype, p.unit, p.min_value, p.max_value, p.default_value) == (
        "int",
        "s",
        "0",
        "10",
        "3",
    )
    assert len(model.warnings) == 2


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (b"activities:\n  a:\n    usage: [\n", 4, "malformed YAML"),
        (b"activities:\n  a: {description: 'x'\nentities: {}\n", 3, "malformed YAML"),
        (b"activities:\n\tr0: 1\n", 2, "malformed YAML"),
        (b"- just\n- a list\n", 1, "must be a mapping"),
        (b"foo: 1\nbar: 2\n", 1, "no 'activities'"),
        (b"# comment\nactivities:\n  - a\n  - b\n", 3, "'activities' must be a mapping"),
        (b"activities:\n  a:\n    description: x\n  b: 12\n", 4, "activity 'b'"),
        (b"activities:\n  a:\n    usage:\n      role: x\n", 4, "'usage' of activity 'a'"),
        (b"activities:\n  a:\n    usage:\n      - role: x\n      - 7\n", 5, "usage item 2"),
        (b"activities: {}\nentities:\n  E: [1, 2]\n", 3, "entity 'E'"),
    ],
)
def test_malformed_input_names_the_line(text: bytes, line: int, words: str) -> None:
    with pytest.raises(ParseError) as info:
        model_from_bytes(text, source="bad.yaml")
    err = info.value
    assert err.path == "bad.yaml"
    assert err.line == line, err
    assert words in err.reason
    assert str(err).startswith(f"bad.yaml:{line}: ")


def test_empty_unreadable_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="empty"):
        model_from_bytes(b"# only a comment\n", source="empty.yaml")
    with pytest.raises(ParseError) as info:
        model_from_bytes(b"activities:\n  a:\n    description: \xff\xfe\n", source="x.yaml")
    assert info.value.line == 3
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ParseError, match="cannot read") as info:
        load_model(missing)
    assert info.value.path == str(missing)
    assert info.value.line is None


def test_load_model_from_path(tmp_path: Path, samples: Path) -> None:
    data = (samples / "lstosa" / "config" / "definition.yaml").read_bytes()
    copy = tmp_path / "definition.yaml"
    copy.write_bytes(data)
    model = load_model(str(copy))
    assert model.digest == hashlib.sha256(data).hexdigest()[:8]
    assert model.source == str(copy)
    modified = tmp_path / "modified.yaml"
    modified.write_bytes(data + b"\n# a comment changes the digest\n")
    assert load_model(modified).digest != model.digest
