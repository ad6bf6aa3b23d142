"""Reader studies: setup, eligibility checklists, randomised assignment, progress."""

from __future__ import annotations

import math
import re
import secrets
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from cxrpilot.vocabulary import ARMS, DESIGNS, MEMBER_ROLES, Design, MemberRole, Role

from .._errors import Conflict, InvalidInput, NotFound
from .._orm import Case, Read, User, utcnow
from .._study_orm import (
    EvaluationTask,
    ProtocolDeviation,
    ReaderStudy,
    StudyCase,
    StudyMember,
    StudySeed,
)
from ._common import Actor, audit, get_or_404, insert_unique
from ._locks import lock_get

STAFF = (Role.ADMIN, Role.COORDINATOR)
CRITERION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _check_criteria(criteria: list[dict[str, Any]]) -> list[dict[str, str]]:
    out, seen = [], set()
    for i, c in enumerate(criteria):
        key, text, kind = c.get("key", ""), c.get("text", ""), c.get("kind", "inclusion")
        if not CRITERION_KEY.match(key):
            raise InvalidInput(
                f"criterion {i}: key {key!r} must be lower-case letters, digits and '_' (e.g. 'adequate_inspiration')"
            )
        if key in seen:
            raise InvalidInput(f"criterion key {key!r} is given twice")
        if kind not in ("inclusion", "exclusion"):
            raise InvalidInput(
                f"criterion {key!r}: kind {kind!r} must be 'inclusion' or 'exclusion'"
            )
        if not text.strip():
            raise InvalidInput(
                f"criterion {key!r} needs a text (the question shown on the checklist)"
            )
        seen.add(key)
        out.append({"key": key, "text": text.strip(), "kind": kind})
    return out


def create_study(
    db: Session,
    actor: Actor,
    *,
    name: str,
    design: str,
    description: str = "",
    washout_days: int = 0,
    criteria: list[dict[str, Any]] | None = None,
) -> ReaderStudy:
    actor.require(*STAFF)
    if design not in DESIGNS:
        raise InvalidInput(f"design {design!r} is not known; expected one of {', '.join(DESIGNS)}")
    if not name.strip():
        raise InvalidInput("a study needs a name")
    if washout_days < 0 or (design == Design.CROSSOVER and washout_days == 0):
        raise InvalidInput(
            f"washout_days={washout_days}: a crossover study needs a washout of at least 1 day (others: >= 0)"
        )
    study = ReaderStudy(
        name=name.strip(),
        design=design,
        description=description,
        washout_days=washout_days,
        criteria=_check_criteria(criteria or []),
        created_by_id=actor.user.id if actor.user else None,
    )
    insert_unique(db, study, f"a study called {name.strip()!r} exists")
    audit(db, actor, "study.create", "study", study.id, name=study.name, design=design)
    db.commit()
    return study


def _locked_study(db: Session, study_id: int) -> ReaderStudy:
    """The study, locked for the rest of the transaction (404 when it does not exist): the
    checks that follow see every change committed before, none can slip in after."""
    get_or_404(db, ReaderStudy, study_id, "study")
    study = lock_get(db, ReaderStudy, study_id)
    if study is None:  # deleted in between
        raise NotFound(f"study {study_id} does not exist")
    return study


def record_seed(db: Session, actor: Actor, study: ReaderStudy, purpose: str, seed: int) -> None:
    """Keep a drawn seed for good (in the caller's transaction)."""
    db.add(
        StudySeed(
            study_id=study.id,
            purpose=purpose,
            seed=seed,
            drawn_by_id=actor.user.id if actor.user else None,
        )
    )


def _setup_study(db: Session, actor: Actor, study_id: int) -> ReaderStudy:
    actor.require(*STAFF)
    study = _locked_study(db, study_id)
    if study.status != "setup":
        raise Conflict(
            f"study {study.name!r} is in its {study.status} phase; cases and readers are fixed after randomisation"
        )
    return study


def add_cases(db: Session, actor: Actor, study_id: int, case_ids: list[int]) -> int:
    """Add cases (eligible at once when the study has no checklist). Returns how many were new."""
    study = _setup_study(db, actor, study_id)
    present = set(db.scalars(select(StudyCase.case_id).where(StudyCase.study_id == study.id)))
    known = set(db.scalars(select(Case.id).where(Case.id.in_(case_ids))))
    missing = sorted(set(case_ids) - known)
    if missing:
        raise InvalidInput(f"cases {missing[:10]} do not exist")
    new = [c for c in dict.fromkeys(case_ids) if c not in present]
    for case_id in new:
        db.add(
            StudyCase(
                study_id=study.id,
                case_id=case_id,
                eligibility="pending" if study.criteria else "eligible",
            )
        )
    audit(db, actor, "study.add_cases", "study", study.id, cases=len(new))
    db.commit()
    return len(new)


