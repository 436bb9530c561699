"""Formats, and the run-wise export (what lstosa's provprocess gave operators).

Formats
-------
:data:`FORMATS` lists every serialisation of a :class:`~provdb.lineage.graph.ProvGraph`
with its media type, file extension and the aliases ProvSAP's RESPONSEFORMAT accepts
(case-insensitive names and MIME types); :func:`serialize` writes one.

Run-wise export
---------------
lstosa's ``provprocess`` turns one run of a night's ``prov.log`` into a run-wise
PROV-JSON document and a graph, collapsing each step's subrun activities into one
activity with a **random** id (spec §3.2). :func:`run_graph` builds the same view from
the archive, with stable ids: the activities of the run step in ``archive.run_activity``
(provdb's own activity ids, one per subrun activity: nothing is invented or collapsed),
the files of ``archive.run_entity`` (used, generated or derived from by the step), every
relation between them, their agents, parameters, config files, session context and
descriptions. Exporting the same run twice gives the same document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from provdb.lineage.graph import Node, ProvGraph

__all__ = [
    "FORMATS",
    "STEPS",
    "Format",
    "RunNotFound",
    "parse_format",
    "run_graph",
    "serialize",
]

#: Step groups of archive.run_step (plus ``all``).
STEPS = ("calibration", "r0_to_dl1", "dl1_to_dl2", "all")


@dataclass(frozen=True)
class Format:
    name: str
    mime: str
    extension: str
    aliases: tuple[str, ...] = ()


#: Serialisations, by canonical name (lower case).
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "prov-json",
            "application/json",
            "json",
            ("json", "application/json", "prov+json", "application/prov+json"),
        ),
        Format(
            "prov-n",
            "text/provenance-notation; charset=utf-8",
            "provn",
            ("provn", "text/provenance-notation", "text/plain"),
        ),
        Format(
            "prov-xml",
            "application/provenance+xml",
            "xml",
            ("xml", "application/provenance+xml", "application/xml", "text/xml"),
        ),
        Format(
            "prov-votable",
            "application/x-votable+xml",
            "vot",
            ("votable", "application/x-votable+xml", "text/xml;content=x-votable"),
        ),
        Format("svg", "image/svg+xml", "svg", ("prov-svg", "image/svg+xml")),
        Format(
            "dot",
            "text/vnd.graphviz; charset=utf-8",
            "dot",
            ("prov-dot", "gv", "text/vnd.graphviz"),
        ),
    )
}


def parse_format(value: str) -> str | None:
    """Canonical format name of a RESPONSEFORMAT value (name or MIME type), or ``None``."""
    text = re.sub(r"\s+", "", value.strip().lower())
    if text in FORMATS:
        return text
    for fmt in FORMATS.values():
        if text in fmt.aliases:
            return fmt.name
    # a MIME type with parameters (application/json;charset=utf-8)
    base = text.split(";", 1)[0]
    if base != text and "content=" not in text:
        return parse_format(base)
    return None


def serialize(
    graph: ProvGraph,
    fmt: str,
    *,
    model: str = "IVOA",
    namespace: str | None = None,
    url_pattern: str | None = None,
    request: dict[str, str] | None = None,
    svg_engine: str | None = None,
) -> bytes:
    """``graph`` in format ``fmt`` (a name of :data:`FORMATS`).

    ``model`` and ``namespace`` apply to the W3C serialisations, ``url_pattern`` to the
    graph formats, ``request`` (parameters echoed as INFOs) to PROV-VOTABLE.
    """
    from provdb.lineage.dot import DEFAULT_URL_PATTERN
    from provdb.lineage.provjson import DEFAULT_NAMESPACE

    namespace = namespace or DEFAULT_NAMESPACE
    url_pattern = url_pattern or DEFAULT_URL_PATTERN
    if fmt == "prov-json":
        from provdb.lineage.provjson import to_prov_json

        return to_prov_json(graph, model=model, namespace=namespace)
    if fmt == "prov-n":
        from provdb.lineage.provn import to_prov_n

        return to_prov_n(graph, model=model, namespace=namespace)
    if fmt == "prov-xml":
        from provdb.lineage.provxml import to_prov_xml

        return to_prov_xml(graph, model=model, namespace=namespace)
    if fmt == "prov-votable":
        from provdb.lineage.votable import to_prov_votable

        return to_prov_votable(graph, request=request)
    if fmt == "svg":
        from provdb.lineage.svg import render_svg

        return render_svg(graph, url_pattern=url_pattern, engine=svg_engine)
    if fmt == "dot":
        from provdb.lineage.dot import to_dot

        return to_dot(graph, url_pattern=url_pattern).encode("utf-8")
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


# ----------------------------------------------------------------------------- run-wise


class RunNotFound(LookupError):
    """No lstosa activity for this run (and night, and step) in the archive."""


def _run_number(run: str | int) -> str:
    text = str(run).strip()
    if not text.isdigit():
        raise ValueError(f"run must be a run number such as 01807, not {run!r}")
    return text.zfill(5)


def run_graph(
    conn: Any, run: str | int, *, night: str | None = None, step: str = "all"
) -> ProvGraph:
    """The run-wise provenance graph of one run step (see the module docstring).

    Parameters
    ----------
    conn:
        psycopg 3 connection, SQLAlchemy Connection or Engine.
    run:
        Run number (``1807`` and ``01807`` are the same run).
    night:
        Observation date ``YYYYMMDD``; needed when the archive holds the run for several
        nights.
    step:
        ``calibration``, ``r0_to_dl1``, ``dl1_to_dl2`` or ``all``.

    Raises
    ------
    RunNotFound
        Nothing in the archive for this run (night, step); or the run was processed on
        several nights and ``night`` was not given (the message lists them).
    ValueError
        A malformed run, night or step.
    """
    from provdb.cursor import cursor
    from provdb.lineage.run_sql import run_activity_sql, run_entity_sql
    from provdb.lineage.traverse import execute, fill_graph
    from provdb.versions import session_table

    number = _run_number(run)
    if step not in STEPS:
        raise ValueError(f"step must be one of {', '.join(STEPS)}, not {step!r}")
    if night is not None:
        night = night.replace("-", "")
        if not re.fullmatch(r"\d{8}", night):
            raise ValueError(f"night must be YYYYMMDD, not {night!r}")
    with cursor(conn) as cur:
        execute(
            cur,
            # the nights of the run's own sessions: archive.run_activity's nights (a
            # night's calibration joins only runs that have sessions of their own)
            f"SELECT DISTINCT s.observation_date FROM {session_table()} s "
            "JOIN provenance.activity a ON a.session_id = s.id "
            "WHERE s.observation_run = %(r)s AND s.source_format = 'lstosa' "
            "AND (%(n)s::text IS NULL OR s.observation_date = %(n)s) ORDER BY 1",
            {"r": number, "n": night},
        )
        nights = [r[0] for r in cur.fetchall()]
        if not nights:
            where = f" on night {night}" if night else ""
            raise RunNotFound(f"no lstosa activity for run {number}{where} in the archive")
        if len(nights) > 1:
            raise RunNotFound(
                f"run {number} was processed on several nights ({', '.join(nights)}): "
                "choose one with --night YYYYMMDD"
            )
        run_id = f"{nights[0]}_{number}"
        execute(
            cur,
            "SELECT DISTINCT activity_id "
            f"FROM ({run_activity_sql('%(nights)s', '%(runs)s')}) ra "
            "WHERE %(s)s = 'all' OR step_group = %(s)s ORDER BY 1",
            {"nights": [nights[0]], "runs": [number], "s": step},
        )
        activities = [r[0] for r in cur.fetchall()]
        if not activities:
            raise RunNotFound(f"no {step} activity for run {run_id} in the archive")
        execute(
            cur,
            "SELECT DISTINCT entity_id "
            f"FROM ({run_entity_sql('%(nights)s', '%(runs)s', '%(s)s')}) re ORDER BY 1",
            {"nights": [nights[0]], "runs": [number], "s": step},
        )
        entities = [r[0] for r in cur.fetchall()]
    graph = ProvGraph(depth=None, direction="BACK", limit=len(activities) + len(entities))
    graph.title = f"run {run_id}, step {step}"
    for ident in activities:
        graph.add_node(Node("activity", ident))
    for ident in entities:
        graph.add_node(Node("entity", ident))
    return fill_graph(conn, graph, agents=True)
