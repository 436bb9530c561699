"""provdb/gthread_worker.py: gunicorn's gthread worker with a heartbeat that touches the
master's file at most every HEARTBEAT_SECONDS (a quarter of the timeout if shorter)."""

from __future__ import annotations

import os

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker as GThreadWorker

from provdb.gthread_worker import HEARTBEAT_SECONDS, ThreadWorker


def _worker(timeout: float) -> ThreadWorker:
    cfg = Config()
    # the master hands its workers half the configured timeout
    return ThreadWorker(0, os.getpid(), [], None, timeout, cfg, Logger(cfg))


def _touched(worker: ThreadWorker) -> int:
    return os.fstat(worker.tmp.fileno()).st_mtime_ns


def test_heartbeats_are_spaced_not_one_per_wake_up() -> None:
    worker = _worker(30)
    try:
        assert isinstance(worker, GThreadWorker)
        assert worker._heartbeat_every == HEARTBEAT_SECONDS
        worker.notify()
        first = _touched(worker)
        for _ in range(100):  # a busy main loop: the file is left alone
            worker.notify()
        assert _touched(worker) == first
        worker._last_heartbeat -= HEARTBEAT_SECONDS  # the interval has passed
        worker.notify()
        assert _touched(worker) != first
    finally:
        worker.tmp.close()


@pytest.mark.parametrize(("timeout", "every"), [(0.5, 0.125), (1.0, 0.25), (60, HEARTBEAT_SECONDS)])
def test_a_short_timeout_gets_more_frequent_heartbeats(timeout: float, every: float) -> None:
    worker = _worker(timeout)
    try:
        assert worker._heartbeat_every == every
    finally:
        worker.tmp.close()
