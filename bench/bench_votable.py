"""The streaming result writers alone (no database): rows per second, in memory.

200,000 rows x 8 columns (long, int, double, float, ASCII text, Unicode text,
boolean, timestamp) in batches of 10,000, written as VOTable BINARY2 and TABLEDATA
(``tap.votable.votable_stream``) and as CSV and JSON; the best of ``--repeat`` runs.
Writes ``bench/results/<date>-votable.json`` and prints a table.

    python bench/bench_votable.py                 # ~30 s
    python bench/bench_votable.py --rows 50000 --output /tmp/votable.json
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import log, machine, save_results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000, help="rows per document")
    p.add_argument("--repeat", type=int, default=3, help="runs per format (the best is kept)")
    p.add_argument(
        "--output", type=Path, help="results file (default bench/results/<date>-votable.json)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from provdb.votable import Field
    from tap.votable import csv_stream, json_stream, votable_stream

    fields = [
        Field("id", "long"),
        Field("n", "int"),
        Field("ra", "double"),
        Field("mag", "float"),
        Field("name", "char", "*"),
        Field("label", "unicodeChar", "*"),
        Field("flag", "boolean"),
        Field("t", "char", "*", xtype="timestamp"),
    ]
    base = datetime(2020, 1, 1)
    rows = [
        (
            i,
            i % 1000,
            i * 1e-3,
            (i % 50) / 3,
            f"object_{i:07d}",
            ("alpha", "beta", "γ")[i % 3],
            i % 2 == 0,
            base + timedelta(seconds=i, milliseconds=i % 7),
        )
        for i in range(args.rows)
    ]
    batches = [rows[i : i + 10_000] for i in range(0, args.rows, 10_000)]
    writers = {
        "votable binary2": lambda: votable_stream(fields, batches, serialization="binary2"),
        "votable tabledata": lambda: votable_stream(fields, batches, serialization="tabledata"),
        "csv": lambda: csv_stream(fields, batches),
        "json": lambda: json_stream(fields, batches),
    }
    cases = []
    for name, make in writers.items():
        best, size = float("inf"), 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            size = sum(len(chunk) for chunk in make())
            best = min(best, time.perf_counter() - start)
        case = {
            "format": name,
            "seconds": round(best, 3),
            "rows_per_s": round(args.rows / best),
            "mb": round(size / 1e6, 1),
        }
        log(str(case))
        cases.append(case)
    results = {
        "benchmark": "bench/bench_votable.py",
        "machine": machine(),
        "rows": args.rows,
        "columns": len(fields),
        "repeat": args.repeat,
        "cases": cases,
    }
    path = save_results(results, args.output, "votable")
    print(f"{'format':18} {'rows/s':>10} {'MB':>6}")
    for c in cases:
        print(f"{c['format']:18} {c['rows_per_s']:>10,} {c['mb']:>6}")
    log(f"results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
