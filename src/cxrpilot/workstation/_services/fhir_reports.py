"""Reports as FHIR: read one DiagnosticReport, or search them (by patient key, accession,
status), for :mod:`.._routes.fhir`.

Two kinds of resource: ``report-{read id}`` — a clinical read's report at its newest
signed version (``final``, then ``amended``; ``meta.versionId`` is the version, and
``_history/{version}`` reads an earlier one) — and ``ai-draft-{draft id}`` — an AI draft
(``preliminary``; a search lists the newest draft of each case). Reads of a reader study
are not served unless ``Settings.outbound_study_reads`` (they are research, not the
patient's record). Who may read: admins and coordinators, by login or by API token
(``read:results``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxrpilot.interop.fhir import STATUSES
from cxrpilot.vocabulary import Role

from .._errors import InvalidInput, NotFound
from .._orm import AiDraft, Case, Exam, Read, Report
from .._schemas import check_text
from .._settings import Settings
from .._storage import BlobStore
from ._common import Actor
from .outbound import draft_resource, exam_facts, signed_report_resource

READERS = (Role.ADMIN, Role.COORDINATOR)
MAX_COUNT = 200
_ID = re.compile(r"^(report|ai-draft)-([1-9][0-9]{0,9})$")


#: What a ``status`` list may look like before its codes are checked (and named back).
_STATUS_LIST = re.compile(r"[a-z-]{1,20}( *, *[a-z-]{1,20}){0,9}")
#: The longest patient key and accession number a search can match (their column widths).
_MAX_KEY = 64


@dataclass(frozen=True, slots=True)
class ReportSearch:
    """A checked DiagnosticReport search; ``None`` filters nothing.

    ``patient`` is the pseudonymous patient key (the ``Patient/`` prefix removed),
    ``statuses`` those asked of preliminary, final, amended, ``count`` the page size.
    """

    patient: str | None = None
    accession: str | None = None
    statuses: frozenset[str] = frozenset(STATUSES)
    count: int = 50

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ReportSearch:
        """The search that query parameters ``patient``, ``accession``, ``status`` and
        ``_count`` ask for (other names are the caller's to refuse; empty is no filter).

        Raises
        ------
        InvalidInput
            Naming the parameter and what it must be, never echoing its value: a key
            longer than any stored, NUL or a lone surrogate, a status not served, a
            ``_count`` that is not a whole number 0-:data:`MAX_COUNT`.
        """
        patient = (params.get("patient") or "").removeprefix("Patient/") or None
        accession = params.get("accession") or None
        for name, value in (("patient", patient), ("accession", accession)):
            if value is None:
                continue
            if len(value) > _MAX_KEY:
                raise InvalidInput(f"{name}: longer than {_MAX_KEY} characters (no {name} is)")
            try:
                check_text(value)
            except ValueError as exc:
                raise InvalidInput(f"{name}: {exc}") from None
        return cls(
            patient, accession, _statuses(params.get("status")), _count(params.get("_count", "50"))
        )


def _statuses(status: str | None) -> frozenset[str]:
    if not status:
        return frozenset(STATUSES)
    if not _STATUS_LIST.fullmatch(status.strip()):
        raise InvalidInput(
            f"status: give status codes separated by commas ({', '.join(STATUSES)})"
        )
    asked = {s.strip() for s in status.split(",") if s.strip()}
    if unknown := sorted(asked - set(STATUSES)):
        raise InvalidInput(
            f"status {', '.join(unknown)} is not one served here; use {', '.join(STATUSES)}"
        )
    return frozenset(asked)


def _count(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
        raise InvalidInput(f"_count must be a whole number 0-{MAX_COUNT}")
    if (count := int(raw)) > MAX_COUNT:
        raise InvalidInput(f"_count must be 0-{MAX_COUNT}, got {count}")
    return count


def _draft(db: Session, store: BlobStore, draft: AiDraft):
    return draft_resource(draft, exam_facts(db, store, db.get(Case, draft.case_id), images=False))


def _report(db: Session, store: BlobStore, read: Read, report: Report):
    facts = exam_facts(db, store, db.get(Case, read.case_id), images=False)
    return signed_report_resource(db, read, report, facts)


def _study_filter(settings: Settings):
    return None if settings.outbound_study_reads else Read.study_id.is_(None)


def read_resource(
    db: Session, store: BlobStore, settings: Settings, actor: Actor, resource_id: str,
    *, version: int | None = None,
):
    """One DiagnosticReport by id (and, for a report, optionally a version)."""
    actor.require(*READERS)
    match = _ID.match(resource_id)
    if match is None:
        raise NotFound(
            f"DiagnosticReport/{resource_id} does not exist (ids are report-N or ai-draft-N)"
        )
    kind, number = match.group(1), int(match.group(2))
    if kind == "ai-draft":
        draft = db.get(AiDraft, number)
        if draft is None or version not in (None, 1):
            raise NotFound(f"DiagnosticReport/{resource_id} does not exist")
        return _draft(db, store, draft)
    read = db.get(Read, number)
    if read is None or (read.study_id is not None and not settings.outbound_study_reads):
        raise NotFound(f"DiagnosticReport/{resource_id} does not exist")
    query = select(Report).where(Report.read_id == read.id, Report.signed_at.is_not(None))
    if version is not None:
        query = query.where(Report.version == version)
    report = db.scalar(query.order_by(Report.version.desc()).limit(1))
    if report is None:
        what = f" version {version}" if version is not None else ""
        raise NotFound(f"DiagnosticReport/{resource_id}{what} does not exist (not signed)")
    return _report(db, store, read, report)


def _exam_ids(db: Session, patient: str | None, accession: str | None):
    """Case ids whose exam matches the patient key and accession (None: no filter)."""
    if not patient and not accession:
        return None
    query = select(Case.id).join(Exam, Case.exam_id == Exam.id)
    if patient:
        query = query.where(Exam.patient_key == patient)
    if accession:
        query = query.where(Exam.accession_number == accession)
    return select(query.subquery().c.id)


def search(
    db: Session, store: BlobStore, settings: Settings, actor: Actor, asked: ReportSearch
) -> tuple[list[Any], int]:
    """DiagnosticReports matching every filter of ``asked``; returns ``(first page, total)``."""
    actor.require(*READERS)
    statuses = asked.statuses
    cases = _exam_ids(db, asked.patient, asked.accession)
    found: list[tuple[str, Any]] = []  # (sort key, builder)
    if statuses & {"final", "amended"}:
        newest = (
            select(Report.read_id, func.max(Report.version).label("version"))
            .where(Report.signed_at.is_not(None))
            .group_by(Report.read_id)
            .subquery()
        )
        query = (
            select(Report, Read)
            .join(newest, (Report.read_id == newest.c.read_id) & (Report.version == newest.c.version))
            .join(Read, Read.id == Report.read_id)
            .where(Report.status.in_(statuses & {"final", "amended"}))
            .order_by(Report.signed_at.desc(), Report.id.desc())
        )
        if (flt := _study_filter(settings)) is not None:
            query = query.where(flt)
        if cases is not None:
            query = query.where(Read.case_id.in_(cases))
        found += [(r.signed_at, ("report", r, rd)) for r, rd in db.execute(query).all()]
    if "preliminary" in statuses:
        newest_draft = select(func.max(AiDraft.id)).group_by(AiDraft.case_id)
        query = select(AiDraft).where(AiDraft.id.in_(newest_draft))
        if cases is not None:
            query = query.where(AiDraft.case_id.in_(cases))
        found += [(d.created_at, ("draft", d, None)) for d in db.scalars(query)]
    found.sort(key=lambda pair: pair[0], reverse=True)
    page = [
        _report(db, store, read, obj) if kind == "report" else _draft(db, store, obj)
        for _, (kind, obj, read) in found[: asked.count]
    ]
    return page, len(found)
