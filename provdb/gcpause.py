"""Pause Python's cyclic garbage collector for a block that builds many acyclic objects.

A ProvSAP answer on a year archive builds ~50,000 small dicts, lists and tuples (rows,
graph nodes, PROV records) that are freed by reference counting alone. Each allocation
burst makes the collector scan its generations, and every full collection walks the
whole heap of a service process (Flask, astropy, sqlglot ... several 100,000 objects):
a third of the CPU time of the DL3 lineage went there (bench/results/
2026-12-07-year-provsap.json). The collector is paused for the block only and turned
back on after it, unless something else had paused it already.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector disabled (re-enabled after)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
