"""What every service needs: the acting user, the audit log, small lookups and inserts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from .._errors import Conflict, Forbidden, NotFound
from .._orm import AuditEvent, Report, User

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting (None for the system itself), from which address, and through which
    API token (None: a login session or the server itself)."""

    user: User | None
    ip: str | None = None
    token_id: int | None = None

    @property
    def name(self) -> str:
        return self.user.username if self.user is not None else "system"

    @property
    def role(self) -> str | None:
        return self.user.role if self.user is not None else None

    def require(self, *roles: str) -> User:
        if self.user is None or self.user.role not in roles:
            raise Forbidden(
                f"this action needs the role {' or '.join(roles)}; you are {self.role or 'anonymous'}"
            )
        return self.user


def audit(
    db: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: Any = None,
    **detail: Any,
) -> None:
    """Append one event to the audit log (in the caller's transaction; the caller commits)."""
    db.add(
        AuditEvent(
            actor_id=actor.user.id if actor.user is not None else None,
            actor=actor.name,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            ip=actor.ip,
            detail=detail if actor.token_id is None else {**detail, "api_token": actor.token_id},
        )
    )


def get_or_404(db: Session, model: type[T], obj_id: int, what: str | None = None) -> T:
    obj = db.get(model, obj_id)
    if obj is None:
        raise NotFound(f"{what or model.__name__.lower()} {obj_id} does not exist")
    return obj


def insert_unique(db: Session, row: Any, conflict: str) -> None:
    """Add ``row`` and flush it; when a unique constraint refuses it (a taken name, or the same
    row made at the same moment by another request), roll back and raise :class:`Conflict`
    with the message ``conflict``."""
    db.add(row)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(conflict) from None


def signer_name(report: Report, db: Session | None = None) -> str | None:
    """Who signed a report, as the workstation shows it (display name, else username); None
    for an unsigned report or a signer that is gone. ``db``: the session to look the user up
    in (default: the report's own)."""
    if report.signed_by_id is None:
        return None
    db = db if db is not None else object_session(report)
    user = db.get(User, report.signed_by_id) if db is not None else None
    if user is None:
        return None
    return user.display_name or user.username
