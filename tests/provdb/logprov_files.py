"""Small logprov files written by the tests themselves.

logprov (mservillat/logprov) ships no licence, so none of its files ship with provdb
(``provdb/samples/SOURCES.md``). These functions write files in its formats, authored
from the format description (lst-provenance-formats §6.1): a ``_PROV_`` log with DEBUG
and WARNING lines, integer ids above 2**64 and the id-as-key entity records of logprov's
bug; the ``activity_descriptions`` / ``entity_descriptions`` flavour of
``definition.yaml``; and the voprov PROV-JSON / PROV-XML logprov's ``provlist2provdoc``
makes of a log (parameters in ``#configuration#<activity>`` bundles, ``wasConfiguredBy``,
``voprov:entity_description``, the ``voprov_1`` prefix of the renamed namespace).

The toy pipeline: session 7310004211 runs ``load_image`` (reads ``raw.fits``, makes the
Python object ``img``), ``smooth`` (parameter ``kwargs.width = 3``; uses ``img``, writes
``smoothed.fits``, derived from ``raw.fits``) and ``count_stars`` (parameter
``kwargs.threshold = 5.0``; uses ``smoothed.fits``, returns ``n``).
"""

from __future__ import annotations

import json
from pathlib import Path

SESSION = 7310004211
#: id of the Python object ``img`` (logprov: ``abs(hash(v) + hash(str(v)))``, above 2**64)
IMG_ID = 41234567890123456789012
#: id of the returned count ``n``
COUNT_ID = 29876543210987654321
RAW = "file:/data/obs/raw.fits"
SMOOTHED = "file:/data/obs/smoothed.fits"
ACTIVITIES = {"a1f0c2": "load_image", "b7d913": "smooth", "c44e70": "count_stars"}

_T = "2025-03-04T21:10:{:02d}.{:06d}"


def _t(second: int, micro: int = 125000) -> str:
    return _T.format(second, micro)


def _prov(second: int, payload: str, level: str = "INFO") -> str:
    return f"{level} _PROV_{_t(second, 500000)}_PROV_{payload}\n"


#: lines of the log, in order (``LOG_LINES`` non-provenance lines among them)
_SYSTEM = (
    "{'executable': '/opt/py/bin/python3', 'platform': {'machine': 'x86_64', "
    "'node': 'lab1', 'system': 'Linux', 'num_cpus': 4}, 'python': {'version': '3.9.7'}, "
    "'environment': {'HOME': '/home/analyst', 'SHELL': None}, 'arguments': ['toy.py']}"
)
_DEFINITIONS = "{'activity_descriptions': {'smooth': {'description': 'Smooth an image'}}}"

