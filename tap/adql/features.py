"""What the translator supports, in the words of TAPRegExt (``languageFeatures``)."""

from __future__ import annotations

from tap.adql.geometry import SUPPORTED as SUPPORTED_GEOMETRY

__all__ = ["LANGUAGE_FEATURES"]

_TAPREGEXT = "ivo://ivoa.net/std/TAPRegExt#"

#: ADQL 2.1 optional features offered: feature type IVOID -> forms. Written with the
#: ``TAPRegExt`` spelling that STILTS 3.4.7 expects (IVOIDs compare case-insensitively).
#: Not offered: ``AREA``, ``CENTROID``, ``REGION``, ``IN_UNIT``, user-defined functions.
#: ``COALESCE`` works (``features-adql-conditional``) but STILTS 3.4.7 reports that type
#: as an error, hence it is kept separate in :data:`CONDITIONAL_FEATURES`.
LANGUAGE_FEATURES: dict[str, tuple[str, ...]] = {
    f"{_TAPREGEXT}features-adql-string": ("LOWER", "UPPER", "ILIKE"),
    f"{_TAPREGEXT}features-adql-sets": ("UNION", "EXCEPT", "INTERSECT"),
    f"{_TAPREGEXT}features-adql-common-table": ("WITH",),
    f"{_TAPREGEXT}features-adql-type": ("CAST",),
    f"{_TAPREGEXT}features-adql-offset": ("OFFSET",),
    f"{_TAPREGEXT}features-adqlgeo": SUPPORTED_GEOMETRY,
}

#: Also supported; declare it when the validator in use knows the type (ADQL 2.1 REC).
CONDITIONAL_FEATURES: dict[str, tuple[str, ...]] = {
    f"{_TAPREGEXT}features-adql-conditional": ("COALESCE",),
}
