#!/usr/bin/env python
"""Every TAP output format against the database's own speed (issue 17, section 5).

The archive is bench_tap.py's (``provenance.*`` filled in SQL, lstosa-shaped; by default
the issue's scale: 1M entities, 2M used, 1M parameters), in its own ``--workdir``.
``provdb serve --workers 2 --threads 8`` runs as a subprocess; in the same run:

1. **formats**: ``SELECT TOP 100000 * FROM provenance.used`` and ``... entity`` and the
   1,000,000-row ``SELECT * FROM provenance.used`` as CSV, TSV, JSON and VOTable BINARY2
   (streamed HTTP download, bytes discarded, best of ``--repeat``), each beside its
   floors on the same SQL: ``psql -c "COPY (sql) TO STDOUT (FORMAT csv|text)"`` to
   /dev/null (the database writing the rows' text itself: the psql floor; CSV against
   ``FORMAT csv``, the others against ``FORMAT text``) and a psycopg server-side cursor
   fetch (rows discarded). Then the same 100,000-row downloads from a second service
   with ``PROVDB_TAP_TEXT_COPY=0``: the Python writers, as before;
2. **one row**: ``SELECT * FROM provenance.entity WHERE id = '...'`` as ``--single``
   sequential POSTs over one keep-alive session (median/p95; bench_tap.measure_one_row),
   and **8 clients** (``--clients``) doing it for ``--duration`` s: requests/s;
3. **BINARY2 text sizes**: for the string-heavy 100,000 entities, the bytes of the text
   columns as the service writes them (``unicodeChar`` = UCS-2, ``char`` = ASCII) and as
   ``char`` holding UTF-8 would be (VOTable 1.6 draft), and the document's size gzipped;
4. **parameter filter**: activities having one parameter name = value (a join of
   ``parameter`` and ``activity``), direct in PostgreSQL and through /tap/sync, without
   and with the indexes of migration 0013.

Results go to ``bench/results/<date>-formats.json`` (or ``--output``).

Example::

    python bench/bench_formats.py                       # the issue's scale (~2 min to build)
    python bench/bench_formats.py --entities 100000 --used 200000 --generations 100000 \\
        --parameters 100000 --stream-rows 200000 --duration 5    # a quick iteration
    python bench/bench_formats.py --keep ; python bench/bench_formats.py --reuse
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import argument_parser, bench_home, log, machine, save_results, upgrade_archive  # noqa: E402  (bench/ is on sys.path)
from bench_tap import (  # noqa: E402
    Service,
    _direct_fetch,
    _download,
    generate,
    measure_concurrent,
    measure_one_row,
    table_counts,
    tap_form,
)

FORMATS = {"csv": "csv", "tsv": "text", "json": "text", "votable/b2": "text"}
BULK = "SELECT TOP {n} * FROM provenance.{table}"
STREAM = "SELECT * FROM provenance.used"
PARAM_FILTER = (
    "SELECT a.id, a.name, a.start_time FROM provenance.activity AS a "
    "JOIN provenance.parameter AS p ON p.activity_id = a.id "
    "WHERE p.name = '{name}' AND p.parameter_value = '{value}'"
)
PARAM_INDEXES = {
    "ix_parameter_parameter_value": "CREATE INDEX ix_parameter_parameter_value "
    "ON provenance.parameter USING hash (parameter_value)",
    "ix_parameter_name": "CREATE INDEX ix_parameter_name ON provenance.parameter (name)",
}


def psql_floor(conninfo: str, sql: str, fmt: str, repeat: int) -> float:
    """Best wall time of ``psql`` writing ``COPY (sql) TO STDOUT (FORMAT fmt)`` to /dev/null."""
    psql = shutil.which("psql")
    if psql is None:
        raise SystemExit("psql is needed for the floor (Debian: apt-get install postgresql-client)")
    copy = f"COPY ({sql}) TO STDOUT (FORMAT {fmt})"
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", copy],
            stdout=subprocess.DEVNULL,
            check=True,
        )
        best = min(best, time.perf_counter() - t)
    return best


def download(base: str, query: str, fmt: str, maxrec: int, repeat: int) -> dict[str, Any]:
    """Best of ``repeat`` streamed downloads; checks the result's end."""
    times = []
    size = 0
    for _ in range(repeat):
        secs, size, status, tail = _download(base, tap_form(query, maxrec=maxrec, fmt=fmt))
        bad = status != 200 or b'value="ERROR"' in tail or b'"error":' in tail
        if bad or (fmt == "json" and not tail.rstrip().endswith(b"}")):
            raise SystemExit(f"{query} as {fmt}: HTTP {status}, tail {tail[-300:]!r}")
        times.append(secs)
    return {
        "best_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        "bytes": size,
    }


