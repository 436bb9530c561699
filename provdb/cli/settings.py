"""``provdb settings``: every setting, its current value and where it came from."""

from __future__ import annotations

import json

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors
from provdb.errors import ConfigError

__all__ = ["settings_cmd"]


@click.command("settings", context_settings=CONTEXT_SETTINGS)
@options.formats(
    "text",
    "json",
    "markdown",
    help="text: a listing by group; json: one object per setting (name, group, type, "
    "unit, value, source, default, help, error); markdown: the table of docs/settings.md.",
)
@click.option("--changed", is_flag=True, help="Only the settings given in the environment.")
@handle_errors
def settings_cmd(fmt: str, changed: bool) -> None:
    """List every PROVDB_* setting with its current value and where it came from.

    The value comes from the environment (env) or is the default (default). Every value
    is checked: an unusable one is listed with its error and makes the exit status 2
    (as `provdb serve` refuses to start with it). Tokens are never shown.

    \b
    Examples:
      provdb settings                          # everything, by group
      provdb settings --changed                # only what the environment sets
      PROVDB_TAP_MAXREC=5000 provdb settings --format json | jq '.[] | select(.source=="env")'
      provdb settings --format markdown        # the table of docs/settings.md
    """
    from provdb.settings.catalog import GROUPS
    from provdb.settings.render import listing, markdown

    if fmt == "markdown":
        click.echo(markdown(), nl=False)
        return
    rows = listing()
    if changed:
        rows = [r for r in rows if r["source"] == "env"]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        width = max((len(r["name"]) for r in rows), default=0)
        for key, title in GROUPS.items():
            group = [r for r in rows if r["group"] == key]
            if group:
                click.echo(f"{title}:")
            for row in group:
                value = row["value"] or f"({row['default'] or 'unset'})"
                note = f"  INVALID: {row['error']}" if row["error"] else ""
                click.echo(f"  {row['name']:<{width}}  {value}  ({row['source']}){note}")
    errors = [r["error"] for r in rows if r["error"]]
    if errors:
        raise ConfigError("; ".join(errors))
