"""The read page's exam in a real browser (Debian chromium, under the page's real CSP): the
frontal with its lateral beside it, the patient's priors listed and opened beside the
current image with the reader's own signed report, linked zoom/pan and window/level (relative), per-pane
tools, the three-pane layout (frontal + lateral + prior), the keys overlay (?), a
keyboard-only walk through the layouts; the worklist's accession and study date columns; and
a lateral-only exam (no draft, and why) read and signed.

Real exams: patient 13 of covid-chestxray (frontal + lateral on days 4, 7 and 10) in the
real SIIM CR header (see ``exam_dicom``). The reader signed day 4 in the standard arm and day
7 with the AI draft, and reads day 10 in the standard arm: day 7's report must not show.
Screenshots of the comparison at 1280x800 and 1920x1080 go to ``$CXRPILOT_SCREENSHOTS``.
"""

from __future__ import annotations

import itertools

import pytest

from .exam_dicom import exam_files
from .helpers import PASSWORD, browser_login, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.data,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

MAIN = ".panes > .viewer [data-testid=viewer-canvas]"
SECOND = "[data-testid=second-viewer] [data-testid=viewer-canvas]"
THIRD = "[data-testid=third-viewer] [data-testid=viewer-canvas]"
AI_READ_TEXT = ("Patchy opacity written from the AI draft.", "Pneumonia per AI draft.")


def _setup(server, admin, shared_data) -> int:
    """Three exams of one patient; the reader's day-10 read (scp) id."""
    case = {}
    for day in (4, 7, 10):
        frontal, lateral = exam_files(shared_data, day)
        for name, data in (("f", frontal), ("l", lateral)):
            case[day] = admin.ok(
                "post", "/api/cases", files={"file": (f"d{day}{name}.dcm", data, "application/dicom")}
            )["case"]["id"]
    rad = admin.ok(
        "post", "/api/users", 201, json={"username": "rad0", "password": PASSWORD, "role": "radiologist"}
    )["id"]
    reader = server.client()
    reader.login("rad0")

    def sign(day, arm, findings, impression):
        read = admin.ok("post", "/api/reads", 201, json={"case_id": case[day], "reader_id": rad, "arm": arm})
        wait_for(lambda: admin.ok("get", f"/api/cases/{case[day]}")["draft_status"] == "ready", timeout=60)
        rep = reader.ok("post", f"/api/reads/{read['id']}/open")
        body = {"rev": rep["rev"], "findings_text": findings, "impression_text": impression}
        reader.ok("post", f"/api/reads/{read['id']}/sign", json=body)

    sign(4, "scp", "Clear lungs. Normal heart size.", "No acute cardiopulmonary disease.")
    sign(7, "ai_assisted", *AI_READ_TEXT)
    return admin.ok("post", "/api/reads", 201, json={"case_id": case[10], "reader_id": rad, "arm": "scp"})["id"]


def _data(page, selector: str, name: str) -> str:
    return page.get_attribute(selector, f"data-{name}")


def _full(page, selector: str, size: str) -> None:
    """Wait until the pane's full image is drawn and its readout names ``size`` (w×h)."""
    page.wait_for_selector(f"{selector}[data-resolution=full]", timeout=30000)
    readout = selector.replace("[data-testid=viewer-canvas]", "[data-testid=wl-readout]")
    page.wait_for_function(
        "([sel, size]) => (document.querySelector(sel) || {}).textContent.includes(size)",
        arg=[readout, size], timeout=10000)


def _box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


ONE_ROW = """(bar) => {
  const boxes = [...bar.children].filter(c => c.getClientRects().length).map(c => c.getBoundingClientRect());
  const oneRow = Math.max(...boxes.map(b => b.top)) < Math.min(...boxes.map(b => b.bottom));
  return { rows: oneRow ? 1 : 2, fits: bar.scrollWidth <= bar.clientWidth + 1, inMenu: +bar.dataset.inMenu,
           caption: (bar.querySelector('.pane-caption') || {}).textContent || '' };
}"""


def _one_row(page, pane: str) -> dict:
    """The pane's toolbar is one row that fits its width (what did not fit is in "More")."""
    got = page.locator(f"{pane} [data-testid=viewer-toolbar]").evaluate(ONE_ROW)
    assert got["rows"] == 1 and got["fits"], (pane, got)
    return got


