"""ProvDM ActivityConfiguration package (IVOA ProvDM 1.0 §2.6).

``parameter`` and ``configfile`` carry their activity directly (``activity_id``):
this flattens the REC's WasConfiguredBy relation, which is a composition of Activity
anyway (a Parameter lives and dies with its activity).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped

from provdb.schema.base import PROVENANCE, Base, fk_column, id_column, tap_column, text_column

__all__ = ["ConfigFile", "ConfigFileDescription", "Parameter", "ParameterDescription"]

ACTIVITY_DESCRIPTION = f"{PROVENANCE}.activitydescription.id"


def _rowid() -> Mapped[int]:
    return tap_column(
        sa.BigInteger,
        sa.Identity(always=False),
        primary_key=True,
        description="Surrogate key",
        ucd="meta.id;meta.main",
    )


class ParameterDescription(Base):
    __tablename__ = "parameterdescription"
    __table_args__ = {
        "schema": PROVENANCE,
        "comment": "ProvDM ParameterDescription: a parameter an activity description accepts",
        "info": {"utype": "voprov:ParameterDescription"},
    }

    id: Mapped[str] = id_column(
        "Identifier '<activity>/param/<name>@<model digest>'",
        utype="voprov:ParameterDescription.id",
    )
    activity_description_id: Mapped[str] = fk_column(
        ACTIVITY_DESCRIPTION,
        "The activity description this belongs to",
        nullable=False,
        ucd="meta.id.assoc",
    )
    name: Mapped[str] = text_column(
        "Parameter name",
        nullable=False,
        ucd="meta.id",
        utype="voprov:ParameterDescription.name",
        principal=True,
    )
    datatype: Mapped[str] = text_column(
        "VOTable datatype (valueType)",
        nullable=False,
        ucd="meta.code",
        utype="voprov:ParameterDescription.valueType",
    )
    arraysize: Mapped[str | None] = text_column("VOTable arraysize", ucd="meta.code")
    xtype: Mapped[str | None] = text_column("VOTable xtype", ucd="meta.code")
    unit: Mapped[str | None] = text_column(
        "Unit", ucd="meta.unit", utype="voprov:ParameterDescription.unit"
    )
    ucd: Mapped[str | None] = text_column(
        "UCD", ucd="meta.ucd", utype="voprov:ParameterDescription.ucd"
    )
    utype: Mapped[str | None] = text_column(
        "Utype", ucd="meta.code", utype="voprov:ParameterDescription.utype"
    )
    min_value: Mapped[str | None] = text_column(
        "Minimum value (ProvDM 'min')",
        ucd="stat.value;stat.min",
        utype="voprov:ParameterDescription.min",
    )
    max_value: Mapped[str | None] = text_column(
        "Maximum value (ProvDM 'max')",
        ucd="stat.value;stat.max",
        utype="voprov:ParameterDescription.max",
    )
    default_value: Mapped[str | None] = text_column(
        "Default value (ProvDM 'default')",
        ucd="meta.code",
        utype="voprov:ParameterDescription.default",
    )
    options: Mapped[str | None] = text_column(
        "Allowed values, separated by '|'",
        ucd="meta.code",
        utype="voprov:ParameterDescription.options",
    )
    description: Mapped[str | None] = text_column(
        "What the parameter does",
        ucd="meta.note",
        utype="voprov:ParameterDescription.description",
    )


class Parameter(Base):
    __tablename__ = "parameter"
    __table_args__ = (
        sa.UniqueConstraint("activity_id", "name", name="uq_parameter"),
        # filtering by name and value ("activities run with X = Y"): an SP-GiST (radix
        # tree) index on the value (equality; no length limit, where a btree refuses
        # values over ~2.7 kB, e.g. configuration dumps; a hash index, 0013, kept each
        # value's duplicates in one chain that every insert walked: 0021) and a btree on
        # the name, combined by bitmap AND
        sa.Index("ix_parameter_parameter_value", "parameter_value", postgresql_using="spgist"),
        sa.Index("ix_parameter_name", "name"),
        {
            "schema": PROVENANCE,
            "comment": "ProvDM Parameter: a configuration value of one activity "
            "(WasConfiguredBy with artefactType Parameter)",
            "info": {"utype": "voprov:Parameter"},
        },
    )

    id: Mapped[int] = _rowid()
    activity_id: Mapped[str] = fk_column(
        f"{PROVENANCE}.activity.id",
        "The configured activity",
        nullable=False,
        utype="voprov:WasConfiguredBy.activity",
        index=False,  # uq_parameter leads with it (0020)
    )
    parameter_description_id: Mapped[str | None] = fk_column(
        f"{PROVENANCE}.parameterdescription.id",
        "Description of the parameter",
        ucd="meta.id.assoc",
        utype="voprov:Parameter.parameterDescription",
    )
    name: Mapped[str] = text_column(
        "Parameter name",
        nullable=False,
        ucd="meta.id",
        utype="voprov:Parameter.name",
        principal=True,
    )
    parameter_value: Mapped[str] = text_column(
        "Parameter value as text (ProvDM 'value', renamed: VALUE is reserved in ADQL)",
        nullable=False,
        ucd="meta.code",
        utype="voprov:Parameter.value",
        principal=True,
    )
    value_entity_id: Mapped[str | None] = fk_column(
        f"{PROVENANCE}.entity.id",
        "Entity the value came from (hadReference)",
        ucd="meta.id.assoc",
        utype="voprov:Parameter.valueEntity",
    )


class ConfigFileDescription(Base):
    __tablename__ = "configfiledescription"
    __table_args__ = {
        "schema": PROVENANCE,
        "comment": "ProvDM ConfigFileDescription: a configuration file an activity description "
        "reads",
        "info": {"utype": "voprov:ConfigFileDescription"},
    }

    id: Mapped[str] = id_column(
        "Identifier '<activity>/config/<name>@<model digest>'",
        utype="voprov:ConfigFileDescription.id",
    )
    activity_description_id: Mapped[str] = fk_column(
        ACTIVITY_DESCRIPTION,
        "The activity description this belongs to",
        nullable=False,
        ucd="meta.id.assoc",
    )
    name: Mapped[str] = text_column(
        "Name of the configuration file",
        nullable=False,
        ucd="meta.id",
        utype="voprov:ConfigFileDescription.name",
        principal=True,
    )
    content_type: Mapped[str] = text_column(
        "MIME type of the file",
        nullable=False,
        ucd="meta.code.mime",
        utype="voprov:ConfigFileDescription.contentType",
    )
    description: Mapped[str | None] = text_column(
        "What the file configures",
        ucd="meta.note",
        utype="voprov:ConfigFileDescription.description",
    )


class ConfigFile(Base):
    __tablename__ = "configfile"
    __table_args__ = (
        sa.UniqueConstraint(
            "activity_id",
            "name",
            "location",
            name="uq_configfile",
            postgresql_nulls_not_distinct=True,
        ),
        {
            "schema": PROVENANCE,
            "comment": "ProvDM ConfigFile: a configuration file one activity read "
            "(WasConfiguredBy with artefactType ConfigFile)",
            "info": {"utype": "voprov:ConfigFile"},
        },
    )

    id: Mapped[int] = _rowid()
    activity_id: Mapped[str] = fk_column(
        f"{PROVENANCE}.activity.id",
        "The configured activity",
        nullable=False,
        utype="voprov:WasConfiguredBy.activity",
        index=False,  # uq_configfile leads with it (0020)
    )
    config_file_description_id: Mapped[str | None] = fk_column(
        f"{PROVENANCE}.configfiledescription.id",
        "Description of the file",
        ucd="meta.id.assoc",
        utype="voprov:ConfigFile.configFileDescription",
    )
    name: Mapped[str] = text_column(
        "Name of the file",
        nullable=False,
        ucd="meta.id",
        utype="voprov:ConfigFile.name",
        principal=True,
    )
    location: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Path or URL of the file",
        ucd="meta.ref",
        utype="voprov:ConfigFile.location",
        principal=True,
    )
    comment: Mapped[str | None] = text_column(
        "Free remarks", ucd="meta.note", utype="voprov:ConfigFile.comment"
    )
    content_hash: Mapped[str | None] = text_column(
        "Hash recorded by the source (lstosa: md5 of the path, not of the content)",
        ucd="meta.id",
    )
    content_hash_type: Mapped[str | None] = text_column("Hash algorithm", ucd="meta.code")
