"""/api/worklist and /api/reads: the reader's cases, the report editor, reading-time events."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from .._orm import READ_STATUSES
from .._schemas import (
    AmendIn,
    AssignIn,
    EventsIn,
    PathId,
    ReadDetail,
    ReadOut,
    ReportOut,
    SaveIn,
    SignIn,
    WorklistItem,
)
from .._services import reads as service
from .._services import worklist as worklist_service
from .._services._common import signer_name
from ..deps import CurrentActor, Db, State

router = APIRouter(prefix="/api", tags=["reads"])


def _report_out(report) -> ReportOut:
    out = ReportOut.model_validate(report)
    out.read_only = report.signed_at is not None
    out.signed_by = signer_name(report)
    return out


@router.post("/reads", response_model=ReadOut, status_code=201)
def assign(body: AssignIn, actor: CurrentActor, db: Db):
    return service.assign(db, actor, case_id=body.case_id, reader_id=body.reader_id, arm=body.arm)


@router.get("/worklist", response_model=list[WorklistItem])
def worklist(
    actor: CurrentActor,
    db: Db,
    status: Literal[READ_STATUSES] | None = None,  # type: ignore[valid-type]
) -> list:
    return worklist_service.reader_worklist(db, actor, status=status)


@router.get("/reads/{read_id}", response_model=ReadDetail)
def read_detail(read_id: PathId, actor: CurrentActor, db: Db) -> ReadDetail:
    d = service.read_detail(db, actor, read_id)
    return ReadDetail(
        read=ReadOut.model_validate(d["read"]),
        case=worklist_service.case_with_facts(db, d["case"]),
        image_url=f"/api/cases/{d['case'].id}/image",
        draft_status=d["draft_status"],
        draft_error=d["draft_error"],
        draft=d["draft"],
        reports=[_report_out(r) for r in d["reports"]],
    )


@router.post("/reads/{read_id}/open", response_model=ReportOut)
def open_read(read_id: PathId, actor: CurrentActor, db: Db) -> ReportOut:
    return _report_out(service.open_read(db, actor, read_id))


@router.put("/reads/{read_id}/report", response_model=ReportOut)
def autosave(
    read_id: PathId, body: SaveIn, response: Response, actor: CurrentActor, db: Db
) -> ReportOut:
    report = service.autosave(db, actor, read_id, **body.report_fields())
    response.headers["ETag"] = f'"{report.rev}"'
    return _report_out(report)


@router.post("/reads/{read_id}/sign", response_model=ReportOut)
def sign(read_id: PathId, body: SignIn, actor: CurrentActor, state: State, db: Db) -> ReportOut:
    return _report_out(
        service.sign(
            db,
            actor,
            read_id,
            **body.report_fields(),
            heartbeat_timeout_s=state.settings.heartbeat_timeout_s,
        )
    )


@router.post("/reads/{read_id}/amend", response_model=ReportOut, status_code=201)
def amend(read_id: PathId, body: AmendIn, actor: CurrentActor, db: Db) -> ReportOut:
    return _report_out(service.amend(db, actor, read_id, reason=body.reason))


@router.post("/reads/{read_id}/events")
def events(read_id: PathId, body: EventsIn, actor: CurrentActor, db: Db) -> dict:
    return {
        "accepted": service.record_events(db, actor, read_id, (e.model_dump() for e in body.events))
    }
