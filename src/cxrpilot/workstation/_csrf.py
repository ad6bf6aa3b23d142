"""CSRF protection on every state-changing request (a synchroniser token in a header)."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ._security import check_csrf

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CSRFMiddleware:
    """Refuses (403) any POST/PUT/PATCH/DELETE whose ``X-CSRF-Token`` header is not the
    token bound to the request's session cookie. ``exempt`` paths (login) are let through:
    they have no session yet and accept JSON only, which a cross-site form cannot send.
    Requests with an API token (``Authorization: Bearer``) and no session cookie need no
    CSRF token: the route authenticates the token."""

    def __init__(
        self, app: ASGIApp, *, secret: bytes, cookie: str, header: str, exempt: frozenset[str]
    ) -> None:
        self.app, self.secret, self.cookie, self.header, self.exempt = (
            app,
            secret,
            cookie,
            header,
            exempt,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and scope["path"] not in self.exempt
        ):
            conn = HTTPConnection(scope)
            if self.cookie not in conn.cookies and conn.headers.get(
                "authorization", ""
            ).lower().startswith("bearer "):
                # An API token, no session cookie: nothing a cross-site page could ride on
                # (a browser sends no Authorization header cross-site without CORS).
                await self.app(scope, receive, send)
                return
            if not check_csrf(
                self.secret, conn.cookies.get(self.cookie), conn.headers.get(self.header)
            ):
                response = JSONResponse(
                    {
                        "detail": f"CSRF check failed: send the {self.header} header with the token from "
                        "/api/auth/me (or the login response)"
                    },
                    status_code=403,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
