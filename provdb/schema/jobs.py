"""Storage of the TAP service's asynchronous (UWS) jobs.

Jobs live in the database so that several service processes share one job list, pick
queued jobs with ``FOR UPDATE SKIP LOCKED``, and a restarted service finds its jobs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from provdb.schema.base import Base

__all__ = ["UWS", "Job"]

UWS = "uws"


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        sa.Index("ix_uws_job_phase_created", "phase", "creation_time"),
        {"schema": UWS, "comment": "UWS 1.1 jobs of the TAP /async endpoint"},
    )

    job_id: Mapped[str] = mapped_column(sa.Text, primary_key=True, comment="Job identifier")
    run_id: Mapped[str | None] = mapped_column(sa.Text, comment="Client's RUNID tag")
    owner_id: Mapped[str | None] = mapped_column(sa.Text, comment="Owner (null: anonymous)")
    phase: Mapped[str] = mapped_column(sa.Text, nullable=False, comment="UWS phase")
    creation_time: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.now(),
        comment="When the job was created",
    )
    start_time: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), comment="When execution started"
    )
    end_time: Mapped[datetime | None] = mapped_column(
        sa.DateTime(timezone=True), comment="When execution ended"
    )
    execution_duration: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, comment="Allowed run time in seconds (0: unlimited)"
    )
    destruction: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, comment="When the job will be destroyed"
    )
    parameters: Mapped[list[Any]] = mapped_column(
        JSONB,
        nullable=False,
        server_default=sa.text("'[]'::jsonb"),
        comment="TAP parameters as a list of [name, value] pairs",
    )
    uploads: Mapped[dict[str, Any]] = mapped_column(
        JSONB,
        nullable=False,
        server_default=sa.text("'{}'::jsonb"),
        comment="Inline uploads received with the job: name -> file name in the job folder",
    )
    error_message: Mapped[str | None] = mapped_column(sa.Text, comment="Why the job failed")
    error_type: Mapped[str | None] = mapped_column(sa.Text, comment="transient or fatal")
    result_path: Mapped[str | None] = mapped_column(sa.Text, comment="File holding the result")
    result_mime: Mapped[str | None] = mapped_column(sa.Text, comment="Media type of the result")
    result_size: Mapped[int | None] = mapped_column(sa.BigInteger, comment="Result size, bytes")
    result_rows: Mapped[int | None] = mapped_column(sa.BigInteger, comment="Rows in the result")
    worker: Mapped[str | None] = mapped_column(
        sa.Text,
        comment="host:token:pid of the executing worker (alive while its presence connection is)",
    )
    query_pid: Mapped[int | None] = mapped_column(
        sa.Integer, comment="PostgreSQL backend running the query (to cancel on abort)"
    )
    attempts: Mapped[int] = mapped_column(
        sa.Integer,
        nullable=False,
        server_default=sa.text("0"),
        comment="How many times a worker claimed the job (a died worker counts)",
    )
