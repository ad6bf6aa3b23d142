"""The viewer's tools in a real browser (Debian chromium, under the page's real CSP).

On a real CR (pydicom-data's RG1_UNCR.dcm; one copy given a Pixel Spacing of 0.2 mm, the
other with its own 0\\0): window presets in the image's own units and the menu switching to
"Custom" after a drag, the ruler in mm (and in px with a warning without spacing), the
angle, exact 1:1, rotation and flips, the magnifier and the de-identified header panel.
Transfer: at 100 Mbit/s (CDP ``Network.emulateNetworkConditions``) the low-resolution view
is drawn first, then the full one; the next case is prefetched and opens from the browser
cache. Times are printed, not asserted (``benchmarks/bench_viewer_transfer.py`` measures).
"""

from __future__ import annotations

import io
import math

import pytest

from .helpers import PASSWORD, browser_login

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

CANVAS = "[data-testid=viewer-canvas]"
MBIT = 1_000_000 / 8  # bytes per second


def _dicom(path, spacing: tuple[float, float] | None, uid_suffix: str) -> bytes:
    import pydicom

    ds = pydicom.dcmread(path)
    if spacing is not None:
        ds.PixelSpacing = list(spacing)
    # another exam (a case is an exam: its StudyInstanceUID) and another instance
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(ds, keyword, f"{getattr(ds, keyword)}.{uid_suffix}")
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buf = io.BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def _setup(admin, files: list[bytes], arm: str = "scp") -> list[int]:
    cases = [
        admin.ok("post", "/api/cases", files={"file": (f"{i}.dcm", data, "application/dicom")})[
            "case"
        ]["id"]
        for i, data in enumerate(files)
    ]
    rad = admin.ok(
        "post",
        "/api/users",
        201,
        json={"username": "rad0", "password": PASSWORD, "role": "radiologist"},
    )["id"]
    return [
        admin.ok("post", "/api/reads", 201, json={"case_id": c, "reader_id": rad, "arm": arm})[
            "id"
        ]
        for c in cases
    ]


def _data(page, name: str) -> str:
    return page.get_attribute(CANVAS, f"data-{name}")


def _canvas_point(page, fx: float, fy: float) -> tuple[float, float]:
    box = page.locator(CANVAS).bounding_box()
    return box["x"] + box["width"] * fx, box["y"] + box["height"] * fy


def _snapshot(page) -> str:
    return page.evaluate("() => document.querySelector('[data-testid=viewer-canvas]').toDataURL()")


