"""Input checks shared by the evaluation functions (scikit-learn style messages)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from cxrpilot.errors import InvalidInputError


def warn_undefined(message: str) -> None:
    """Warn that a statistic is undefined for the data given (it is returned as NaN)."""
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)


def _as_1d(value: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise InvalidInputError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D; got {name}.shape={arr.shape}")
    return arr


def check_binary_labels(y_true: Any, *, name: str = "y_true") -> np.ndarray:
    """``y_true`` as an int array of 0/1; booleans and {0, 1} numbers are accepted."""
    arr = _as_1d(y_true, name)
    if arr.size == 0:
        raise InvalidInputError(f"{name} is empty; expected at least one label")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise InvalidInputError(
            f"{name} must hold numbers 0/1 or booleans; got dtype {arr.dtype} "
            f"(first value {arr[0]!r}); map your labels to 0 (negative) and 1 (positive)"
        )
    values = np.unique(arr)
    bad = values[~np.isin(values, (0, 1))]
    if bad.size:
        raise InvalidInputError(
            f"{name} must contain only 0 and 1; got value(s) {bad[:5].tolist()}; "
            "map uncertain or missing labels to 0/1 or drop those rows first"
        )
    return arr.astype(np.int64)


def check_scores(y_score: Any, n: int, *, name: str = "y_score", unit: bool = False) -> np.ndarray:
    """``y_score`` as a finite float array of length ``n`` (within [0, 1] when ``unit``)."""
    arr = _as_1d(y_score, name)
    if arr.dtype.kind not in "iufb":
        raise InvalidInputError(f"{name} must be numeric; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.shape[0] != n:
        raise InvalidInputError(
            f"{name} has {arr.shape[0]} values but y_true has {n}; they must be the same cases"
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(
            f"{name} contains {int(np.sum(~np.isfinite(arr)))} NaN or infinite value(s); "
            "drop or impute them first"
        )
    if unit and (arr.min() < 0.0 or arr.max() > 1.0):
        raise InvalidInputError(
            f"{name} must be probabilities in [0, 1]; got range [{arr.min():g}, {arr.max():g}]"
        )
    return arr


def check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not 0.0 < c < 1.0:
        raise InvalidInputError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    return c


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)

