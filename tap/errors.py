"""The TapError family; one handler turns each into a DALI error VOTable."""

from __future__ import annotations

__all__ = [
    "Forbidden",
    "LimitError",
    "NotFound",
    "PhaseError",
    "QueryError",
    "ServiceError",
    "TapError",
    "Unavailable",
    "UsageError",
]


class TapError(Exception):
    """An error reported to the client as a VOTable with QUERY_STATUS=ERROR."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class UsageError(TapError):
    """The request is not a valid TAP request (missing LANG, bad MAXREC, ...)."""


class QueryError(TapError):
    """The query is invalid (ADQL syntax, unknown table...) or failed to run."""


class NotFound(TapError):
    """No such job or resource."""

    status = 404


class PhaseError(TapError):
    """A UWS action not allowed in the job's current phase."""

    status = 403


class ServiceError(TapError):
    """The service itself failed (database down...)."""

    status = 500


class Forbidden(TapError):
    """The client may not see or change this resource (another identity's job)."""

    status = 403


class LimitError(TapError):
    """The client is over one of its limits (jobs, concurrent queries): try again later."""

    status = 429
    retry_after = 10


class Unavailable(TapError):
    """The service cannot take this request now (database down, job store full)."""

    status = 503
    retry_after = 5