def test_viewer_tools(browser, site, shots, rg1_uncr):
    server, admin = site
    reads = _setup(admin, [_dicom(rg1_uncr, (0.2, 0.2), "1"), _dicom(rg1_uncr, None, "2")])
    page = browser(strict_csp=True, viewport={"width": 1400, "height": 900})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{server.url}/read/{reads[0]}")
    page.wait_for_selector(f"{CANVAS}[data-resolution=full]", timeout=30000)
    # The PNGs were decoded in Web Workers (png16.js run as a worker), allowed by the CSP.
    assert _data(page, "decoder") == "worker" and not csp_errors, csp_errors
    # started by the versioned URL the page loaded png16.js from (kept by the browser's cache)
    assert page.evaluate("PNG_WORKER_SCRIPT").startswith(f"{server.url}/static/png16.js?v=")

    # The browser's decode of both PNGs (streamed, from memory, in the worker) is exactly the
    # raw values.
    same = page.evaluate(
        """async () => {
          const read = location.pathname.split('/').pop();
          const info = await (await fetch(`/api/reads/${read}`)).json();
          const v = await (await fetch(`/api/cases/${info.case.id}/viewer`)).json();
          const raw = new Uint16Array(await (await fetch(v.pixels_url)).arrayBuffer());
          const streamed = await decodePngStream(await fetch(v.png_urls.full));
          const held = await decodePng16(await (await fetch(v.png_urls.full)).arrayBuffer());
          const worker = await decodePngResponse(await fetch(v.png_urls.full));
          const low = await decodePngStream(await fetch(v.png_urls.low));
          const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
          return [eq(streamed.data, raw), eq(held.data, raw), eq(worker.data, raw), worker.decodedIn,
                  low.width === v.low_width && low.height === v.low_height];
        }""")
    assert same == [True, True, True, "worker", True]
    # A broken PNG is an error from the worker, not a hang.
    broken = page.evaluate(
        "() => decodePngResponse(new Response(new Uint8Array([137, 80, 78, 71, 0, 0, 0, 0])))"
        ".then(() => 'decoded', e => e.message)")
    assert broken == "not a PNG file"
    # ?decode=main (the transfer benchmark's "before"): the same image, decoded on the page.
    page.goto(f"{server.url}/read/{reads[0]}?decode=main")
    page.wait_for_selector(f"{CANVAS}[data-resolution=full]", timeout=30000)
    assert _data(page, "decoder") == "main"

    # Presets in the image's own units; a drag turns the menu to "Custom".
    options = page.locator("[data-testid=preset] option").all_inner_texts()
    assert [o.split(". ", 1)[-1] for o in options[:5]] == [
        "Header window 1", "Lung", "Mediastinum", "Bone", "Full range"]
    page.keyboard.press("2")
    assert _data(page, "preset") == "Lung"
    assert "stored values, 15 bits" in page.inner_text("[data-testid=wl-readout]")
    x, y = _canvas_point(page, 0.5, 0.5)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 80, y - 40, steps=5)
    page.mouse.up()
    assert _data(page, "preset") == "custom"
    assert page.eval_on_selector("[data-testid=preset]", "s => s.value") == "custom"
    assert page.eval_on_selector(
        "[data-testid=preset]", "s => s.selectedOptions[0].textContent") == "Custom"
    page.keyboard.press("1")
    assert _data(page, "preset") == "Header window 1" and _data(page, "window") == "30000"

    # Ruler: 300 CSS px at the fitted zoom, 0.2 mm per pixel.
    page.keyboard.press("m")
    assert _data(page, "tool") == "ruler"
    assert "in mm" in page.inner_text("[data-testid=spacing-note]")
    zoom = float(_data(page, "zoom"))
    x0, y0 = _canvas_point(page, 0.3, 0.4)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 180, y0 + 240, steps=6)
    page.mouse.up()
    measured = page.evaluate(
        "() => JSON.parse(document.querySelector('[data-testid=viewer-canvas]').dataset.measurements)")
    expected = 300 / zoom * 0.2
    assert measured[0]["kind"] == "ruler" and measured[0]["label"].endswith(" mm")
    assert abs(float(measured[0]["label"].split()[0]) - expected) <= 0.01 * expected + 0.1

    # Angle: three clicks, the vertex second: a right angle.
    page.keyboard.press("a")
    vx, vy = _canvas_point(page, 0.6, 0.6)
    for px, py in ((vx, vy - 150), (vx, vy), (vx + 120, vy)):
        page.mouse.click(px, py)
    measured = page.evaluate(
        "() => JSON.parse(document.querySelector('[data-testid=viewer-canvas]').dataset.measurements)")
    assert measured[1] == {"kind": "angle", "label": "90.0°"}
    page.screenshot(path=str(shots / "viewer-ruler-angle.png"))

    # Exact 1:1: one image pixel per device pixel.
    page.keyboard.press("Escape")
    page.keyboard.press("o")
    dpr = page.evaluate("() => window.devicePixelRatio")
    assert math.isclose(float(_data(page, "zoom")) * dpr, 1.0, abs_tol=1e-4)
    assert "zoom 1:1" in page.inner_text("[data-testid=wl-readout]")

    # Rotation and flips: four turns give the same picture back; one does not.
    page.keyboard.press("f")
    page.wait_for_timeout(100)
    before = _snapshot(page)
    page.keyboard.press("t")
    assert _data(page, "rotation") == "90"
    page.wait_for_timeout(100)
    assert _snapshot(page) != before
    for _ in range(3):
        page.keyboard.press("t")
    assert _data(page, "rotation") == "0"
    page.wait_for_timeout(100)
    assert _snapshot(page) == before
    page.keyboard.press("v")
    assert _data(page, "flip") == "h"
    page.keyboard.press("V")
    assert _data(page, "flip") == "hv"
    page.keyboard.press("r")
    assert _data(page, "flip") == "" and _data(page, "rotation") == "0"

    # Magnifier: follows the mouse, shows image pixels.
    page.keyboard.press("g")
    lx, ly = _canvas_point(page, 0.5, 0.55)
    page.mouse.move(lx, ly)
    loupe = page.locator("[data-testid=loupe]")
    assert loupe.is_visible()
    lit = page.evaluate(
        "() => { const c = document.querySelector('[data-testid=loupe]'); const d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 4)"
        " if (d[i] > 16) n++; return n / (d.length / 4); }")
    assert lit > 0.2, lit
    page.screenshot(path=str(shots / "viewer-loupe.png"))
    page.keyboard.press("g")
    assert not loupe.is_visible()

    # The de-identified header; Escape in its filter closes it.
    page.keyboard.press("e")
    panel = page.locator("[data-testid=header-panel]")
    panel.locator("table").wait_for()
    text = panel.inner_text()
    assert "Modality" in text and "CR" in text and "Patient Identity Removed" in text
    assert "Pixel Data" not in text
    page.keyboard.type("BitsStored")  # the filter has the focus
    visible = [r for r in panel.locator("tr").all() if r.is_visible()]
    assert len(visible) == 1 and "15" in visible[0].inner_text()
    page.screenshot(path=str(shots / "viewer-header.png"))
    page.keyboard.press("Escape")
    assert not panel.is_visible()

    # Without a valid Pixel Spacing: a warning, and lengths in px.
    page.goto(f"{server.url}/read/{reads[1]}")
    page.wait_for_selector(f"{CANVAS}[data-resolution=full]", timeout=30000)
    page.keyboard.press("m")
    note = page.locator("[data-testid=spacing-note]")
    assert "warn" in note.get_attribute("class")
    assert "PixelSpacing (0028,0030) is 0\\0" in note.inner_text()
    assert "lengths in pixels" in note.inner_text()
    x0, y0 = _canvas_point(page, 0.3, 0.4)
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 100, y0, steps=4)
    page.mouse.up()
    label = page.evaluate(
        "() => JSON.parse(document.querySelector('[data-testid=viewer-canvas]').dataset.measurements)[0].label")
    assert label.endswith(" px")
    assert abs(float(label.split()[0]) - 100 / float(_data(page, "zoom"))) <= 2


