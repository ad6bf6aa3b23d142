"""/api/report-templates: the report editor's templates, macros and finding phrases."""

from __future__ import annotations

from fastapi import APIRouter

from .._services.templates import report_templates
from ..deps import CurrentActor, State

router = APIRouter(prefix="/api", tags=["reads"])


@router.get("/report-templates")
def templates(actor: CurrentActor, state: State) -> dict:
    """Templates, macros (with their keys) and the composer's sentence per finding."""
    return report_templates(state.settings.data_dir)
