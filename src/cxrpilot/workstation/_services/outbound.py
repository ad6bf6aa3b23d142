"""What goes out when a report is signed: the DICOM SR of the report, the SR of the AI
findings, the FHIR DiagnosticReport — queued in the outbox in the transaction that signs.

:class:`Outbound` is installed on the app's sessions (``Session.info["on_report_signed"]``),
and :func:`cxrpilot.workstation._services.reads.sign` calls it before its commit: the
signature and its outbox items commit together or not at all. Documents are built here,
once, with their UIDs fixed (a re-send is the same instance); the sender
(:mod:`.._outbox`) only delivers bytes.

Which reads: clinical reads (outside a reader study) unless
``Settings.outbound_study_reads``. Which documents: the report SR and the AI-findings SR
when a PACS is configured and the case's images have DICOM UIDs (an uploaded PNG has none:
nothing to reference, nothing sent, said in the audit log); the AI SR once per draft, and
only when the model assessed a finding; the FHIR resource when a FHIR server is configured.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cxrpilot.errors import CxrpilotError
from cxrpilot.vocabulary import Role

from .._interop_orm import OutboxItem
from .._orm import AiDraft, Case, Exam, Image, Read, Report, utcnow
from .._settings import Settings
from .._storage import BlobStore
from ._common import Actor, audit, signer_name

__all__ = ["ExamFacts", "exam_facts", "Outbound", "report_resource_id", "draft_resource_id"]

log = logging.getLogger(__name__)
SECTIONS = ("indication", "technique", "comparison")


@dataclass(frozen=True)
class ExamFacts:
    """A case's exam as the outbound documents name it."""

    study_instance_uid: str | None
    accession_number: str = ""
    patient_key: str = ""
    study_date: date | None = None
    images: tuple = ()  # of cxrpilot.interop.sr.SourceImage


def report_resource_id(read_id: int) -> str:
    """The FHIR id of a read's report (one resource; each signed version is a version)."""
    return f"report-{read_id}"


def draft_resource_id(draft_id: int) -> str:
    return f"ai-draft-{draft_id}"


def _header(store: BlobStore, image: Image):
    import pydicom

    if not image.dicom_path:
        return None
    return pydicom.dcmread(io.BytesIO(store.read(image.dicom_path)), stop_before_pixels=True)


def _exam_of(db: Session, case: Case) -> Exam | None:
    return db.get(Exam, case.exam_id) if case.exam_id is not None else None


def exam_facts(db: Session, store: BlobStore | None, case: Case, *, images: bool = True):
    """The exam of ``case``: from its :class:`Exam` row (StudyInstanceUID, accession,
    pseudonymous patient key; every image of the exam that has a stored DICOM header), or,
    for a case imported before exams existed, from its own image's stored header (study
    UID only). ``images=False`` reads no file where the exam row suffices."""
    from cxrpilot.interop.sr import SourceImage

    exam = _exam_of(db, case)
    rows: list[Image] = []
    if exam is not None:
        rows = list(
            db.scalars(select(Image).where(Image.exam_id == exam.id).order_by(Image.id))
        )
    main = db.get(Image, case.image_id)
    if main is not None and main not in rows:
        rows.insert(0, main)
    sources, study_uid = [], exam.study_instance_uid if exam is not None else None
    if images or study_uid is None:
        for image in rows:
            header = _header(store, image) if store is not None else None
            if header is None:
                continue
            study_uid = study_uid or str(header.get("StudyInstanceUID", "") or "") or None
            try:
                sources.append(SourceImage.from_dataset(header))
            except CxrpilotError:
                continue
    return ExamFacts(
        study_instance_uid=study_uid,
        accession_number=(exam.accession_number or "") if exam is not None else "",
        patient_key=(exam.patient_key or "") if exam is not None else "",
        study_date=exam.study_date if exam is not None else None,
        images=tuple(sources),
    )


def _sections(report: Report) -> dict[str, str]:
    return {name: getattr(report, f"{name}_text") or "" for name in SECTIONS}


