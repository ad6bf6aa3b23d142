"""PNG and JPEG variants built from a real radiograph: every mode reads as the same grey."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cxrpilot import imaging


def _png(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **params)
    return buffer.getvalue()


def _jpeg(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **params)
    return buffer.getvalue()


def _palette(grey: np.ndarray) -> Image.Image:
    image = Image.fromarray(grey).convert("P")  # a grey ramp palette: index = grey level
    image.putpalette([v for level in range(256) for v in (level, level, level)])
    return image


def _with_alpha(grey: np.ndarray, mode: str) -> Image.Image:
    alpha = Image.fromarray(np.full(grey.shape, 255, np.uint8))
    base = Image.fromarray(grey).convert(mode[:-1] if mode == "LA" else "RGB")
    base.putalpha(alpha)
    return base


# (id, encoder from the 8-bit grey array, format, photometric, bits, max abs error)
VARIANTS = [
    ("png-grey8", lambda g: _png(Image.fromarray(g)), "png", "L", 8, 0.0),
    (
        "png-grey16",
        lambda g: _png(Image.fromarray(g.astype(np.uint16) * 257)),
        "png",
        "I;16",
        16,
        1e-6,
    ),
    ("png-grey-alpha", lambda g: _png(_with_alpha(g, "LA")), "png", "LA", 8, 1e-6),
    ("png-rgb", lambda g: _png(Image.fromarray(np.dstack([g] * 3))), "png", "RGB", 8, 1e-6),
    ("png-rgba", lambda g: _png(_with_alpha(g, "RGBA")), "png", "RGBA", 8, 1e-6),
    ("png-palette", lambda g: _png(_palette(g)), "png", "P", 8, 1e-6),
    ("jpeg-grey", lambda g: _jpeg(Image.fromarray(g)), "jpeg", "L", 8, 0.1),
    ("jpeg-rgb", lambda g: _jpeg(Image.fromarray(np.dstack([g] * 3))), "jpeg", "RGB", 8, 0.1),
]


@pytest.mark.parametrize(
    ("encode", "fmt", "photometric", "bits", "tolerance"),
    [v[1:] for v in VARIANTS],
    ids=[v[0] for v in VARIANTS],
)
def test_variants_read_as_the_same_grey(
    frontal_grey, tmp_path, encode, fmt, photometric, bits, tolerance
):
    path = tmp_path / "chest.img"  # no telling extension: the content decides
    path.write_bytes(encode(frontal_grey))
    xr = imaging.load(path)  # check=True: a frontal chest radiograph passes every check
    expected = frontal_grey.astype(np.float32) / 255.0
    assert (xr.format, xr.photometric, xr.bits_stored, xr.shape) == (
        fmt,
        photometric,
        bits,
        frontal_grey.shape,
    )
    assert xr.pixels.dtype == np.float32 and xr.header is None and xr.modality is None
    assert float(np.abs(xr.pixels - expected).max()) <= tolerance
    if fmt == "jpeg":  # lossy: close on average
        assert float(np.abs(xr.pixels - expected).mean()) < 0.01


def test_sixteen_bit_png_keeps_its_grey_levels(frontal_grey):
    fine = (
        frontal_grey.astype(np.uint16) * 256
        + np.arange(frontal_grey.shape[1], dtype=np.uint16) % 256
    )
    xr = imaging.load(_png(Image.fromarray(fine)))
    np.testing.assert_allclose(xr.pixels, fine / 65535.0, atol=1e-6)
    assert len(np.unique(xr.pixels)) > 256


def test_alpha_is_composited_onto_black(frontal_grey):
    image = Image.fromarray(np.dstack([frontal_grey] * 3))
    alpha = np.full(frontal_grey.shape, 255, np.uint8)
    alpha[:, :64] = 0  # a transparent band reads as black padding
    image.putalpha(Image.fromarray(alpha))
    xr = imaging.load(_png(image))
    assert float(xr.pixels[:, :64].max()) == 0.0
    np.testing.assert_allclose(xr.pixels[:, 64:], frontal_grey[:, 64:] / 255.0, atol=1e-6)


def test_jpeg_exif_orientation_is_applied(frontal_grey):
    wide = frontal_grey[:400]  # 400 x 512
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90 degrees clockwise
    xr = imaging.load(_jpeg(Image.fromarray(wide), exif=exif.tobytes()), check=False)
    assert xr.shape == (512, 400)
