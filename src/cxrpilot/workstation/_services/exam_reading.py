"""What the read page shows of a read's exam: its images (the frontal it is drafted from,
the lateral beside it) and the patient's earlier exams with the reports the reader may see.

Which prior reports a reader sees (:func:`visible_prior_report`):

* only the reader's **own** signed reports of the prior exam. Readers of a reader study
  read independently: another reader's report of the prior is a second opinion, and, where
  the prior is itself a case of the study this reader has still to read, would unblind it;
* in a standard-practice (``scp``) read, only reports the reader signed in an ``scp`` read:
  a report written from an AI draft (an ``ai_assisted`` read) is AI content, and the
  ``scp`` arm must not see AI output, through a prior or otherwise. The prior's AI draft
  and maps are never sent here, in either arm (they belong to the prior's own read);
* the newest *signed* version (an amendment still being written is not shown).

The prior's images are served by ``/api/exams/{id}/images/{image_id}/...`` to whoever may
see a later exam of the patient (:func:`.exams.check_exam_access`): pixels and the
de-identified header only, no AI content.

In a reader study a prior that is a case of the same study which the reader has not yet
signed (:func:`.exams.study_prior_hidden`) is **left out** of the list: not sent, not
counted, no placeholder; it appears once the reader has signed their reads of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxrpilot.vocabulary import Arm

from .._orm import Case, Exam, Image, Read, Report
from ._common import Actor, signer_name
from .exams import _image_out, exam_of_case, priors, study_prior_hidden
from .reads import _own_read

__all__ = ["read_exam", "visible_prior_report"]

#: Why a prior shows no report, by what the reader may or may not see.
NOTES = {
    "none": "no signed report of yours for this exam",
    "ai_hidden": "written with the AI draft: not shown in a standard-practice read",
}


def visible_prior_report(
    db: Session, actor: Actor, read: Read, prior_case_id: int | None
) -> tuple[Report | None, str]:
    """The newest signed report of ``prior_case_id`` that the reader of ``read`` may see
    beside it, and a note on why there is none (``""`` when there is one). See the module
    docstring for the rules."""
    if prior_case_id is None or actor.user is None:
        return None, NOTES["none"]
    rows = db.execute(
        select(Report, Read.arm)
        .join(Read, Read.id == Report.read_id)
        .where(
            Read.case_id == prior_case_id,
            Read.reader_id == actor.user.id,
            Report.signed_at.is_not(None),
        )
        .order_by(Report.signed_at.desc(), Report.id.desc())
    ).all()
    if read.arm == Arm.SCP:
        allowed = [r for r, arm in rows if arm == Arm.SCP and r.origin != "ai_draft"]
        if not allowed:
            return None, NOTES["ai_hidden"] if rows else NOTES["none"]
        return allowed[0], ""
    return (rows[0][0], "") if rows else (None, NOTES["none"])


def _images(db: Session, exam: Exam, case: Case | None) -> list[dict[str, Any]]:
    images = db.scalars(select(Image).where(Image.exam_id == exam.id).order_by(Image.id))
    out = []
    for image in images:
        item = _image_out(image, case)
        item["viewer_url"] = f"{item['url']}/viewer"
        item["pixels_base"] = item["url"]
        out.append(item)
    return out


def _report_out(report: Report) -> dict[str, Any]:
    return {
        "status": report.status,
        "version": report.version,
        "indication_text": report.indication_text,
        "comparison_text": report.comparison_text,
        "findings_text": report.findings_text,
        "impression_text": report.impression_text,
        "signed_at": report.signed_at,
        "signed_by": signer_name(report),
    }


def read_exam(db: Session, actor: Actor, read_id: int) -> dict[str, Any]:
    """The exam of a read (None for an image without a DICOM study) with its images, and
    the patient's earlier exams (newest first), each with its images, its status for this
    reader and the report of it the reader may see (None, with a note, otherwise)."""
    read = _own_read(db, actor, read_id)
    case = db.get(Case, read.case_id)
    exam = exam_of_case(db, case) if case is not None else None
    if exam is None:
        return {"exam": None, "priors": []}
    out_priors = []
    for prior in priors(db, exam):
        if study_prior_hidden(db, read.reader_id, read.study_id, prior["case_id"]):
            continue  # a case of this study the reader has still to read
        prior_exam = db.get(Exam, prior["id"])
        prior_case = db.get(Case, prior["case_id"]) if prior["case_id"] else None
        report, note = visible_prior_report(db, actor, read, prior["case_id"])
        images = _images(db, prior_exam, prior_case)
        out_priors.append(
            {
                **prior,
                "images": images,
                "views": [i["view"] or "unknown" for i in images],
                "status": "signed"
                if report is not None
                else _own_status(db, actor, prior["case_id"]),
                "report": _report_out(report) if report is not None else None,
                "report_note": note,
            }
        )
    return {
        "exam": {
            "id": exam.id,
            "accession_number": exam.accession_number,
            "study_date": exam.study_date.isoformat() if exam.study_date else None,
            "modality": exam.modality,
            "case_id": case.id,
            "case_image_id": case.image_id,
            "images": _images(db, exam, case),
        },
        "priors": out_priors,
    }


def _own_status(db: Session, actor: Actor, case_id: int | None) -> str:
    """The reader's own read status of a prior case without a visible report: ``new`` or
    ``in_progress`` (a read of theirs), ``signed`` (hidden in this arm), else ``not read``."""
    if case_id is None or actor.user is None:
        return "not read"
    statuses = set(
        db.scalars(
            select(Read.status).where(Read.case_id == case_id, Read.reader_id == actor.user.id)
        )
    )
    for status in ("signed", "in_progress", "new"):
        if status in statuses:
            return status
    return "not read"
