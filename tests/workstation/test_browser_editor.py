"""The report editor in a real browser (Debian chromium, under the page's real CSP).

Standard-practice arm: INDICATION comes from the order; F2 writes the normal chest PA
template (undone by Ctrl+Z), a macro key inserts at the cursor, the template menu, finding
phrases go in and out of FINDINGS by a click (the composer's sentences), no AI anywhere; the
signed report with its sections prints (print stylesheet, ``page.pdf``). AI-assisted arm: a
click on a finding of the draft's table puts its sentence in or takes it out.
"""

from __future__ import annotations

import pytest

from cxrpilot.draft import Finding
from cxrpilot.models.composer import compose

from .helpers import PASSWORD, browser_login, sample_images, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

SAVED = "() => document.querySelector('[data-testid=save-state]').textContent.startsWith('Saved')"


def _sentence(name: str, status: str) -> str:
    return compose([Finding(name, status, None)])[0]


def _setup(admin, arm: str) -> tuple[int, int]:
    case = admin.ok(
        "post",
        "/api/cases",
        files={"file": ("0.png", sample_images(1)[0], "image/png")},
        data={"indication": "Cough and fever.", "priority": "urgent"},
    )["case"]["id"]
    wait_for(lambda: admin.ok("get", f"/api/cases/{case}")["draft_status"] == "ready", timeout=30)
    rad = admin.ok(
        "post", "/api/users", 201,
        json={"username": "rad0", "password": PASSWORD, "role": "radiologist"},
    )["id"]
    read = admin.ok("post", "/api/reads", 201, json={"case_id": case, "reader_id": rad, "arm": arm})
    return case, read["id"]


def _value(page, name: str) -> str:
    return page.input_value(f"#{name}")


def test_templates_macros_phrases_sign_and_print(browser, site, shots):
    server, admin = site
    _, read = _setup(admin, "scp")
    page = browser(strict_csp=True, viewport={"width": 1400, "height": 900})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.goto(f"{server.url}/read/{read}")
    page.wait_for_selector("body[data-editor-ready]")
    assert _value(page, "indication") == "Cough and fever."
    assert page.inner_text("[data-testid=priority]") == "Urgent"

    # F2: the normal template; Ctrl+Z in FINDINGS undoes it there.
    page.keyboard.press("F2")
    assert _value(page, "technique") == "Single PA view of the chest."
    assert _value(page, "impression") == "No acute cardiopulmonary abnormality."
    normal = _value(page, "findings")
    assert normal.startswith("The lungs are clear.")
    page.focus("#findings")
    for _ in range(4):  # one undo step per section the template wrote (Chromium: document-wide)
        page.keyboard.press("Control+z")
    assert [_value(page, n) for n in ("technique", "comparison", "findings", "impression")] == [""] * 4
    page.keyboard.press("F2")
    assert _value(page, "findings") == normal
    assert _value(page, "indication") == "Cough and fever."  # the order's, kept

    # A macro at the cursor: F4 inside FINDINGS after its first sentence.
    page.focus("#findings")
    page.evaluate("() => { const t = document.querySelector('#findings'); const i = t.value.indexOf('.') + 1;"
                  " t.setSelectionRange(i, i); }")
    page.keyboard.press("F4")
    assert _value(page, "findings").startswith(
        "The lungs are clear. Degenerative changes of the thoracic spine. No focal")

    # The template menu.
    page.select_option("[data-testid=template]", "normal-pa-lateral")
    assert _value(page, "technique") == "PA and lateral views of the chest."

    # Finding phrases: the composer's sentence in, out, and its absent one instead.
    page.click("[data-testid=phrases] summary")
    present = page.locator("button.phrase[data-finding=Pneumothorax][data-status=present]")
    absent = page.locator("button.phrase[data-finding=Pneumothorax][data-status=absent]")
    present.click()
    assert _value(page, "findings").endswith(" " + _sentence("Pneumothorax", "present"))
    assert present.get_attribute("aria-pressed") == "true"
    present.click()
    assert _sentence("Pneumothorax", "present") not in _value(page, "findings")
    absent.click()
    present.click()  # switching: the absent sentence goes, the present one comes
    text = _value(page, "findings")
    assert _sentence("Pneumothorax", "present") in text and _sentence("Pneumothorax", "absent") not in text
    present.click()

    # Standard practice: nothing of the AI on the page.
    body = page.inner_text("body")
    for leak in ("AI draft", "AI output", "Model", "model", "probability", "Probability", "not assessed"):
        assert leak not in body, leak
    assert page.locator("[data-testid=draft-panel], [data-testid=map-toggle]").count() == 0
    page.screenshot(path=str(shots / "editor-scp.png"), full_page=True)

    page.wait_for_function(SAVED)
    expected = {n: _value(page, n) for n in ("indication", "technique", "comparison", "findings", "impression")}
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("body[data-signed]")
    report = page.evaluate(f"() => fetch('/api/reads/{read}').then(r => r.json())")["reports"][-1]
    assert {n: report[f"{n}_text"] for n in expected} == expected
    assert page.get_attribute("#technique", "readonly") is not None

    # The printable signed report: p, then print media and a PDF.
    page.keyboard.press("p")
    page.wait_for_url(f"**/read/{read}/report")
    page.wait_for_selector("body[data-report-ready]")
    sheet = page.locator("[data-testid=report-sheet]")
    for heading in ("INDICATION", "TECHNIQUE", "COMPARISON", "FINDINGS", "IMPRESSION"):
        assert heading in sheet.inner_text()
    assert expected["technique"] in sheet.inner_text()
    assert page.inner_text("[data-testid=signature]").startswith("Electronically signed by rad0")
    assert "AI" not in sheet.inner_text()
    assert page.locator("[data-testid=unsigned]").count() == 0
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and sheet.is_visible()
    assert not page.locator("[data-testid=print]").is_visible()
    bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(255, 255, 255)"
    pdf = page.pdf(format="A4")
    (shots / "signed-report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF") and b"/Type /Page" in pdf and len(pdf) > 5000
    page.emulate_media(media="screen")
    page.screenshot(path=str(shots / "signed-report.png"), full_page=True)


def test_clicking_a_draft_finding_puts_its_sentence_in_or_out(browser, site):
    server, admin = site
    _, read = _setup(admin, "ai_assisted")
    page = browser(strict_csp=True, viewport={"width": 1400, "height": 900})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.goto(f"{server.url}/read/{read}")
    page.wait_for_selector("body[data-editor-ready]")
    button = page.locator("button.finding-phrase[data-finding='Pleural Effusion']")
    sentence = _sentence("Pleural Effusion", button.get_attribute("data-status"))
    assert (sentence in _value(page, "findings")) == (button.get_attribute("aria-pressed") == "true")
    had = sentence in _value(page, "findings")
    button.click()
    assert (sentence in _value(page, "findings")) is not had
    button.click()
    assert (sentence in _value(page, "findings")) is had
    page.wait_for_function(SAVED)
