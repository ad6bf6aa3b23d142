"""The blinded evaluation phase (Likert, RADPEER, pairwise preference) and the tidy export."""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cxrpilot.vocabulary import RADPEER_SCORES, Arm, MemberRole, Role

from .._errors import Conflict, Forbidden, InvalidInput, NotFound
from .._orm import Case, Read, Report, User, utcnow
from .._study_orm import (
    EvaluationRating,
    EvaluationTask,
    ProtocolDeviation,
    ReaderStudy,
    StudyMember,
)
from ._common import Actor, audit, get_or_404
from ._locks import lock_get
from .studies import deviations, record_seed

STAFF = (Role.ADMIN, Role.COORDINATOR)
PREFERENCES = ("left", "right", "none")



def _signed_reports(db: Session, study_id: int) -> list[tuple[Report, Read]]:
    """The latest signed version of every read of a study."""
    latest = (
        select(func.max(Report.version))
        .where(Report.read_id == Read.id, Report.signed_at.is_not(None))
        .correlate(Read)
        .scalar_subquery()
    )
    rows = db.execute(
        select(Report, Read)
        .join(Read, Report.read_id == Read.id)
        .where(Read.study_id == study_id, Report.version == latest)
        .order_by(Read.case_id, Read.id)
    ).all()
    return [(rep, read) for rep, read in rows]


def _exported_reports(db: Session, study_id: int) -> list[tuple[Report, Read]]:
    """Per read, the version its evaluation rates: the one frozen when evaluation started,
    else (not frozen: signed after, or no evaluation yet) the latest signed version."""
    frozen = {
        read.id: (rep, read)
        for rep, read in db.execute(
            select(Report, Read)
            .join(Read, Report.read_id == Read.id)
            .where(Read.study_id == study_id, Report.frozen_at.is_not(None))
        ).all()
    }
    out = [frozen.get(read.id, (rep, read)) for rep, read in _signed_reports(db, study_id)]
    return out


def start_evaluation(
    db: Session,
    actor: Actor,
    study_id: int,
    *,
    seed: int | None = None,
    allow_unsigned: bool = False,
) -> int:
    """Create blinded tasks for the study's evaluators, once; freeze the rated versions.

    Per case: when both arms have signed reports, each evaluator gets one pair (one report
    of each arm drawn at random) in random left/right order; otherwise each report is
    rated alone. The study is locked while this runs, so two starts at once make one set
    of tasks under one seed. Every read's latest signed version is frozen (``frozen_at``):
    an amendment after this is a protocol deviation and the export keeps the frozen text.
    The seed is kept in ``study_seeds``.

    Raises
    ------
    Conflict
        Evaluation already started; the study is not in its reading phase; no evaluator
        or no signed report; reads not signed (unless ``allow_unsigned``, which records a
        protocol deviation naming them).
    """
    actor.require(*STAFF)
    get_or_404(db, ReaderStudy, study_id, "study")
    study = lock_get(db, ReaderStudy, study_id)
    assert study is not None
    if study.status == "evaluation" or db.scalar(
        select(EvaluationTask.id).where(EvaluationTask.study_id == study.id).limit(1)
    ):
        raise Conflict(
            f"study {study.name!r} already started its evaluation (seed {study.evaluation_seed}); "
            "it starts once"
        )
    if study.status != "reading":
        raise Conflict(
            f"study {study.name!r} is in its {study.status} phase; randomise and read it first"
        )
    evaluators = sorted(
        db.scalars(
            select(StudyMember.user_id).where(
                StudyMember.study_id == study.id, StudyMember.role == MemberRole.EVALUATOR
            )
        )
    )
    if not evaluators:
        raise Conflict(f"study {study.name!r} has no evaluators; add some first")
    unsigned = list(
        db.scalars(
            select(Read.id)
            .where(Read.study_id == study.id, Read.status != "signed")
            .order_by(Read.id)
        )
    )
    total = db.scalar(select(func.count()).select_from(Read).where(Read.study_id == study.id))
    if unsigned and not allow_unsigned:
        raise Conflict(
            f"{len(unsigned)} of {total} reads of study {study.name!r} are not signed; wait for "
            "them, or start anyway with allow_unsigned (recorded as a protocol deviation; the "
            "unsigned reads are left out of the evaluation)"
        )
    signed = _signed_reports(db, study.id)
    if not signed:
        raise Conflict(f"study {study.name!r} has no signed report to evaluate")
    seed = int(seed) if seed is not None else secrets.randbits(48)
    record_seed(db, actor, study, "evaluation", seed)
    rng = np.random.default_rng(seed)
    by_case: dict[int, dict[str, list[Report]]] = {}
    for rep, read in signed:
        by_case.setdefault(read.case_id, {}).setdefault(read.arm, []).append(rep)
    n = 0
    for ev in evaluators:
        tasks: list[tuple[int, int, int | None]] = []
        for case_id in sorted(by_case):
            arms = by_case[case_id]
            if len(arms) == 2:
                pair = [
                    arms[Arm.AI_ASSISTED][int(rng.integers(len(arms[Arm.AI_ASSISTED])))],
                    arms[Arm.SCP][int(rng.integers(len(arms[Arm.SCP])))],
                ]
                left, right = (pair[0], pair[1]) if rng.integers(2) == 0 else (pair[1], pair[0])
                tasks.append((case_id, left.id, right.id))
            else:
                tasks += [(case_id, rep.id, None) for reps in arms.values() for rep in reps]
        for i in rng.permutation(len(tasks)):
            case_id, left, right = tasks[i]
            db.add(
                EvaluationTask(
                    study_id=study.id,
                    case_id=case_id,
                    evaluator_id=ev,
                    left_report_id=left,
                    right_report_id=right,
                )
            )
            n += 1
    now = utcnow()
    db.execute(
        update(Report)
        .where(Report.id.in_([rep.id for rep, _ in signed]))
        .values(frozen_at=now)
        .execution_options(synchronize_session=False)
    )
    if unsigned:
        db.add(
            ProtocolDeviation(
                study_id=study.id,
                kind="evaluation_started_unsigned",
                detail={"unsigned_reads": unsigned, "reads": total},
                actor_id=actor.user.id if actor.user else None,
            )
        )
    study.status, study.evaluation_seed = "evaluation", seed
    audit(
        db,
        actor,
        "study.start_evaluation",
        "study",
        study.id,
        seed=seed,
        tasks=n,
        unsigned_reads=len(unsigned),
    )
    db.commit()
    return n


