"""/api/audit: read the audit log (admins). There is no route that changes it."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from .._models import AuditEvent
from .._schemas import AuditOut
from ..deps import CurrentActor, Db

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut])
def list_events(
    actor: CurrentActor, db: Db, limit: int = 200, before_id: int | None = None
) -> list:
    actor.require("admin")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(min(max(limit, 1), 1000))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(db.scalars(query))
