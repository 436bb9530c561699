"""``provdb check``: run the quality rules over the archive, a night, a run or a product."""

from __future__ import annotations

import sys

import click

from provdb.answers.checks import RULES, SEVERITIES
from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive

__all__ = ["check"]


@click.command("check", context_settings=CONTEXT_SETTINGS)
@click.option("--night", metavar="YYYYMMDD", help="Only the products of this night.")
@click.option("--run", metavar="RUN", help="Only this run (1807, or run id 20200117_01807).")
@click.option("--id", "ident", metavar="ID", help="Only this product (entity id).")
@click.option(
    "--rule",
    "rules",
    multiple=True,
    type=click.Choice(list(RULES)),
    help="Run only this rule (repeatable; default: all).",
)
@options.formats("text", "json", help="Aligned table and summary, or JSON {findings, summary}.")
@options.choice(
    "--fail-on",
    choices=[*SEVERITIES, "never"],
    default="error",
    help="Exit 1 when a finding is at or above this severity.",
)
@click.option(
    "--rebuild-flags",
    is_flag=True,
    help="Recompute archive.product_flag for the whole archive first (operators: after "
    "an upgrade, or if in doubt).",
)
@handle_errors
def check(
    night: str | None,
    run: str | None,
    ident: str | None,
    rules: tuple[str, ...],
    fmt: str,
    fail_on: str,
    rebuild_flags: bool,
) -> None:
    """Check products against the quality rules.

    Rules: stale (an ancestor was regenerated after the product was made),
    mixed-versions (its lineage ran several lstchain/ctapipe versions), failed-ancestor
    (an activity of its lineage failed or never ended), missing-input (an input that
    is neither raw data nor generated in the archive), hash-conflict (more content
    hashes than generations), incomplete-run (subruns that did not reach a step).

    \b
    Exit status: 0 nothing at or above --fail-on; 1 findings at or above it;
                 2 the command failed (bad night, run or id).

    \b
    Examples:
      provdb check --night 20200117
      provdb check --run 20200117_01807 --rule stale --rule incomplete-run
      provdb check --id 0f8905293a90d3b0... --format json --fail-on warning
    """
    from provdb.answers.check_format import at_or_above, format_json, format_text
    from provdb.answers.checks import run_checks

    database = open_archive(current=True)
    try:
        if rebuild_flags:
            from provdb.answers.flags import rebuild_flags as rebuild

            with database.engine.begin() as conn:
                n = rebuild(conn)
            click.echo(f"archive.product_flag rebuilt: {n} flag(s)", err=True)
        with database.engine.connect() as conn:
            report = run_checks(conn, night=night, run=run, ident=ident, rules=list(rules) or None)
    finally:
        database.dispose()
    click.echo(format_json(report) if fmt == "json" else format_text(report))
    sys.exit(1 if at_or_above(report, fail_on) else 0)
