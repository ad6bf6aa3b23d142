"""Class activation maps in image coordinates, and the pointing-game hit rate."""

from __future__ import annotations

import numpy as np
import pytest

from cxrpilot.models.expert._maps import hit_rate, image_grid, peak


def test_grid_follows_the_image_not_the_padding() -> None:
    # a 200x100 (H x W) image sits in the middle half of a 64 px square: columns 16..47
    cam = np.zeros((8, 8), np.float32)
    cam[2, 0] = 10.0  # left of the image: inside the padding
    cam[5, 4] = 5.0   # inside the image, lower right
    grid = image_grid(cam, (200, 100), 64, cells=16)
    assert grid.shape == (16, 8)  # the image's aspect ratio
    assert grid.min() == 0.0 and grid.max() == 1.0
    x, y = peak(grid, (200, 100))
    assert x > 50 and y > 100  # the peak inside the image, not the one in the padding


def test_flipped_cam_gives_flipped_grid() -> None:
    rng = np.random.default_rng(0)
    cam = rng.normal(size=(7, 7)).astype(np.float32)
    a = image_grid(cam, (300, 300), 224)
    b = image_grid(cam[:, ::-1].copy(), (300, 300), 224)
    np.testing.assert_allclose(a[:, ::-1], b, atol=1e-5)


@pytest.mark.parametrize(
    ("points", "boxes", "expected"),
    [
        ([(5, 5)], [[(0, 0, 10, 10)]], 1.0),
        ([(15, 5)], [[(0, 0, 10, 10)]], 0.0),
        ([(15, 5)], [[(0, 0, 10, 10), (12, 0, 5, 10)]], 1.0),  # any of the image's boxes
        ([], [], float("nan")),
    ],
)
def test_hit_rate(points, boxes, expected) -> None:
    got = hit_rate(points, boxes)
    assert (np.isnan(got) and np.isnan(expected)) or got == expected


def test_hit_rate_needs_one_box_list_per_point() -> None:
    with pytest.raises(ValueError, match="got 1 points for 2 box lists"):
        hit_rate([(0, 0)], [[], []])
