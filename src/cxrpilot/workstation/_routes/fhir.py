"""/fhir: the reports as FHIR R4 DiagnosticReports, read-only (``application/fhir+json``).

``GET /fhir/DiagnosticReport/{id}``, ``GET /fhir/DiagnosticReport/{id}/_history/{version}``
and ``GET /fhir/DiagnosticReport?patient=&accession=&status=&_count=`` (a ``searchset``
Bundle). By login session or API token with ``read:results``. ``GET /fhir/metadata``: the
CapabilityStatement, built from this module's tables (:data:`INTERACTIONS`,
:data:`SEARCH_PARAMETERS`), open to anyone (as FHIR clients expect). Errors of these routes
are OperationOutcomes (also a refused login or scope, and a malformed path, through
:class:`FhirRoute`); a ``_format`` other than JSON, or without ``_format`` an ``Accept``
header that allows no JSON FHIR type (e.g. ``application/fhir+xml``), is a 406.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from cxrpilot.interop.fhir import FHIR_JSON, FORMATS, SearchParam, searchset, to_json

from .._errors import WorkstationError
from .._schemas import INT32_MAX
from .._services import fhir_reports as service
from ..deps import Db, ResultsActor, State


class FhirRoute(APIRoute):
    """A route whose errors raised before its body (the login or token check, path
    validation) are OperationOutcomes too, not the API's ``{"detail": ...}``."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except WorkstationError as exc:
                return error_outcome(exc)
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                    for e in list(exc.errors())[:3]
                )
                return outcome(400, f"invalid request: {problems}")

        return fhir_handler


router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)

#: DiagnosticReport interactions served (and declared in /fhir/metadata).
INTERACTIONS = ("read", "vread", "search-type")
#: DiagnosticReport search parameters served (and declared); any other is a 400.
SEARCH_PARAMETERS = (
    SearchParam(
        "patient", "reference",
        "The pseudonymous patient key (Patient/{key} or {key}); never a name or MRN.",
        "http://hl7.org/fhir/SearchParameter/clinical-patient",
    ),
    SearchParam("accession", "token", "The exam's accession number (exact match)."),
    SearchParam(
        "status", "token",
        "preliminary (AI drafts), final, amended; several comma-separated.",
        "http://hl7.org/fhir/SearchParameter/DiagnosticReport-status",
    ),
    SearchParam("_count", "number", "Page size: 0-200, default 50 (newest first)."),
)
SEARCH_PARAMS = frozenset({p.name for p in SEARCH_PARAMETERS} | {"_format"})
SECURITY = (
    "A login session (cookie) or an API token (Authorization: Bearer cxrp_...) with the "
    "scope read:results, of an admin or coordinator account. /metadata needs neither."
)
ResourceId = Annotated[str, Path(max_length=64)]
_ISSUE_CODES = {
    400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 406: "not-supported",
    422: "invalid",
}


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


def error_outcome(exc: WorkstationError) -> Response:
    """The OperationOutcome of a workstation error: its status (a 422 is FHIR's 400) and
    message, with ``Retry-After`` when the error says when to try again."""
    answer = outcome(400 if exc.status_code == 422 else exc.status_code, str(exc))
    if (retry_after := getattr(exc, "retry_after_s", None)) is not None:
        answer.headers["Retry-After"] = str(retry_after)
    return answer


#: Media ranges of an ``Accept`` header that JSON FHIR answers (``application/json+fhir``:
#: the DSTU2 name some clients still send).
_JSON_RANGES = frozenset(
    {FHIR_JSON, "application/json", "application/json+fhir", "application/*", "*/*"}
)


def accepts_json(accept: str) -> bool:
    """Whether an ``Accept`` header allows a JSON FHIR answer: one of its media ranges is in
    :data:`_JSON_RANGES` with a quality above 0 (parameters other than ``q`` are ignored).

    >>> accepts_json("application/fhir+xml"), accepts_json("application/xml, */*;q=0.1")
    (False, True)
    >>> accepts_json("application/fhir+json;q=0, application/fhir+xml")
    False
    """
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if media.lower() in _JSON_RANGES and quality > 0:
            return True
    return False


