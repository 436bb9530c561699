"""Build hook: compiles the optional C modules ``tap/votable/_binary2copy.c``,
``tap/query/_copydrain.c`` and ``tap/votable/_textcopy.c``.

The first makes large VOTable BINARY2 results about twice as fast (see
tap/votable/binary2_copy.py), the second reads COPY data from libpq many rows per call
(tap/query/copy_drain.py: CSV/TSV/JSON results), the third writes CSV, TSV and JSON rows
from plain COPY text rows (tap/votable/text_copy.py). They are optional: when no C compiler
is at hand the build goes on without them (with a warning); the service then writes
BINARY2 through PostgreSQL (tap/votable/binary2_sql.py) and reads COPY rows one by one.
setuptools drives the compiler, so the flags are those Python itself was built with, on
any platform.

Editable installs get the module next to its source; wheels get it packed in.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULES = {
    "tap.votable._binary2copy": "tap/votable/_binary2copy.c",
    "tap.query._copydrain": "tap/query/_copydrain.c",
    "tap.votable._textcopy": "tap/votable/_textcopy.c",
}
SOURCE = ", ".join(MODULES.values())


def _compile(root: Path, inplace: bool, work: Path, module: str) -> Path:
    """Compile one module; returns the path of the built file."""
    from setuptools import Distribution, Extension

    flags = ["-O2"] if sys.platform != "win32" else []
    ext = Extension(module, [MODULES[module]], extra_compile_args=flags)
    dist = Distribution({"name": "provdb-speedups", "ext_modules": [ext], "script_args": []})
    dist.src_root = str(root)
    cmd = dist.get_command_obj("build_ext")
    cmd.inplace = inplace
    cmd.build_lib = str(work / "lib")
    cmd.build_temp = str(work / "tmp")
    cmd.ensure_finalized()
    cmd.run()
    built = Path(cmd.get_ext_fullpath(module))
    return built if built.is_absolute() else root / built


class CustomBuildHook(BuildHookInterface):
    """Compiles the transcoder; a failure only costs speed."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        self._work = tempfile.TemporaryDirectory(prefix="provdb-build-")
        work = Path(self._work.name)
        editable = version == "editable"
        cwd = Path.cwd()
        try:
            os.chdir(root)  # setuptools resolves the source path from the working dir
            try:
                built = {m: _compile(root, editable, work, m) for m in MODULES}
            finally:
                os.chdir(cwd)
        except Exception as exc:  # any compiler failure: go on without it
            self.app.display_warning(
                f"provdb: the C modules {SOURCE} were not built ({exc}); large VOTable "
                "BINARY2 results will be written through PostgreSQL, more slowly. "
                "Install a C compiler and reinstall provdb to get it."
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if not editable:
            for module, path in built.items():
                relative = "/".join(module.split(".")[:-1]) + "/" + path.name
                build_data["force_include"][str(path)] = relative

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            work.cleanup()
