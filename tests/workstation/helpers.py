"""Helpers of the workstation tests: a small real draft producer, an image loader, images,
and a client wrapper that logs in and sends the CSRF header."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from cxrpilot.draft import Draft, Finding, FindingMap
from cxrpilot.errors import InvalidImageError
from cxrpilot.imaging._radiograph import Radiograph
from cxrpilot.vocabulary import Status

MODEL_ID = "test-drafter-mean-intensity"
PASSWORD = "correct horse battery"


def peaked_map(name: str, shape: tuple[int, int], peak: tuple[float, float]) -> FindingMap:
    """A map with the image's aspect ratio (16 cells on the longer side) that peaks at
    ``peak`` = (row, column) as fractions of the image's height and width."""
    h, w = shape
    rows, cols = (16, max(1, round(16 * w / h))) if h >= w else (max(1, round(16 * h / w)), 16)
    y = (np.arange(rows) + 0.5) / rows
    x = (np.arange(cols) + 0.5) / cols
    d2 = (y[:, None] - peak[0]) ** 2 + (x[None, :] - peak[1]) ** 2
    grid = np.exp(-d2 / (2 * 0.12**2))
    return FindingMap(name, tuple(tuple(r) for r in grid / grid.max()))


#: Where the test drafter's maps peak, (row, column) as fractions of the image: Pneumothorax
#: in the image's upper left, Cardiomegaly low in the middle (asymmetric, to check placement).
MAP_PEAKS = {"Pneumothorax": (0.2, 0.2), "Cardiomegaly": (0.65, 0.5)}


def small_drafter(radiograph: Radiograph) -> Draft:
    """A tiny deterministic drafter built from the real Draft types: it states three findings
    from the image's mean intensity and leaves the other eleven not assessed, and maps each
    present or uncertain one (see ``MAP_PEAKS``)."""
    m = float(radiograph.pixels.mean())
    findings = [
        Finding(
            "Cardiomegaly",
            Status.PRESENT if m > 0.3 else Status.ABSENT,
            round(min(0.99, m + 0.4), 3),
        ),
        Finding("Pleural Effusion", Status.ABSENT, 0.05),
        Finding("Pneumothorax", Status.UNCERTAIN, 0.45),
    ]
    return Draft(
        source=radiograph.source,
        findings=findings,
        findings_text=f"The heart is {'enlarged' if m > 0.3 else 'normal in size'}. No pleural effusion.",
        impression_text="Cardiomegaly." if m > 0.3 else "No acute cardiopulmonary abnormality.",
        model_id=MODEL_ID,
        model_version="0.0.1",
        timings={"model": 0.001},
        maps=tuple(
            peaked_map(f.name, radiograph.pixels.shape, MAP_PEAKS[f.name])
            for f in findings
            if f.status in (Status.PRESENT, Status.UNCERTAIN)
        ),
    )


def failing_drafter(radiograph: Radiograph) -> Draft:
    raise RuntimeError(f"model weights missing at /nonexistent (image {radiograph.shape})")


