"""``provdb versions``: products per software version, as a table or JSON."""

from __future__ import annotations

import sys

import click

from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive
from provdb.versions import products_by_version

__all__ = ["run_versions", "versions"]


@click.command("versions", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--product-type",
    help="Only products of this data level (R0, DL1, DL2, DL3...; case-insensitive).",
)
@click.option("--package", help="Only this package (lstchain, ctapipe, ctapipe_io_lst...).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@handle_errors
def versions(product_type: str | None, package: str | None, as_json: bool) -> None:
    """Show how many products each software version made.

    Versions come from the products' own metadata (`provdb scan`: column "from files")
    and from the session of the activity that generated them (`provdb ingest`: lstosa's
    software_version, a ctapipe tool's version, the session environment's packages:
    column "from logs"). In ADQL the same is the view archive.product_version.

    \b
    Examples:
      provdb versions
      provdb versions --product-type DL2 --package lstchain
      provdb versions --json > versions.json
    """
    sys.exit(run_versions(product_type=product_type, package=package, as_json=as_json))


def run_versions(*, product_type: str | None, package: str | None, as_json: bool) -> int:
    """``provdb versions``: print products per package and version; returns the exit status."""
    import json

    from rich.console import Console
    from rich.table import Table

    database = open_archive(current=True)
    try:
        with database.engine.connect() as conn:
            rows = products_by_version(conn, product_type=product_type, package=package)
    finally:
        database.dispose()
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=200)  # piped: never cut versions
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        what = " and ".join(
            x for x in (product_type and f"type {product_type}", package and package) if x
        )
        out.print(
            "No software versions"
            + (f" for {what}" if what else "")
            + " in the archive: `provdb ingest` logs or `provdb scan` data files first.",
            markup=False,
        )
        return 0
    table = Table(title="products by software version", header_style="bold")
    for name, justify in (
        ("package", "left"),
        ("version", "left"),
        ("product type", "left"),
        ("products", "right"),
        ("from files", "right"),
        ("from logs", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            r["package"],
            r["version"],
            r["product_type"] or "-",
            f"{r['n_products']:,}",
            f"{r['n_from_files']:,}",
            f"{r['n_from_logs']:,}",
        )
    out.print(table)
    return 0
