"""Full-depth pixels and window presets for the viewer."""

from __future__ import annotations

import io

import numpy as np
import pytest

from .helpers import png_bytes


def _pixels(client, case_id):
    info = client.ok("get", f"/api/cases/{case_id}/viewer")
    r = client.get(info["pixels_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    w, h = int(r.headers["x-image-width"]), int(r.headers["x-image-height"])
    assert (w, h) == (info["width"], info["height"])
    return info, np.frombuffer(r.content, dtype="<u2").reshape(h, w)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_png_case_gives_its_display_pixels(world):
    from PIL import Image

    data = png_bytes(600)
    case_id = world.upload(data)["case"]["id"]
    info, px = _pixels(world.admin, case_id)
    assert info["source"] == "display"
    original = np.asarray(Image.open(io.BytesIO(data)), dtype=np.float64) * 257  # 8 -> 16 bit
    assert np.abs(px.astype(np.float64) - original).max() <= 1
    names = [p["name"] for p in info["presets"]]
    assert names[-1] == "Full range" and "Auto (1-99 %)" in names
    for p in info["presets"]:
        assert 0 <= p["center"] <= 65535 and p["width"] >= 1


@pytest.mark.data
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dicom_case_gives_full_depth_pixels_in_display_sense(world, rg1_uncr):
    case_id = world.upload(rg1_uncr.read_bytes(), name="a.dcm")["case"]["id"]
    info, px = _pixels(world.admin, case_id)
    if info["source"] != "dicom":
        pytest.skip("the loader's header was not kept for this DICOM")
    assert info["photometric"] == "MONOCHROME1" and px.dtype == np.uint16
    assert len(np.unique(px)) > 1024  # more than 8 bits of grey levels
    # Same orientation and sense as the display image the models saw (MONOCHROME1 inverted).
    r = world.admin.get(f"/api/cases/{case_id}/image")
    from PIL import Image

    display = np.asarray(Image.open(io.BytesIO(r.content)), dtype=np.float64)
    a, b = px[::16, ::16].astype(np.float64).ravel(), display[::16, ::16].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.8


def test_viewer_follows_case_access(world):
    case_id = world.upload(png_bytes(601))["case"]["id"]
    _, reader = world.user("radiologist")
    assert reader.get(f"/api/cases/{case_id}/viewer").status_code == 403
    assert reader.get(f"/api/cases/{case_id}/pixels").status_code == 403
