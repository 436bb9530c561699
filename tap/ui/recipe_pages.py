"""Browser pages of the provenance answers *reproduce* and *diff* (blueprint ``ui``).

=====================================  ===============================================
``/ui/reproduce/<id>``                 the recipe of a product; ``format=md|sh|json``
                                       returns the text (download); ``affected=1``
                                       lists the products a change of it affects
``/ui/diff?a=&b=``                     the step-by-step comparison of two products
=====================================  ===============================================

An id is an entity id, a path or a file name (:func:`provdb.answers.recipe.resolve_product`);
an unknown or ambiguous one gives the UI's helpful error page, not a 500.
"""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request

from provdb.answers.compare import compare_recipes, diff_json, diff_text
from provdb.answers.recipe import (
    AmbiguousProduct,
    UnknownProduct,
    affected_products,
    build_recipe,
)
from provdb.answers.recipe_format import (
    affected_json,
    affected_md,
    recipe_json,
    recipe_md,
    recipe_sh,
)
from tap.ui.blueprint import PageError, bp, connect

__all__ = ["diff_page", "reproduce_page"]

#: format -> (writer, content type, file suffix)
_RECIPE_FORMATS = {
    "md": (recipe_md, "text/markdown; charset=utf-8", "md"),
    "sh": (recipe_sh, "text/x-shellscript; charset=utf-8", "sh"),
    "json": (recipe_json, "application/json", "json"),
}


def _lookup_error(exc: LookupError, ident: str) -> PageError:
    if isinstance(exc, AmbiguousProduct):
        hits = [
            {"kind": "entity", "id": i, "name": loc, "how": "file name"}
            for i, loc in exc.candidates
        ]
        return PageError(404, f"{ident!r} names several products", str(exc), hits=hits)
    return PageError(404, f"No product {ident!r}", str(exc), search=ident)


def _download(body: str, content_type: str, name: str) -> Response:
    return Response(
        body,
        content_type=content_type,
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@bp.route("/reproduce/<provid:ident>", methods=["GET"], merge_slashes=False)
def reproduce_page(ident: str) -> Any:
    """The recipe of a product (or, with ``affected=1``, the products it affects)."""
    fmt = (request.args.get("format") or "html").lower()
    affected = request.args.get("affected", "") not in ("", "0", "false")
    allowed = ("html", "md", "json") if affected else ("html", *_RECIPE_FORMATS)
    if fmt not in allowed:
        raise PageError(400, "Bad format", f"format={fmt!r}: use one of {', '.join(allowed)}")
    try:
        with connect() as conn:
            result = affected_products(conn, ident) if affected else build_recipe(conn, ident)
    except (UnknownProduct, AmbiguousProduct) as exc:
        raise _lookup_error(exc, ident) from None
    if affected:
        if fmt == "md":
            return _download(affected_md(result), "text/markdown; charset=utf-8", "affected.md")
        if fmt == "json":
            return _download(affected_json(result), "application/json", "affected.json")
        return render_template("ui/affected.html", ident=ident, affected=result)
    if fmt != "html":
        writer, ctype, suffix = _RECIPE_FORMATS[fmt]
        return _download(writer(result), ctype, f"recipe.{suffix}")
    return render_template("ui/reproduce.html", ident=ident, recipe=result)


@bp.route("/diff", methods=["GET"])
def diff_page() -> Any:
    """The comparison of products ``a`` and ``b`` (``format=text|json`` for the text)."""
    a = (request.args.get("a") or "").strip()
    b = (request.args.get("b") or "").strip()
    if not a or not b:
        raise PageError(400, "Two products needed", "Give both: /ui/diff?a=<id>&b=<id>.")
    fmt = (request.args.get("format") or "html").lower()
    if fmt not in ("html", "text", "json"):
        raise PageError(400, "Bad format", f"format={fmt!r}: use html, text or json")
    recipes = []
    with connect() as conn:
        for ident in (a, b):
            try:
                recipes.append(build_recipe(conn, ident))
            except (UnknownProduct, AmbiguousProduct) as exc:
                raise _lookup_error(exc, ident) from None
    cmp = compare_recipes(*recipes)
    if fmt == "text":
        return _download(diff_text(cmp), "text/plain; charset=utf-8", "diff.txt")
    if fmt == "json":
        return _download(diff_json(cmp), "application/json", "diff.json")
    return render_template("ui/diff.html", a=a, b=b, cmp=cmp, recipes=recipes)
