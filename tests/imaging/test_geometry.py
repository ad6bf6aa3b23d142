"""fit_square: aspect-preserving resize and centred padding."""

from __future__ import annotations

import numpy as np
import pytest

from cxrpilot import imaging


@pytest.mark.parametrize(
    ("shape", "size", "content"),  # content: (rows, cols) of the image inside the square
    [
        ((100, 50), 64, (64, 32)),
        ((50, 100), 64, (32, 64)),
        ((300, 300), 224, (224, 224)),
        ((10, 20), 40, (20, 40)),
        ((1955, 1841), 384, (384, 362)),
        ((1, 1000), 16, (1, 16)),
    ],
)
def test_fit_square_shapes(shape, size, content):
    out = imaging.fit_square(np.ones(shape, np.float32), size)
    assert out.shape == (size, size) and out.dtype == np.float32 and out.flags.writeable
    rows, cols = np.nonzero(out > 0.5)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == content
    top, left = (size - content[0]) // 2, (size - content[1]) // 2
    assert (rows.min(), cols.min()) == (top, left)  # centred


def test_fit_square_keeps_range_and_fill(frontal_grey):
    pixels = frontal_grey[:, :300].astype(np.float32) / 255.0
    out = imaging.fit_square(pixels, 384, fill=0.5)
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out[0, 0] == 0.5
    assert abs(float(out[:, 70:310].mean()) - float(pixels.mean())) < 0.02


def test_fit_square_on_a_radiograph(siim):
    xr = imaging.load(siim)
    assert imaging.fit_square(xr.pixels, 224).shape == (224, 224)
    assert not xr.pixels.flags.writeable  # the radiograph itself is untouched


@pytest.mark.parametrize(
    ("pixels", "size", "pattern"),
    [
        (np.zeros((3, 4, 3)), 8, r"2-D \(H, W\) array, got shape \(3, 4, 3\)"),
        (np.zeros((0, 4)), 8, r"non-empty"),
        (np.zeros((4, 4)), 0, r"size must be >= 1, got 0"),
    ],
)
def test_fit_square_bad_input(pixels, size, pattern):
    with pytest.raises(ValueError, match=pattern):
        imaging.fit_square(pixels, size)
