"""``/ui/versions``: products per software version, with the ADQL that asks the same.

From the view ``archive.product_version`` when the archive has it (scanned files and
session software), else from the sessions' software versions alone.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from tap.context import tap_db
from tap.ui import home_queries, queries
from tap.ui.blueprint import bp, connect
from tap.ui.helpers import adql_literal

__all__ = ["versions"]


@bp.route("/versions", methods=["GET"])
def versions() -> Any:
    from provdb.versions import normalize_package, parse_version, products_with_version

    package = (request.args.get("package") or "").strip()
    version = (request.args.get("version") or "").strip()
    product_type = (request.args.get("product_type") or "").strip()
    catalog = tap_db().catalog
    with connect() as conn:
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
        totals = home_queries.version_totals(conn, source)
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
        where.append(f"package = {adql_literal(package)}")
    if version:
        where.append(f"version = {adql_literal(version)}")
    if product_type:
        where.append(f"UPPER(product_type) = {adql_literal(product_type.upper())}")
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
        where.append(f"s.software_version IN ({adql_literal(bare)}, {adql_literal('v' + bare)})")
    if product_type:
        where.append(f"UPPER(e.name) LIKE {adql_literal('%' + product_type.upper() + '%')}")
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
