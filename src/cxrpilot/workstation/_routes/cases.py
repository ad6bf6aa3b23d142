"""/api/cases: import (upload or server folder), list, the de-identified image, redraft."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from pydantic import AfterValidator

from cxrpilot.vocabulary import Role

from .._errors import InvalidInput
from .._orm import PRIORITIES
from .._schemas import (
    CaseOut,
    CaseSummary,
    FolderImportIn,
    ImportResult,
    Limit,
    Offset,
    PathId,
    QueryText,
    check_text,
)
from .._services import cases as service
from .._services import exams
from .._services.worklist import set_priority
from ..deps import CurrentActor, Db, IngestActor, ResultsActor, State
from .viewer import display_png

router = APIRouter(prefix="/api/cases", tags=["cases"])


@router.get("", response_model=list[CaseSummary])
def list_cases(
    actor: ResultsActor, db: Db, limit: Limit = 200, offset: Offset = 0, q: QueryText(200) = ""
) -> list:
    return service.list_cases(db, actor, limit=limit, offset=offset, q=q)


def _form_text(max_length: int):
    """A multipart form field of at most ``max_length`` characters, no NUL."""
    return Annotated[str, Form(max_length=max_length), AfterValidator(check_text)]


@router.post("", response_model=ImportResult)
async def upload(
    request: Request,
    actor: IngestActor,
    state: State,
    file: Annotated[UploadFile, File()],
    label: _form_text(128) = "",
    indication: _form_text(2000) = "",
    reference_text: _form_text(20_000) = "",
    priority: Annotated[Literal[PRIORITIES], Form()] = "routine",  # type: ignore[valid-type]
) -> ImportResult:
    limit = state.settings.max_upload_mb * 1024 * 1024
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(
            f"{file.filename}: larger than the upload limit of {state.settings.max_upload_mb} MB"
        )
    from starlette.concurrency import run_in_threadpool

    def work() -> ImportResult:
        with state.sessions() as db:
            case, created = service.import_bytes(
                db,
                state.store,
                state.loader,
                actor,
                data,
                name=file.filename or "upload",
                label=label or None,
                indication=indication,
                reference_text=reference_text,
                patient_secret=state.patient_secret,
            )
            if created and priority != "routine":
                case = set_priority(db, actor, case.id, priority)
            status, _ = service.draft_status(db, case.id)
        if created:
            state.wake_worker()
        return ImportResult(case=CaseOut.model_validate(case), created=created, draft_status=status)

    return await run_in_threadpool(work)


@router.post("/import-folder")
def import_folder(body: FolderImportIn, actor: IngestActor, state: State, db: Db) -> dict:
    results = service.import_folder(
        db,
        state.store,
        state.loader,
        actor,
        body.path,
        roots=state.settings.import_roots,
        patient_secret=state.patient_secret,
    )
    state.wake_worker()
    return {
        "results": results,
        "imported": sum(bool(r.get("created")) for r in results),
        "failed": sum("error" in r for r in results),
    }


@router.get("/{case_id}", response_model=CaseSummary)
def get_case(case_id: PathId, actor: ResultsActor, db: Db) -> dict:
    actor.require(Role.ADMIN, Role.COORDINATOR)
    case = service.check_case_access(db, actor, case_id)
    status, error = service.draft_status(db, case.id)
    exam = exams.exam_of_case(db, case)
    return {
        "case": case,
        "draft_status": status,
        "draft_error": error,
        "reads": service.count_reads(db, case.id),
        "exam": exams.exam_detail(db, exam) if exam is not None else None,
    }


@router.get("/{case_id}/image")
def image(case_id: PathId, request: Request, actor: CurrentActor, state: State, db: Db) -> Response:
    """The de-identified display image (16-bit greyscale PNG) to whoever may see the case."""
    return display_png(request, state.store, service.case_image(db, actor, case_id))


@router.post("/{case_id}/draft", status_code=202)
def redraft(case_id: PathId, actor: CurrentActor, state: State, db: Db) -> dict:
    job = service.request_draft(db, actor, case_id)
    state.wake_worker()
    return {"job_id": job.id, "draft_status": "pending"}
