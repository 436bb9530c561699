"""ProvDM description classes (IVOA ProvDM 1.0 §2.4): reusable "methods".

The REC gives description classes no identifier; provdb adds a text ``id`` made from
the name and a digest of the model it came from (e.g. ``r0_to_dl1@1a2b3c4d``), so two
versions of lstosa's ``definition.yaml`` coexist and loading one twice is a no-op.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped

from provdb.schema.base import PROVENANCE, Base, fk_column, id_column, text_column

__all__ = [
    "ActivityDescription",
    "EntityDescription",
    "GenerationDescription",
    "UsageDescription",
]

ACTIVITY_DESCRIPTION = f"{PROVENANCE}.activitydescription.id"
ENTITY_DESCRIPTION = f"{PROVENANCE}.entitydescription.id"


class ActivityDescription(Base):
    __tablename__ = "activitydescription"
    __table_args__ = {
        "schema": PROVENANCE,
        "comment": "ProvDM ActivityDescription: the method followed by activities "
        "(from lstosa's definition.yaml)",
        "info": {"utype": "voprov:ActivityDescription"},
    }

    id: Mapped[str] = id_column(
        "Identifier '<name>@<model digest>'", utype="voprov:ActivityDescription.id"
    )
    name: Mapped[str] = text_column(
        "Name of the method",
        nullable=False,
        ucd="meta.title",
        utype="voprov:ActivityDescription.name",
        principal=True,
    )
    version: Mapped[str | None] = text_column(
        "Version of the method or code",
        ucd="meta.version",
        utype="voprov:ActivityDescription.version",
    )
    description: Mapped[str | None] = text_column(
        "How the activity works", ucd="meta.note", utype="voprov:ActivityDescription.description"
    )
    docurl: Mapped[str | None] = text_column(
        "Documentation link", ucd="meta.ref.url", utype="voprov:ActivityDescription.docurl"
    )
    type: Mapped[str | None] = text_column(
        "Type: Observation, Simulation, Reduction, Calibration, Reconstruction, Selection, "
        "Analysis",
        ucd="meta.code.class",
        utype="voprov:ActivityDescription.type",
    )
    subtype: Mapped[str | None] = text_column(
        "Project-specific finer type",
        ucd="meta.code.class",
        utype="voprov:ActivityDescription.subtype",
    )


class EntityDescription(Base):
    __tablename__ = "entitydescription"
    __table_args__ = {
        "schema": PROVENANCE,
        "comment": "ProvDM EntityDescription (with the DatasetDescription and "
        "ValueDescription attributes): kinds of entities",
        "info": {"utype": "voprov:EntityDescription"},
    }

    id: Mapped[str] = id_column(
        "Identifier '<name>@<model digest>'", utype="voprov:EntityDescription.id"
    )
    name: Mapped[str] = text_column(
        "Name of the kind of entity (e.g. DL1SubrunDataset)",
        nullable=False,
        ucd="meta.title",
        utype="voprov:EntityDescription.name",
        principal=True,
    )
    description: Mapped[str | None] = text_column(
        "What these entities are", ucd="meta.note", utype="voprov:EntityDescription.description"
    )
    docurl: Mapped[str | None] = text_column(
        "Documentation link", ucd="meta.ref.url", utype="voprov:EntityDescription.docurl"
    )
    type: Mapped[str | None] = text_column(
        "General category (File, SetCollection, data, document...)",
        ucd="meta.code.class",
        utype="voprov:EntityDescription.type",
    )
    content_type: Mapped[str | None] = text_column(
        "MIME type (DatasetDescription.contentType)",
        ucd="meta.code.mime",
        utype="voprov:DatasetDescription.contentType",
    )
    datatype: Mapped[str | None] = text_column(
        "VOTable datatype of a value (ValueDescription.valueType)",
        ucd="meta.code",
        utype="voprov:ValueDescription.valueType",
    )
    arraysize: Mapped[str | None] = text_column("VOTable arraysize of a value", ucd="meta.code")
    xtype: Mapped[str | None] = text_column("VOTable xtype of a value", ucd="meta.code")
    unit: Mapped[str | None] = text_column(
        "Unit of a value", ucd="meta.unit", utype="voprov:ValueDescription.unit"
    )
    ucd: Mapped[str | None] = text_column(
        "UCD of a value", ucd="meta.ucd", utype="voprov:ValueDescription.ucd"
    )
    utype: Mapped[str | None] = text_column(
        "Utype of a value", ucd="meta.code", utype="voprov:ValueDescription.utype"
    )


def _io_description(kind: str):  # shared columns of Usage/GenerationDescription
    class _Columns:
        id: Mapped[str] = id_column(
            "Identifier '<activity>/<role>@<model digest>'", utype=f"voprov:{kind}.id"
        )
        activity_description_id: Mapped[str] = fk_column(
            ACTIVITY_DESCRIPTION,
            "The activity description this belongs to",
            nullable=False,
            ucd="meta.id.assoc",
        )
        entity_description_id: Mapped[str | None] = fk_column(
            ENTITY_DESCRIPTION,
            "Expected kind of entity",
            ucd="meta.id.assoc",
            utype=f"voprov:{kind}.entityDescription",
        )
        role: Mapped[str] = text_column(
            "Role, equal to the role of matching relations",
            nullable=False,
            ucd="meta.code.class",
            utype=f"voprov:{kind}.role",
            principal=True,
        )
        description: Mapped[str | None] = text_column(
            "What the entity is for", ucd="meta.note", utype=f"voprov:{kind}.description"
        )
        type: Mapped[str | None] = text_column(
            "Main, Calibration, Preview, Setup, Quality, Log, Context",
            ucd="meta.code.class",
            utype=f"voprov:{kind}.type",
        )
        multiplicity: Mapped[str | None] = text_column(
            "How many entities are expected ('1', '*', '3..*')",
            ucd="meta.number",
            utype=f"voprov:{kind}.multiplicity",
        )

    return _Columns


class UsageDescription(_io_description("UsageDescription"), Base):
    __tablename__ = "usagedescription"
    __table_args__ = {
        "schema": PROVENANCE,
        "comment": "ProvDM UsageDescription: an expected input of an activity description",
        "info": {"utype": "voprov:UsageDescription"},
    }


class GenerationDescription(_io_description("GenerationDescription"), Base):
    __tablename__ = "generationdescription"
    __table_args__ = {
        "schema": PROVENANCE,
        "comment": "ProvDM GenerationDescription: an expected output of an activity description",
        "info": {"utype": "voprov:GenerationDescription"},
    }


# keep the import used for type checkers
_ = sa
