"""Users, login (with throttling), server-side sessions, passwords."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from cxrpilot.vocabulary import Role

from .._errors import Conflict, InvalidInput, NotAuthenticated, NotFound, Throttled
from .._orm import ROLES, AuditEvent, LoginAttempt, LoginSession, User, utcnow
from .._passwords import check_password_policy
from .._security import (
    hash_password,
    new_session_token,
    session_key,
    verify_password,
)
from .._settings import Settings
from ._common import Actor, audit, insert_unique
from ._locks import lock_rows

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
SESSION_TOUCH_S = 60




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
        actor.require(Role.ADMIN)
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            f"user name {username!r} is not valid: 2-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not known; expected one of {', '.join(ROLES)}")
    check_password_policy(password, username=username, display_name=display_name)
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        password_hash=hash_password(password, hasher),
    )
    insert_unique(db, user, f"user name {username!r} is taken")
    audit(db, actor or Actor(None), "user.create", "user", user.id, username=username, role=role)
    db.commit()
    return user


def _keeps_an_admin(db: Session, user: User, role: str | None, active: bool | None) -> None:
    """Refuse a change that would leave no active admin. The active admins are locked
    first, so two admins demoting each other at once cannot both succeed."""
    stays_admin = (role or user.role) == Role.ADMIN and (user.active if active is None else active)
    if user.role != Role.ADMIN or not user.active or stays_admin:
        return
    lock_rows(db, User, User.role == Role.ADMIN, User.active.is_(True))
    others = db.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
    )
    if not others:
        db.rollback()
        raise Conflict(
            f"{user.username!r} is the last active admin: make another user an admin first"
        )


def update_user(
    db: Session,
    actor: Actor | None,
    user_id: int,
    *,
    role: str | None = None,
    active: bool | None = None,
    password: str | None = None,
    display_name: str | None = None,
    hasher: PasswordHasher | None = None,
) -> User:
    """Change a user (admins; ``actor`` None: the server's command line). Deactivating or
    resetting the password ends their sessions; the last active admin cannot be demoted or
    deactivated (by themselves or anyone)."""
    if actor is not None:
        actor.require(Role.ADMIN)
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    if role is not None and role not in ROLES:
        raise InvalidInput(f"role {role!r} is not known; expected one of {', '.join(ROLES)}")
    if password is not None:
        check_password_policy(
            password,
            username=user.username,
            display_name=user.display_name if display_name is None else display_name,
        )
        new_hash = hash_password(password, hasher)  # before any lock: hashing is slow
    _keeps_an_admin(db, user, role, active)
    user = db.get(User, user_id, populate_existing=True)
    assert user is not None
    changed: dict[str, object] = {}
    if role is not None:
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
        user.password_hash = new_hash
        changed["password"] = "reset"
        db.execute(update(LoginSession).where(LoginSession.user_id == user.id).values(revoked=True))
    audit(db, actor or Actor(None), "user.update", "user", user.id, **changed)
    db.commit()
    return user


def list_users(db: Session, actor: Actor) -> list[User]:
    actor.require(Role.ADMIN, Role.COORDINATOR)
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


#: An anonymous audit event of one kind from one address is written at most this often.
ANONYMOUS_AUDIT_EVERY_S = 60


def _scopes(settings: Settings, key: str, ip: str) -> list[tuple[Any, int, bool]]:
    """The throttle's counters: ``(which attempts, failures allowed, reset by a success)``
    per user name from one address, per user name from anywhere, per address for any
    user name (password spraying)."""
    return [
        (
            (LoginAttempt.username == key) & (LoginAttempt.ip == ip),
            settings.login_max_failures,
            True,
        ),
        (LoginAttempt.username == key, settings.login_user_max_failures, True),
        (LoginAttempt.ip == ip, settings.login_ip_max_failures, False),
    ]


def _wait_s(
    db: Session, settings: Settings, key: str, ip: str, now: datetime, exclude_id: int
) -> int:
    """Seconds until an attempt for ``key`` from ``ip`` may be checked (0: now). Counts the
    failures of every scope (attempts still being checked count as failures), except the
    attempt ``exclude_id`` itself: locked when the last ``n`` fall within one window."""
    horizon = now - throttle_horizon(settings)
    wait = 0
    for where, n, reset in _scopes(settings, key, ip):
        since = horizon
        if reset:
            last_success = db.scalar(
                select(func.max(LoginAttempt.at)).where(where, LoginAttempt.success.is_(True))
            )
            if last_success is not None and last_success > since:
                since = last_success
        failures = list(
            db.scalars(
                select(LoginAttempt.at)
                .where(
                    where,
                    LoginAttempt.success.is_(False),
                    LoginAttempt.at >= since,
                    LoginAttempt.id != exclude_id,
                )
                .order_by(LoginAttempt.at.desc())
                .limit(n)
            )
        )
        spread = (failures[0] - failures[-1]).total_seconds() if failures else 0.0
        if len(failures) >= n and spread <= settings.login_window_s:
            remaining = settings.login_lockout_s - (now - failures[0]).total_seconds()
            wait = max(wait, math.ceil(max(remaining, 0.0)))
    return wait


def _reserve_attempt(db: Session, settings: Settings, key: str, ip: str, now: datetime) -> int:
    """Record an attempt as a failure before anything is checked, and commit it: attempts
    made at the same moment then count each other, so a burst of parallel guesses is held
    to the throttle's limit (at most ``n`` are checked). One short write transaction, with
    the pruning of stale rows; no password hash is computed while it holds a lock."""
    prune_login_attempts(db, settings, now)
    prune_dead_sessions(db, settings, now)
    attempt = LoginAttempt(username=key, ip=ip, at=now, success=False)
    db.add(attempt)
    db.commit()
    return attempt.id


def _throttled(
    db: Session, settings: Settings, actor: Actor, attempt_id: int, key: str, now: datetime,
    action: str, what: str,
) -> Throttled | None:
    """A :class:`Throttled` error if the reserved attempt may not be checked (the attempt is
    then removed: a refused attempt checks nothing and does not prolong a lockout)."""
    wait = _wait_s(db, settings, key, actor.ip or "unknown", now, attempt_id)
    if not wait:
        db.commit()  # end the read transaction before the (slow) hash check
        return None
    db.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))
    audit_limited(db, actor, action, key, now)
    db.commit()
    return Throttled(
        f"too many failed {what} for this account or from this address; try again in {wait} s",
        retry_after_s=wait,
    )


def audit_limited(db: Session, actor: Actor, action: str, key: str, now: datetime) -> None:
    """Audit an event of an anonymous (or throttled) client, at most once per
    :data:`ANONYMOUS_AUDIT_EVERY_S` per action and address, so that a flood of requests
    cannot grow the append-only log without bound (the login attempts table keeps the
    count until it is pruned)."""
    recent = db.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.action == action,
            AuditEvent.ip == actor.ip,
            AuditEvent.at > now - timedelta(seconds=ANONYMOUS_AUDIT_EVERY_S),
        )
        .limit(1)
    )
    if recent is None:
        audit(
            db,
            actor,
            action,
            "user",
            actor.user.id if actor.user else None,
            username=key,
            note=f"at most one {action} event per address per {ANONYMOUS_AUDIT_EVERY_S} s",
        )


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

    The attempt is recorded (and committed) first, then the throttle is read, then the
    hash is checked with no transaction open, then the outcome is written: the database
    write lock (SQLite) is never held while a hash is computed.

    Raises
    ------
    Throttled
        Too many failures for this user name from this address, for this user name, or
        from this address (nothing is checked).
    NotAuthenticated
        Wrong user name or password (the same message for both).
    """
    key = username.strip().lower()[:64]
    now = utcnow()
    anonymous = Actor(None, ip)
    attempt_id = _reserve_attempt(db, settings, key, ip, now)
    refused = _throttled(db, settings, anonymous, attempt_id, key, now, "login.throttled", "logins")
    if refused is not None:
        raise refused
    user = db.scalar(select(User).where(func.lower(User.username) == key))
    stored_hash = user.password_hash if user is not None else None
    active = user is not None and user.active
    db.commit()  # no transaction is open while the hash is checked
    ok = verify_password(stored_hash, password, hasher) and active
    if not ok:
        if user is not None:  # bounded by the per-user and per-address throttles
            audit(db, anonymous, "login.failed", "user", user.id, username=key)
        else:
            audit_limited(db, anonymous, "login.failed", key, now)
        db.commit()
        raise NotAuthenticated("wrong user name or password")
    assert user is not None
    db.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(success=True))
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
    settings: Settings,
    secret: bytes,
    actor: Actor,
    *,
    old_password: str,
    new_password: str,
    session_token: str | None = None,
    hasher: PasswordHasher | None = None,
) -> int:
    """Change the actor's own password; ends every other session of theirs (the one
    ``session_token`` belongs to stays). Guesses of the current password are throttled
    and counted like failed logins, and each failure is audited.

    Returns how many other sessions were ended.

    Raises
    ------
    Throttled
        Too many failed logins or changes for this user.
    NotAuthenticated
        The current password is wrong.
    InvalidInput
        The new password breaks the policy (see :func:`check_password_policy`).
    """
    user = actor.user
    if user is None:
        raise NotAuthenticated("not logged in")
    key, ip, now = user.username.lower(), actor.ip or "unknown", utcnow()
    check_password_policy(new_password, username=user.username, display_name=user.display_name)
    attempt_id = _reserve_attempt(db, settings, key, ip, now)
    refused = _throttled(
        db, settings, actor, attempt_id, key, now, "user.password_throttled", "password checks"
    )
    if refused is not None:
        raise refused
    stored_hash = db.scalar(select(User.password_hash).where(User.id == user.id))
    db.commit()  # no transaction is open while the hash is checked
    if not verify_password(stored_hash, old_password, hasher):
        audit(db, actor, "user.password_failed", "user", user.id, reason="wrong current password")
        db.commit()
        raise NotAuthenticated("the current password is wrong")
    new_hash = hash_password(new_password, hasher)
    db.execute(update(LoginAttempt).where(LoginAttempt.id == attempt_id).values(success=True))
    db.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
    keep = session_key(secret, session_token) if session_token else None
    ended = db.execute(
        update(LoginSession)
        .where(
            LoginSession.user_id == user.id,
            LoginSession.revoked.is_(False),
            *([LoginSession.id != keep] if keep else []),
        )
        .values(revoked=True)
        .execution_options(synchronize_session=False)
    ).rowcount
    audit(db, actor, "user.password", "user", user.id, other_sessions_ended=int(ended or 0))
    db.commit()
    return int(ended or 0)
