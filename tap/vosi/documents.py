"""VOSI 1.1 XML documents: availability, capabilities (TAPRegExt 1.0), tableset.

Pure functions of their inputs (a Catalog, a base URL, limits): no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from tap.catalog import Catalog, Table
from tap.config import TapConfig

__all__ = [
    "LANGUAGE_FEATURES",
    "OUTPUT_FORMATS",
    "availability",
    "capabilities",
    "service_summary",
    "table_document",
    "tableset",
]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
VR = "http://www.ivoa.net/xml/VOResource/v1.0"
VS = "http://www.ivoa.net/xml/VODataService/v1.1"
TR = "http://www.ivoa.net/xml/TAPRegExt/v1.0"

# Spelled "TAPRegExt" (not "tapregext"): STILTS 3.4.7 compares feature types
# case-sensitively (spec §5.4); the IVOIDs are equivalent.
_FEATURE = "ivo://ivoa.net/std/TAPRegExt#features-"
LANGUAGE_FEATURES: dict[str, list[tuple[str, str]]] = {
    "adql-string": [
        ("LOWER", "ASCII lower case"),
        ("UPPER", "ASCII upper case"),
        ("ILIKE", "case-insensitive LIKE"),
    ],
    "adql-type": [
        (
            "CAST",
            "CAST to INTEGER, SMALLINT, BIGINT, REAL, DOUBLE PRECISION, "
            "CHAR(n), VARCHAR(n), TIMESTAMP",
        )
    ],
    "adql-common-table": [("WITH", "non-recursive common table expressions")],
    "adql-sets": [
        ("UNION", "UNION [ALL]"),
        ("EXCEPT", "EXCEPT [ALL]"),
        ("INTERSECT", "INTERSECT [ALL]"),
    ],
    "adql-offset": [("OFFSET", "skip rows after ORDER BY, before TOP")],
    # spherical (great-circle) semantics in ICRS degrees, plain SQL (no pgSphere)
    "adqlgeo": [
        ("POINT", "POINT(lon, lat); a geometry argument, not a result column"),
        ("CIRCLE", "CIRCLE(lon, lat, radius) or CIRCLE(point, radius)"),
        ("BOX", "BOX(lon, lat, width, height): the polygon of its corners; constants"),
        ("POLYGON", "POLYGON(lon1, lat1, ...) or POLYGON(point, ...): constant vertices"),
        ("CONTAINS", "CONTAINS(point, circle|box|polygon), CONTAINS(circle, circle)"),
        ("INTERSECTS", "INTERSECTS with a point on one side, or of two circles"),
        ("DISTANCE", "DISTANCE(point, point) or DISTANCE(lon1, lat1, lon2, lat2), degrees"),
        ("COORD1", "longitude of a point"),
        ("COORD2", "latitude of a point"),
        ("COORDSYS", "'ICRS'"),
    ],
}

OUTPUT_FORMATS = (
    (
        "application/x-votable+xml",
        ("votable", "votable/b2", "binary2"),
        "ivo://ivoa.net/std/TAPRegExt#output-votable-binary2",
    ),
    (
        "application/x-votable+xml;serialization=TABLEDATA",
        ("votable/td", "votabletd"),
        "ivo://ivoa.net/std/TAPRegExt#output-votable-td",
    ),
    ("text/csv;header=present", ("csv",), None),
    ("text/tab-separated-values", ("tsv",), None),
    ("application/json", ("json",), None),
)


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def availability(available: bool, *, up_since: datetime | None, note: str) -> str:
    """VOSI availability document."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<vosi:availability xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">',
        f"<vosi:available>{'true' if available else 'false'}</vosi:available>",
    ]
    if up_since is not None:
        parts.append(f"<vosi:upSince>{_iso(up_since)}</vosi:upSince>")
    parts.append(f"<vosi:note>{escape(note)}</vosi:note>")
    parts.append("</vosi:availability>")
    return "\n".join(parts)


def _interface(
    url: str, *, use: str = "full", version: str = "1.0", security: str | None = None
) -> str:
    # VOResource 1.1: securityMethod follows the accessURLs; none means anonymous
    method = f'<securityMethod standardID="{security}"/>' if security else ""
    return (
        f'<interface xsi:type="vs:ParamHTTP" role="std" version="{version}">'
        f'<accessURL use="{use}">{escape(url)}</accessURL>{method}</interface>'
    )


