"""``load``: DICOM, PNG or JPEG in, a checked :class:`Radiograph` out."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from cxrpilot.errors import InvalidImageError, UnsupportedImageError, read_input_file
from cxrpilot.imaging._checks import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SIDE,
    check_declared_size,
    check_dicom_header,
    check_pixels,
)
from cxrpilot.imaging._radiograph import Radiograph

__all__ = ["load", "sniff_format"]

log = logging.getLogger("cxrpilot.imaging")

_OTHER_FORMATS = (
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"GIF8", "GIF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
)


def sniff_format(data: bytes) -> str | None:
    """``"dicom"``, ``"png"``, ``"jpeg"`` from the content (never the file name), or None."""
    from cxrpilot.imaging._dicom import looks_like_dicom
    from cxrpilot.imaging._raster import JPEG_MAGIC, PNG_MAGIC

    if data.startswith(PNG_MAGIC):
        return "png"
    if data.startswith(JPEG_MAGIC):
        return "jpeg"
    if looks_like_dicom(data):
        return "dicom"
    return None


def _read_source(source: str | os.PathLike[str] | bytes) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "<bytes>"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"load() takes a path or bytes, got {type(source).__name__}")
    path = Path(source)
    name = str(path)
    data = read_input_file(
        path, error=InvalidImageError, expected="a chest radiograph (DICOM, PNG or JPEG)"
    )
    return data, name


def _unknown_format(data: bytes, name: str) -> InvalidImageError | UnsupportedImageError:
    for magic, kind in _OTHER_FORMATS:
        if data.startswith(magic):
            return UnsupportedImageError(
                f"{kind} file, not DICOM, PNG or JPEG: {name}; convert it to PNG or DICOM"
            )
    head = data[:512]
    try:
        head.decode("utf-8")
        is_text = b"\x00" not in head
    except UnicodeDecodeError:
        is_text = False
    what = "a text file" if is_text else "not an image"
    return InvalidImageError(
        f"{what}: {name} is not a DICOM, PNG or JPEG file (no DICM marker, PNG or JPEG "
        "signature at its start); expected a chest radiograph"
    )


def load(
    source: str | os.PathLike[str] | bytes,
    *,
    check: bool = True,
    deidentify: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
) -> Radiograph:
    """Read a chest radiograph from a DICOM, PNG or JPEG file (or its bytes).

    The format is recognised from the content: DICOM by the ``DICM`` marker at byte 128
    (or a preamble-less data set that pydicom parses), PNG and JPEG by their signatures;
    the file name is ignored. DICOM pixel data may be uncompressed, JPEG (baseline,
    extended, lossless), JPEG-LS, JPEG 2000 or RLE (decoded by pylibjpeg or GDCM).

    Grey levels end up as float32 in [0, 1] with 0 = black (air), see
    :class:`Radiograph`. DICOM: modality LUT (rescale), then VOI LUT or the first window,
    both in float, divided by the VOI output range (or min-max stretched when the header
    has no VOI), then MONOCHROME1 inverted. PNG/JPEG: divided by 255 (65535 for 16-bit
    PNG), colour to grey with BT.601 luma, alpha composited onto black.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A file path, or the file's bytes (``Radiograph.source`` is then ``"<bytes>"``).
    check : bool, default True
        Refuse what is not a frontal chest radiograph the models can read: DICOM
        modality other than CR/DX, a 'FOR PROCESSING' image, a veterinary study, Body
        Part Examined stated and not chest, lateral or oblique view (from the header;
        without a view in the header, from the image with a small frontal-vs-lateral
        classifier), fewer than ``min_side`` pixels on a side, a blank image. Unreadable
        files, bombs and multi-frame DICOM are refused whatever ``check`` says.
    deidentify : bool, default True
        Keep only a de-identified copy of the DICOM header (see
        :func:`deidentify_header`); ``False`` keeps the full header (without pixel data).
    max_pixels : int, default 40_000_000
        Largest declared rows x columns (x frames) decoded; checked from the header
        before any pixel is decoded (twice the largest chest detector, see
        :data:`DEFAULT_MAX_PIXELS`). Pillow's own ``Image.MAX_IMAGE_PIXELS`` limit (about
        179 MP for an error) also applies to PNG and JPEG.
    min_side : int, default 128
        Smallest side in pixels accepted when ``check`` is True.

    Returns
    -------
    Radiograph

    Raises
    ------
    InvalidImageError
        Missing, empty, truncated or corrupt file; not an image.
    UnsupportedImageError
        A readable file that is not a frontal chest radiograph, is too small or too
        large, is multi-frame, or is in another image format (TIFF, BMP ...).

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> xr = load(get_testdata_file("RG1_UNCR.dcm"))
    >>> xr.format, xr.modality, xr.view_position, xr.photometric, xr.bits_stored
    ('dicom', 'CR', 'PA', 'MONOCHROME1', 15)
    >>> xr.pixels.dtype, xr.shape
    (dtype('float32'), (1955, 1841))
    >>> "PatientName" in xr.header
    False
    """
    data, name = _read_source(source)
    if not data:
        raise InvalidImageError(
            f"empty file: {name} has 0 bytes; expected a DICOM, PNG or JPEG image"
        )
    fmt = sniff_format(data)
    digest = hashlib.sha256(data).hexdigest()
    if fmt is None:
        raise _unknown_format(data, name)
    log.debug("loading %s image sha256:%s (%d bytes)", fmt, digest[:12], len(data))
    if fmt == "dicom":
        from cxrpilot.imaging._dicom import parser_errors, quiet_pydicom

        with quiet_pydicom(), parser_errors(name):
            return _load_dicom(
                data,
                name,
                digest,
                check=check,
                deidentify=deidentify,
                max_pixels=max_pixels,
                min_side=min_side,
            )
    return _load_raster(
        data, fmt, name, digest, check=check, max_pixels=max_pixels, min_side=min_side
    )


def _load_raster(
    data: bytes, fmt: str, name: str, digest: str, *, check: bool, max_pixels: int, min_side: int
) -> Radiograph:
    from cxrpilot.imaging._raster import declared_size, decode_raster, is_truncated

    size = declared_size(data, fmt)
    if size is None:
        kind = "truncated" if is_truncated(data, fmt) else "corrupt"
        raise InvalidImageError(
            f"{kind} {fmt.upper()}: {name} has no readable image header "
            f"({len(data)} bytes); copy or export the file again"
        )
    check_declared_size(*size, 1, max_pixels=max_pixels, source=name)
    image = decode_raster(data, fmt, name)
    if check:
        check_pixels(image.pixels, min_side=min_side, source=name)
        _check_view_from_image(image.pixels, name)
    return Radiograph(
        pixels=image.pixels,
        source=name,
        format=fmt,
        sha256=digest,
        photometric=image.mode,
        bits_stored=image.bits_stored,
    )


def _check_view_from_image(pixels, name: str) -> None:
    from cxrpilot.imaging._view import check_frontal

    check_frontal(pixels, source=name)


def _load_dicom(
    data: bytes,
    name: str,
    digest: str,
    *,
    check: bool,
    deidentify: bool,
    max_pixels: int,
    min_side: int,
) -> Radiograph:
    from cxrpilot.imaging._deid import deidentify_header, strip_pixel_data
    from cxrpilot.imaging._dicom import (
        check_pixel_module,
        decode_pixels,
        read_dataset,
        read_facts,
    )

    ds = read_dataset(data, name)
    facts = read_facts(ds)
    if facts.rows <= 0 or facts.columns <= 0:
        raise InvalidImageError(
            f"corrupt DICOM: {name} has Rows {facts.rows} and Columns {facts.columns}; "
            "expected a positive image size"
        )
    check_declared_size(facts.columns, facts.rows, facts.frames, max_pixels=max_pixels, source=name)
    if facts.frames > 1:
        raise UnsupportedImageError(
            f"multi-frame DICOM: {name} has {facts.frames} frames; cxrpilot reads single-frame "
            "radiographs (export the frame you want as its own image)"
        )
    if check:
        check_dicom_header(ds, facts, source=name)
    check_pixel_module(ds, facts, source=name)  # before any codec sees the pixel data
    pixels = decode_pixels(ds, facts, name)
    if check:
        check_pixels(pixels, min_side=min_side, source=name)
        if facts.view_position is None:
            _check_view_from_image(pixels, name)
    header = deidentify_header(ds) if deidentify else strip_pixel_data(ds)
    log.debug(
        "decoded DICOM sha256:%s %dx%d %s (%s)",
        digest[:12],
        facts.columns,
        facts.rows,
        facts.photometric,
        facts.transfer_syntax,
    )
    return Radiograph(
        pixels=pixels,
        source=name,
        format="dicom",
        sha256=digest,
        modality=facts.modality,
        view_position=facts.view_position,
        body_part=facts.body_part,
        photometric=facts.photometric,
        bits_stored=facts.bits_stored,
        pixel_spacing_mm=facts.pixel_spacing_mm,
        patient_age_years=facts.patient_age_years,
        patient_sex=facts.patient_sex,
        header=header,
    )