def add_members(db: Session, actor: Actor, study_id: int, user_ids: list[int], role: str) -> int:
    actor.require(*STAFF)
    study = _setup_study(db, actor, study_id) if role == MemberRole.READER else _locked_study(db, study_id)
    if role not in MEMBER_ROLES:
        raise InvalidInput(
            f"member role {role!r} is not known; expected one of {', '.join(MEMBER_ROLES)}"
        )
    needed = MemberRole(role).user_role
    users = {u.id: u for u in db.scalars(select(User).where(User.id.in_(user_ids)))}
    for uid in user_ids:
        if uid not in users:
            raise InvalidInput(f"user {uid} does not exist")
        if users[uid].role != needed:
            raise InvalidInput(
                f"user {users[uid].username!r} is a {users[uid].role}; a study {role} must be a {needed}"
            )
    present = set(
        db.scalars(
            select(StudyMember.user_id).where(
                StudyMember.study_id == study.id, StudyMember.role == role
            )
        )
    )
    new = [u for u in dict.fromkeys(user_ids) if u not in present]
    for uid in new:
        db.add(StudyMember(study_id=study.id, user_id=uid, role=role))
    audit(db, actor, "study.add_members", "study", study.id, role=role, users=new)
    db.commit()
    return len(new)


def check_eligibility(
    db: Session,
    actor: Actor,
    study_id: int,
    case_id: int,
    *,
    answers: dict[str, bool],
    note: str = "",
) -> StudyCase:
    """Record a case's checklist: eligible when every inclusion criterion is met and no
    exclusion criterion is."""
    study = _setup_study(db, actor, study_id)
    sc = db.scalar(
        select(StudyCase).where(StudyCase.study_id == study.id, StudyCase.case_id == case_id)
    )
    if sc is None:
        raise InvalidInput(f"case {case_id} is not in study {study.name!r}")
    keys = [c["key"] for c in study.criteria]
    missing, unknown = [k for k in keys if k not in answers], [k for k in answers if k not in keys]
    if missing or unknown:
        raise InvalidInput(
            f"checklist answers: missing {missing}, unknown {unknown}; expected exactly {keys}"
        )
    ok = all(bool(answers[c["key"]]) == (c["kind"] == "inclusion") for c in study.criteria)
    sc.checklist = {k: bool(v) for k, v in answers.items()}
    sc.eligibility = "eligible" if ok else "excluded"
    sc.note = note
    sc.checked_by_id = actor.user.id if actor.user else None
    sc.checked_at = utcnow()
    audit(
        db,
        actor,
        "study.eligibility",
        "study_case",
        sc.id,
        case_id=case_id,
        eligibility=sc.eligibility,
    )
    db.commit()
    return sc


