"""Frontal or lateral? A tiny image classifier for files whose header states no view.

A logistic regression on a histogram of oriented gradients (HOG: 4 x 4 cells x 9
orientations of a 64 x 64 aspect-preserving thumbnail) plus four shape features
(left-right asymmetry, fraction of rows and columns the image fills, their ratio). It was
trained by ``cxrpilot train view`` (:func:`cxrpilot.models.view.train_view`) on the lateral
views of ``covid-chestxray`` against frontal views of several sources; its folder in the
one weights home, ``cxrpilot/weights/view-hog-logreg-covidcxr/``, holds the weights
(``model.npz``, a few KB), ``card.json`` (with their sha256) and ``model_card.md``, as an
expert model's folder does. The model is loaded on first use and cached.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from cxrpilot.errors import InvalidInputError, ModelLoadError, NonFrontalViewError
from cxrpilot.imaging._geometry import fit_square

__all__ = ["VIEW_MODEL", "ViewModel", "view_features", "load_view_model", "lateral_probability",
           "check_frontal"]

#: The shipped view model's folder under ``cxrpilot/weights``.
VIEW_MODEL = "view-hog-logreg-covidcxr"
#: The files of a view model's folder.
CARD_FILE, WEIGHTS_FILE, CARD_MARKDOWN = "card.json", "model.npz", "model_card.md"
_RETRAIN = "`cxrpilot train view --data ../shared/data`"
BASE = 64  # side of the aspect-preserving thumbnail the features are computed on
CELLS = 4  # HOG cells per side
BINS = 9  # unsigned orientation bins
_GAUSS = np.exp(-0.5 * np.arange(-4, 5) ** 2)
_GAUSS /= _GAUSS.sum()  # sigma 1 px, radius 4


def _convolve(image: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """1-D convolution along ``axis`` with mirrored borders, output the same size."""
    r = len(kernel) // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (r, r)
    padded = np.pad(image, pad, mode="symmetric")
    out = np.zeros_like(image)
    n = image.shape[axis]
    for i, w in enumerate(kernel[::-1]):
        out += w * (padded[i : i + n] if axis == 0 else padded[:, i : i + n])
    return out


def _hog(square: np.ndarray) -> np.ndarray:
    """Square-root, globally L2-normalised histogram of oriented gradients."""
    smooth = _convolve(_convolve(square.astype(np.float64), _GAUSS, 0), _GAUSS, 1)
    deriv, tri = np.array([1.0, 0.0, -1.0]), np.array([1.0, 2.0, 1.0])
    gx = _convolve(_convolve(smooth, deriv, 1), tri, 0)
    gy = _convolve(_convolve(smooth, deriv, 0), tri, 1)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    bins = np.minimum((angle / np.pi * BINS).astype(int), BINS - 1)
    side = square.shape[0] // CELLS
    cell = (np.arange(square.shape[0]) // side).clip(max=CELLS - 1)
    index = (cell[:, None] * CELLS + cell[None, :]) * BINS + bins
    hist = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=CELLS * CELLS * BINS)
    return np.sqrt(hist / (np.linalg.norm(hist) + 1e-6))


def view_features(pixels: np.ndarray) -> np.ndarray:
    """Feature vector of one image (148 values): HOG of the 64 x 64 aspect-preserving
    thumbnail, left-right asymmetry of a 24 x 24 standardised thumbnail, and the fractions
    of columns and rows the image fills in the square (and their ratio)."""
    square = fit_square(pixels, BASE)
    small = np.asarray(Image.fromarray(square).resize((24, 24), Image.Resampling.BOX), np.float64)
    z = (small - small.mean()) / (small.std() + 1e-6)
    asymmetry = float(np.abs(z - z[:, ::-1]).mean())
    filled_cols = float((square.max(axis=0) > 0).mean())
    filled_rows = float((square.max(axis=1) > 0).mean())
    shape = [asymmetry, filled_cols, filled_rows, filled_rows / max(filled_cols, 1e-3)]
    return np.concatenate([_hog(square), shape])


@dataclass(frozen=True)
class ViewModel:
    """Linear model on :func:`view_features` (standardisation folded into the weights)."""

    coef: np.ndarray
    intercept: float
    threshold: float
    card: dict

    def probability(self, pixels: np.ndarray) -> float:
        x = view_features(pixels)
        logit = float(x @ self.coef + self.intercept)
        return float(1.0 / (1.0 + np.exp(-np.clip(logit, -60.0, 60.0))))

    def save(self, folder: str | Path) -> dict:
        """Write ``model.npz`` and ``card.json`` (the card with the weights' file name and
        sha256) into ``folder`` (created); returns that card. :func:`load_view_model` reads
        them back."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / WEIGHTS_FILE
        np.savez_compressed(weights, coef=self.coef.astype(np.float32),
                            intercept=np.float64(self.intercept), threshold=np.float64(self.threshold))
        card = {**self.card, "weights_file": WEIGHTS_FILE,
                "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()}
        (folder / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        return card


def load_view_model(folder: str | Path | None = None) -> ViewModel:
    """A view model from its folder (``card.json``, ``model.npz``); None: the shipped one
    (read once, then cached).

    Raises
    ------
    ModelLoadError
        A file is missing or damaged, or the weights' sha256 is not the card's.
    """
    if folder is None:
        return _shipped_view_model()
    folder = Path(folder)
    damaged = f"the view model in {str(folder)!r} is missing or damaged"
    fix = f"reinstall cxrpilot or retrain it with {_RETRAIN}"
    try:
        card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
        weights = folder / card.get("weights_file", WEIGHTS_FILE)
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        with np.load(weights, allow_pickle=False) as npz:
            model = ViewModel(
                coef=np.asarray(npz["coef"], dtype=np.float64),
                intercept=float(npz["intercept"]),
                threshold=float(npz["threshold"]),
                card=card,
            )
    except (OSError, KeyError, ValueError, AttributeError) as exc:
        raise ModelLoadError(f"{damaged} ({exc}); {fix}") from None
    if digest != card.get("sha256"):
        raise ModelLoadError(f"{damaged}: {weights.name} has sha256 {digest[:16]}..., but "
                             f"{CARD_FILE} states {str(card.get('sha256'))[:16]}...; {fix}")
    return model


@functools.lru_cache(maxsize=1)
def _shipped_view_model() -> ViewModel:
    with resources.as_file(resources.files("cxrpilot") / "weights" / VIEW_MODEL) as folder:
        return load_view_model(folder)


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
        raise InvalidInputError(f"lateral_probability expects an (H, W) image, got shape {array.shape}")
    return load_view_model().probability(array)


def check_frontal(pixels: np.ndarray, *, source: str) -> None:
    """Refuse an image the view model rates lateral (used when the header has no view)."""
    model = load_view_model()
    p = model.probability(pixels)
    logging.getLogger("cxrpilot.imaging").debug("view model: p(lateral)=%.3f", p)
    if p >= model.threshold:
        raise NonFrontalViewError(
            f"lateral view: the model reads frontal views ({source} has no view in a header, "
            f"and the view check rates it lateral, p={p:.2f}); if it is a frontal view, load "
            "it with check=False (CLI: --no-check)"
        )