def measure_formats(
    base: str, conninfo: str, sql_of: Any, cases: list[tuple[str, str, int]], repeat: int
) -> list[dict[str, Any]]:
    out = []
    for label, query, maxrec in cases:
        sql, _ = sql_of(query, maxrec)
        cursor_s = min(_direct_fetch(conninfo, sql)[0] for _ in range(repeat))
        floors = {f: psql_floor(conninfo, sql, f, repeat) for f in ("csv", "text")}
        for fmt, floor_fmt in FORMATS.items():
            log(f"  {label} as {fmt} ...")
            got = download(base, query, fmt, maxrec, repeat)
            floor = floors[floor_fmt]
            out.append(
                {
                    "case": label,
                    "query": query,
                    "format": fmt,
                    "tap": got,
                    "psql_copy_floor_s": round(floor, 3),
                    "psql_copy_format": floor_fmt,
                    "psycopg_cursor_s": round(cursor_s, 3),
                    "ratio_to_psql_floor": round(got["best_s"] / floor, 2),
                    "ratio_to_psycopg_cursor": round(got["best_s"] / cursor_s, 2),
                }
            )
    return out


def measure_text_sizes(base: str, conninfo: str, sql_of: Any, rows: int) -> dict[str, Any]:
    """UCS-2 against UTF-8 for the text of a string-heavy BINARY2 result."""
    import base64
    import re

    import psycopg
    import requests

    from tap.catalog import catalog_from_metadata

    query = BULK.format(n=rows, table="entity")
    sql, _ = sql_of(query, rows)
    table = next(t for t in catalog_from_metadata().tables if t.name == "provenance.entity")
    kinds = {c.name: c.datatype for c in table.columns}
    r = requests.post(f"{base}/sync", data=tap_form(query, maxrec=rows, fmt="votable/b2"))
    r.raise_for_status()
    doc = r.content
    stream = base64.b64decode(b"".join(re.findall(rb"<STREAM[^>]*>(.*?)</STREAM>", doc, re.S)))
    ucs2 = utf8 = ascii_ = 0
    per_column: dict[str, dict[str, int]] = {}
    with psycopg.connect(conninfo) as conn:
        cur = conn.execute(sql)
        names = [d.name for d in cur.description]
        for row in cur:
            for name, value in zip(names, row, strict=True):
                if not isinstance(value, str) or kinds.get(name) not in ("char", "unicodeChar"):
                    continue
                col = per_column.setdefault(name, {"ucs2": 0, "utf8": 0, "non_ascii": 0})
                n8 = len(value.encode("utf-8"))
                col["ucs2"] += 4 + 2 * len(value)
                col["utf8"] += 4 + n8
                col["non_ascii"] += n8 != len(value)
                if kinds[name] == "unicodeChar":
                    ucs2 += 4 + 2 * len(value)
                    utf8 += 4 + n8
                else:
                    ascii_ += 4 + n8
    as_utf8 = len(stream) - ucs2 + utf8
    return {
        "query": query,
        "unicodeChar_columns": sorted(n for n, k in kinds.items() if k == "unicodeChar"),
        "binary2_bytes_as_served": len(stream),
        "binary2_bytes_if_char_utf8": as_utf8,
        "ratio_served_to_utf8": round(len(stream) / as_utf8, 3),
        "unicodeChar_text_bytes_ucs2": ucs2,
        "unicodeChar_text_bytes_utf8": utf8,
        "char_text_bytes": ascii_,
        "document_bytes": len(doc),
        "document_gzip_bytes": len(gzip.compress(doc, 6)),
        "per_column": per_column,
    }


def sampled(cur: Any, table: str, columns: str, limit: int) -> list[tuple]:
    """Up to ``limit`` rows of ``table``: a 1 % block sample (cheap at any size), or at a
    small scale, where that sample may hold no row at all, the first rows by ``id``."""
    cur.execute(
        f"SELECT {columns} FROM {table} TABLESAMPLE SYSTEM (1) REPEATABLE (3) LIMIT {limit}"
    )
    rows = cur.fetchall()
    if len(rows) < limit:
        cur.execute(f"SELECT {columns} FROM {table} ORDER BY id LIMIT {limit}")
        rows = cur.fetchall()
    return rows


def _literal(value: str) -> str:
    """``value`` inside an ADQL string literal."""
    return value.replace("'", "''")