def service_summary(config: TapConfig) -> str:
    """Title, description, publisher and contact of the service, as one sentence or three."""
    parts = [f"{config.service_title}: {config.service_description}".rstrip()]
    if config.publisher:
        parts.append(f"Publisher: {config.publisher}.")
    if config.contact_name or config.contact_email:
        email = f"<{config.contact_email}>" if config.contact_email else ""
        who = " ".join(p for p in (config.contact_name, email) if p)
        parts.append(f"Contact: {who}.")
    return " ".join(parts)


def _root(base: str) -> str:
    """The service root of a TAP base URL (``.../tap`` -> ``...``)."""
    base = base.rstrip("/")
    return base[: -len("/tap")] if base.endswith("/tap") else base


def capabilities(base: str, config: TapConfig, *, upload: bool = True) -> str:
    """VOSI capabilities with one TAPRegExt TableAccess capability.

    VOSI capabilities carry no resource title: the service's metadata go into the TAP
    capability's VOResource ``description`` (allowed before its interfaces).
    """
    features = []
    for key, forms in LANGUAGE_FEATURES.items():
        inner = "".join(
            f"<feature><form>{escape(f)}</form><description>{escape(d)}</description></feature>"
            for f, d in forms
        )
        features.append(f'<languageFeatures type="{_FEATURE}{key}">{inner}</languageFeatures>')
    formats = []
    for mime, aliases, ivo_id in OUTPUT_FORMATS:
        attr = f" ivo-id={quoteattr(ivo_id)}" if ivo_id else ""
        alias = "".join(f"<alias>{escape(a)}</alias>" for a in aliases)
        formats.append(f"<outputFormat{attr}><mime>{escape(mime)}</mime>{alias}</outputFormat>")
    # PROVDB_TAP_READ_AUTH=1: the reading interfaces need an IVOA SSO bearer token
    security = "ivo://ivoa.net/sso#token" if config.read_auth else None
    uploads = ""
    if upload:
        uploads = (
            '<uploadMethod ivo-id="ivo://ivoa.net/std/TAPRegExt#upload-inline"/>'
            '<uploadMethod ivo-id="ivo://ivoa.net/std/TAPRegExt#upload-http"/>'
            '<uploadMethod ivo-id="ivo://ivoa.net/std/TAPRegExt#upload-https"/>'
        )
    upload_limit = (
        f'<uploadLimit><default unit="byte">{config.upload_bytes}</default>'
        f'<hard unit="byte">{config.upload_bytes}</hard></uploadLimit>'
        if upload
        else ""
    )
    return "".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            '<vosi:capabilities xmlns:vosi="http://www.ivoa.net/xml/VOSICapabilities/v1.0" ',
            f'xmlns:vr="{VR}" xmlns:vs="{VS}" xmlns:tr="{TR}" xmlns:xsi="{XSI}">',
            '<capability standardID="ivo://ivoa.net/std/TAP" xsi:type="tr:TableAccess">',
            f"<description>{escape(service_summary(config))}</description>",
            _interface(base, use="base", version="1.1", security=security),
            '<dataModel ivo-id="ivo://ivoa.net/std/ProvenanceDM">',
            "IVOA Provenance DM 1.0</dataModel>",
            '<dataModel ivo-id="ivo://ivoa.net/std/ObsCore#core-1.1">ObsCore-1.1</dataModel>',
            "<language><name>ADQL</name>",
            '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.0">2.0</version>',
            '<version ivo-id="ivo://ivoa.net/std/ADQL#v2.1">2.1</version>',
            "<description>ADQL 2.1 with spherical geometry, translated to PostgreSQL</description>",
            *features,
            "</language>",
            *formats,
            uploads,
            f"<retentionPeriod><default>{config.retention_default}</default>"
            f"<hard>{config.retention_hard}</hard></retentionPeriod>",
            f"<executionDuration><default>{config.execution_default}</default>"
            f"<hard>{config.execution_hard}</hard></executionDuration>",
            f'<outputLimit><default unit="row">{config.maxrec_default}</default>'
            f'<hard unit="row">{config.maxrec_hard}</hard></outputLimit>',
            upload_limit,
            "</capability>",
            '<capability standardID="ivo://ivoa.net/std/VOSI#capabilities">',
            _interface(f"{base}/capabilities"),
            "</capability>",
            '<capability standardID="ivo://ivoa.net/std/VOSI#availability">',
            _interface(f"{base}/availability"),
            "</capability>",
            '<capability standardID="ivo://ivoa.net/std/VOSI#tables-1.1">',
            _interface(f"{base}/tables", version="1.1", security=security),
            "</capability>",
            # DataLink {links} lives beside /tap (see tap/datalink)
            '<capability standardID="ivo://ivoa.net/std/DataLink#links-1.1">',
            _interface(_root(base) + "/datalink/links", version="1.1"),
            "</capability>",
            '<capability standardID="ivo://ivoa.net/std/DALI#examples">',
            f'<interface xsi:type="vr:WebBrowser"><accessURL use="full">{escape(base)}/examples'
            "</accessURL></interface></capability>",
            "</vosi:capabilities>",
        ]
    )


