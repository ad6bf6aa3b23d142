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


def decode_unchecked(data: bytes) -> tuple[int, int]:
    """Decode DICOM pixel data skipping the pixel-module check (what the loader did before
    it had one): run in a worker process, a header that crashes the codec ends only it."""
    from cxrpilot.imaging._dicom import decode_pixels, read_dataset, read_facts

    ds = read_dataset(data, "<bytes>")
    return decode_pixels(ds, read_facts(ds), "<bytes>").shape


def edited_bytes(src: Path, **changes: object) -> bytes:
    """The bytes of a copy of ``src`` with header attributes changed (see save_edited)."""
    import io

    ds = pydicom.dcmread(src)
    for keyword, value in changes.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()
