"""The AI draft's maps of where the model looked, over the viewer, in a real browser.

Under the page's real Content-Security-Policy: `h` shows the map of the first mapped finding
with its name and "AI output", at the place the drafter put it (pixels read back from the
canvas, also after zooming), Shift+H and the side panel's buttons choose another finding,
`h` again hides it. The standard-practice arm has no map control at all. Screenshots go to
$CXRPILOT_SCREENSHOTS (or the test's temporary folder).
"""

from __future__ import annotations

import pytest

from .helpers import MAP_PEAKS, PASSWORD, browser_login, sample_images, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

PIXEL = (
    "([x, y]) => Array.from(document.querySelector('[data-testid=viewer-canvas]')"
    ".getContext('2d').getImageData(x, y, 1, 1).data)"
)
#: The canvas's size, device pixel ratio, and where the viewer put the image (its zoom and
#: the image's top-left corner on the canvas, published on the canvas element).
GEOMETRY = (
    "() => { const c = document.querySelector('[data-testid=viewer-canvas]');"
    " return [c.clientWidth, c.clientHeight, c.width / c.clientWidth, +c.dataset.zoom,"
    " +c.dataset.originX, +c.dataset.originY]; }"
)
FAR = (0.05, 0.95)  # (row, column) fractions where neither test map has any weight


def _setup(admin):
    cases = [
        admin.ok("post", "/api/cases", files={"file": (f"{i}.png", data, "image/png")})["case"][
            "id"
        ]
        for i, data in enumerate(sample_images(2))
    ]
    for c in cases:
        wait_for(
            lambda c=c: admin.ok("get", f"/api/cases/{c}")["draft_status"] == "ready", timeout=30
        )
    rad = admin.ok(
        "post",
        "/api/users",
        201,
        json={"username": "rad0", "password": PASSWORD, "role": "radiologist"},
    )["id"]
    reads = {
        arm: admin.ok(
            "post", "/api/reads", 201, json={"case_id": c, "reader_id": rad, "arm": arm}
        )["id"]
        for arm, c in zip(("ai_assisted", "scp"), cases, strict=True)
    }
    return cases, reads


class Probe:
    """Reads canvas pixels at image positions given as (row, column) fractions."""

    def __init__(self, page, width: int, height: int) -> None:
        self.page, self.w, self.h = page, width, height
        cw, ch, self.dpr, self.zoom, ox, oy = page.evaluate(GEOMETRY)
        self.pan = (ox, oy)
        self.centre = (cw / 2, ch / 2)

    def zoomed(self, factor: float) -> None:
        """Follow the viewer's zoom about the canvas centre (its + key)."""
        self.pan = tuple(
            c - (c - p) * factor for c, p in zip(self.centre, self.pan, strict=True)
        )
        self.zoom *= factor

    def at(self, frac: tuple[float, float]) -> tuple[float, float]:
        """Canvas CSS pixel of the image point at (row, column) fractions."""
        return (
            self.pan[0] + self.zoom * frac[1] * self.w,
            self.pan[1] + self.zoom * frac[0] * self.h,
        )

    def colour(self, frac: tuple[float, float]) -> int:
        """How far from grey the pixel is (0 for the greyscale image alone)."""
        x, y = self.at(frac)
        r, g, b, _ = self.page.evaluate(PIXEL, [round(x * self.dpr), round(y * self.dpr)])
        return max(r, g, b) - min(r, g, b)


def test_h_shows_the_map_with_its_name_and_hides_it(browser, site, shots):
    server, admin = site
    cases, reads = _setup(admin)
    info = admin.ok("get", f"/api/cases/{cases[0]}/viewer")
    page = browser(strict_csp=True, viewport={"width": 1600, "height": 900})
    refused = []
    page.on("console", lambda m: "Content Security Policy" in m.text and refused.append(m.text))
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.goto(f"{server.url}/read/{reads['ai_assisted']}")
    page.wait_for_selector("body[data-editor-ready]")
    page.wait_for_selector("[data-testid=viewer-canvas][data-ready]")
    maps = page.request.get(f"{server.url}/api/reads/{reads['ai_assisted']}").json()["draft"][
        "maps"
    ]
    names = [m["name"] for m in maps]
    assert set(names) <= set(MAP_PEAKS) and "Pneumothorax" in names
    probe = Probe(page, info["width"], info["height"])

    # Off by default: a toolbar button, no label, the image's own grey pixels.
    label = page.locator("[data-testid=map-label]")
    assert page.locator("[data-testid=map-toggle]").count() == 1 and label.is_hidden()
    assert probe.colour(MAP_PEAKS[names[0]]) == 0

    page.keyboard.press("h")
    label.wait_for(state="visible")
    text = label.inner_text()
    assert text.startswith("AI output") and names[0] in text, text
    assert page.get_attribute("[data-testid=viewer-canvas]", "data-map") == names[0]
    wait_for(lambda: probe.colour(MAP_PEAKS[names[0]]) > 60, timeout=5)
    assert probe.colour(FAR) == 0  # the colour sits where the model looked, not everywhere
    page.screenshot(path=str(shots / "maps-1-on.png"))
    # the label and the readout share the pane's bottom line without covering each other
    # (at 1280 px too, where the readout would reach under the label)
    for width, height in ((1600, 900), (1280, 800)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        readout = page.locator("[data-testid=wl-readout]").bounding_box()
        assert readout["x"] + readout["width"] <= label.bounding_box()["x"], width
    page.set_viewport_size({"width": 1600, "height": 900})
    page.wait_for_timeout(200)

    # Shift+H (or the side panel's button) chooses another finding.
    if len(names) > 1:
        page.keyboard.press("Shift+H")
        wait_for(lambda: names[1] in label.inner_text(), timeout=5)
        page.click(f"[data-testid=map-show][data-finding='{names[0]}']")
        wait_for(lambda: names[0] in label.inner_text(), timeout=5)
        assert (
            page.get_attribute(f"[data-testid=map-show][data-finding='{names[0]}']", "aria-pressed")
            == "true"
        )

    # It follows zoom and pan: zoom in about the centre, the colour moves with the image.
    page.click("[data-testid=map-show][data-finding='Pneumothorax']")
    wait_for(lambda: "Pneumothorax" in label.inner_text(), timeout=5)
    page.mouse.move(5, 5)  # off the canvas
    page.keyboard.press("+")
    probe.zoomed(1.25)
    wait_for(lambda: probe.colour(MAP_PEAKS["Pneumothorax"]) > 60, timeout=5)
    assert probe.colour((0.6, 0.75)) == 0
    page.screenshot(path=str(shots / "maps-2-zoomed.png"))

    page.keyboard.press("h")
    label.wait_for(state="hidden")
    assert page.get_attribute("[data-testid=viewer-canvas]", "data-map") == ""
    wait_for(lambda: probe.colour(MAP_PEAKS["Pneumothorax"]) == 0, timeout=5)
    assert refused == [], refused


def test_no_map_control_in_the_standard_practice_arm(browser, site):
    server, admin = site
    _, reads = _setup(admin)
    page = browser(strict_csp=True, viewport={"width": 1400, "height": 850})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    page.goto(f"{server.url}/read/{reads['scp']}")
    page.wait_for_selector("body[data-editor-ready]")
    page.wait_for_selector("[data-testid=viewer-canvas][data-ready]")
    page.keyboard.press("h")
    assert page.locator("[data-testid=map-toggle]").count() == 0
    assert page.locator("[data-testid=map-label]").count() == 0
    assert page.get_attribute("[data-testid=viewer-canvas]", "data-map") is None
    assert "AI output" not in page.inner_text("body")
