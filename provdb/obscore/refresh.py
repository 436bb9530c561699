"""Rows of ``ivoa.obscore``, recomputed for the entities an ingest or scan touched.

Which entities are products
---------------------------
Files (a location not ending in ``/``, named ``*.h5``, ``*.hdf5``, ``*.fits``,
``*.fits.gz``, ``*.fits.fz``) of data level DL1, DL2 or DL3 — the level the scan read in
the file (``attributes.scan.data_level``: a FITS ``EVENTS`` HDU is DL3), else the one in
the entity name (lstosa's model: ``DL1SubrunDataset``, ``DL2SubrunDataset``...), else in
the file name — except the data-check files (``datacheck_*``, entity names with
``Check``) and collections (directories). R0/R1 raw data, calibration files, muon files
and plots are not science products.

Where the values come from
--------------------------
* ``obs_id``: ``OBS_ID`` of a DL3 file, else the run number in the file name
  (``...Run01807.0002.h5`` -> ``1807``), else the entity id (ObsCore forbids nulls);
* ``s_ra``/``s_dec``/``target_name``/``t_min``/``t_max``/``t_exptime``: the EVENTS header
  of a DL3 file as ``provdb scan`` recorded it (``RA_PNT``, ``DEC_PNT``, ``OBJECT``,
  ``TSTART``/``TSTOP`` + ``MJDREFI``/``MJDREFF`` in MJD, ``LIVETIME`` or ``ONTIME``);
* ``s_ra``/``s_dec`` of DL1/DL2 files: the ICRS pointing ``provdb scan`` derived from
  their event or pointing tables (``attributes.scan.pointing``, see
  :mod:`provdb.scan.pointing`); null when the file has none (or was never scanned);
* ``t_min``/``t_max`` of DL1/DL2 files: the earliest and latest valid event time
  ``provdb scan`` read (``attributes.scan.event_times``, MJD UTC, see
  :mod:`provdb.scan.event_times`); null when the file has none (or was never scanned);
* ``em_min``/``em_max``: h c / E of the ``ENERGY`` column's ``TLMAX``/``TLMIN``;
* ``s_fov``/``s_region``: the configured field of view around the pointing;
* ``calib_level``: DL1 and DL2 1, DL3 2 (science-ready event lists), as in the IVOA note
  on ObsCore for high-energy data; ``dataproduct_type`` ``event``;
* software and version: the product's own metadata (lstchain first, then ctapipe, then
  any), else the session of its latest generating activity; ``activity_name`` is that
  activity's name (the step); ``quality_flags`` are the product's rules in
  ``archive.product_flag``.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from provdb.config import ObsCoreSettings
from provdb.schema.product_type import product_type_sql

__all__ = [
    "PRODUCT_LEVELS",
    "file_url",
    "rebuild",
    "refresh",
    "refresh_touched",
]

PRODUCT_LEVELS = ("DL1", "DL2", "DL3")
#: h c in eV m (CODATA 2018): wavelength = HC / energy
HC_EV_M = 1.239841984e-6
#: the data level of entity ``e``: the expression of archive.product_version, which
#: migration 0015 indexes on provenance.entity
_PRODUCT_TYPE = product_type_sql("e")
_FILE = r"'\.(h5|hdf5|fits|fits\.gz|fits\.fz)$'"
_DATALINK_FORMAT = "application/x-votable+xml;content=datalink"


def file_url(settings: ObsCoreSettings, location: str | None, entity_id: str) -> str | None:
    """The download URL of a file from ``PROVDB_OBSCORE_ACCESS_URL`` (None: no pattern, or
    no location); quoted as the SQL of :func:`_access_url` quotes it."""
    if settings.access_url is None or not location:
        return None

    def quote(text: str) -> str:
        for char, code in _QUOTED:
            text = text.replace(char, code)
        return text

    return settings.access_url.format(
        path=quote(location), name=quote(location.rsplit("/", 1)[-1]), id=quote(entity_id)
    )


#: characters that break a URL's path or query, quoted (in this order: '%' first)
_QUOTED = (("%", "%25"), (" ", "%20"), ("#", "%23"), ("?", "%3F"), ("&", "%26"), ("+", "%2B"))


def _urlquote(expr: str) -> str:
    """SQL: ``expr`` with the characters of :data:`_QUOTED` quoted."""
    for char, code in _QUOTED:
        # '%' doubled: the statement goes through psycopg's parameter substitution
        expr = f"replace({expr}, '{char.replace('%', '%%')}', '{code.replace('%', '%%')}')"
    return expr


def _access_url(settings: ObsCoreSettings, params: list[Any]) -> tuple[str, str]:
    """SQL expressions of access_url and access_format (literals appended to params)."""
    if settings.access_url is None:
        prefix = (
            settings.public_url.rstrip("/")
            + "/datalink/links?ID="
            + urllib.parse.quote(settings.authority + "?", safe="")
        )
        params.append(prefix)
        params.append(_DATALINK_FORMAT)
        return f"%s || {_urlquote('q.id')}", "%s"
    parts = []
    for literal, field, _, _ in __import__("string").Formatter().parse(settings.access_url):
        if literal:
            params.append(literal)
            parts.append("%s")
        if field == "path":
            parts.append(_urlquote("q.location"))
        elif field == "name":
            parts.append(_urlquote("regexp_replace(q.location, '^.*/', '')"))
        elif field == "id":
            parts.append(_urlquote("q.id"))
    fmt = (
        "coalesce(q.content_type, CASE WHEN q.location ~* '\\.(fits|fits\\.gz|fits\\.fz)$' "
        "THEN 'application/fits' ELSE 'application/x-hdf5' END)"
    )
    return "(" + " || ".join(parts or ["''"]) + ")", fmt


def _select(settings: ObsCoreSettings, scope: str | None) -> tuple[str, list[Any]]:
    """The SELECT producing ``ivoa.obscore`` rows for the entities in ``scope``."""
    # parameters in the order of their placeholders in the statement
    params: list[Any] = [settings.collection, settings.authority + "?"]
    # = ANY(ARRAY(...)): index lookups of the scope's ids; as "IN (SELECT ...)" the
    # planner scanned every entity (and its regular expression) for each ingested file,
    # 1.2 s at 75 nights against 0.14 s (bench/bench_year.py)
    where = "" if scope is None else f"AND e.id = ANY(ARRAY(SELECT entity_id FROM {scope}))"
    access_url, access_format = _access_url(settings, params)
    params += [settings.fov, settings.fov, settings.facility, settings.instrument]
    sql = f"""
