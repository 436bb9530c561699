#!/usr/bin/env python
"""Fuzz every endpoint of a real ``provdb serve`` for longer than CI can (issue #12).

1. creates a fresh ``PROVDB_HOME`` (``--workdir``, default ``/tmp/provdb-bench-fuzz``,
   emptied first) whose embedded PostgreSQL holds the shipped samples (``provdb demo``
   loads the same files: here ``provdb ingest --model definition.yaml provdb/samples``);
2. starts ``provdb serve --workers 2`` with the push endpoint on (``PROVDB_INGEST_API=1``);
3. runs the hypothesis strategies of ``tests/tap/fuzz_requests.py`` (the CI suite's:
   mutated ADQL examples and grammar tokens, junk and borderline HTTP parameters for TAP
   sync/async/UWS, VOSI, ProvSAP, the UI and /ingest), ``--examples`` cases per endpoint
   group, and checks every answer: no 5xx, and a well-formed error document (DALI
   ``QUERY_STATUS=ERROR`` VOTable for /tap, HTML for the UI, JSON for /ingest).

Unlike the CI test, a bad answer does not stop the run: each one is recorded (at most
20 per group are kept). Results: ``bench/results/<date>-fuzz.json`` (or ``--output``):
cases run per group and in all, 5xx found, other bad answers, wall time, machine.

    python bench/fuzz_service.py                       # 2000 cases per group
    python bench/fuzz_service.py --examples 100 --output /tmp/fuzz.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import REPO, argument_parser, embedded_archive, log, machine, save_results, served


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argument_parser(__doc__)
    p.add_argument(
        "--examples", type=int, default=2000, help="cases per endpoint group (default 2000)"
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/provdb-bench-fuzz"),
        help="scratch PROVDB_HOME and logs",
    )
    p.add_argument(
        "--output", type=Path, help="results file (default bench/results/<date>-fuzz.json)"
    )
    p.add_argument("--seed", type=int, default=12, help="hypothesis seed (same seed, same cases)")
    return p.parse_args(argv)


def fuzz_group(site: str, job: str, group: str, examples: int, seed: int) -> dict:
    """Run one group's strategy; returns cases, 5xx and other bad answers found."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    from tests.tap.fuzz_requests import ENDPOINTS, check_response, send

    found = {"cases": 0, "http_5xx": 0, "bad_documents": 0, "transport_errors": 0, "examples": []}

    @hseed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(ENDPOINTS[group])
    def run(req) -> None:
        found["cases"] += 1
        try:
            r = send(site, req, job)
        except Exception as exc:  # a hang or a dropped connection is a finding too
            found["transport_errors"] += 1
            problem = f"{type(exc).__name__}: {exc}"
        else:
            problem = check_response(req, r)
            if problem is None:
                return
            if r.status_code >= 500:
                found["http_5xx"] += 1
            else:
                found["bad_documents"] += 1
        if len(found["examples"]) < 20:
            found["examples"].append(
                f"{req.method} {req.path} {req.params} {req.data}: {problem}"[:600]
            )

    run()
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from provdb.samples import path as samples_path
    from tests.tap.fuzz_requests import ENDPOINTS

    with embedded_archive(args.workdir, {"PROVDB_INGEST_API": "1"}) as env:
        samples = Path(samples_path())
        model = str(samples / "lstosa/config/definition.yaml")
        subprocess.run(
            [sys.executable, "-m", "provdb", "ingest", "-q", "--model", model, str(samples)],
            env=env,
            check=True,
            cwd=REPO,
        )
        with served(env, args.workdir / "serve.log", workers=2) as (site, _):
            import requests

            r = requests.post(
                site + "/tap/async",
                data={"LANG": "ADQL", "QUERY": "SELECT TOP 1 id FROM provenance.entity"},
                allow_redirects=False,
                timeout=30,
            )
            job = r.headers["Location"].rsplit("/", 1)[1]
            started = time.monotonic()
            groups = {}
            for group in sorted(ENDPOINTS):
                t0 = time.monotonic()
                groups[group] = fuzz_group(site, job, group, args.examples, args.seed)
                groups[group]["seconds"] = round(time.monotonic() - t0, 1)
                log(
                    f"{group}: {groups[group]['cases']} cases, {groups[group]['http_5xx']} 5xx, "
                    f"{groups[group]['bad_documents']} bad documents in "
                    f"{groups[group]['seconds']} s"
                )
            results = {
                "benchmark": "fuzz_service",
                "machine": machine(("provdb", "psycopg", "hypothesis")),
                "parameters": {
                    "examples_per_group": args.examples,
                    "seed": args.seed,
                    "workers": 2,
                },
                "cases_run": sum(g["cases"] for g in groups.values()),
                "http_5xx_found": sum(g["http_5xx"] for g in groups.values()),
                "bad_documents_found": sum(g["bad_documents"] for g in groups.values()),
                "transport_errors": sum(g["transport_errors"] for g in groups.values()),
                "seconds": round(time.monotonic() - started, 1),
                "groups": groups,
            }
    out = save_results(results, args.output, "fuzz")
    log(f"{results['cases_run']} cases, {results['http_5xx_found']} 5xx -> {out}")
    return 1 if results["http_5xx_found"] else 0


if __name__ == "__main__":
    sys.exit(main())
