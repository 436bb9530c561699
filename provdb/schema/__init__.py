"""The archive's relational schema: IVOA ProvDM 1.0 tables plus archive bookkeeping.

Importing this package registers every table on :data:`Base.metadata`, the single
source of truth used by Alembic, TAP_SCHEMA and the VOTable writers.
"""

from provdb.schema import jobs, lineage, tap_schema  # noqa: F401  (registers their tables)
from provdb.schema.archive import Environment, ProcessingSession
from provdb.schema.base import ARCHIVE, PROVENANCE, SCHEMAS, Base
from provdb.schema.bookkeeping import ActivitySource, IngestConflict, IngestFile, IngestReject
from provdb.schema.configuration import (
    ConfigFile,
    ConfigFileDescription,
    Parameter,
    ParameterDescription,
)
from provdb.schema.core import Activity, Agent, Entity
from provdb.schema.descriptions import (
    ActivityDescription,
    EntityDescription,
    GenerationDescription,
    UsageDescription,
)
from provdb.schema.obscore import ObsCore  # noqa: F401  (registers its table)
from provdb.schema.quality import EntityHash, ProductFlag  # noqa: F401  (registers its tables)
from provdb.schema.relations import (
    HadMember,
    Used,
    WasAssociatedWith,
    WasAttributedTo,
    WasDerivedFrom,
    WasGeneratedBy,
    WasInformedBy,
)
from provdb.schema.software import ScanFile, Software  # noqa: F401  (registers its tables)
from provdb.schema.tokens import ApiToken  # noqa: F401  (registers its table)

__all__ = [
    "ARCHIVE",
    "PROVENANCE",
    "SCHEMAS",
    "Activity",
    "ActivityDescription",
    "ActivitySource",
    "Agent",
    "Base",
    "ConfigFile",
    "ConfigFileDescription",
    "Entity",
    "EntityDescription",
    "Environment",
    "GenerationDescription",
    "HadMember",
    "IngestConflict",
    "IngestFile",
    "IngestReject",
    "Parameter",
    "ParameterDescription",
    "ProcessingSession",
    "UsageDescription",
    "Used",
    "WasAssociatedWith",
    "WasAttributedTo",
    "WasDerivedFrom",
    "WasGeneratedBy",
    "WasInformedBy",
    "metadata",
]

metadata = Base.metadata

#: The 18 IVOA Provenance DM tables (schema ``provenance``).
DM_TABLES = (
    "activity",
    "entity",
    "agent",
    "used",
    "wasgeneratedby",
    "wasassociatedwith",
    "wasattributedto",
    "wasderivedfrom",
    "wasinformedby",
    "hadmember",
    "activitydescription",
    "entitydescription",
    "usagedescription",
    "generationdescription",
    "parameter",
    "parameterdescription",
    "configfile",
    "configfiledescription",
)
__all__ += ["DM_TABLES"]