WITH p AS (
    SELECT e.id, e.name, e.location, e.content_type,
           coalesce(e.size_bytes, sf.size_bytes) AS size_bytes,
           e.attributes #> '{{scan,observation}}' AS o,
           e.attributes #> '{{scan,pointing}}' AS pt,
           e.attributes #> '{{scan,event_times}}' AS et, {_PRODUCT_TYPE} AS level
    FROM provenance.entity e
    LEFT JOIN LATERAL (SELECT f.size_bytes FROM archive.scan_file f
                       WHERE f.entity_id = e.id AND f.status = 'ok'
                       ORDER BY f.last_scan DESC LIMIT 1) sf ON true
    WHERE e.location ~* {_FILE} {where}
), q AS (
    SELECT p.*,
           CASE WHEN jsonb_typeof(o -> 'RA_PNT') = 'number' THEN (o ->> 'RA_PNT')::float8
                WHEN jsonb_typeof(pt -> 'ra') = 'number' THEN (pt ->> 'ra')::float8 END
               AS ra,
           CASE WHEN jsonb_typeof(o -> 'DEC_PNT') = 'number' THEN (o ->> 'DEC_PNT')::float8
                WHEN jsonb_typeof(pt -> 'dec') = 'number' THEN (pt ->> 'dec')::float8 END
               AS dec,
           CASE WHEN jsonb_typeof(o -> 'MJDREFI') = 'number'
               THEN (o ->> 'MJDREFI')::float8
                    + CASE WHEN jsonb_typeof(o -> 'MJDREFF') = 'number'
                           THEN (o ->> 'MJDREFF')::float8 ELSE 0 END END AS mjdref,
           CASE lower(coalesce(o ->> 'E_UNIT', 'TeV'))
               WHEN 'tev' THEN 1e12 WHEN 'gev' THEN 1e9 WHEN 'mev' THEN 1e6
               WHEN 'kev' THEN 1e3 WHEN 'ev' THEN 1 END AS ev_per_unit
    FROM p
    WHERE p.level IN ('DL1', 'DL2', 'DL3')
      AND p.location !~ '/$'
      AND regexp_replace(p.location, '^.*/', '') !~* '^datacheck'
      AND coalesce(p.name, '') !~* '(check|collection)'
)
SELECT
    'event',
    CASE q.level WHEN 'DL3' THEN 2 ELSE 1 END,
    %s::text,
    coalesce(nullif(q.o ->> 'OBS_ID', ''),
             substring(regexp_replace(q.location, '^.*/', '') from '(?i)Run0*([0-9]+)'),
             q.id),
    %s || q.id,
    {access_url},
    {access_format},
    CASE WHEN q.size_bytes IS NOT NULL THEN ceil(q.size_bytes / 1024.0)::bigint END,
    q.o ->> 'OBJECT',
    q.ra, q.dec,
    CASE WHEN q.ra IS NOT NULL THEN %s::float8 END,
    CASE WHEN q.ra IS NOT NULL AND q.dec IS NOT NULL THEN
        'CIRCLE ICRS ' || q.ra::text || ' ' || q.dec::text || ' ' || (%s::float8 / 2)::text
    END,
    CASE WHEN q.mjdref IS NOT NULL AND jsonb_typeof(q.o -> 'TSTART') = 'number'
         THEN q.mjdref + (q.o ->> 'TSTART')::float8 / 86400
         WHEN jsonb_typeof(q.et -> 't_min') = 'number' THEN (q.et ->> 't_min')::float8 END,
    CASE WHEN q.mjdref IS NOT NULL AND jsonb_typeof(q.o -> 'TSTOP') = 'number'
         THEN q.mjdref + (q.o ->> 'TSTOP')::float8 / 86400
         WHEN jsonb_typeof(q.et -> 't_max') = 'number' THEN (q.et ->> 't_max')::float8 END,
    CASE WHEN jsonb_typeof(q.o -> 'LIVETIME') = 'number' THEN (q.o ->> 'LIVETIME')::float8
         WHEN jsonb_typeof(q.o -> 'ONTIME') = 'number' THEN (q.o ->> 'ONTIME')::float8 END,
    CASE WHEN jsonb_typeof(q.o -> 'E_MAX') = 'number' AND (q.o ->> 'E_MAX')::float8 > 0
         THEN {HC_EV_M} / ((q.o ->> 'E_MAX')::float8 * q.ev_per_unit) END,
    CASE WHEN jsonb_typeof(q.o -> 'E_MIN') = 'number' AND (q.o ->> 'E_MIN')::float8 > 0
         THEN {HC_EV_M} / ((q.o ->> 'E_MIN')::float8 * q.ev_per_unit) END,
    'phot.count',
    %s::text, %s::text,
    q.id, q.level,
    coalesce(fw.package, sw.package), coalesce(fw.version, sw.version),
    g.name, g.id,
    fl.rules, coalesce(fl.n, 0),
    q.location
