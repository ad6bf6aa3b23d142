"""Typed FastAPI dependencies: the app state, a database session, the acting user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cxrpilot.vocabulary import TokenScope

from ._errors import Forbidden
from ._orm import User
from ._services import auth as auth_service
from ._services import tokens as token_service
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
    "scoped_actor",
    "IngestActor",
    "ResultsActor",
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

    def wake_worker(self) -> None:
        """Tell the draft worker that a job was queued (nothing when the app runs without one)."""
        if self.worker is not None:
            self.worker.notify()


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


#: The two ways in, as OpenAPI lists them: the login session's cookie, and API tokens.
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session",
    description="Login session cookie (POST /api/auth/login); state-changing requests also "
    "need the X-CSRF-Token header.",
    auto_error=False,
)
api_token = HTTPBearer(
    scheme_name="apiToken",
    description="API token of a machine client (`Authorization: Bearer cxrp_...`), created by "
    "an admin (POST /api/tokens or `cxrpilot tokens create`). Accepted only on the routes of "
    "its scopes: `ingest` (import images), `read:results` (reports, FHIR, case state).",
    auto_error=False,
)


def get_current_user(
    request: Request,
    state: State,
    db: Db,
    session: Annotated[str | None, Depends(session_cookie)] = None,
) -> User:
    """The logged-in user (401 otherwise). API tokens are refused here (403): they are
    accepted only by routes that take :func:`scoped_actor`."""
    if session is None and request.headers.get("authorization", "").lower().startswith("bearer "):
        raise Forbidden(
            "this route does not accept API tokens; it needs a login session "
            "(tokens work on the routes of their scopes, see the OpenAPI description)"
        )
    return auth_service.resolve_session(db, state.settings, state.secret, session)


def get_actor(request: Request, user: Annotated[User, Depends(get_current_user)]) -> Actor:
    return Actor(user, client_ip(request))


CurrentActor = Annotated[Actor, Depends(get_actor)]


def scoped_actor(scope: str):
    """A dependency: the acting user by API token with ``scope`` (``Authorization: Bearer``)
    or by login session. A token without the scope is a 403, a revoked, expired or unknown
    one a 401; every use is recorded and audited (see :mod:`._services.tokens`)."""
    scope = TokenScope(scope).value

    def dependency(
        request: Request,
        state: State,
        db: Db,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(api_token)] = None,
        session: Annotated[str | None, Depends(session_cookie)] = None,
    ) -> Actor:
        ip = client_ip(request)
        if bearer is not None:
            user, row = token_service.authenticate(
                db,
                bearer.credentials,
                scope=scope,
                ip=ip,
                method=request.method,
                path=request.url.path,
            )
            return Actor(user, ip, token_id=row.id)
        return Actor(auth_service.resolve_session(db, state.settings, state.secret, session), ip)

    dependency.__name__ = f"actor_with_{scope.replace(':', '_')}"
    return dependency


#: The acting user of a route that API tokens with ``ingest`` may call.
IngestActor = Annotated[Actor, Depends(scoped_actor(TokenScope.INGEST))]
#: The acting user of a route that API tokens with ``read:results`` may call.
ResultsActor = Annotated[Actor, Depends(scoped_actor(TokenScope.READ_RESULTS))]
