"""PUT /api/cases/{id}/priority: a case's clinical priority (routine / urgent / STAT)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from .._orm import PRIORITIES
from .._schemas import CaseOut, PathId, _In
from .._services import worklist as service
from ..deps import CurrentActor, Db

router = APIRouter(prefix="/api/cases", tags=["cases"])


class PriorityIn(_In):
    priority: Literal[PRIORITIES]  # type: ignore[valid-type]


@router.put("/{case_id}/priority", response_model=CaseOut)
def set_priority(case_id: PathId, body: PriorityIn, actor: CurrentActor, db: Db):
    return service.set_priority(db, actor, case_id, body.priority)
