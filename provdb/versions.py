"""Software versions: parsing, session rows of ``archive.software``, queries by version.

``archive.software`` (model :class:`provdb.schema.software.Software`) holds one row per
(subject, package, version): the subject is a file entity (versions read from the file
by ``provdb scan``) or a processing session (versions recorded by the logs). This module
fills the session rows and answers "which products were made with which version":

* :func:`sync_session_versions`: session rows for every session that has none yet.
  lstosa's ``software_version`` is ``'v'`` + the lstchain version (spec §2.3), so it
  becomes package ``lstchain``; a ctapipe tool's session (``source_format = 'ctapipe'``)
  holds the ctapipe version (or ``'<name> <version>'`` for the oldest logs). The Python
  packages of the session's environment that matter here (:data:`TRACKED_PACKAGES`) and
  the ``<name>_version`` keys of old ctapipe ``system`` records are added with source
  ``environment``; where both give the same version, the declared one is kept.
* :func:`products_by_version` and :func:`products_with_version` read the view
  ``archive.product_version`` (products joined to their versions through their own file
  metadata, source ``file``, and through the session of their generating activity,
  source ``log``) for ``provdb versions`` and the web UI.

Every function takes a psycopg 3 connection or cursor, or a SQLAlchemy connection, and
works inside the caller's transaction (nothing here commits).
"""

from __future__ import annotations

import re
from typing import Any

from provdb.cursor import cursor

__all__ = [
    "TRACKED_PACKAGES",
    "normalize_package",
    "parse_version",
    "products_by_version",
    "products_with_version",
    "session_table",
    "sync_session_versions",
    "version_parts",
]

#: Packages kept from a session environment's Python package list (the full list has
#: ~170 entries per environment; these are the ones the LST chain is filtered by).
TRACKED_PACKAGES: tuple[str, ...] = (
    "lstchain",
    "ctapipe",
    "ctapipe_io_lst",
    "lstosa",
    "lstmcpipe",
    "ctaplot",
    "pyirf",
    "gammapy",
    "protozfits",
    "eventio",
    "pyhessio",
    "ctapipe_resources",
    "astropy",
    "numpy",
)

_PARTS = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,9}))?(?:\.([0-9]{1,9}))?")
_LEADING_V = re.compile(r"^[vV](?=[0-9])")


def normalize_package(name: str) -> str:
    """Package name as stored: stripped, lower case, ``-`` and ``.`` as ``_``.

    >>> normalize_package("CTAPIPE_IO_LST")
    'ctapipe_io_lst'
    >>> normalize_package("ctapipe-io-lst")
    'ctapipe_io_lst'
    """
    return re.sub(r"[-.\s]+", "_", name.strip()).lower()


def version_parts(version: str) -> tuple[int | None, int | None, int | None]:
    """Leading numeric parts (major, minor, patch) of a version; ``None`` where absent.

    >>> version_parts("0.7.0.post34+git92816b6")
    (0, 7, 0)
    >>> version_parts("1.0rc1")
    (1, 0, None)
    >>> version_parts("unknown")
    (None, None, None)
    """
    m = _PARTS.match(version)
    if m is None:
        return None, None, None
    a, b, c = m.groups()
    return int(a), (int(b) if b is not None else None), (int(c) if c is not None else None)


def parse_version(text: Any) -> tuple[str, int | None, int | None, int | None] | None:
    """``(version, major, minor, patch)`` of a version as written, or ``None`` if empty.

    The version is kept as written apart from surrounding blanks and a leading ``v``
    (lstosa writes ``v0.12.3``). The same rules are applied in SQL by
    :func:`sync_session_versions`.

    >>> parse_version(" v0.12.3 ")
    ('0.12.3', 0, 12, 3)
    """
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    version = _LEADING_V.sub("", str(text).strip())
    if not version:
        return None
    return (version, *version_parts(version))


# ----------------------------------------------------------------------------- database


def session_table() -> str:
    """Qualified name of the session table (the target of activity.session_id)."""
    from provdb.schema import metadata

    column = metadata.tables["provenance.activity"].c.session_id
    for fk in column.foreign_keys:
        return fk.column.table.fullname
    return "archive.processing_session"


_TRACKED_SQL = "ARRAY[" + ", ".join(f"'{p}'" for p in TRACKED_PACKAGES) + "]"

