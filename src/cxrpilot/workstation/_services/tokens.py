"""API tokens of machine clients: created and revoked by admins, shown once, stored as a
SHA-256 digest, scoped, audited.

A token acts as the account it belongs to (that account's role applies, as for a person)
but only on the routes of its scopes. Its uses are audited without flooding the log: a
request that changes something is one ``token.use`` event; reads are summed up, one event
per token per :data:`AUDIT_WINDOW_S` that says how many uses came since the previous one
(the token row keeps the running total and the last use).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cxrpilot.vocabulary import TOKEN_SCOPES, Role

from .._errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from .._interop_orm import ApiToken
from .._orm import User, utcnow
from ._common import Actor, audit

TOKEN_PREFIX = "cxrp_"
AUDIT_WINDOW_S = 60
MAX_EXPIRY_DAYS = 3650
_TOKEN_SHAPE = re.compile(r"^cxrp_[A-Za-z0-9_-]{43}$")


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored; the token itself never is."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A new token: ``cxrp_`` and 256 random bits (URL-safe base64)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(TOKEN_SCOPES))
    if unknown or not scopes:
        raise InvalidInput(
            f"token scopes {unknown or scopes!r} are not valid; give one or more of "
            f"{', '.join(TOKEN_SCOPES)}"
        )
    return [s for s in TOKEN_SCOPES if s in scopes]


def create_token(
    db: Session,
    actor: Actor | None,
    *,
    name: str,
    scopes: list[str],
    user_id: int | None = None,
    username: str | None = None,
    expires_days: int | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``user_id`` / ``username`` (default: the admin creating it).

    Returns ``(row, token)``: the token is in no other place; show it once. ``actor`` None
    is the server's command line.
    """
    if actor is not None:
        actor.require(Role.ADMIN)
    name = name.strip()
    if not name or len(name) > 128:
        raise InvalidInput("a token needs a name of 1-128 characters (e.g. 'PACS bridge')")
    scopes = check_scopes(list(scopes))
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(f"expires_days must be 1-{MAX_EXPIRY_DAYS}, got {expires_days}")
    if username is not None:
        owner = db.scalar(select(User).where(User.username == username))
        if owner is None:
            raise NotFound(f"user {username!r} does not exist")
    elif user_id is not None:
        owner = db.get(User, user_id)
        if owner is None:
            raise NotFound(f"user {user_id} does not exist")
    elif actor is not None and actor.user is not None:
        owner = actor.user
    else:
        raise InvalidInput("say which account the token acts as (user)")
    if not owner.active:
        raise InvalidInput(f"user {owner.username!r} is disabled; a token would not work")
    token = new_token()
    now = utcnow()
    row = ApiToken(
        name=name,
        token_sha256=token_digest(token),
        prefix=token[:12],
        scopes=scopes,
        user_id=owner.id,
        created_by_id=actor.user.id if actor is not None and actor.user is not None else None,
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    db.add(row)
    db.flush()
    audit(
        db,
        actor or Actor(None),
        "token.create",
        "api_token",
        row.id,
        name=name,
        scopes=scopes,
        user=owner.username,
        expires_at=row.expires_at.isoformat() if row.expires_at else None,
    )
    db.commit()
    return row, token


def list_tokens(db: Session, actor: Actor | None) -> list[ApiToken]:
    if actor is not None:
        actor.require(Role.ADMIN)
    return list(db.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(db: Session, actor: Actor | None, token_id: int) -> ApiToken:
    """Revoke a token (at once: the next request with it is refused). Idempotent."""
    if actor is not None:
        actor.require(Role.ADMIN)
    row = db.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"API token {token_id} does not exist")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit(db, actor or Actor(None), "token.revoke", "api_token", row.id, name=row.name)
        db.commit()
    return row


def authenticate(
    db: Session, token: str, *, scope: str, ip: str | None, method: str, path: str
) -> tuple[User, ApiToken]:
    """The account a bearer token acts as, for a route of ``scope``; records the use.

    Raises
    ------
    NotAuthenticated
        Unknown, malformed, revoked or expired token, or a disabled account (401).
    Forbidden
        A valid token without ``scope`` (403).
    """
    if not _TOKEN_SHAPE.match(token or ""):
        raise NotAuthenticated("API token not valid (expected 'Authorization: Bearer cxrp_...')")
    row = db.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))
    now = utcnow()
    if row is None:
        raise NotAuthenticated("API token not valid")
    if row.revoked_at is not None:
        raise NotAuthenticated(f"API token {row.prefix}... was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise NotAuthenticated(f"API token {row.prefix}... expired; ask an admin for a new one")
    user = db.get(User, row.user_id)
    if user is None or not user.active:
        raise NotAuthenticated("the API token's account is disabled")
    if scope not in (row.scopes or []):
        _audit_request(db, row, user, "token.refused", ip=ip, method=method, path=path, needs=scope)
        db.commit()
        raise Forbidden(
            f"this API token's scopes ({', '.join(row.scopes or [])}) do not include {scope!r}, "
            "which this route needs"
        )
    _record_use(db, row, user, ip=ip, method=method, path=path, now=now)
    return user, row


def _audit_request(
    db: Session, row: ApiToken, user: User, action: str, *, ip, method: str, path: str, **details: Any
) -> None:
    """Audit a request made with the token ``row`` (its account, address, method and path)."""
    audit(db, Actor(user, ip, token_id=row.id), action, "api_token", row.id,
          method=method, path=path, **details)


def _record_use(db, row: ApiToken, user: User, *, ip, method: str, path: str, now) -> None:
    writes = method not in ("GET", "HEAD", "OPTIONS")
    due = row.audited_at is None or (now - row.audited_at).total_seconds() >= AUDIT_WINDOW_S
    values: dict[str, Any] = {
        "last_used_at": now,
        "last_used_ip": ip,
        "use_count": ApiToken.use_count + 1,
    }
    if writes or due:
        _audit_request(db, row, user, "token.use", ip=ip, method=method, path=path,
                       uses_since_last_event=row.unaudited_uses + 1)
        values.update(audited_at=now, unaudited_uses=0)
    else:
        values["unaudited_uses"] = ApiToken.unaudited_uses + 1
    db.execute(update(ApiToken).where(ApiToken.id == row.id).values(**values))
    db.commit()
