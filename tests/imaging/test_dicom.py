"""DICOM loading on real files: photometric sense, LUTs, codecs, metadata."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import JPEGLSLossless, RLELossless

from cxrpilot import imaging
from cxrpilot.errors import UnsupportedImageError

from .helpers import lungs_and_mediastinum, save_edited

RG1 = ("RG1_UNCR.dcm", "RG1_UNCI.dcm", "RG1_J2KR.dcm", "RG1_J2KI.dcm")


def test_every_shared_dicom_loads(shared_data: Path):
    files = sorted((shared_data / "dicom").glob("*.dcm"))
    assert len(files) >= 3
    for path in files:
        xr = imaging.load(path, check=False)
        assert xr.format == "dicom" and xr.pixels.dtype == np.float32
        assert 0.0 <= float(xr.pixels.min()) < float(xr.pixels.max()) <= 1.0, path.name


@pytest.mark.parametrize("name", ["siim", "fake_mono1"])
def test_shared_chest_metadata(name, request):
    xr = imaging.load(request.getfixturevalue(name))
    assert (xr.modality, xr.view_position, xr.body_part) == ("CR", "PA", "CHEST")
    assert xr.photometric == ("MONOCHROME2" if name == "siim" else "MONOCHROME1")
    assert (xr.shape, xr.bits_stored, xr.pixel_spacing_mm) == ((1024, 1024), 8, (0.168, 0.168))
    assert (xr.patient_age_years, xr.patient_sex) == (62.0, "M")
    assert len(xr.sha256) == 64


def test_siim_lungs_darker_than_mediastinum(siim):
    lungs, mediastinum = lungs_and_mediastinum(imaging.load(siim).pixels)
    assert lungs < mediastinum - 0.1


def test_fake_monochrome1_is_the_negative_of_siim(siim, fake_mono1):
    positive = imaging.load(siim).pixels
    negative = imaging.load(fake_mono1).pixels
    np.testing.assert_allclose(negative, 1.0 - positive, atol=1e-6)
    lungs, mediastinum = lungs_and_mediastinum(negative)
    assert lungs > mediastinum  # the header says MONOCHROME1, so it renders as a negative


@pytest.mark.parametrize("name", RG1)
def test_rg1_chest_radiographs(name):
    xr = imaging.load(get_testdata_file(name))
    assert (xr.modality, xr.view_position, xr.body_part, xr.photometric) == (
        "CR",
        "PA",
        "CHEST",
        "MONOCHROME1",
    )
    assert (xr.shape, xr.bits_stored, xr.patient_sex) == ((1955, 1841), 15, "F")
    assert xr.pixel_spacing_mm is None  # the header's Pixel Spacing is 0\0: not a spacing
    lungs, mediastinum = lungs_and_mediastinum(xr.pixels)
    assert lungs < mediastinum - 0.1


def test_rg1_window_is_applied_in_float():
    xr = imaging.load(get_testdata_file("RG1_UNCR.dcm"))
    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    # Window 15000/30000 over 15 bits, then MONOCHROME1 inverted: p = 1 - (x - c + 0.5)/(w - 1) - 0.5
    stored = ds.pixel_array.astype(np.float64)
    expected = 1.0 - np.clip((stored - 14999.5) / 29999.0 + 0.5, 0, 1)
    np.testing.assert_allclose(xr.pixels, expected, atol=1e-5)
    assert len(np.unique(xr.pixels[::4, ::4])) > 1000  # more grey levels than 8 bits hold


def test_rg1_lossless_jpeg2000_equals_uncompressed():
    uncompressed = imaging.load(get_testdata_file("RG1_UNCR.dcm")).pixels
    np.testing.assert_array_equal(
        imaging.load(get_testdata_file("RG1_J2KR.dcm")).pixels, uncompressed
    )
    lossy = imaging.load(get_testdata_file("RG1_J2KI.dcm")).pixels
    assert float(np.abs(lossy - uncompressed).mean()) < 0.01


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless], ids=["rle", "jpeg-ls"])
def test_chest_reencoded(siim, syntax):
    ds = pydicom.dcmread(siim)
    ds.compress(syntax, ds.pixel_array)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    xr = imaging.load(buffer.getvalue())
    assert xr.source == "<bytes>"
    np.testing.assert_array_equal(xr.pixels, imaging.load(siim).pixels)


@pytest.mark.parametrize(
    "name", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"]
)
def test_pydicom_encodings_decode(name):
    reference = imaging.load(get_testdata_file("MR_small.dcm"), check=False).pixels
    xr = imaging.load(get_testdata_file(name), check=False)
    np.testing.assert_array_equal(xr.pixels, reference)
    with pytest.raises(UnsupportedImageError, match=r"^MR image, not a chest radiograph"):
        imaging.load(get_testdata_file(name))


def test_dog_header_parses_and_is_refused(dog):
    with pytest.raises(UnsupportedImageError, match=r"^not a human chest radiograph: .*'CANINE'"):
        imaging.load(dog)
    xr = imaging.load(dog, check=False)
    assert (xr.modality, xr.body_part, xr.photometric, xr.bits_stored) == (
        "DX",
        "THORAX",
        "MONOCHROME1",
        8,
    )
    assert xr.view_position == "LATERAL"  # from 'CANINE LATERAL THORAX' (no View Position)
    assert xr.pixel_spacing_mm == pytest.approx((1.2, 1.2012))
    assert (xr.patient_age_years, xr.patient_sex, xr.shape) == (5.0, "F", (169, 211))


@pytest.mark.parametrize(
    ("name", "photometric"),
    [
        ("SC_rgb_jpeg_dcmtk.dcm", "YBR_FULL"),
        ("SC_rgb.dcm", "RGB"),
        ("OT-PAL-8-face.dcm", "PALETTE COLOR"),
    ],
)
def test_colour_dicom_becomes_grey(name, photometric):
    xr = imaging.load(get_testdata_file(name), check=False)
    assert xr.photometric == photometric and xr.pixels.ndim == 2
    assert 0.0 <= float(xr.pixels.min()) < float(xr.pixels.max()) <= 1.0


def test_format_comes_from_content_not_name(siim, tmp_path):
    renamed = tmp_path / "chest.png"
    renamed.write_bytes(siim.read_bytes())
    assert imaging.load(renamed).format == "dicom"


def test_preamble_less_dicom(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("RG1_UNCR.dcm"))
    raw = tmp_path / "raw.dcm"
    ds.preamble = None
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    pydicom.dcmwrite(raw, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert raw.read_bytes()[128:132] != b"DICM"
    xr = imaging.load(raw)
    np.testing.assert_array_equal(xr.pixels, imaging.load(get_testdata_file("RG1_UNCR.dcm")).pixels)


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
@pytest.mark.parametrize(
    ("changes", "view"),
    [
        ({"ViewPosition": None, "SeriesDescription": "view: AP"}, "AP"),
        ({"ViewPosition": "", "SeriesDescription": "CHEST PA AND LAT"}, None),
        ({"ViewPosition": None, "SeriesDescription": None}, None),
        ({"ViewPosition": "ap"}, "AP"),
    ],
)
def test_view_position_inferred_only_when_clear(siim, tmp_path, changes, view):
    xr = imaging.load(save_edited(siim, tmp_path / "x.dcm", **changes))
    assert xr.view_position == view


@pytest.mark.filterwarnings("ignore:Invalid value for VR")
@pytest.mark.parametrize(
    ("age", "years"),
    [("065Y", 65.0), ("006M", 0.5), ("010W", round(70 / 365.25, 3)), ("62", 62.0), ("abc", None)],
)
def test_patient_age(siim, tmp_path, age, years):
    assert (
        imaging.load(save_edited(siim, tmp_path / "x.dcm", PatientAge=age)).patient_age_years
        == years
    )