def _own_task(db: Session, actor: Actor, task_id: int) -> EvaluationTask:
    user = actor.require(Role.EVALUATOR)
    task = db.get(EvaluationTask, task_id)
    if task is None:
        raise NotFound(f"evaluation task {task_id} does not exist")
    if task.evaluator_id != user.id:
        raise Forbidden(f"evaluation task {task_id} is not yours")
    return task


def list_tasks(db: Session, actor: Actor) -> list[dict[str, Any]]:
    """The evaluator's tasks, blinded: no arm, author, model or report id."""
    user = actor.require(Role.EVALUATOR)
    rows = db.execute(
        select(EvaluationTask, Case.label)
        .join(Case, EvaluationTask.case_id == Case.id)
        .where(EvaluationTask.evaluator_id == user.id)
        .order_by(EvaluationTask.id)
    ).all()
    return [
        {
            "task_id": t.id,
            "case_id": t.case_id,
            "case_label": label,
            "status": t.status,
            "paired": t.right_report_id is not None,
        }
        for t, label in rows
    ]


def get_task(db: Session, actor: Actor, task_id: int) -> dict[str, Any]:
    """One blinded form: the image, the reference, the report text(s) by position only."""
    task = _own_task(db, actor, task_id)
    case = db.get(Case, task.case_id)
    assert case is not None
    reports = []
    ratings = {
        r.report_id: r
        for r in db.scalars(select(EvaluationRating).where(EvaluationRating.task_id == task.id))
    }
    for position, rid in (("left", task.left_report_id), ("right", task.right_report_id)):
        if rid is None:
            continue
        rep = db.get(Report, rid)
        assert rep is not None
        rating = ratings.get(rid)
        reports.append(
            {
                "position": position,
                "findings_text": rep.findings_text,
                "impression_text": rep.impression_text,
                "likert": rating.likert if rating else None,
                "radpeer": rating.radpeer if rating else None,
                "comment": rating.comment if rating else "",
            }
        )
    return {
        "task_id": task.id,
        "case_id": case.id,
        "case_label": case.label,
        "indication": case.indication,
        "reference_text": case.reference_text,
        "status": task.status,
        "reports": reports,
        "preference": task.preference,
    }


