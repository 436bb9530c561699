"""What every benchmark script shares: progress lines and the machine description.

Imported by the ``bench_*.py`` scripts (run from the repository root or anywhere: each
script puts its own folder on ``sys.path`` first, as Python does for the script's folder).
"""

from __future__ import annotations

import importlib
import os
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["log", "machine"]


def log(message: str) -> None:
    """A progress line on stderr (stdout is kept for the results table)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def machine(packages: Sequence[str] = ("provdb", "psycopg")) -> dict[str, Any]:
    """The machine and software the figures were measured with.

    Platform, Python, CPU model and count, memory, the load average when the script
    started (the VM may be shared: it says how far the figures can be trusted) and the
    version of each of ``packages`` that imports (psycopg with its implementation).
    """
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"model name\s*:\s*(.+)", text)
        info["cpu"] = m.group(1).strip() if m else platform.processor()
        mem = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
        info["memory_gb"] = round(int(mem.group(1)) / 1024**2, 1) if mem else None
    except OSError:
        info["cpu"] = platform.processor()
    for name in packages:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        version = getattr(module, "__version__", None)
        if name == "psycopg":
            version = f"{version} ({module.pq.__impl__})"
        info[name] = version
    return info
