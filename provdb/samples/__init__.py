"""The sample files that ship with provdb (see ``SOURCES.md`` and ``LICENSES/`` here).

lstosa ``prov.log`` files and run-wise PROV-JSON, ctapipe provenance logs, voprov
documents, lstchain HDF5 products and lstosa's ``definition.yaml`` models, laid out as
``lstosa/``, ``ctapipe/``, ``lstchain/`` and ``generated/...``. ``provdb demo``, the test
suite and the benchmarks read them through :func:`path`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["definition", "path"]


def path() -> Path:
    """The folder of the shipped sample files, as a real path on disk.

    provdb is installed as plain files (a wheel or an editable install, never a zip),
    so the package folder itself is the sample tree.
    """
    root = files(__name__)
    folder = Path(str(root))
    if not (folder / "SOURCES.md").is_file():
        # a zip import or a stripped install: say so instead of failing later on a path
        raise FileNotFoundError(
            f"provdb's sample files are not on disk at {folder}: reinstall provdb from a "
            "wheel or a source checkout (pip install provdb)"
        )
    return folder


def definition() -> Path:
    """lstosa's current ``definition.yaml`` (the model ``provdb demo`` loads)."""
    return path() / "lstosa" / "config" / "definition.yaml"
