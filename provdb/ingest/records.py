"""Typed records that the ingest parsers yield.

Two layers, both plain dataclasses with no database inside:

* **Source records** (``Lstosa*``) mirror one line of an lstosa ``prov.log`` exactly,
  keys renamed to snake_case but nothing resolved. They carry the file position so
  every error and reject can name ``FILE:LINE``.
* **Archive rows** (``*Row``) are what the loader writes: one dataclass per table of
  the ``provenance`` / ``archive`` schemas. Mappers (``lstosa.map``) and the simpler
  parsers (ctapipe, W3C PROV) produce them.

Keeping the layers apart lets each parser be tested and benchmarked alone, and lets
the loader (``load.py``) stay the only module that writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ActivityDescriptionRow",
    "ActivityRow",
    "AgentRow",
    "ArchiveRow",
    "AssociationRow",
    "AttributionRow",
    "ConfigFileDescriptionRow",
    "ConfigFileRow",
    "DerivationRow",
    "EntityDescriptionRow",
    "EntityRow",
    "EnvironmentRow",
    "GenerationDescriptionRow",
    "GenerationRow",
    "InformRow",
    "LstosaActivityEnd",
    "LstosaActivityStart",
    "LstosaDerived",
    "LstosaEntity",
    "LstosaGenerated",
    "LstosaMember",
    "LstosaParameters",
    "LstosaRecord",
    "LstosaSession",
    "LstosaUnknown",
    "LstosaUsed",
    "MemberRow",
    "NonProvenanceLine",
    "OversizedLine",
    "ParameterDescriptionRow",
    "ParameterRow",
    "RejectedLine",
    "SessionRow",
    "SourcePosition",
    "UsageDescriptionRow",
    "UsedRow",
]


# --------------------------------------------------------------------------------------
# Source position
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourcePosition:
    """Where a record came from: 1-based line number and byte offset of the line start."""

    line: int
    offset: int


# --------------------------------------------------------------------------------------
# lstosa prov.log source records (one per provenance line; spec §1.4)
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class _LstosaBase:
    pos: SourcePosition
    record_time: str  # the text between the two __PROV__ markers (naive local time)
    session_tag: str | None


@dataclass(slots=True)
class LstosaSession(_LstosaBase):
    """Kind 1: ``session_id`` present. ``system`` is the (large) system dict."""

    session_id: str
    name: str | None
    start_time: str | None
    system: dict[str, Any] | None
    observation_date: str | None
    software_version: str | None
    config_file: str | None
    config_file_hash: str | None
    config_file_hash_type: str | None
    observation_run: str | None
    pedestal_run: str | None
    calibration_run: str | None
    extra: dict[str, Any] = field(default_factory=dict)  # any key not listed above


@dataclass(slots=True)
class LstosaActivityStart(_LstosaBase):
    """Kind 2: ``activity_id`` + ``startTime``."""

    activity_id: str
    name: str | None
    start_time: str
    in_session: str | None
    agent_name: str | None
    script: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LstosaParameters(_LstosaBase):
    """Kind 3: ``activity_id`` + ``parameters`` (a dict name -> value)."""

    activity_id: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class LstosaEntity(_LstosaBase):
    """Kind 4: ``entity_id`` without ``member_id``/``progenitor_id``."""

    entity_id: str
    name: str | None  # entity description name, e.g. 'R0SubrunDataset'
    filepath: str | None
    hash: str | None
    hash_type: str | None
    type: str | None  # 'File', 'SetCollection', ...
    content_type: str | None
    location: str | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class LstosaUsed(_LstosaBase):
    """Kind 5: ``activity_id`` + ``used_id``."""

    activity_id: str
    entity_id: str
    role: str | None


@dataclass(slots=True)
class LstosaGenerated(_LstosaBase):
    """Kind 6: ``activity_id`` + ``generated_id``."""

    activity_id: str
    entity_id: str
    role: str | None


@dataclass(slots=True)
class LstosaDerived(_LstosaBase):
    """Kind 7: ``entity_id`` + ``progenitor_id`` (generated entity derived from progenitor)."""

    entity_id: str
    progenitor_id: str


@dataclass(slots=True)
class LstosaMember(_LstosaBase):
    """Kind 8: ``entity_id`` (collection) + ``member_id``."""

    entity_id: str
    member_id: str


@dataclass(slots=True)
class LstosaActivityEnd(_LstosaBase):
    """Kind 9: ``activity_id`` + ``endTime``."""

    activity_id: str
    end_time: str


@dataclass(slots=True)
class LstosaUnknown(_LstosaBase):
    """A well-formed record whose keys match no known kind: kept, never dropped."""

    payload: dict[str, Any]


LstosaRecord = (
    LstosaSession
    | LstosaActivityStart
    | LstosaParameters
    | LstosaEntity
    | LstosaUsed
    | LstosaGenerated
    | LstosaDerived
    | LstosaMember
    | LstosaActivityEnd
    | LstosaUnknown
)


@dataclass(slots=True)
class NonProvenanceLine:
    """A line without the provenance prefix (e.g. a WARNING diagnostic).

    The ingest counts diagnostics (``<LEVEL> ...`` lines) and rejects anything else,
    with ``raw``, the line's bytes without its end of line.
    """

    pos: SourcePosition
    text: str
    raw: bytes = b""


@dataclass(slots=True)
class RejectedLine:
    """A line that looks like provenance but cannot be parsed; kept verbatim."""

    pos: SourcePosition
    reason: str
    raw: bytes


class OversizedLine(bytes):
    """The first bytes of a line longer than the per-line limit, plus ``b"\\n"``.

    Line readers yield it instead of the whole line (never held in memory); ``size`` is
    the true length of the line with its newline, so offsets stay exact. Parsers turn it
    into a :class:`RejectedLine`.
    """

    size: int
    limit: int

    def __new__(cls, head: bytes, size: int, limit: int) -> OversizedLine:
        line = super().__new__(cls, head + b"\n")
        line.size = size
        line.limit = limit
        return line

    def reason(self) -> str:
        """The reject reason, naming the limit and the setting that raises it."""
        return (
            f"line of {self.size:,} bytes is longer than the {self.limit:,} bytes read per "
            "line (PROVDB_INGEST_MAX_LINE_BYTES): rejected, its first bytes kept"
        )


# --------------------------------------------------------------------------------------
# Archive rows (one dataclass per table; None means "unknown", never "erase")
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class ActivityRow:
    id: str
    name: str | None = None
    start_time: datetime | None = None  # UTC, naive
    end_time: datetime | None = None
    comment: str | None = None
    activity_description_id: str | None = None
    original_id: str | None = None  # the id as written by the source (lstosa 6-hex, uuid…)
    session_id: str | None = None  # archive.processing_session.id
    session_tag: str | None = None
    script: str | None = None
    command_line: str | None = None
    status: str | None = None
    exit_code: int | None = None
    start_time_text: str | None = None  # original text, before time-zone interpretation
    end_time_text: str | None = None
    attributes: dict[str, Any] | None = None  # source attributes with no column of their own


@dataclass(slots=True)
class EntityRow:
    id: str
    name: str | None = None
    location: str | None = None
    generated_at_time: datetime | None = None
    invalidated_at_time: datetime | None = None
    comment: str | None = None
    entity_description_id: str | None = None
    entity_value: str | None = None
    entity_type: str | None = None  # 'File', 'SetCollection', 'Parameters', ...
    content_type: str | None = None
    content_hash: str | None = None  # a real content checksum, when known
    content_hash_type: str | None = None
    size_bytes: int | None = None
    attributes: dict[str, Any] | None = None  # e.g. ctapipe reference_meta, PROV extra attributes


@dataclass(slots=True)
class AgentRow:
    id: str
    name: str
    type: str | None = None
    comment: str | None = None
    email: str | None = None
    affiliation: str | None = None
    phone: str | None = None
    address: str | None = None
    url: str | None = None


@dataclass(slots=True)
class UsedRow:
    activity_id: str
    entity_id: str
    role: str | None = None
    used_time: datetime | None = None
    usage_description_id: str | None = None


@dataclass(slots=True)
class GenerationRow:
    entity_id: str
    activity_id: str
    role: str | None = None
    generation_description_id: str | None = None


@dataclass(slots=True)
class AssociationRow:
    activity_id: str
    agent_id: str
    role: str | None = None


@dataclass(slots=True)
class AttributionRow:
    entity_id: str
    agent_id: str
    role: str | None = None


@dataclass(slots=True)
class DerivationRow:
    generated_entity_id: str
    used_entity_id: str


@dataclass(slots=True)
class InformRow:
    informed_id: str
    informant_id: str


@dataclass(slots=True)
class MemberRow:
    collection_id: str
    entity_id: str


@dataclass(slots=True)
class ParameterRow:
    activity_id: str
    name: str
    parameter_value: str
    parameter_description_id: str | None = None
    value_entity_id: str | None = None


@dataclass(slots=True)
class ConfigFileRow:
    activity_id: str
    name: str
    location: str | None = None
    comment: str | None = None
    config_file_description_id: str | None = None
    content_hash: str | None = None
    content_hash_type: str | None = None


@dataclass(slots=True)
class EnvironmentRow:
    """A deduplicated system/environment record (its id is a digest of its content)."""

    id: str
    system: dict[str, Any]


@dataclass(slots=True)
class SessionRow:
    """An execution context (lstosa session, ctapipe tool run environment)."""

    id: str
    original_id: str | None = None
    name: str | None = None
    observation_date: str | None = None  # 'YYYYMMDD' as written
    observation_run: str | None = None
    pedestal_run: str | None = None
    calibration_run: str | None = None
    software_version: str | None = None
    config_file: str | None = None
    config_file_hash: str | None = None
    config_file_hash_type: str | None = None
    environment_id: str | None = None


@dataclass(slots=True)
class ActivityDescriptionRow:
    id: str
    name: str
    version: str | None = None
    description: str | None = None
    docurl: str | None = None
    type: str | None = None
    subtype: str | None = None


@dataclass(slots=True)
class EntityDescriptionRow:
    id: str
    name: str
    description: str | None = None
    docurl: str | None = None
    type: str | None = None
    content_type: str | None = None


@dataclass(slots=True)
class UsageDescriptionRow:
    id: str
    activity_description_id: str
    role: str
    entity_description_id: str | None = None
    description: str | None = None
    type: str | None = None
    multiplicity: str | None = None


@dataclass(slots=True)
class GenerationDescriptionRow:
    id: str
    activity_description_id: str
    role: str
    entity_description_id: str | None = None
    description: str | None = None
    type: str | None = None
    multiplicity: str | None = None


@dataclass(slots=True)
class ParameterDescriptionRow:
    id: str
    activity_description_id: str
    name: str
    datatype: str = "char"
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    min_value: str | None = None
    max_value: str | None = None
    default_value: str | None = None
    options: str | None = None
    description: str | None = None


@dataclass(slots=True)
class ConfigFileDescriptionRow:
    id: str
    activity_description_id: str
    name: str
    content_type: str
    description: str | None = None


ArchiveRow = (
    ActivityRow
    | EntityRow
    | AgentRow
    | UsedRow
    | GenerationRow
    | AssociationRow
    | AttributionRow
    | DerivationRow
    | InformRow
    | MemberRow
    | ParameterRow
    | ConfigFileRow
    | EnvironmentRow
    | SessionRow
    | ActivityDescriptionRow
    | EntityDescriptionRow
    | UsageDescriptionRow
    | GenerationDescriptionRow
    | ParameterDescriptionRow
    | ConfigFileDescriptionRow
)