def measure_parameter_filter(base: str, conninfo: str, sql_of: Any, repeat: int) -> dict[str, Any]:
    import psycopg
    import requests

    with psycopg.connect(conninfo, autocommit=True) as conn:
        with conn.cursor() as cur:
            found = sampled(cur, "provenance.parameter", "name, parameter_value", 1)
        if not found:
            return {"skipped": "the archive has no parameter"}
        name, value = found[0]
        query = PARAM_FILTER.format(name=_literal(name), value=_literal(value or ""))
        sql, _ = sql_of(query, 100_000)
        out: dict[str, Any] = {"query": query}
        for state in ("without_indexes", "with_indexes"):
            if state == "without_indexes":
                for index in PARAM_INDEXES:
                    conn.execute(f"DROP INDEX IF EXISTS provenance.{index}")
            else:
                for ddl in PARAM_INDEXES.values():
                    conn.execute(ddl.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS"))
            conn.execute("ANALYZE provenance.parameter")
            direct, http, rows = [], [], 0
            for _ in range(repeat + 1):
                t = time.perf_counter()
                rows = len(conn.execute(sql).fetchall())
                direct.append(time.perf_counter() - t)
                t = time.perf_counter()
                r = requests.post(f"{base}/sync", data=tap_form(query, maxrec=100_000, fmt="csv"))
                http.append(time.perf_counter() - t)
                r.raise_for_status()
            plan = "\n".join(x[0] for x in conn.execute("EXPLAIN " + sql).fetchall())
            out[state] = {
                "rows": rows,
                "direct_ms": round(min(direct[1:]) * 1000, 2),
                "tap_csv_ms": round(min(http[1:]) * 1000, 2),
                "plan_uses": sorted(i for i in PARAM_INDEXES if i in plan),
            }
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__, "bench_formats.py")
    p.add_argument("--entities", type=int, default=1_000_000)
    p.add_argument("--activities", type=int, help="default entities / 4")
    p.add_argument("--used", type=int, default=2_000_000)
    p.add_argument("--generations", type=int, default=1_000_000)
    p.add_argument("--parameters", type=int, default=1_000_000)
    p.add_argument("--rows", type=int, default=100_000, help="rows of the bulk queries")
    p.add_argument("--stream-rows", type=int, default=1_000_000, help="rows of the big query")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--single", type=int, default=300, help="sequential one-row requests")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/provdb-bench-formats"))
    p.add_argument("--keep", action="store_true", help="keep the archive afterwards")
    p.add_argument("--reuse", action="store_true", help="measure an archive kept before")
    p.add_argument("--output", type=Path)
    p.add_argument(
        "--formats-only",
        action="store_true",
        help="measure only the formats against their floors (step 1; for iterating)",
    )
    args = p.parse_args(argv)
    args.activities = args.activities or max(args.entities // 4, 1)
    if args.stream_rows > args.used or args.rows > min(args.used, args.entities):
        p.error("--rows and --stream-rows must fit in the generated tables")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import psycopg

    from provdb.config import Settings
    from provdb.db import connect, start_embedded
    from tap.adql import translate
    from tap.catalog import catalog_from_metadata

    home, env = bench_home(args.workdir, reuse=args.reuse)
    env.update(
        {
            "PROVDB_TAP_MAXREC": str(max(args.stream_rows, args.rows)),
            # the clients all come from 127.0.0.1: one client for the per-client limit
            "PROVDB_TAP_MAX_SYNC_PER_CLIENT": str(max(args.clients * 2, 4)),
        }
    )
    os.environ.pop("PROVDB_DATABASE_URL", None)
    os.environ["PROVDB_HOME"] = str(home)
    server, _ = start_embedded(home / "pgdata")
    database = connect(Settings.from_env())
    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    sizes = {k: getattr(args, k) for k in ("entities", "activities", "used", "generations")}
    sizes["parameters"] = args.parameters
    results: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": machine(("provdb", "psycopg", "gunicorn", "requests")),
        "parameters": {**sizes, "repeat": args.repeat, "clients": args.clients},
    }
    services: list[Service] = []
    try:
        results["machine"]["postgresql"], existing = upgrade_archive(env, conninfo)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            if not (existing and args.reuse):
                log("generating the archive in SQL ({entities:,} entities) ...".format(**sizes))
                t = time.perf_counter()
                with conn.transaction(), conn.cursor() as cur:
                    generate(cur, sizes)
                conn.execute("VACUUM ANALYZE")
                log(f"generated in {time.perf_counter() - t:.0f} s")
            with conn.cursor() as cur:
                results["archive_rows"] = table_counts(cur)
                ids = [r[0] for r in sampled(cur, "provenance.entity", "id", 2000)]

        catalog = catalog_from_metadata()

        def sql_of(query: str, maxrec: int | None = None) -> tuple[str, float]:
            t = time.perf_counter()
            tr = translate(query, catalog, maxrec=maxrec or 1000)
            return tr.sql, (time.perf_counter() - t) * 1000

        service = Service(env, 2, 8, args.workdir / "serve.log")
        services.append(service)
        service.wait_ready()
        bulk = [
            (f"{args.rows:,} used", BULK.format(n=args.rows, table="used"), args.rows),
            (f"{args.rows:,} entity", BULK.format(n=args.rows, table="entity"), args.rows),
        ]
        log("formats against their floors ...")
        results["formats"] = measure_formats(
            service.base,
            conninfo,
            sql_of,
            [*bulk, (f"{args.stream_rows:,} used", STREAM, args.stream_rows)],
            args.repeat,
        )
        if args.formats_only:
            results["machine"]["loadavg_at_end"] = os.getloadavg()
            return _finish(results, args)
        log(f"one row, {args.single} sequential requests ...")
        results["one_row"] = measure_one_row(service.base, conninfo, sql_of, ids, args.single)
        log(f"{args.clients} clients for {args.duration:.0f} s ...")
        results["concurrent"] = measure_concurrent(
            service, home / "pgdata", ids, args.clients, args.duration
        )
        log("BINARY2 text sizes ...")
        results["binary2_text"] = measure_text_sizes(service.base, conninfo, sql_of, args.rows)
        log("parameter filter ...")
        results["parameter_filter"] = measure_parameter_filter(
            service.base, conninfo, sql_of, args.repeat
        )
        service.stop()
        log("the Python writers (PROVDB_TAP_TEXT_COPY=0) ...")
        python = Service({**env, "PROVDB_TAP_TEXT_COPY": "0"}, 2, 8, args.workdir / "py.log")
        services.append(python)
        python.wait_ready()
        before = []
        for label, query, maxrec in bulk:
            for fmt in ("csv", "tsv", "json"):
                before.append(
                    {
                        "case": label,
                        "format": fmt,
                        "tap": download(python.base, query, fmt, maxrec, args.repeat),
                    }
                )
        results["python_writers"] = before
        results["machine"]["loadavg_at_end"] = os.getloadavg()
    finally:
        for s in services:
            s.stop()
        database.dispose()
        server._cleanup()
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)

    return _finish(results, args)


