"""The one image representation of cxrpilot."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cxrpilot.errors import InvalidInputError

__all__ = ["Radiograph"]


@dataclass(frozen=True, eq=False)
class Radiograph:
    """A chest radiograph, ready for any model's own preprocessing.

    Attributes
    ----------
    pixels : numpy.ndarray, shape (H, W), float32
        Grey levels in [0, 1] in *display* sense: 0 is black (air), 1 is white (bone,
        metal), whatever the source's photometric interpretation (MONOCHROME1 is
        inverted on load). For DICOM the modality LUT (rescale) and the VOI LUT or window
        from the header are applied in floating point, so no bit depth is lost to 8-bit
        quantisation. Read-only.
    source : str
        Path of the file, or ``"<bytes>"`` when loaded from memory.
    format : str
        ``"dicom"``, ``"png"`` or ``"jpeg"``.
    sha256 : str
        Hex digest of the source bytes (content address for storage and de-duplication).
    modality : str or None
        DICOM (0008,0060), e.g. ``"CR"``, ``"DX"``; ``None`` for PNG/JPEG.
    view_position : str or None
        ``"PA"``, ``"AP"``, ``"LL"``, ``"RL"``, ``"LATERAL"`` ... from the header when stated.
    body_part : str or None
        DICOM (0018,0015) Body Part Examined when stated.
    photometric : str
        Photometric interpretation of the source (``"MONOCHROME1"``, ``"MONOCHROME2"``,
        ``"RGB"``, ``"L"`` for greyscale PNG/JPEG ...).
    bits_stored : int
        Bits per sample of the source (8, 12, 15, 16 ...).
    pixel_spacing_mm : tuple of float or None
        (row, column) spacing in mm, from Pixel Spacing or Imager Pixel Spacing.
    patient_age_years : float or None
    patient_sex : str or None
        ``"M"``, ``"F"`` or ``"O"``.
    header : pydicom.Dataset or None
        The de-identified DICOM header (no pixel data) for interoperability (DICOM SR,
        FHIR); ``None`` for PNG/JPEG. UIDs are retained so a report can reference its image.
    """

    pixels: np.ndarray = field(repr=False)
    source: str
    format: str
    sha256: str
    modality: str | None = None
    view_position: str | None = None
    body_part: str | None = None
    photometric: str = "MONOCHROME2"
    bits_stored: int = 8
    pixel_spacing_mm: tuple[float, float] | None = None
    patient_age_years: float | None = None
    patient_sex: str | None = None
    header: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        px = np.asarray(self.pixels)
        if px.ndim != 2 or px.dtype != np.float32:
            raise InvalidInputError(f"Radiograph.pixels must be a float32 HxW array, got {px.dtype} {px.shape}")
        px = px.view()
        px.flags.writeable = False
        object.__setattr__(self, "pixels", px)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.pixels.shape  # type: ignore[return-value]

    def to_uint8(self) -> np.ndarray:
        """The pixels as an 8-bit HxW array (for display and 8-bit models)."""
        return np.round(self.pixels * 255.0).astype(np.uint8)
