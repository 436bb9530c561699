"""sqlglot parse time doubles with every JOIN that has no ON: a minimal reproduction.

Upstream-ready: the first part needs only sqlglot (``pip install sqlglot``) and shows
the problem with its plain ``postgres`` dialect::

    import sqlglot, time
    for n in range(8, 17):
        sql = "SELECT * FROM t0 " + " ".join(f"JOIN t{i}" for i in range(1, n + 1))
        t = time.perf_counter(); sqlglot.parse_one(sql, dialect="postgres")
        print(n, round(time.perf_counter() - t, 3))

``JOIN t1 JOIN t2 ...`` without ON: the parser tries each JOIN as the start of a nested
join (``a JOIN (b JOIN c ON ...) ON ...``) and backtracks, so the time is O(2^n). The
same chain with ON conditions, with CROSS JOIN or with NATURAL JOIN parses in linear
time. LEFT JOIN without ON shows the same blow-up.

The second part measures provdb's budget (tap/adql/budget.py): how long the service
takes to *refuse* the worst queries, and how long the largest allowed ones translate.

Run: ``python bench/sqlglot_joins.py [--max-joins 16] [--output FILE]``; writes
``bench/results/<date>-sqlglot_joins.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from _common import log, machine, save_results


def _time(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return round(time.perf_counter() - start, 4)


def sqlglot_joins(max_joins: int) -> dict[str, Any]:
    """Parse time of n-JOIN chains in plain sqlglot, per JOIN form."""
    import sqlglot

    forms = {
        "JOIN (no ON)": "JOIN t{i}",
        "LEFT JOIN (no ON)": "LEFT JOIN t{i}",
        "JOIN ... ON": "JOIN t{i} ON t{i}.a = t0.a",
        "CROSS JOIN": "CROSS JOIN t{i}",
    }
    out: dict[str, Any] = {"sqlglot": sqlglot.__version__, "dialect": "postgres", "seconds": {}}
    for label, form in forms.items():
        times = {}
        for n in range(4, max_joins + 1):
            sql = "SELECT * FROM t0 " + " ".join(form.format(i=i) for i in range(1, n + 1))
            times[n] = _time(lambda sql=sql: sqlglot.parse_one(sql, dialect="postgres"))
            log(f"{label:18} {n:2} joins: {times[n]} s")
            if times[n] > 5:  # enough to show the doubling; bounded run time
                break
        out["seconds"][label] = times
    return out


def provdb_budget() -> dict[str, Any]:
    """Time to refuse the worst queries, and to translate the largest allowed ones."""
    from tap.adql import ADQLError, translate
    from tap.adql.budget import JOINS_WITHOUT_CONDITION, QueryBudget
    from tap.catalog import catalog_from_metadata

    catalog = catalog_from_metadata()
    budget = QueryBudget()

    def attempt(sql: str) -> tuple[float, str]:
        start = time.perf_counter()
        try:
            translate(sql, catalog, maxrec=10, budget=budget)
            outcome = "translated"
        except ADQLError as exc:
            outcome = "refused: " + exc.message[:80]
        return round(time.perf_counter() - start, 4), outcome

    entity = "provenance.entity"
    cases = {
        "20 JOINs without ON": f"SELECT * FROM {entity} AS t0 "
        + " ".join(f"JOIN {entity} AS t{i}" for i in range(1, 21)),
        f"{JOINS_WITHOUT_CONDITION} JOINs without ON (parsed, then refused)": (
            f"SELECT t0.name FROM {entity} AS t0 "
        )
        + " ".join(f"JOIN {entity} AS t{i}" for i in range(1, JOINS_WITHOUT_CONDITION + 1)),
        "3000 OR terms": f"SELECT name FROM {entity} WHERE "
        + " OR ".join(f"name = 'n{i}'" for i in range(3000)),
        f"{budget.max_depth - 5} OR terms (allowed)": f"SELECT name FROM {entity} WHERE "
        + " OR ".join(f"name = 'n{i}'" for i in range(budget.max_depth - 5)),
        "4000 || terms": "SELECT "
        + " || ".join("'a'" for _ in range(4000))
        + f" AS x FROM {entity}",
        "IN list of 4000 values (allowed)": f"SELECT name FROM {entity} WHERE name IN ("
        + ",".join(f"'n{i}'" for i in range(4000))
        + ")",
    }
    out = {}
    for label, sql in cases.items():
        seconds, outcome = attempt(sql)
        log(f"{label:40} {seconds} s  {outcome}")
        out[label] = {"chars": len(sql), "seconds": seconds, "outcome": outcome}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-joins", type=int, default=16)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    results = {
        "machine": machine(("provdb", "sqlglot")),
        "sqlglot_parse": sqlglot_joins(args.max_joins),
        "provdb_budget": provdb_budget(),
    }
    path = save_results(results, args.output, "sqlglot_joins")
    log(f"results written to {path}")


if __name__ == "__main__":
    main()
