"""Errors of the workstation's service layer; the app maps each to its HTTP status."""

from __future__ import annotations

from cxrpilot.errors import CxrpilotError

__all__ = [
    "WorkstationError",
    "NotAuthenticated",
    "Forbidden",
    "NotFound",
    "Conflict",
    "InvalidInput",
    "Throttled",
]


class WorkstationError(CxrpilotError):
    """Base class; ``status_code`` is the HTTP status the API answers with."""

    status_code = 400


class NotAuthenticated(WorkstationError):
    status_code = 401


class Forbidden(WorkstationError):
    status_code = 403


class NotFound(WorkstationError):
    status_code = 404


class Conflict(WorkstationError):
    """A stale copy, a signed report, a duplicate: nothing was changed."""

    status_code = 409

    def __init__(
        self, message: str, *, current: dict | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.current = current or {}
        #: A machine-readable reason a client can act on (e.g. ``"unedited_draft"``).
        self.code = code


class InvalidInput(WorkstationError):
    status_code = 422


class Throttled(WorkstationError):
    status_code = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
