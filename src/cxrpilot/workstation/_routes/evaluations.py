"""/api/evaluations: the evaluator's blinded forms (no arm, author or model anywhere)."""

from __future__ import annotations

from fastapi import APIRouter

from .._schemas import PathId, TaskOut, TaskSubmit, TaskSummary
from .._services import evaluations as service
from ..deps import CurrentActor, Db

router = APIRouter(prefix="/api/evaluations", tags=["evaluations"])


def _task_out(task: dict) -> dict:
    return {**task, "image_url": f"/api/cases/{task['case_id']}/image"}


@router.get("", response_model=list[TaskSummary])
def list_tasks(actor: CurrentActor, db: Db) -> list:
    return service.list_tasks(db, actor)


@router.get("/{task_id}", response_model=TaskOut)
def get_task(task_id: PathId, actor: CurrentActor, db: Db) -> dict:
    return _task_out(service.get_task(db, actor, task_id))


@router.post("/{task_id}", response_model=TaskOut)
def submit(task_id: PathId, body: TaskSubmit, actor: CurrentActor, db: Db) -> dict:
    service.submit_task(
        db,
        actor,
        task_id,
        ratings={k: v.model_dump() for k, v in body.ratings.items()},
        preference=body.preference,
    )
    return _task_out(service.get_task(db, actor, task_id))
