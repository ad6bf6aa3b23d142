"""The worklist in a real browser (Debian chromium, under the page's real CSP), and a
keyboard-only read from the login page to the signature.

Priority (routine / urgent / STAT) and AI critical flags sort the rows; filters by status,
study, arm and date; search by case; signed reads hidden until asked for; every column
there; a standard-practice-only reader sees nothing of the AI (no AI column, no flag).
"""

from __future__ import annotations

import datetime as dt

import pytest

from .helpers import PASSWORD, sample_images, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

ROWS = "[data-testid=worklist] tbody tr[data-read-id]"


def _case(admin, data: bytes, **form) -> int:
    c = admin.ok("post", "/api/cases", files={"file": ("x.png", data, "image/png")}, data=form)["case"]["id"]
    wait_for(lambda: admin.ok("get", f"/api/cases/{c}")["draft_status"] == "ready", timeout=30)
    return c


def _user(admin, name: str) -> int:
    return admin.ok("post", "/api/users", 201,
                    json={"username": name, "password": PASSWORD, "role": "radiologist"})["id"]


def _assign(admin, case: int, reader: int, arm: str) -> int:
    return admin.ok("post", "/api/reads", 201, json={"case_id": case, "reader_id": reader, "arm": arm})["id"]


def _labels(page) -> list[str]:
    return [r.locator("td").nth(2).inner_text() for r in page.locator(ROWS).all()]