#: Session rows for the sessions in ``todo`` (a CTE the caller defines). The migration
#: that created archive.software holds a frozen copy of this statement.
SESSION_ROWS_SQL = rf"""
declared AS (
    SELECT id AS session_id,
           CASE WHEN source_format = 'ctapipe' THEN 'ctapipe' ELSE 'session' END AS source,
           'software_version' AS keyword,
           CASE WHEN source_format = 'ctapipe' AND software_version ~ '^[^ ]+ [^ ]+$'
                THEN split_part(software_version, ' ', 1)
                WHEN source_format = 'ctapipe' THEN 'ctapipe'
                ELSE 'lstchain' END AS package,
           CASE WHEN source_format = 'ctapipe' AND software_version ~ '^[^ ]+ [^ ]+$'
                THEN split_part(software_version, ' ', 2)
                ELSE software_version END AS version,
           1 AS rank
    FROM todo
), environment AS (
    SELECT t.id, 'environment', 'python.packages', p ->> 'name', p ->> 'version', 2
    FROM todo t
    JOIN archive.environment e ON e.id = t.environment_id
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(e.system #> '{{python,packages}}') = 'array'
             THEN e.system #> '{{python,packages}}' ELSE '[]'::jsonb END) AS p
    WHERE jsonb_typeof(p) = 'object'
    UNION ALL
    SELECT t.id, 'environment', kv.key, regexp_replace(kv.key, '_version$', ''), kv.value, 3
    FROM todo t
    JOIN archive.environment e ON e.id = t.environment_id
    CROSS JOIN LATERAL jsonb_each_text(e.system) AS kv
    WHERE kv.key ~ '^[A-Za-z0-9_.-]+_version$'
), found AS (
    SELECT session_id, source, keyword,
           lower(regexp_replace(btrim(package), '[-.\s]+', '_', 'g')) AS package,
           regexp_replace(btrim(version), '^[vV](?=[0-9])', '') AS version, rank
    FROM (SELECT * FROM declared UNION ALL SELECT * FROM environment) x
    WHERE coalesce(btrim(package), '') <> '' AND coalesce(btrim(version), '') <> ''
), kept AS (
    SELECT DISTINCT ON (session_id, package, version)
           session_id, source, keyword, package, version,
           regexp_match(version, '^([0-9]{{1,9}})(?:\.([0-9]{{1,9}}))?(?:\.([0-9]{{1,9}}))?')
               AS parts
    FROM found
    WHERE rank <> 2 OR package = ANY({_TRACKED_SQL})
    ORDER BY session_id, package, version, rank
)
INSERT INTO archive.software (session_id, source, keyword, package, version, major, minor, patch)
SELECT session_id, source, keyword, package, version,
       parts[1]::int, parts[2]::int, parts[3]::int
FROM kept
ON CONFLICT DO NOTHING
"""


def sync_session_versions(conn: Any, session_ids: list[str] | None = None) -> int:
    """Write the ``archive.software`` rows of sessions that have none yet.

    Parameters
    ----------
    conn
        psycopg connection or cursor, or SQLAlchemy connection, inside the caller's
        transaction (the ingest's per-file transaction).
    session_ids
        Only these sessions (default: every session without software rows).

    Returns
    -------
    int
        Rows inserted.

    Notes
    -----
    Idempotent: a session that already has rows is left alone, and a row that exists
    is not inserted again. A session without any version information is looked at
    again by the next call (cheap: it has no rows to make).
    """
    todo = (
        "WITH todo AS (SELECT s.id, s.source_format, btrim(s.software_version) AS "
        f"software_version, s.environment_id FROM {session_table()} s "
        "WHERE NOT EXISTS (SELECT 1 FROM archive.software w WHERE w.session_id = s.id)"
    )
    params: tuple[Any, ...] = ()
    if session_ids is not None:
        if not session_ids:
            return 0
        todo += " AND s.id = ANY(%s)"
        params = (list(session_ids),)
    with cursor(conn) as cur:
        cur.execute(todo + "), " + SESSION_ROWS_SQL, params or None)
        return max(cur.rowcount, 0)


def _where(product_type: str | None, package: str | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if product_type:
        clauses.append("upper(product_type) = upper(%s)")
        params.append(product_type)
    if package:
        clauses.append("package = %s")
        params.append(normalize_package(package))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def products_by_version(
    conn: Any, product_type: str | None = None, package: str | None = None
) -> list[dict[str, Any]]:
    """How many products each software version made: one dict per package, version
    and product type.

    Parameters
    ----------
    conn
        psycopg connection or cursor, or SQLAlchemy connection.
    product_type
        Only products of this data level (``DL1``, ``DL2``...; case-insensitive).
    package
        Only this package (``lstchain``, ``ctapipe``...; normalised as stored).

    Returns
    -------
    list of dict
        Keys ``package``, ``version``, ``major``, ``minor``, ``patch``,
        ``product_type`` (``None`` if unknown), ``n_products`` (distinct products),
        ``n_from_files`` (products whose own metadata names the version),
        ``n_from_logs`` (products whose generating session names it). Sorted by
        package, then numerically by version.
    """
    where, params = _where(product_type, package)
    sql = (
        "SELECT package, version, major, minor, patch, product_type, "
        "count(DISTINCT entity_id) AS n_products, "
        "count(DISTINCT entity_id) FILTER (WHERE source = 'file') AS n_from_files, "
        "count(DISTINCT entity_id) FILTER (WHERE source = 'log') AS n_from_logs "
        f"FROM archive.product_version{where} "
        "GROUP BY package, version, major, minor, patch, product_type "
        "ORDER BY package, major NULLS LAST, minor NULLS LAST, patch NULLS LAST, version, "
        "product_type NULLS LAST"
    )
    with cursor(conn) as cur:
        cur.execute(sql, params or None)
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def products_with_version(
    conn: Any,
    package: str,
    version: str | None = None,
    *,
    major: int | None = None,
    minor: int | None = None,
    product_type: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """The products made with a package (optionally a version, or a major/minor series).

    Returns one dict per product and version: ``entity_id``, ``entity_name``,
    ``location``, ``product_type``, ``package``, ``version``, ``sources`` (``'file'``,
    ``'log'`` or ``'file,log'``), sorted by location; at most ``limit`` rows.
    """
    where, params = _where(product_type, package)
    for column, value in (("version", version), ("major", major), ("minor", minor)):
        if value is not None:
            where += " AND " if where else " WHERE "
            where += f"{column} = %s"
            params.append(parse_version(value)[0] if column == "version" else value)  # type: ignore[index]
    sql = (
        "SELECT entity_id, entity_name, location, product_type, package, version, "
        "string_agg(DISTINCT source, ',' ORDER BY source) AS sources "
        f"FROM archive.product_version{where} "
        "GROUP BY entity_id, entity_name, location, product_type, package, version "
        "ORDER BY location, version LIMIT %s"
    )
    params.append(int(limit))
    with cursor(conn) as cur:
        cur.execute(sql, params)
        names = [d.name for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# ----------------------------------------------------------------------------- CLI