def _finish(results: dict[str, Any], args: argparse.Namespace) -> int:
    """Targets, the results file (``--formats-only``: only with ``--output``) and the table."""
    text = [r for r in results["formats"] if r["format"] in ("csv", "tsv", "json")]
    at_floor = all(r["ratio_to_psql_floor"] <= 1.5 for r in text)
    targets = {"text_formats_le_1_5x_psql_floor": at_floor}
    if "one_row" in results:
        one = results["one_row"]["tap"]
        conc = results["concurrent"]
        targets["one_row_median_le_2ms"] = one["median_ms"] <= 2.0
        targets["ge_1000_rps_8_clients"] = conc["requests_per_s"] >= 1000 and conc["errors"] == 0
    results["targets"] = targets
    if not args.formats_only or args.output:
        output = save_results(results, args.output, "formats")
        print(f"results: {output}")
    print_table(results)
    return 0


def print_table(results: dict[str, Any]) -> None:
    print(f"\n{'case':18} {'format':11} {'TAP s':>8} {'psql s':>8} {'x floor':>8} {'cursor s':>9}")
    for r in results["formats"]:
        print(
            f"{r['case']:18} {r['format']:11} {r['tap']['best_s']:>8.3f} "
            f"{r['psql_copy_floor_s']:>8.3f} {r['ratio_to_psql_floor']:>8.2f} "
            f"{r['psycopg_cursor_s']:>9.3f}"
        )
    print(f"load average (1 min) at the end: {results['machine']['loadavg_at_end'][0]:.2f}")
    if "one_row" not in results:
        print("targets:", results["targets"])
        return
    for r in results["python_writers"]:
        print(f"{r['case']:18} {r['format'] + ' (py)':11} {r['tap']['best_s']:>8.3f}")
    one, conc = results["one_row"], results["concurrent"]
    print(
        f"one row: median {one['tap']['median_ms']} ms (direct "
        f"{one['direct_persistent_connection']['median_ms']} ms); {conc['clients']} clients: "
        f"{conc['requests_per_s']} req/s, {conc['errors']} errors"
    )
    b = results["binary2_text"]
    print(
        f"BINARY2 text: {b['binary2_bytes_as_served']:,} B served (UCS-2), "
        f"{b['binary2_bytes_if_char_utf8']:,} B as UTF-8 char ({b['ratio_served_to_utf8']}x); "
        f"gzip document {b['document_gzip_bytes']:,} B"
    )
    pf = results["parameter_filter"]
    if "skipped" in pf:
        print("parameter filter:", pf["skipped"])
        print("targets:", results["targets"])
        return
    print(
        f"parameter filter: {pf['without_indexes']['direct_ms']} ms -> "
        f"{pf['with_indexes']['direct_ms']} ms direct, TAP {pf['without_indexes']['tap_csv_ms']}"
        f" -> {pf['with_indexes']['tap_csv_ms']} ms"
    )
    print("targets:", results["targets"])


if __name__ == "__main__":
    sys.exit(main())
