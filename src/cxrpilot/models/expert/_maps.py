"""Where the expert model looked: class activation maps in image coordinates, and their
agreement with radiologists' boxes.

The network's ``maps`` output is one (h, w) grid per label over the padded square input
(see :class:`~cxrpilot.models.expert.network.LogitsAndMaps`). :func:`image_grid` crops the
padding away and resamples the grid to the image's aspect ratio; :func:`hit_rate` measures
how often a map's maximum falls inside a radiologist's box (the "pointing game", Zhang et
al. 2018, "Top-down neural attention by excitation backprop", IJCV).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cxrpilot.errors import InvalidInputError
from cxrpilot.maps import resample_grid

__all__ = ["image_grid", "peak", "hit_rate", "MAP_GRID"]

#: Cells along the longer image side of the maps given in a draft.
MAP_GRID = 16


def image_grid(cam: np.ndarray, image_shape: tuple[int, int], input_size: int, *,
               cells: int = MAP_GRID) -> np.ndarray:
    """One label's map over the image itself, scaled to [0, 1].

    Parameters
    ----------
    cam : numpy.ndarray of shape (h, w)
        Class activation logits over the padded ``input_size`` square.
    image_shape : (H, W)
        The radiograph's shape (the map follows its aspect ratio).
    input_size : int
        Side of the network input.
    cells : int
        Cells along the longer side of the result.

    Returns
    -------
    numpy.ndarray of shape (rows, cols), float32 in [0, 1]
        Rows top to bottom; 1 where the evidence for the label is strongest, 0 at its weakest
        (min-max over the image; a relative map, not a probability).
    """
    from cxrpilot.imaging import square_region

    top, left, h, w = square_region(image_shape, input_size)
    full = resample_grid(cam, input_size, input_size)[top : top + h, left : left + w]
    rows = max(1, round(cells * h / max(h, w)))
    cols = max(1, round(cells * w / max(h, w)))
    grid = resample_grid(full, rows, cols)
    lo, hi = float(grid.min()), float(grid.max())
    return ((grid - lo) / (hi - lo) if hi > lo else np.zeros_like(grid)).astype(np.float32)


def peak(grid: np.ndarray, image_shape: tuple[int, int]) -> tuple[float, float]:
    """(x, y) image pixel coordinates of the centre of the grid's largest cell."""
    rows, cols = grid.shape
    r, c = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return (c + 0.5) * image_shape[1] / cols, (r + 0.5) * image_shape[0] / rows


def hit_rate(points: Sequence[tuple[float, float]],
             boxes: Sequence[Sequence[tuple[float, float, float, float]]]) -> float:
    """Share of images whose point lies inside any of its boxes ``(x, y, w, h)``.

    >>> hit_rate([(5, 5), (50, 50)], [[(0, 0, 10, 10)], [(0, 0, 10, 10)]])
    0.5
    """
    if len(points) != len(boxes):
        raise InvalidInputError(f"got {len(points)} points for {len(boxes)} box lists")
    if not points:
        return float("nan")
    hits = [any(x <= px <= x + w and y <= py <= y + h for x, y, w, h in bx)
            for (px, py), bx in zip(points, boxes, strict=True)]
    return float(np.mean(hits))


#: The NIH box findings, as observations (Infiltrate boxes show a Lung Opacity).
BOX_FINDINGS: dict[str, str] = {
    "Atelectasis": "Atelectasis", "Cardiomegaly": "Cardiomegaly", "Effusion": "Pleural Effusion",
    "Infiltrate": "Lung Opacity", "Mass": "Lung Lesion", "Nodule": "Lung Lesion",
    "Pneumonia": "Pneumonia", "Pneumothorax": "Pneumothorax",
}


def box_hit_rates(onnx_path, studies: Sequence, labels: Sequence[str],
                  assessed: Sequence[str], *, mean: float, std: float, input_size: int,
                  squares: Sequence[np.ndarray] | None = None,
                  ) -> dict[str, dict[str, float | int]]:
    """Pointing-game hit rate per finding of the maps of an exported graph, with a 95 %
    Wilson interval, beside the hit rate of the image centre.

    Each (image, finding) pair with at least one box counts once: a hit when the peak of
    that finding's map lies inside any of the image's boxes of that finding. ``studies``
    carry the boxes in ``meta["boxes"]`` (see :func:`cxrpilot.data.read_nih`).

    ``squares``, when given, are the network inputs of ``studies`` already fitted to
    ``input_size`` ([0, 1], as a training pack holds them); the image's own shape is then
    ``meta["image_shape"]`` and no file is read.
    """
    import onnxruntime as ort
    from scipy.stats import binomtest

    from cxrpilot.imaging import fit_square, load

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    pairs: dict[str, list[tuple[tuple[float, float], tuple[float, float], list]]] = {}
    for k, study in enumerate(studies):
        by_finding: dict[str, list] = {}
        for finding, *box in study.meta.get("boxes", ()):
            name = BOX_FINDINGS.get(finding)
            if name in labels:
                by_finding.setdefault(name, []).append(tuple(box))
        if not by_finding:
            continue
        if squares is None:
            pixels = load(study.images[0].path, check=False).pixels
            shape, square = pixels.shape, fit_square(pixels, input_size)
        else:
            shape, square = tuple(study.meta["image_shape"]), squares[k]
        x = ((square - mean) / std)[None, None].astype(np.float32)
        cams = session.run(["maps"], {"pixels": x})[0][0]
        centre = (shape[1] / 2, shape[0] / 2)
        for name, boxes in by_finding.items():
            grid = image_grid(cams[list(labels).index(name)], shape, input_size)
            pairs.setdefault(name, []).append((peak(grid, shape), centre, boxes))
    out: dict[str, dict[str, float | int]] = {}
    for name in sorted(pairs):
        items = pairs[name]
        row: dict[str, float | int] = {"n": len(items), "assessed": int(name in assessed)}
        for key, k in (("map", 0), ("centre", 1)):
            rate = hit_rate([it[k] for it in items], [it[2] for it in items])
            hits = round(rate * len(items))
            ci = binomtest(hits, len(items)).proportion_ci(method="wilson")
            row.update({f"{key}_hit_rate": round(rate, 4), f"{key}_ci_low": round(ci.low, 4),
                        f"{key}_ci_high": round(ci.high, 4)})
        out[name] = row
    return out
