"""Shared fixtures: sample files, a real PostgreSQL per session, a fresh database per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLES = Path(os.environ.get("PROVDB_SAMPLES", REPO.parent / "shared" / "samples")).resolve()


@pytest.fixture(scope="session")
def samples() -> Path:
    """The read-only sample tree (``../shared/samples``; override with PROVDB_SAMPLES)."""
    if not SAMPLES.is_dir():
        pytest.fail(f"sample folder {SAMPLES} not found: set PROVDB_SAMPLES to ../shared/samples")
    return SAMPLES
