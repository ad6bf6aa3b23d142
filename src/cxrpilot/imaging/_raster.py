"""PNG and JPEG: declared size from the header, then decoding to grey [0, 1] with Pillow.

Grey levels are divided by the largest value of the stored bit depth (255, or 65535 for a
16-bit PNG, whose samples the PNG standard stores scaled to the full 16 bits), so no
contrast stretch is applied. Colour is turned to grey with the ITU-R BT.601 luma weights
(those of Pillow's ``convert("L")``, computed here in float). Alpha is composited onto
black (padding reads as air). Palette images go through their palette. A JPEG's EXIF
orientation is applied.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np

from cxrpilot.errors import InvalidImageError, UnsupportedImageError

__all__ = ["PNG_MAGIC", "JPEG_MAGIC", "RasterImage", "declared_size", "decode_raster"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
_LUMA = np.array([0.299, 0.587, 0.114])
# JPEG start-of-frame markers (baseline, extended, progressive, lossless, arithmetic).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class RasterImage:
    pixels: np.ndarray  # float32 (H, W) in [0, 1]
    mode: str  # Pillow mode of the source ("L", "I;16", "RGB", "RGBA", "P", ...)
    bits_stored: int


def _png_chunks(data: bytes):
    pos = len(PNG_MAGIC)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        yield kind, data[pos + 8 : pos + 8 + length]
        if kind in (b"IDAT", b"IEND"):
            return
        pos += 12 + length


def declared_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) declared by a PNG IHDR or a JPEG SOF marker, read without decoding."""
    if fmt == "png":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        return struct.unpack(">II", data[16:24])
    frame = jpeg_frame_header(data)
    return None if frame is None else (frame[2], frame[1])


def jpeg_frame_header(
    data: bytes, sof: frozenset[int] = _SOF
) -> tuple[int, int, int, int | None] | None:
    """(precision, rows, columns, components) of the first JPEG frame header (a marker in
    ``sof``) after the SOI, read without decoding; ``components`` is None when the data end
    just before it. None when there is no frame header before the first scan (or the data
    end, or the marker structure breaks)."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # stand-alone markers
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in sof:
            if pos + 9 > len(data):
                return None
            rows, columns = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return data[pos + 4], rows, columns, (data[pos + 9] if pos + 9 < len(data) else None)
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def _png_significant_bits(data: bytes) -> int | None:
    for kind, body in _png_chunks(data):
        if kind == b"sBIT" and body:
            return int(max(body))
    return None


def is_truncated(data: bytes, fmt: str) -> bool:
    """True when the file ends before its end marker (PNG IEND chunk, JPEG EOI)."""
    if fmt == "png":
        return data.rfind(b"IEND") < max(data.rfind(b"IDAT"), len(PNG_MAGIC))
    sos = data.rfind(b"\xff\xda")
    return sos < 0 or data.find(b"\xff\xd9", sos) < 0


def _grey(image, source: str, label: str) -> tuple[np.ndarray, int]:
    """Pillow image -> float64 grey in [0, 1] and the bits per sample it was stored with."""
    mode = image.mode
    if mode in ("P", "PA"):
        image = image.convert("RGBA" if mode == "PA" or "transparency" in image.info else "RGB")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    elif mode == "1":
        image = image.convert("L")
    mode = image.mode
    array = np.asarray(image)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return array.astype(np.float64) / 65535.0, 16
    if mode == "L":
        return array.astype(np.float64) / 255.0, 8
    if mode == "LA":
        return array[..., 0] * (array[..., 1] / 255.0) / 255.0, 8
    if mode in ("RGB", "RGBA"):
        grey = array[..., :3].astype(np.float64) @ _LUMA / 255.0
        if mode == "RGBA":
            grey = grey * (array[..., 3] / 255.0)
        return grey, 8
    raise UnsupportedImageError(
        f"unsupported {label} pixel format {image.mode!r} in {source}; "
        "expected greyscale, RGB, RGBA or palette (save the image as 8/16-bit greyscale PNG)"
    )


def decode_raster(data: bytes, fmt: str, source: str) -> RasterImage:
    """Decode a PNG or JPEG (whose declared size the caller has already checked)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = fmt.upper()
    if is_truncated(data, fmt):
        raise InvalidImageError(
            f"truncated {label}: {source} ends before its image data is complete "
            f"({len(data)} bytes); copy or export the file again"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt.upper()]) as image:
                source_mode = image.mode
                image.load()
                if fmt == "jpeg":
                    image = ImageOps.exif_transpose(image)
                grey, bits = _grey(image, source, label)
    except Image.DecompressionBombError as exc:
        raise UnsupportedImageError(
            f"image too large (possible decompression bomb): {source}: {exc}"
        ) from None
    except (UnsupportedImageError, InvalidImageError):
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        struct.error,
        IndexError,
        TypeError,
        MemoryError,
    ) as exc:
        text = " ".join(str(exc).split())[:160]
        kind = "truncated" if "truncated" in text.lower() else "corrupt"
        raise InvalidImageError(
            f"{kind} {label}: {source} cannot be decoded ({type(exc).__name__}: {text}); "
            "copy or export the file again"
        ) from None
    if fmt == "png" and bits == 16:
        bits = _png_significant_bits(data) or 16
    return RasterImage(np.clip(grey, 0.0, 1.0).astype(np.float32), source_mode, bits)
