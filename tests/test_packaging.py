"""The files a build needs are where the builds look for them: the Docker image copies
what pyproject.toml's build uses, and the source distribution carries it.

(Docker itself is not on the test machines; these checks would have caught an image
that could not build after the C transcoder's build hook was added.)
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _needed_by_the_build() -> set[str]:
    """Top-level paths the wheel build reads: readme, build hooks, packages, extra files."""
    project = _pyproject()
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed |= {hook["path"] for hook in wheel.get("hooks", {}).values()}
    needed |= {p.split("/")[0] for p in wheel["packages"]}
    needed |= {p.split("/")[0] for p in wheel.get("force-include", {})}
    return needed


def test_the_build_hook_and_its_source_exist() -> None:
    wheel = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["hooks"]["custom"]["path"] == "hatch_build.py"
    assert (REPO / "hatch_build.py").is_file()
    # every C module the hook compiles ("module.name": "path/to/source.c") is in the tree
    sources = re.findall(r'"tap\.[\w.]+": "([^"]+\.c)"', (REPO / "hatch_build.py").read_text())
    assert sources == [
        "tap/votable/_binary2copy.c",
        "tap/query/_copydrain.c",
        "tap/votable/_textcopy.c",
    ]
    assert all((REPO / source).is_file() for source in sources)


def test_the_docker_image_copies_what_the_build_needs() -> None:
    dockerfile = (REPO / "docker/Dockerfile").read_text()
    copied: set[str] = set()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            *sources, _dest = line.split()[1:]
            copied |= {s.rstrip("/").removeprefix("./") for s in sources}
    missing = _needed_by_the_build() - copied
    assert not missing, f"docker/Dockerfile does not COPY {sorted(missing)}"


def test_the_source_distribution_carries_what_the_build_needs() -> None:
    include = set(_pyproject()["tool"]["hatch"]["build"]["targets"]["sdist"]["include"])
    missing = _needed_by_the_build() - include - {"pyproject.toml"}  # always in an sdist
    assert not missing, f"the sdist include list lacks {sorted(missing)}"


def test_the_wheel_carries_the_samples_and_their_licences(tmp_path: Path) -> None:
    """A non-editable install has provdb/samples (the demo and the quick start need it)."""
    import subprocess
    import sys
    import zipfile

    built = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("provdb-*.whl")
    in_wheel = {
        name
        for name in zipfile.ZipFile(wheel).namelist()
        if name.startswith("provdb/samples/") and "__pycache__" not in name
    }
    on_disk = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "provdb" / "samples").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert in_wheel == on_disk
    for needed in (
        "provdb/samples/SOURCES.md",
        "provdb/samples/LICENSES/lstosa-BSD-3-Clause.txt",
        "provdb/samples/LICENSES/voprov-MIT.txt",
        "provdb/samples/lstosa/config/definition.yaml",
        "provdb/samples/generated/lstosa_simulate_processing/prov.log",
        "provdb/samples/generated/lstchain_hdf5/dl2_LST-1.Run01807.0000.h5",
    ):
        assert needed in in_wheel
    # logprov (no licence) and the graph PDFs are not shipped
    assert not [n for n in in_wheel if "logprov" in n or n.endswith(".pdf")]
