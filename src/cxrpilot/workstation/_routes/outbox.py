"""/api/outbox: what the workstation sends out (SR to the PACS, FHIR), for admins; each item
with its destination under this server's settings."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from .._interop_orm import OUTBOX_STATUSES
from .._interop_schemas import OutboxOut
from .._outbox import destination
from .._schemas import Limit, PathId
from .._services import outbound as service
from ..deps import CurrentActor, Db, State

router = APIRouter(prefix="/api/outbox", tags=["outbox"])


@router.get("", response_model=list[OutboxOut])
def list_items(
    actor: CurrentActor,
    state: State,
    db: Db,
    status: Literal[OUTBOX_STATUSES] | None = None,
    limit: Limit = 200,
) -> list:
    return [_out(item, state) for item in service.list_outbox(db, actor, status=status, limit=limit)]


def _out(item, state) -> OutboxOut:
    return OutboxOut.model_validate(item).model_copy(
        update={"destination": destination(state.settings, item.kind)}
    )


@router.post("/{item_id}/retry", response_model=OutboxOut)
def retry(item_id: PathId, actor: CurrentActor, state: State, db: Db):
    item = service.retry_outbox(db, actor, item_id)
    sender = state.extra.get("outbox")
    if sender is not None:
        sender.notify()
    return _out(item, state)