class Outbound:
    """Builds and queues the outbound documents of a signed report (see the module)."""

    def __init__(self, settings: Settings, store: BlobStore) -> None:
        self.settings = settings
        self.store = store
        self.listeners: list[Any] = []

    @property
    def pacs(self) -> bool:
        s = self.settings
        return bool(s.pacs_store_host or s.pacs_stow_url)

    @property
    def fhir(self) -> bool:
        return bool(self.settings.fhir_url)

    def __call__(self, db: Session, report: Report) -> list[OutboxItem]:
        """Queue the documents of ``report`` (just signed) in ``db``'s transaction."""
        if not (self.pacs or self.fhir):
            return []
        read = db.get(Read, report.read_id)
        if read is None or (read.study_id is not None and not self.settings.outbound_study_reads):
            return []
        case = db.get(Case, read.case_id)
        assert case is not None
        items: list[OutboxItem] = []
        try:
            facts = exam_facts(db, self.store, case, images=self.pacs)
            if self.pacs:
                items += self._srs(db, report, facts)
            if self.fhir:
                items.append(self._fhir(db, read, report, facts))
        except Exception as exc:  # noqa: BLE001 - a broken document must not block a signature
            log.error("outbox: the documents of report %s were not built (%s)", report.id,
                      type(exc).__name__)
            audit(db, Actor(None), "outbox.error", "report", report.id,
                  error=f"{type(exc).__name__}: {exc}"[:500])
            return []
        for item in items:
            db.add(item)
        db.flush()
        if items:
            from sqlalchemy import event

            for listener in self.listeners:
                event.listen(db, "after_commit", lambda _s, f=listener: f(), once=True)
        return items

    # -- DICOM SR ----------------------------------------------------------------------
    def _srs(self, db: Session, report: Report, facts: ExamFacts) -> list[OutboxItem]:
        from pydicom.uid import generate_uid

        from cxrpilot.interop import sr

        if not facts.study_instance_uid or not facts.images:
            audit(
                db,
                Actor(None),
                "outbox.skip",
                "report",
                report.id,
                reason="the case's images have no DICOM UIDs (not a DICOM import): no SR",
            )
            return []
        exam = sr.ExamRef(
            facts.study_instance_uid,
            facts.images,
            accession_number=facts.accession_number[:16],
            patient_key=facts.patient_key,
            study_date=facts.study_date,
        )
        items = []
        predecessor = None
        if report.amends_id is not None:
            prev = db.scalar(
                select(OutboxItem).where(
                    OutboxItem.kind == "report_sr", OutboxItem.report_id == report.amends_id
                )
            )
            if prev is not None:
                predecessor = sr.SrRef(
                    facts.study_instance_uid, prev.series_uid or "", prev.document_uid
                )
        status = "amended" if predecessor is not None else "final"
        uid = str(generate_uid())
        content = sr.ReportContent(
            report.findings_text,
            report.impression_text,
            status=status,
            signer=signer_name(report, db) or "unknown",
            signed_at=report.signed_at,
            version=report.version,
            predecessor=predecessor,
            organization=self.settings.institution_name,
            indication_text=report.indication_text or "",
            technique_text=report.technique_text or "",
            comparison_text=report.comparison_text or "",
            amendment_reason=(report.amendment_reason or "") if report.version > 1 else "",
        )
        doc = sr.report_sr(content, exam, sop_instance_uid=uid)
        items.append(
            OutboxItem(
                kind="report_sr",
                dedup_key=f"report_sr:report:{report.id}",
                report_id=report.id,
                document_uid=uid,
                series_uid=str(doc.SeriesInstanceUID),
                content_type="application/dicom",
                payload=sr.to_bytes(doc),
            )
        )
        draft = db.get(AiDraft, report.draft_id) if report.draft_id else None
        if draft is not None and self._ai_sr_due(db, draft):
            ai_uid = str(generate_uid())
            try:
                ai = sr.ai_findings_sr(
                    draft.findings,
                    exam,
                    model_id=draft.model_id,
                    model_version=draft.model_version,
                    created_at=draft.created_at,
                    sop_instance_uid=ai_uid,
                )
            except CxrpilotError as exc:  # e.g. the model assessed no finding
                audit(db, Actor(None), "outbox.skip", "draft", draft.id, reason=str(exc))
            else:
                items.append(
                    OutboxItem(
                        kind="ai_sr",
                        dedup_key=f"ai_sr:draft:{draft.id}",
                        report_id=report.id,
                        draft_id=draft.id,
                        document_uid=ai_uid,
                        series_uid=str(ai.SeriesInstanceUID),
                        content_type="application/dicom",
                        payload=sr.to_bytes(ai),
                    )
                )
        return items

    @staticmethod
    def _ai_sr_due(db: Session, draft: AiDraft) -> bool:
        return (
            db.scalar(select(OutboxItem.id).where(OutboxItem.dedup_key == f"ai_sr:draft:{draft.id}"))
            is None
        )

    # -- FHIR --------------------------------------------------------------------------
    def _fhir(self, db: Session, read: Read, report: Report, facts: ExamFacts) -> OutboxItem:
        from cxrpilot.interop import fhir

        resource_id = report_resource_id(read.id)
        resource = signed_report_resource(db, read, report, facts)
        # An older version not delivered yet must not arrive after this one.
        db.execute(
            update(OutboxItem)
            .where(
                OutboxItem.kind == "fhir_report",
                OutboxItem.document_uid == resource_id,
                OutboxItem.status.in_(("pending", "failed")),
            )
            .values(status="superseded", lease_until=None)
        )
        return OutboxItem(
            kind="fhir_report",
            dedup_key=f"fhir_report:report:{report.id}",
            report_id=report.id,
            document_uid=resource_id,
            content_type=fhir.FHIR_JSON,
            payload=fhir.to_json(resource).encode(),
        )


