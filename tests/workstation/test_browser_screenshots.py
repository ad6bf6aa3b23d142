"""Screenshots of the read page at 1280x800 and 1920x1080 (both arms), for review.

Saved to $CXRPILOT_SCREENSHOTS (or the test's temporary folder). The test also checks what
a small screen must still show without scrolling the page: the worklist's every column, the
image, the toolbar (one row), the report's FINDINGS and IMPRESSION and the Sign button inside
the side panel's scroll.
"""

from __future__ import annotations

import pytest

from .helpers import PASSWORD, browser_login, sample_images, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

SIZES = ((1280, 800), (1920, 1080))


def test_read_page_screenshots(browser, site, shots):
    server, admin = site
    cases = [
        admin.ok("post", "/api/cases", files={"file": (f"{i}.png", data, "image/png")},
                 data={"indication": "Cough and fever for three days.", "priority": "urgent"})["case"]["id"]
        for i, data in enumerate(sample_images(2))
    ]
    for c in cases:
        wait_for(lambda c=c: admin.ok("get", f"/api/cases/{c}")["draft_status"] == "ready", timeout=30)
    rad = admin.ok("post", "/api/users", 201,
                   json={"username": "rad0", "password": PASSWORD, "role": "radiologist"})["id"]
    reads = {arm: admin.ok("post", "/api/reads", 201, json={"case_id": c, "reader_id": rad, "arm": arm})["id"]
             for arm, c in zip(("ai_assisted", "scp"), cases, strict=True)}
    for w, h in SIZES:
        page = browser(strict_csp=True, viewport={"width": w, "height": h})
        browser_login(page, server.url, "rad0")
        page.wait_for_url("**/worklist")
        page.wait_for_selector("body[data-worklist-ready]")
        page.screenshot(path=str(shots / f"worklist-{w}x{h}.png"))
        # every column in the window: neither the page nor the table scrolls sideways
        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        assert page.locator(".table-scroll").evaluate("b => b.scrollWidth <= b.clientWidth + 1")
        for arm, read in reads.items():
            page.goto(f"{server.url}/read/{read}")
            page.wait_for_selector("[data-testid=viewer-canvas][data-resolution=full]", timeout=30000)
            page.wait_for_selector("body[data-editor-ready]")
            page.wait_for_timeout(300)
            page.screenshot(path=str(shots / f"read-{arm}-{w}x{h}.png"))
            # the page itself does not scroll; the side panel does
            assert page.evaluate("() => document.documentElement.scrollHeight <= innerHeight + 1")
            assert page.locator(".viewer .toolbar").evaluate("b => b.scrollWidth <= b.clientWidth + 1")
            toolbar = page.locator(".viewer .toolbar").bounding_box()
            canvas = page.locator("[data-testid=viewer-canvas]").bounding_box()
            assert toolbar["y"] + toolbar["height"] < canvas["y"] + canvas["height"] * 0.25
            # FINDINGS and IMPRESSION in sight above the Sign bar, the panel not scrolled
            bar_top = page.locator(".side .actions").bounding_box()["y"]
            for section in ("#findings", "#impression"):
                box = page.locator(section).bounding_box()
                assert box["height"] >= 50 and box["y"] + 50 <= bar_top, (arm, w, section, box, bar_top)
            # Sign stays in sight at the side panel's foot, before and after its scroll
            sign = page.locator("[data-testid=sign]")
            for scroll in (0, 10_000):
                page.locator(".side").evaluate("(s, y) => { s.scrollTop = y; }", scroll)
                box = sign.bounding_box()
                assert sign.is_visible() and box["y"] >= 0 and box["y"] + box["height"] <= h, (scroll, box)
        page.context.close()
