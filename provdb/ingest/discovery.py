"""Which files an ingest reads: files, folders (walked) and glob patterns.

Only regular files are returned. FIFOs, sockets and devices are reported and never
opened (a read would block or never end); folder walks and ``**`` globs do not follow
symbolic links to folders, so a link loop cannot make them run forever.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
from pathlib import Path

__all__ = ["discover"]


def discover(
    paths: list[str], skipped: list[str] | None = None
) -> tuple[list[Path], list[str], set[Path]]:
    """Expand files, directories (recursively) and glob patterns.

    Returns the files found (sorted, without duplicates), the arguments that matched
    nothing, and the files named explicitly (not found by walking a directory): those
    must be provenance files, while a directory may hold other files too.

    Only regular files are returned: FIFOs, sockets and devices are never opened (a read
    would block or never end), and neither walks nor ``**`` globs follow symbolic links
    to folders, so a link loop cannot make them run forever. What is passed over for
    those reasons is appended to ``skipped`` as ``"PATH: reason"``.
    """
    found: dict[str, Path] = {}
    explicit: set[Path] = set()
    missing: list[str] = []
    notes: list[str] = skipped if skipped is not None else []
    for arg in paths:
        matches = _glob(arg) if glob.has_magic(arg) else ([arg] if os.path.lexists(arg) else [])
        if not matches:
            missing.append(arg)
        for m in matches:
            kind = _kind(m, notes)
            if kind == "dir":
                for root, dirs, files in os.walk(m):  # followlinks=False: no loops
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    for name in sorted(files):
                        if not name.startswith("."):
                            p = os.path.join(root, name)
                            if _kind(p, notes) == "file":
                                real = Path(os.path.realpath(p))
                                found.setdefault(str(real), real)
            elif kind == "file":
                real = Path(os.path.realpath(m))
                found.setdefault(str(real), real)
                explicit.add(real)
    return [found[k] for k in sorted(found)], missing, explicit


def _kind(path: str, notes: list[str]) -> str | None:
    """``"file"``, ``"dir"`` or ``None`` (reported in ``notes``) for one path."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if os.path.islink(path):
            reason = "a symbolic link loop" if exc.errno == errno.ELOOP else "a broken link"
        else:
            reason = f"cannot be read ({exc.strerror or exc})"
        notes.append(f"{path}: skipped: {reason}")
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    what = (
        "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    notes.append(f"{path}: skipped: {what}, not a regular file (never opened)")
    return None


def _glob(pattern: str) -> list[str]:
    """``glob.glob`` without following symbolic links to folders under ``**``.

    Python's own ``**`` descends into linked folders, so a link to a parent folder
    makes it run (practically) forever; here ``**`` walks with :func:`os.walk`.
    """
    parts = pattern.replace(os.sep, "/").split("/")
    if "**" not in parts:
        return sorted(glob.glob(pattern))
    i = parts.index("**")
    base = "/".join(parts[:i]) or ("/" if pattern.startswith("/") else ".")
    rest = "/".join(p if p != "**" else "*" for p in parts[i + 1 :])
    bases = glob.glob(base) if glob.has_magic(base) else [base]
    out: list[str] = []
    for top in bases:
        if not os.path.isdir(top):
            continue
        for root, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            prefix = root if (parts[:i] or pattern.startswith("/")) else os.path.relpath(root)
            if rest:
                out.extend(glob.glob(os.path.join(glob.escape(prefix), rest)))
            else:
                out.append(prefix)
                out.extend(os.path.join(prefix, f) for f in files if not f.startswith("."))
    return sorted(set(out))
