"""ORM models of the hospital interfaces: API tokens of machine clients and the outbox of
documents to deliver (DICOM SR to the PACS, FHIR to a FHIR server), created by revision
0005; and the SOP instances a DICOMweb pull was refused, created by revision 0008 (like the
tables of :mod:`._orm` by theirs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ._orm import Base, _in, utcnow

#: ``report_sr`` / ``ai_sr`` go to the PACS, ``fhir_report`` to the FHIR server.
OUTBOX_KINDS = ("report_sr", "ai_sr", "fhir_report")
#: ``superseded``: a FHIR version that a newer version of the same report replaced
#: before it was delivered (sending it after the newer one would undo the newer one).
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "superseded")


class ApiToken(Base):
    """A machine client's bearer token. Only the SHA-256 of the token is stored; the token
    acts as its ``user`` (that account's role applies) and only on routes of its scopes."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters, to tell tokens apart in lists (not enough to use it).
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    last_used_ip: Mapped[str | None] = mapped_column(String(64))
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    #: When the last ``token.use`` audit event was written, and the uses since then.
    audited_at: Mapped[datetime | None]
    unaudited_uses: Mapped[int] = mapped_column(Integer, default=0)


class OutboxItem(Base):
    """One document to deliver, queued in the transaction that signed its report.

    ``dedup_key`` makes queueing idempotent (one item per report version and kind, one AI
    findings SR per draft); ``sop_instance_uid`` is fixed when the item is queued, so a
    re-send after a lost acknowledgement stores the same instance again (a PACS keeps one
    per UID). An item is ``sent`` only once the receiver acknowledged it."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("kind", OUTBOX_KINDS), name="kind"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    dedup_key: Mapped[str] = mapped_column(String(128), unique=True)
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), index=True
    )
    draft_id: Mapped[int | None] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    #: The SR's SOP Instance UID, or the FHIR resource id.
    document_uid: Mapped[str] = mapped_column(String(64))
    series_uid: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: What the receiver answered (DIMSE status, HTTP status) when it acknowledged.
    ack: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class PullRefusal(Base):
    """A SOP instance that a DICOMweb pull retrieved and was refused (a CT slice in a CR/DX
    study, the dog DX, a malformed file): later pulls, of this process or another, after a
    restart too, do not retrieve it again. Kept by the SHA-256 of its SOP Instance UID (the
    UID of an image not taken is not stored). ``cxrpilot pacs pull --retry-refused`` (or
    ``{"retry_refused": true}``) forgets them, e.g. after an upgrade that reads more."""

    __tablename__ = "pull_refusals"

    sop_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))
    refused_at: Mapped[datetime] = mapped_column(default=utcnow)
