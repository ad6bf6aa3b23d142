"""The value sets the browser pages use, from their Python owners, handed to the JS as one
JSON document: every page's ``<script type="application/json" id="cxr-constants">`` (data,
not script, so the CSP's "no inline script" holds), read once by ``static/api.js`` into
``CXR``. The JS keeps only its wording (labels) for these values, never the values."""

from __future__ import annotations

from typing import Any

from cxrpilot.vocabulary import (
    ARMS,
    DESIGNS,
    MEMBER_ROLES,
    RADPEER_SCORES,
    RADPEER_SIGNIFICANT,
    ROLES,
    TOKEN_SCOPES,
    MemberRole,
    Role,
    Status,
)

from ._orm import PRIORITIES, READ_STATUSES
from ._reading import EVENT_KINDS
from ._services.templates import PHRASE_STATUSES, SECTIONS
from ._study_orm import ELIGIBILITY, STUDY_STATUSES
from .deps import CSRF_COOKIE, CSRF_HEADER

__all__ = ["HOME", "page_constants"]

#: Each role's start page (``/`` and a login without ``next`` go there).
HOME: dict[str, str] = {
    Role.RADIOLOGIST: "/worklist",
    Role.EVALUATOR: "/evaluations",
    Role.ADMIN: "/admin",
    Role.COORDINATOR: "/studies",
}


def page_constants() -> dict[str, Any]:
    """The constants of ``CXR`` in the pages' JS (plain JSON types, values in their owners'
    order)."""
    return {
        "arms": list(ARMS),
        "designs": list(DESIGNS),
        "radpeer_scores": list(RADPEER_SCORES),
        "radpeer_significant": list(RADPEER_SIGNIFICANT),
        "roles": list(ROLES),
        "member_roles": {m: MemberRole(m).user_role.value for m in MEMBER_ROLES},
        "token_scopes": list(TOKEN_SCOPES),
        "statuses": [s.value for s in Status],
        "phrase_statuses": list(PHRASE_STATUSES),
        "priorities": list(PRIORITIES),
        "read_statuses": list(READ_STATUSES),
        "study_statuses": list(STUDY_STATUSES),
        "eligibility": list(ELIGIBILITY),
        "report_sections": list(SECTIONS),
        "event_kinds": list(EVENT_KINDS),
        "home": {str(role): path for role, path in HOME.items()},
        "csrf_cookie": CSRF_COOKIE,
        "csrf_header": CSRF_HEADER,
    }

