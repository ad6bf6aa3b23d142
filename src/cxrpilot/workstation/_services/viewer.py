"""Pixels for the viewer: full bit depth, in display sense, with window presets.

The browser cannot window a 16-bit PNG (it decodes to 8 bits), so the viewer gets raw
little-endian uint16 pixels and does window/level itself. For DICOM they come from the stored
de-identified DICOM (modality LUT applied, min-max over the image, MONOCHROME1 inverted): the
whole dynamic range, not only the header window the models' display pixels were cut to.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .._models import Image
from .._storage import BlobStore
from .cases import decode_png16

FULL = 65535.0


@dataclass(frozen=True)
class ViewerImage:
    """uint16 pixels (0 black ... 65535 white) and window presets in the same units."""

    pixels: np.ndarray
    source: str
    presets: tuple[dict[str, Any], ...]


def _percentile_presets(u16: np.ndarray) -> list[dict[str, Any]]:
    sample = u16[:: max(1, u16.shape[0] // 512), :: max(1, u16.shape[1] // 512)]
    out = []
    for name, lo_q, hi_q in (("Auto (1-99 %)", 1, 99), ("High contrast (5-95 %)", 5, 95)):
        lo, hi = (float(v) for v in np.percentile(sample, [lo_q, hi_q]))
        out.append(
            {"name": name, "center": round((lo + hi) / 2, 1), "width": round(max(hi - lo, 1.0), 1)}
        )
    return out


def _as_list(value: Any) -> list[float]:
    if value is None:
        return []
    try:
        return [float(v) for v in value]
    except TypeError:
        return [float(value)]


def _from_dicom(data: bytes) -> tuple[np.ndarray, list[dict[str, Any]]]:
    import pydicom
    from pydicom.pixels import apply_modality_lut

    ds = pydicom.dcmread(io.BytesIO(data))
    values = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    if values.ndim == 3:  # multi-frame or colour: first frame, luma
        values = (
            values[0] if values.shape[-1] not in (3, 4) else values[..., :3] @ [0.299, 0.587, 0.114]
        )
    lo, hi = float(values.min()), float(values.max())
    span = max(hi - lo, 1e-9)
    u16 = np.round((values - lo) / span * FULL)
    invert = (
        str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1"
        or str(ds.get("PresentationLUTShape", "")) == "INVERSE"
    )
    if invert:
        u16 = FULL - u16
    presets = []
    centers, widths = _as_list(ds.get("WindowCenter")), _as_list(ds.get("WindowWidth"))
    explanations = _texts(ds.get("WindowCenterWidthExplanation"))
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        center = (c - lo) / span * FULL
        presets.append(
            {
                "name": explanations[i]
                if i < len(explanations) and explanations[i]
                else f"Header window {i + 1}",
                "center": round(FULL - center if invert else center, 1),
                "width": round(max(w / span * FULL, 1.0), 1),
            }
        )
    return u16.astype(np.uint16), presets


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        return [str(v) for v in value]
    except TypeError:
        return [str(value)]


@lru_cache(maxsize=4)
def _load(root: Path, display_path: str, dicom_path: str | None) -> ViewerImage:
    store = BlobStore(root)
    presets: list[dict[str, Any]] = []
    if dicom_path:
        u16, presets = _from_dicom(store.read(dicom_path))
        source = "dicom"
    else:
        u16 = np.round(decode_png16(store.read(display_path)) * FULL).astype(np.uint16)
        source = "display"
    full = {"name": "Full range", "center": FULL / 2, "width": FULL + 1}
    u16.flags.writeable = False
    return ViewerImage(u16, source, tuple(presets + _percentile_presets(u16) + [full]))


def viewer_image(store: BlobStore, image: Image) -> ViewerImage:
    """The viewer's pixels of a stored image (the last few are cached in memory)."""
    return _load(store.root.resolve(), image.display_path, image.dicom_path)
