"""Field: the metadata of one result column, as every writer needs it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Field"]


@dataclass(frozen=True)
class Field:
    """One result column: VOTable FIELD attributes (from TAP_SCHEMA where known).

    ``datatype`` is a VOTable datatype (boolean, short, int, long, float, double, char,
    unicodeChar, unsignedByte); strings have ``arraysize='*'``; timestamps are
    ``char``/``*`` with ``xtype='timestamp'``.
    """

    name: str
    datatype: str
    arraysize: str | None = None
    xtype: str | None = None
    ucd: str | None = None
    unit: str | None = None
    utype: str | None = None
    description: str | None = None