LOG_TEXT = "".join(
    [
        "DEBUG Setting up the provenance logger\n",
        _prov(
            1,
            f"{{'session_id': {SESSION}, 'module': 'toy_analysis', 'class': 'Pipeline', "
            f"'startTime': '{_t(1)}', 'system': {_SYSTEM}, 'definitions': {_DEFINITIONS}}}",
        ),
        # load_image: uses raw.fits, returns the Python object img
        _prov(
            1,
            f"{{'activity_id': 'a1f0c2', 'name': 'load_image', 'startTime': '{_t(1)}', "
            f"'in_session': {SESSION}, 'agent_name': 'analyst'}}",
        ),
        _prov(
            1,
            f"{{'entity_id': '{RAW}', 'name': 'raw.fits', 'entity_description': 'FitsImage', "
            "'filepath': '/data/obs/raw.fits', 'hash': '3c1e0f2b9a', 'hash_type': 'sha1', "
            "'location': 'filename'}",
        ),
        _prov(1, f"{{'activity_id': 'a1f0c2', 'used_id': '{RAW}', 'used_role': 'filename'}}"),
        _prov(
            2,
            f"{{'entity_id': {IMG_ID}, 'entity_description': 'Image', "
            "'location': 'img', 'value': '<Image 64x64>'}",
        ),
        _prov(
            2,
            f"{{'activity_id': 'a1f0c2', 'generated_id': {IMG_ID}, 'generated_role': 'image'}}",
        ),
        _prov(2, f"{{'activity_id': 'a1f0c2', 'endTime': '{_t(2)}'}}"),
        "DEBUG load_image took 1.0 s\n",
        # smooth: parameters, uses img (logged with its id as the key), writes smoothed.fits
        _prov(
            3,
            f"{{'activity_id': 'b7d913', 'name': 'smooth', 'startTime': '{_t(3)}', "
            f"'in_session': {SESSION}, 'agent_name': 'analyst'}}",
        ),
        _prov(3, "{'activity_id': 'b7d913', 'parameters': {'kwargs.width': 3}}"),
        _prov(
            3,
            "{'entity_description': 'Image', 'location': 'img', 'value': '<Image 64x64>', "
            f"{IMG_ID}: {IMG_ID}}}",
        ),
        _prov(3, f"{{'activity_id': 'b7d913', 'used_id': {IMG_ID}, 'used_role': 'image'}}"),
        _prov(
            4,
            f"{{'entity_id': '{SMOOTHED}', 'name': 'smoothed.fits', "
            "'entity_description': 'FitsImage', 'filepath': '/data/obs/smoothed.fits', "
            "'hash': '8f0d22aa41', 'hash_type': 'sha1', 'location': 'outfile', 'modifier': 1}",
        ),
        _prov(
            4,
            f"{{'activity_id': 'b7d913', 'generated_id': '{SMOOTHED}', "
            "'generated_role': 'smoothed'}",
        ),
        _prov(4, f"{{'entity_id': '{SMOOTHED}', 'progenitor_id': '{RAW}'}}"),
        _prov(4, f"{{'activity_id': 'b7d913', 'endTime': '{_t(4)}'}}"),
        "WARNING No definition for function plot_image\n",
        # count_stars
        _prov(
            5,
            f"{{'activity_id': 'c44e70', 'name': 'count_stars', 'startTime': '{_t(5)}', "
            f"'in_session': {SESSION}, 'agent_name': 'analyst'}}",
        ),
        _prov(5, "{'activity_id': 'c44e70', 'parameters': {'kwargs.threshold': 5.0}}"),
        _prov(
            5,
            f"{{'activity_id': 'c44e70', 'used_id': '{SMOOTHED}', 'used_role': 'image_file'}}",
        ),
        _prov(
            6,
            f"{{'entity_description': 'Count', 'location': 'n', 'value': '17', "
            f"{COUNT_ID}: {COUNT_ID}}}",
        ),
        _prov(
            6,
            f"{{'activity_id': 'c44e70', 'generated_id': {COUNT_ID}, 'generated_role': 'count'}}",
        ),
        _prov(6, f"{{'activity_id': 'c44e70', 'endTime': '{_t(6)}'}}"),
        "DEBUG provenance closed\n",
    ]
)

DEFINITION_TEXT = """\
# logprov flavour: activity_descriptions / entity_descriptions, entity_description
# instead of entityName, parameters named by the attribute they read (value)
activity_descriptions:
    load_image:
        description: "Read an image
            from a FITS file"
        usage:
            - role: filename
              entity_description: FitsImage
        generation:
            - role: image
              entity_description: Image
    smooth:
        description: "Gaussian smoothing"
        parameters:
            - value: kwargs.width
              description: "kernel width in pixels"
        usage:
            - role: image
              entity_description: Image
        generation:
            - role: smoothed
              entity_description: FitsImage
    count_stars:
        description: "Count the stars above a threshold"
        parameters:
            - value: kwargs.threshold
        usage:
            - role: image_file
              entity_description: FitsImage
        generation:
            - role: count
              entity_description: Count
entity_descriptions:
    FitsImage:
        description: "An image in a FITS file"
        docurl: https://fits.gsfc.nasa.gov/fits_standard.html
        type: File
        contentType: application/fits
    Image:
        description: "An image in memory"
        type: PythonObject
    Count:
        type: PythonObject
agents:
    analyst:
        email: analyst@example.org
namespaces:
    file: file://
"""

_NS = {
    "prov": "http://www.w3.org/ns/prov#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "voprov_1": "http://www.ivoa.net/documents/ProvenanceDM/index.html#",
    "session": "http://example.org/logprov/session/",
    "file": "file://",
}


def _act(a: str) -> str:
    return f"session:{SESSION}_{a}"


def _obj(n: int) -> str:
    return f"session:{SESSION}_{n}"


