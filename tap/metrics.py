"""Prometheus metrics of the service at ``/metrics`` (``prometheus_client``).

What is measured
----------------
- ``provdb_http_requests_total{endpoint,status}`` and
  ``provdb_http_request_duration_seconds{endpoint}``: every request, labelled with the
  Flask endpoint name (``sync.sync``, ``ui.entity``; ``unmatched`` for unknown URLs)
  rather than the raw URL, so that ids in paths cannot blow up the number of series,
  and with the status class (``2xx`` ... ``5xx``). The duration runs until the response
  has been sent, streamed results included.
- ``provdb_db_pool_connections{state}`` and ``provdb_db_pool_max_idle``: the ``/sync``
  connection pool of :mod:`tap.db`; ``provdb_db_slot_pool_connections{state}`` and
  ``provdb_db_slot_pool_max_idle``: the pool whose connections hold the per-client sync
  slots (:mod:`tap.clients`; ``in_use`` is the number of sync queries holding a slot).
- Read from the archive at scrape time (a few aggregate queries, no per-request cost):
  ``provdb_tap_jobs{phase}`` (the UWS job table), ``provdb_ingest_records_total``,
  ``provdb_ingest_rejected_lines_total``, ``provdb_ingest_files{status}`` and
  ``provdb_ingest_last_timestamp_seconds`` (from ``archive.ingest_file``), and
  ``provdb_database_up`` (0 when those queries failed).

Several gunicorn workers
------------------------
Each worker process has its own counters. With ``PROMETHEUS_MULTIPROC_DIR`` set (``provdb
serve`` sets it to a fresh folder when it runs more than one worker), prometheus_client
keeps them in files there and ``/metrics`` adds up every worker's values, whichever worker
answers the scrape.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from provdb import __version__

__all__ = ["ArchiveCollector", "init_metrics", "multiprocess_dir"]

log = logging.getLogger("provdb.tap")

#: Every UWS phase, so that a phase with no job reads 0 rather than vanishing.
PHASES = (
    "PENDING",
    "QUEUED",
    "EXECUTING",
    "COMPLETED",
    "ERROR",
    "ABORTED",
    "UNKNOWN",
    "HELD",
    "SUSPENDED",
    "ARCHIVED",
)

# seconds; TAP answers range from a few ms (VOSI) to minutes (big async results)
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

_JOBS_SQL = "SELECT phase, count(*) FROM uws.job GROUP BY phase"
_INGEST_SQL = (
    "SELECT status, count(*), coalesce(sum(n_records), 0), coalesce(sum(n_rejects), 0), "
    "extract(epoch FROM max(last_ingest AT TIME ZONE 'UTC')) "
    "FROM archive.ingest_file GROUP BY status"
)


def multiprocess_dir() -> str | None:
    """The folder of prometheus_client's multi-process mode, if it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ReplicaCollector(Collector):
    """State and replay lag of each read replica (PROVDB_READ_URLS), measured per scrape."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def collect(self) -> Iterator[Any]:
        report = self._db.replica_report(refresh=True)
        if not report:
            return
        up = GaugeMetricFamily(
            "provdb_replica_up",
            "1 when the read replica takes queries, 0 when down or lagging",
            labels=["replica"],
        )
        lag = GaugeMetricFamily(
            "provdb_replica_lag_seconds",
            "Replay lag of the read replica behind the primary (pg_last_xact_replay_timestamp)",
            labels=["replica"],
        )
        for i, rep in enumerate(report, start=1):
            name = f"replica-{i}"
            up.add_metric([name], 1 if rep["status"] == "up" else 0)
            if rep["lag"] is not None:
                lag.add_metric([name], rep["lag"])
        yield up
        yield lag


class ArchiveCollector(Collector):
    """Metrics read from the archive when Prometheus scrapes (jobs, ingest totals)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Any]:
        import sqlalchemy as sa

        up = GaugeMetricFamily(
            "provdb_database_up", "1 when the archive answered the metrics queries, else 0"
        )
        try:
            with self._engine.connect() as conn:
                # a scrape must never hang on a locked or overloaded database
                conn.execute(sa.text("SET LOCAL statement_timeout = 5000"))
                jobs = dict(conn.execute(sa.text(_JOBS_SQL)).all())
                ingest = conn.execute(sa.text(_INGEST_SQL)).all()
        except Exception as exc:  # any failure: say so in a metric, keep the rest
            log.warning("metrics: archive queries failed: %s", str(exc).splitlines()[0])
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        phases = GaugeMetricFamily(
            "provdb_tap_jobs", "TAP asynchronous jobs by UWS phase", labels=["phase"]
        )
        for phase in sorted(set(PHASES) | set(jobs)):
            phases.add_metric([phase], jobs.get(phase, 0))
        yield phases

        files = GaugeMetricFamily(
            "provdb_ingest_files", "Ingested source files by status", labels=["status"]
        )
        records = CounterMetricFamily(
            "provdb_ingest_records", "Provenance records read from ingested files"
        )
        rejects = CounterMetricFamily(
            "provdb_ingest_rejected_lines",
            "Lines rejected by the ingest (kept in archive.ingest_reject)",
        )
        last = GaugeMetricFamily(
            "provdb_ingest_last_timestamp_seconds",
            "When a file was last ingested (Unix time; 0: never)",
        )
        n_records = n_rejects = 0
        newest = 0.0
        for status, n_files, recs, rejs, when in ingest:
            files.add_metric([status], n_files)
            n_records += int(recs)
            n_rejects += int(rejs)
            newest = max(newest, float(when or 0))
        records.add_metric([], n_records)
        rejects.add_metric([], n_rejects)
        last.add_metric([], newest)
        yield from (files, records, rejects, last)


