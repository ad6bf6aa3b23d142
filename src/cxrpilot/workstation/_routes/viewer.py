"""/api/cases/{id}/viewer, /pixels.png, /pixels, /header: what the viewer shows of a case;
/api/reads/{id}/viewer: the same for a read's case, with its first view inline.

Each checks that the caller may see the case (as /api/cases/{id}/image does; a read's, that
it is the caller's own read, as /api/reads/{id} does). The pixel responses are cacheable for
an hour in the user's browser (``private``): the read page prefetches the next case's into
the browser cache.

``?preview=true`` on a viewer route puts the low-resolution PNG (the first view) in the
answer, base64 in ``preview.png``: the viewer draws it after one request instead of two.
The read page asks /api/reads/{id}/viewer (always with the preview) as its first request,
before it knows the read's case, so that the first view waits for no other request.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading

from fastapi import APIRouter, Request, Response

from .._errors import InvalidInput
from .._orm import Image
from .._schemas import PathId
from .._services.cases import case_image
from .._services.header import dicom_header
from .._services.viewer import (
    RESOLUTIONS,
    ViewerImage,
    case_of_read,
    thumbnail_png,
    viewer_image,
)
from .._storage import BlobStore
from ..deps import CurrentActor, Db, State

router = APIRouter(tags=["viewer"])
CACHE = "private, max-age=3600"
#: The read's viewer answer: kept by the browser, but checked with the server (ETag) each
#: time, so that a read taken away is refused at once; the next case's is prefetched.
REVALIDATE = "private, no-cache"


def _view(case_id: int, actor, state, db) -> tuple[Image, ViewerImage]:
    img = case_image(db, actor, case_id)
    return img, viewer_image(state.store, img)


def _cached(request: Request, etag: str, body: bytes, media_type: str, **headers: str) -> Response:
    common = {"ETag": etag, "Cache-Control": CACHE, **headers}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=common)
    return Response(body, media_type=media_type, headers=common)


def display_png(request: Request, store: BlobStore, image: Image) -> Response:
    """The image's display PNG (16-bit greyscale), cacheable, for a case or an exam image."""
    return _cached(request, f'"{image.display_sha256}"', store.read(image.display_path), "image/png")


def check_resolution(resolution: str) -> None:
    """A 422 naming the field unless ``resolution`` is one the viewer serves."""
    if resolution not in RESOLUTIONS:
        raise InvalidInput(f"query.resolution: not known; expected one of {', '.join(RESOLUTIONS)}")


def png_response(request: Request, image: Image, view: ViewerImage, resolution: str) -> Response:
    """The image's transfer values as a cacheable lossless 16-bit PNG at ``resolution``
    (checked with :func:`check_resolution`), for a case or an exam image."""
    etag = f'"{image.dicom_sha256 or image.display_sha256}-{resolution}"'
    return _cached(request, etag, view.png(resolution), "image/png")


def viewer_payload(
    image: Image, view: ViewerImage, base: str, *, image_url: str, preview: bool, raw: bool
) -> dict:
    """What a viewer route answers for ``image`` whose routes are under ``base``: size,
    value mapping (own units), presets, pixel spacing, where the pixels are, and with
    ``preview`` the low-resolution PNG itself (``preview.png``, base64). Starts encoding the
    PNGs in a thread (the pixel requests follow at once), unless the preview was asked for,
    which encodes the low one here first."""
    out = {
        **view.info(),
        "photometric": (image.meta or {}).get("photometric"),
        "png_urls": {r: f"{base}/pixels.png?resolution={r}" for r in RESOLUTIONS},
        "header_url": f"{base}/header",
        "image_url": image_url,
    }
    if raw:
        out["pixels_url"] = f"{base}/pixels"
    if preview:
        low = view.png("low")
        out["preview"] = {
            "width": out["low_width"],
            "height": out["low_height"],
            "png": base64.b64encode(low).decode("ascii"),
        }
    threading.Thread(target=view.warm, name=f"viewer-png-{image.id}", daemon=True).start()
    return out


@router.get("/api/cases/{case_id}/viewer")
def viewer_info(
    case_id: PathId, actor: CurrentActor, state: State, db: Db, preview: bool = False
) -> dict:
    """Size, value mapping (own units), presets, pixel spacing, and where the pixels are
    (with ``preview``, the low-resolution PNG too)."""
    img, view = _view(case_id, actor, state, db)
    base = f"/api/cases/{case_id}"
    return viewer_payload(img, view, base, image_url=f"{base}/image", preview=preview, raw=True)


@router.get("/api/reads/{read_id}/viewer")
def read_viewer_info(
    read_id: PathId, request: Request, actor: CurrentActor, state: State, db: Db
) -> Response:
    """The viewer data of the read's case with its first view inline (as
    ``/api/cases/{id}/viewer?preview=true``), to the read's reader only; ``case_id`` says
    which case. Revalidated by ETag (the prefetch of the next case keeps it in the browser)."""
    case = case_of_read(db, actor, read_id)
    img, view = _view(case.id, actor, state, db)
    base = f"/api/cases/{case.id}"
    payload = viewer_payload(img, view, base, image_url=f"{base}/image", preview=True, raw=True)
    body = json.dumps({"case_id": case.id, **payload}, separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    return _cached(request, etag, body, "application/json", **{"Cache-Control": REVALIDATE})


@router.get("/api/cases/{case_id}/pixels.png")
def pixels_png(
    case_id: PathId,
    request: Request,
    actor: CurrentActor,
    state: State,
    db: Db,
    resolution: str = "full",
) -> Response:
    """The transfer values as a lossless 16-bit greyscale PNG (``full`` or ``low``)."""
    check_resolution(resolution)
    img, view = _view(case_id, actor, state, db)
    return png_response(request, img, view, resolution)


@router.get("/api/cases/{case_id}/pixels")
def pixels_raw(
    case_id: PathId, request: Request, actor: CurrentActor, state: State, db: Db
) -> Response:
    """The transfer values uncompressed: little-endian uint16, row-major (the format before
    the PNG transfer; kept for clients that want it and for the transfer benchmark)."""
    img, view = _view(case_id, actor, state, db)
    height, width = view.pixels.shape
    etag = f'"{img.dicom_sha256 or img.display_sha256}-raw"'
    return _cached(
        request,
        etag,
        view.pixels.astype("<u2").tobytes(),
        "application/octet-stream",
        **{"X-Image-Width": str(width), "X-Image-Height": str(height)},
    )


@router.get("/api/cases/{case_id}/thumbnail")
def thumbnail(
    case_id: PathId, request: Request, actor: CurrentActor, state: State, db: Db
) -> Response:
    """A small 8-bit PNG of the display image (at most 160 px), for lists."""
    img = case_image(db, actor, case_id)
    etag = f'"{img.display_sha256}-thumb"'
    return _cached(request, etag, thumbnail_png(state.store, img.display_path), "image/png")


@router.get("/api/cases/{case_id}/header")
def header(case_id: PathId, actor: CurrentActor, state: State, db: Db) -> dict:
    """The stored de-identified DICOM header (no pixel data)."""
    return dicom_header(state.store, case_image(db, actor, case_id))
