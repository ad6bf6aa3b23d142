"""Users, login (with throttling), server-side sessions, passwords."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .._errors import Conflict, InvalidInput, NotAuthenticated, NotFound, Throttled
from .._models import ROLES, LoginAttempt, LoginSession, User, utcnow
from .._security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    new_session_token,
    session_key,
    verify_password,
)
from .._settings import Settings
from ._common import Actor, audit

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
SESSION_TOUCH_S = 60


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password too short ({len(password)} characters); use at least {MIN_PASSWORD_LENGTH}"
        )


def create_user(
    db: Session,
    actor: Actor | None,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    hasher: PasswordHasher | None = None,
) -> User:
    """Create a user (``actor`` None: the command line creating the first admin)."""
    if actor is not None:
        actor.require("admin")
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            f"user name {username!r} is not valid: 2-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not known; expected one of {', '.join(ROLES)}")
    _check_password(password)
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        password_hash=hash_password(password, hasher),
    )
    db.add(user)
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise Conflict(f"user name {username!r} is taken") from None
    audit(db, actor or Actor(None), "user.create", "user", user.id, username=username, role=role)
    db.commit()
    return user


def update_user(
    db: Session,
    actor: Actor,
    user_id: int,
    *,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    display_name: str | None = None,
    hasher: PasswordHasher | None = None,
) -> User:
    actor.require("admin")
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    changed: dict[str, object] = {}
    if role is not None:
        if role not in ROLES:
            raise InvalidInput(f"role {role!r} is not known; expected one of {', '.join(ROLES)}")
        user.role = changed["role"] = role
    if active is not None:
        user.active = changed["active"] = active
        if not active:
            db.execute(
                update(LoginSession).where(LoginSession.user_id == user.id).values(revoked=True)
            )
    if display_name is not None:
        user.display_name = changed["display_name"] = display_name
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password, hasher)
        changed["password"] = "reset"
        db.execute(update(LoginSession).where(LoginSession.user_id == user.id).values(revoked=True))
    audit(db, actor, "user.update", "user", user.id, **changed)
    db.commit()
    return user


def list_users(db: Session, actor: Actor) -> list[User]:
    actor.require("admin", "coordinator")
    return list(db.scalars(select(User).order_by(User.id)))


def throttle_horizon(settings: Settings) -> timedelta:
    """How far back login attempts matter to the throttle (older ones are never read)."""
    return timedelta(seconds=max(settings.login_window_s, settings.login_lockout_s))


def prune_login_attempts(db: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete the login attempts older than :func:`throttle_horizon` (in the caller's
    transaction). Returns how many rows went. Called on every login, so the table holds
    only the attempts of the last window, however long the server runs."""
    cutoff = (now or utcnow()) - throttle_horizon(settings)
    stale = delete(LoginAttempt).where(LoginAttempt.at < cutoff)
    result = db.execute(stale.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def prune_dead_sessions(db: Session, settings: Settings, now: datetime | None = None) -> int:
    """Delete sessions that can never be used again (expired, revoked or idle past
    ``session_idle_s``), in the caller's transaction. Returns how many rows went. Called on
    every login, like :func:`prune_login_attempts`."""
    now = now or utcnow()
    dead = delete(LoginSession).where(
        LoginSession.revoked.is_(True)
        | (LoginSession.expires_at <= now)
        | (LoginSession.last_seen_at < now - timedelta(seconds=settings.session_idle_s))
    )
    result = db.execute(dead.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def _throttle_state(db: Session, settings: Settings, username: str, ip: str, now: datetime) -> int:
    """Seconds until a login from ``ip`` for ``username`` is allowed again (0: allowed)."""
    since = now - throttle_horizon(settings)
    last_success = db.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username, LoginAttempt.ip == ip, LoginAttempt.success.is_(True)
        )
    )
    if last_success is not None and last_success > since:
        since = last_success
    failures = list(
        db.scalars(
            select(LoginAttempt.at)
            .where(
                LoginAttempt.username == username,
                LoginAttempt.ip == ip,
                LoginAttempt.success.is_(False),
                LoginAttempt.at > since,
            )
            .order_by(LoginAttempt.at)
        )
    )
    # Locked when the last ``max_failures`` failures fall within one window.
    n = settings.login_max_failures
    if (
        len(failures) >= n
        and (failures[-1] - failures[-n]).total_seconds() <= settings.login_window_s
    ):
        remaining = settings.login_lockout_s - (now - failures[-1]).total_seconds()
        return max(0, int(remaining + 0.999))
    return 0


