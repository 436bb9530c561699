"""``provdb stats``: timing and failures of the pipeline's activities (issue #11)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive

if TYPE_CHECKING:  # the CLI starts without the SQL modules; they load when the command runs
    from provdb.answers.stats import StatsReport

__all__ = ["stats"]


@click.command("stats", context_settings=CONTEXT_SETTINGS)
@click.option("--night", help="Only this night (YYYYMMDD).")
@click.option(
    "--run", help="Only this run: 01807 or 20200117_01807 (with its night's calibration)."
)
@options.choice(
    "--by", choices=["step", "run", "night"], help="Group by activity name (step), run or night."
)
@options.whole_number(
    "--top", low=0, high=10_000, default=10, help="How many of the slowest activities to list."
)
@options.formats(
    "text", "json", help="Aligned tables, or JSON with the keys documented in docs/answers.md."
)
@handle_errors
def stats(night: str | None, run: str | None, by: str, top: int, fmt: str) -> None:
    """Show how long the pipeline's steps took and which activities failed.

    Per group (activity name, run or night): activity count, completed / failed /
    never-ended counts, durations in seconds (median, p95, max, total), first start and
    last end (UTC); then the slowest activities, the failures (ctapipe status error or
    interrupted, or a non-zero exit code) and the activities that never ended (no end
    time: crashed, killed or still running). lstosa logs nothing for a failed call, so
    its failures show only as activities that never ended or are missing.

    \b
    Examples:
      provdb stats --night 20200117
      provdb stats --night 20200117 --by run --top 5
      provdb stats --run 20200117_01807 --format json > stats.json
      provdb stats --by night
    """
    report = _report(night=night, run=run, by=by, top=top)
    from provdb.answers.stats_format import report_json, report_text

    if fmt == "json":
        sys.stdout.write(json.dumps(report_json(report), indent=2) + "\n")
    else:
        sys.stdout.write(report_text(report))


def _report(*, night: str | None, run: str | None, by: str, top: int) -> StatsReport:
    """The report from the archive of the environment's settings."""
    from provdb.answers.stats import activity_stats

    database = open_archive(current=True)
    try:
        with database.engine.connect() as conn:
            return activity_stats(conn, night=night, run=run, by=by, top=top)
    finally:
        database.dispose()
