"""Image import and the account page in a real browser (Debian chromium, real CSP).

Import: several files at once with an indication, a reference report and a priority; a
result row per file (thumbnail, the file's own name, the case or the error) that is still
there after a reload. Account: the password is changed on its page (a wrong current
password is said there, not by sending the user to the login page).
"""

from __future__ import annotations

import pytest

from .helpers import PASSWORD, browser_login, sample_images

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


def test_import_shows_a_lasting_result_per_file(browser, site, shots):
    server, admin = site
    page = browser(strict_csp=True, viewport={"width": 1400, "height": 900})
    browser_login(page, server.url, "admin")
    page.wait_for_url("**/admin")
    images = sample_images(2)
    page.set_input_files("[data-testid=import-files]", [
        {"name": "ward-3-first.png", "mimeType": "image/png", "buffer": images[0]},
        {"name": "ward-3-second.png", "mimeType": "image/png", "buffer": images[1]},
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image at all"},
    ])
    page.fill("#import-indication", "Shortness of breath.")
    page.fill("#import-reference", "FINDINGS: Clear lungs. IMPRESSION: Normal.")
    page.select_option("#import-priority", "stat")
    page.click("[data-testid=import]")
    page.wait_for_selector("body[data-imported]", timeout=60000)
    results = page.locator("[data-testid=import-results] tbody tr")
    assert results.count() == 3
    text = page.inner_text("[data-testid=import-results]")
    assert "ward-3-first.png" in text and "ward-3-second.png" in text and "notes.txt" in text
    error_row = results.filter(has_text="notes.txt")
    assert error_row.locator(".error").count() == 1 and error_row.locator("img").count() == 0
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=import-results] img')]"
        ".every(i => i.complete && i.naturalWidth > 0)")
    assert results.locator("img").count() == 2
    page.screenshot(path=str(shots / "admin-import.png"), full_page=True)

    page.reload()
    page.wait_for_selector("[data-testid=import-results] tbody tr")
    assert page.locator("[data-testid=import-results] tbody tr").count() == 3
    cases = admin.ok("get", "/api/cases")
    assert len(cases) == 2
    for c in cases:
        assert c["case"]["indication"] == "Shortness of breath."
        assert c["case"]["reference_text"] == "FINDINGS: Clear lungs. IMPRESSION: Normal."
        assert c["case"]["priority"] == "stat"
    # file names stay in the browser: the server stores none
    assert "ward-3" not in str(cases)


def test_account_page_changes_the_password(browser, site):
    server, admin = site
    admin.ok("post", "/api/users", 201, json={"username": "rad0", "password": PASSWORD, "role": "radiologist"})
    page = browser(strict_csp=True, viewport={"width": 1280, "height": 800})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.click("header a.who")
    page.wait_for_url("**/account")
    page.fill("#current", "not my password")
    page.fill("#new", "a much better password")
    page.fill("#again", "a much better password")
    page.keyboard.press("Enter")
    state = page.locator("[data-testid=password-state]")
    state.filter(has_text="Not changed").wait_for()
    assert "current password is wrong" in state.inner_text() and page.url.endswith("/account")
    page.fill("#current", PASSWORD)
    page.fill("#new", "a much better password")
    page.fill("#again", "a much better passwore")
    page.keyboard.press("Enter")
    state.filter(has_text="differ").wait_for()
    page.fill("#again", "a much better password")
    page.keyboard.press("Enter")
    state.filter(has_text="Password changed.").wait_for()
    fresh = server.client()
    assert fresh.login("rad0", "a much better password").status_code == 200
    assert server.client().login("rad0").status_code == 401
