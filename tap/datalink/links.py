"""The rows of a ``{links}`` response: products, their direct inputs and outputs.

Pure of Flask: :func:`product_links` takes a psycopg cursor and the URLs to build.
"""

from __future__ import annotations

import posixpath
import urllib.parse
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provdb.config import ObsCoreSettings
from provdb.obscore.refresh import file_url
from tap.datalink.document import LINKS_CONTENT_TYPE, Link

__all__ = ["Urls", "candidate_ids", "product_links"]

_FITS = (".fits", ".fits.gz", ".fits.fz", ".fit", ".fts")


@dataclass(frozen=True)
class Urls:
    """Where this service answers (from the request or PROVDB_TAP_BASE_URL)."""

    links: str  # .../datalink/links
    provsap: str  # .../tap/provsap
    ui: str  # .../ui


def candidate_ids(ident: str) -> list[str]:
    """Entity ids an ID may name: itself, and the part after ``?`` of an IVOA
    identifier (``obs_publisher_did`` = ``ivo://<authority>?<entity id>``)."""
    out = [ident]
    if ident.startswith("ivo://") and "?" in ident:
        out.append(ident.split("?", 1)[1])
    return out


def _content_type(location: str | None, declared: str | None) -> str | None:
    if declared:
        return declared
    low = (location or "").lower()
    if low.endswith(_FITS):
        return "application/fits"
    if low.endswith((".h5", ".hdf5")):
        return "application/x-hdf5"
    return None


def _file_link(settings: ObsCoreSettings, location: str | None, entity_id: str) -> str | None:
    url = file_url(settings, location, entity_id)
    if url is None and location and location.startswith("/"):
        # no download URL configured: where the file lies on the archive's storage
        url = "file://" + urllib.parse.quote(location)
    return url


def _name(location: str | None, entity_id: str) -> str:
    return posixpath.basename((location or "").rstrip("/")) or entity_id