def fhir_exam(facts: ExamFacts):
    from cxrpilot.interop import fhir

    return fhir.ExamIds(facts.study_instance_uid, facts.accession_number, facts.patient_key)


def signed_report_resource(db: Session, read: Read, report: Report, facts: ExamFacts):
    """The FHIR DiagnosticReport of a signed report version."""
    from cxrpilot.interop import fhir

    return fhir.signed_report(
        resource_id=report_resource_id(read.id),
        status="final" if report.version == 1 else "amended",
        exam=fhir_exam(facts),
        findings_text=report.findings_text,
        impression_text=report.impression_text,
        signer=signer_name(report, db) or "unknown",
        signed_at=report.signed_at or utcnow(),
        version=report.version,
        sections=_sections(report),
        amendment_reason=(report.amendment_reason or "") if report.version > 1 else "",
    )


def draft_resource(draft: AiDraft, facts: ExamFacts):
    """The FHIR DiagnosticReport (preliminary) of an AI draft."""
    from cxrpilot.interop import fhir

    return fhir.ai_draft_report(
        resource_id=draft_resource_id(draft.id),
        exam=fhir_exam(facts),
        findings=draft.findings,
        findings_text=draft.findings_text,
        impression_text=draft.impression_text,
        model_id=draft.model_id,
        model_version=draft.model_version,
        drafted_at=draft.created_at,
    )


def list_outbox(
    db: Session, actor: Actor, *, status: str | None = None, limit: int = 200
) -> list[OutboxItem]:
    """Outbox items, newest first (admins)."""
    from .._interop_orm import OUTBOX_STATUSES

    actor.require(Role.ADMIN)
    query = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if status is not None:
        if status not in OUTBOX_STATUSES:
            from .._errors import InvalidInput

            raise InvalidInput(
                f"outbox status {status!r} is not known; expected one of {', '.join(OUTBOX_STATUSES)}"
            )
        query = query.where(OutboxItem.status == status)
    return list(db.scalars(query))


def retry_outbox(db: Session, actor: Actor, item_id: int) -> OutboxItem:
    """Queue a failed item again, due now (admins)."""
    from .._errors import Conflict, NotFound

    actor.require(Role.ADMIN)
    item = db.get(OutboxItem, item_id)
    if item is None:
        raise NotFound(f"outbox item {item_id} does not exist")
    if item.status != "failed":
        raise Conflict(f"outbox item {item_id} is {item.status}; only a failed item is retried")
    item.status, item.next_attempt_at, item.attempts = "pending", utcnow(), 0
    audit(db, actor, "outbox.retry", "outbox", item.id, kind=item.kind)
    db.commit()
    return item