def test_exam_lateral_and_priors(browser, site, shots, shared_data):
    server, admin = site
    read_id = _setup(server, admin, shared_data)
    page = browser(strict_csp=True, viewport={"width": 1280, "height": 800})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")

    # Worklist: the exam's accession and study date.
    page.wait_for_selector("body[data-worklist-ready]")
    assert "Study date" in page.inner_text("[data-testid=worklist] thead")
    row = page.locator(f"[data-read-id='{read_id}']")
    assert "ACC-D10" in row.inner_text() and row.locator("[data-testid=study-date]").inner_text() == "2020-01-26"
    # Search by accession (the search also takes the case and the indication).
    page.fill("[data-testid=worklist-search]", "acc-d10")
    assert page.locator("[data-testid=worklist] tbody tr[data-read-id]").count() == 1
    page.fill("[data-testid=worklist-search]", "ACC-D04")  # signed, hidden by default
    assert page.locator("[data-testid=worklist] tbody tr[data-read-id]").count() == 0
    page.fill("[data-testid=worklist-search]", "")

    page.goto(f"{server.url}/read/{read_id}")
    page.wait_for_selector("body[data-exam-ready]", timeout=30000)
    _full(page, MAIN, "512×389")
    assert "Current · frontal (PA) · 2020-01-26" in page.inner_text(".panes > .viewer [data-testid=pane-caption]")
    _one_row(page, ".panes > .viewer")
    page.screenshot(path=str(shots / "read-single-1280x800.png"))

    # The priors: newest first; day 4's signed impression; day 7's report hidden (AI draft).
    rows = page.locator("[data-testid=priors-table] tbody tr")
    assert rows.count() == 2
    first, second = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "2020-01-22" in first and "ACC-D07" in first and "frontal, lateral" in first
    assert "written with the AI draft: not shown" in first
    assert "2020-01-19" in second and "No acute cardiopulmonary disease." in second and "signed" in second
    for text in AI_READ_TEXT:
        assert text not in page.content(), text

    # l: the lateral beside the frontal, in its own pane with its own tools.
    assert page.locator("[data-testid=second-pane]").is_hidden()
    page.keyboard.press("l")
    _full(page, SECOND, "409×512")
    assert page.get_attribute("[data-testid=layout-lateral]", "aria-pressed") == "true"
    left, right = _box(page, MAIN), _box(page, SECOND)
    assert left["x"] + left["width"] <= right["x"] + 1  # side by side, not overlapping
    assert abs(left["width"] - right["width"]) < 0.1 * left["width"] and left["height"] > 300
    assert "lateral (LL)" in page.inner_text("[data-testid=second-viewer] [data-testid=pane-caption]")
    assert page.get_attribute("[data-testid=link-toggle]", "aria-pressed") == "false"  # not linked
    page.screenshot(path=str(shots / "read-lateral-1280x800.png"))
    # The new pane is active (outlined): keys act on it only.
    assert "active" in page.get_attribute("[data-testid=second-viewer]", "class")
    page.keyboard.press("i")  # the readout is redrawn on the next animation frame
    wait_for(lambda: "inverted" in page.inner_text("[data-testid=second-viewer] [data-testid=wl-readout]"), timeout=5)
    assert "inverted" not in page.inner_text(".panes > .viewer [data-testid=wl-readout]")
    page.keyboard.press("x")  # the other pane
    assert "active" in page.get_attribute(".panes > .viewer", "class")
    z_main, z_second = float(_data(page, MAIN, "zoom")), float(_data(page, SECOND, "zoom"))
    page.keyboard.press("+")
    wait_for(lambda: float(_data(page, MAIN, "zoom")) > 1.2 * z_main, timeout=5)
    assert float(_data(page, SECOND, "zoom")) == pytest.approx(z_second)  # unlinked: unchanged
    page.keyboard.press("z")  # link: the lateral takes the frontal's zoom relative to its fit
    assert page.get_attribute("[data-testid=link-toggle]", "aria-pressed") == "true"
    z_main, z_second = float(_data(page, MAIN, "zoom")), float(_data(page, SECOND, "zoom"))
    page.keyboard.press("+")
    wait_for(lambda: float(_data(page, SECOND, "zoom")) > z_second * 1.2, timeout=5)
    assert float(_data(page, MAIN, "zoom")) / z_main == pytest.approx(1.25, rel=1e-3)
    assert float(_data(page, SECOND, "zoom")) / z_second == pytest.approx(1.25, rel=1e-3)
    page.keyboard.press("f")

    # b: the newest prior beside the current image, linked; its report is hidden (AI draft).
    page.keyboard.press("b")
    _full(page, SECOND, "512×405")
    assert page.get_attribute("[data-testid=layout-prior]", "aria-pressed") == "true"
    assert page.get_attribute("[data-testid=link-toggle]", "aria-pressed") == "true"
    caption = page.inner_text("[data-testid=second-viewer] [data-testid=pane-caption]")
    assert caption == "Prior · 2020-01-22 · ACC-D07 · frontal (PA)"
    report = page.inner_text("[data-testid=prior-report]")
    assert "Report: written with the AI draft: not shown in a standard-practice read" in report
    # Shift+B: the next older prior, with the reader's own signed report.
    page.keyboard.press("Shift+B")
    _full(page, SECOND, "512×396")
    report = page.inner_text("[data-testid=prior-report]")
    assert "FINDINGS" in report and "Clear lungs. Normal heart size." in report
    assert "IMPRESSION" in report and "No acute cardiopulmonary disease." in report
    assert "final report" in report and "signed by rad0" in report
    for text in AI_READ_TEXT:
        assert text not in page.content(), text
    # Linked zoom and pan follow; a window/level drag follows relatively (the same fraction
    # of each pane's own width), never by value; with the link off it stays in its pane.
    page.keyboard.press("x")
    assert "active" in page.get_attribute(".panes > .viewer", "class")
    page.keyboard.press("+")
    wait_for(lambda: _data(page, SECOND, "zoom") and float(_data(page, SECOND, "zoom")) > 0, timeout=5)
    box = _box(page, SECOND)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    def window(pane):
        return float(_data(page, pane, "window")), float(_data(page, pane, "level"))

    def drag(dx, dy):
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + dx, cy + dy, steps=4)
        page.mouse.up()

    (mw0, ml0), (sw0, sl0) = window(MAIN), window(SECOND)
    drag(60, -30)
    (mw1, ml1), (sw1, sl1) = window(MAIN), window(SECOND)
    assert _data(page, SECOND, "preset") == "custom" and _data(page, MAIN, "preset") == "custom"
    assert sw1 > sw0 and mw1 > mw0 and abs(mw1 / mw0 - sw1 / sw0) < 0.05, (mw0, mw1, sw0, sw1)
    assert abs((ml1 - ml0) / mw0 - (sl1 - sl0) / sw0) < 0.05, (ml0, ml1, sl0, sl1)
    assert "active" in page.get_attribute("[data-testid=second-viewer]", "class")  # the click
    page.keyboard.press("z")  # link off: a drag stays in its pane
    assert page.get_attribute("[data-testid=link-toggle]", "aria-pressed") == "false"
    drag(40, 20)
    assert window(MAIN) == (mw1, ml1) and window(SECOND) != (sw1, sl1)
    page.keyboard.press("z")
    assert page.get_attribute("[data-testid=link-toggle]", "aria-pressed") == "true"
    # Pan by shift-drag on the prior: the current image follows by the same fraction.
    o_main = float(_data(page, MAIN, "origin-x"))
    page.keyboard.down("Shift")
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 50, cy, steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    wait_for(lambda: float(_data(page, MAIN, "origin-x")) > o_main + 20, timeout=5)
    page.screenshot(path=str(shots / "read-prior-1280x800.png"))
    # Each pane's toolbar keeps one row at 1280 px; the tools that do not fit are in "More",
    # where they work as in the bar.
    for pane in (".panes > .viewer", "[data-testid=second-viewer]"):
        assert _one_row(page, pane)["inMenu"] > 0
    more = page.locator("[data-testid=second-viewer] [data-testid=tool-more]")
    menu = page.locator("[data-testid=second-viewer] [data-testid=tool-menu]")
    assert menu.is_hidden()
    more.click()
    assert menu.is_visible() and more.get_attribute("aria-expanded") == "true"
    assert "Header" in menu.inner_text()
    page.screenshot(path=str(shots / "read-prior-menu-1280x800.png"))
    menu.locator("[data-testid=header-toggle]").click()
    assert menu.is_hidden()  # a choice closes the menu
    page.wait_for_selector("[data-testid=second-viewer] [data-testid=header-panel]:not([hidden])")
    page.locator("[data-testid=second-viewer] [aria-label='Close header']").click()
    more.click()
    page.keyboard.press("Escape")
    assert menu.is_hidden()
    # The prior's other view, from its report bar.
    page.locator("[data-testid=prior-view]", has_text="lateral").click()
    _full(page, SECOND, "401×512")
    assert "lateral (LL)" in page.inner_text("[data-testid=second-viewer] [data-testid=pane-caption]")

    page.set_viewport_size({"width": 1920, "height": 1080})
    page.keyboard.press("f")
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "read-prior-1920x1080.png"))
    for pane in (".panes > .viewer", "[data-testid=second-viewer]"):
        _one_row(page, pane)

    # b again: back to one view; a click on a prior's Compare opens it.
    page.keyboard.press("b")
    assert page.locator("[data-testid=second-pane]").is_hidden()
    page.locator("[data-testid=prior-open]").nth(1).click()
    _full(page, SECOND, "512×396")
    page.keyboard.press("l")
    _full(page, SECOND, "409×512")
    page.screenshot(path=str(shots / "read-lateral-1920x1080.png"))
    assert page.evaluate("() => document.querySelectorAll('[data-testid=viewer-canvas]').length") == 2

    # Shift+L: frontal + lateral + prior at once (the prior last opened: day 4), at 1280x800.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.keyboard.press("Shift+L")
    _full(page, SECOND, "409×512")
    _full(page, THIRD, "512×396")
    assert page.get_attribute(".panes", "data-layout") == "three"
    assert page.get_attribute("[data-testid=layout-three]", "aria-pressed") == "true"
    assert page.evaluate("() => document.querySelectorAll('[data-testid=viewer-canvas]').length") == 3
    boxes = [_box(page, s) for s in (MAIN, SECOND, THIRD)]
    for a, b in itertools.pairwise(boxes):
        assert a["x"] + a["width"] <= b["x"] + 1  # left to right, not overlapping
    assert max(b["width"] for b in boxes) < 1.2 * min(b["width"] for b in boxes)
    assert "lateral (LL)" in page.inner_text("[data-testid=second-viewer] [data-testid=pane-caption]")
    assert page.inner_text("[data-testid=third-viewer] [data-testid=pane-caption]") == (
        "Prior · 2020-01-19 · ACC-D04 · frontal (PA)")
    assert "No acute cardiopulmonary disease." in page.inner_text("[data-testid=third-pane] [data-testid=prior-report]")
    # The current image is active; the prior is linked with it, the lateral is not.
    assert "active" in page.get_attribute(".panes > .viewer", "class")
    assert page.get_attribute("[data-testid=link-toggle]", "aria-pressed") == "true"
    zooms = [float(_data(page, s, "zoom")) for s in (MAIN, SECOND, THIRD)]
    page.keyboard.press("+")
    wait_for(lambda: float(_data(page, THIRD, "zoom")) > 1.2 * zooms[2], timeout=5)
    assert float(_data(page, MAIN, "zoom")) / zooms[0] == pytest.approx(1.25, rel=1e-3)
    assert float(_data(page, SECOND, "zoom")) == pytest.approx(zooms[1])  # the lateral: unlinked
    # x walks the three panes in order; the keys act on the outlined one only.
    page.keyboard.press("x")
    assert "active" in page.get_attribute("[data-testid=second-viewer]", "class")
    page.keyboard.press("i")
    # the readout is redrawn on the next animation frame
    wait_for(lambda: "inverted" in page.inner_text("[data-testid=second-viewer] [data-testid=wl-readout]"), timeout=5)
    assert "inverted" not in page.inner_text("[data-testid=third-viewer] [data-testid=wl-readout]")
    assert "inverted" not in page.inner_text(".panes > .viewer [data-testid=wl-readout]")
    page.keyboard.press("i")  # back
    page.keyboard.press("x")
    assert "active" in page.get_attribute("[data-testid=third-viewer]", "class")
    page.keyboard.press("x")
    assert "active" in page.get_attribute(".panes > .viewer", "class")
    page.keyboard.press("f")
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "read-three-1280x800.png"))
    for pane in (".panes > .viewer", "[data-testid=second-viewer]", "[data-testid=third-viewer]"):
        _one_row(page, pane)
    # Shift+B: the next older prior (wrapping to day 7) in the third pane; the lateral stays.
    page.keyboard.press("Shift+B")
    _full(page, THIRD, "512×405")
    assert page.get_attribute(".panes", "data-layout") == "three"
    assert "lateral (LL)" in page.inner_text("[data-testid=second-viewer] [data-testid=pane-caption]")
    assert "written with the AI draft: not shown" in page.inner_text("[data-testid=third-pane] [data-testid=prior-report]")
    for text in AI_READ_TEXT:
        assert text not in page.content(), text

    # ?: the page's keys in one overlay, the pane keys among them; Esc closes it.
    help_box = page.locator("[data-testid=key-help]")
    assert help_box.is_hidden()
    page.keyboard.press("?")
    assert help_box.is_visible()
    text = help_box.inner_text()
    for key, what in (("Shift+L", "frontal + lateral + prior"), ("l", "frontal + lateral"),
                      ("b", "compare with the newest prior"), ("x", "next pane"), ("z", "link zoom"),
                      ("Ctrl+Enter", "sign")):
        assert key in text and what in text, (key, what)
    page.screenshot(path=str(shots / "read-keys-1280x800.png"))
    page.keyboard.press("Escape")
    assert help_box.is_hidden()
    page.click("[data-testid=key-help-open]")
    assert help_box.is_visible()
    page.keyboard.press("?")
    assert help_box.is_hidden()

    page.set_viewport_size({"width": 1920, "height": 1080})
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "read-three-1920x1080.png"))
    # b from three panes: the prior alone beside the current image; Shift+L twice: one view.
    page.keyboard.press("b")
    assert page.get_attribute(".panes", "data-layout") == "prior"
    assert page.locator("[data-testid=third-pane]").is_hidden()
    _full(page, SECOND, "512×405")
    page.keyboard.press("Shift+L")
    _full(page, THIRD, "512×405")
    page.keyboard.press("Shift+L")
    assert page.get_attribute(".panes", "data-layout") == "single"
    assert page.locator("[data-testid=second-pane]").is_hidden()
    assert page.locator("[data-testid=third-pane]").is_hidden()
    assert page.evaluate("() => document.querySelectorAll('[data-testid=viewer-canvas]').length") == 1


