"""The reader's worklist with the exam's clinical facts, and the same facts for one case.

Facts of the order and the image (priority, indication, patient age and sex from the
de-identified header, view, accession, assignment date) are the same in both arms; the AI's
part of a row (draft state, critical flags) comes from :func:`reads.worklist`, which leaves
it out of ``scp`` rows. Sorting, filtering and search run in the browser on these rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxrpilot.vocabulary import Role

from .._orm import Case, Exam, Image, Read
from ._common import Actor
from .reads import worklist as reads_worklist

FACTS = ("priority", "patient_age_years", "patient_sex", "view_position", "accession", "study_date")


def case_facts(db: Session, case_ids: list[int]) -> dict[int, dict[str, Any]]:
    """``{case_id: {priority, patient_age_years, patient_sex, view_position, accession,
    study_date}}`` (None where unknown)."""
    if not case_ids:
        return {}
    rows = db.execute(
        select(Case.id, Case.priority, Image.meta, Exam.accession_number, Exam.study_date)
        .join(Image, Case.image_id == Image.id)
        .outerjoin(Exam, Case.exam_id == Exam.id)
        .where(Case.id.in_(case_ids))
    ).all()
    out = {}
    for case_id, priority, meta, accession, study_date in rows:
        meta = meta or {}
        out[case_id] = {
            "priority": priority or "routine",
            "patient_age_years": meta.get("patient_age_years"),
            "patient_sex": meta.get("patient_sex"),
            "view_position": meta.get("view_position"),
            "accession": accession,
            "study_date": study_date.isoformat() if study_date else None,
        }
    return out


def case_with_facts(db: Session, case: Case) -> dict[str, Any]:
    """A case's fields (as :class:`CaseOut`) with its clinical facts."""
    from .._schemas import CaseOut

    facts = case_facts(db, [case.id]).get(case.id, {})
    return {**CaseOut.model_validate(case).model_dump(), **facts}


def reader_worklist(
    db: Session, actor: Actor, *, status: str | None = None
) -> list[dict[str, Any]]:
    """The actor's open reads (:func:`reads.worklist`) with each exam's facts, its
    indication and when it was assigned."""
    items = reads_worklist(db, actor, status=status)
    case_ids = sorted({i["case_id"] for i in items})
    facts = case_facts(db, case_ids)
    read_ids = [i["read_id"] for i in items]
    indications: dict[int, str] = {}
    assigned: dict[int, Any] = {}
    if items:
        cases = select(Case.id, Case.indication).where(Case.id.in_(case_ids))
        indications = {k: v for k, v in db.execute(cases).all()}
        reads = select(Read.id, Read.created_at).where(Read.id.in_(read_ids))
        assigned = {k: v for k, v in db.execute(reads).all()}
    for item in items:
        item.update(facts.get(item["case_id"], {}))
        item["indication"] = indications.get(item["case_id"], "")
        item["assigned_at"] = assigned.get(item["read_id"])
    return items


def set_priority(db: Session, actor: Actor, case_id: int, priority: str) -> Case:
    """Set a case's clinical priority (``routine``, ``urgent``, ``stat``); admins and
    coordinators only. Audited."""
    from .._errors import InvalidInput
    from .._orm import PRIORITIES
    from ._common import audit, get_or_404

    actor.require(Role.ADMIN, Role.COORDINATOR)
    if priority not in PRIORITIES:
        raise InvalidInput(
            f"priority {priority!r} is not known; expected one of {', '.join(PRIORITIES)}"
        )
    case = get_or_404(db, Case, case_id)
    if case.priority != priority:
        old, case.priority = case.priority, priority
        audit(db, actor, "case.priority", "case", case.id, old=old, new=priority)
        db.commit()
    return case
