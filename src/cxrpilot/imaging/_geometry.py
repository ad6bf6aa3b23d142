"""Geometry helpers shared by the models' preprocessing: aspect-preserving square fitting."""

from __future__ import annotations

import numpy as np
from PIL import Image

from cxrpilot.errors import InvalidInputError

__all__ = ["fit_square", "square_region"]


def square_region(shape: tuple[int, int], size: int) -> tuple[int, int, int, int]:
    """Where :func:`fit_square` puts an image of ``shape`` (H, W) in its ``size`` square:
    ``(top, left, height, width)`` in square pixels.

    >>> square_region((100, 50), 64)
    (0, 16, 64, 32)
    """
    height, width = shape
    scale = size / max(height, width)
    new_h = min(size, max(1, round(height * scale)))
    new_w = min(size, max(1, round(width * scale)))
    return (size - new_h) // 2, (size - new_w) // 2, new_h, new_w


def fit_square(pixels: np.ndarray, size: int, *, fill: float = 0.0) -> np.ndarray:
    """Resize an image to fit a ``size`` x ``size`` square, keeping its aspect ratio, and pad.

    The longer side becomes ``size`` pixels; the shorter side is scaled by the same factor
    and the image is centred on a square of ``fill`` (black by default, which reads as air
    or collimation border on a radiograph). Resampling is bilinear with Pillow's
    antialiasing when shrinking, done in 32-bit float so no grey levels are lost.

    Parameters
    ----------
    pixels : numpy.ndarray, shape (H, W)
        A greyscale image, e.g. :attr:`Radiograph.pixels` (float32 in [0, 1]). Any real
        dtype is accepted and converted to float32.
    size : int
        Side of the output square in pixels (>= 1).
    fill : float, default 0.0
        Value of the padding.

    Returns
    -------
    numpy.ndarray, shape (size, size), float32
        A new, writeable, C-contiguous array.

    Raises
    ------
    InvalidInputError
        ``pixels`` is not a non-empty 2-D array, or ``size`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> fit_square(np.ones((100, 50), np.float32), 64).shape
    (64, 64)
    >>> out = fit_square(np.ones((100, 50), np.float32), 64)
    >>> float(out[:, :16].max()), float(out[:, 16:48].min())
    (0.0, 1.0)
    """
    array = np.asarray(pixels)
    if array.ndim != 2 or array.size == 0:
        raise InvalidInputError(
            f"fit_square expects a non-empty 2-D (H, W) array, got shape {array.shape}"
        )
    if int(size) < 1:
        raise InvalidInputError(f"fit_square size must be >= 1, got {size}")
    size = int(size)
    height, width = array.shape
    top, left, new_h, new_w = square_region((height, width), size)
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32))
    if (new_h, new_w) != (height, width):
        image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    resized = np.asarray(image, dtype=np.float32)
    out = np.full((size, size), fill, dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = resized
    return out
