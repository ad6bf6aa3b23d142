"""The workstation in a real browser (Debian chromium driven by Playwright).

A scripted radiologist logs in, opens a case from the worklist with the keyboard, adjusts
window/level, edits the AI draft and signs; the recorded reading time must be within 1 s of
the scripted duration. A reader cannot open another reader's case; an evaluator completes
the blinded forms without seeing arm, reader or model. Screenshots go to
$CXRPILOT_SCREENSHOTS (or the test's temporary folder).
"""

from __future__ import annotations

import pytest

from .helpers import MODEL_ID, PASSWORD, browser_login, sample_images, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

SCRIPTED_MS = 4000


def _setup_reads(admin, n_cases=2):
    cases = [
        admin.ok(
            "post",
            "/api/cases",
            files={"file": (f"{i}.png", data, "image/png")},
            data={"indication": "Cough and fever."},
        )["case"]["id"]
        for i, data in enumerate(sample_images(n_cases))
    ]
    for c in cases:
        wait_for(
            lambda c=c: admin.ok("get", f"/api/cases/{c}")["draft_status"] == "ready", timeout=30
        )
    users = [
        admin.ok(
            "post",
            "/api/users",
            201,
            json={"username": f"rad{i}", "password": PASSWORD, "role": "radiologist"},
        )["id"]
        for i in range(2)
    ]
    reads = [
        admin.ok(
            "post",
            "/api/reads",
            201,
            json={"case_id": cases[i], "reader_id": users[i], "arm": "ai_assisted"},
        )["id"]
        for i in range(2)
    ]
    return cases, users, reads