def _format_refused(request: Request) -> Response | None:
    """A 406 OperationOutcome when ``_format``, or without it the ``Accept`` header, allows
    no JSON (``_format`` overrides ``Accept``, as FHIR says; no or an empty ``Accept`` is
    JSON)."""
    asked = request.query_params.get("_format")
    if asked is not None:
        if asked.split(";")[0].strip() in FORMATS + ("application/json",):
            return None
        return outcome(406, f"_format: not served; use {' or '.join(FORMATS)} (JSON only)")
    accept = request.headers.get("accept", "").strip()
    if not accept or accepts_json(accept):
        return None
    return outcome(
        406, f"Accept: no JSON type allowed; this server answers {FHIR_JSON} only (JSON only)"
    )


def _answer(request: Request, build: Callable[[], Any]) -> Response:
    if (refused := _format_refused(request)) is not None:
        return refused
    try:
        resource = build()
    except WorkstationError as exc:
        return error_outcome(exc)
    return Response(to_json(resource), media_type=FHIR_JSON)


#: What a search parameter's name may look like to be named back.
_NAME = re.compile(r"[A-Za-z0-9_:.-]{1,32}")


@router.get("/DiagnosticReport", response_class=Response)
def search(request: Request, actor: ResultsActor, state: State, db: Db) -> Response:
    """Search: ``patient`` (pseudonymous key), ``accession``, ``status`` (preliminary,
    final, amended; comma-separated), ``_count`` (page size, default 50, at most 200);
    the values are checked by :meth:`~.._services.fhir_reports.ReportSearch.parse`."""
    unknown = sorted(set(request.query_params) - SEARCH_PARAMS)
    if unknown:
        named = all(_NAME.fullmatch(u) for u in unknown)
        return outcome(
            400,
            f"search parameter {', '.join(unknown) if named else '(not shown)'} is not "
            f"supported; use {', '.join(sorted(SEARCH_PARAMS - {'_format'}))}",
        )
    try:
        query = service.ReportSearch.parse(request.query_params)
    except WorkstationError as exc:
        return error_outcome(exc)

    def build():
        page, total = service.search(db, state.store, state.settings, actor, query)
        base = str(request.base_url).rstrip("/") + "/fhir"
        return searchset(page, base_url=base, self_url=str(request.url), total=total)

    return _answer(request, build)


@router.get("/metadata", response_class=Response)
def metadata(request: Request, state: State) -> Response:
    """The CapabilityStatement: DiagnosticReport read, vread and search (the parameters in
    :data:`SEARCH_PARAMETERS`), JSON only."""
    from cxrpilot import __version__
    from cxrpilot.interop.fhir import capability_statement

    since = state.extra.setdefault("fhir_metadata_date", datetime.now(UTC).replace(microsecond=0))
    base = str(request.base_url).rstrip("/") + "/fhir"
    return _answer(
        request,
        lambda: capability_statement(
            base_url=base,
            software_version=__version__,
            date=since,
            interactions=INTERACTIONS,
            search_params=SEARCH_PARAMETERS,
            security=SECURITY,
        ),
    )


@router.get("/DiagnosticReport/{resource_id}", response_class=Response)
def read(
    request: Request, resource_id: ResourceId, actor: ResultsActor, state: State, db: Db
) -> Response:
    """One report (``report-N``: the newest signed version) or AI draft (``ai-draft-N``)."""
    return _answer(
        request,
        lambda: service.read_resource(db, state.store, state.settings, actor, resource_id)
    )


@router.get("/DiagnosticReport/{resource_id}/_history/{version}", response_class=Response)
def read_version(
    request: Request,
    resource_id: ResourceId,
    version: Annotated[int, Path(ge=1, le=INT32_MAX)],
    actor: ResultsActor,
    state: State,
    db: Db,
) -> Response:
    """One signed version of a report."""
    return _answer(
        request,
        lambda: service.read_resource(
            db, state.store, state.settings, actor, resource_id, version=version
        )
    )
