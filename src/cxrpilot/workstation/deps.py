"""Typed FastAPI dependencies: the app state, a database session, the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ._models import User
from ._services import auth as auth_service
from ._services._common import Actor
from ._settings import Settings
from ._storage import BlobStore

__all__ = [
    "AppState",
    "get_state",
    "get_db",
    "get_current_user",
    "get_actor",
    "State",
    "Db",
    "CurrentActor",
    "SESSION_COOKIE",
    "CSRF_COOKIE",
    "CSRF_HEADER",
]

SESSION_COOKIE = "cxrpilot_session"
CSRF_COOKIE = "cxrpilot_csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass
class AppState:
    """What the app holds for its lifetime (built by :func:`create_app`)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: BlobStore
    secret: bytes
    loader: Any
    hasher: Any = None
    worker: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Keys the pseudonymous patient key of exams (HMAC-SHA256 of the Patient ID).
    patient_secret: bytes = b""
    #: The inbound side (DICOM SCP, DICOMweb pull): :class:`._inbound.Inbound`.
    inbound: Any = None


def get_state(request: Request) -> AppState:
    return request.app.state.ws


State = Annotated[AppState, Depends(get_state)]


def get_db(state: State) -> Iterator[Session]:
    """One session per request; the service layer commits, anything left is rolled back."""
    with state.sessions() as db:
        yield db


Db = Annotated[Session, Depends(get_db)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def get_current_user(request: Request, state: State, db: Db) -> User:
    """The logged-in user (401 otherwise)."""
    return auth_service.resolve_session(
        db, state.settings, state.secret, request.cookies.get(SESSION_COOKIE)
    )


def get_actor(request: Request, user: Annotated[User, Depends(get_current_user)]) -> Actor:
    return Actor(user, client_ip(request))


CurrentActor = Annotated[Actor, Depends(get_actor)]
