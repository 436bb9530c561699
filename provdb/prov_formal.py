"""The formal attributes of the W3C PROV record kinds, in their positional order.

PROV-N writes them as positional arguments (``used(a, e, t)``) and ``prov``'s
``FORMAL_ATTRIBUTES`` lists them in the same order; PROV-JSON names them with these
canonical keys. The PROV-N reader (:mod:`provdb.ingest.w3c.prov_n`, which adds voprov's
kinds) and the PROV-JSON writer (:mod:`provdb.lineage.provjson_container`) share this one
table. Pure data: no imports beyond typing.
"""

from __future__ import annotations

from typing import Final

#: record kind -> its formal attributes (canonical ``prov:`` keys), positional order
PROV_FORMAL: Final[dict[str, tuple[str, ...]]] = {
    "entity": (),
    "agent": (),
    "activity": ("prov:startTime", "prov:endTime"),
    "used": ("prov:activity", "prov:entity", "prov:time"),
    "wasGeneratedBy": ("prov:entity", "prov:activity", "prov:time"),
    "wasInformedBy": ("prov:informed", "prov:informant"),
    "wasStartedBy": ("prov:activity", "prov:trigger", "prov:starter", "prov:time"),
    "wasEndedBy": ("prov:activity", "prov:trigger", "prov:ender", "prov:time"),
    "wasInvalidatedBy": ("prov:entity", "prov:activity", "prov:time"),
    "wasDerivedFrom": (
        "prov:generatedEntity",
        "prov:usedEntity",
        "prov:activity",
        "prov:generation",
        "prov:usage",
    ),
    "wasAttributedTo": ("prov:entity", "prov:agent"),
    "wasAssociatedWith": ("prov:activity", "prov:agent", "prov:plan"),
    "actedOnBehalfOf": ("prov:delegate", "prov:responsible", "prov:activity"),
    "wasInfluencedBy": ("prov:influencee", "prov:influencer"),
    "specializationOf": ("prov:specificEntity", "prov:generalEntity"),
    "alternateOf": ("prov:alternate1", "prov:alternate2"),
    "mentionOf": ("prov:specificEntity", "prov:generalEntity", "prov:bundle"),
    "hadMember": ("prov:collection", "prov:entity"),
}
