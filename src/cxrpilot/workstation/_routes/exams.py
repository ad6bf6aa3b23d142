"""/api/exams: an exam (a DICOM study) with its images and the patient's priors."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from .._errors import NotFound
from .._models import Image
from .._schemas import ExamOut, PathId
from .._services import exams as service
from .._services.cases import check_case_access
from ..deps import CurrentActor, Db, ResultsActor, State

router = APIRouter(tags=["exams"])


@router.get("/api/exams/{exam_id}", response_model=ExamOut)
def get_exam(exam_id: PathId, actor: ResultsActor, db: Db) -> dict:
    """The exam, to staff and to whoever may see its case or a later exam of the patient."""
    return service.exam_detail(db, service.check_exam_access(db, actor, exam_id))


@router.get("/api/cases/{case_id}/exam", response_model=ExamOut)
def exam_of_case(case_id: PathId, actor: ResultsActor, db: Db) -> dict:
    """The exam of a case, to whoever may see the case (404 when it has none)."""
    case = check_case_access(db, actor, case_id)
    exam = service.exam_of_case(db, case)
    if exam is None:
        raise NotFound(f"case {case_id} has no exam (its image named no DICOM study)")
    return service.exam_detail(db, exam)


@router.get("/api/exams/{exam_id}/images/{image_id}")
def exam_image(
    exam_id: PathId, image_id: PathId, request: Request, actor: CurrentActor, state: State, db: Db
) -> Response:
    """One image of the exam (a 16-bit greyscale PNG), e.g. the lateral shown beside the
    drafted frontal."""
    exam = service.check_exam_access(db, actor, exam_id)
    image = db.scalar(select(Image).where(Image.id == image_id, Image.exam_id == exam.id))
    if image is None:
        raise NotFound(f"exam {exam_id} has no image {image_id}")
    etag = f'"{image.display_sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=3600"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(state.store.read(image.display_path), media_type="image/png", headers=headers)
