"""Request and response bodies of the API tokens and outbox routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from cxrpilot.vocabulary import TOKEN_SCOPES

from ._schemas import Id, Text

Scope = Literal[TOKEN_SCOPES]  # type: ignore[valid-type]


class TokenIn(BaseModel):
    """Unknown fields are refused; ids and days are JSON integers (not ``"1"`` or ``true``)."""

    model_config = ConfigDict(extra="forbid")

    name: Text(128, min_length=1)
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(TOKEN_SCOPES))]
    #: The account the token acts as (default: the admin creating it).
    user_id: Id | None = None
    expires_days: Annotated[int, Field(strict=True, ge=1, le=3650)] | None = None


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    user_id: int
    created_by_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    last_used_ip: str | None
    use_count: int


class TokenCreated(TokenOut):
    #: The token itself: shown this once, stored nowhere (only its SHA-256 is kept).
    token: str


class OutboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    report_id: int | None
    draft_id: int | None
    document_uid: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    ack: str | None
    created_at: datetime
    sent_at: datetime | None
    #: Where it goes under this server's settings (``C-STORE AE@host:port``, ``STOW-RS url``,
    #: ``FHIR PUT url``; never credentials).
    destination: str = ""