def login(
    db: Session,
    settings: Settings,
    secret: bytes,
    *,
    username: str,
    password: str,
    ip: str,
    hasher: PasswordHasher | None = None,
) -> tuple[User, str]:
    """Check a password; returns the user and a new session token (the cookie value).

    Raises
    ------
    Throttled
        Too many failures for this user name from this address (nothing is checked).
    NotAuthenticated
        Wrong user name or password (the same message for both).
    """
    key = username.strip().lower()[:64]
    now = utcnow()
    prune_login_attempts(db, settings, now)
    prune_dead_sessions(db, settings, now)
    wait = _throttle_state(db, settings, key, ip, now)
    if wait:
        audit(db, Actor(None, ip), "login.throttled", "user", None, username=key)
        db.commit()
        raise Throttled(
            f"too many failed logins for {username!r} from this address; try again in {wait} s",
            retry_after_s=wait,
        )
    user = db.scalar(select(User).where(func.lower(User.username) == key))
    ok = verify_password(user.password_hash if user is not None else None, password, hasher)
    ok = ok and user is not None and user.active
    db.add(LoginAttempt(username=key, ip=ip, at=now, success=bool(ok)))
    if not ok:
        audit(db, Actor(None, ip), "login.failed", "user", user.id if user else None, username=key)
        db.commit()
        raise NotAuthenticated("wrong user name or password")
    assert user is not None
    token = new_session_token()
    db.add(
        LoginSession(
            id=session_key(secret, token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(seconds=settings.session_max_age_s),
        )
    )
    audit(db, Actor(user, ip), "login", "user", user.id)
    db.commit()
    return user, token


def resolve_session(db: Session, settings: Settings, secret: bytes, token: str | None) -> User:
    """The user of a session token; raises :class:`NotAuthenticated` when it is not valid."""
    if not token:
        raise NotAuthenticated("not logged in")
    sess = db.get(LoginSession, session_key(secret, token))
    now = utcnow()
    if (
        sess is None
        or sess.revoked
        or sess.expires_at <= now
        or (now - sess.last_seen_at).total_seconds() > settings.session_idle_s
    ):
        raise NotAuthenticated("session expired or not valid; log in again")
    user = db.get(User, sess.user_id)
    if user is None or not user.active:
        raise NotAuthenticated("account disabled")
    if (now - sess.last_seen_at).total_seconds() > SESSION_TOUCH_S:
        db.execute(update(LoginSession).where(LoginSession.id == sess.id).values(last_seen_at=now))
        db.commit()
    return user


def logout(db: Session, secret: bytes, actor: Actor, token: str) -> None:
    db.execute(
        update(LoginSession)
        .where(LoginSession.id == session_key(secret, token))
        .values(revoked=True)
    )
    audit(db, actor, "logout", "user", actor.user.id if actor.user else None)
    db.commit()


def change_password(
    db: Session,
    actor: Actor,
    *,
    old_password: str,
    new_password: str,
    hasher: PasswordHasher | None = None,
) -> None:
    user = actor.user
    if user is None or not verify_password(user.password_hash, old_password, hasher):
        raise NotAuthenticated("the current password is wrong")
    _check_password(new_password)
    user = db.merge(user)
    user.password_hash = hash_password(new_password, hasher)
    audit(db, actor, "user.password", "user", user.id)
    db.commit()