def _json_text() -> str:
    a1, a2, a3 = (_act(a) for a in ACTIVITIES)
    img, count = _obj(IMG_ID), _obj(COUNT_ID)

    def entity(label: str, location: str, description: str, kind: str, **more: str) -> dict:
        return {
            "prov:label": label,
            "prov:location": location,
            **more,
            "voprov_1:entity_description": description,
            "prov:type": kind,
        }

    def times(start: int) -> dict:
        return {"prov:startTime": _t(start), "prov:endTime": _t(start + 1)}

    def configuration(act: str, short: str, name: str, value: str, n: int) -> dict:
        param = f"session:{SESSION}_{short}_{name}"
        return {
            "parameter": {param: {"prov:name": f"kwargs.{name}", "prov:value": value}},
            "wasConfiguredBy": {
                f"_:c{n}": {
                    "voprov_1:configured": act,
                    "voprov_1:configurator": param,
                    "voprov_1:artefactType": "Parameter",
                }
            },
        }

    operator = "session:analyst"
    doc = {
        "prefix": _NS,
        "entity": {
            f"session:{SESSION}": {
                "prov:type": "LogProvSession",
                "prov:label": "toy_analysis.Pipeline",
            },
            RAW: entity("raw.fits", "filename", "FitsImage", "File"),
            SMOOTHED: entity("smoothed.fits", "outfile", "FitsImage", "File"),
            img: entity(
                "Image in img", "img", "Image", "PythonObject", **{"prov:value": "<Image 64x64>"}
            ),
            count: entity("Count in n", "n", "Count", "PythonObject", **{"prov:value": "17"}),
        },
        "activity": {
            a1: {"prov:label": "load_image", **times(1)},
            a2: {"prov:label": "smooth", **times(3)},
            a3: {"prov:label": "count_stars", **times(5)},
        },
        "agent": {operator: {"prov:label": "analyst"}},
        "wasAssociatedWith": {
            f"_:w{i}": {"prov:activity": act, "prov:agent": operator, "prov:role": "Operator"}
            for i, act in enumerate((a1, a2, a3), 1)
        },
        "used": {
            f"_:u{i}": {"prov:activity": act, "prov:entity": ent, "prov:role": role}
            for i, (act, ent, role) in enumerate(
                ((a1, RAW, "filename"), (a2, img, "image"), (a3, SMOOTHED, "image_file")), 1
            )
        },
        "wasGeneratedBy": {
            f"_:g{i}": {"prov:entity": ent, "prov:activity": act, "prov:role": role}
            for i, (act, ent, role) in enumerate(
                ((a1, img, "image"), (a2, SMOOTHED, "smoothed"), (a3, count, "count")), 1
            )
        },
        "wasDerivedFrom": {"_:d1": {"prov:generatedEntity": SMOOTHED, "prov:usedEntity": RAW}},
        "bundle": {
            f"#configuration#{a2}": configuration(a2, "b7d913", "width", "3", 1),
            f"#configuration#{a3}": configuration(a3, "c44e70", "threshold", "5.0", 2),
        },
    }
    return json.dumps(doc, indent=1) + "\n"


JSON_TEXT = _json_text()


def _xml_entity(ident: str, attrs: list[tuple[str, str]]) -> str:
    inner = "".join(f"    <{k}>{v}</{k}>\n" for k, v in attrs)
    return f'  <voprov_1:entity voprov_1:id="{ident}">\n{inner}  </voprov_1:entity>\n'


def _xml_relation(kind: str, refs: list[tuple[str, str]], role: str | None = None) -> str:
    inner = "".join(f'    <{k} voprov_1:ref="{v}"/>\n' for k, v in refs)
    if role is not None:
        inner += f"    <prov:role>{role}</prov:role>\n"
    return f"  <voprov_1:{kind}>\n{inner}  </voprov_1:{kind}>\n"


