"""Pixels for the viewer: full bit depth, in the image's own units, losslessly compressed.

The browser cannot window a 16-bit PNG itself (it decodes to 8 bits), so the viewer decodes
the 16-bit PNG in JavaScript and does window/level on the values. The values are the
image's own units, those its DICOM header's Window Center / Width are written in:

* DICOM: the stored values through the modality LUT (Rescale Slope / Intercept), read from
  the stored de-identified DICOM (its whole dynamic range, not only the header window the
  models' display pixels were cut to). Sent as ``t = value - offset`` (``offset`` = the
  image's minimum) when the values are integers spanning at most 65,535, which is lossless;
  otherwise scaled onto 0..65535 (``value = offset + t * scale``).
* PNG / JPEG: the stored grey values (0..255 for 8-bit files, 0..65535 for 16-bit).

``monochrome1``: higher values are darker (Photometric Interpretation MONOCHROME1 or an
INVERSE Presentation LUT Shape); the viewer inverts its grey scale for these.

Window presets, all in the image's own units (centre, width):

* the header's windows (Window Center / Width, named by their explanation); a DICOM
  without one gets **Auto (1-99 %)** first (the 1st to 99th percentile);
* **Lung**, **Mediastinum**, **Bone**: from the image's histogram in display sense
  (``d``: 0 darkest ... 1 brightest as the image is meant to be seen): lung spreads the
  darker part (the 2nd to 65th percentile of ``d``) over the grey scale, mediastinum the
  denser part (35th to 99th), bone the densest (70th to 99.8th). Radiographs have no
  calibrated units (CT's Hounsfield units), so these come from each image's own range;
* **Full range**: ``0 .. 2**BitsStored - 1`` through the rescale (for PNG / JPEG their bit
  depth, and first: their stored grey values are their intended display), which shows
  every value the detector can store.

Two resolutions are served: ``full`` and ``low`` (block means, at most :data:`LOW_SIDE`
pixels on the longer side) for a quick first view while the full image arrives.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from cxrpilot.errors import InvalidInputError

from .._orm import Case, Image
from .._storage import BlobStore
from ._common import Actor
from .png16 import decode_png16, png16_bytes
from .reads import _own_read

#: Longer side of the low-resolution first view, in pixels (RG1_UNCR: 391 x 368, 0.2 MB).
LOW_SIDE = 400
#: zlib level of the transfer PNGs: 1 (on RG1_UNCR.dcm level 6 is 4 % smaller but takes
#: three times as long to encode, which a first view waits for).
PNG_LEVEL = 1
RESOLUTIONS = ("full", "low")
#: (name, low and high percentile of the display-sense histogram); see the module docstring.
ANATOMIC_PRESETS = (("Lung", 2.0, 65.0), ("Mediastinum", 35.0, 99.0), ("Bone", 70.0, 99.8))


@dataclass(frozen=True)
class ViewerImage:
    """Transfer values ``pixels`` (uint16) and how they map to the image's own units
    (``value = offset + pixels * scale``), with presets and pixel spacing."""

    pixels: np.ndarray
    source: str
    offset: float
    scale: float
    monochrome1: bool
    bits_stored: int
    units: str
    presets: tuple[dict[str, Any], ...]
    spacing: dict[str, Any] | None
    spacing_note: str
    _png: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    _locks: dict[str, Any] = field(
        default_factory=lambda: {r: threading.Lock() for r in RESOLUTIONS},
        repr=False,
        compare=False,
    )

    def png(self, resolution: str = "full") -> bytes:
        """The pixels (``"full"`` or ``"low"``) as a 16-bit greyscale PNG (encoded once)."""
        if resolution not in RESOLUTIONS:
            raise InvalidInputError(f"resolution {resolution!r}; expected one of {', '.join(RESOLUTIONS)}")
        with self._locks[resolution]:
            if resolution not in self._png:
                px = self.pixels if resolution == "full" else low_resolution(self.pixels)
                self._png[resolution] = png16_bytes(px, level=PNG_LEVEL)
            return self._png[resolution]

    def warm(self) -> None:
        """Encode both PNGs now (low first), e.g. in a thread while the viewer starts."""
        for resolution in ("low", "full"):
            self.png(resolution)

    def info(self) -> dict[str, Any]:
        """What the viewer needs besides the pixels (JSON-ready)."""
        h, w = self.pixels.shape
        low = low_resolution_shape(h, w)
        return {
            "width": int(w),
            "height": int(h),
            "low_width": low[1],
            "low_height": low[0],
            "source": self.source,
            "offset": self.offset,
            "scale": self.scale,
            "monochrome1": self.monochrome1,
            "bits_stored": self.bits_stored,
            "units": self.units,
            "presets": list(self.presets),
            "spacing": self.spacing,
            "spacing_note": self.spacing_note,
        }


def low_resolution_shape(height: int, width: int) -> tuple[int, int]:
    k = max(1, -(-max(height, width) // LOW_SIDE))
    return height // k or 1, width // k or 1


def low_resolution(pixels: np.ndarray) -> np.ndarray:
    """Block means over k x k pixels, k the smallest integer that brings the longer side to
    at most :data:`LOW_SIDE` (edge rows and columns that do not fill a block are dropped)."""
    h, w = pixels.shape
    lh, lw = low_resolution_shape(h, w)
    k = max(1, -(-max(h, w) // LOW_SIDE))
    if k == 1:
        return pixels
    blocks = pixels[: lh * k, : lw * k].astype(np.float64).reshape(lh, k, lw, k)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint16)


def _presets(
    t: np.ndarray, offset: float, scale: float, mono1: bool, full: tuple[float, float], *, auto: bool
):
    sample = t[:: max(1, t.shape[0] // 512), :: max(1, t.shape[1] // 512)].astype(np.float64)
    out = []
    if auto:  # a general first view where the header has no window of its own
        lo, hi = (offset + scale * float(v) for v in np.percentile(sample, (1, 99)))
        out.append(_window("Auto (1-99 %)", lo, hi))
    for name, lo_q, hi_q in ANATOMIC_PRESETS:
        # display-sense percentiles: for MONOCHROME1 the darkest display is the highest value
        qs = (100 - hi_q, 100 - lo_q) if mono1 else (lo_q, hi_q)
        lo, hi = (offset + scale * float(v) for v in np.percentile(sample, qs))
        out.append(_window(name, lo, hi))
    out.append(_window("Full range", *full))
    return out


def _window(name: str, lo: float, hi: float) -> dict[str, Any]:
    return {"name": name, "center": round((lo + hi) / 2, 2), "width": round(max(hi - lo, 1.0), 2)}


def _as_list(value: Any) -> list[float]:
    if value is None:
        return []
    try:
        return [float(v) for v in value]
    except TypeError:
        return [float(value)]


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in value]
    except TypeError:
        return [str(value)]


def _spacing(ds: Any) -> tuple[dict[str, Any] | None, str]:
    """Pixel Spacing (0028,0030), else Imager Pixel Spacing (0018,1164), as (row, column) mm."""
    bad = []
    for keyword, tag in (("PixelSpacing", "(0028,0030)"), ("ImagerPixelSpacing", "(0018,1164)")):
        value = ds.get(keyword)
        if value is None:
            continue
        try:
            row, col = (float(v) for v in value)
        except (TypeError, ValueError):
            bad.append(f"{keyword} {tag} {value!r} is not two numbers")
            continue
        if not (row > 0 and col > 0):
            bad.append(f"{keyword} {tag} is {row:g}\\{col:g}")
            continue
        note = (
            "Pixel Spacing: in the patient"
            if keyword == "PixelSpacing"
            else "Imager Pixel Spacing: at the detector, not corrected for magnification"
        )
        return {"row_mm": row, "col_mm": col, "source": keyword}, note
    if bad:
        return None, "; ".join(bad) + ": no valid pixel spacing, lengths in pixels only"
    return None, "no Pixel Spacing or Imager Pixel Spacing in the header: lengths in pixels only"


def viewer_image_from_dicom(data: bytes) -> ViewerImage:
    """The viewer's image of a DICOM file's bytes, as the workstation serves it.

    Parameters
    ----------
    data : bytes
        A DICOM file (Part 10). Its modality LUT is applied; of a multi-frame or colour
        image the first frame, as luma, is kept.

    Returns
    -------
    ViewerImage
        ``pixels`` (H x W uint16) with ``value = offset + pixels * scale`` in the image's
        units, the window presets and the pixel spacing (None when the header has none).
    """
    import pydicom
    from pydicom.pixels import apply_modality_lut

    ds = pydicom.dcmread(io.BytesIO(data))
    values = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    if values.ndim == 3:  # multi-frame or colour: first frame, luma
        values = (
            values[0] if values.shape[-1] not in (3, 4) else values[..., :3] @ [0.299, 0.587, 0.114]
        )
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 65535 and np.array_equal(values, np.round(values)):
        offset, scale = lo, 1.0
        t = (values - lo).astype(np.uint16)
    else:
        offset, scale = lo, max(hi - lo, 1e-9) / 65535.0
        t = np.round((values - lo) / scale).astype(np.uint16)
    mono1 = (
        str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1"
        or str(ds.get("PresentationLUTShape", "")) == "INVERSE"
    )
    bits = int(ds.get("BitsStored") or 16)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    full = sorted((intercept, intercept + slope * (2**bits - 1)))
    if int(ds.get("PixelRepresentation", 0) or 0) == 1:  # signed
        half = 2 ** (bits - 1)
        full = sorted((intercept - slope * half, intercept + slope * (half - 1)))
    units = (
        f"stored values, {bits} bits"
        if (slope, intercept) == (1.0, 0.0)
        else f"rescaled values: slope {slope:g}, intercept {intercept:g}, {bits} bits stored"
    )
    presets = []
    centers, widths = _as_list(ds.get("WindowCenter")), _as_list(ds.get("WindowWidth"))
    explanations = _texts(ds.get("WindowCenterWidthExplanation"))
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        name = explanations[i] if i < len(explanations) and explanations[i] else ""
        name = name or f"Header window {i + 1}"
        presets.append({"name": name, "center": round(c, 2), "width": round(max(w, 1.0), 2)})
    presets += _presets(t, offset, scale, mono1, (full[0], full[1]), auto=not presets)
    spacing, note = _spacing(ds)
    t.flags.writeable = False
    return ViewerImage(t, "dicom", offset, scale, mono1, bits, units, tuple(presets), spacing, note)


def _from_display(data: bytes, bits_stored: int | None) -> ViewerImage:
    bits = 8 if bits_stored is not None and bits_stored <= 8 else 16
    top = 2**bits - 1
    t = np.round(decode_png16(data).astype(np.float64) * top).astype(np.uint16)
    t.flags.writeable = False
    # the stored grey values are the intended display of a PNG/JPEG: full range first
    lung, mediastinum, bone, full = _presets(t, 0.0, 1.0, False, (0.0, float(top)), auto=False)
    presets = [full, lung, mediastinum, bone]
    note = "PNG/JPEG image: no pixel spacing, lengths in pixels only"
    return ViewerImage(
        t, "display", 0.0, 1.0, False, bits, f"grey values, {bits} bits", tuple(presets), None,
        note,
    )


@lru_cache(maxsize=6)
def _load(root: Path, display_path: str, dicom_path: str | None, bits: int | None) -> ViewerImage:
    store = BlobStore(root)
    if dicom_path:
        return viewer_image_from_dicom(store.read(dicom_path))
    return _from_display(store.read(display_path), bits)


def case_of_read(db: Session, actor: Actor, read_id: int) -> Case:
    """The case of ``read_id`` if it is the actor's own read, open now (as the report editor
    checks it: :class:`NotFound` / :class:`Forbidden` otherwise)."""
    read = _own_read(db, actor, read_id)
    case = db.get(Case, read.case_id)
    if case is None:  # a read always has its case; a broken row is a server fault
        raise RuntimeError(f"read {read_id} has no case row {read.case_id}")
    return case


_LOADING: dict[tuple, threading.Lock] = {}
_LOADING_GUARD = threading.Lock()


def viewer_image(store: BlobStore, image: Image) -> ViewerImage:
    """The viewer's pixels of a stored image (the last few, and their PNGs, are cached).
    Concurrent requests for one image (the viewer asks for metadata and both PNGs at once)
    decode it once."""
    bits = (image.meta or {}).get("bits_stored")
    key = (store.root.resolve(), image.display_path, image.dicom_path, bits)
    with _LOADING_GUARD:
        lock = _LOADING.setdefault(key, threading.Lock())
    with lock:
        try:
            return _load(*key)
        finally:
            with _LOADING_GUARD:
                if len(_LOADING) > 64:
                    _LOADING.clear()


THUMB_SIDE = 160


@lru_cache(maxsize=256)
def _thumbnail(root: Path, display_path: str) -> bytes:
    from PIL import Image as PILImage

    px = decode_png16(BlobStore(root).read(display_path))
    im = PILImage.fromarray(np.round(px * 255).astype(np.uint8))
    im.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def thumbnail_png(store: BlobStore, display_path: str) -> bytes:
    """An 8-bit PNG of a display image, at most :data:`THUMB_SIDE` pixels on a side."""
    return _thumbnail(store.root.resolve(), display_path)
