"""/api/auth: login, logout, the current user and its CSRF token, own password."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from .._schemas import LoginIn, PasswordChange, SessionOut, UserOut
from .._security import csrf_token, safe_next_path
from .._services import auth as service
from ..deps import CSRF_COOKIE, SESSION_COOKIE, CurrentActor, Db, State, client_ip

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _secure(request: Request, state) -> bool:
    mode = state.settings.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


@router.post("/login", response_model=SessionOut)
def login(body: LoginIn, request: Request, response: Response, state: State, db: Db) -> SessionOut:
    user, token = service.login(
        db,
        state.settings,
        state.secret,
        username=body.username,
        password=body.password,
        ip=client_ip(request),
        hasher=state.hasher,
    )
    secure = _secure(request, state)
    max_age = state.settings.session_max_age_s
    csrf = csrf_token(state.secret, token)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=max_age,
        httponly=False,
        samesite="strict",
        secure=secure,
        path="/",
    )
    from .._page_constants import HOME

    redirect = HOME.get(user.role, "/") if body.next is None else safe_next_path(body.next)
    return SessionOut(user=UserOut.model_validate(user), csrf_token=csrf, redirect=redirect)


@router.post("/logout", status_code=204)
def logout(
    request: Request, response: Response, actor: CurrentActor, state: State, db: Db
) -> Response:
    service.logout(db, state.secret, actor, request.cookies[SESSION_COOKIE])
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=SessionOut)
def me(request: Request, actor: CurrentActor, state: State) -> SessionOut:
    return SessionOut(
        user=UserOut.model_validate(actor.user),
        csrf_token=csrf_token(state.secret, request.cookies[SESSION_COOKIE]),
    )


@router.post("/password", status_code=204)
def change_password(
    body: PasswordChange, request: Request, actor: CurrentActor, state: State, db: Db
) -> Response:
    """Change your own password; your other sessions end (this one stays)."""
    service.change_password(
        db,
        state.settings,
        state.secret,
        actor,
        old_password=body.old_password,
        new_password=body.new_password,
        session_token=request.cookies.get(SESSION_COOKIE),
        hasher=state.hasher,
    )
    return Response(status_code=204)
