"""/api/studies: setup, eligibility, randomisation, progress, evaluation phase, export."""

from __future__ import annotations

import csv
import io
import json
from typing import Literal

from fastapi import APIRouter, Response

from cxrpilot.vocabulary import EVALUATION_COLUMNS, READ_COLUMNS

from .._schemas import (
    CaseIds,
    EligibilityIn,
    EvaluationStartIn,
    MembersIn,
    PathId,
    SeedIn,
    StudyCaseOut,
    StudyCreate,
    StudyMemberOut,
    StudyOut,
    StudyProgress,
    StudySummary,
)
from .._services import evaluations as eval_service
from .._services import studies as service
from ..deps import CurrentActor, Db

router = APIRouter(prefix="/api/studies", tags=["studies"])


@router.get("", response_model=list[StudySummary])
def list_studies(actor: CurrentActor, db: Db) -> list:
    return service.list_studies(db, actor)


@router.post("", response_model=StudyOut, status_code=201)
def create_study(body: StudyCreate, actor: CurrentActor, db: Db):
    return service.create_study(db, actor, **body.model_dump())


@router.get("/{study_id}", response_model=StudyProgress)
def progress(study_id: PathId, actor: CurrentActor, db: Db) -> dict:
    return service.progress(db, actor, study_id)


@router.get("/{study_id}/cases", response_model=list[StudyCaseOut])
def study_cases(study_id: PathId, actor: CurrentActor, db: Db) -> list:
    return service.study_cases(db, actor, study_id)


@router.get("/{study_id}/members", response_model=list[StudyMemberOut])
def study_members(study_id: PathId, actor: CurrentActor, db: Db) -> list:
    return service.study_members(db, actor, study_id)


@router.post("/{study_id}/cases")
def add_cases(study_id: PathId, body: CaseIds, actor: CurrentActor, db: Db) -> dict:
    return {"added": service.add_cases(db, actor, study_id, body.case_ids)}


@router.post("/{study_id}/members")
def add_members(study_id: PathId, body: MembersIn, actor: CurrentActor, db: Db) -> dict:
    return {"added": service.add_members(db, actor, study_id, body.user_ids, body.role)}


@router.put("/{study_id}/cases/{case_id}/eligibility")
def eligibility(
    study_id: PathId, case_id: PathId, body: EligibilityIn, actor: CurrentActor, db: Db
) -> dict:
    sc = service.check_eligibility(
        db, actor, study_id, case_id, answers=body.answers, note=body.note
    )
    return {"case_id": case_id, "eligibility": sc.eligibility, "checklist": sc.checklist}


@router.post("/{study_id}/randomise")
def randomise(study_id: PathId, body: SeedIn, actor: CurrentActor, db: Db) -> dict:
    n = service.randomise(db, actor, study_id, seed=body.seed)
    return {"reads": n, "seed": db.get(service.ReaderStudy, study_id).seed}


@router.post("/{study_id}/evaluation")
def start_evaluation(
    study_id: PathId, body: EvaluationStartIn, actor: CurrentActor, db: Db
) -> dict:
    n = eval_service.start_evaluation(
        db, actor, study_id, seed=body.seed, allow_unsigned=body.allow_unsigned
    )
    return {"tasks": n, "seed": db.get(service.ReaderStudy, study_id).evaluation_seed}


@router.get("/{study_id}/export")
def export_both(study_id: PathId, actor: CurrentActor, db: Db) -> Response:
    """Both tables as one JSON file ``{"reads": [...], "evaluations": [...],
    "protocol_deviations": [...]}``, which ``cxrpilot eval study study-N.json`` reads."""
    rows = eval_service.export_rows(db, actor, study_id)
    return Response(
        json.dumps(rows, ensure_ascii=False, default=str),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="study-{study_id}.json"'},
    )


def _csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@router.get("/{study_id}/export.zip")
def export_zip(study_id: PathId, actor: CurrentActor, db: Db) -> Response:
    """A zip of one folder ``study-N/`` with ``reads.csv``, ``evaluations.csv`` (what
    ``cxrpilot eval study study-N`` reads once unzipped) and ``protocol_deviations.json``."""
    import zipfile

    rows = eval_service.export_rows(db, actor, study_id)
    buf = io.BytesIO()
    folder = f"study-{study_id}"
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{folder}/reads.csv", _csv(rows["reads"], READ_COLUMNS))
        zf.writestr(
            f"{folder}/evaluations.csv",
            _csv(rows["evaluations"], EVALUATION_COLUMNS),
        )
        zf.writestr(
            f"{folder}/protocol_deviations.json",
            json.dumps(rows["protocol_deviations"], ensure_ascii=False, default=str, indent=1),
        )
    return Response(
        buf.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{folder}.zip"'},
    )


@router.get("/{study_id}/export/{table}")
def export(
    study_id: PathId,
    table: Literal["reads", "evaluations"],
    actor: CurrentActor,
    db: Db,
    format: Literal["json", "csv"] = "json",
):
    rows = eval_service.export_rows(db, actor, study_id)[table]
    if format == "json":
        return rows
    columns = READ_COLUMNS if table == "reads" else EVALUATION_COLUMNS
    return Response(
        _csv(rows, columns),
        media_type="text/csv",
        # The names ``cxrpilot eval study FOLDER`` reads: save both in one folder.
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )
