"""``provdb serve``: the TAP service, ProvSAP and the browser UI under gunicorn.

The master process checks the settings and the schema before :mod:`provdb.serve` starts
the workers; the settings listing of ``--help`` comes from the registry.
"""

from __future__ import annotations

import inspect

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors
from provdb.config import Settings

__all__ = ["serve"]


@click.command("serve", context_settings=CONTEXT_SETTINGS)
@options.listen
@options.whole_number(
    "--workers", low=1, high=64, default=2, help="Server processes (each also runs async TAP jobs)."
)
@options.whole_number(
    "--threads",
    low=1,
    high=256,
    default=8,
    help="Threads per process (concurrent requests, streaming results).",
)
@click.option(
    "--base-url",
    envvar="PROVDB_TAP_BASE_URL",
    help="Public TAP base URL if the service sits behind a proxy "
    "(default: from each request's Host header).",
)
@handle_errors
def serve(host: str, port: int, workers: int, threads: int, base_url: str | None) -> None:
    """Serve the archive over TAP 1.1 / ADQL 2.1 (ProvTAP) with gunicorn.

    The TAP base URL is http://HOST:PORT/tap: give it to TOPCAT, pyvo or STILTS.

    \b
    Examples:
      provdb serve                                  # http://127.0.0.1:8080/tap
      provdb serve --host 0.0.0.0 --port 8000 --workers 4
      stilts taplint tapurl=http://127.0.0.1:8080/tap
      python -c "import pyvo; print(pyvo.dal.TAPService('http://127.0.0.1:8080/tap')
                 .run_sync('SELECT TOP 5 * FROM provenance.activity').to_table())"

    Settings are environment variables, checked at start (a bad value stops serve with
    one line naming it). `provdb settings` lists every one with its current value; the
    service's are below [default]. PROMETHEUS_MULTIPROC_DIR is where the workers share
    their metrics (default: a temporary folder).
    """
    import os

    from provdb import migrate
    from provdb import settings as registry
    from provdb.db import connect
    from provdb.errors import DatabaseError

    if base_url:
        os.environ["PROVDB_TAP_BASE_URL"] = base_url
    # the workers trust Host headers naming the bound host (PROVDB_TAP_ALLOWED_HOSTS)
    os.environ["PROVDB_TAP_BIND_HOST"] = host
    registry.check()  # every bad value at once (--base-url too), before anything starts
    settings = Settings.from_env()
    # The master process opens the database first: it starts the embedded server (which
    # then outlives worker restarts) and refuses to serve a schema that is not current.
    database = connect(settings)
    state = migrate.state(database.engine)
    if not state.up_to_date:
        raise DatabaseError(
            f"the archive schema is at migration {state.current or 'none'}, not "
            f"{state.head}: run `provdb db upgrade` first"
        )
    from provdb.serve import run_gunicorn

    shown = f"[{host}]" if ":" in host else host
    tap_url = (base_url or f"http://{shown}:{port}/tap").rstrip("/")
    site = tap_url[: -len("/tap")] if tap_url.endswith("/tap") else f"http://{shown}:{port}"
    click.echo(
        f"provdb TAP service: {tap_url} ({database.kind} database {database.location})\n"
        f"provdb browser UI:  {site}/ui/",
        err=True,
    )
    run_gunicorn(host=host, port=port, workers=workers, threads=threads)


def _serve_help() -> str:
    from provdb.settings.render import help_block

    groups = (
        "database",
        "service",
        "limits",
        "security",
        "metadata",
        "replicas",
        "push",
        "lineage",
        "ui",
    )
    return help_block(groups)


# the settings listing comes from the registry: one declaration, never out of date
serve.help = inspect.cleandoc(serve.help or "") + "\n" + _serve_help()