def _login_by_keyboard(page, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.keyboard.type(name)  # the user name field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")


def test_worklist_sorts_filters_searches_and_hides_signed(browser, site, shots):
    server, admin = site
    images = sample_images(5)
    routine = _case(admin, images[0], indication="Cough.")
    urgent = _case(admin, images[1], indication="Chest pain.", priority="urgent")
    stat = _case(admin, images[2], indication="Line placement.", priority="stat")
    done = _case(admin, images[3])
    in_study = _case(admin, images[4])
    rad = _user(admin, "rad0")
    _assign(admin, routine, rad, "ai_assisted")
    _assign(admin, urgent, rad, "scp")
    _assign(admin, stat, rad, "ai_assisted")
    signed = _assign(admin, done, rad, "scp")
    sid = admin.ok("post", "/api/studies", 201, json={"name": "trial-A", "design": "per_case"})["id"]
    admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": [in_study]})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": [rad], "role": "reader"})
    admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 1})
    rc = server.client()
    rc.login("rad0")
    rep = rc.ok("post", f"/api/reads/{signed}/open")
    rc.ok("post", f"/api/reads/{signed}/sign", json={"rev": rep["rev"], "impression_text": "Normal."})
    label = {c: admin.ok("get", f"/api/cases/{c}")["case"]["label"] for c in (routine, urgent, stat, done, in_study)}

    page = browser(strict_csp=True, viewport={"width": 1600, "height": 900})
    _login_by_keyboard(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.wait_for_selector("body[data-worklist-ready]")
    headers = page.inner_text("[data-testid=worklist] thead")
    for h in ("Priority", "Case", "Accession", "Age", "Sex", "View", "Indication", "Study", "Arm", "Status",
              "AI critical findings", "Assigned"):
        assert h in headers, h
    # Priority first (STAT, urgent, then routine), signed hidden.
    rows = _labels(page)
    assert rows[:2] == [label[stat], label[urgent]] and label[done] not in rows and len(rows) == 4
    assert "1 signed hidden" in page.inner_text("[data-testid=worklist-count]")
    assert page.locator(f"{ROWS}.selected").get_attribute("data-priority") == "stat"
    page.screenshot(path=str(shots / "worklist.png"))

    page.keyboard.press("s")
    assert label[done] in _labels(page)
    page.keyboard.press("s")
    assert label[done] not in _labels(page)

    # AI critical flags as the sort key: flagged AI-assisted rows first, scp rows carry none.
    page.keyboard.press("c")
    assert "sorted by AI critical flags" in page.inner_text("[data-testid=worklist-sort]")
    flagged = [r.get_attribute("data-read-id") for r in page.locator(ROWS).all() if r.locator(".flag").count()]
    order = [r.get_attribute("data-read-id") for r in page.locator(ROWS).all()]
    assert order[: len(flagged)] == flagged
    scp_row = page.locator(ROWS, has_text=label[urgent])
    assert scp_row.locator(".flag").count() == 0 and "draft" not in scp_row.inner_text()

    # Search, and Esc back to the keys.
    page.keyboard.press("/")
    page.keyboard.type(label[urgent])
    assert _labels(page) == [label[urgent]]
    page.keyboard.press("Escape")
    page.fill("[data-testid=worklist-search]", "line placement")
    assert _labels(page) == [label[stat]]
    page.fill("[data-testid=worklist-search]", "")

    # Filters: arm, study, status, date.
    page.select_option("[data-testid=filter-arm]", "scp")
    assert _labels(page) == [label[urgent]] or set(_labels(page)) == {label[urgent], label[in_study]}
    page.select_option("[data-testid=filter-arm]", "")
    page.select_option("[data-testid=filter-study]", "trial-A")
    assert _labels(page) == [label[in_study]]
    page.select_option("[data-testid=filter-study]", "")
    page.select_option("[data-testid=filter-status]", "signed")
    assert _labels(page) == [label[done]]
    page.select_option("[data-testid=filter-status]", "open")
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    page.fill("input[aria-label='Assigned from']", tomorrow)
    assert _labels(page) == [] and "No read matches" in page.inner_text("[data-testid=worklist] tbody")
    page.fill("input[aria-label='Assigned from']", "")
    assert len(_labels(page)) == 4
    # The choices last across a reload.
    page.keyboard.press("Escape")
    page.keyboard.press("t")
    page.reload()
    page.wait_for_selector("body[data-worklist-ready]")
    assert "sorted by assignment time" in page.inner_text("[data-testid=worklist-sort]")


def test_keyboard_only_read_from_login_to_signature(browser, site, shots):
    """Standard practice, keyboard only: no AI anywhere, from login to the signed report."""
    server, admin = site
    case = _case(admin, sample_images(1)[0], indication="Cough and fever.", priority="urgent")
    rad = _user(admin, "rad1")
    read = _assign(admin, case, rad, "scp")
    page = browser(strict_csp=True, viewport={"width": 1400, "height": 900})
    _login_by_keyboard(page, server.url, "rad1")
    page.wait_for_url("**/worklist")
    page.wait_for_selector("body[data-worklist-ready]")
    text = page.inner_text("body")
    for leak in ("AI", "draft", "critical", "Critical"):
        assert leak not in text, leak
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/read/{read}")
    page.wait_for_selector("[data-testid=viewer-canvas][data-resolution=full]", timeout=30000)
    page.wait_for_selector("body[data-editor-ready]")
    page.keyboard.press("2")  # the Lung preset
    page.keyboard.press("F2")  # the normal template
    page.keyboard.press("w")  # into FINDINGS, at its end
    assert page.evaluate("() => document.activeElement.id") == "findings"
    page.keyboard.press("Tab")  # then IMPRESSION
    assert page.evaluate("() => document.activeElement.id") == "impression"
    page.keyboard.press("Control+End")
    page.keyboard.type(" Clinical correlation for infection.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("body[data-signed]")
    page.screenshot(path=str(shots / "keyboard-signed.png"))
    page.keyboard.press("n")  # nothing left: back to the worklist
    page.wait_for_url("**/worklist")
    rc = server.client()
    rc.login("rad1")
    report = rc.ok("get", f"/api/reads/{read}")["reports"][-1]
    assert report["status"] == "final" and report["technique_text"] == "Single PA view of the chest."
    assert report["impression_text"].endswith("Clinical correlation for infection.")
    assert report["indication_text"] == "Cough and fever."
