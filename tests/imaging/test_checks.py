"""Bad inputs: each gets the right error class and a one-line message naming what it is."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from cxrpilot import imaging
from cxrpilot.errors import CxrpilotError, InvalidImageError, UnsupportedImageError

from .helpers import save_edited


class Inputs:
    """Builds each bad input from real files, in a temporary folder."""

    def __init__(self, tmp: Path, siim: Path, frontal_grey: np.ndarray, lateral_jpg: Path):
        self.tmp, self.siim, self.grey, self.lateral_jpg = tmp, siim, frontal_grey, lateral_jpg

    def write(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path

    def png(self, array: np.ndarray | None = None) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(self.grey if array is None else array).save(buffer, format="PNG")
        return buffer.getvalue()

    def jpeg(self) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(self.grey).save(buffer, format="JPEG", quality=90)
        return buffer.getvalue()

    def edited(self, **changes: object) -> Path:
        return save_edited(self.siim, self.tmp / "edited.dcm", **changes)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_bomb(i: Inputs) -> Path:
    ihdr = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )
    return i.write("bomb.png", data)


def _jpeg_bomb(i: Inputs) -> Path:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 60_000, 60_000, 1) + b"\x01\x11\x00"
    return i.write(
        "bomb.jpg", b"\xff\xd8" + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\xff\xd9"
    )


def _lateral_dicom_without_view(i: Inputs) -> Path:
    """The SIIM header (view tags removed) around the pixels of a real lateral radiograph."""
    ds = pydicom.dcmread(i.siim)
    ds.decompress()
    lateral = np.asarray(Image.open(i.lateral_jpg).convert("L"))
    ds.Rows, ds.Columns = lateral.shape
    ds.PixelData = lateral.tobytes()
    del ds.ViewPosition, ds.SeriesDescription
    path = i.tmp / "lateral.dcm"
    ds.save_as(path)
    return path


def _view_code(i: Inputs) -> Path:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "R-10232", "SRT", "lateral"
    return i.edited(ViewPosition=None, SeriesDescription=None, ViewCodeSequence=Sequence([code]))


def _tiff(i: Inputs) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(i.grey).save(buffer, format="TIFF")
    return i.write("chest.tif", buffer.getvalue())


# (id, builder, error class, message regex)
BAD_INPUTS: list[tuple[str, Callable[[Inputs], object], type[CxrpilotError], str]] = [
    (
        "missing-path",
        lambda i: i.tmp / "nope" / "chest.png",
        InvalidImageError,
        r"nope/chest\.png: no such file; expected a chest radiograph",
    ),
    ("folder", lambda i: i.tmp, InvalidImageError, r"is a folder; expected a chest radiograph"),
    (
        "empty-file",
        lambda i: i.write("empty.dcm", b""),
        InvalidImageError,
        r"^empty file: .*empty\.dcm",
    ),
    ("empty-bytes", lambda i: b"", InvalidImageError, r"^empty file: <bytes>"),
    (
        "random-bytes",
        lambda i: i.write("noise.png", np.random.default_rng(0).bytes(4096)),
        InvalidImageError,
        r"^not an image: .*noise\.png is not a DICOM, PNG or JPEG file",
    ),
    (
        "text-file",
        lambda i: i.write("report.dcm", b"FINDINGS: clear lungs.\nIMPRESSION: normal.\n"),
        InvalidImageError,
        r"^a text file: .*report\.dcm",
    ),
    ("tiff", _tiff, UnsupportedImageError, r"^TIFF file, not DICOM, PNG or JPEG"),
    (
        "truncated-png",
        lambda i: i.write("cut.png", i.png()[: len(i.png()) // 2]),
        InvalidImageError,
        r"^truncated PNG: .*cut\.png",
    ),
    (
        "truncated-png-header",
        lambda i: i.write("cut.png", i.png()[:20]),
        InvalidImageError,
        r"^truncated PNG: .*cut\.png",
    ),
    (
        "truncated-jpeg",
        lambda i: i.write("cut.jpg", i.jpeg()[: len(i.jpeg()) * 2 // 3]),
        InvalidImageError,
        r"^truncated JPEG: .*cut\.jpg",
    ),
    (
        "truncated-dicom-jpeg",
        lambda i: i.write("cut.dcm", i.siim.read_bytes()[:60_000]),
        InvalidImageError,
        r"^truncated DICOM: .*cut\.dcm",
    ),
    (
        "truncated-dicom-native",
        lambda i: i.write(
            "cut.dcm", Path(get_testdata_file("RG1_UNCR.dcm")).read_bytes()[:3_000_000]
        ),
        InvalidImageError,
        r"^truncated DICOM: .*the pixel data .* ends before the 1841x1955 image",
    ),
    (
        "ct-small",
        lambda i: Path(get_testdata_file("CT_small.dcm")),
        UnsupportedImageError,
        r"^CT slice, not a chest radiograph: .*CT_small\.dcm has Modality 'CT'",
    ),
    (
        "mr-small",
        lambda i: Path(get_testdata_file("MR_small.dcm")),
        UnsupportedImageError,
        r"^MR image, not a chest radiograph",
    ),
    (
        "ct-edited-chest",
        lambda i: i.edited(Modality="CT"),
        UnsupportedImageError,
        r"^CT slice, not a chest radiograph",
    ),
    (
        "jpeg-ls-mr",
        lambda i: Path(get_testdata_file("MR_small_jpeg_ls_lossless.dcm")),
        UnsupportedImageError,
        r"^MR image, not a chest radiograph",
    ),
    (
        "rle-mr",
        lambda i: Path(get_testdata_file("MR_small_RLE.dcm")),
        UnsupportedImageError,
        r"^MR image, not a chest radiograph",
    ),
    (
        "body-part-knee",
        lambda i: i.edited(BodyPartExamined="KNEE"),
        UnsupportedImageError,
        r"^body part 'KNEE', not a chest radiograph",
    ),
    (
        "species",
        lambda i: i.edited(PatientSpeciesDescription="Canis lupus familiaris"),
        UnsupportedImageError,
        r"^not a human chest radiograph: .*Patient Species Description",
    ),
    (
        "for-processing",
        lambda i: i.edited(PresentationIntentType="FOR PROCESSING"),
        UnsupportedImageError,
        r"^raw detector image, not for presentation",
    ),
    (
        "lateral-view-position",
        lambda i: i.edited(ViewPosition="LL"),
        UnsupportedImageError,
        r"^lateral view: the model reads frontal views \(.*View Position 'LL'\)",
    ),
    (
        "lateral-view-code",
        _view_code,
        UnsupportedImageError,
        r"^lateral view: the model reads frontal views \(.*View Code Sequence",
    ),
    (
        "lateral-series-description",
        lambda i: i.edited(ViewPosition="", SeriesDescription="CHEST LAT"),
        UnsupportedImageError,
        r"^lateral view: .*Series Description 'LATERAL'",
    ),
    (
        "oblique-view",
        lambda i: i.edited(ViewPosition="RAO"),
        UnsupportedImageError,
        r"^oblique view: the model reads frontal views",
    ),
    (
        "lateral-by-image-jpeg",
        lambda i: i.lateral_jpg,
        UnsupportedImageError,
        r"^lateral view: the model reads frontal views \(.* the view check rates it lateral, p=(0\.9\d|1\.00)\)",
    ),
    (
        "lateral-by-image-dicom",
        _lateral_dicom_without_view,
        UnsupportedImageError,
        r"^lateral view: .*the view check rates it lateral",
    ),
    (
        "too-small",
        lambda i: i.write("small.png", i.png(i.grey[::5, ::5])),
        UnsupportedImageError,
        r"^image too small to read: .*small\.png is 103x103 px; .*at least 128 px",
    ),
    (
        "blank",
        lambda i: i.write("blank.png", i.png(np.full((256, 256), 90, np.uint8))),
        UnsupportedImageError,
        r"^blank image",
    ),
    (
        "bomb-png",
        _png_bomb,
        UnsupportedImageError,
        r"^image too large \(possible decompression bomb\): .*bomb\.png declares 50000x50000 = 2500 MP",
    ),
    (
        "bomb-jpeg",
        _jpeg_bomb,
        UnsupportedImageError,
        r"^image too large \(possible decompression bomb\): .*60000x60000",
    ),
    (
        "bomb-dicom",
        lambda i: i.edited(Rows=20_000, Columns=20_000),
        UnsupportedImageError,
        r"^image too large \(possible decompression bomb\): .*20000x20000 = 400 MP",
    ),
    (
        "multi-frame",
        lambda i: Path(get_testdata_file("SC_rgb_rle_2frame.dcm")),
        UnsupportedImageError,
        r"^multi-frame DICOM: .* has 2 frames",
    ),
    (
        "no-pixel-data",
        lambda i: Path(get_testdata_file("reportsi.dcm")),
        InvalidImageError,
        r"^no pixel data: .* is a Basic Text SR Storage",
    ),
]


@pytest.fixture
def inputs(tmp_path, siim, frontal_grey, lateral_jpg) -> Inputs:
    return Inputs(tmp_path, siim, frontal_grey, lateral_jpg)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("build", "error", "pattern"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input(inputs, build, error, pattern):
    source = build(inputs)
    with pytest.raises(error, match=pattern) as info:
        imaging.load(source)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    assert info.value.__cause__ is None or isinstance(info.value.__cause__, CxrpilotError)


@pytest.mark.parametrize(
    ("case", "loads"),
    [
        ("lateral-view-position", True),
        ("body-part-knee", True),
        ("too-small", True),
        ("lateral-by-image-jpeg", True),
        ("truncated-png", False),
        ("bomb-png", False),
        ("multi-frame", False),
    ],
)
def test_check_false_skips_only_the_clinical_checks(inputs, case, loads):
    source = {c[0]: c[1] for c in BAD_INPUTS}[case](inputs)
    if loads:
        assert imaging.load(source, check=False).pixels.size > 0
    else:
        with pytest.raises(CxrpilotError):
            imaging.load(source, check=False)


def test_limits_are_configurable(siim, inputs):
    with pytest.raises(UnsupportedImageError, match=r"above the limit of 1 MP"):
        imaging.load(siim, max_pixels=1_000_000)
    small = inputs.write("small.png", inputs.png(inputs.grey[::5, ::5]))
    assert imaging.load(small, min_side=100).shape == (103, 103)


def test_errors_do_not_echo_file_content(inputs):
    path = inputs.write("note.png", b"Patient: Jane Roe, MRN 1234567\n")
    with pytest.raises(InvalidImageError) as info:
        imaging.load(path)
    assert "Roe" not in str(info.value) and "1234567" not in str(info.value)


def test_dog_refusal_names_no_patient(dog):
    with pytest.raises(UnsupportedImageError) as info:
        imaging.load(dog)
    assert "AVeryGood" not in str(info.value) and "123456" not in str(info.value)


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({"InstitutionName": "Dog River General Hospital"}, False),
        ({"InstitutionName": "County Veterinary Clinic"}, True),
        ({"SeriesDescription": "FELINE THORAX VD"}, True),
        ({"PatientSpeciesDescription": "Homo sapiens"}, False),
        ({"BodyPartExamined": "THORAX"}, False),
        ({"BodyPartExamined": "PORT CHEST"}, False),
        ({"BodyPartExamined": "ABDOMEN"}, True),
    ],
)
def test_header_wording(inputs, changes, refused):
    path = inputs.edited(**changes)
    if refused:
        with pytest.raises(UnsupportedImageError, match=r"not a (human )?chest radiograph"):
            imaging.load(path)
    else:
        assert imaging.load(path).modality == "CR"