def _balanced(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` arms, half each (the odd one drawn), in random order."""
    arms = [ARMS[i % 2] for i in range(n)]
    if n % 2:
        arms[-1] = ARMS[int(rng.integers(2))]
    return [arms[i] for i in rng.permutation(n)]


def assignment_plan(
    design: str, case_ids: list[int], reader_ids: list[int], seed: int
) -> list[tuple[int, int, str, int]]:
    """The reads of a study as ``(reader_id, case_id, arm, period)``, in each reader's
    reading order. Deterministic for a seed (numpy ``default_rng``).

    - ``per_case``: each case gets one arm (1:1, balanced); every reader reads every case.
    - ``per_reader``: each reader gets one arm (1:1, balanced) for all cases.
    - ``crossover``: each reader reads every case twice, in period 1 with a random balanced
      half of the cases aided and in period 2 (after the washout) in the other arm.
    """
    if design not in DESIGNS:
        raise InvalidInput(f"design {design!r} is not known; expected one of {', '.join(DESIGNS)}")
    rng = np.random.default_rng(seed)
    cases, readers = sorted(case_ids), sorted(reader_ids)
    plan: list[tuple[int, int, str, int]] = []
    if design == Design.PER_CASE:
        arm_of = dict(zip(cases, _balanced(rng, len(cases)), strict=True))
        for r in readers:
            plan += [(r, cases[i], arm_of[cases[i]], 1) for i in rng.permutation(len(cases))]
    elif design == Design.PER_READER:
        for r, arm in zip(readers, _balanced(rng, len(readers)), strict=True):
            plan += [(r, cases[i], arm, 1) for i in rng.permutation(len(cases))]
    else:
        for r in readers:
            first = dict(zip(cases, _balanced(rng, len(cases)), strict=True))
            other = {c: ARMS[1 - ARMS.index(a)] for c, a in first.items()}
            for period, arm_of in ((1, first), (2, other)):
                plan += [
                    (r, cases[i], arm_of[cases[i]], period) for i in rng.permutation(len(cases))
                ]
    return plan


def randomise(db: Session, actor: Actor, study_id: int, *, seed: int | None = None) -> int:
    """Create the study's reads from its eligible cases and readers; records the seed.
    Returns the number of reads."""
    study = _setup_study(db, actor, study_id)
    pending = db.scalar(
        select(func.count()).where(
            StudyCase.study_id == study.id, StudyCase.eligibility == "pending"
        )
    )
    if pending:
        raise Conflict(
            f"{pending} case(s) of study {study.name!r} have no eligibility checklist yet"
        )
    cases = list(
        db.scalars(
            select(StudyCase.case_id).where(
                StudyCase.study_id == study.id, StudyCase.eligibility == "eligible"
            )
        )
    )
    readers = list(
        db.scalars(
            select(StudyMember.user_id).where(
                StudyMember.study_id == study.id, StudyMember.role == MemberRole.READER
            )
        )
    )
    if not cases or not readers:
        raise Conflict(
            f"study {study.name!r} needs at least one eligible case and one reader (has {len(cases)}, {len(readers)})"
        )
    if study.design == Design.PER_READER and len(readers) < 2:
        raise Conflict("a per-reader design needs at least two readers (one per arm)")
    seed = int(seed) if seed is not None else secrets.randbits(48)
    record_seed(db, actor, study, "randomise", seed)
    now = utcnow()
    washout = now + timedelta(days=study.washout_days)
    plan = assignment_plan(study.design, cases, readers, seed)
    for reader_id, case_id, arm, period in plan:
        db.add(
            Read(
                study_id=study.id,
                case_id=case_id,
                reader_id=reader_id,
                arm=arm,
                period=period,
                available_from=washout if period == 2 else None,
            )
        )
    study.seed, study.randomised_at, study.status = seed, now, "reading"
    audit(
        db,
        actor,
        "study.randomise",
        "study",
        study.id,
        seed=seed,
        design=study.design,
        reads=len(plan),
    )
    db.commit()
    return len(plan)


def _counts(db: Session, *columns: Any, where: Any) -> list[tuple[Any, ...]]:
    """``(column values..., count)`` grouped by ``columns``."""
    query = select(*columns, func.count()).where(where).group_by(*columns)
    return [tuple(r) for r in db.execute(query)]


def _nested_counts(db: Session, outer: Any, inner: Any, where: Any) -> dict[Any, dict[Any, int]]:
    """``{outer value: {inner value: count}}``, e.g. study id -> status -> count."""
    out: dict[Any, dict[Any, int]] = {}
    for a, b, n in _counts(db, outer, inner, where=where):
        out.setdefault(a, {})[b] = n
    return out


def progress(db: Session, actor: Actor, study_id: int) -> dict[str, Any]:
    """Counts for the dashboard: reads per arm and status, per reader (and per reader and arm);
    cases by eligibility; evaluation forms by status."""
    actor.require(*STAFF)
    study = get_or_404(db, ReaderStudy, study_id, "study")
    by_arm = _nested_counts(db, Read.arm, Read.status, where=Read.study_id == study.id)
    by_reader: dict[str, dict[str, int]] = {}
    by_reader_arm: dict[str, dict[str, dict[str, int]]] = {}
    for name, arm, status, n in db.execute(
        select(User.username, Read.arm, Read.status, func.count())
        .join(User, Read.reader_id == User.id)
        .where(Read.study_id == study.id)
        .group_by(User.username, Read.arm, Read.status)
    ):
        per = by_reader.setdefault(name, {})
        per[status] = per.get(status, 0) + n
        by_reader_arm.setdefault(name, {}).setdefault(arm, {})[status] = n
    eligibility = dict(_counts(db, StudyCase.eligibility, where=StudyCase.study_id == study.id))
    evaluations = dict(
        _counts(db, EvaluationTask.status, where=EvaluationTask.study_id == study.id)
    )
    return {
        "study": study,
        "seeds": [
            {"purpose": x.purpose, "seed": x.seed, "drawn_at": x.drawn_at}
            for x in db.scalars(
                select(StudySeed).where(StudySeed.study_id == study.id).order_by(StudySeed.id)
            )
        ],
        "protocol_deviations": deviations(db, study.id),
        "reads_by_arm": by_arm,
        "reads_by_reader": by_reader,
        "reads_by_reader_arm": by_reader_arm,
        "cases_by_eligibility": eligibility,
        "evaluations_by_status": evaluations,
        "mean_active_seconds": {
            arm: (float(v) if v is not None and not math.isnan(v) else None)
            for arm, v in db.execute(
                select(Read.arm, func.avg(Read.active_seconds))
                .where(Read.study_id == study.id, Read.status == "signed")
                .group_by(Read.arm)
            )
        },
    }


def deviations(db: Session, study_id: int) -> list[dict[str, Any]]:
    """The study's protocol deviations, oldest first."""
    return [
        {
            "kind": d.kind,
            "read_id": d.read_id,
            "report_id": d.report_id,
            "at": d.at,
            "detail": d.detail,
        }
        for d in db.scalars(
            select(ProtocolDeviation)
            .where(ProtocolDeviation.study_id == study_id)
            .order_by(ProtocolDeviation.id)
        )
    ]


def list_studies(db: Session, actor: Actor) -> list[dict[str, Any]]:
    """Every study with the counts of its list row: cases (by eligibility), members (by role),
    reads (all and signed) and evaluation forms (all and submitted)."""
    actor.require(*STAFF)
    studies = list(db.scalars(select(ReaderStudy).order_by(ReaderStudy.id)))
    cases = _nested_counts(db, StudyCase.study_id, StudyCase.eligibility, where=true())
    members = _nested_counts(db, StudyMember.study_id, StudyMember.role, where=true())
    reads = _nested_counts(db, Read.study_id, Read.status, where=Read.study_id.isnot(None))
    tasks = _nested_counts(db, EvaluationTask.study_id, EvaluationTask.status, where=true())
    return [
        {
            "study": s,
            "cases": sum(cases.get(s.id, {}).values()),
            "cases_by_eligibility": cases.get(s.id, {}),
            "readers": members.get(s.id, {}).get(MemberRole.READER, 0),
            "evaluators": members.get(s.id, {}).get(MemberRole.EVALUATOR, 0),
            "reads": sum(reads.get(s.id, {}).values()),
            "reads_signed": reads.get(s.id, {}).get("signed", 0),
            "evaluations": sum(tasks.get(s.id, {}).values()),
            "evaluations_submitted": tasks.get(s.id, {}).get("submitted", 0),
        }
        for s in studies
    ]


def study_cases(db: Session, actor: Actor, study_id: int) -> list[dict[str, Any]]:
    """The study's cases with their eligibility checklists, in the order they were added."""
    actor.require(*STAFF)
    study = get_or_404(db, ReaderStudy, study_id, "study")
    rows = db.execute(
        select(StudyCase, Case.label, Case.indication)
        .join(Case, StudyCase.case_id == Case.id)
        .where(StudyCase.study_id == study.id)
        .order_by(StudyCase.id)
    )
    return [
        {
            "case_id": sc.case_id,
            "case_label": label,
            "indication": indication,
            "eligibility": sc.eligibility,
            "checklist": sc.checklist,
            "note": sc.note,
            "checked_at": sc.checked_at,
        }
        for sc, label, indication in rows
    ]


def study_members(db: Session, actor: Actor, study_id: int) -> list[dict[str, Any]]:
    """The study's readers and evaluators."""
    actor.require(*STAFF)
    study = get_or_404(db, ReaderStudy, study_id, "study")
    rows = db.execute(
        select(StudyMember.role, User)
        .join(User, StudyMember.user_id == User.id)
        .where(StudyMember.study_id == study.id)
        .order_by(StudyMember.role, User.username)
    )
    return [
        {
            "user_id": u.id,
            "username": u.username,
            "display_name": u.display_name,
            "role": role,
        }
        for role, u in rows
    ]