def _worker_pngs(page, case_id: int) -> list[tuple[str, int]]:
    """The case's PNGs fetched by the page's decoding workers, with their transferSize."""
    return [
        (name, size)
        for worker in page.workers
        for name, size in worker.evaluate(
            "() => performance.getEntriesByType('resource').map(e => [e.name, e.transferSize])")
        if f"/api/cases/{case_id}/pixels.png" in name
    ]


def _page_entries(page, path: str) -> list[tuple[str, int]]:
    """The page's own requests for ``path`` (preloads included), with their transferSize."""
    return [
        (name, size)
        for name, size in page.evaluate(
            "() => performance.getEntriesByType('resource').map(e => [e.name, e.transferSize])")
        if name.split("?")[0].endswith(path)
    ]


def test_throttled_load_shows_low_then_full_and_prefetches_the_next(browser, site, rg1_uncr):
    server, admin = site
    reads = _setup(admin, [_dicom(rg1_uncr, (0.2, 0.2), "3"), _dicom(rg1_uncr, None, "4")])
    page = browser(strict_csp=True, viewport={"width": 1400, "height": 900})
    browser_login(page, server.url, "rad0")
    page.wait_for_url("**/worklist")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 2, "downloadThroughput": 100 * MBIT,
         "uploadThroughput": 100 * MBIT},
    )
    page.goto(f"{server.url}/read/{reads[0]}")
    page.wait_for_selector(f"{CANVAS}[data-resolution=full]", timeout=60000)
    assert _data(page, "resolutions") == "low,full"
    first, full = int(_data(page, "first-ms")), int(_data(page, "full-ms"))
    assert first <= full
    print(f"100 Mbit/s: low-resolution view {first} ms, full view {full} ms after the image was asked "
          f"for ({_data(page, 'first-at')} / {_data(page, 'full-at')} ms after the navigation)")
    # the first view came inline, in the page's one (preloaded) viewer request; the worker
    # fetched the full PNG only
    viewer = _page_entries(page, f"/api/reads/{reads[0]}/viewer")
    assert len(viewer) == 1 and viewer[0][1] > 100_000, viewer

    page.wait_for_selector("body[data-prefetched]", timeout=60000)
    prefetched = page.get_attribute("body", "data-prefetched")
    detail = page.evaluate(f"() => fetch('/api/reads/{reads[1]}').then(r => r.json())")
    detail0 = page.evaluate(f"() => fetch('/api/reads/{reads[0]}').then(r => r.json())")
    assert prefetched == str(detail["case"]["id"])
    assert [size > 0 for _, size in _worker_pngs(page, detail0["case"]["id"])] == [True]
    page.keyboard.press("n")
    page.wait_for_url(f"**/read/{reads[1]}")
    page.wait_for_selector(f"{CANVAS}[data-resolution=full]", timeout=60000)
    assert _data(page, "decoder") == "worker"
    case_id = detail["case"]["id"]
    # The full PNG is fetched by a decoding worker: its own resource timing says where it
    # came from (transferSize 0: the browser cache, no bytes on the wire); the viewer answer
    # with the preview was revalidated (304: headers only, the preview not sent again).
    pngs = _worker_pngs(page, case_id)
    assert len(pngs) == 1 and all(size == 0 for _, size in pngs), pngs
    viewer = _page_entries(page, f"/api/reads/{reads[1]}/viewer")
    assert len(viewer) == 1 and viewer[0][1] < 5_000, viewer
    print(f"next case from the cache: first view {_data(page, 'first-ms')} ms, "
          f"full view {_data(page, 'full-ms')} ms")
