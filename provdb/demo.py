"""Load provdb's shipped samples into an archive: what ``provdb demo`` does before serving.

The samples (:mod:`provdb.samples`) are ingested with lstosa's ``definition.yaml`` as the
model, exactly as ``provdb ingest --model ... <samples>`` would, and their HDF5 products
are recorded as ``provdb scan`` would. Both steps skip what the archive already holds, so
loading twice adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from provdb.errors import ProvdbError

__all__ = ["COUNTED_TABLES", "DemoReport", "load_samples", "sample_files"]

#: tables whose row counts the summary shows: (table, what a row is)
COUNTED_TABLES: tuple[tuple[str, str], ...] = (
    ("provenance.activity", "activities"),
    ("provenance.entity", "entities (files, objects)"),
    ("provenance.agent", "agents"),
    ("provenance.used", "used relations"),
    ("provenance.wasgeneratedby", "wasGeneratedBy relations"),
    ("provenance.activitydescription", "activity descriptions (model)"),
    ("archive.processing_session", "processing sessions"),
    ("archive.software", "software versions"),
)


@dataclass
class DemoReport:
    """What loading the samples did, and what the archive holds afterwards."""

    samples: Path
    migrated: tuple[str | None, str | None]
    #: status of each provenance file: new | unchanged | grown | failed ...
    ingested: Counter[str] = field(default_factory=Counter)
    records: int = 0
    #: status of each scanned data file: new | unchanged | failed ...
    scanned: Counter[str] = field(default_factory=Counter)
    #: rows per table of :data:`COUNTED_TABLES`, after loading
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def loaded_anything(self) -> bool:
        """True when this run added a file to the archive (False on a second run)."""
        return bool(
            self.ingested.total() - self.ingested["unchanged"] - self.ingested["failed"]
            or self.scanned["new"] + self.scanned["changed"]
        )


def sample_files(samples: Path) -> tuple[list[Path], list[Path]]:
    """The provenance files and the HDF5 data files of the sample tree, sorted."""
    from provdb.ingest.pipeline import detect_format, discover

    found, _, _ = discover([str(samples)])
    logs = [p for p in found if detect_format(p) is not None]
    data = sorted(p.resolve() for p in samples.rglob("*.h5"))
    return logs, data


def load_samples(
    engine: sa.Engine,
    samples: Path,
    *,
    on_message: Callable[[str], None] | None = None,
) -> DemoReport:
    """Migrate the archive of ``engine``, ingest and scan the samples, count the rows.

    A file that fails is reported in :attr:`DemoReport.errors` (and through
    ``on_message``); the other files still go in, each in its own transaction.
    """
    from provdb.ingest.lstosa.definition import load_model
    from provdb.ingest.pipeline import ingest_file
    from provdb.scan.pipeline import scan_files

    say = on_message or (lambda _m: None)
    report = DemoReport(samples=samples, migrated=_upgrade(engine))
    model = load_model(samples / "lstosa" / "config" / "definition.yaml")
    logs, data = sample_files(samples)
    raw = engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        for path in logs:
            result = ingest_file(conn, path, model=model, on_reject=say)
            report.ingested[result.status] += 1
            report.records += result.n_records if result.status != "unchanged" else 0
            if result.error:
                report.errors.append(result.error)
                say(result.error)
        scan = scan_files(conn, data, explicit=set(data), on_error=say)
        report.scanned.update(scan.statuses)
        report.errors.extend(scan.failures)
    finally:
        raw.close()
    with engine.connect() as c:
        report.counts = {
            table: c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table, _ in COUNTED_TABLES
        }
    return report


def _upgrade(engine: sa.Engine) -> tuple[str | None, str | None]:
    """``provdb db upgrade``: create or migrate the schema (and the flags of old archives)."""
    from provdb import migrate

    before, after = migrate.upgrade(engine)
    if before and before < migrate.FLAGS_REVISION <= (after or ""):
        # as `provdb db upgrade`: an archive older than the flag table gets its flags once
        from provdb.answers.flags import rebuild_flags

        with engine.begin() as conn:
            rebuild_flags(conn)
    if after is None:
        raise ProvdbError("the archive schema could not be created: run `provdb db upgrade`")
    return before, after