def _fallback_load(data: bytes) -> Radiograph:
    """Used only until cxrpilot.imaging.load exists: PNG/JPEG through Pillow, DICOM through
    pydicom with a crude de-identification of the header."""
    sha = hashlib.sha256(data).hexdigest()
    if data[128:132] == b"DICM":
        import pydicom

        ds = pydicom.dcmread(io.BytesIO(data))
        px = ds.pixel_array.astype(np.float32)
        px = (px - px.min()) / max(float(px.max() - px.min()), 1.0)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            px = 1.0 - px
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        for tag in [
            t for t in header.keys() if header[t].keyword.startswith("Patient") or t.is_private
        ]:
            del header[tag]
        header.PatientIdentityRemoved = "YES"
        return Radiograph(
            pixels=px.astype(np.float32),
            source="<bytes>",
            format="dicom",
            sha256=sha,
            modality=str(ds.get("Modality", "")) or None,
            photometric=ds.PhotometricInterpretation,
            bits_stored=int(ds.BitsStored),
            header=header,
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = (im.format or "png").lower()
            px = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise InvalidImageError(f"<bytes>: not a readable image ({exc})") from exc
    return Radiograph(
        pixels=px, source="<bytes>", format="jpeg" if fmt == "jpeg" else "png", sha256=sha
    )


def image_loader():
    """cxrpilot.imaging.load (when it exists, else the fallback above) with its chest
    checks off: the tests' synthetic images are not chest radiographs. De-identification
    and format handling are the real ones."""
    try:
        from cxrpilot.imaging import load
    except ImportError:
        return _fallback_load
    return functools.partial(load, check=False)


def png_bytes(seed: int, size: int = 256) -> bytes:
    """A small greyscale PNG, different for each seed."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    arr = (
        np.clip(
            0.2
            + 0.4 * np.exp(-((x - size / 2) ** 2 + (y - size / 2) ** 2) / (size**2 / 8))
            + 0.05 * rng.standard_normal((size, size)),
            0,
            1,
        )
        * 255
    ).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


class Client:
    """An HTTP client that logs in and then sends the CSRF header on every request."""

    def __init__(self, http: Any) -> None:
        self.http = http
        self.csrf: str | None = None
        self.user: dict | None = None

    def login(self, username: str, password: str = PASSWORD) -> Any:
        r = self.http.post("/api/auth/login", json={"username": username, "password": password})
        if r.status_code == 200:
            self.csrf = r.json()["csrf_token"]
            self.user = r.json()["user"]
        return r

    def _headers(self, kw: dict) -> dict:
        headers = dict(kw.pop("headers", {}) or {})
        if self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return headers

    def get(self, url: str, **kw: Any) -> Any:
        return self.http.get(url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.http.post(url, headers=self._headers(kw), **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.http.put(url, headers=self._headers(kw), **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.http.patch(url, headers=self._headers(kw), **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.http.delete(url, headers=self._headers(kw), **kw)

    def ok(self, method: str, url: str, status: int = 200, **kw: Any) -> Any:
        r = getattr(self, method)(url, **kw)
        assert r.status_code == status, f"{method.upper()} {url}: {r.status_code} {r.text}"
        return (
            r.json()
            if r.content and r.headers.get("content-type", "").startswith("application/json")
            else r
        )


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real app on uvicorn in a background thread (real HTTP, real threads)."""

    def __init__(self, app) -> None:
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=30)

    def client(self) -> Client:
        return Client(httpx.Client(base_url=self.url, timeout=60))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@contextlib.contextmanager
def live_site(app):
    """``app`` on uvicorn with an admin (password :data:`PASSWORD`) logged in; yields
    ``(server, admin client)`` and stops the server afterwards."""
    from cxrpilot.workstation._services import auth

    with app.state.ws.sessions() as db:
        auth.create_user(db, None, username="admin", password=PASSWORD, role="admin", hasher=app.state.ws.hasher)
    server = LiveServer(app)
    try:
        admin = server.client()
        admin.login("admin")
        yield server, admin
    finally:
        server.stop()


def sample_images(n: int) -> list[bytes]:
    """Real chest radiographs from the shared data when present (better screenshots), else
    synthetic images."""
    root = Path(
        os.environ.get("CXRPILOT_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
    )
    files = sorted((root / "samples" / "nih").glob("*.png"))[:n]
    if len(files) == n:
        return [f.read_bytes() for f in files]
    return [png_bytes(700 + i, 512) for i in range(n)]


def browser_login(page, url: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the login page."""
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def each_row(rows, check) -> None:
    """``check(*row)`` for every row; fails once, listing every row that failed and how
    (a table of bad inputs is checked whole, not up to its first failure)."""
    failures = []
    for row in rows:
        try:
            check(*row)
        except Exception as exc:  # noqa: BLE001 - every failing row is reported
            failures.append(f"{row!r:.160}: {type(exc).__name__}: {exc}"[:600])
    assert not failures, "\n".join(failures)
