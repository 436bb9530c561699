#!/usr/bin/env python
"""Benchmark the provenance answers (issue #11): checks, recipes, recipe diffs.

Two archives, each in its own embedded ``PROVDB_HOME`` under ``--home``:

1. **night** (``--parts night``): a grown synthetic night written by
   ``bench/make_synthetic.py`` (``--runs`` x ``--subruns`` with ``--dl2``, ``--reprocess``
   and the ctapipe log of ``lstchain_dl1_to_dl2`` with ``--failures`` failed runs;
   default 30 x 150, 316,840 lines + 30 ctapipe activities), ingested by one timed
   ``python -m provdb ingest --model definition.yaml <folder>`` process (wall time,
   records/s, peak RSS), compared with the plain night's first ingest in the newest
   ``bench/results/*-ingest.json`` (the cost of dl2 and reprocessing). Then timed:

   * ``provdb.answers.checks.run_checks(conn, night=...)`` (target < 10 s);
   * ``build_recipe`` of a reprocessed DL2 subrun file and
     ``compare_recipes(build_recipe(reprocessed), build_recipe(not reprocessed))`` for
     pairs of the same subrun number in a reprocessed run and a later run (stale).

2. **archive** (``--parts archive``): the ~10M relation rows of ``bench_lineage.py``'s
   bulk SQL generator (``--nights`` x ``--archive-runs`` x ``--archive-subruns``, default
   100 x 20 x 200), whose DL2 subrun files have the lstosa lineage depth
   (DL2 <- dl1_to_dl2 <- DL1b <- dl1ab self-loop, wasDerivedFrom DL1a <- r0_to_dl1 <- R0 +
   pedestal/coefficients <- calibrate_charge/drs4_pedestal <- calibration R0). Timed:

   * ``build_recipe(conn, id)`` for ``--products`` DL2 products spread over the nights
     (first, cold, call apart; median and max; target < 1 s each);
   * ``compare_recipes(build_recipe(a), build_recipe(b))`` for ``--pairs`` pairs, half
     from two runs of one night, half from two nights (median and max; target < 1 s);
   * the forward question (the products a calibration file affects) when the recipe
     module exposes it (``affected``, ``affected_products``, ``affected_by`` or
     ``find_affected``, called as ``f(conn, entity_id)``: looked up with ``hasattr``);
     which function was measured is recorded.

The answers' modules are imported lazily: when one is missing (it is written on another
branch), its measurement is recorded as ``{"skipped": "provdb.answers.<m> not
available"}`` and the rest runs. Results: ``bench/results/<date>-answers.json`` (or
``--output``). ``--keep`` keeps both archives (and the generated files); ``--reuse``
measures archives kept before instead of building them again.

Example::

    python bench/bench_answers.py                     # full scale (the 10M build: minutes)
    python bench/bench_answers.py --runs 3 --subruns 20 --nights 2 --archive-runs 3 \\
        --archive-subruns 20 --products 5 --pairs 4 --reprocess 1 --failures 1  # quick
    python bench/bench_answers.py --keep              # keep the archives ...
    python bench/bench_answers.py --reuse             # ... and measure them again
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import importlib
import json
import os
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import argument_parser, log, machine, provdb_env, save_results  # noqa: E402  (bench/ is on sys.path: the script's folder)

from provdb.samples import path as samples_path  # noqa: E402

#: the sample tree: provdb's own copy unless PROVDB_SAMPLES names another
SAMPLES = Path(os.environ.get("PROVDB_SAMPLES") or samples_path())
DEFINITION = SAMPLES / "lstosa" / "config" / "definition.yaml"
NIGHT_DATE = "20200117"
TARGETS_S = {"checks": 10.0, "recipe": 1.0, "compare": 1.0}
#: names the recipe module's forward question may have (written on another branch)
AFFECTED_NAMES = ("affected", "affected_products", "affected_by", "find_affected")


# ----------------------------------------------------------------------------- helpers


def answers_module(name: str) -> Any | None:
    """``provdb.answers.<name>`` if it can be imported (other branches write them)."""
    try:
        return importlib.import_module(f"provdb.answers.{name}")
    except ImportError:
        return None


def skipped(name: str) -> dict[str, str]:
    message = f"skipped: provdb.answers.{name} not available"
    log(message)
    return {"skipped": f"provdb.answers.{name} not available"}


def ms_since(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 2)


def summarise(samples_ms: list[float], target_s: float) -> dict[str, Any]:
    """Median and max of ``samples_ms`` and whether every sample meets ``target_s``."""
    return {
        "n": len(samples_ms),
        "median_ms": round(statistics.median(samples_ms), 2),
        "max_ms": round(max(samples_ms), 2),
        "min_ms": round(min(samples_ms), 2),
        "target_s": target_s,
        "target_met": max(samples_ms) < target_s * 1000,
    }


def guarded(label: str, func: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement; an error in code under test is recorded, not fatal."""
    try:
        return func()
    except Exception as exc:  # the answers' modules are young: record and carry on
        log(f"{label}: failed: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}


def md5(path: str) -> str:
    """lstosa's file entity id (spec §1.6), as make_synthetic and bench_lineage write it."""
    return hashlib.md5(str(Path(path)).encode()).hexdigest()


class Home:
    """An embedded provdb archive in ``path`` held running by this process."""

    def __init__(self, path: Path, *, reuse: bool) -> None:
        if path.exists() and not reuse:
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.env = provdb_env(path / "provdb-home", wide=True)
        from provdb import migrate
        from provdb.config import Settings
        from provdb.db import connect, start_embedded

        self.server, _ = start_embedded(path / "provdb-home" / "pgdata")
        self.database = connect(Settings.from_env(self.env))
        migrate.upgrade(self.database.engine)

    def count(self, sql: str) -> int:
        with self.database.engine.connect() as c:
            return int(c.exec_driver_sql(sql).scalar() or 0)

    def close(self, *, keep: bool) -> None:
        self.database.dispose()
        self.server._cleanup()  # type: ignore[attr-defined]  stops it when we are the last user
        if not keep:
            shutil.rmtree(self.path, ignore_errors=True)


def reference_ingest() -> dict[str, Any] | None:
    """The plain night's best first ingest in the newest ``*-ingest.json`` result."""
    files = sorted((REPO / "bench" / "results").glob("*-ingest.json"))
    if not files:
        return None
    data = json.loads(files[-1].read_text())
    firsts = [s for s in data.get("steps", []) if str(s.get("step", "")).startswith("first")]
    if not firsts:
        return None
    best = min(firsts, key=lambda s: s["wall_s"])
    return {
        "file": files[-1].name,
        "command": data.get("command"),
        "records": best.get("records"),
        "wall_s": round(best["wall_s"], 2),
        "records_per_s": round(best.get("records_per_s") or 0),
    }


def time_recipes(
    recipe: Any, compare: Any, engine: Any, products: list[str], pairs: list[tuple[str, str]]
) -> dict[str, Any]:
    """build_recipe over ``products`` and compare_recipes over ``pairs`` (one connection)."""
    out: dict[str, Any] = {}
    with engine.connect() as sa_conn:
        conn = sa_conn.connection.driver_connection  # a psycopg connection
        if recipe is None:
            out["build_recipe"] = skipped("recipe")
        else:
            t = time.perf_counter()
            recipe.build_recipe(conn, products[0])
            first = ms_since(t)
            times = []
            for ident in products:
                t = time.perf_counter()
                recipe.build_recipe(conn, ident)
                times.append(ms_since(t))
            out["build_recipe"] = {"first_ms": first, **summarise(times, TARGETS_S["recipe"])}
            log(f"build_recipe over {len(products)} DL2 products: {out['build_recipe']}")
        if recipe is None or compare is None:
            out["compare_recipes"] = skipped("compare" if recipe else "recipe")
        else:
            times = []
            for a, b in pairs:
                t = time.perf_counter()
                compare.compare_recipes(recipe.build_recipe(conn, a), recipe.build_recipe(conn, b))
                times.append(ms_since(t))
            out["compare_recipes"] = {
                "includes": "both build_recipe calls",
                **summarise(times, TARGETS_S["compare"]),
            }
            log(f"compare_recipes over {len(pairs)} pairs: {out['compare_recipes']}")
    return out


# ----------------------------------------------------------------------------- night


def night_part(args: argparse.Namespace) -> dict[str, Any]:
    """Generate, ingest and measure the grown night."""
    from bench_ingest import provdb, summary_figures
    from make_synthetic import ctapipe_log, expected_counts, generate_night

    home = Home(args.home / "night", reuse=args.reuse)
    out: dict[str, Any] = {
        "parameters": {
            "runs": args.runs,
            "subruns": args.subruns,
            "dl2": True,
            "reprocess": args.reprocess,
            "failures": args.failures,
            "date": NIGHT_DATE,
        }
    }
    try:
        folder = home.path / "input"
        folder.mkdir(exist_ok=True)
        prov, ctalog = folder / "prov.log", folder / "dl1_to_dl2.provenance.log"
        existing = home.count("SELECT count(*) FROM provenance.activity")
        if existing and args.reuse:
            log(f"night: reusing {home.path} ({existing:,} activities)")
            kept = json.loads((home.path / "night.json").read_text())
            out.update(kept)
            out["ingest"] = {**kept["ingest"], "reused": True}
            # measure the kept night as it was built, whatever the options say now
            for key in ("runs", "subruns", "reprocess", "failures"):
                setattr(args, key, kept["parameters"][key])
        else:
            t = time.perf_counter()
            with prov.open("wb") as f:
                for line in generate_night(
                    args.runs, args.subruns, date=NIGHT_DATE, dl2=True, reprocess=args.reprocess
                ):
                    f.write(line)
            ctalog.write_text(
                "".join(ctapipe_log(args.runs, date=NIGHT_DATE, failures=args.failures))
            )
            lines = expected_counts(args.runs, args.subruns, dl2=True, reprocess=args.reprocess)
            out["generation"] = {
                "lines": lines["total"],
                "bytes": prov.stat().st_size + ctalog.stat().st_size,
                "ctapipe_activities": args.runs,
                "seconds": round(time.perf_counter() - t, 2),
            }
            log(f"night: generated {out['generation']}")
            res = provdb(["ingest", "--model", str(args.model), str(folder)], home.env)
            figures = summary_figures(res["stdout"])
            rejects = re.search(r"rejected lines\s*[│|]\s*([\d,]+)", res["stdout"])
            figures["rejected_lines"] = int(rejects.group(1).replace(",", "")) if rejects else None
            records = figures["records"] or 0
            out["ingest"] = {
                "wall_s": round(res["wall_s"], 2),
                "peak_rss_mb": round(res["peak_rss_mb"], 1),
                "exit_status": res["returncode"],
                **figures,
                "records_per_s": round(records / res["wall_s"]) if records else None,
            }
            (home.path / "night.json").write_text(json.dumps(out))
            log(f"night: ingested {out['ingest']}")
        ref = reference_ingest()
        out["plain_night_reference"] = ref
        if ref and out["ingest"].get("records_per_s"):
            out["vs_plain"] = {
                "records": round(out["ingest"]["records"] / ref["records"], 3),
                "wall_s": round(out["ingest"]["wall_s"] / ref["wall_s"], 3),
                "records_per_s": round(out["ingest"]["records_per_s"] / ref["records_per_s"], 3),
            }
        out["archive_rows"] = {
            t: home.count(f"SELECT count(*) FROM provenance.{t}")
            for t in ("activity", "entity", "used", "wasgeneratedby")
        }
        night = NIGHT_DATE  # run_checks takes YYYYMMDD, like provdb check --night
        checks = answers_module("checks")
        if checks is None:
            out["run_checks"] = skipped("checks")
        else:

            def measure_checks() -> dict[str, Any]:
                with home.database.engine.connect() as sa_conn:
                    conn = sa_conn.connection.driver_connection
                    t = time.perf_counter()
                    report = checks.run_checks(conn, night=night)
                    first = ms_since(t)
                    t = time.perf_counter()
                    checks.run_checks(conn, night=night)
                    second = ms_since(t)
                result = {
                    "night": night,
                    "first_ms": first,
                    "second_ms": second,
                    "target_s": TARGETS_S["checks"],
                    "target_met": max(first, second) < TARGETS_S["checks"] * 1000,
                    "report": type(report).__name__,
                }
                log(f"run_checks(night={night}): {result}")
                return result

            out["run_checks"] = guarded("run_checks", measure_checks)
        # reprocessed DL2 subrun files against the same subrun of later (stale) runs
        dl2_dir = f"/fefs/aswg/data/real/DL2/{NIGHT_DATE}/v0.1.0/tailcut84/nsb_tuning_0.14"

        def dl2(run_index: int, sub: int) -> str:
            return md5(f"{dl2_dir}/dl2_LST-1.Run{1807 + run_index:05d}.{sub:04d}.h5")

        stale = list(range(args.reprocess, args.runs))
        subs = range(0, args.subruns, max(1, args.subruns // args.pairs))
        pairs = []
        if args.reprocess and stale:
            pairs = [
                (dl2(k % args.reprocess, s), dl2(stale[k % len(stale)], s))
                for k, s in enumerate(subs)
            ][: args.pairs]
        products = [a for a, _ in pairs] + [b for _, b in pairs]
        if products:
            out["reprocessed_vs_stale"] = guarded(
                "night recipes",
                lambda: time_recipes(
                    answers_module("recipe"),
                    answers_module("compare"),
                    home.database.engine,
                    products,
                    pairs,
                ),
            )
    finally:
        home.close(keep=args.keep)
    return out


# ----------------------------------------------------------------------------- archive


def archive_part(args: argparse.Namespace) -> dict[str, Any]:
    """Build (or reuse) the ~10M-relation archive and time recipes and diffs on it."""
    import bench_lineage

    home = Home(args.home / "archive", reuse=args.reuse)
    params = {"nights": args.nights, "runs": args.archive_runs, "subruns": args.archive_subruns}
    out: dict[str, Any] = {"parameters": params}
    try:
        existing = home.count("SELECT count(*) FROM provenance.activity")
        if existing and args.reuse:
            log(f"archive: reusing {home.path} ({existing:,} activities)")
            kept = json.loads((home.path / "generation.json").read_text())
            out["generation"] = {**kept, "reused": True}
            params = out["parameters"] = kept["parameters"]
        else:
            log(f"archive: generating {params} in SQL (bench_lineage.generate)")
            t = time.perf_counter()
            raw = home.database.engine.raw_connection()
            try:
                conn = raw.driver_connection
                with conn.cursor() as cur:
                    gen = bench_lineage.generate(
                        cur, params["nights"], params["runs"], params["subruns"]
                    )
                conn.commit()
                # the bulk generator leaves the lineage closure empty; the forward
                # question (--affected) reads it, so fill it as the ingest would have.
                # At full scale this one recursive statement ran over 20 minutes on the
                # 2-core VM (2026-12-03): --no-closure measures recipes and diffs only.
                if args.closure:
                    log("archive: filling the lineage closure (closure.rebuild_all)")
                    tc = time.perf_counter()
                    from provdb.lineage import closure

                    with home.database.engine.begin() as sa_conn:
                        closure.rebuild_all(sa_conn)
                    gen["closure_s"] = round(time.perf_counter() - tc, 1)
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute("VACUUM ANALYZE")
            finally:
                raw.close()
            gen["total_s"] = round(time.perf_counter() - t, 1)
            gen["parameters"] = params
            out["generation"] = gen
            (home.path / "generation.json").write_text(json.dumps(gen, default=str))
            log(f"archive: generated in {gen['total_s']} s: {gen.get('counts')}")
        relations = {
            t: home.count(f"SELECT count(*) FROM provenance.{t}")
            for t in ("used", "wasgeneratedby", "wasassociatedwith", "wasderivedfrom")
        }
        out["relation_rows"] = {**relations, "total": sum(relations.values())}
        out["closure_rows"] = home.count("SELECT count(*) FROM archive.lineage")
        log(f"archive: relation rows {out['relation_rows']}")

        nights, runs, subruns = params["nights"], params["runs"], params["subruns"]

        def product(night: int, run: int, subrun: int) -> str:
            # the path rule of bench_lineage.generate (nights from 2020-01-01, runs
            # numbered 10002 + night * (runs + 2) + run, after the calibration pair)
            nd = date.fromordinal(date(2020, 1, 1).toordinal() + night).strftime("%Y%m%d")
            run_no = f"{10002 + night * (runs + 2) + run:05d}"
            return md5(
                f"{bench_lineage.BASE}/DL2/{nd}/v0.9.0/tailcut84/"
                f"dl2_LST-1.Run{run_no}.{subrun:04d}.h5"
            )

        n = args.products
        products = [product(i * nights // n, (i * 7) % runs, (i * 37) % subruns) for i in range(n)]
        pairs = []
        for i in range(args.pairs):
            night, sub = i * nights // args.pairs, (i * 13) % subruns
            if i % 2 == 0 or nights < 2:  # two runs of one night
                pairs.append((product(night, 0, sub), product(night, runs - 1, sub)))
            else:  # the same run and subrun slot of two nights
                other = (night + nights // 2) % nights
                pairs.append((product(night, 1 % runs, sub), product(other, 1 % runs, sub)))
        recipe = answers_module("recipe")
        out.update(
            guarded(
                "archive recipes",
                lambda: time_recipes(
                    recipe, answers_module("compare"), home.database.engine, products, pairs
                ),
            )
        )
        if out["closure_rows"]:
            out["affected"] = guarded("affected", lambda: measure_affected(recipe, home, params))
        else:
            out["affected"] = {"skipped": "archive.lineage is empty (built with --no-closure)"}
    finally:
        home.close(keep=args.keep)
    return out


def measure_affected(recipe: Any, home: Home, params: dict[str, int]) -> dict[str, Any]:
    """The forward question on one night's coefficients file, if the recipe module has it."""
    if recipe is None:
        return skipped("recipe")
    name = next((n for n in AFFECTED_NAMES if hasattr(recipe, n)), None)
    if name is None:
        log(f"affected: provdb.answers.recipe has none of {AFFECTED_NAMES}: skipped")
        return {"skipped": f"provdb.answers.recipe has none of {', '.join(AFFECTED_NAMES)}"}
    import bench_lineage

    night = params["nights"] // 2
    nd = date.fromordinal(date(2020, 1, 1).toordinal() + night).strftime("%Y%m%d")
    calrun = f"{10001 + night * (params['runs'] + 2):05d}"
    coeff = (
        f"{bench_lineage.CAL}/calibration/{nd}/v0.9.0/calibration_filters_52.Run{calrun}.0000.h5"
    )
    func = getattr(recipe, name)
    times = []
    result: Any = None
    with home.database.engine.connect() as sa_conn:
        conn = sa_conn.connection.driver_connection
        for _ in range(3):
            t = time.perf_counter()
            result = func(conn, md5(coeff))
            times.append(ms_since(t))
    size = len(result) if hasattr(result, "__len__") else None
    out = {"function": f"recipe.{name}", "file": coeff, "result_len": size, **summarise(times, 1.0)}
    log(f"affected by {coeff}: {out}")
    return out


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__, "bench_answers.py")
    p.add_argument("--parts", default="night,archive", help="night, archive or both")
    g = p.add_argument_group("the grown night")
    g.add_argument("--runs", type=int, default=30)
    g.add_argument("--subruns", type=int, default=150)
    g.add_argument("--reprocess", type=int, default=3, help="runs reprocessed (default 3)")
    g.add_argument("--failures", type=int, default=2, help="failed ctapipe runs (default 2)")
    g.add_argument("--model", type=Path, default=DEFINITION, help="lstosa definition.yaml")
    a = p.add_argument_group("the 10M-relation archive (bench_lineage.generate)")
    a.add_argument("--nights", type=int, default=100)
    a.add_argument("--archive-runs", type=int, default=20, help="runs per night")
    a.add_argument("--archive-subruns", type=int, default=200, help="subruns per run")
    a.add_argument(
        "--no-closure",
        dest="closure",
        action="store_false",
        help="do not fill archive.lineage (minutes at full scale); skips the forward question",
    )
    p.add_argument("--products", type=int, default=20, help="DL2 products for build_recipe")
    p.add_argument("--pairs", type=int, default=10, help="product pairs for compare_recipes")
    p.add_argument("--home", type=Path, default=Path("/tmp/provdb-bench-answers"))
    p.add_argument("--keep", action="store_true", help="keep the archives afterwards")
    p.add_argument("--reuse", action="store_true", help="measure archives kept before")
    p.add_argument("--output", type=Path, help="results JSON (default bench/results/...)")
    args = p.parse_args(argv)
    parts = {s.strip() for s in args.parts.split(",") if s.strip()}
    if not parts or parts - {"night", "archive"}:
        p.error(f"--parts takes night, archive or night,archive, not {args.parts!r}")
    args.parts = parts
    if min(args.runs, args.subruns, args.nights, args.archive_runs, args.archive_subruns) < 1:
        p.error("runs, subruns and nights must be positive")
    if not 0 <= args.reprocess <= args.runs or not 0 <= args.failures <= args.runs:
        p.error("--reprocess and --failures must be between 0 and --runs")
    if args.products < 1 or args.pairs < 1:
        p.error("--products and --pairs must be positive")
    if "night" in parts and not args.model.is_file():
        p.error(
            f"{args.model} not found: pass --model (lstosa's definition.yaml) "
            "or unset PROVDB_SAMPLES"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.keep:
        # the embedded server's own exit handler takes its lock once more after the homes
        # are removed, leaving a lock file behind; registered first, this runs after it
        for part in args.parts:
            atexit.register(shutil.rmtree, args.home / part, True)
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "bench_answers.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "modules": {
            m: answers_module(m) is not None for m in ("checks", "recipe", "compare", "stats")
        },
    }
    log(f"answers modules available: {results['modules']}")
    if "night" in args.parts:
        results["night"] = night_part(args)
    if "archive" in args.parts:
        results["archive"] = archive_part(args)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out = save_results(results, args.output, "answers")
    log(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
