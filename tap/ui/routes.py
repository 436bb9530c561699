"""Blueprint ``ui``: the archive's browser pages (see :mod:`tap.ui`).

Server-rendered Jinja pages, one small stylesheet, no JavaScript needed. Each page
opens one database connection and runs a handful of set-based statements
(:mod:`tap.ui.queries`) plus, for the graphs, one ProvSAP traversal
(:func:`provdb.lineage.traverse.lineage`) drawn by :func:`provdb.lineage.svg.render_svg`.

Identifiers contain ``@``, ``:``, ``/``, ``#``...: node URLs use the ``provid``
converter (any text, slashes included, never merged), built with ``url_for`` and
percent-decoded by the server, so ``/ui/entity/<id>`` round-trips every id; the
``?id=`` form (``/ui/entity?id=...``) is accepted too.

Configuration (``app.config``): ``PROVDB_UI_GRAPH_LIMIT`` (most nodes of a page's
graph, default 500), ``PROVDB_UI_MAX_ROWS`` (most rows the ADQL page shows, default
1000).
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.routing import BaseConverter

from provdb import __version__
from tap.context import base_url, tap_db
from tap.ui import queries
from tap.ui.graphs import activity_graph, collapse_subruns, group_target, inline_svg

__all__ = ["DEFAULT_GRAPH_LIMIT", "DEFAULT_MAX_ROWS", "IdConverter", "PageError", "bp"]

log = logging.getLogger("provdb.tap")

DEFAULT_GRAPH_LIMIT = 500
DEFAULT_MAX_ROWS = 1000
DEPTH_CHOICES = ("1", "2", "3", "4", "6", "10", "ALL")
STEPS = ("calibration", "r0_to_dl1", "dl1_to_dl2", "all")
KINDS = ("entity", "activity", "agent")

bp = Blueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


class IdConverter(BaseConverter):
    """Any identifier, slashes included (a leading ``/`` too), as the last URL part."""

    part_isolating = False
    regex = ".+"
    weight = 200

    def to_url(self, value: Any) -> str:
        from urllib.parse import quote

        text = str(value)
        # a "." or ".." segment would be resolved away by the browser: encode the slashes
        safe = "!$&'()*+,:;=@"
        if not any(seg in (".", "..") for seg in text.split("/")):
            safe += "/"
        return quote(text, safe=safe)


# registered before the routes below (deferred functions run in order)
bp.record_once(lambda state: state.app.url_map.converters.setdefault("provid", IdConverter))


class PageError(Exception):
    """A page that cannot be shown: rendered as an HTML error page with hints."""

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        *,
        hits: list[dict[str, Any]] | None = None,
        search: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.hits = hits or []
        self.search = search


@bp.errorhandler(PageError)
def _page_error(exc: PageError) -> tuple[str, int]:
    return (
        render_template(
            "ui/error.html",
            title=exc.title,
            message=exc.message,
            hits=exc.hits,
            search=exc.search,
            status=exc.status,
        ),
        exc.status,
    )


# ----------------------------------------------------------------------------- helpers


def node_href(kind: str, ident: str) -> str:
    """The page of an entity, activity or agent."""
    return url_for(f"ui.{kind}", ident=ident)


def run_href(night: str, run: str, step: str | None = None, subruns: bool = False) -> str:
    args: dict[str, Any] = {}
    if step and step != "all":
        args["step"] = step
    if subruns:
        args["subruns"] = 1
    return url_for("ui.run", night=night, run=run, **args)


def node_pattern() -> str:
    """URL pattern of graph node links (``{kind}``, percent-encoded ``{id}``)."""
    return url_for("ui.home").rstrip("/") + "/{kind}/{id}"


def provsap_url(ids: list[str], depth: str, direction: str, fmt: str) -> str:
    params = [("ID", i) for i in ids]
    params += [("DEPTH", depth), ("DIRECTION", direction), ("RESPONSEFORMAT", fmt)]
    return f"{base_url()}/provsap?{urlencode(params)}"


def sync_url(query: str, fmt: str) -> str:
    return f"{base_url()}/sync?" + urlencode(
        {"LANG": "ADQL", "RESPONSEFORMAT": fmt, "QUERY": query}
    )


def when(value: Any) -> str:  # Markup (a str) for datetimes
    """A timestamp for people: ``2026-11-23 19:29:56`` (UTC)."""
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), text)
    return str(value)


def size(value: Any) -> str:
    if value is None:
        return ""
    n = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(value)


def as_json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "href": node_href,
        "run_href": run_href,
        "when": when,
        "size": size,
        "as_json": as_json,
        "tap_base": base_url(),
        "provdb_version": __version__,
    }


@bp.app_context_processor
def _service() -> dict[str, Any]:
    # app-wide: every page built on ui/base.html shows the service's title and contact
    return {"service": current_app.config["TAP_CONFIG"]}


def _connect():
    return tap_db().read_engine_connect()


def _ident_arg() -> str:
    ident = (request.args.get("id") or request.args.get("ID") or "").strip()
    if not ident:
        raise PageError(400, "No id given", "Give the id in the URL: ?id=<id>.")
    return ident


def _graph_limit() -> int:
    from tap.provsap import node_limit

    configured = current_app.config.get("PROVDB_UI_GRAPH_LIMIT") or DEFAULT_GRAPH_LIMIT
    wanted = request.args.get("limit")
    limit = int(configured)
    if wanted:
        try:
            limit = int(wanted)
        except ValueError:
            raise PageError(400, "Bad limit", f"limit={wanted!r} is not a number") from None
    return max(1, min(limit, node_limit()))


def _graph_params(default_depth: str = "ALL") -> dict[str, Any]:
    """depth, direction, agent, members of a graph request (ProvSAP names, any case)."""
    args = {k.lower(): v for k, v in request.args.items()}
    depth_text = (args.get("depth") or default_depth).strip().upper()
    if depth_text == "ALL":
        depth = None
    else:
        try:
            depth = int(depth_text)
        except ValueError:
            depth = -1
        if depth < 0:
            raise PageError(
                400, "Bad depth", f"depth={depth_text!r}: use a number >= 0 or ALL"
            ) from None
    direction = (args.get("direction") or "BACK").strip().upper()
    if direction not in ("BACK", "FORTH"):
        raise PageError(400, "Bad direction", f"direction={direction!r}: use BACK or FORTH")
    flags = {}
    for name in ("agent", "members"):
        flags[name] = (args.get(name) or "").strip().lower() in ("1", "true", "yes", "on")
    return {
        "depth": depth,
        "depth_text": "ALL" if depth is None else str(depth),
        "direction": direction,
        "limit": _graph_limit(),
        **flags,
    }


def _expandable(conn: Any, graph: Any, direction: str) -> dict[tuple[str, str], int]:
    """Neighbours each drawn node has beyond the drawing (``data-more``: the viewer's expand)."""
    from provdb.lineage.neighbours import unexplored

    return unexplored(conn, list(graph.nodes), direction)


def _lineage_svg(
    conn: Any, ids: list[str], params: dict[str, Any], *, expandable: bool = True
) -> tuple[Any, bytes]:
    from provdb.lineage.svg import render_svg
    from provdb.lineage.traverse import lineage

    graph = lineage(
        conn,
        ids,
        depth=params["depth"],
        direction=params["direction"],
        agent=params["agent"],
        members=params["members"],
        limit=params["limit"],
        statement_timeout_ms=60_000,
    )
    more = _expandable(conn, graph, params["direction"]) if expandable else None
    return graph, render_svg(graph, url_pattern=node_pattern(), more=more)


def _downloads(ids: list[str], params: dict[str, Any]) -> list[tuple[str, str]]:
    from provdb.lineage.export import FORMATS

    return [
        (name.upper(), provsap_url(ids, params["depth_text"], params["direction"], name))
        for name in FORMATS
    ]


def _not_found(kind: str, ident: str) -> Response:
    """An unknown id: a folded run node, another kind, a path, a short id, else a 404."""
    target = group_target(ident)
    if target is not None:
        night, run, step = target
        return redirect(run_href(night, run, step, subruns=True), code=302)
    with _connect() as conn:
        hits = queries.resolve(conn, ident)
    if len(hits) == 1:
        return redirect(node_href(hits[0]["kind"], hits[0]["id"]), code=302)
    raise PageError(
        404,
        f"No {kind} {ident!r}",
        f"The archive holds no {kind} with the id {ident!r}."
        + (" It may mean one of these:" if hits else " Search the archive for it:"),
        hits=hits,
        search=ident,
    )


# ----------------------------------------------------------------------------- pages


@bp.route("/", methods=["GET"])
def home() -> str:
    with _connect() as conn:
        data = queries.home_page(conn)
        source = queries.versions_source(conn, tap_db().catalog)
        data["software"] = queries.version_totals(conn, source)
    return render_template("ui/home.html", **data)


@bp.route("/search", methods=["GET"])
def search() -> str:
    q = (request.args.get("q") or "").strip()
    found = None
    if q:
        with _connect() as conn:
            found = queries.search(conn, q)
    return render_template("ui/search.html", q=q, found=found)


@bp.route("/entity", methods=["GET"], endpoint="entity_by_query")
@bp.route("/activity", methods=["GET"], endpoint="activity_by_query")
@bp.route("/agent", methods=["GET"], endpoint="agent_by_query")
def by_query() -> Response:
    kind = request.endpoint.rsplit(".", 1)[-1].split("_", 1)[0]
    args = {k: v for k, v in request.args.items() if k.lower() != "id"}
    return redirect(url_for(f"ui.{kind}", ident=_ident_arg(), **args), code=302)


@bp.route("/entity/<provid:ident>", methods=["GET"], merge_slashes=False)
def entity(ident: str) -> Any:
    params = _graph_params()
    t0 = time.perf_counter()
    with _connect() as conn:
        data = queries.entity_page(conn, ident)
        if data is not None:
            graph, svg = _lineage_svg(conn, [ident], params)
    if data is None:
        return _not_found("entity", ident)
    elapsed = (time.perf_counter() - t0) * 1000
    return render_template(
        "ui/entity.html",
        ident=ident,
        graph=graph,
        svg=inline_svg(svg),
        params=params,
        depth_choices=DEPTH_CHOICES,
        downloads=_downloads([ident], params),
        elapsed_ms=elapsed,
        **data,
    )


@bp.route("/activity/<provid:ident>", methods=["GET"], merge_slashes=False)
def activity(ident: str) -> Any:
    from provdb.lineage.svg import render_svg

    with _connect() as conn:
        data = queries.activity_page(conn, ident)
        if data is not None:
            graph = activity_graph(conn, ident)
            more = _expandable(conn, graph, "BOTH")
    if data is None:
        return _not_found("activity", ident)
    svg = render_svg(graph, url_pattern=node_pattern(), more=more)
    params = {"depth_text": "1", "direction": "BACK"}
    return render_template(
        "ui/activity.html",
        ident=ident,
        graph=graph,
        svg=inline_svg(svg),
        downloads=_downloads([ident], params),
        **data,
    )


@bp.route("/agent/<provid:ident>", methods=["GET"], merge_slashes=False)
def agent(ident: str) -> Any:
    with _connect() as conn:
        data = queries.agent_page(conn, ident)
    if data is None:
        return _not_found("agent", ident)
    return render_template("ui/agent.html", ident=ident, **data)


@bp.route("/environment/<provid:ident>", methods=["GET"], merge_slashes=False)
def environment(ident: str) -> Any:
    with _connect() as conn:
        env = queries.environment(conn, ident)
    if env is None:
        raise PageError(404, f"No environment {ident!r}", "The archive holds no such record.")
    if (request.args.get("format") or "").lower() == "json":
        return Response(as_json(env["system"]), mimetype="application/json")
    return render_template("ui/environment.html", ident=ident, env=env)


_NIGHT = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


@bp.route("/run/<night>/<run>", methods=["GET"])
def run(night: str, run: str) -> Any:
    from provdb.lineage.export import RunNotFound, run_graph
    from provdb.lineage.svg import render_svg

    m = _NIGHT.match(night)
    digits = run.lower().removeprefix("run")
    if m is None or not digits.isdigit():
        raise PageError(
            400, "Bad run", f"{night}/{run}: the URL is /ui/run/<YYYYMMDD>/<run number>"
        )
    step = request.args.get("step") or "all"
    if step not in STEPS:
        raise PageError(400, "Bad step", f"step={step!r}: use one of {', '.join(STEPS)}")
    subruns = (request.args.get("subruns") or "").lower() in ("1", "true", "yes", "on")
    canonical_night, canonical_run = "".join(m.groups()), digits.zfill(5)
    if (canonical_night, canonical_run) != (night, run):
        return redirect(run_href(canonical_night, canonical_run, step, subruns), code=301)
    with _connect() as conn:
        data = queries.run_page(conn, night, run, step)
        if not data["steps"]:
            raise PageError(
                404,
                f"No run {run} on night {night}",
                f"The archive holds no lstosa activity of run {run} on night {night}.",
                search=run,
            )
        graph = svg = None
        try:
            graph = run_graph(conn, run, night=night, step=step)
        except RunNotFound:
            graph = None
        if graph is not None:
            full_size = len(graph.nodes)
            if not subruns:
                graph = collapse_subruns(graph, data["run_id"], step)
            more = _expandable(conn, graph, "BOTH")
            svg = inline_svg(render_svg(graph, url_pattern=node_pattern(), more=more))
        else:
            full_size = 0
        activities = queries.run_activities(conn, night, run, step) if subruns else []
    return render_template(
        "ui/run.html",
        night=night,
        run=run,
        step=step,
        steps_all=STEPS,
        subruns=subruns,
        graph=graph,
        svg=svg,
        full_size=full_size,
        run_activities=activities,
        **data,
    )


# ----------------------------------------------------------------------------- graph


@bp.route("/graph", methods=["GET"])
def graph() -> Any:
    from provdb.lineage.traverse import UnknownNode

    ids = [v.strip() for k, v in request.args.items(multi=True) if k.lower() == "id" and v.strip()]
    fmt = (request.args.get("format") or "html").strip().lower()
    if fmt not in ("svg", "html"):
        raise PageError(400, "Bad format", f"format={fmt!r}: use svg or html")
    if not ids:
        if fmt == "svg":
            return Response("missing parameter id\n", status=400, mimetype="text/plain")
        raise PageError(400, "No id given", "Give one or more ids: /ui/graph?id=<id>&depth=2")
    params = _graph_params()
    try:
        with _connect() as conn:
            graph, svg = _lineage_svg(conn, ids, params, expandable=fmt == "html")
    except UnknownNode as exc:
        if fmt == "svg":
            return Response(str(exc) + "\n", status=404, mimetype="text/plain")
        raise PageError(404, "Unknown id", str(exc), search=ids[0]) from None
    if fmt == "svg":
        return Response(
            svg,
            mimetype="image/svg+xml",
            headers={
                "X-Provdb-Truncated": "true" if graph.truncated else "false",
                "X-Provdb-Nodes": str(len(graph.nodes)),
            },
        )
    return render_template(
        "ui/graph.html",
        ids=ids,
        graph=graph,
        svg=inline_svg(svg),
        params=params,
        depth_choices=DEPTH_CHOICES,
        downloads=_downloads(ids, params),
        svg_url=url_for("ui.graph", **{**request.args.to_dict(flat=False), "format": "svg"}),
    )


# ----------------------------------------------------------------------------- versions


def _adql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@bp.route("/versions", methods=["GET"])
def versions() -> Any:
    from provdb.versions import normalize_package, parse_version, products_with_version

    package = (request.args.get("package") or "").strip()
    version = (request.args.get("version") or "").strip()
    product_type = (request.args.get("product_type") or "").strip()
    catalog = tap_db().catalog
    with _connect() as conn:
        source = queries.versions_source(conn, catalog)
        if source == "product_version":
            from provdb.versions import products_by_version

            every = products_by_version(conn)
            pkg = normalize_package(package) if package else ""
            ver = (parse_version(version) or ("",))[0] if version else ""
            summary = [
                r
                for r in every
                if (not pkg or r["package"] == pkg)
                and (not ver or r["version"] == ver)
                and (not product_type or (r["product_type"] or "").upper() == product_type.upper())
            ]
            products = []
            if ver:
                packages = [pkg] if pkg else sorted({r["package"] for r in summary})
                for p in packages:
                    products += products_with_version(
                        conn, p, ver, product_type=product_type or None, limit=1000
                    )
            adql_summary, adql_products = _versions_adql(pkg, ver, product_type)
        else:
            every = queries.session_versions(conn)
            ver_options = {version, version.removeprefix("v"), "v" + version.removeprefix("v")}
            summary = [
                r
                for r in every
                if (not version or r["version"] in ver_options)
                and (not product_type or product_type.upper() in (r["product_type"] or "").upper())
            ]
            products = (
                queries.session_version_products(conn, sorted(ver_options), product_type)
                if version
                else []
            )
            adql_summary, adql_products = _session_versions_adql(version, product_type)
        totals = queries.version_totals(conn, source)
    return render_template(
        "ui/versions.html",
        source=source,
        totals=totals,
        package=package,
        version=version,
        product_type=product_type,
        summary=summary,
        products=products,
        packages=sorted({r.get("package") for r in every if r.get("package")}),
        versions_known=sorted({r["version"] for r in every if r.get("version")}),
        product_types=sorted({r["product_type"] for r in every if r.get("product_type")}),
        adql_summary=adql_summary,
        adql_products=adql_products,
    )


def _versions_adql(package: str, version: str, product_type: str) -> tuple[str, str | None]:
    where = []
    if package:
        where.append(f"package = {_adql_literal(package)}")
    if version:
        where.append(f"version = {_adql_literal(version)}")
    if product_type:
        where.append(f"UPPER(product_type) = {_adql_literal(product_type.upper())}")
    clause = ("\nWHERE " + "\n  AND ".join(where)) if where else ""
    summary = (
        "SELECT package, version, product_type, COUNT(DISTINCT entity_id) AS n_products\n"
        f"FROM archive.product_version{clause}\n"
        "GROUP BY package, version, product_type\n"
        "ORDER BY package, version, product_type"
    )
    products = None
    if version:
        products = (
            "SELECT DISTINCT entity_id, location, product_type, package, version\n"
            f"FROM archive.product_version{clause}\n"
            "ORDER BY location"
        )
    return summary, products


def _session_versions_adql(version: str, product_type: str) -> tuple[str, str | None]:
    from provdb.versions import session_table

    where = ["s.software_version IS NOT NULL"]
    if version:
        bare = version.removeprefix("v")
        where.append(f"s.software_version IN ({_adql_literal(bare)}, {_adql_literal('v' + bare)})")
    if product_type:
        where.append(f"UPPER(e.name) LIKE {_adql_literal('%' + product_type.upper() + '%')}")
    joins = (
        "FROM provenance.entity AS e\n"
        "JOIN provenance.wasgeneratedby AS g ON g.entity_id = e.id\n"
        "JOIN provenance.activity AS a ON a.id = g.activity_id\n"
        f"JOIN {session_table()} AS s ON s.id = a.session_id\n"
        "WHERE " + "\n  AND ".join(where)
    )
    summary = (
        "SELECT s.software_package AS package, s.software_version AS version,\n"
        "       e.name AS product_type, COUNT(DISTINCT e.id) AS n_products\n"
        f"{joins}\n"
        "GROUP BY s.software_package, s.software_version, e.name\n"
        "ORDER BY s.software_package, s.software_version, e.name"
    )
    products = None
    if version:
        products = (
            "SELECT DISTINCT e.id, e.location, e.name AS product_type, "
            "s.software_version AS version\n"
            f"{joins}\n"
            "ORDER BY e.location"
        )
    return summary, products


# ----------------------------------------------------------------------------- ADQL

_POSITION = re.compile(r"line (\d+), column (\d+)")


def run_adql(query: str, max_rows: int) -> dict[str, Any]:
    """Run ``query`` like ``/sync`` does (same parser, role, limits), as JSON, in memory.

    Returns ``columns``, ``rows``, ``overflow``, ``error`` (the service's message),
    ``position`` (``(line, column)`` of an ADQL error) and ``elapsed_ms``.
    """
    from tap.errors import TapError
    from tap.params import collect
    from tap.query.run import prepare, result_stream

    db = tap_db()
    config = current_app.config["TAP_CONFIG"]
    params = collect(
        [
            ("LANG", "ADQL"),
            ("QUERY", query),
            ("RESPONSEFORMAT", "json"),
            ("MAXREC", str(max_rows)),
        ]
    )
    out: dict[str, Any] = {"columns": [], "rows": [], "overflow": False, "error": None}
    t0 = time.perf_counter()
    try:
        prepared = prepare(params, db.catalog, config, timeout_s=config.sync_execution)
        status: dict[str, Any] = {}
        body = b"".join(
            result_stream(
                prepared,
                lambda: db.connect_read(pooled=False),
                role=db.reader_role,
                status=status,
            )
        )
        doc = json.loads(body)
        out["columns"] = doc.get("metadata", [])
        out["rows"] = doc.get("data", [])
        out["overflow"] = bool(doc.get("overflow"))
        out["error"] = doc.get("error")
    except TapError as exc:
        out["error"] = exc.message
    out["elapsed_ms"] = (time.perf_counter() - t0) * 1000
    m = _POSITION.search(out["error"] or "")
    out["position"] = (int(m.group(1)), int(m.group(2))) if m else None
    return out


@bp.route("/adql", methods=["GET", "POST"])
def adql() -> str:
    from tap.examples import load_examples

    query = (request.values.get("query") or request.values.get("QUERY") or "").strip()
    max_rows = int(current_app.config.get("PROVDB_UI_MAX_ROWS") or DEFAULT_MAX_ROWS)
    result = links = None
    marker = None
    if query:
        result = run_adql(query, max_rows)
        values = sorted(
            {v for row in result["rows"] for v in row if isinstance(v, str) and 0 < len(v) <= 512}
        )
        if values:
            with _connect() as conn:
                links = queries.known_nodes(conn, values)
        if result["position"]:
            line, column = result["position"]
            lines = query.splitlines()
            if 1 <= line <= len(lines):
                marker = (lines[line - 1], " " * max(column - 1, 0) + "^")
        log.info("ui adql %s rows%s", len(result["rows"]), " (error)" if result["error"] else "")
    return render_template(
        "ui/adql.html",
        query=query,
        result=result,
        links=links or {},
        marker=marker,
        max_rows=max_rows,
        examples=load_examples(),
        votable_url=sync_url(query, "votable") if query else None,
        csv_url=sync_url(query, "csv") if query else None,
    )
