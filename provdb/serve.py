"""Run the TAP service under gunicorn (the production server, not Flask's dev server).

``provdb`` sits below ``tap`` and never imports it, except here, lazily and in one
place (:func:`_service`): the service is started from provdb's CLI, and the gunicorn
workers import the app factory only when they load it. tests/provdb/test_layers.py keeps
it so.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_gunicorn"]


def _service(module: str) -> Any:
    """The module ``tap.<module>`` (the one import of tap in provdb).

    Each caller names only what it needs: the master reads the settings (``config``)
    before PROMETHEUS_MULTIPROC_DIR is set, and only the workers import ``app`` (and
    with it prometheus_client).
    """
    import importlib

    return importlib.import_module(f"tap.{module}")


def _metrics_dir(workers: int) -> tuple[str | None, bool]:
    """Prepare prometheus_client's multi-process folder; returns (folder, created by us).

    Several workers each count their own requests: without a shared folder a scrape
    would see whichever worker answered. The folder must be set before the workers
    import prometheus_client, and hold no files of an earlier run.
    """
    import os
    import tempfile
    from pathlib import Path

    if not _service("config").TapConfig.from_env().metrics:
        return None, False
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):  # values of a previous run would be added in
            old.unlink()
        return str(folder), False
    if workers < 2:
        return None, False
    folder = tempfile.mkdtemp(prefix="provdb-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder, True


def run_gunicorn(*, host: str, port: int, workers: int, threads: int) -> None:
    """Serve ``tap.app:create_app()`` on host:port until interrupted."""
    import os
    import shutil

    import gunicorn.http.wsgi
    from gunicorn.app.base import BaseApplication

    from provdb import __version__

    # gunicorn writes its own "Server: gunicorn" header on every response; clients and
    # taplint (W_SVRV) want the product that answers, so name provdb there instead.
    gunicorn.http.wsgi.SERVER = f"provdb/{__version__} (ProvTAP; gunicorn)"

    class _App(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                # gthread with a heartbeat that does not touch a file at every wake-up
                # of the main loop (provdb/gthread_worker.py)
                "worker_class": "provdb.gthread_worker.ThreadWorker",
                # gthread workers notify the master from their main loop, between
                # polls, not from the threads that serve requests: a timeout restarts a
                # worker process that is stuck as a whole (a deadlock, a C call that
                # holds the GIL) but never cuts a long stream or a WAIT. A request that
                # only burns CPU is bounded by the ADQL budget and the statement timeout.
                "timeout": worker_timeout,
                "graceful_timeout": 10,
                "keepalive": 5,
                "accesslog": "-",
                # the same access log line, written without gunicorn's table of every
                # header and environ variable (provdb/access_log.py)
                "logger_class": "provdb.access_log.AccessLogger",
                "errorlog": "-",
                "loglevel": "info",
                "proc_name": "provdb-serve",
            }
            if metrics_dir:
                options["child_exit"] = _child_exit
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return _service("app").create_app()

    worker_timeout = _service("config").TapConfig.from_env().worker_timeout
    metrics_dir, created = _metrics_dir(workers)
    master = os.getpid()
    try:
        _App().run()
    finally:
        # gunicorn's forked workers leave through this frame too (SystemExit): only the
        # master may remove the folder the others still write to
        if created and metrics_dir and os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: drop a dead worker's live gauges (pool use) from /metrics."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
