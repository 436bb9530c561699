#!/usr/bin/env python
"""Layout time of the lineage SVG: provdb's own layered layout against Graphviz ``dot``.

The graphs are LST-shaped lineages built in memory (no database): per subrun an R0
file, ``r0_to_dl1`` (using it and the night's five calibration files, all in the same
roles), DL1a, ``dl1ab`` (DL1a -> DL1b), ``dl1_datacheck`` (DL1b -> check file), plus the
agent ``lstanalyzer`` associated with every activity: 7 nodes per subrun. Sizes 50,
500 and 2,000 nodes by default (``--sizes``).

Engines, each timed end to end (layout, label placement, SVG text), ``--repeat`` times:

* ``python``: :func:`provdb.lineage.svg.svg_python`, pure Python, always installed;
* ``graphviz-pure``: the ``dot`` of the ``graphviz-pure`` wheel (``pip install
  graphviz-pure``, a Rust port of Graphviz), when installed;
* ``dot``: the system's Graphviz ``dot`` (``apt-get install graphviz``), when found.

A run over ``--timeout`` seconds is recorded as such. The faster engine per size is
written in ``choice``: it is what ``provdb.lineage.svg.render_svg`` uses.

Results: ``bench/results/<date>-layout.json``. Example::

    python bench/bench_layout.py                  # 50 / 500 / 2,000 nodes, 3 repeats
    python bench/bench_layout.py --sizes 50 200 --repeat 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import log, machine, save_results

from provdb.lineage.graph import Edge, Node, ProvGraph
from provdb.lineage.svg import svg_dot, svg_python

CALIBRATION = ("pedestal", "coefficients", "time_calibration", "systematics", "run_summary")


def lst_graph(n_nodes: int) -> ProvGraph:
    """An LST-like lineage of about ``n_nodes`` nodes (7 per subrun, plus 6 shared)."""
    g = ProvGraph(roots=[], depth=None, direction="BACK", limit=n_nodes * 2)
    for c in CALIBRATION:
        g.add_node(Node("entity", c, {"name": c.title(), "location": f"/calib/{c}.h5"}))
    g.add_node(Node("agent", "lstanalyzer", {"name": "lstanalyzer"}))
    subruns = max(1, (n_nodes - len(CALIBRATION) - 1) // 7)
    for s in range(subruns):
        run = f"Run01807.{s:04d}"
        t = f"2020-01-17T{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
        files = {k: f"{k}_{s}" for k in ("r0", "dl1a", "dl1b", "check")}
        for k, ident in files.items():
            g.add_node(Node("entity", ident, {"name": k.upper(), "location": f"/{k}/{run}.h5"}))
        acts = {k: f"{k}_{s}" for k in ("r0_to_dl1", "dl1ab", "dl1_datacheck")}
        for k, ident in acts.items():
            g.add_node(Node("activity", ident, {"name": k, "start_time": t}))
            g.add_edge(Edge("wasAssociatedWith", ident, "lstanalyzer", (("role", "operator"),)))
        g.add_edge(Edge("used", acts["r0_to_dl1"], files["r0"], (("role", "R0 file"),)))
        for c in CALIBRATION:
            g.add_edge(Edge("used", acts["r0_to_dl1"], c, (("role", f"{c} file"),)))
        g.add_edge(Edge("wasGeneratedBy", files["dl1a"], acts["r0_to_dl1"], (("role", "DL1"),)))
        g.add_edge(Edge("used", acts["dl1ab"], files["dl1a"], (("role", "DL1"),)))
        g.add_edge(Edge("wasGeneratedBy", files["dl1b"], acts["dl1ab"], (("role", "DL1b"),)))
        g.add_edge(Edge("used", acts["dl1_datacheck"], files["dl1b"], (("role", "DL1b"),)))
        g.add_edge(
            Edge("wasGeneratedBy", files["check"], acts["dl1_datacheck"], (("role", "check"),))
        )
    return g.finish()


def dot_engines() -> dict[str, str]:
    """Installed ``dot`` executables by engine name."""
    out = {}
    beside = Path(sys.executable).parent / "graphviz-pure"
    pure = shutil.which("graphviz-pure") or (str(beside) if beside.exists() else None)
    if pure:
        out["graphviz-pure"] = pure
    system = shutil.which("dot")
    if system:
        out["dot"] = system
    return out


def time_engine(graph: ProvGraph, engine: str, exe: str | None, repeat: int, timeout: float):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            if engine == "python":
                svg_python(graph)
            else:
                svg_dot(graph, exe or "dot", timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"timeout_s": timeout}
        times.append(time.perf_counter() - t0)
    return {
        "median_s": round(statistics.median(times), 4),
        "best_s": round(min(times), 4),
        "runs": len(times),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/bench_layout.py --sizes 50 500 2000 --repeat 3",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 500, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per dot run")
    parser.add_argument("--output", type=Path, help="results file (default bench/results/)")
    args = parser.parse_args(argv)
    engines: dict[str, str | None] = {"python": None, **dot_engines()}
    results: dict[str, Any] = {
        "benchmark": "layout",
        "machine": machine(("provdb",)),
        "engines": {k: v for k, v in engines.items()},
        "repeat": args.repeat,
        "sizes": [],
    }
    for size in args.sizes:
        graph = lst_graph(size)
        row: dict[str, Any] = {"nodes": len(graph.nodes), "edges": len(graph.edges)}
        for engine, exe in engines.items():
            log(f"{len(graph.nodes)} nodes: {engine}")
            row[engine] = time_engine(graph, engine, exe, args.repeat, args.timeout)
            log(f"  {row[engine]}")
        timed = {e: row[e]["median_s"] for e in engines if "median_s" in row[e]}
        row["choice"] = min(timed, key=timed.get)
        results["sizes"].append(row)
        print(
            f"{row['nodes']:>6} nodes "
            + "  ".join(f"{e}: {row[e].get('median_s', 'timeout')}" for e in engines)
            + f"  -> {row['choice']}"
        )
    path = save_results(results, args.output, "layout")
    log(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
