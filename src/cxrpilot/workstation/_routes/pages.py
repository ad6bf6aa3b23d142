"""The web pages: static HTML shells whose scripts call the JSON API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).resolve().parents[1] / "static"

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(
        STATIC / f"{name}.html", media_type="text/html", headers={"Cache-Control": "no-cache"}
    )


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/login", status_code=303)


@router.get("/login")
def login_page() -> FileResponse:
    return _page("login")


@router.get("/worklist")
def worklist_page() -> FileResponse:
    return _page("worklist")


@router.get("/read/{read_id}")
def read_page(read_id: int) -> FileResponse:
    return _page("read")


@router.get("/evaluations")
def evaluations_page() -> FileResponse:
    return _page("evaluations")


@router.get("/evaluation/{task_id}")
def evaluation_page(task_id: int) -> FileResponse:
    return _page("evaluation")


@router.get("/admin")
def admin_page() -> FileResponse:
    return _page("admin")
