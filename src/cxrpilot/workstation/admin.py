"""Administration of a workstation's database from the server's shell, without the web app:
the schema, users and API tokens. ``cxrpilot admin``, ``cxrpilot tokens`` and ``cxrpilot serve
--init-admin`` are these functions behind argument parsing.

Each function opens the database of ``settings`` (:class:`~cxrpilot.workstation.Settings`),
migrates it to the newest schema first (except :func:`migrate`, which moves it), does one
thing as the system (audited as ``system``, like the first admin's creation) and closes it.
They return plain values (dicts of JSON types), never database rows. A refusal (an unknown
role, a taken user name, the last admin demoted, an unknown token) is an
:class:`~cxrpilot.errors.InvalidInputError` or another :class:`~cxrpilot.errors.CxrpilotError`
naming the input::

    from cxrpilot.workstation import Settings, admin
    settings = Settings(data_dir="ws-data")
    admin.create_user(settings, "dr.adams", "radiologist", password="a long passphrase")
    info, token = admin.create_token(settings, "PACS bridge", ["ingest"], user="dr.adams")
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from . import _db
from ._errors import NotFound
from ._interop_orm import ApiToken
from ._orm import User
from ._schemas import UserOut
from ._security import password_hasher
from ._services import auth, tokens
from ._settings import Settings

__all__ = [
    "migrate",
    "current_revision",
    "head_revision",
    "create_user",
    "ensure_user",
    "set_role",
    "list_users",
    "create_token",
    "list_tokens",
    "revoke_token",
]


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    engine = _db.make_engine(settings.resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    """A session on the database of ``settings``, migrated to the newest schema first."""
    with _engine(settings) as engine:
        _db.upgrade(engine)
        with _db.make_sessionmaker(engine)() as db:
            yield db


def migrate(settings: Settings, revision: str = "head", *, downgrade: bool = False) -> str | None:
    """Upgrade the schema to ``revision`` (or, with ``downgrade``, down to it: ``"base"`` is no
    tables). Returns the revision the database is at afterwards."""
    with _engine(settings) as engine:
        (_db.downgrade if downgrade else _db.upgrade)(engine, revision)
        return _db.current_revision(engine)


def current_revision(settings: Settings) -> str | None:
    """The schema revision the database is at (None: never migrated); changes nothing."""
    with _engine(settings) as engine:
        return _db.current_revision(engine)


def head_revision() -> str:
    """The newest schema revision this version ships."""
    return _db.head_revision()


def _user(u: User) -> dict[str, Any]:
    """A user as the users API shows it (never the password hash)."""
    return UserOut.model_validate(u).model_dump()


def _create_user(
    db: Session, settings: Settings, username: str, role: str, password: str, display_name: str
) -> dict[str, Any]:
    return _user(
        auth.create_user(
            db,
            None,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            hasher=password_hasher(settings.password_time_cost, settings.password_memory_kib),
        )
    )


def create_user(
    settings: Settings, username: str, role: str, *, password: str, display_name: str = ""
) -> dict[str, Any]:
    """Create a user with ``password`` (the password policy applies). A taken user name is
    refused (a ``CxrpilotError`` saying so)."""
    with _session(settings) as db:
        return _create_user(db, settings, username, role, password, display_name)


def ensure_user(
    settings: Settings, username: str, role: str, password: str | None = None, display_name: str = ""
) -> tuple[bool, str | None]:
    """Create ``username`` unless it exists (then nothing changes, whatever its role).

    Returns ``(created, generated)``: ``generated`` is the password made up when ``password``
    is None (print it once), else None."""
    with _session(settings) as db:
        if db.scalar(select(User).where(User.username == username)) is not None:
            return False, None
        generated = secrets.token_urlsafe(12) if password is None else None
        _create_user(db, settings, username, role, password or generated, display_name)
        return True, generated


def _user_named(db: Session, username: str) -> User:
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def set_role(settings: Settings, username: str, role: str) -> dict[str, Any]:
    """Give ``username`` the ``role`` (one of :data:`cxrpilot.vocabulary.ROLES`); the last
    active admin keeps theirs."""
    with _session(settings) as db:
        return _user(auth.update_user(db, None, _user_named(db, username).id, role=role))


def list_users(settings: Settings) -> list[dict[str, Any]]:
    """Every user, by id (never a password hash)."""
    with _session(settings) as db:
        return [_user(u) for u in db.scalars(select(User).order_by(User.id))]


def _token(t: ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "scopes": list(t.scopes),
        "user_id": t.user_id,
        "created_at": t.created_at.isoformat(),
        "expires_at": t.expires_at.isoformat() if t.expires_at else None,
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
        "use_count": t.use_count,
    }


def create_token(
    settings: Settings,
    name: str,
    scopes: list[str],
    *,
    user: str,
    expires_days: int | None = None,
) -> tuple[dict[str, Any], str]:
    """Create an API token acting as the account ``user``, for ``scopes`` (of
    :data:`cxrpilot.vocabulary.TOKEN_SCOPES`). Returns ``(info, token)``: the token itself is
    stored nowhere (only its SHA-256); show it once."""
    with _session(settings) as db:
        row, token = tokens.create_token(
            db, None, name=name, scopes=scopes, username=user, expires_days=expires_days
        )
        return _token(row), token


def list_tokens(settings: Settings) -> list[dict[str, Any]]:
    """Every API token, by id (never the tokens themselves)."""
    with _session(settings) as db:
        return [_token(t) for t in tokens.list_tokens(db, None)]


def revoke_token(settings: Settings, token_id: int) -> dict[str, Any]:
    """Revoke token ``token_id`` now (idempotent); returns it."""
    with _session(settings) as db:
        return _token(tokens.revoke_token(db, None, token_id))
