"""``provdb obscore``: what ivoa.obscore holds, and ``--rebuild`` after a settings change."""

from __future__ import annotations

import time

import click

from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive

__all__ = ["obscore_cmd"]


@click.command("obscore", context_settings=CONTEXT_SETTINGS)
@click.option(
    "--rebuild",
    is_flag=True,
    help="Recompute every row (after changing a PROVDB_OBSCORE_* setting or "
    "PROVDB_TAP_BASE_URL); ingest and scan keep the rows current otherwise.",
)
@handle_errors
def obscore_cmd(rebuild: bool) -> None:
    """Show what ivoa.obscore (the ObsCore table of the TAP service) holds.

    One row per science product: DL1, DL2 and DL3 files (pointing, time and energy
    from DL3 headers read by `provdb scan`), with the software, version, step and
    quality flags. The settings below are read from the environment when ingest and
    scan write rows (see docs/obscore-datalink.md).

    \b
    Examples:
      provdb obscore
      PROVDB_OBSCORE_ACCESS_URL='https://data.example.org/lst{path}' provdb obscore --rebuild
      PROVDB_TAP_BASE_URL=https://archive.example.org/tap provdb obscore --rebuild
    """
    from provdb.config import ObsCoreSettings
    from provdb.obscore import rebuild as rebuild_rows

    settings = ObsCoreSettings.from_env()
    database = open_archive(current=True)
    try:
        with database.engine.begin() as conn:
            if rebuild:
                t0 = time.perf_counter()
                written = rebuild_rows(conn, settings)
                click.echo(
                    f"Rebuilt ivoa.obscore: {written:,} rows in {time.perf_counter() - t0:.1f} s."
                )
            rows = conn.exec_driver_sql(
                "SELECT data_level, count(*), count(s_ra), count(*) FILTER (WHERE n_flags > 0) "
                "FROM ivoa.obscore GROUP BY 1 ORDER BY 1"
            ).all()
    finally:
        database.dispose()
    click.echo(f"{'level':6} {'products':>9} {'pointing':>9} {'flagged':>8}")
    for level, n, pointed, flagged in rows:
        click.echo(f"{level or '-':6} {n:>9,} {pointed:>9,} {flagged:>8,}")
    if not rows:
        click.echo("(no products: ingest logs and scan data files first)")
    click.echo(
        f"collection {settings.collection!r}, facility {settings.facility!r}, instrument "
        f"{settings.instrument!r}, field of view {settings.fov} deg\n"
        f"obs_publisher_did {settings.authority}?<entity id>; access_url "
        + (
            settings.access_url
            if settings.access_url
            else f"{settings.public_url}/datalink/links?ID=<obs_publisher_did>"
        )
    )