def test_radiologist_reads_edits_signs_and_is_timed(browser, site, shots):
    server, admin = site
    cases, _, reads = _setup_reads(admin)
    page = browser(viewport={"width": 1600, "height": 900})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.wait_for_selector("[data-testid=worklist] tbody tr.selected")
    page.screenshot(path=str(shots / "1-worklist.png"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/read/{reads[0]}")
    page.wait_for_selector("body[data-image-shown]", timeout=20000)
    shown_ms = int(page.get_attribute("body", "data-image-shown"))
    page.wait_for_selector("body[data-editor-ready]")

    # The AI draft is marked as such, with its findings and "not assessed" ones.
    assert page.inner_text("[data-testid=ai-banner]") == "AI draft — edit before signing"
    assert "Cardiomegaly" in page.inner_text("[data-testid=findings]")
    not_assessed = page.inner_text("[data-testid=not-assessed]")
    assert not_assessed.startswith("Not assessed by the model:") and "Pneumonia" in not_assessed
    assert page.input_value("#findings").startswith("The heart is")

    # Window/level by dragging on the image.
    canvas = page.locator("[data-testid=viewer-canvas]")
    before = (canvas.get_attribute("data-window"), canvas.get_attribute("data-level"))
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 120, cy + 60, steps=8)
    page.mouse.up()
    page.wait_for_function(
        "([w, l]) => { const c = document.querySelector('[data-testid=viewer-canvas]');"
        " return c.dataset.window !== w || c.dataset.level !== l; }",
        arg=list(before),
    )
    after = (canvas.get_attribute("data-window"), canvas.get_attribute("data-level"))
    assert after != before and int(after[0]) < int(before[0])  # narrower window
    page.keyboard.press("i")  # invert and back
    page.keyboard.press("i")
    page.screenshot(path=str(shots / "2-case-window-level.png"))

    # Edit the draft; autosave confirms.
    page.click("#findings")
    page.keyboard.press("End")
    page.keyboard.type(" Mild thoracic scoliosis.")
    page.wait_for_function(
        "document.querySelector('[data-testid=save-state]').textContent.startsWith('Saved')"
    )

    # Sign once the scripted duration has passed since the image was first shown.
    page.wait_for_function(f"Date.now() - {shown_ms} >= {SCRIPTED_MS}")
    sign_ms = page.evaluate("Date.now()")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("body[data-signed]")
    assert page.get_attribute("#findings", "readonly") is not None
    assert page.inner_text("[data-testid=signed-box]").startswith(
        "Signed — final report, read-only"
    )
    assert page.inner_text("#status-badge") == "signed"
    # Once signed, the banner says who signed and when, and that the read was AI-assisted.
    banner = page.inner_text("[data-testid=ai-banner]")
    assert banner.startswith("Signed by ") and banner.endswith(" · AI-assisted"), banner
    assert "edit before signing" not in banner
    page.screenshot(path=str(shots / "3-signed.png"))

    detail = page.request.get(f"{server.url}/api/reads/{reads[0]}").json()
    scripted = (sign_ms - shown_ms) / 1000
    print(
        f"reading time: scripted {scripted:.3f} s, recorded wall {detail['read']['wall_seconds']:.3f} s, "
        f"active {detail['read']['active_seconds']:.3f} s"
    )
    assert abs(detail["read"]["wall_seconds"] - scripted) <= 1.0, (detail["read"], scripted)
    assert abs(detail["read"]["active_seconds"] - scripted) <= 1.0
    assert detail["reports"][0]["status"] == "final"
    assert detail["reports"][0]["findings_text"].endswith("Mild thoracic scoliosis.")
    assert detail["read"]["edit_distance_words"] == 3  # "Mild thoracic scoliosis" (punctuation is no word)

    # Another reader's case: 403, shown as such.
    page.goto(f"{server.url}/read/{reads[1]}")
    page.wait_for_selector("body[data-denied='403']")
    assert "not assigned to you" in page.inner_text("#error")
    assert page.request.get(f"{server.url}/api/cases/{cases[1]}/image").status == 403
    page.screenshot(path=str(shots / "4-other-readers-case.png"))


def test_autosaved_text_survives_a_reload(browser, site):
    server, admin = site
    _, _, reads = _setup_reads(admin)
    page = browser(viewport={"width": 1400, "height": 850})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.goto(f"{server.url}/read/{reads[0]}")
    page.wait_for_selector("body[data-editor-ready]")
    page.fill("#impression", "Cardiomegaly. Typed before a reload.")
    page.wait_for_function(
        "document.querySelector('[data-testid=save-state]').textContent.startsWith('Saved')"
    )
    page.reload()
    page.wait_for_selector("body[data-editor-ready]")
    assert page.input_value("#impression") == "Cardiomegaly. Typed before a reload."


def test_evaluator_completes_blinded_forms(browser, site, shots):
    server, admin = site
    cases, users, _ = _setup_reads(admin)
    ev_id = admin.ok(
        "post",
        "/api/users",
        201,
        json={"username": "senior", "password": PASSWORD, "role": "evaluator"},
    )["id"]
    sid = admin.ok("post", "/api/studies", 201, json={"name": "blind", "design": "per_reader"})[
        "id"
    ]
    admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": cases[:1]})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": users, "role": "reader"})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": [ev_id], "role": "evaluator"})
    admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 3})
    for i in range(2):
        rc = server.client()
        rc.login(f"rad{i}")
        for item in rc.ok("get", "/api/worklist"):
            if item["study"] != "blind":
                continue
            rep = rc.ok("post", f"/api/reads/{item['read_id']}/open")
            # AI-assisted reads are signed as drafted (left unedited): the evaluator must see
            # report language only, no machine facts of the draft
            edit = {} if item["arm"] == "ai_assisted" else {"impression_text": f"Signed {i}."}
            rc.ok(
                "post",
                f"/api/reads/{item['read_id']}/sign",
                json={"rev": rep["rev"], "confirm_unedited": True, **edit},
            )
    admin.ok("post", f"/api/studies/{sid}/evaluation", json={"seed": 4})

    page = browser(viewport={"width": 1600, "height": 900})
    browser_login(page, server.url, "senior")
    page.wait_for_url("**/evaluations")
    page.click("[data-testid=tasks] tbody tr")
    page.wait_for_selector("[data-testid=evaluation-form]")
    page.wait_for_selector("[data-testid=viewer-canvas][data-ready]")
    page.keyboard.press("h")  # the AI map toggle of the read page does not exist here
    assert page.locator("[data-testid=map-toggle], [data-testid=map-label]").count() == 0
    text = page.inner_text("body")
    for leak in (
        "ai_assisted",
        "scp",
        "AI-assisted",
        "Standard practice",
        "AI draft",
        MODEL_ID,
        "rad0",
        "rad1",
        "model",
        "Model",
        "probability",
        "Probability",
        "not assessed",
        "Not assessed",
        "Signed by",
        "AI output",
        "where the model looked",
    ):
        assert leak not in text, leak
    page.check("input[name=left-likert][value='4']")
    page.check("input[name=left-radpeer][value='1']")
    page.check("input[name=right-likert][value='3']")
    page.check("input[name=right-radpeer][value='2a']")
    page.check("input[name=preference][value=left]")
    page.screenshot(path=str(shots / "5-evaluation-form.png"))
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-submitted]")
    rows = admin.ok("get", f"/api/studies/{sid}/export/evaluations")
    assert sorted((r["likert"], r["radpeer"], r["preference"]) for r in rows) == [
        (3, "2a", 0.0),
        (4, "1", 1.0),
    ]


def test_admin_page_lists_cases_and_users(browser, site, shots):
    server, admin = site
    _setup_reads(admin)
    page = browser(viewport={"width": 1400, "height": 850})
    browser_login(page, server.url, "admin")
    page.wait_for_url("**/admin")
    page.wait_for_selector("text=CASE-000002")
    body = page.inner_text("body")
    assert "Cases" in body and "rad0" in body and "ready" in body
    page.screenshot(path=str(shots / "6-admin.png"))
    # Security headers are on the pages.
    r = page.request.get(f"{server.url}/worklist")
    assert (
        "frame-ancestors 'none'" in r.headers["content-security-policy"]
        and r.headers["x-frame-options"] == "DENY"
    )
