"""The viewer's pixels (lossless 16-bit PNG, full and low resolution, in the image's own
units), window presets, pixel spacing and the de-identified header panel."""

from __future__ import annotations

import io

import numpy as np
import pytest

from .helpers import png_bytes


def _png(client, url):
    from PIL import Image

    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    with Image.open(io.BytesIO(r.content)) as im:
        assert im.mode == "I;16"
        return np.asarray(im), r


def _pixels(client, case_id):
    info = client.ok("get", f"/api/cases/{case_id}/viewer")
    px, _ = _png(client, info["png_urls"]["full"])
    assert px.shape == (info["height"], info["width"])
    return info, px


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_png_case_gives_its_grey_values(world):
    from PIL import Image

    data = png_bytes(600)
    case_id = world.upload(data)["case"]["id"]
    info, px = _pixels(world.admin, case_id)
    assert info["source"] == "display" and info["units"] == "grey values, 8 bits"
    assert (info["offset"], info["scale"], info["monochrome1"]) == (0.0, 1.0, False)
    original = np.asarray(Image.open(io.BytesIO(data)))
    assert np.array_equal(px, original)  # the 8-bit values themselves
    names = [p["name"] for p in info["presets"]]
    assert names == ["Full range", "Lung", "Mediastinum", "Bone"]  # as stored, first
    assert info["presets"][0] == {"name": "Full range", "center": 127.5, "width": 255.0}
    assert info["spacing"] is None and "lengths in pixels" in info["spacing_note"]
    header = world.admin.ok("get", info["header_url"])
    assert header == {"available": False, "note": "not a DICOM image: no header", "elements": []}