class _Metrics:
    """The per-request instruments of one app, and how to expose everything."""

    def __init__(self, app: Flask) -> None:
        self.multiprocess = multiprocess_dir() is not None
        # single process: an app-owned registry (tests build several apps per process);
        # multi-process: values go to files, a fresh registry per scrape reads them all
        self.registry = None if self.multiprocess else CollectorRegistry()
        reg = self.registry
        self.requests = Counter(
            "provdb_http_requests",
            "HTTP requests by Flask endpoint and status class",
            ["endpoint", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "provdb_http_request_duration_seconds",
            "Time from request to the last byte of the response, by Flask endpoint",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=reg,
        )
        self.pool = Gauge(
            "provdb_db_pool_connections",
            "Connections of the /sync pool: in_use (handed out) or idle (kept for reuse)",
            ["state"],
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.pool_max = Gauge(
            "provdb_db_pool_max_idle",
            "Idle connections the /sync pool keeps at most (summed over worker processes)",
            registry=reg,
            multiprocess_mode="livesum",
        )
        # the advisory-lock connections of the per-client sync slots (tap/clients.py):
        # a separate pool, so a second pair of gauges rather than a label on the first
        # (existing dashboards keep their series)
        self.slot_pool = Gauge(
            "provdb_db_slot_pool_connections",
            "Connections holding per-client sync slots: in_use (a sync query holds a slot "
            "on it) or idle (kept for reuse)",
            ["state"],
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.slot_pool_max = Gauge(
            "provdb_db_slot_pool_max_idle",
            "Idle connections the sync-slot pool keeps at most (summed over worker processes)",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.info = Gauge(
            "provdb_build_info",
            "Always 1; the provdb version as a label",
            ["version"],
            registry=reg,
            multiprocess_mode="max",
        )
        self.info.labels(version=__version__).set(1)
        self.app = app
        self._last_pools: tuple[dict[str, int], ...] | None = None
        self._pools_lock = threading.Lock()

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint=endpoint, status=f"{status // 100}xx").inc()
        self.latency.labels(endpoint=endpoint).observe(seconds)
        self.update_pool()

    def update_pool(self) -> None:
        db = self.app.extensions["provdb_tap_db"]
        # most requests leave the pools as they found them: the six gauge writes (a file
        # write each in multi-process mode) are for changes only; under the lock, the
        # last values written are the ones remembered
        with self._pools_lock:
            pools = (db.pool_stats(), db.slot_pool_stats())
            if pools == self._last_pools:
                return
            self._last_pools = pools
            for stats, gauge, gauge_max in (
                (pools[0], self.pool, self.pool_max),
                (pools[1], self.slot_pool, self.slot_pool_max),
            ):
                gauge.labels(state="in_use").set(stats["in_use"])
                gauge.labels(state="idle").set(stats["idle"])
                gauge_max.set(stats["max_idle"])

    def exposition(self) -> bytes:
        self.update_pool()
        engine = self.app.extensions["provdb_tap_db"].engine
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = CollectorRegistry()
            registry.register(_Forward(self.registry))
        registry.register(ArchiveCollector(engine))
        registry.register(ReplicaCollector(self.app.extensions["provdb_tap_db"]))
        return generate_latest(registry)


class _Forward(Collector):
    """Expose another registry's metrics inside a per-scrape registry."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Any]:
        if self._registry is not None:
            yield from self._registry.collect()


def init_metrics(app: Flask) -> None:
    """Time every request of ``app`` and serve ``/metrics``."""
    metrics = _Metrics(app)
    app.extensions["provdb_metrics"] = metrics

    @app.before_request
    def _start_clock() -> None:
        request.environ["provdb.t0"] = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        t0 = request.environ.get("provdb.t0")
        if t0 is None:  # a before_request hook failed before ours ran
            return response
        endpoint = request.endpoint or "unmatched"
        status = response.status_code
        # streamed results: the clock stops when the server has sent the last byte
        response.call_on_close(lambda: metrics.observe(endpoint, status, time.perf_counter() - t0))
        return response

    @app.route("/metrics", endpoint="metrics")
    def _metrics() -> Response:
        return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
