"""Execution context of activities (beyond the DM): sessions and environments.

lstosa writes a ~20 kB ``system`` record with every traced call (3 per subrun): it is
most of a night's bytes and almost always identical. provdb stores each distinct
environment once (``environment``, keyed by a digest of its content without the
per-call ``arguments``/``start_time_utc``) and each distinct session context once
(``session``: date, runs, software version, config file), and links activities to it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped

from provdb.schema.base import ARCHIVE, Base, fk_column, id_column, tap_column, text_column

__all__ = ["Environment", "ProcessingSession"]


class Environment(Base):
    __tablename__ = "environment"
    __table_args__ = {
        "schema": ARCHIVE,
        "comment": "Distinct software/system environments (executable, platform, Python "
        "packages, environment variables), stored once each",
    }

    id: Mapped[str] = id_column("Digest of the environment content ('env-<16 hex>')")
    node: Mapped[str | None] = text_column("Host name", ucd="meta.id;instr.setup")
    python_version: Mapped[str | None] = text_column("Python version", ucd="meta.version")
    executable: Mapped[str | None] = text_column("Python executable", ucd="meta.code")
    system: Mapped[dict[str, Any]] = tap_column(
        JSONB,
        nullable=False,
        description="The full environment record (JSON)",
        ucd="meta.note",
    )
    first_seen: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=sa.text("(now() at time zone 'utc')"),
        description="When provdb first stored this environment (UTC)",
        ucd="time.creation",
        xtype="timestamp",
    )


class ProcessingSession(Base):
    __tablename__ = "processing_session"
    __table_args__ = (
        # the latest runs (UI home page: read backwards, stopped at the runs shown) and a
        # run's sessions
        sa.Index("ix_processing_session_date_run", "observation_date", "observation_run"),
        {
            "schema": ARCHIVE,
            "comment": "Execution contexts: one lstosa session (night, run(s), software "
            "version, configuration, environment) shared by all activities it covers",
        },
    )

    id: Mapped[str] = id_column(
        "'<source session id>-<digest of the context>': reprocessings with another software "
        "version or environment are distinct sessions"
    )
    original_id: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Session id as written by the source ('2020011701807', '0180401809')",
        ucd="meta.id",
    )
    source_format: Mapped[str | None] = text_column(
        "Format the session came from (lstosa, ctapipe, prov-json...)", ucd="meta.code"
    )
    name: Mapped[str | None] = text_column("Session name (run, or 'ped-cal')", ucd="meta.title")
    observation_date: Mapped[str | None] = text_column(
        "Observation date as written (YYYYMMDD)", ucd="time.epoch;obs"
    )
    night: Mapped[date | None] = tap_column(
        sa.Date,
        nullable=True,
        index=True,
        description="Night of the observation (observation_date as a date)",
        ucd="time.epoch;obs",
        xtype="timestamp",
    )
    observation_run: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Observation run number (5 digits, as written)",
        ucd="meta.id;obs",
    )
    pedestal_run: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="DRS4 pedestal run of a calibration session",
        ucd="meta.id;obs.calib",
    )
    calibration_run: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Calibration run of a calibration session",
        ucd="meta.id;obs.calib",
    )
    software_version: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Version of the processing software (lstosa: 'v' + "
        "lstchain version; ctapipe tools: ctapipe version)",
        ucd="meta.version",
    )
    software_package: Mapped[str | None] = tap_column(
        sa.Text,
        index=True,
        description="Package that software_version is a version of (lstchain for lstosa "
        "sessions, ctapipe or the package a ctapipe tool's log names), as in "
        "archive.software.package",
        ucd="meta.id;meta.software",
    )
    config_file: Mapped[str | None] = text_column("Configuration file path", ucd="meta.ref")
    config_file_hash: Mapped[str | None] = text_column(
        "Hash recorded for the configuration file (lstosa: md5 of the path)", ucd="meta.id"
    )
    config_file_hash_type: Mapped[str | None] = text_column("Hash algorithm", ucd="meta.code")
    environment_id: Mapped[str | None] = fk_column(
        f"{ARCHIVE}.environment.id", "The environment record", ucd="meta.id.assoc"
    )
