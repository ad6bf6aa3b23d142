"""16-bit greyscale PNG, the workstation's one lossless image codec: the display PNG of an
imported image (:func:`encode_png16` / :func:`decode_png16`, [0, 1] floats) and the
viewer's transfer PNGs (:func:`png16_bytes`, uint16 values)."""

from __future__ import annotations

import io

import numpy as np

#: zlib level of the stored display PNGs (Pillow's default; kept so that an image stored
#: again has the same bytes and sha256 as before).
DISPLAY_LEVEL = 6


def png16_bytes(pixels: np.ndarray, *, level: int) -> bytes:
    """uint16 pixels as a 16-bit greyscale PNG at zlib ``level`` (lossless)."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels, dtype=np.uint16)).save(
        buf, format="PNG", compress_level=level
    )
    return buf.getvalue()


def encode_png16(pixels: np.ndarray) -> bytes:
    """Display pixels ([0, 1] float) as a 16-bit greyscale PNG (lossless for 8-16-bit sources)."""
    arr = np.round(np.clip(pixels, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return png16_bytes(arr, level=DISPLAY_LEVEL)


def decode_png16(data: bytes) -> np.ndarray:
    """A display PNG back as float32 pixels in [0, 1] (an 8-bit PNG is scaled by 255)."""
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as im:
        arr = np.asarray(im)
    scale = 65535.0 if arr.dtype != np.uint8 else 255.0
    return (arr.astype(np.float32) / scale).astype(np.float32)
