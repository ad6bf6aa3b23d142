"""The value sets the pages' JS uses come from their Python owners, as one JSON document in
every page (``#cxr-constants``, read by static/api.js): the injected values equal the owners,
no static script writes an owned value set (or the CSRF cookie and header names) again, and
a real browser under the app's CSP reads them and logs in with them (issue 17 item 1)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cxrpilot import vocabulary
from cxrpilot.workstation import _orm, _reading, _study_orm, deps
from cxrpilot.workstation._page_constants import HOME, page_constants
from cxrpilot.workstation._services import templates

from .helpers import browser_login

STATIC = Path(__file__).resolve().parents[2] / "src" / "cxrpilot" / "workstation" / "static"

#: Every constant and its Python owner.
OWNERS = {
    "arms": list(vocabulary.ARMS),
    "designs": list(vocabulary.DESIGNS),
    "radpeer_scores": list(vocabulary.RADPEER_SCORES),
    "radpeer_significant": list(vocabulary.RADPEER_SIGNIFICANT),
    "roles": list(vocabulary.ROLES),
    "member_roles": {m.value: m.user_role.value for m in vocabulary.MemberRole},
    "token_scopes": list(vocabulary.TOKEN_SCOPES),
    "statuses": [s.value for s in vocabulary.Status],
    "phrase_statuses": list(templates.PHRASE_STATUSES),
    "priorities": list(_orm.PRIORITIES),
    "read_statuses": list(_orm.READ_STATUSES),
    "study_statuses": list(_study_orm.STUDY_STATUSES),
    "eligibility": list(_study_orm.ELIGIBILITY),
    "report_sections": list(templates.SECTIONS),
    "event_kinds": list(_reading.EVENT_KINDS),
    "home": {str(k): v for k, v in HOME.items()},
    "csrf_cookie": deps.CSRF_COOKIE,
    "csrf_header": deps.CSRF_HEADER,
}

#: Hard-coded copies not yet replaced, by file and constant (none left: editor.js's phrase
#: buttons now come from ``phrase_statuses``).
KNOWN_COPIES: set[tuple[str, str]] = set()


class _Scripts(HTMLParser):
    """Every ``<script>`` of a page: its attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append((dict(attrs), ""))

    def handle_data(self, data):
        if self.lasttag == "script" and self.scripts and not self.scripts[-1][1]:
            self.scripts[-1] = (self.scripts[-1][0], data)


def _injected(html: str) -> dict:
    """The page's constants; and every other script of it is a file (no inline script)."""
    parser = _Scripts()
    parser.feed(html)
    ((attrs, text),) = [s for s in parser.scripts if s[0].get("id") == "cxr-constants"]
    assert attrs["type"] == "application/json"
    assert all(a.get("src") for a, _ in parser.scripts if a is not attrs)
    return json.loads(text)


def test_constants_are_the_owners():
    assert page_constants() == OWNERS
    assert set(OWNERS["home"]) == set(vocabulary.ROLES)
    assert set(OWNERS["member_roles"].values()) <= set(vocabulary.ROLES)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_page_carries_the_owners(world):
    anonymous = world.new_client()
    pages = {"/login": anonymous, "/worklist": world.admin, "/admin": world.admin,
             "/studies": world.admin, "/read/1": world.admin}
    _, radiologist = world.user("radiologist")
    pages["/admin (denied)"] = radiologist
    for path, client in pages.items():
        r = client.get(path.split(" ")[0])
        assert r.status_code in (200, 403), path
        assert _injected(r.text) == OWNERS, path
        # data, not script: the CSP (no inline script) is unchanged
        assert r.headers["content-security-policy"].startswith("default-src 'self';")
        assert "unsafe-inline" not in r.headers["content-security-policy"]


#: Uses of one value, not copies of a set: a comparison (``role === "reader"``), a label's key.
_ONE_VALUE = re.compile(r"""[!=]==?\s*["'][^"']*["']|["'][^"']*["']\s*:""")


def _copies(line: str, values) -> bool:
    """Whether ``line`` writes every one of ``values`` as a quoted string (a copy of the set)."""
    line = _ONE_VALUE.sub("", line)
    return all(re.search(f"[\"']{re.escape(v)}[\"']", line) for v in values)


def test_no_static_script_writes_an_owned_value_set_again():
    copies = []
    for js in sorted(STATIC.glob("*.js")):
        text = js.read_text(encoding="utf-8")
        statements = text.split(";")  # roughly: a copy is one statement (one constant, one call)
        for key, values in OWNERS.items():
            if isinstance(values, dict):
                values = list(values)
            if isinstance(values, str):
                found = [st for st in statements if values in st]
            elif len(values) < 2:
                continue
            else:
                found = [st for st in statements if _copies(st, values)]
            if found and (js.name, key) not in KNOWN_COPIES:
                line = text[: text.index(found[0])].count("\n") + 1
                copies.append(f"{js.name}:{line} writes {key}")
    assert not copies
    for name, key in KNOWN_COPIES:  # still there: when one goes, take it off the list
        statements = (STATIC / name).read_text(encoding="utf-8").split(";")
        assert any(_copies(st, OWNERS[key]) for st in statements), (name, key)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_browser_reads_the_constants_under_the_csp(browser, site):
    server, admin = site
    page = browser(strict_csp=True, viewport={"width": 1280, "height": 800})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # the login posts with the injected CSRF header name and lands on the injected home page
    browser_login(page, server.url, "admin")
    page.wait_for_url(f"**{OWNERS['home']['admin']}")
    assert page.evaluate("() => CXR") == OWNERS
    # a value list built from them: the arm choices of the assignment form
    page.wait_for_selector("select option[value=scp]", state="attached")
    arms = page.evaluate("() => [...document.querySelectorAll('select')].map(s => [...s.options].map(o => o.value))"
                         ".find(v => v.includes('scp'))")
    assert arms == OWNERS["arms"]
    roles = page.evaluate("() => [...document.querySelectorAll('select')].map(s => [...s.options].map(o => o.value))"
                          ".find(v => v.includes('evaluator'))")
    assert roles == OWNERS["roles"]
    assert page.evaluate("() => [...document.querySelectorAll('select')].find(s => [...s.options]"
                         ".some(o => o.value === 'evaluator')).value") == "radiologist"
    page.goto(f"{server.url}/studies")
    page.wait_for_selector("#study-design option", state="attached")
    designs = page.evaluate("() => [...document.querySelectorAll('#study-design option')].map(o => o.value)")
    assert designs == OWNERS["designs"]
    assert not problems
