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

from ._models import Base, _in, utcnow

DESIGNS = ("per_case", "per_reader", "crossover")
STUDY_STATUSES = ("setup", "reading", "evaluation", "closed")
ELIGIBILITY = ("pending", "eligible", "excluded")
RADPEER = ("1", "2a", "2b", "3a", "3b")
MEMBER_ROLES = ("reader", "evaluator")


class Study(Base):
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
        CheckConstraint(_in("radpeer", RADPEER), name="radpeer"),
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