FROM q
LEFT JOIN LATERAL (
    SELECT w.package, w.version FROM archive.software w WHERE w.entity_id = q.id
    ORDER BY w.package <> 'lstchain', w.package <> 'ctapipe', w.source <> 'file-root',
             w.package, w.version DESC
    LIMIT 1) fw ON true
LEFT JOIN LATERAL (
    SELECT a.id, a.name, a.session_id FROM provenance.wasgeneratedby wg
    JOIN provenance.activity a ON a.id = wg.activity_id
    WHERE wg.entity_id = q.id
    ORDER BY a.end_time DESC NULLS LAST, a.start_time DESC NULLS LAST, a.id DESC
    LIMIT 1) g ON true
LEFT JOIN LATERAL (
    SELECT w.package, w.version FROM archive.software w
    WHERE g.session_id IS NOT NULL AND w.session_id = g.session_id
      AND w.source <> 'environment'
    ORDER BY w.package <> 'lstchain', w.package <> 'ctapipe', w.package
    LIMIT 1) sw ON true
LEFT JOIN LATERAL (
    SELECT string_agg(f.rule, ',' ORDER BY f.rule) AS rules, count(*)::int AS n
    FROM archive.product_flag f WHERE f.entity_id = q.id) fl ON true
"""
    return sql, params


_COLUMNS = (
    "dataproduct_type, calib_level, obs_collection, obs_id, obs_publisher_did, access_url, "
    "access_format, access_estsize, target_name, s_ra, s_dec, s_fov, s_region, t_min, "
    "t_max, t_exptime, em_min, em_max, o_ucd, facility_name, instrument_name, entity_id, "
    "data_level, software_name, software_version, activity_name, activity_id, "
    "quality_flags, n_flags, location"
)


def refresh(cur: Any, scope: str | None, settings: ObsCoreSettings | None = None) -> int:
    """Recompute the rows of the entities listed in table ``scope`` (column
    ``entity_id``; ``None``: every entity). Returns the number of rows written."""
    settings = settings or ObsCoreSettings.from_env()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", scope or "x"):
        raise ValueError(f"not a table name: {scope!r}")
    if scope is None:
        cur.execute("DELETE FROM ivoa.obscore")
    else:
        cur.execute(
            f"DELETE FROM ivoa.obscore WHERE entity_id = ANY(ARRAY(SELECT entity_id FROM {scope}))"
        )
    sql, params = _select(settings, scope)
    cur.execute(f"INSERT INTO ivoa.obscore ({_COLUMNS}) {sql}", params)
    return max(cur.rowcount, 0)


def refresh_touched(cur: Any, settings: ObsCoreSettings | None = None) -> int:
    """After :func:`provdb.answers.flags.update_flags`: refresh the rows of the entities
    whose flags it recomputed (what the batch touched and their descendants)."""
    cur.execute("SELECT to_regclass('pg_temp._flags_affected'), to_regclass('ivoa.obscore')")
    affected, table = cur.fetchone()
    if affected is None or table is None:
        return 0
    return refresh(cur, "_flags_affected", settings)


def rebuild(conn: Any, settings: ObsCoreSettings | None = None) -> int:
    """Recompute the whole table (``provdb obscore --rebuild``); the caller commits."""
    from provdb.cursor import cursor

    with cursor(conn) as cur:
        return refresh(cur, None, settings)