def submit_task(
    db: Session,
    actor: Actor,
    task_id: int,
    *,
    ratings: dict[str, dict[str, Any]],
    preference: str | None,
) -> EvaluationTask:
    """Record the form: per position Likert 1-5 and RADPEER; a preference for a pair."""
    task = _own_task(db, actor, task_id)
    if task.status == "submitted":
        raise Conflict(f"evaluation task {task_id} is already submitted")
    positions = {"left": task.left_report_id} | (
        {"right": task.right_report_id} if task.right_report_id else {}
    )
    if set(ratings) != set(positions):
        raise InvalidInput(f"ratings for {sorted(ratings)}; this form has {sorted(positions)}")
    for pos, r in ratings.items():
        likert, radpeer = r.get("likert"), str(r.get("radpeer"))
        if not isinstance(likert, int) or isinstance(likert, bool) or not 1 <= likert <= 5:
            raise InvalidInput(f"{pos}: likert {likert!r} must be an integer 1-5")
        if radpeer not in RADPEER_SCORES:
            raise InvalidInput(
                f"{pos}: radpeer {r.get('radpeer')!r} must be one of {', '.join(RADPEER_SCORES)}"
            )
    if task.right_report_id is not None and preference not in PREFERENCES:
        raise InvalidInput(
            f"preference {preference!r} must be one of {', '.join(PREFERENCES)} for a pair"
        )
    if task.right_report_id is None and preference is not None:
        raise InvalidInput("a single report has no preference; leave it out")
    for pos, r in ratings.items():
        db.add(
            EvaluationRating(
                task_id=task.id,
                report_id=positions[pos],
                likert=r["likert"],
                radpeer=str(r["radpeer"]),
                comment=str(r.get("comment") or ""),
            )
        )
    task.status, task.preference, task.submitted_at = "submitted", preference, utcnow()
    audit(db, actor, "evaluation.submit", "evaluation_task", task.id)
    db.commit()
    return task


def export_rows(db: Session, actor: Actor, study_id: int) -> dict[str, list[dict[str, Any]]]:
    """The study in the tidy schema: one row per signed read and one per rated report,
    and the study's protocol deviations.

    ``final_text`` is the version the evaluators rated (frozen when evaluation started;
    for a read signed later, or before any evaluation, its latest signed version);
    ``preference`` is 1 for the preferred report of a pair, 0 for the other, 0.5 for no
    preference, empty for a single report.
    """
    actor.require(*STAFF)
    study = get_or_404(db, ReaderStudy, study_id, "study")
    users = {u.id: u.username for u in db.scalars(select(User))}
    labels = {
        c.id: c.label
        for c in db.scalars(
            select(Case).where(Case.id.in_(select(Read.case_id).where(Read.study_id == study.id)))
        )
    }
    reads = []
    arm_of_report: dict[int, str] = {}
    for rep, read in _exported_reports(db, study.id):
        arm_of_report[rep.id] = read.arm
        reads.append(
            {
                "study": study.name,
                "case": labels[read.case_id],
                "reader": users[read.reader_id],
                "arm": read.arm,
                "started_at": read.started_at.isoformat() if read.started_at else None,
                "signed_at": read.signed_at.isoformat() if read.signed_at else None,
                "active_seconds": read.active_seconds,
                "draft_text": rep.draft_text,
                "final_text": rep.text,
            }
        )
    arm_of_report.update(
        dict(
            db.execute(
                select(Report.id, Read.arm)
                .join(Read, Report.read_id == Read.id)
                .where(Read.study_id == study.id)
            ).all()
        )
    )
    evaluations = []
    for task, rating in db.execute(
        select(EvaluationTask, EvaluationRating)
        .join(EvaluationRating, EvaluationRating.task_id == EvaluationTask.id)
        .where(EvaluationTask.study_id == study.id)
        .order_by(EvaluationTask.id, EvaluationRating.id)
    ):
        pos = "left" if rating.report_id == task.left_report_id else "right"
        pref = (
            None
            if task.right_report_id is None
            else (0.5 if task.preference == "none" else float(task.preference == pos))
        )
        evaluations.append(
            {
                "study": study.name,
                "case": labels.get(task.case_id, str(task.case_id)),
                "evaluator": users[task.evaluator_id],
                "report_id": rating.report_id,
                "arm": arm_of_report.get(rating.report_id),
                "likert": rating.likert,
                "radpeer": rating.radpeer,
                "preference": pref,
            }
        )
    audit(
        db, actor, "study.export", "study", study.id, reads=len(reads), evaluations=len(evaluations)
    )
    db.commit()
    return {
        "reads": reads,
        "evaluations": evaluations,
        "protocol_deviations": deviations(db, study.id),
    }
