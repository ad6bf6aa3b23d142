"""Files that used to crash the process or escape as 500s: each is refused, before any
pixel is decoded, with an error naming the attribute, its value and what was expected."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc

import pydicom
import pytest
from pydicom.data import get_testdata_file

from cxrpilot import imaging
from cxrpilot.errors import InvalidImageError, UnsupportedImageError

from .fuzzing import _nested, big_png
from .helpers import edited_bytes

RG1 = get_testdata_file("RG1_UNCR.dcm")

# (changes to the SIIM JPEG-baseline chest film, error class, message regex)
SIIM_EDITS = [
    (
        {"BitsAllocated": 64},
        InvalidImageError,
        (r"\(0028,0100\) 'Bits Allocated' 64 with transfer syntax JPEG Baseline \(Process 1\); "
        r"expected 8"),
    ),
    ({"BitsAllocated": 32}, InvalidImageError, r"'Bits Allocated' 32 .*JPEG Baseline.*expected 8"),
    ({"BitsAllocated": 16}, InvalidImageError, r"'Bits Allocated' 16 .*expected 8"),
    ({"BitsStored": 12}, InvalidImageError, r"\(0028,0101\) 'Bits Stored' 12 .*; expected 8;"),
    ({"BitsStored": 0}, InvalidImageError, r"'Bits Stored' 0 .*; expected 8;"),
    # GDCM aborts the process on JPEG baseline with Bits Stored 1-7 (found by the fuzz run)
    ({"BitsStored": 1, "HighBit": 0}, InvalidImageError, r"'Bits Stored' 1 .*; expected 8;"),
    ({"BitsStored": 7, "HighBit": 6}, InvalidImageError, r"'Bits Stored' 7 .*; expected 8;"),
    ({"HighBit": 9}, InvalidImageError, r"\(0028,0102\) 'High Bit' 9 .*expected 7"),
    ({"SamplesPerPixel": 4}, InvalidImageError, r"'Samples Per Pixel' 4 .*expected 1 \(grey\)"),
    (
        {"SamplesPerPixel": 3, "PhotometricInterpretation": "RGB"},
        InvalidImageError,
        r"'Samples Per Pixel' 3 .*expected 1 \(the components of the JPEG Baseline",
    ),
    ({"PixelRepresentation": 2}, InvalidImageError, r"'Pixel Representation' 2 .*0 \(unsigned\)"),
    (
        {"PhotometricInterpretation": "RGB"},
        InvalidImageError,
        (r"\(0028,0004\) 'Photometric Interpretation' 'RGB' .*expected MONOCHROME1, MONOCHROME2 "
        r"or PALETTE COLOR for Samples per Pixel 1"),
    ),
    ({"Rows": 512}, InvalidImageError, r"Rows x Columns 512x1024 but its JPEG Baseline .* 1024x1024"),
    ({"BitsAllocated": None}, InvalidImageError, r"has no \(0028,0100\) 'Bits Allocated'"),
]


@pytest.mark.data
@pytest.mark.parametrize("changes, error, message", SIIM_EDITS, ids=lambda v: str(v)[:40])
def test_pixel_module_is_checked_against_the_transfer_syntax(siim, changes, error, message):
    data = edited_bytes(siim, **changes)
    with pytest.raises(error, match=message):
        imaging.load(data, check=False)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"BitsAllocated": 24}, (r"'Bits Allocated' 24 with transfer syntax Explicit VR Little "
                                r"Endian; expected 8 or 16 or 32")),
        ({"BitsStored": 17}, r"'Bits Stored' 17 .*expected 1 to 16"),
        ({"SamplesPerPixel": 2}, r"'Samples Per Pixel' 2 .*expected 1 \(grey\) or 3"),
    ],
)
def test_pixel_module_of_native_pixel_data(changes, message):
    with pytest.raises(InvalidImageError, match=message):
        imaging.load(edited_bytes(RG1, **changes), check=False)


def _with_syntax(uid: str) -> bytes:
    """RG1 (native pixel data) whose file meta claims another transfer syntax."""
    from .fuzzing import _syntax_swap

    class Pick:
        def integers(self, *_):
            from .fuzzing import SYNTAXES

            return list(SYNTAXES).index(uid)

    return _syntax_swap(open(RG1, "rb").read(), Pick())


def _unknown_vr() -> bytes:
    data = bytearray(open(RG1, "rb").read())
    pos = data.find(b"\x28\x00\x10\x00US")  # Rows
    data[pos + 4 : pos + 6] = b"\x00\x01"  # not a VR
    return bytes(data)


def _bad_length() -> bytes:
    data = bytearray(open(RG1, "rb").read())
    pos = data.find(b"\x28\x00\x10\x00US")
    data[pos + 6 : pos + 8] = struct.pack("<H", 0x7FFF)
    return bytes(data)


def _corrupt_deflate() -> bytes:
    ds = pydicom.dcmread(RG1)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = bytearray(buffer.getvalue())
    start = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    for pos in range(start + 10, start + 400, 37):
        data[pos] ^= 0xFF
    return bytes(data)


def _deep() -> bytes:
    import numpy as np

    rng = np.random.default_rng(0)
    while True:  # depth drawn from (20, 100, 300, 600): take one of 300 or more
        data = _nested(open(RG1, "rb").read(), rng)
        if data.count(b"\xfe\xff\x00\xe0") >= 300:
            return data


PARSER_CASES = [
    # pydicom reads on as implicit VR after a non-VR and loses its place: Pixel Data is gone
    ("unknown VR", _unknown_vr, InvalidImageError, r"^no pixel data: <bytes> is a Computed"),
    ("bad length", _bad_length, InvalidImageError, r"^(truncated or )?corrupt DICOM: <bytes>.*"),
    ("corrupt deflate", _corrupt_deflate, InvalidImageError, r"DICOM.*<bytes>"),
    (
        "nested 300 deep",
        _deep,
        InvalidImageError,
        (r"nests sequences more than 12 deep|corrupt DICOM: <bytes>: the header cannot be parsed "
        r"\(RecursionError"),
    ),
    (
        "MPEG2 syntax",
        lambda: _with_syntax("1.2.840.10008.1.2.4.100"),
        UnsupportedImageError,
        r"\(0002,0010\) Transfer Syntax UID '1.2.840.10008.1.2.4.100' .*expected native, JPEG",
    ),
    (
        "JPEG baseline declared, native data",
        lambda: _with_syntax(pydicom.uid.JPEGBaseline8Bit),
        InvalidImageError,
        r"'Bits Allocated' 16 with transfer syntax JPEG Baseline",
    ),
]


@pytest.mark.parametrize("label, build, error, message", PARSER_CASES, ids=[c[0] for c in PARSER_CASES])
def test_parser_errors_are_invalid_image_errors(label, build, error, message):
    with pytest.raises(error, match=message):
        imaging.load(build(), check=False)


def test_9999_square_png_is_refused_before_decoding():
    data = big_png(9999, 9999)
    assert len(data) < 200_000  # ~133 KB on disk, 100 MP (1.9 GB as float64 grey) decoded
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(
        UnsupportedImageError,
        match=r"^image too large \(possible decompression bomb\): <bytes> declares 9999x9999 = "
        r"100 MP, above the limit of 40 MP",
    ):
        imaging.load(data)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 5_000_000, (elapsed, peak)


def test_the_cap_is_sized_for_chest_radiographs():
    assert 2 * 4020 * 4892 <= imaging.DEFAULT_MAX_PIXELS < 9999 * 9999


def test_pydicom_messages_lose_their_values():
    from cxrpilot.imaging._dicom import redact

    text = "Invalid value for VR DA: 'DOE^JOHN' and b'\\x00SMITH' or \"JANE\""
    assert "DOE" not in redact(text) and "SMITH" not in redact(text) and "JANE" not in redact(text)
