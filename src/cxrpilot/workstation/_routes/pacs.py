"""/api/pacs: pull new CR/DX studies from the configured PACS (DICOMweb) on demand."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter
from pydantic import BeforeValidator, Field
from starlette.concurrency import run_in_threadpool

from cxrpilot.errors import InvalidInputError
from cxrpilot.vocabulary import Role

from .._errors import InvalidInput, WorkstationError
from .._schemas import _In
from .._services.pacs import record_pull
from ..deps import IngestActor, State

router = APIRouter(prefix="/api/pacs", tags=["pacs"])


class PacsUnavailable(WorkstationError):
    """The PACS cannot be reached or answered with an error."""

    status_code = 502


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_text(value: object) -> object:
    """Only ``YYYY-MM-DD`` text is a date here (not a Unix timestamp, number or datetime)."""
    if value is not None and not (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        raise InvalidInputError("give the date as text YYYY-MM-DD")
    return value


#: A calendar date sent as ``YYYY-MM-DD`` (and a real day: 2026-02-30 is refused).
IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]


class PullIn(_In):
    #: Studies dated this day or later (None: every CR/DX study of the PACS).
    since: IsoDate | None = None
    #: Retrieve again the instances earlier pulls were refused (they are skipped otherwise).
    retry_refused: Annotated[bool, Field(strict=True)] = False


@router.post("/pull")
async def pull(body: PullIn, actor: IngestActor, state: State) -> dict:
    """QIDO-RS search of ``CXRPILOT_PACS_URL`` for CR/DX studies since ``since``, WADO-RS
    retrieve of the instances not stored yet; they become cases and are drafted. Admins
    only (by session, or an `ingest` API token of an admin); the URL is the configured one
    (a request cannot point the server elsewhere)."""
    actor.require(Role.ADMIN)
    if not state.settings.pacs_url:
        raise InvalidInput("no PACS configured: set CXRPILOT_PACS_URL to its DICOMweb root")
    from cxrpilot.interop.dicomweb import DicomWebError

    try:
        report = await run_in_threadpool(
            state.inbound.pull, since=body.since, retry_refused=body.retry_refused
        )
    except DicomWebError as exc:
        raise PacsUnavailable(str(exc)) from exc
    out = report.to_dict()
    with state.sessions() as db:
        record_pull(db, actor, out)
    return out
