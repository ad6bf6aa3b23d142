"""/api/exams: an exam (a DICOM study) with its images and the patient's priors; each
image's viewer data (``/viewer``, ``/pixels.png``, ``/header``, as for a case); and
/api/reads/{id}/exam, what the read page shows of a read's exam and its priors."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from .._errors import NotFound
from .._orm import Image
from .._schemas import ExamOut, PathId, ReadExamOut
from .._services import exam_reading
from .._services import exams as service
from .._services.cases import check_case_access
from .._services.header import dicom_header
from .._services.viewer import viewer_image
from ..deps import CurrentActor, Db, ResultsActor, State
from .viewer import check_resolution, display_png, png_response, viewer_payload

router = APIRouter(tags=["exams"])


@router.get("/api/exams/{exam_id}", response_model=ExamOut)
def get_exam(exam_id: PathId, actor: ResultsActor, db: Db) -> dict:
    """The exam, to staff and to whoever may see its case or a later exam of the patient."""
    return service.exam_detail(db, service.check_exam_access(db, actor, exam_id), actor)


@router.get("/api/cases/{case_id}/exam", response_model=ExamOut)
def exam_of_case(case_id: PathId, actor: ResultsActor, db: Db) -> dict:
    """The exam of a case, to whoever may see the case (404 when it has none)."""
    case = check_case_access(db, actor, case_id)
    exam = service.exam_of_case(db, case)
    if exam is None:
        raise NotFound(f"case {case_id} has no exam (its image named no DICOM study)")
    return service.exam_detail(db, exam, actor)


@router.get("/api/exams/{exam_id}/images/{image_id}")
def exam_image(
    exam_id: PathId, image_id: PathId, request: Request, actor: CurrentActor, state: State, db: Db
) -> Response:
    """One image of the exam (a 16-bit greyscale PNG), e.g. the lateral shown beside the
    drafted frontal."""
    return display_png(request, state.store, _exam_image(db, actor, exam_id, image_id))


def _exam_image(db, actor, exam_id: int, image_id: int) -> Image:
    exam = service.check_exam_access(db, actor, exam_id)
    image = db.scalar(select(Image).where(Image.id == image_id, Image.exam_id == exam.id))
    if image is None:
        raise NotFound(f"exam {exam_id} has no image {image_id}")
    return image


@router.get("/api/exams/{exam_id}/images/{image_id}/viewer")
def exam_image_viewer(
    exam_id: PathId,
    image_id: PathId,
    actor: CurrentActor,
    state: State,
    db: Db,
    preview: bool = False,
) -> dict:
    """What the viewer needs of one image of the exam (as ``/api/cases/{id}/viewer``; with
    ``preview``, the low-resolution PNG too)."""
    image = _exam_image(db, actor, exam_id, image_id)
    view = viewer_image(state.store, image)
    base = service.image_url(image)
    return viewer_payload(image, view, base, image_url=base, preview=preview, raw=False)


@router.get("/api/exams/{exam_id}/images/{image_id}/pixels.png")
def exam_image_pixels(
    exam_id: PathId,
    image_id: PathId,
    request: Request,
    actor: CurrentActor,
    state: State,
    db: Db,
    resolution: str = "full",
) -> Response:
    """The image's transfer values as a lossless 16-bit PNG (``full`` or ``low``)."""
    check_resolution(resolution)
    image = _exam_image(db, actor, exam_id, image_id)
    return png_response(request, image, viewer_image(state.store, image), resolution)


@router.get("/api/exams/{exam_id}/images/{image_id}/header")
def exam_image_header(
    exam_id: PathId, image_id: PathId, actor: CurrentActor, state: State, db: Db
) -> dict:
    """The image's stored de-identified DICOM header (no pixel data)."""
    return dicom_header(state.store, _exam_image(db, actor, exam_id, image_id))


@router.get("/api/reads/{read_id}/exam", response_model=ReadExamOut)
def read_exam(read_id: PathId, actor: CurrentActor, db: Db) -> dict:
    """The read's exam (its images: the frontal and a lateral) and the patient's earlier
    exams, each with the report of it this reader may see (their own signed one; in a
    standard-practice read never one written with the AI draft)."""
    return exam_reading.read_exam(db, actor, read_id)
