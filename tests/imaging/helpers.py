"""Helpers for the imaging tests (DICOM header edits, anatomy probes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom


def save_edited(src: Path, dst: Path, **changes: object) -> Path:
    """Copy a DICOM file with header attributes changed (``None`` deletes one)."""
    ds = pydicom.dcmread(src)
    for keyword, value in changes.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(dst)
    return dst


def lungs_and_mediastinum(pixels: np.ndarray) -> tuple[float, float]:
    """Mean grey of the two lung fields and of the mediastinum of a PA chest film."""
    h, w = pixels.shape
    band = pixels[int(0.3 * h) : int(0.6 * h)]
    lungs = np.concatenate(
        [
            band[:, int(0.2 * w) : int(0.35 * w)].ravel(),
            band[:, int(0.65 * w) : int(0.8 * w)].ravel(),
        ]
    )
    mediastinum = band[:, int(0.46 * w) : int(0.54 * w)]
    return float(lungs.mean()), float(mediastinum.mean())
