"""The web pages: one Jinja2 base template (head, header, #root) whose scripts call the JSON API.

Pages for staff (admin, studies) check the session on the server: not logged in -> the login
page; another role -> 403 with a short page. The other pages are shells whose data come from
the API, which checks access itself. Every page carries the value sets its scripts use as
one JSON document (:mod:`.._page_constants`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cxrpilot.vocabulary import Role

from .._assets import asset_url
from .._errors import Forbidden, NotAuthenticated
from .._page_constants import HOME, page_constants
from .._schemas import PathId
from .._services import auth as auth_service
from .._services._common import Actor
from .._services.studies import STAFF
from ..deps import SESSION_COOKIE, Db, State

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
#: Every page carries these as JSON (base.html's ``#cxr-constants``; read by static/api.js).
TEMPLATES.env.globals["cxr_constants"] = page_constants()
#: ``static('app.css')`` -> ``/static/app.css?v=...``: the versioned URL (see :mod:`.._assets`).
TEMPLATES.env.globals["static"] = asset_url

router = APIRouter(include_in_schema=False)


def _render(
    request: Request, template: str, title: str, *scripts: str, status_code: int = 200, **extra
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"title": title, "scripts": scripts, **extra},
        status_code=status_code,
        headers={"Cache-Control": "no-cache"},
    )


def _page(request: Request, title: str, *scripts: str) -> HTMLResponse:
    return _render(request, "base.html", title, *scripts)


def _staff_page(
    request: Request, state: State, db: Db, title: str, *scripts: str, roles=STAFF
) -> Response:
    """A page for admins and coordinators only, or ``roles`` (checked here, not only by its
    API calls)."""
    try:
        user = auth_service.resolve_session(
            db, state.settings, state.secret, request.cookies.get(SESSION_COOKIE)
        )
    except NotAuthenticated:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    try:
        Actor(user).require(*roles)
    except Forbidden as exc:
        return _render(
            request,
            "denied.html",
            "Not allowed",
            status_code=403,
            error=f"{title}: {exc}",
            home=HOME.get(user.role, "/login"),
        )
    return _page(request, title, *scripts)


@router.get("/")
def home(request: Request, state: State, db: Db) -> RedirectResponse:
    """The user's home page when logged in (by role), else the login page."""
    try:
        user = auth_service.resolve_session(
            db, state.settings, state.secret, request.cookies.get(SESSION_COOKIE)
        )
    except NotAuthenticated:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME.get(user.role, "/login"), status_code=303)


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    return _render(request, "login.html", "Log in", "login.js")


@router.get("/worklist")
def worklist_page(request: Request) -> HTMLResponse:
    return _page(request, "Worklist", "worklist.js")


@router.get("/read/{read_id}")
def read_page(request: Request, read_id: PathId) -> HTMLResponse:
    # the image's first view is asked for while the HTML is parsed (read.js takes it up);
    # not with the transfer bench's before-knobs (?first=png, ?transfer=raw: asked by case)
    knobs = {"first", "transfer"} & set(request.query_params)
    return _render(
        request,
        "base.html",
        "Case",
        "png16.js",
        "viewer.js",
        "maps.js",
        "editor.js",
        "exam.js",
        "read.js",
        preload=() if knobs else (f"/api/reads/{read_id}/viewer",),
    )


@router.get("/read/{read_id}/report")
def report_page(request: Request, read_id: PathId) -> HTMLResponse:
    """The report of a read as a printable page (print it, or save it as PDF)."""
    return _page(request, "Report", "report.js")


@router.get("/account")
def account_page(request: Request) -> HTMLResponse:
    """The logged-in user's account: change the password."""
    return _page(request, "Account", "account.js")


@router.get("/evaluations")
def evaluations_page(request: Request) -> HTMLResponse:
    return _page(request, "Evaluations", "evaluations.js")


@router.get("/evaluation/{task_id}")
def evaluation_page(request: Request, task_id: PathId) -> HTMLResponse:
    return _page(request, "Evaluation", "png16.js", "viewer.js", "evaluation.js")


@router.get("/admin")
def admin_page(request: Request, state: State, db: Db) -> Response:
    return _staff_page(request, state, db, "Administration", "admin.js")


@router.get("/interfaces")
def interop_page(request: Request, state: State, db: Db) -> Response:
    """The interfaces, for admins: the outbox (SRs and FHIR sent out; retry) and API tokens."""
    return _staff_page(request, state, db, "Interfaces", "interop.js", roles=(Role.ADMIN,))


@router.get("/studies")
def studies_page(request: Request, state: State, db: Db) -> Response:
    return _staff_page(request, state, db, "Studies", "studies.js")


@router.get("/studies/{study_id}")
def study_page(request: Request, state: State, db: Db, study_id: PathId) -> Response:
    return _staff_page(request, state, db, "Study", "study.js")