def _opt(tag: str, value: str | None) -> str:
    return f"<{tag}>{escape(value)}</{tag}>" if value else ""


def _table_xml(table: Table, *, detail: bool, nrows: int | None = None) -> str:
    kind = "view" if table.type == "view" else "table"
    parts = [
        f'<table type="{kind}">',
        f"<name>{escape(table.name)}</name>",
        _opt("description", table.description),
        _opt("utype", table.utype),
        # VODataService 1.2 (same namespace as 1.1): approximate row count
        f"<nrows>{nrows}</nrows>" if nrows is not None and nrows >= 0 else "",
    ]
    if detail:
        pk = set()
        for col in table.columns:
            std = ' std="true"' if col.std else ""
            attrs = ""
            if col.arraysize:
                attrs += f" arraysize={quoteattr(col.arraysize)}"
            if col.xtype:
                attrs += f" extendedType={quoteattr(col.xtype)}"
            flags = "".join(
                f"<flag>{f}</flag>"
                for f, on in (("indexed", col.indexed), ("primary", col.name in pk))
                if on
            )
            parts.append(
                f"<column{std}><name>{escape(col.name)}</name>"
                f"{_opt('description', col.description)}{_opt('unit', col.unit)}"
                f"{_opt('ucd', col.ucd)}{_opt('utype', col.utype)}"
                f'<dataType xsi:type="vs:VOTableType"{attrs}>{escape(col.datatype)}</dataType>'
                f"{flags}</column>"
            )
        for fk in table.foreign_keys:
            cols = "".join(
                f"<fkColumn><fromColumn>{escape(a)}</fromColumn>"
                f"<targetColumn>{escape(b)}</targetColumn></fkColumn>"
                for a, b in fk.columns
            )
            parts.append(
                f"<foreignKey><targetTable>{escape(fk.target_table)}</targetTable>"
                f"{cols}{_opt('description', fk.description)}"
                f"{_opt('utype', fk.utype)}</foreignKey>"
            )
    parts.append("</table>")
    return "".join(parts)


def tableset(
    catalog: Catalog, *, detail: bool = True, nrows: Mapping[str, int] | None = None
) -> str:
    """VOSI tableset (``detail=False``: tables without columns, for ``detail=min``).

    ``nrows``: approximate row counts by table name (VODataService 1.2 ``nrows``;
    tables missing from it get none).
    """
    nrows = nrows or {}
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<vosi:tableset xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" ',
        f'xmlns:vs="{VS}" xmlns:xsi="{XSI}">',
    ]
    for schema in catalog.schemas:
        name = schema["schema_name"]
        parts.append(
            f"<schema><name>{escape(name)}</name>"
            f"{_opt('description', schema.get('description'))}"
            f"{_opt('utype', schema.get('utype'))}"
        )
        parts.extend(
            _table_xml(t, detail=detail, nrows=nrows.get(t.name))
            for t in catalog.tables
            if t.schema == name
        )
        parts.append("</schema>")
    parts.append("</vosi:tableset>")
    return "".join(parts)


def table_document(table: Table, nrows: int | None = None) -> str:
    """VOSI 1.1 ``/tables/{name}``: one table, full detail (``nrows``: approximate rows)."""
    body = _table_xml(table, detail=True, nrows=nrows)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<vosi:table xmlns:vosi="http://www.ivoa.net/xml/VOSITables/v1.0" '
        f'xmlns:vs="{VS}" xmlns:xsi="{XSI}" type="{"view" if table.type == "view" else "output"}">'
        + body[body.index(">") + 1 : body.rindex("</table>")]
        + "</vosi:table>"
    )
