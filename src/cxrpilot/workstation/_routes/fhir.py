"""/fhir: the reports as FHIR R4 DiagnosticReports, read-only (``application/fhir+json``).

``GET /fhir/DiagnosticReport/{id}``, ``GET /fhir/DiagnosticReport/{id}/_history/{version}``
and ``GET /fhir/DiagnosticReport?patient=&accession=&status=&_count=`` (a ``searchset``
Bundle). By login session or API token with ``read:results``. Errors of these routes are
OperationOutcomes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from cxrpilot.interop.fhir import FHIR_JSON, searchset, to_json

from .._errors import WorkstationError
from .._services import fhir_reports as service
from ..deps import Db, ResultsActor, State

router = APIRouter(prefix="/fhir", tags=["fhir"])

SEARCH_PARAMS = frozenset({"patient", "accession", "status", "_count", "_format"})
ResourceId = Annotated[str, Path(max_length=64)]
_ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 422: "invalid"}


def outcome(status: int, message: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": _ISSUE_CODES.get(status, "processing"),
                "diagnostics": message,
            }
        ],
    }
    return Response(json.dumps(body), status_code=status, media_type=FHIR_JSON)


def _answer(build: Callable[[], Any]) -> Response:
    try:
        resource = build()
    except WorkstationError as exc:
        return outcome(400 if exc.status_code == 422 else exc.status_code, str(exc))
    return Response(to_json(resource), media_type=FHIR_JSON)


@router.get("/DiagnosticReport", response_class=Response)
def search(
    request: Request,
    actor: ResultsActor,
    state: State,
    db: Db,
    patient: str | None = None,
    accession: str | None = None,
    status: str | None = None,
) -> Response:
    """Search: ``patient`` (pseudonymous key), ``accession``, ``status`` (preliminary,
    final, amended; comma-separated), ``_count`` (page size, default 50, at most 200)."""
    unknown = sorted(set(request.query_params) - SEARCH_PARAMS)
    if unknown:
        return outcome(
            400,
            f"search parameter {', '.join(unknown)} is not supported; use "
            f"{', '.join(sorted(SEARCH_PARAMS - {'_format'}))}",
        )
    raw_count = request.query_params.get("_count", "50")
    if not raw_count.isdigit():
        return outcome(400, f"_count must be a whole number, got {raw_count!r}")

    def build():
        page, total = service.search(
            db,
            state.store,
            state.settings,
            actor,
            patient=patient,
            accession=accession,
            status=status,
            count=int(raw_count),
        )
        base = str(request.base_url).rstrip("/") + "/fhir"
        return searchset(page, base_url=base, self_url=str(request.url), total=total)

    return _answer(build)


@router.get("/DiagnosticReport/{resource_id}", response_class=Response)
def read(resource_id: ResourceId, actor: ResultsActor, state: State, db: Db) -> Response:
    """One report (``report-N``: the newest signed version) or AI draft (``ai-draft-N``)."""
    return _answer(
        lambda: service.read_resource(db, state.store, state.settings, actor, resource_id)
    )


@router.get("/DiagnosticReport/{resource_id}/_history/{version}", response_class=Response)
def read_version(
    resource_id: ResourceId,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    actor: ResultsActor,
    state: State,
    db: Db,
) -> Response:
    """One signed version of a report."""
    return _answer(
        lambda: service.read_resource(
            db, state.store, state.settings, actor, resource_id, version=version
        )
    )
