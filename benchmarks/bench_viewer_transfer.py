"""Viewer transfer: bytes on the wire and time to first / full view of a 2k x 2k 16-bit CR.

Usage: python benchmarks/bench_viewer_transfer.py [--repeats 5] [--rates 20 100 1000]
       [--scripts cold|cached] [--out benchmarks/results/viewer_transfer.md]

pydicom-data's RG1_UNCR.dcm (1955 x 1841, 15 bits stored) is imported into a real app on
uvicorn and opened on the read page in Debian's chromium (Playwright), the network throttled
by CDP ``Network.emulateNetworkConditions`` at 20, 100 and 1,000 Mbit/s (2 ms latency),
each time in a fresh browser context (empty cache):

* raw: the uncompressed little-endian uint16 pixels (``/pixels``, the read page with
  ``?transfer=raw``), one request, asked for once the page knows the read's case;
* PNG, preview in its own request (the read page before the inline preview,
  ``?first=png``): once the page knows the read's case, the metadata, the low-resolution
  16-bit PNG and the full one asked for at once, both decoded in Web Workers (``png16.js``);
* PNG, preview inline (the read page's default): the page's first request is
  ``/api/reads/{id}/viewer``, the metadata with the low-resolution PNG inline (base64),
  asked for beside ``/api/auth/me`` and ``/api/reads/{id}``; the full PNG is asked for once
  it is in (so that the two do not share the link) and decoded in a Web Worker.

"first view" / "full view": milliseconds until that image is drawn on the canvas, counted
from the viewer's request for the image (``data-first-ms`` / ``data-full-ms``: the metadata
request, transfer, decoding and the first window/level pass) and from the start of the
page's navigation (``data-first-at`` / ``data-full-at``: what the reader waits for after
opening the case, the page's HTML, scripts and first API calls included). The server's
PNGs are encoded before the timed loads (the cold encode is timed separately). The page's
static files are fetched afresh each time (cache disabled), or with ``--scripts cached``
come from the browser cache (fetched into a fresh one first: a reader's browser after the
first case), the images never. Median of the repeats, the modes
interleaved. "main thread": the page's longest task and total blocking time (each long
task's time over 50 ms, the Long Tasks API) until the full view.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

RATES = (20, 100, 1000)
#: The page's main thread until the full view: its longest task and the total blocking time
#: (the sum of each long task's time over 50 ms), from the Long Tasks API (before any script).
LONG_TASKS = """
window.__long = { max: 0, blocking: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    window.__long.max = Math.max(window.__long.max, e.duration);
    window.__long.blocking += Math.max(0, e.duration - 50);
  }
}).observe({ type: "longtask", buffered: true });
"""
MODES = ("raw", "separate", "inline")
QUERY = {"raw": "?transfer=raw", "separate": "?first=png", "inline": ""}
WHAT = {"raw": "raw uint16", "separate": "16-bit PNG, low-res in its own request",
        "inline": "16-bit PNG, low-res inline, first request"}
PASSWORD = "correct horse battery"


def _server(tmp: Path):
    import uvicorn

    from cxrpilot.imaging import load
    from cxrpilot.workstation import Settings, admin, create_app

    settings = Settings(data_dir=tmp, secret_key="b" * 40, worker_threads=1, environment="development",
                        password_time_cost=1, password_memory_kib=1024)
    app = create_app(settings, loader=functools.partial(load, check=False))
    for name, role in (("admin", "admin"), ("rad", "radiologist")):
        admin.create_user(settings, name, role, password=PASSWORD)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=18767, log_level="warning", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, "http://127.0.0.1:18767"


def _client(url: str, user: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=120)
    r = c.post("/api/auth/login", json={"username": user, "password": PASSWORD})
    r.raise_for_status()
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


#: The read page's static files, fetched into the browser cache before a load with
#: ``--scripts cached`` (what a reader's browser holds after the first case of the day).
WARM_STATIC = """async (u) => {
  const html = await (await fetch(u)).text();
  const urls = [...html.matchAll(/(?:src|href)="(\\/static\\/[^"]+)"/g)].map(m => m[1]);
  await Promise.all(urls.map(x => fetch(x).then(r => r.arrayBuffer())));
  return urls.length;
}"""


def _load(browser, state, url: str, read_id: int, mode: str, mbit: float, *, scripts: str = "cold") -> dict:
    ctx = browser.new_context(storage_state=state, viewport={"width": 1600, "height": 1000})
    ctx.add_init_script(LONG_TASKS)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    if scripts == "cached":  # a fresh cache holding the page's static files only
        page.goto(f"{url}/worklist")
        assert page.evaluate(WARM_STATIC, f"/read/{read_id}") >= 7
    else:
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    rate = mbit * 1_000_000 / 8
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 2, "downloadThroughput": rate, "uploadThroughput": rate})
    # the context's requests, the workers' included (a page's CDP Network domain does not
    # report a dedicated worker's fetches; the throttling applies to them all the same)
    finished = []
    ctx.on("requestfinished", lambda r: finished.append(r))
    page.goto(f"{url}/read/{read_id}{QUERY[mode]}")
    page.wait_for_selector("[data-testid=viewer-canvas][data-resolution=full]", timeout=120_000)
    canvas = page.locator("[data-testid=viewer-canvas]")
    out = {k: int(canvas.get_attribute(f"data-{k}")) for k in ("first-ms", "full-ms", "first-at", "full-at")}
    out.update(page.evaluate("() => ({ longest: window.__long.max, blocking: window.__long.blocking })"))
    if mode != "raw":
        assert canvas.get_attribute("data-decoder") == "worker", (mode, canvas.get_attribute("data-decoder"))
    page.wait_for_timeout(200)
    sizes = [r.sizes() for r in finished if "/pixels" in r.url or r.url.split("?")[0].endswith("/viewer")]
    out["bytes"] = sum(z["responseBodySize"] + z["responseHeadersSize"] for z in sizes)
    out["requests"] = len(sizes)
    ctx.close()
    return out


def _decode_ms(browser, state, url: str, read_id: int, png_url: str) -> tuple[float, float]:
    """The browser's time to decode the full PNG alone (png16.js; bytes already fetched), on
    the page and in a worker (the bytes sent to it, the values back)."""
    ctx = browser.new_context(storage_state=state)
    page = ctx.new_page()
    page.goto(f"{url}/read/{read_id}")
    page.wait_for_selector("[data-testid=viewer-canvas][data-resolution=full]", timeout=120_000)
    times = page.evaluate(
        "async (u) => { const b = await (await fetch(u)).arrayBuffer(); const out = [[], []];"
        " for (let i = 0; i < 5; i++) { let t = performance.now(); await decodePng16(b.slice(0));"
        " out[0].push(performance.now() - t); t = performance.now();"
        " const w = await decodePngResponse(new Response(b.slice(0)));"
        " if (w.decodedIn !== 'worker') throw new Error(w.decodedIn);"
        " out[1].push(performance.now() - t); } return out; }", png_url)
    ctx.close()
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rates", type=int, nargs="+", default=list(RATES), help="Mbit/s")
    ap.add_argument("--scripts", choices=("cold", "cached"), default="cold",
                    help="cold: nothing from the browser cache (cache disabled); cached: the page's "
                         "static files already in a fresh cache (the images never)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "viewer_transfer.md")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from pydicom.data import get_testdata_file

    from cxrpilot.workstation.display import viewer_image_from_dicom

    load_start = os.getloadavg()[0]
    dcm = Path(get_testdata_file("RG1_UNCR.dcm")).read_bytes()
    t = time.perf_counter()
    view = viewer_image_from_dicom(dcm)
    t_decode = time.perf_counter() - t
    t = time.perf_counter()
    low = view.png("low")
    t_low = time.perf_counter() - t
    t = time.perf_counter()
    full = view.png("full")
    t_full = time.perf_counter() - t
    raw_bytes = view.pixels.size * 2
    h, w = view.pixels.shape

    tmp = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    server, url = _server(tmp)
    try:
        admin = _client(url, "admin")
        case = admin.post("/api/cases", files={"file": ("RG1_UNCR.dcm", dcm, "application/dicom")}).json()["case"]["id"]
        rad_id = next(u["id"] for u in admin.get("/api/users").json() if u["username"] == "rad")
        read_id = admin.post("/api/reads", json={"case_id": case, "reader_id": rad_id, "arm": "scp"}).json()["id"]
        rad = _client(url, "rad")
        info = rad.get(f"/api/cases/{case}/viewer").json()
        for u in (*info["png_urls"].values(), info["pixels_url"]):  # the server's encodes, done once
            rad.get(u).raise_for_status()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        args=["--no-sandbox", "--disable-gpu"])
            ctx = browser.new_context()
            page = ctx.new_page()
            page.goto(f"{url}/login")
            page.fill("#username", "rad")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/worklist")
            state = ctx.storage_state()
            ctx.close()
            _load(browser, state, url, read_id, "inline", 1000)  # warm the browser process
            decode_ms = _decode_ms(browser, state, url, read_id, info["png_urls"]["full"])
            rows = []
            for mbit in args.rates:
                # the modes interleaved (raw, main, worker, raw, ...), so that a change in the
                # machine's load falls on all of them alike
                runs = {mode: [] for mode in MODES}
                for _ in range(args.repeats):
                    for mode in MODES:
                        runs[mode].append(_load(browser, state, url, read_id, mode, mbit, scripts=args.scripts))
                for mode in MODES:
                    got = runs[mode]
                    keys = ("first-ms", "full-ms", "first-at", "full-at", "longest", "blocking")
                    med = {k: statistics.median(r[k] for r in got) for k in keys}
                    spread = {k: (min(r[k] for r in got), max(r[k] for r in got)) for k in keys}
                    rows.append((mbit, mode, got[0]["bytes"], med, spread))
                    print(f"{mbit:5d} Mbit/s {mode:8s}: {got[0]['bytes'] / 1e6:5.2f} MB in {got[0]['requests']} requests, "
                          f"first view {med['first-ms']:5.0f} ms ({med['first-at']:5.0f} from the navigation), "
                          f"full view {med['full-ms']:5.0f} ms ({med['full-at']:5.0f}); first view per load "
                          f"{[r['first-ms'] for r in got]}; main thread: longest task {med['longest']:4.0f} ms, "
                          f"blocking {med['blocking']:4.0f} ms", flush=True)
            browser.close()
    finally:
        server.should_exit = True
        shutil.rmtree(tmp, ignore_errors=True)

    head = (f"{machine()}; load {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; "
            f"RG1_UNCR.dcm {w}x{h}, 15 bits stored; "
            f"median of {args.repeats} loads, fresh browser cache each"
            + ("" if args.scripts == "cold" else ", holding the page's static files only (--scripts cached)"))
    lines = [
        "# Viewer transfer (benchmarks/bench_viewer_transfer.py)", "", head, "",
        (f"Server, once per image (cached after): DICOM decode {1000 * t_decode:.0f} ms; PNG encode low "
        f"{1000 * t_low:.0f} ms ({len(low) / 1e3:.0f} kB), full {1000 * t_full:.0f} ms "
        f"({len(full) / 1e6:.2f} MB vs {raw_bytes / 1e6:.2f} MB raw, {100 * len(full) / raw_bytes:.0f} %). "
        f"Browser, decoding the full PNG alone (png16.js): {decode_ms[0]:.0f} ms on the page, "
        f"{decode_ms[1]:.0f} ms in a worker (bytes there and values back included)."), "",
        ("First / full view: since the viewer asked for the image, median (min-max); in brackets, "
         "the median since the page's navigation started."), "",
        "| link | transfer | bytes on the wire | first view | full view | main thread: longest task | total blocking |",
        "|---|---|---|---|---|---|---|",
    ]
    def cell(med, spread, k):
        lo, hi = spread[f"{k}-ms"]
        return f"{med[f'{k}-ms']:.0f} ms ({lo}-{hi}) [{med[f'{k}-at']:.0f} ms]"

    for mbit, mode, nbytes, med, spread in rows:
        lines.append(f"| {mbit:,} Mbit/s | {WHAT[mode]} | {nbytes / 1e6:.2f} MB | {cell(med, spread, 'first')} | "
                     f"{cell(med, spread, 'full')} | {med['longest']:.0f} ms | {med['blocking']:.0f} ms |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
