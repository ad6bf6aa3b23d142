"""Drawing where a model looked: a :class:`~cxrpilot.draft.FindingMap` over its radiograph.

>>> from cxrpilot import imaging, maps, pipeline                      # doctest: +SKIP
>>> rg = imaging.load("chest.dcm"); draft = pipeline.draft(rg)         # doctest: +SKIP
>>> maps.write_overlays(draft, rg, "heatmaps/")                        # doctest: +SKIP
[PosixPath('heatmaps/chest-pleural-effusion.png')]
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from cxrpilot.draft import Draft, FindingMap
    from cxrpilot.imaging import Radiograph

__all__ = ["overlay", "write_overlays", "full_resolution", "resample_grid"]

#: Longest side of a written overlay (large radiographs are shown smaller).
OVERLAY_SIDE = 1024


def resample_grid(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resampling of a 2-D grid to ``(height, width)`` (cell centres aligned), float32.

    >>> resample_grid(np.eye(2), 4, 4).shape
    (4, 4)
    """
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(grid, dtype=np.float32))
    return np.asarray(image.resize((int(width), int(height)), Image.Resampling.BILINEAR),
                      dtype=np.float32)


def full_resolution(finding_map: FindingMap, height: int, width: int) -> np.ndarray:
    """The map's grid resampled (bilinear) to ``(height, width)``, float32 in [0, 1]."""
    return np.clip(resample_grid(np.asarray(finding_map.grid), height, width), 0.0, 1.0)


def overlay(radiograph: Radiograph, finding_map: FindingMap, *, alpha: float = 0.5) -> Image.Image:
    """The radiograph in grey with the map in a black-red-yellow scale on top and the
    finding's name in the corner; an RGB image of at most :data:`OVERLAY_SIDE` pixels."""
    from PIL import Image, ImageDraw

    pixels = radiograph.pixels
    scale = min(1.0, OVERLAY_SIDE / max(pixels.shape))
    h, w = max(1, round(pixels.shape[0] * scale)), max(1, round(pixels.shape[1] * scale))
    grey = np.asarray(Image.fromarray(pixels.astype(np.float32)).resize(
        (w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    v = full_resolution(finding_map, h, w)
    heat = np.stack([np.clip(2 * v, 0, 1), np.clip(2 * v - 1, 0, 1), np.zeros_like(v)], -1)
    a = (alpha * v)[..., None]
    rgb = (1 - a) * np.clip(grey, 0, 1)[..., None] + a * heat
    image = Image.fromarray((rgb * 255).round().astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    label = f"{finding_map.name} (where the model looked; AI draft)"
    draw.rectangle((0, 0, 8 + 6 * len(label), 16), fill=(0, 0, 0))
    draw.text((4, 3), label, fill=(255, 255, 255))
    return image


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_overlays(draft: Draft, radiograph: Radiograph,
                   folder: str | os.PathLike[str]) -> list[Path]:
    """Write one overlay PNG per map of ``draft`` into ``folder`` (created), named
    ``{image stem}-{finding}.png``; returns the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(draft.source).stem or "image"
    written = []
    for finding_map in draft.maps:
        path = folder / f"{stem}-{_slug(finding_map.name)}.png"
        overlay(radiograph, finding_map).save(path)
        written.append(path)
    return written
