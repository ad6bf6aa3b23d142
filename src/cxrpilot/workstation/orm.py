"""The reading database's schema as a public contract: the SQLAlchemy 2 ORM classes of every
workstation table, for seed scripts, benchmarks and research queries on a workstation's
database (reading times, edit distances, study reads, evaluation ratings).

The schema itself exists only through the Alembic revisions in ``migrations/`` (a test
checks that these classes match them), so a new column appears here when a revision adds
it. Open the database of a :class:`~cxrpilot.workstation.Settings` and migrate it with
:mod:`cxrpilot.workstation.admin` first; write through the web app or ``admin`` where they
offer the operation (they audit it and keep the invariants the services check); rows written
here directly are trusted as they are. Times are timezone-aware UTC :class:`~datetime.datetime`
values on every backend. The value tuples (``READ_STATUSES``...) are what a column may hold
(checked by a constraint of its table; ``PRIORITIES`` by the application)::

    from sqlalchemy import create_engine, select
    from cxrpilot.workstation import Settings, admin
    from cxrpilot.workstation.orm import Read

    settings = Settings(data_dir="ws-data")
    admin.migrate(settings)
    with create_engine(settings.resolved_database_url).connect() as db:
        signed = db.execute(select(Read.arm, Read.active_seconds)
                            .where(Read.status == "signed")).all()

A display image (``Image.display_path``) is a 16-bit greyscale PNG in the image store, see
:func:`cxrpilot.workstation.display.encode_png16`.
"""

from ._interop_orm import OUTBOX_KINDS, OUTBOX_STATUSES, ApiToken, OutboxItem, PullRefusal
from ._orm import (
    JOB_STATUSES,
    PRIORITIES,
    READ_STATUSES,
    REPORT_SECTIONS,
    REPORT_STATUSES,
    AiDraft,
    AuditEvent,
    Base,
    Case,
    Exam,
    Image,
    Job,
    LoginAttempt,
    LoginSession,
    Read,
    ReadEvent,
    Report,
    User,
)
from ._study_orm import (
    DEVIATION_KINDS,
    ELIGIBILITY,
    SEED_PURPOSES,
    STUDY_STATUSES,
    EvaluationRating,
    EvaluationTask,
    ProtocolDeviation,
    ReaderStudy,
    StudyCase,
    StudyMember,
    StudySeed,
)

__all__ = [
    "Base",
    # people, sessions, the audit log
    "User",
    "LoginSession",
    "LoginAttempt",
    "AuditEvent",
    # exams, images, cases, draft jobs and drafts
    "Exam",
    "Image",
    "Case",
    "Job",
    "AiDraft",
    # reads and reports
    "Read",
    "Report",
    "ReadEvent",
    # reader studies and blinded evaluation
    "ReaderStudy",
    "StudyMember",
    "StudyCase",
    "EvaluationTask",
    "EvaluationRating",
    "StudySeed",
    "ProtocolDeviation",
    # hospital interfaces
    "ApiToken",
    "OutboxItem",
    "PullRefusal",
    # the values a column may hold
    "READ_STATUSES",
    "REPORT_STATUSES",
    "REPORT_SECTIONS",
    "JOB_STATUSES",
    "PRIORITIES",
    "STUDY_STATUSES",
    "ELIGIBILITY",
    "SEED_PURPOSES",
    "DEVIATION_KINDS",
    "OUTBOX_KINDS",
    "OUTBOX_STATUSES",
]
