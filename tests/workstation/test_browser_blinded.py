"""The evaluator's blinded form, in the real browser, for an AI-assisted read whose draft the
real composer wrote and the reader signed unedited (issue 12).

The draft comes from :class:`cxrpilot.pipeline.ExpertDrafter` over the shipped expert network
with ``every_output=True`` (evaluation only): the shipped card assesses no finding yet, and
its drafts would state nothing; with every output assessed the draft states findings, as a
draft a reader signs does. The form's page text and every JSON answer its page fetches must
hold no model wording.
"""

from __future__ import annotations

import json
import re

import pytest

from .helpers import PASSWORD, browser_login, image_loader, live_site, sample_images, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

#: Model wording (the issue's list): whole words, case-insensitive, "AI" as a word.
MODEL_WORDS = re.compile(r"(?i:\bmodels?\b|probabilit|not assessed|assessed findings|\bdrafts?\b)|\bAI\b")


@pytest.fixture
def composer_site(settings_factory):
    """The real app on uvicorn, drafting with the real composer; yields ``(server, admin)``."""
    from cxrpilot.models import expert
    from cxrpilot.pipeline import ExpertDrafter
    from cxrpilot.workstation import create_app

    drafter = ExpertDrafter(expert.load(), every_output=True)
    with live_site(create_app(settings_factory(), draft_producer=drafter.draft, loader=image_loader())) as s:
        yield s


def _strings(value):
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_blinded_form_of_an_unedited_composer_draft_shows_no_model_wording(browser, composer_site, shots):
    server, admin = composer_site
    (image,) = sample_images(1)
    case = admin.ok("post", "/api/cases", files={"file": ("0.png", image, "image/png")},
                    data={"indication": "Cough and fever."})["case"]["id"]
    wait_for(lambda: admin.ok("get", f"/api/cases/{case}")["draft_status"] == "ready", timeout=60)
    users = [admin.ok("post", "/api/users", 201,
                      json={"username": f"rad{i}", "password": PASSWORD, "role": "radiologist"})["id"]
             for i in range(2)]
    evaluator = admin.ok("post", "/api/users", 201,
                         json={"username": "senior", "password": PASSWORD, "role": "evaluator"})["id"]
    sid = admin.ok("post", "/api/studies", 201, json={"name": "blind", "design": "per_reader"})["id"]
    admin.ok("post", f"/api/studies/{sid}/cases", json={"case_ids": [case]})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": users, "role": "reader"})
    admin.ok("post", f"/api/studies/{sid}/members", json={"user_ids": [evaluator], "role": "evaluator"})
    admin.ok("post", f"/api/studies/{sid}/randomise", json={"seed": 3})
    ai_texts = []
    for i in range(2):
        rc = server.client()
        rc.login(f"rad{i}")
        for item in rc.ok("get", "/api/worklist"):
            if item["study"] != "blind":
                continue
            rep = rc.ok("post", f"/api/reads/{item['read_id']}/open")
            if item["arm"] == "ai_assisted":  # signed as the composer wrote it
                ai_texts.append((rep["findings_text"], rep["impression_text"]))
                edit = {}
            else:
                edit = {"findings_text": "Lungs are clear.", "impression_text": "No acute disease."}
            rc.ok("post", f"/api/reads/{item['read_id']}/sign",
                  json={"rev": rep["rev"], "confirm_unedited": True, **edit})
    assert len(ai_texts) == 1
    findings_text, impression_text = ai_texts[0]
    # the composer's draft states findings (not an empty or "nothing assessed" text)
    assert findings_text and impression_text, ai_texts
    admin.ok("post", f"/api/studies/{sid}/evaluation", json={"seed": 4})

    page = browser(viewport={"width": 1600, "height": 900})
    fetched: list[tuple[str, object]] = []
    unread: list[str] = []  # bodies the browser dropped (a navigation followed the answer)

    def keep_json(response):
        if "/api/" in response.url and "application/json" in (response.headers.get("content-type") or ""):
            try:
                fetched.append((response.url, response.json()))
            except Exception:  # noqa: BLE001 - playwright's Error; recorded and checked below
                unread.append(response.url)

    page.on("response", keep_json)
    browser_login(page, server.url, "senior")
    page.wait_for_url("**/evaluations")
    page.click("[data-testid=tasks] tbody tr")
    page.wait_for_selector("[data-testid=evaluation-form]")
    page.wait_for_selector("[data-testid=viewer-canvas][data-ready]")
    page.screenshot(path=str(shots / "blinded-composer-form.png"))
    text = page.inner_text("body")
    # the signed composer text is what the evaluator reads ...
    boxes = page.locator("[data-testid=evaluation-form] pre").all_inner_texts()
    assert findings_text in boxes and impression_text in boxes, boxes
    # ... and neither the page nor any JSON it fetched carries model wording
    assert not MODEL_WORDS.search(text), MODEL_WORDS.findall(text)
    # only the login answer (the page navigates on it) may go unread; the form's are all read
    assert all(re.search(r"/api/auth/login$", url) for url in unread), unread
    task = [body for url, body in fetched if re.search(r"/api/evaluations/\d+$", url)]
    assert task, [url for url, _ in fetched]
    for url, body in fetched:
        leaks = [s for s in _strings(body) if MODEL_WORDS.search(s)]
        assert not leaks, (url, leaks, json.dumps(body)[:2000])
