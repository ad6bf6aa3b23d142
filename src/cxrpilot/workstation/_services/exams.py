"""Exams: images grouped by DICOM study into one case, priors by pseudonymous patient key.

An image whose DICOM header names a StudyInstanceUID joins that study's :class:`Exam`
(created on its first image). Each exam has one case: the first frontal image is the
case's image and is drafted; a lateral (or oblique) view is kept and shown beside it and
not drafted; an exam with only a lateral gets a case without a draft that says why
(``not_drafted_reason``), and the first frontal that arrives later becomes its image and
is drafted (unless a reader has started on it). The same SOP instance (whatever its
encoding) or the same bytes again give the existing case and store nothing.

The patient key is HMAC-SHA256 of the Patient ID under the server's patient-key secret;
the ID itself is never stored. Two stores racing on one study or one instance end with one
exam, one case and one image (unique constraints, and a retry of the loser).

**Priors in a reader study** (:func:`study_prior_hidden`): beside a read of a study, an
earlier exam of the patient that is itself a case of that study which the reader has still
to read (a read of theirs of it in the study not yet signed, e.g. the crossover's second
period) is hidden: not listed, and its images and header refused through the later exam
(:func:`check_exam_access`). Readers of a study read each case independently, and the
prior is a case they will read later. Once all their reads of it in the study are signed
it shows as any prior. Outside studies (ad hoc reads) nothing is hidden.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxrpilot.imaging import Radiograph
from cxrpilot.vocabulary import Role

from .._errors import Conflict, Forbidden, NotFound
from .._orm import Case, Exam, Image, Job, Read, utcnow
from .._storage import BlobStore
from ._common import Actor, audit
from .png16 import encode_png16

__all__ = [
    "Loaded",
    "ingest",
    "exam_of_case",
    "exam_detail",
    "priors",
    "check_exam_access",
    "study_prior_hidden",
    "uid_digest",
]

log = logging.getLogger(__name__)

STAFF = (Role.ADMIN, Role.COORDINATOR)
_RETRIES = 3


@dataclass(frozen=True)
class Loaded:
    """An image decoded and checked by the loader, ready to be stored."""

    radiograph: Radiograph
    dicom_file: bytes | None
    dicom_note: str
    identity: Any = None  # cxrpilot.imaging.StudyIdentity | None
    not_drafted_reason: str = ""


def uid_digest(uid: str | None) -> str:
    """A short digest of a UID for logs (UIDs identify a patient's study)."""
    return hashlib.sha256((uid or "").encode()).hexdigest()[:12]


def _image_meta(rg: Radiograph) -> dict[str, Any]:
    return {
        "modality": rg.modality,
        "view_position": rg.view_position,
        "body_part": rg.body_part,
        "photometric": rg.photometric,
        "bits_stored": rg.bits_stored,
        "pixel_spacing_mm": list(rg.pixel_spacing_mm) if rg.pixel_spacing_mm else None,
        "patient_age_years": rg.patient_age_years,
        "patient_sex": rg.patient_sex,
    }


def _case_of_image(db: Session, image: Image) -> Case | None:
    if image.exam_id is not None:
        case = db.scalar(select(Case).where(Case.exam_id == image.exam_id))
        if case is not None:
            return case
    return db.scalar(select(Case).where(Case.image_id == image.id).order_by(Case.id))


def _known(db: Session, sha256: str, sop_uid: str | None) -> Case | None:
    """The case of an image stored before: the same bytes, or the same SOP instance."""
    where = Image.source_sha256 == sha256
    if sop_uid:
        where = or_(where, Image.sop_instance_uid == sop_uid)
    image = db.scalar(select(Image).where(where).order_by(Image.id).limit(1))
    return _case_of_image(db, image) if image is not None else None


def _exam(db: Session, loaded: Loaded, patient_key: str | None, source: str) -> Exam | None:
    """The exam of the image's study, created (in its own transaction) on first sight."""
    ident = loaded.identity
    if ident is None or not ident.study_uid:
        return None
    query = select(Exam).where(Exam.study_instance_uid == ident.study_uid)
    exam = db.scalar(query)
    if exam is None:
        exam = Exam(
            study_instance_uid=ident.study_uid,
            accession_number=ident.accession_number,
            patient_key=patient_key,
            study_date=ident.study_date,
            modality=ident.modality,
            source=source,
        )
        db.add(exam)
        try:
            db.commit()
        except IntegrityError:  # another store created it first
            db.rollback()
            exam = db.scalar(query)
            if exam is None:
                raise
    else:  # fill what an earlier instance of the study lacked
        for attr, value in (
            ("accession_number", ident.accession_number),
            ("patient_key", patient_key),
            ("study_date", ident.study_date),
            ("modality", ident.modality),
        ):
            if getattr(exam, attr) is None and value is not None:
                setattr(exam, attr, value)
    return exam


def ingest(
    db: Session,
    store: BlobStore,
    actor: Actor,
    loaded: Loaded,
    *,
    patient_key: str | None = None,
    label: str | None = None,
    indication: str = "",
    reference_text: str = "",
    source: str = "upload",
) -> tuple[Case, bool]:
    """Store a loaded image in its exam's case. Returns ``(case, stored)``: ``stored`` is
    False when the image (the same bytes or SOP instance) was there before.

    Whoever calls this has checked the actor's right to import (the system's inbound
    paths act as :class:`Actor` ``(None)``).
    """
    rg = loaded.radiograph
    sop_uid = loaded.identity.sop_instance_uid if loaded.identity is not None else None
    known = _known(db, rg.sha256, sop_uid)
    if known is not None:
        return known, False
    display_sha, display_path = store.put(encode_png16(rg.pixels), "png")
    dicom_sha = dicom_path = None
    if loaded.dicom_file is not None:
        dicom_sha, dicom_path = store.put(loaded.dicom_file, "dcm")
    meta = _image_meta(rg)
    if rg.format == "dicom":
        meta["dicom"] = loaded.dicom_note
    if loaded.not_drafted_reason:
        meta["not_drafted_reason"] = loaded.not_drafted_reason
    for _attempt in range(_RETRIES):
        exam = _exam(db, loaded, patient_key, source)
        try:
            return _attach(
                db,
                actor,
                exam,
                Image(
                    source_sha256=rg.sha256,
                    display_sha256=display_sha,
                    display_path=display_path,
                    dicom_sha256=dicom_sha,
                    dicom_path=dicom_path,
                    format=rg.format,
                    width=int(rg.shape[1]),
                    height=int(rg.shape[0]),
                    meta=meta,
                    exam_id=exam.id if exam is not None else None,
                    sop_instance_uid=sop_uid,
                ),
                reason=loaded.not_drafted_reason,
                label=label,
                indication=indication,
                reference_text=reference_text,
                source=source,
            )
        except IntegrityError:  # a racing store of the same image, or of the exam's case
            db.rollback()
            known = _known(db, rg.sha256, sop_uid)
            if known is not None:
                return known, False
    raise Conflict("the image could not be stored: concurrent stores of its exam kept colliding")


def _attach(
    db: Session,
    actor: Actor,
    exam: Exam | None,
    image: Image,
    *,
    reason: str,
    label: str | None,
    indication: str,
    reference_text: str,
    source: str,
) -> tuple[Case, bool]:
    db.add(image)
    db.flush()
    case = db.scalar(select(Case).where(Case.exam_id == exam.id)) if exam is not None else None
    if case is None:
        case = Case(
            label=label or "",
            image_id=image.id,
            exam_id=exam.id if exam is not None else None,
            indication=indication,
            reference_text=reference_text,
            source=source,
            created_by_id=actor.user.id if actor.user else None,
            not_drafted_reason=reason,
        )
        db.add(case)
        db.flush()
        if not case.label:
            case.label = f"CASE-{case.id:06d}"
        if not reason:
            db.add(Job(kind="draft", case_id=case.id))
        action = "case.import"
    elif case.not_drafted_reason and not reason and not _has_reads(db, case.id):
        case.image_id = image.id  # the exam's first frontal: drafted from now on
        case.not_drafted_reason = ""
        db.add(Job(kind="draft", case_id=case.id))
        action = "exam.frontal_added"
    else:
        action = "exam.image_added"
    audit(
        db,
        actor,
        action,
        "case",
        case.id,
        source=source,
        format=image.format,
        image_sha256=image.display_sha256,
        exam_id=exam.id if exam is not None else None,
        drafted=not reason,
    )
    db.commit()
    return case, True


def _has_reads(db: Session, case_id: int) -> bool:
    return bool(db.scalar(select(Read.id).where(Read.case_id == case_id).limit(1)))


# -- reading exams -------------------------------------------------------------------------
def exam_of_case(db: Session, case: Case) -> Exam | None:
    return db.get(Exam, case.exam_id) if case.exam_id is not None else None


def _view(image: Image) -> str | None:
    from cxrpilot.imaging import classify_view

    meta = image.meta or {}
    kind = classify_view(meta.get("view_position"))
    if kind is None and meta.get("not_drafted_reason"):
        kind = "lateral" if "lateral" in meta["not_drafted_reason"] else "oblique"
    return kind


def image_url(image: Image) -> str:
    """The API path of an exam image (its ``/viewer``, ``/pixels.png`` and ``/header`` are
    below it)."""
    return f"/api/exams/{image.exam_id}/images/{image.id}"


def _image_out(image: Image, case: Case | None) -> dict[str, Any]:
    meta = image.meta or {}
    drafted = case is not None and case.image_id == image.id and not case.not_drafted_reason
    return {
        "id": image.id,
        "view": _view(image),
        "view_position": meta.get("view_position"),
        "modality": meta.get("modality"),
        "width": image.width,
        "height": image.height,
        "role": "drafted" if drafted else "shown",
        "not_drafted_reason": meta.get("not_drafted_reason") or None,
        "url": image_url(image),
    }


def _exam_summary(exam: Exam, case_id: int | None) -> dict[str, Any]:
    return {
        "id": exam.id,
        "study_instance_uid": exam.study_instance_uid,
        "accession_number": exam.accession_number,
        "study_date": exam.study_date.isoformat() if exam.study_date else None,
        "modality": exam.modality,
        "source": exam.source,
        "case_id": case_id,
    }


def priors(db: Session, exam: Exam, *, limit: int = 20) -> list[dict[str, Any]]:
    """Earlier exams of the same patient key, newest first (by study date, then arrival)."""
    if not exam.patient_key:
        return []
    query = (
        select(Exam, Case.id)
        .outerjoin(Case, Case.exam_id == Exam.id)
        .where(Exam.patient_key == exam.patient_key, Exam.id != exam.id)
    )
    if exam.study_date is not None:
        query = query.where(or_(Exam.study_date < exam.study_date, Exam.study_date.is_(None)))
    rows = db.execute(
        query.order_by(Exam.study_date.desc().nulls_last(), Exam.id.desc()).limit(limit)
    ).all()
    counts = dict(
        db.execute(
            select(Image.exam_id, func.count())
            .where(Image.exam_id.in_([e.id for e, _ in rows]))
            .group_by(Image.exam_id)
        ).all()
    )
    return [{**_exam_summary(e, cid), "images": int(counts.get(e.id, 0))} for e, cid in rows]


def study_prior_hidden(
    db: Session, reader_id: int, study_id: int | None, prior_case_id: int | None
) -> bool:
    """Whether a prior exam (its case ``prior_case_id``) is hidden beside a read of study
    ``study_id`` by ``reader_id``: the reader has a read of that case in the same study that
    is not signed yet (see the module docstring). Never outside a study."""
    if study_id is None or prior_case_id is None:
        return False
    unsigned = select(Read.id).where(
        Read.study_id == study_id,
        Read.case_id == prior_case_id,
        Read.reader_id == reader_id,
        Read.status != "signed",
    )
    return db.scalar(unsigned.limit(1)) is not None


def _hidden_beside(
    db: Session, actor: Actor, case_id: int | None, prior_case_id: int | None
) -> bool:
    """Whether a radiologist's reads of ``case_id`` (those available now) all hide the prior
    case ``prior_case_id`` (a reader-study rule, :func:`study_prior_hidden`). False without
    such reads: other rules decide."""
    if actor.role != Role.RADIOLOGIST or actor.user is None or case_id is None:
        return False
    now = utcnow()
    reads = [
        r
        for r in db.scalars(
            select(Read).where(Read.case_id == case_id, Read.reader_id == actor.user.id)
        )
        if r.available_from is None or r.available_from <= now
    ]
    return bool(reads) and all(
        study_prior_hidden(db, actor.user.id, r.study_id, prior_case_id) for r in reads
    )


def exam_detail(db: Session, exam: Exam, actor: Actor | None = None) -> dict[str, Any]:
    """The exam as the API shows it: identifiers, its images with their view, priors (to a
    non-staff ``actor`` only those they may open and that no reader-study rule hides)."""
    case = db.scalar(select(Case).where(Case.exam_id == exam.id))
    images = db.scalars(select(Image).where(Image.exam_id == exam.id).order_by(Image.id))
    shown = priors(db, exam)
    if actor is not None and actor.role not in STAFF:
        shown = [
            p
            for p in shown
            if not _hidden_beside(db, actor, case.id if case else None, p["case_id"])
            and _may_see(db, actor, p["id"])
        ]
    return {
        **_exam_summary(exam, case.id if case else None),
        "images": [_image_out(i, case) for i in images],
        "priors": shown,
    }


def _may_see(db: Session, actor: Actor, exam_id: int) -> bool:
    try:
        check_exam_access(db, actor, exam_id)
    except Forbidden:
        return False
    return True


def check_exam_access(db: Session, actor: Actor, exam_id: int) -> Exam:
    """The exam, if ``actor`` may see it: staff; whoever may see its case; a reader or
    evaluator of a later exam of the same patient (its priors), unless a reader-study rule
    hides it beside every read of theirs of that exam (:func:`study_prior_hidden`).
    Otherwise Forbidden."""
    from .cases import check_case_access

    exam = db.get(Exam, exam_id)
    if exam is None:
        raise NotFound(f"exam {exam_id} does not exist")
    if actor.role in STAFF:
        return exam
    own = db.scalar(select(Case.id).where(Case.exam_id == exam.id))
    if own is not None:
        try:
            check_case_access(db, actor, own)
            return exam
        except Forbidden:
            pass
    if exam.patient_key:
        later = select(Exam.id).where(Exam.patient_key == exam.patient_key, Exam.id != exam.id)
        if exam.study_date is not None:
            later = later.where(or_(Exam.study_date >= exam.study_date, Exam.study_date.is_(None)))
        later_ids = list(db.scalars(later.limit(50)))
        for case_id in db.scalars(select(Case.id).where(Case.exam_id.in_(later_ids))):
            try:
                check_case_access(db, actor, case_id)
            except Forbidden:
                continue
            if not _hidden_beside(db, actor, case_id, own):
                return exam
    raise Forbidden(f"exam {exam_id} is not assigned to you")