def _xml_text() -> str:
    a1, a2, a3 = (_act(a) for a in ACTIVITIES)
    img, count = _obj(IMG_ID), _obj(COUNT_ID)
    ns = " ".join(f'xmlns:{p}="{u}"' for p, u in _NS.items()).replace(
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema#"',
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema"',
    )
    body = [
        _xml_entity(
            f"session:{SESSION}",
            [("prov:type", "LogProvSession"), ("prov:label", "toy_analysis.Pipeline")],
        ),
        _xml_entity(
            RAW,
            [
                ("prov:label", "raw.fits"),
                ("prov:location", "filename"),
                ("voprov_1:entity_description", "FitsImage"),
                ("prov:type", "File"),
            ],
        ),
        _xml_entity(
            SMOOTHED,
            [
                ("prov:label", "smoothed.fits"),
                ("prov:location", "outfile"),
                ("voprov_1:entity_description", "FitsImage"),
                ("prov:type", "File"),
            ],
        ),
        _xml_entity(
            img,
            [
                ("prov:label", "Image in img"),
                ("prov:location", "img"),
                ("prov:value", "&lt;Image 64x64&gt;"),
                ("voprov_1:entity_description", "Image"),
                ("prov:type", "PythonObject"),
            ],
        ),
        _xml_entity(
            count,
            [
                ("prov:label", "Count in n"),
                ("prov:location", "n"),
                ("prov:value", "17"),
                ("voprov_1:entity_description", "Count"),
                ("prov:type", "PythonObject"),
            ],
        ),
    ]
    for act, name, start in ((a1, "load_image", 1), (a2, "smooth", 3), (a3, "count_stars", 5)):
        body.append(
            f'  <voprov_1:activity voprov_1:id="{act}">\n'
            f"    <prov:startTime>{_t(start)}</prov:startTime>\n"
            f"    <prov:endTime>{_t(start + 1)}</prov:endTime>\n"
            f"    <prov:label>{name}</prov:label>\n"
            "  </voprov_1:activity>\n"
        )
    body.append(
        '  <voprov_1:agent voprov_1:id="session:analyst">\n'
        "    <prov:label>analyst</prov:label>\n  </voprov_1:agent>\n"
    )
    for act in (a1, a2, a3):
        body.append(
            _xml_relation(
                "wasAssociatedWith",
                [("prov:activity", act), ("prov:agent", "session:analyst")],
                "Operator",
            )
        )
    for act, ent, role in ((a1, RAW, "filename"), (a2, img, "image"), (a3, SMOOTHED, "image_file")):
        body.append(_xml_relation("used", [("prov:activity", act), ("prov:entity", ent)], role))
    for act, ent, role in ((a1, img, "image"), (a2, SMOOTHED, "smoothed"), (a3, count, "count")):
        body.append(
            _xml_relation("wasGeneratedBy", [("prov:entity", ent), ("prov:activity", act)], role)
        )
    body.append(
        _xml_relation(
            "wasDerivedFrom", [("prov:generatedEntity", SMOOTHED), ("prov:usedEntity", RAW)]
        )
    )
    for act, short, name, value in (
        (a2, "b7d913", "width", "3"),
        (a3, "c44e70", "threshold", "5.0"),
    ):
        param = f"session:{SESSION}_{short}_{name}"
        body.append(
            f'  <voprov_1:bundleContent voprov_1:id="#configuration#{act}">\n'
            f'  <voprov_1:parameter voprov_1:id="{param}">\n'
            f"    <prov:name>kwargs.{name}</prov:name>\n"
            f'    <prov:value xsi:type="xsd:string">{value}</prov:value>\n'
            "  </voprov_1:parameter>\n"
            "  <voprov_1:wasConfiguredBy>\n"
            f'    <voprov_1:configured voprov_1:ref="{act}"/>\n'
            f'    <voprov_1:configurator voprov_1:ref="{param}"/>\n'
            "    <voprov_1:artefactType>Parameter</voprov_1:artefactType>\n"
            "  </voprov_1:wasConfiguredBy>\n"
            "  </voprov_1:bundleContent>\n"
        )
    return (
        "<?xml version='1.0' encoding='ASCII'?>\n"
        f'<voprov_1:document {ns} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        + "".join(body)
        + "</voprov_1:document>\n"
    )


XML_TEXT = _xml_text()


def write_log(folder: Path, name: str = "prov_toy.log") -> Path:
    """Write the logprov ``_PROV_`` log into ``folder``; returns its path."""
    path = folder / name
    path.write_text(LOG_TEXT)
    return path


def write_definition(folder: Path) -> Path:
    """Write the logprov-flavoured ``definition.yaml`` into ``folder``."""
    path = folder / "definition.yaml"
    path.write_text(DEFINITION_TEXT)
    return path


def write_prov(folder: Path, ext: str, name: str = "prov_toy.log") -> Path:
    """Write logprov's voprov document of the log as ``<name>.json`` or ``<name>.xml``."""
    path = folder / f"{name}.{ext}"
    path.write_text({"json": JSON_TEXT, "xml": XML_TEXT}[ext])
    return path


def write_all(folder: Path) -> list[Path]:
    """The log and its PROV-JSON and PROV-XML (what logprov writes for one session)."""
    return [write_log(folder), write_prov(folder, "json"), write_prov(folder, "xml")]