def product_links(
    cur: Any, ids: Sequence[str], urls: Urls, settings: ObsCoreSettings
) -> list[Link]:
    """Every link of every ID, in ID order; an unknown ID gives a NotFoundFault row."""
    wanted = {ident: candidate_ids(ident) for ident in ids}
    flat = sorted({c for cands in wanted.values() for c in cands})
    cur.execute(
        "SELECT id, location, content_type, size_bytes FROM provenance.entity WHERE id = ANY(%s)",
        (flat,),
    )
    entities = {r[0]: r[1:] for r in cur.fetchall()}
    found = sorted({c for cands in wanted.values() for c in cands if c in entities})
    related: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    generated_by: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    if found:
        cur.execute(
            """
            SELECT 'progenitor', g.entity_id, u.entity_id, u.role, a.name,
                   e.location, e.content_type, e.size_bytes
            FROM provenance.wasgeneratedby g
            JOIN provenance.used u ON u.activity_id = g.activity_id
            JOIN provenance.activity a ON a.id = g.activity_id
            JOIN provenance.entity e ON e.id = u.entity_id
            WHERE g.entity_id = ANY(%(ids)s) AND u.entity_id <> g.entity_id
            UNION
            SELECT 'progenitor', d.generated_entity_id, d.used_entity_id, 'wasDerivedFrom',
                   NULL, e.location, e.content_type, e.size_bytes
            FROM provenance.wasderivedfrom d
            JOIN provenance.entity e ON e.id = d.used_entity_id
            WHERE d.generated_entity_id = ANY(%(ids)s)
              AND d.used_entity_id <> d.generated_entity_id
            UNION
            SELECT 'derivation', u.entity_id, g.entity_id, g.role, a.name,
                   e.location, e.content_type, e.size_bytes
            FROM provenance.used u
            JOIN provenance.wasgeneratedby g ON g.activity_id = u.activity_id
            JOIN provenance.activity a ON a.id = u.activity_id
            JOIN provenance.entity e ON e.id = g.entity_id
            WHERE u.entity_id = ANY(%(ids)s) AND g.entity_id <> u.entity_id
            UNION
            SELECT 'derivation', d.used_entity_id, d.generated_entity_id, 'wasDerivedFrom',
                   NULL, e.location, e.content_type, e.size_bytes
            FROM provenance.wasderivedfrom d
            JOIN provenance.entity e ON e.id = d.generated_entity_id
            WHERE d.used_entity_id = ANY(%(ids)s)
              AND d.used_entity_id <> d.generated_entity_id
            """,
            {"ids": found},
        )
        seen: set[tuple[str, str, str]] = set()
        for kind, product, other, role, activity, loc, ctype, size in cur.fetchall():
            if (kind, product, other) in seen:  # a used file also named by wasDerivedFrom
                continue
            seen.add((kind, product, other))
            related[(kind, product)].append((other, role, activity, loc, ctype, size))
        cur.execute(
            "SELECT g.entity_id, a.id, a.name FROM provenance.wasgeneratedby g "
            "JOIN provenance.activity a ON a.id = g.activity_id "
            "WHERE g.entity_id = ANY(%s) ORDER BY a.start_time NULLS LAST, a.id",
            (found,),
        )
        for product, act_id, act_name in cur.fetchall():
            generated_by[product].append((act_id, act_name))

    out: list[Link] = []
    for ident in ids:
        eid = next((c for c in wanted[ident] if c in entities), None)
        if eid is None:
            out.append(
                Link(
                    id=ident,
                    semantics="#this",
                    error_message=f"NotFoundFault: no product with ID {ident} in this archive",
                )
            )
            continue
        location, ctype, size = entities[eid]
        this_url = _file_link(settings, location, eid)
        if this_url is not None:
            out.append(
                Link(
                    id=ident,
                    semantics="#this",
                    access_url=this_url,
                    description=f"the file {_name(location, eid)}",
                    content_type=_content_type(location, ctype),
                    content_length=size,
                    entity_id=eid,
                )
            )
        else:
            out.append(
                Link(
                    id=ident,
                    semantics="#this",
                    error_message=f"NotFoundFault: {eid} has no location to download",
                    entity_id=eid,
                )
            )
        for kind in ("progenitor", "derivation"):
            for other, role, activity, loc, octype, osize in sorted(
                related.get((kind, eid), []), key=lambda r: (r[3] or "", r[0])
            ):
                what = "input" if kind == "progenitor" else "output"
                by = f" of {activity}" if activity else ""
                out.append(
                    Link(
                        id=ident,
                        semantics=f"#{kind}",
                        # its own links document: the user can walk on from there
                        access_url=urls.links + "?ID=" + urllib.parse.quote(other, safe=""),
                        description=f"{what} {_name(loc, other)}{by}"
                        + (f" (role: {role})" if role else ""),
                        content_type=LINKS_CONTENT_TYPE,
                        local_semantics=what,
                        entity_id=other,
                    )
                )
                del octype, osize
        for act_id, act_name in generated_by.get(eid, []):
            query = urllib.parse.urlencode(
                {"ID": act_id, "DEPTH": "1", "RESPONSEFORMAT": "PROV-JSON"}
            )
            out.append(
                Link(
                    id=ident,
                    semantics="#documentation",
                    access_url=f"{urls.provsap}?{query}",
                    description=f"provenance record of {act_name or act_id}, the activity "
                    "that generated it, as ingested from its pipeline log (PROV-JSON)",
                    content_type="application/json",
                    local_semantics="generation",
                    entity_id=eid,
                )
            )
        for sd_id, what, ctype in (
            ("provsap-json", "full lineage (ProvSAP, PROV-JSON)", "application/json"),
            ("provsap-svg", "full lineage graph (ProvSAP, SVG)", "image/svg+xml"),
            ("ui-page", "page of the product in the browser UI", "text/html"),
        ):
            out.append(
                Link(
                    id=ident,
                    semantics="#documentation",
                    service_def=sd_id,
                    description=what,
                    content_type=ctype,
                    local_semantics=sd_id,
                    entity_id=eid,
                )
            )
    return out
