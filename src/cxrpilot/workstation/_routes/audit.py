"""/api/audit: read the audit log (admins). There is no route that changes it."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from cxrpilot.vocabulary import Role

from .._orm import AuditEvent
from .._schemas import AuditOut, Limit, QueryId
from ..deps import CurrentActor, Db

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut])
def list_events(
    actor: CurrentActor, db: Db, limit: Limit = 200, before_id: QueryId | None = None
) -> list:
    actor.require(Role.ADMIN)
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(db.scalars(query))