@pytest.fixture
def checked_site(settings_factory):
    """As ``site``, with the app's own loader (isolated, chest checks on: a lateral is kept
    and not drafted)."""
    from cxrpilot.workstation import create_app

    from .helpers import live_site, small_drafter

    with live_site(create_app(settings_factory(), draft_producer=small_drafter)) as s:
        yield s


def test_lateral_only_case_says_why_there_is_no_draft_and_is_read_and_signed(
    browser, checked_site, shots, shared_data
):
    """An exam with only its lateral: kept and shown, not drafted; an AI-assisted read of it
    says why there is no draft, and the reader writes and signs the report."""
    server, admin = checked_site
    _, lateral = exam_files(shared_data, 4, patient="MRN-LATERAL-ONLY")
    case_id = admin.ok("post", "/api/cases", files={"file": ("l.dcm", lateral, "application/dicom")})["case"]["id"]
    case = admin.ok("get", f"/api/cases/{case_id}")
    assert case["draft_status"] == "none" and case["draft_error"].startswith("lateral view")
    rad = admin.ok(
        "post", "/api/users", 201, json={"username": "rad0", "password": PASSWORD, "role": "radiologist"}
    )["id"]
    read_id = admin.ok("post", "/api/reads", 201, json={"case_id": case_id, "reader_id": rad, "arm": "ai_assisted"})["id"]
    page = browser(strict_csp=True, viewport={"width": 1280, "height": 800})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.goto(f"{server.url}/read/{read_id}")
    page.wait_for_selector("body[data-editor-ready]", timeout=30000)
    page.wait_for_selector("body[data-exam-ready]", timeout=30000)
    _full(page, MAIN, "401×512")  # the lateral itself, in the main pane
    panel = page.inner_text("[data-testid=draft-panel]")
    assert "No AI draft: lateral view: the model reads frontal views" in panel
    assert page.locator("[data-testid=ai-banner]").is_hidden()  # no "AI draft — edit" banner
    assert page.locator("[data-testid=findings]").count() == 0
    # No other view and no prior: no layout bar; l, b and Shift+L do nothing.
    assert page.locator("[data-testid=layout-bar]").count() == 0
    for key in ("l", "b", "Shift+L"):
        page.keyboard.press(key)
    assert page.locator("[data-testid=second-pane]").is_hidden()
    assert "no earlier exam of this patient" in page.inner_text("[data-testid=priors]")
    page.screenshot(path=str(shots / "read-lateral-only-1280x800.png"))
    # Written and signed without a draft.
    page.click("textarea#findings")
    page.keyboard.type("Lateral view only. No pleural effusion.")
    page.click("textarea#impression")
    page.keyboard.type("No effusion on the lateral view.")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("body[data-signed]", timeout=10000)
    assert "Signed" in page.inner_text("[data-testid=signed-box]")
    detail = admin.ok("get", f"/api/cases/{case_id}")
    assert detail["draft_status"] == "none"
    reports = server.client()
    reports.login("rad0")
    got = reports.ok("get", f"/api/reads/{read_id}")
    signed = [r for r in got["reports"] if r["signed_at"]]
    assert signed and signed[-1]["findings_text"] == "Lateral view only. No pleural effusion."
    assert signed[-1]["impression_text"] == "No effusion on the lateral view."
