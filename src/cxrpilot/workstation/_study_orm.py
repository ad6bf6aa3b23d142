"""ORM models of reader studies: studies, members, per-case eligibility, blinded evaluations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cxrpilot.vocabulary import DESIGNS, MEMBER_ROLES, RADPEER_SCORES

from ._orm import Base, _in, utcnow

STUDY_STATUSES = ("setup", "reading", "evaluation", "closed")
ELIGIBILITY = ("pending", "eligible", "excluded")
SEED_PURPOSES = ("randomise", "evaluation")
#: What a protocol deviation records (revision 0006).
DEVIATION_KINDS = (
    "amended_after_freeze",  # a study read amended after evaluation started
    "signed_after_freeze",  # a study read signed after evaluation started
    "evaluation_started_unsigned",  # the coordinator started evaluation with unsigned reads
)


class ReaderStudy(Base):
    """A reader study (arms, design, members, cases): not an imaging study, which is an
    :class:`Exam` here and a :class:`cxrpilot.data.Study` in the dataset adapters."""

    __tablename__ = "studies"
    __table_args__ = (
        CheckConstraint(_in("design", DESIGNS), name="design"),
        CheckConstraint(_in("status", STUDY_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    design: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="setup")
    seed: Mapped[int | None] = mapped_column(BigInteger)
    washout_days: Mapped[int] = mapped_column(Integer, default=0)
    criteria: Mapped[list[Any]] = mapped_column(default=list)
    randomised_at: Mapped[datetime | None]
    evaluation_seed: Mapped[int | None] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyMember(Base):
    __tablename__ = "study_members"
    __table_args__ = (
        CheckConstraint(_in("role", MEMBER_ROLES), name="role"),
        UniqueConstraint("study_id", "user_id", "role", name="uq_study_members_member"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))


class StudyCase(Base):
    """A case in a study, with its eligibility checklist (criterion key -> met?)."""

    __tablename__ = "study_cases"
    __table_args__ = (
        CheckConstraint(_in("eligibility", ELIGIBILITY), name="eligibility"),
        UniqueConstraint("study_id", "case_id", name="uq_study_cases_case"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    eligibility: Mapped[str] = mapped_column(String(16), default="pending")
    checklist: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime | None]


class EvaluationTask(Base):
    """One evaluator rating the report(s) of one case; the left/right order is randomised."""

    __tablename__ = "evaluation_tasks"
    __table_args__ = (
        UniqueConstraint(
            "study_id", "case_id", "evaluator_id", "left_report_id", name="uq_evaluation_tasks_task"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    left_report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    right_report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    preference: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]


class EvaluationRating(Base):
    """Likert 1-5 and RADPEER of one report within a task."""

    __tablename__ = "evaluation_ratings"
    __table_args__ = (
        CheckConstraint("likert BETWEEN 1 AND 5", name="likert"),
        CheckConstraint(_in("radpeer", RADPEER_SCORES), name="radpeer"),
        UniqueConstraint("task_id", "report_id", name="uq_evaluation_ratings_rating"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("evaluation_tasks.id", ondelete="CASCADE"), index=True
    )
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    likert: Mapped[int] = mapped_column(Integer)
    radpeer: Mapped[str] = mapped_column(String(4))
    comment: Mapped[str] = mapped_column(Text, default="")


class StudySeed(Base):
    """Every seed drawn for a study (randomisation, evaluation), kept for good."""

    __tablename__ = "study_seeds"
    __table_args__ = (CheckConstraint(_in("purpose", SEED_PURPOSES), name="purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(BigInteger)
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)
    drawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ProtocolDeviation(Base):
    """A departure from a study's protocol, recorded when it happens (never edited)."""

    __tablename__ = "protocol_deviations"
    __table_args__ = (CheckConstraint(_in("kind", DEVIATION_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    read_id: Mapped[int | None] = mapped_column(ForeignKey("reads.id", ondelete="SET NULL"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