@pytest.mark.data
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dicom_case_gives_its_own_units_losslessly(world, rg1_uncr):
    import pydicom

    case_id = world.upload(rg1_uncr.read_bytes(), name="a.dcm")["case"]["id"]
    info, px = _pixels(world.admin, case_id)
    if info["source"] != "dicom":
        pytest.skip("the loader's header was not kept for this DICOM")
    stored = pydicom.dcmread(rg1_uncr).pixel_array
    # value = offset + t * scale, exactly the stored 15-bit values (no rescale in this file)
    assert info["scale"] == 1.0 and info["offset"] == float(stored.min())
    assert np.array_equal(px.astype(np.int64) + int(info["offset"]), stored.astype(np.int64))
    assert info["monochrome1"] is True and info["bits_stored"] == 15
    assert info["units"] == "stored values, 15 bits"
    presets = {p["name"]: p for p in info["presets"]}
    # the header's own window, in its own units, untouched
    assert presets["Header window 1"] == {"name": "Header window 1", "center": 15000.0, "width": 30000.0}
    assert presets["Full range"] == {"name": "Full range", "center": 16383.5, "width": 32767.0}
    lo, hi = float(stored.min()), float(stored.max())
    for name in ("Lung", "Mediastinum", "Bone"):
        c, w = presets[name]["center"], presets[name]["width"]
        assert lo <= c - w / 2 < c + w / 2 <= hi, (name, c, w)
    # MONOCHROME1: brighter in display = lower values; lung (darker in display) sits higher
    assert presets["Lung"]["center"] > presets["Mediastinum"]["center"] > presets["Bone"]["center"]
    # RG1_UNCR's Pixel Spacing is 0\0: no measurement in mm, and the viewer says why
    assert info["spacing"] is None
    assert info["spacing_note"].startswith("PixelSpacing (0028,0030) is 0\\0")

    low, r = _png(world.admin, info["png_urls"]["low"])
    assert low.shape == (info["low_height"], info["low_width"]) and max(low.shape) <= 400
    k = info["height"] // info["low_height"]
    block = px[:k, :k].astype(np.float64).mean()
    assert abs(float(low[0, 0]) - block) <= 0.5
    # cacheable, revalidated by ETag
    again = world.admin.get(info["png_urls"]["low"], headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and "private" in r.headers["cache-control"]
    full_png = world.admin.get(info["png_urls"]["full"]).content
    raw = world.admin.get(info["pixels_url"])
    assert len(full_png) < 0.8 * len(raw.content) == 0.8 * px.size * 2

    header = world.admin.ok("get", info["header_url"])
    assert header["available"] is True
    by_keyword = {e["keyword"]: e for e in header["elements"]}
    assert by_keyword["Modality"]["value"] == "CR" and by_keyword["BitsStored"]["value"] == "15"
    assert "PixelData" not in by_keyword
    assert by_keyword["PatientIdentityRemoved"]["value"] == "YES"
    for phi in ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName"):
        assert phi not in by_keyword or by_keyword[phi]["value"] in ("", "ANONYMOUS"), phi


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_spacing_from_imager_pixel_spacing_is_labelled(world, rg1_uncr):
    import pydicom

    ds = pydicom.dcmread(rg1_uncr)
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = [0.175, 0.175]
    buf = io.BytesIO()
    ds.save_as(buf)
    case_id = world.upload(buf.getvalue(), name="b.dcm")["case"]["id"]
    info = world.admin.ok("get", f"/api/cases/{case_id}/viewer")
    if info["source"] != "dicom":
        pytest.skip("the loader's header was not kept for this DICOM")
    assert info["spacing"] == {"row_mm": 0.175, "col_mm": 0.175, "source": "ImagerPixelSpacing"}
    assert "at the detector" in info["spacing_note"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_resolution_is_a_clear_422(world):
    case_id = world.upload(png_bytes(602))["case"]["id"]
    r = world.admin.get(f"/api/cases/{case_id}/pixels.png?resolution=huge")
    assert r.status_code == 422 and "expected one of full, low" in r.json()["detail"]


def test_viewer_follows_case_access(world):
    case_id = world.upload(png_bytes(601))["case"]["id"]
    _, reader = world.user("radiologist")
    for tail in ("viewer", "pixels", "pixels.png", "pixels.png?resolution=low", "header"):
        assert reader.get(f"/api/cases/{case_id}/{tail}").status_code == 403, tail


def _preview(info) -> np.ndarray:
    import base64

    from PIL import Image

    p = info["preview"]
    with Image.open(io.BytesIO(base64.b64decode(p["png"]))) as im:
        assert im.mode == "I;16" and im.size == (p["width"], p["height"])
        return np.asarray(im)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_preview_inline_is_the_low_resolution_png(world):
    case_id = world.upload(png_bytes(603))["case"]["id"]
    plain = world.admin.ok("get", f"/api/cases/{case_id}/viewer")
    assert "preview" not in plain
    info = world.admin.ok("get", f"/api/cases/{case_id}/viewer?preview=true")
    low, _ = _png(world.admin, info["png_urls"]["low"])
    assert np.array_equal(_preview(info), low)
    assert (info["preview"]["width"], info["preview"]["height"]) == (info["low_width"], info["low_height"])
    assert {k: v for k, v in info.items() if k != "preview"} == plain


def test_read_viewer_is_the_readers_own_with_its_preview(world):
    case_id = world.upload(png_bytes(604))["case"]["id"]
    reader_id, reader = world.user("radiologist")
    _, other = world.user("radiologist")
    read_id = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": reader_id, "arm": "scp"}
    )["id"]
    r = reader.get(f"/api/reads/{read_id}/viewer")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json", r.text
    info = r.json()
    case_info = reader.ok("get", f"/api/cases/{case_id}/viewer?preview=true")
    assert info == {"case_id": case_id, **case_info}
    low, _ = _png(reader, info["png_urls"]["low"])
    assert np.array_equal(_preview(info), low)
    # kept by the browser but checked each time: a read taken away is refused at once
    assert r.headers["cache-control"] == "private, no-cache"
    again = reader.get(f"/api/reads/{read_id}/viewer", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content
    # another reader, staff (not their read) and a read that does not exist are refused
    assert other.get(f"/api/reads/{read_id}/viewer").status_code == 403
    assert other.get(
        f"/api/reads/{read_id}/viewer", headers={"If-None-Match": r.headers["etag"]}
    ).status_code == 403
    assert world.admin.get(f"/api/reads/{read_id}/viewer").status_code == 403
    assert reader.get(f"/api/reads/{read_id + 99}/viewer").status_code == 404


def test_display_png_is_lossless_16_bit_and_its_bytes_stable():
    """The display PNG round-trips 16-bit values exactly, reads an 8-bit PNG as /255, and
    is written at Pillow's default zlib level (an image stored again keeps its sha256)."""
    from PIL import Image

    from cxrpilot.workstation.display import decode_png16, encode_png16

    values = np.arange(0, 65536, 7, dtype=np.uint16)[:9000].reshape(90, 100)
    data = encode_png16(values / 65535.0)
    assert np.array_equal(np.round(decode_png16(data) * 65535).astype(np.uint16), values)
    buf = io.BytesIO()
    Image.fromarray(values).save(buf, format="PNG")
    assert data == buf.getvalue()
    eight = io.BytesIO()
    Image.fromarray(np.array([[0, 51, 255]], dtype=np.uint8)).save(eight, format="PNG")
    assert np.allclose(decode_png16(eight.getvalue()), [[0.0, 0.2, 1.0]])
