"""The rows of a ``{links}`` response: products, their direct inputs and outputs.

Pure of Flask: :func:`product_links` takes a psycopg cursor and the URLs to build.
"""

from __future__ import annotations

import os
import posixpath
import urllib.parse
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provdb.config import ObsCoreSettings
from provdb.obscore.refresh import file_url
from tap.datalink.document import LINKS_CONTENT_TYPE, Link

__all__ = ["Urls", "candidate_ids", "log_media_type", "log_readable", "product_links"]

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


def log_readable(path: str) -> bool:
    """Whether the service can still read the ingested log at ``path`` (a regular file)."""
    return os.path.isfile(path) and os.access(path, os.R_OK)


def _log_links(
    ident: str, eid: str, logs: list[tuple[int, str, str, int]], urls: Urls
) -> list[Link]:
    """``#documentation``: each log the product's generating activity was read from; the
    raw file (``/ui/ingest/<id>/raw``) while the service can read it, else the archive's
    page of that ingest (``/ui/ingest/<id>``: offsets, records, rejected lines)."""
    out = []
    for file_id, path, fmt, size in logs:
        name = _name(path, str(file_id))
        if log_readable(path):
            url, ctype, length = f"{urls.ui}/ingest/{file_id}/raw", log_media_type(path), size
            what = f"pipeline log {name} ({fmt}) its generating activity was read from"
        else:
            url, ctype, length = f"{urls.ui}/ingest/{file_id}", "text/html", None
            what = (
                f"ingest page of the pipeline log {name} ({fmt}) its generating activity "
                "was read from (the file itself is no longer readable by the service)"
            )
        out.append(
            Link(
                id=ident,
                semantics="#documentation",
                access_url=url,
                description=what,
                content_type=ctype,
                content_length=length,
                local_semantics="log",
                entity_id=eid,
            )
        )
    return out


def log_media_type(path: str) -> str:
    """Media type of an ingested log file, from its name (logs are text unless compressed
    or a PROV document)."""
    low = path.lower()
    for suffix, media in _LOG_TYPES:
        if low.endswith(suffix):
            return media
    return "text/plain"


_LOG_TYPES = (
    (".gz", "application/gzip"),
    (".bz2", "application/x-bzip2"),
    (".xz", "application/x-xz"),
    (".json", "application/json"),
    (".jsonld", "application/ld+json"),
    (".xml", "application/xml"),
    (".provn", "text/provenance-notation"),
)


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
    logs: dict[str, list[tuple[int, str, str, int]]] = defaultdict(list)
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
        cur.execute(
            "SELECT DISTINCT g.entity_id, f.id, f.path, f.format, f.size_bytes "
            "FROM provenance.wasgeneratedby g "
            "JOIN archive.activity_source s ON s.activity_id = g.activity_id "
            "JOIN archive.ingest_file f ON f.id = s.ingest_file_id "
            "WHERE g.entity_id = ANY(%s) ORDER BY g.entity_id, f.path, f.id",
            (found,),
        )
        for product, file_id, path, fmt, size in cur.fetchall():
            logs[product].append((file_id, path, fmt, size))

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
        out.extend(_log_links(ident, eid, logs.get(eid, []), urls))
        for act_id, act_name in generated_by.get(eid, []):
            query = urllib.parse.urlencode(
                {"ID": act_id, "DEPTH": "1", "RESPONSEFORMAT": "PROV-JSON"}
            )
            out.append(
                Link(
                    id=ident,
                    semantics="#auxiliary",
                    access_url=f"{urls.provsap}?{query}",
                    description=f"provenance record of {act_name or act_id}, the activity "
                    "that generated it, as the archive holds it (ProvSAP, PROV-JSON)",
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
