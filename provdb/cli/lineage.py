"""The ``provdb lineage`` and ``provdb export`` commands (registered in :mod:`provdb.cli`).

``lineage`` walks the graph from files, activities or agents (what ProvSAP returns);
``export`` writes one run step's provenance as lstosa's provprocess did. Both print a
ProvSAP serialisation (PROV-JSON/N/XML, VOTable, DOT, SVG); ``lineage`` also a tree.
"""

from __future__ import annotations

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive, write_output

__all__ = ["export_cmd", "lineage_cmd"]

_GRAPH_FORMATS = ["prov-json", "prov-n", "prov-xml", "prov-votable", "dot", "svg"]

# options `lineage` and `export` share
_PROV_MODEL_OPTION = click.option(
    "--model",
    type=click.Choice(["ivoa", "w3c"], case_sensitive=False),
    default="ivoa",
    show_default=True,
    help="prov-json/prov-n/prov-xml: IVOA ProvDM flavour or plain W3C PROV.",
)
_URL_PATTERN_OPTION = click.option(
    "--url-pattern",
    default="/ui/{kind}/{id}",
    show_default=True,
    help="svg/dot: link of each node ({kind}: entity, activity, agent; {id}: the id).",
)
_OUTPUT_OPTION = click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE."
)


@click.command("lineage", context_settings=CONTEXT_SETTINGS)
@click.argument("ids", nargs=-1, required=True, metavar="ID...")
@options.value(
    "--depth", default="1", help="Relations to follow from ID: a number (0, 1, 2...) or 'all'."
)
@options.choice(
    "--direction",
    choices=["back", "forth"],
    case_sensitive=False,
    help="back: towards the inputs (progenitors); forth: towards the products.",
)
@click.option("--agent", is_flag=True, help="Also walk through agents.")
@click.option("--members", is_flag=True, help="Also walk from collections to their members.")
@options.formats(
    "tree",
    *_GRAPH_FORMATS,
    case_sensitive=False,
    help="tree: a readable tree; or a ProvSAP serialisation.",
)
@_PROV_MODEL_OPTION
@options.whole_number(
    "--limit", low=1, default=1000, help="Most nodes returned; a larger graph is cut and says so."
)
@_URL_PATTERN_OPTION
@_OUTPUT_OPTION
@handle_errors
def lineage_cmd(
    ids: tuple[str, ...],
    depth: str,
    direction: str,
    agent: bool,
    members: bool,
    fmt: str,
    model: str,
    limit: int,
    url_pattern: str,
    output: str | None,
) -> None:
    """Show the lineage of entities, activities or agents (what ProvSAP returns).

    ID is an entity id (lstosa: md5 of the path), a file path (an entity's location),
    an activity id ('<id>@<start time>') or an agent name. The walk follows one
    relation per DEPTH step: from a file, depth 1 reaches the activity that generated
    it, depth 2 the files that activity used, and so on.

    \b
    Examples:
      provdb lineage /fefs/.../dl1_LST-1.Run01807.0002.h5 --depth all
      provdb lineage 77a0bcb3a8004a4d7011f787e0bf0462 --depth 2
      provdb lineage .../drs4_pedestal.Run01804.0000.h5 --direction forth --depth all
      provdb lineage ID --depth all --format prov-json -o lineage.json
      provdb lineage ID --depth all --format svg -o lineage.svg
    """
    from provdb.errors import ProvdbError as _Error
    from provdb.lineage.export import serialize
    from provdb.lineage.traverse import UnknownNode, lineage

    if depth.strip().lower() == "all":
        steps = None
    else:
        try:
            steps = int(depth)
        except ValueError:
            raise click.BadParameter("a number or 'all'", param_hint="--depth") from None
        if steps < 0:
            raise click.BadParameter("must be >= 0 or 'all'", param_hint="--depth")
    database = open_archive()
    try:
        with database.engine.connect() as conn:
            graph = lineage(
                conn,
                list(ids),
                depth=steps,
                direction=direction.upper(),
                agent=agent,
                members=members,
                limit=limit,
            )
    except UnknownNode as exc:
        raise _Error(str(exc)) from None
    finally:
        database.dispose()
    fmt = fmt.lower()
    if fmt == "tree":
        from rich.console import Console

        from provdb.lineage.graph import rich_tree

        if output:
            with open(output, "w", encoding="utf-8") as fh:
                Console(file=fh, width=200, no_color=True).print(rich_tree(graph))
            click.echo(f"wrote the tree of {len(graph.nodes)} nodes to {output}", err=True)
        else:
            console = Console()
            if not console.is_terminal:
                console = Console(width=200)
            console.print(rich_tree(graph))
        if graph.truncated:
            click.echo(f"note: truncated at {limit} nodes (--limit)", err=True)
        return
    body = serialize(graph, fmt, model=model.upper(), url_pattern=url_pattern)
    write_output(body, output)
    if graph.truncated:
        click.echo(f"note: truncated at {limit} nodes (--limit)", err=True)


@click.command("export", context_settings=CONTEXT_SETTINGS)
@click.option("--run", "run", required=True, help="Run number, e.g. 01807.")
@click.option("--night", help="Observation night YYYYMMDD (needed if the run has several).")
@options.choice(
    "--step",
    choices=["calibration", "r0_to_dl1", "dl1_to_dl2", "all"],
    default="all",
    help="Step group of the run.",
)
@options.formats(
    *_GRAPH_FORMATS,
    case_sensitive=False,
    help="Serialisation (prov-json and svg are what lstosa's provprocess wrote).",
)
@_PROV_MODEL_OPTION
@_URL_PATTERN_OPTION
@_OUTPUT_OPTION
@handle_errors
def export_cmd(
    run: str,
    night: str | None,
    step: str,
    fmt: str,
    model: str,
    url_pattern: str,
    output: str | None,
) -> None:
    """Export the run-wise provenance of one run, as lstosa's provprocess did.

    The document holds every activity of the run step (provdb's stable activity ids,
    one per subrun activity, not provprocess's random run-level ids), the files they
    used, generated or derived from, their agents, parameters, configuration files and
    session context. Exporting the same run twice gives the same bytes.

    \b
    Examples:
      provdb export --run 01807 --step r0_to_dl1 --format prov-json -o r0_to_dl1_01807_prov.json
      provdb export --run 01807 --night 20200117 --format svg -o calibration_to_dl1_01807.svg
      provdb export --run 1807 --format prov-n
    """
    from provdb.errors import ProvdbError as _Error
    from provdb.lineage.export import RunNotFound, run_graph, serialize

    database = open_archive()
    try:
        with database.engine.connect() as conn:
            graph = run_graph(conn, run, night=night, step=step)
    except (RunNotFound, ValueError) as exc:
        raise _Error(str(exc)) from None
    finally:
        database.dispose()
    write_output(
        serialize(graph, fmt.lower(), model=model.upper(), url_pattern=url_pattern), output
    )
