"""Overlays of where a model looked (cxrpilot.maps), on a real radiograph."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from cxrpilot import imaging, maps
from cxrpilot.draft import FindingMap


@pytest.fixture(scope="module")
def radiograph() -> imaging.Radiograph:
    return imaging.load(get_testdata_file("RG1_UNCR.dcm"))


def test_resample_grid_keeps_the_corner_values_and_the_layout() -> None:
    grid = np.array([[0.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    out = maps.resample_grid(grid, 20, 40)
    assert out.shape == (20, 40) and out.dtype == np.float32
    assert out[0, -1] == pytest.approx(1.0) and out[-1, 0] == pytest.approx(0.0)
    assert out[:, 20:].mean() > out[:, :20].mean()  # the hot cell stays on the right


def test_overlay_marks_the_hot_half_of_a_real_radiograph(radiograph) -> None:
    hot_right = FindingMap("Pleural Effusion", ((0.0, 1.0), (0.0, 1.0)))
    image = np.asarray(maps.overlay(radiograph, hot_right), dtype=np.float32)
    h, w = radiograph.pixels.shape
    assert max(image.shape[:2]) <= maps.OVERLAY_SIDE
    assert image.shape[0] / image.shape[1] == pytest.approx(h / w, rel=0.01)
    red_minus_blue = image[20:, :, 0] - image[20:, :, 2]  # below the label box
    third = image.shape[1] // 3
    assert red_minus_blue[:, -third:].mean() > red_minus_blue[:, :third].mean() + 30


def test_write_overlays_writes_one_png_per_map(radiograph, tmp_path) -> None:
    from types import SimpleNamespace

    draft = SimpleNamespace(source="/x/RG1_UNCR.dcm", maps=(
        FindingMap("Pleural Effusion", ((1.0,),)), FindingMap("Lung Opacity", ((0.5,),))))
    written = maps.write_overlays(draft, radiograph, tmp_path / "out")
    assert [p.name for p in written] == ["RG1_UNCR-pleural-effusion.png", "RG1_UNCR-lung-opacity.png"]
    assert all(p.stat().st_size > 1000 for p in written)
