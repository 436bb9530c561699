"""``provdb ingest`` with a stopwatch on its archive-maintenance steps (for bench_year.py).

Run as ``python bench/_year_ingest.py ingest PATH...``: the same command line interface
as ``python -m provdb``, in the same single process, but the functions that keep the
derived tables current are wrapped with timers first:

* ``closure.add_edges`` (direct edges, once per loader batch, in the writer thread),
* ``closure.update_closure`` (``archive.lineage``, once per file),
* ``sync_session_versions``, ``flags.update_flags`` (``archive.product_flag``) and
  ``obscore.refresh_touched`` (``ivoa.obscore``), once per file.

Seconds per step go to the JSON file named by ``BENCH_YEAR_PHASES`` when the process
exits. With ``BENCH_YEAR_EXPLAIN=FILE`` the statements of ``update_closure`` and
``update_flags`` are also run under ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` (which
executes them, so the archive is the same) and their plans written to FILE.
Nothing of provdb is changed: only timed.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from provdb import obscore  # noqa: E402
from provdb.answers import flags  # noqa: E402
from provdb.ingest import pipeline  # noqa: E402
from provdb.lineage import closure  # noqa: E402

_seconds: dict[str, float] = {}
_calls: dict[str, int] = {}
_lock = threading.Lock()
_plans: list[dict[str, Any]] = []
_EXPLAIN = os.environ.get("BENCH_YEAR_EXPLAIN")


class _ExplainingCursor:
    """A cursor whose data-changing statements run under EXPLAIN ANALYZE (plans kept)."""

    _PREFIXES = ("INSERT", "DELETE", "UPDATE", "CREATE TEMP TABLE", "WITH")

    def __init__(self, cur: Any, step: str) -> None:
        self._cur = cur
        self._step = step
        self.rowcount = -1

    def execute(self, sql: str, params: Any = None, **kw: Any) -> Any:
        text = sql.strip()
        head = text.upper()
        explainable = head.startswith(self._PREFIXES) and "RETURNING" not in head
        if head.startswith("CREATE") and "IF NOT EXISTS" in head:
            explainable = False  # a plain CREATE TABLE has no plan
        if explainable:
            started = time.perf_counter()
            self._cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + text, params, **kw)
            plan = self._cur.fetchone()[0][0]
            _plans.append(
                {
                    "step": self._step,
                    "statement": " ".join(text.split())[:300],
                    "seconds": time.perf_counter() - started,
                    "rows": plan["Plan"].get("Actual Rows"),
                    "plan": plan,
                }
            )
            self.rowcount = _inserted(plan)
            return self
        result = self._cur.execute(sql, params, **kw)
        self.rowcount = self._cur.rowcount
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def _inserted(plan: dict[str, Any]) -> int:
    node = plan["Plan"]
    if node.get("Node Type") == "ModifyTable":
        return int(node.get("Actual Rows", 0) or 0) or int(
            (node.get("Plans") or [{}])[0].get("Actual Rows", 0) or 0
        )
    return int(node.get("Actual Rows", 0) or 0)


def _timed(name: str, fn: Callable[..., Any], explain: bool = False) -> Callable[..., Any]:
    def wrapper(cur: Any, *args: Any, **kwargs: Any) -> Any:
        if explain and _EXPLAIN:
            cur = _ExplainingCursor(cur, name)
        started = time.perf_counter()
        try:
            return fn(cur, *args, **kwargs)
        finally:
            with _lock:
                _seconds[name] = _seconds.get(name, 0.0) + time.perf_counter() - started
                _calls[name] = _calls.get(name, 0) + 1

    return wrapper


def _save() -> None:
    out = os.environ.get("BENCH_YEAR_PHASES")
    if out:
        Path(out).write_text(json.dumps({"seconds": _seconds, "calls": _calls}, indent=1))
    if _EXPLAIN:
        Path(_EXPLAIN).write_text(json.dumps(_plans, indent=1))


def install() -> None:
    """Wrap the maintenance steps with timers (module attributes: every caller sees them)."""
    closure.add_edges = _timed("closure_edges", closure.add_edges)
    closure.update_closure = _timed("closure_update", closure.update_closure, explain=True)
    flags.update_flags = _timed("flags", flags.update_flags, explain=True)
    obscore.refresh_touched = _timed("obscore", obscore.refresh_touched)
    pipeline.sync_session_versions = _timed("versions", pipeline.sync_session_versions)
    atexit.register(_save)


if __name__ == "__main__":
    install()
    from provdb.cli import main

    main()
