"""The ``provdb reproduce`` and ``provdb diff`` commands (registered in :mod:`provdb.cli`)."""

from __future__ import annotations

import sys

import click

from provdb.cli import options
from provdb.cli_support import CONTEXT_SETTINGS, handle_errors, open_archive, write_output

__all__ = ["diff_cmd", "reproduce_cmd"]


@click.command("reproduce", context_settings=CONTEXT_SETTINGS)
@click.argument("ident", metavar="ID")
@options.formats(
    "md",
    "sh",
    "json",
    case_sensitive=False,
    help="md: readable; sh: a bash script to adapt (provdb never runs it); json.",
)
@click.option(
    "--affected",
    is_flag=True,
    help="Forward question: every product to reprocess if ID changes (md or json).",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE.")
@handle_errors
def reproduce_cmd(ident: str, fmt: str, affected: bool, output: str | None) -> None:
    """The recipe that regenerates a product: its back lineage in execution order.

    ID is an entity id (lstosa: md5 of the path), a file path, or a file name (the
    last part of the path; an ambiguous name lists the candidates). Each step shows its
    command line, parameters, config files, software versions and the exact inputs it
    read (with reprocessing, the version generated last before the step started).

    \b
    Examples:
      provdb reproduce datacheck_dl1_LST-1.Run01807.0002.h5
      provdb reproduce /fefs/.../dl1_LST-1.Run01807.0002.h5 --format sh -o redo.sh
      provdb reproduce a9b70dedd26c468b6711a2fb5d39b0b2 --affected --format json
    """
    from provdb.answers import recipe_format as f
    from provdb.answers.recipe import affected_products, build_recipe

    fmt = fmt.lower()
    if affected and fmt == "sh":
        raise click.BadParameter("--affected writes md or json", param_hint="--format")
    database = open_archive()
    try:
        with database.engine.connect() as conn:
            if affected:
                result = affected_products(conn, ident)
                body = f.affected_json(result) if fmt == "json" else f.affected_md(result)
            else:
                recipe = build_recipe(conn, ident)
                body = {"md": f.recipe_md, "sh": f.recipe_sh, "json": f.recipe_json}[fmt](recipe)
    finally:
        database.dispose()
    write_output(body.encode("utf-8"), output)


@click.command("diff", context_settings=CONTEXT_SETTINGS)
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@options.formats(
    "text", "json", case_sensitive=False, help="text: an aligned report per step; json."
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to FILE.")
@handle_errors
def diff_cmd(a: str, b: str, fmt: str, output: str | None) -> None:
    """Why do two products differ? Compare their recipes step by step.

    A and B are entity ids, paths or file names (as for `provdb reproduce`). Steps are
    aligned by name (then order); the report lists the software versions, parameters,
    config files and inputs that differ, and steps found in one recipe only. Exit
    status: 0 when the recipes are the same, 1 when they differ, 2 on error.

    \b
    Examples:
      provdb diff datacheck_dl1_LST-1.Run01807.0002.h5 datacheck_dl1_LST-1.Run01807.0003.h5
      provdb diff ID_A ID_B --format json -o diff.json
    """
    from provdb.answers.compare import compare_recipes, diff_json, diff_text
    from provdb.answers.recipe import build_recipe

    database = open_archive()
    try:
        with database.engine.connect() as conn:
            cmp = compare_recipes(build_recipe(conn, a), build_recipe(conn, b))
    finally:
        database.dispose()
    body = diff_json(cmp) if fmt.lower() == "json" else diff_text(cmp)
    write_output(body.encode("utf-8"), output)
    sys.exit(0 if cmp.same else 1)
