"""Blueprint ``datalink``: the DataLink 1.1 ``{links}`` endpoint, ``/datalink/links``.

``GET`` or ``POST /datalink/links?ID=...`` (ID repeatable, at most
:data:`MAX_IDS` per request; pyvo's ``iter_datalinks`` sends them in batches) returns one
VOTable listing, for every ID (an ``obs_publisher_did`` of ``ivoa.obscore`` or an
entity id):

* ``#this``: the file (``PROVDB_OBSCORE_ACCESS_URL``, else a ``file://`` URL of its path);
* ``#progenitor``: each direct input (used by its generating activity, or named by
  wasDerivedFrom), ``#derivation``: each direct output; both point to that product's own
  links document, so that a client walks the chain;
* ``#documentation``: the pipeline log(s) its generating activity was read from
  (``archive.activity_source``): the raw file, ``/ui/ingest/<id>/raw``, while the
  service can read it, else the archive's page of that ingest, ``/ui/ingest/<id>``;
  and three service descriptors: the full lineage as PROV-JSON and as SVG (ProvSAP) and
  the product's page in the UI;
* ``#auxiliary``: the provenance record of its generating activity as the archive holds
  it (ProvSAP, PROV-JSON, depth 1).

An ID naming nothing gives a row with ``error_message`` ``NotFoundFault: ...``. Errors of
the request itself (no ID, too many, RESPONSEFORMAT not a VOTable) are DALI error
VOTables with status 400; a database failure 500.
"""

from __future__ import annotations

import functools
import logging

from flask import Blueprint, Response, current_app, request
from werkzeug.sansio.utils import get_current_url

from provdb.config import ObsCoreSettings
from provdb.errors import ConfigError
from tap.datalink.document import LINKS_CONTENT_TYPE, ServiceDescriptor, links_document
from tap.datalink.links import Urls, product_links
from tap.errors import ServiceError, UsageError

__all__ = ["MAX_IDS", "bp", "job_links_url", "links_url", "service_root"]

bp = Blueprint("datalink", __name__)
log = logging.getLogger("provdb.tap")

MAX_IDS = 1000
_FORMATS = ("", "votable", "application/x-votable+xml", LINKS_CONTENT_TYPE.lower())


def service_root() -> str:
    """The public root URL (``PROVDB_TAP_BASE_URL`` without ``/tap``, else this request's)."""
    configured = (current_app.config["TAP_CONFIG"].base_url or "").rstrip("/")
    if configured:
        return configured[: -len("/tap")] if configured.endswith("/tap") else configured
    # request.host checks the Host against the trusted hosts; the URL built from it is
    # the same for every request to that host (werkzeug's IRI decoding costs ~40 us)
    return _host_root(request.scheme, request.host) + request.script_root


@functools.lru_cache(maxsize=64)
def _host_root(scheme: str, host: str) -> str:
    """``request.host_url`` without its trailing slash, for a validated host."""
    return get_current_url(scheme, host).rstrip("/")


def links_url() -> str:
    """The ``{links}`` endpoint's public URL."""
    return service_root() + "/datalink/links"


@bp.before_app_request
def _remember_root() -> None:
    # async jobs run outside any request: they use the root of the first request this
    # process served (PROVDB_TAP_BASE_URL, when set, wins everywhere)
    if "DATALINK_ROOT" not in current_app.config:
        current_app.config["DATALINK_ROOT"] = service_root()


def job_links_url(app: object) -> str | None:
    """The ``{links}`` URL for an async job (no request): configured or remembered."""
    config = app.config  # type: ignore[attr-defined]
    base = (config["TAP_CONFIG"].base_url or "").rstrip("/")
    root = (base[: -len("/tap")] if base.endswith("/tap") else base) or config.get("DATALINK_ROOT")
    return root + "/datalink/links" if root else None


def _descriptors(urls: Urls) -> list[ServiceDescriptor]:
    return [
        ServiceDescriptor(
            "provsap-json",
            "ProvSAP lineage (PROV-JSON)",
            urls.provsap,
            "The full lineage of the product (every ancestor), IVOA ProvSAP, PROV-JSON",
            fixed=(("DEPTH", "ALL"), ("RESPONSEFORMAT", "PROV-JSON")),
        ),
        ServiceDescriptor(
            "provsap-svg",
            "ProvSAP lineage (SVG)",
            urls.provsap,
            "The full lineage of the product as a graph, IVOA ProvSAP, SVG",
            fixed=(("DEPTH", "ALL"), ("RESPONSEFORMAT", "SVG")),
        ),
        ServiceDescriptor(
            "ui-page",
            "Browser page",
            urls.ui + "/entity",
            "The product's page in the provdb browser UI: inputs, consumers, lineage graph",
            id_param="id",
        ),
    ]


@bp.route("/datalink/links", methods=["GET", "POST"])
def links() -> Response:
    items = list(request.args.items(multi=True))
    if request.method == "POST":
        items += list(request.form.items(multi=True))
    ids = [v.strip() for k, v in items if k.upper() == "ID" and v.strip()]
    formats = [v.strip().lower() for k, v in items if k.upper() == "RESPONSEFORMAT"]
    if formats and formats[-1].replace(" ", "") not in _FORMATS:
        raise UsageError(
            f"RESPONSEFORMAT {formats[-1]!r} is not supported: DataLink answers "
            f"{LINKS_CONTENT_TYPE} only (leave RESPONSEFORMAT out)"
        )
    if not ids:
        raise UsageError(
            "UsageFault: missing parameter ID: give one or more product ids, "
            "e.g. /datalink/links?ID=<obs_publisher_did or entity id>"
        )
    if len(ids) > MAX_IDS:
        raise UsageError(
            f"UsageFault: {len(ids)} IDs in one request, at most {MAX_IDS}: send them in batches"
        )
    try:
        settings = ObsCoreSettings.from_env()
    except ConfigError as exc:
        raise ServiceError(f"service misconfigured: {exc}") from None
    root = service_root()
    urls = Urls(links=root + "/datalink/links", provsap=root + "/tap/provsap", ui=root + "/ui")
    db = current_app.extensions["provdb_tap_db"]
    try:
        conn = db.connect_read(pooled=True)
        try:
            with conn.cursor() as cur:
                rows = product_links(cur, ids, urls, settings)
            conn.rollback()
        finally:
            conn.close()
    except Exception as exc:  # database failures: a DALI error, not an HTML page
        log.exception("datalink failed")
        raise ServiceError(f"links query failed: {str(exc).splitlines()[0]}") from None
    log.info("datalink %d ID(s) -> %d links", len(ids), len(rows))
    return Response(
        links_document(rows, _descriptors(urls)),
        content_type=LINKS_CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )
