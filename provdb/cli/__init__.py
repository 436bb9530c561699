"""The ``provdb`` command line: one click group, one module per command group.

This module is the group and its registrations; each command lives in a module of this
package named for it (:mod:`provdb.cli.ingest`, :mod:`provdb.cli.serve`, :mod:`provdb.cli.db`,
...). Each command's docstring is its ``--help`` text, with examples. Errors that provdb
raises on purpose (:class:`provdb.errors.ProvdbError`) are printed as one line saying
what to do, and the command exits non-zero (:mod:`provdb.cli_support`). The work itself is
done outside this package (:mod:`provdb.ingest`, :mod:`provdb.scan`, :mod:`provdb.lineage`,
...), so the commands stay options, help and output.
"""

from __future__ import annotations

import click

from provdb import __version__
from provdb.cli_support import CONTEXT_SETTINGS


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="provdb")
def cli() -> None:
    """provdb: an IVOA Provenance archive for astronomy pipelines.

    \b
    provdb reads provenance logs (lstosa prov.log, ctapipe provenance JSON,
    W3C PROV documents) into an IVOA Provenance DM archive in PostgreSQL.

    \b
    Database: with no PROVDB_DATABASE_URL set, provdb runs an embedded PostgreSQL
    with its data in PROVDB_HOME (default: ~/.local/share/provdb). Set
    PROVDB_DATABASE_URL=postgresql+psycopg://user@host/db to use your own server.

    \b
    Examples:
      provdb demo                             # the shipped samples, served on :8080
      provdb db upgrade                       # create or migrate the archive
      provdb ingest /data/20200117/prov.log   # load a night's provenance log
      provdb scan /data/DL2 --jobs 2          # record HDF5/FITS products and versions
      provdb serve                            # TAP + ProvSAP + browser UI on :8080
      provdb lineage /data/DL1/20200117/dl1_LST-1.Run01807.0002.h5 --depth all
      provdb db status                        # which server, where, which migration
    """


# One module per command group; none of them imports this one (no cycle).
from provdb.cli.check import check as check_cmd  # noqa: E402
from provdb.cli.db import db as db_cmd  # noqa: E402
from provdb.cli.demo import demo as demo_cmd  # noqa: E402
from provdb.cli.ingest import ingest as ingest_cmd  # noqa: E402
from provdb.cli.lineage import export_cmd, lineage_cmd  # noqa: E402
from provdb.cli.obscore import obscore_cmd  # noqa: E402
from provdb.cli.push import push as push_cmd  # noqa: E402
from provdb.cli.push import token as token_cmd  # noqa: E402
from provdb.cli.recipe import diff_cmd, reproduce_cmd  # noqa: E402
from provdb.cli.scan import scan as scan_cmd  # noqa: E402
from provdb.cli.serve import serve as serve_cmd  # noqa: E402
from provdb.cli.settings import settings_cmd  # noqa: E402
from provdb.cli.stats import stats as stats_cmd  # noqa: E402
from provdb.cli.versions import versions as versions_cmd  # noqa: E402

for _command in (
    ingest_cmd,
    serve_cmd,
    scan_cmd,
    db_cmd,
    lineage_cmd,
    export_cmd,
    reproduce_cmd,
    diff_cmd,
    check_cmd,
    stats_cmd,
    demo_cmd,
    token_cmd,
    push_cmd,
    versions_cmd,
    obscore_cmd,
    settings_cmd,
):
    cli.add_command(_command)


def main() -> None:
    """Entry point of the ``provdb`` console script."""
    cli(prog_name="provdb")
