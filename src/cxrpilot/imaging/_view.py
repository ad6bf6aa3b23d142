"""Frontal or lateral? A tiny image classifier for files whose header states no view.

A logistic regression on a 24x24 standardised thumbnail plus three shape features
(left-right asymmetry, fraction of rows and columns the image fills after aspect-preserving
padding). It was trained by :mod:`cxrpilot.imaging._train_view` on the lateral views of
``covid-chestxray`` against frontal views of several sources; its weights (a few KB) and
card live in ``cxrpilot/imaging/weights/``. The model is loaded on first use and cached.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from importlib import resources

import numpy as np
from PIL import Image

from cxrpilot.errors import ModelLoadError, UnsupportedImageError
from cxrpilot.imaging._geometry import fit_square

__all__ = ["VIEW_WEIGHTS", "ViewModel", "view_features", "lateral_probability", "check_frontal"]

VIEW_WEIGHTS = "view-logreg-t24-covidcxr.npz"
_BASE = 64  # the thumbnail is box-filtered down from a 64 x 64 aspect-preserving square
THUMB = 24


def view_features(pixels: np.ndarray, *, thumb: int = THUMB) -> np.ndarray:
    """Feature vector of one image: standardised ``thumb`` x ``thumb`` thumbnail, left-right
    asymmetry, and the fractions of rows/columns filled (and their ratio)."""
    square = fit_square(pixels, _BASE)
    small = np.asarray(
        Image.fromarray(square).resize((thumb, thumb), Image.Resampling.BOX), dtype=np.float64
    )
    z = (small - small.mean()) / (small.std() + 1e-6)
    asymmetry = np.abs(z - z[:, ::-1]).mean()
    filled_cols = float((square.max(axis=0) > 0).mean())
    filled_rows = float((square.max(axis=1) > 0).mean())
    shape = [asymmetry, filled_cols, filled_rows, filled_rows / max(filled_cols, 1e-3)]
    return np.concatenate([z.ravel(), shape]).astype(np.float64)


@dataclass(frozen=True)
class ViewModel:
    """Linear model on :func:`view_features` (standardisation folded into the weights)."""

    coef: np.ndarray
    intercept: float
    threshold: float
    thumb: int
    card: dict

    def probability(self, pixels: np.ndarray) -> float:
        x = view_features(pixels, thumb=self.thumb)
        logit = float(x @ self.coef + self.intercept)
        return float(1.0 / (1.0 + np.exp(-np.clip(logit, -60.0, 60.0))))


@functools.lru_cache(maxsize=1)
def load_view_model() -> ViewModel:
    """The shipped view model (cached after the first call)."""
    ref = resources.files("cxrpilot.imaging") / "weights" / VIEW_WEIGHTS
    try:
        with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as npz:
            return ViewModel(
                coef=np.asarray(npz["coef"], dtype=np.float64),
                intercept=float(npz["intercept"]),
                threshold=float(npz["threshold"]),
                thumb=int(npz["thumb"]),
                card=json.loads(str(npz["card"])),
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ModelLoadError(
            f"the view model {VIEW_WEIGHTS} is missing or damaged in the cxrpilot package "
            f"({exc}); reinstall cxrpilot or retrain it with "
            "`python -m cxrpilot.imaging._train_view --data ../shared/data`"
        ) from None


def lateral_probability(image: object) -> float:
    """Probability that an image is a lateral (not frontal) chest radiograph.

    Parameters
    ----------
    image : Radiograph or numpy.ndarray, shape (H, W)
        Display-sense grey levels in [0, 1] (0 = black air), as in ``Radiograph.pixels``.

    Returns
    -------
    float
        In [0, 1]. :func:`cxrpilot.imaging.load` refuses a file without a view in its
        header when this is at or above the threshold in the model card.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> from cxrpilot import imaging
    >>> p = lateral_probability(imaging.load(get_testdata_file("RG1_UNCR.dcm")))
    >>> p < 0.5
    True
    """
    pixels = getattr(image, "pixels", image)
    array = np.asarray(pixels, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"lateral_probability expects an (H, W) image, got shape {array.shape}")
    return load_view_model().probability(array)


def check_frontal(pixels: np.ndarray, *, source: str) -> None:
    """Refuse an image the view model rates lateral (used when the header has no view)."""
    model = load_view_model()
    p = model.probability(pixels)
    logging.getLogger("cxrpilot.imaging").debug("view model: p(lateral)=%.3f", p)
    if p >= model.threshold:
        raise UnsupportedImageError(
            f"lateral view: the model reads frontal views ({source} has no view in a header, "
            f"and the view check rates it lateral, p={p:.2f}); if it is a frontal view, load "
            "it with check=False (CLI: --no-check)"
        )
