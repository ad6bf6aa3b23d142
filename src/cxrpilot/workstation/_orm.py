"""ORM models: people and sessions, the audit log, exams, images and cases, draft jobs, reads
and reports.

Study tables (studies, members, eligibility, evaluations) are in :mod:`._study_orm`. The
schema itself is created only by the Alembic revisions in ``migrations/``; these classes must
match them (a test compares the two).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from cxrpilot.draft import report_text
from cxrpilot.vocabulary import ARMS, ROLES

READ_STATUSES = ("new", "in_progress", "signed")
REPORT_STATUSES = ("preliminary", "final", "amended")
JOB_STATUSES = ("pending", "running", "done", "failed")
PRIORITIES = ("routine", "urgent", "stat")
#: Report sections stored beside FINDINGS and IMPRESSION (columns ``{name}_text``).
REPORT_SECTIONS = ("indication", "technique", "comparison")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the workstation stores aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """A server-side login session; the cookie holds a token, the table its keyed digest."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_key", "username", "ip", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),  # the per-address throttle (0007)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    success: Mapped[bool] = mapped_column(Boolean)


class AuditEvent(Base):
    """Who did what, when, to which object. Append-only (database triggers refuse changes)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Exam(Base):
    """What DICOM calls a study: one StudyInstanceUID, its accession number, and a
    pseudonymous patient key (a keyed hash of the Patient ID; the ID itself is never
    stored) by which a patient's earlier exams are found."""

    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    accession_number: Mapped[str | None] = mapped_column(String(64))
    patient_key: Mapped[str | None] = mapped_column(String(64), index=True)
    study_date: Mapped[date | None]
    modality: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Image(Base):
    """A de-identified image in the content-addressed store (of an exam, when its DICOM
    header named a study)."""

    __tablename__ = "images"
    __table_args__ = (
        Index("ix_images_sop_instance_uid", "sop_instance_uid", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    display_sha256: Mapped[str] = mapped_column(String(64))
    display_path: Mapped[str] = mapped_column(String(256))
    dicom_sha256: Mapped[str | None] = mapped_column(String(64))
    dicom_path: Mapped[str | None] = mapped_column(String(256))
    format: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("exams.id"), index=True)
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64))


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_exam_id", "exam_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(128))
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"), index=True)
    indication: Mapped[str] = mapped_column(Text, default="")
    reference_text: Mapped[str] = mapped_column(Text, default="")
    #: ``routine``, ``urgent`` or ``stat`` (:data:`PRIORITIES`; checked by the application).
    priority: Mapped[str] = mapped_column(
        String(8), default="routine", server_default=text("'routine'")
    )
    source: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The exam the case reads (one case per exam); None for an image without a study.
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("exams.id"))
    #: Why the case has no AI draft (e.g. only a lateral view); "" when it is drafted.
    not_drafted_reason: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))


class Job(Base):
    """A background job (kind ``"draft"``): the queue survives restarts because it is a table."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        Index("ix_jobs_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="draft")
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AiDraft(Base):
    """A pipeline draft of one case, with the model that wrote it and its timings."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    model_id: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    findings: Mapped[list[Any]] = mapped_column(default=list)
    findings_text: Mapped[str] = mapped_column(Text)
    impression_text: Mapped[str] = mapped_column(Text)
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: ``Draft.to_dict()["maps"]``: ``[{"name": finding, "grid": rows top to bottom}]``.
    maps: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Read(Base):
    """One reader reading one case in one arm (an assignment), and its measured times."""

    __tablename__ = "reads"
    __table_args__ = (
        CheckConstraint(_in("arm", ARMS), name="arm"),
        CheckConstraint(_in("status", READ_STATUSES), name="status"),
        UniqueConstraint("study_id", "case_id", "reader_id", "period", name="uq_reads_assignment"),
        # NULLs are distinct in the constraint above: reads outside a study need their own
        # (revision 0006), else parallel assignments create duplicates.
        Index(
            "uq_reads_adhoc_assignment",
            "case_id",
            "reader_id",
            "period",
            unique=True,
            sqlite_where=text("study_id IS NULL"),
            postgresql_where=text("study_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int | None] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    reader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    arm: Mapped[str] = mapped_column(String(16))
    period: Mapped[int] = mapped_column(Integer, default=1)
    available_from: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="new")
    started_at: Mapped[datetime | None]
    signed_at: Mapped[datetime | None]
    wall_seconds: Mapped[float | None] = mapped_column(Float)
    active_seconds: Mapped[float | None] = mapped_column(Float)
    edit_distance_chars: Mapped[int | None] = mapped_column(Integer)
    edit_distance_words: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Report(Base):
    """One version of the report of a read. Signed versions are read-only (a trigger refuses
    text changes); an amendment is a new version that keeps the old one beside it."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(_in("status", REPORT_STATUSES), name="status"),
        UniqueConstraint("read_id", "version", name="uq_reports_read_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    read_id: Mapped[int] = mapped_column(ForeignKey("reads.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="preliminary")
    origin: Mapped[str] = mapped_column(String(16))
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"))
    draft_text: Mapped[str] = mapped_column(Text, default="")
    findings_text: Mapped[str] = mapped_column(Text, default="")
    impression_text: Mapped[str] = mapped_column(Text, default="")
    #: The sections besides FINDINGS and IMPRESSION (:data:`REPORT_SECTIONS`), revision 0003.
    indication_text: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    technique_text: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    comparison_text: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    rev: Mapped[int] = mapped_column(Integer, default=1)
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    amendment_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    signed_at: Mapped[datetime | None]
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: True when the signer confirmed signing the AI draft unedited (None: edited, or no
    #: draft); revision 0006.
    unedited_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    #: When this version was frozen as the one a study's evaluators rate (evaluation
    #: start); later amendments are protocol deviations. Revision 0006.
    frozen_at: Mapped[datetime | None]

    @property
    def text(self) -> str:
        return report_text(self.findings_text, self.impression_text)


class ReadEvent(Base):
    """A client event of a read (image shown, visibility/focus change, heartbeat)."""

    __tablename__ = "read_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    read_id: Mapped[int] = mapped_column(ForeignKey("reads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    client_ms: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    visible: Mapped[bool] = mapped_column(Boolean)
    focused: Mapped[bool] = mapped_column(Boolean)


def refuse_audit_changes(session: Session, _ctx, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise PermissionError(
                "the audit log is append-only: audit events cannot be changed or deleted"
            )
