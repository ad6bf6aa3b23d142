"""Frozen result types shared by the evaluation functions.

Every statistic with uncertainty is an :class:`Estimate` (point estimate, interval, number of
observations, method). Results made of several numbers are small frozen dataclasses with a
``to_dict()`` for JSON output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Convert results, numpy scalars/arrays and NaN into plain JSON values (NaN -> None)."""
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JsonFields:
    """Base of the result dataclasses: ``to_dict()`` gives the fields, in order, as plain
    JSON values (:func:`to_jsonable`)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable({f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its confidence interval.

    Attributes
    ----------
    estimate : float
        The statistic computed on the data (NaN when undefined).
    ci_low, ci_high : float
        The confidence interval (NaN when undefined).
    n : int
        The number of observations the statistic is computed from.
    method : str
        How the interval was computed, e.g. ``"stratified bootstrap percentile (2000, 95%)"``.
    """

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    method: str

    def __post_init__(self) -> None:
        for name in ("estimate", "ci_low", "ci_high"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "n", int(self.n))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __format__(self, spec: str) -> str:
        spec = spec or ".3f"
        return f"{self.estimate:{spec}} [{self.ci_low:{spec}}, {self.ci_high:{spec}}]"

    def __str__(self) -> str:
        return format(self, "")


class DeLongResult(NamedTuple):
    """DeLong's test of two correlated ROC AUCs (unpacks as ``auc_a, auc_b, z, p``).

    Attributes
    ----------
    auc_a, auc_b : float
        The two AUCs.
    z : float
        ``(auc_a - auc_b) / se`` with the DeLong standard error of the difference.
    p : float
        Two-sided p-value from the standard normal distribution.
    """

    auc_a: float
    auc_b: float
    z: float
    p: float

    def to_dict(self) -> dict[str, Any]:
        return {k: float(v) for k, v in self._asdict().items()}


@dataclass(frozen=True, slots=True)
class ThresholdMetrics(JsonFields):
    """Sensitivity, specificity, PPV and NPV at one threshold (``y_score >= threshold``
    is called positive), each with a binomial confidence interval.

    Attributes
    ----------
    threshold : float
    sensitivity, specificity, ppv, npv : Estimate
    tp, fp, tn, fn : int
        The confusion-matrix counts.
    """

    threshold: float
    sensitivity: Estimate
    specificity: Estimate
    ppv: Estimate
    npv: Estimate
    tp: int
    fp: int
    tn: int
    fn: int


@dataclass(frozen=True)
class ReliabilityDiagram(JsonFields):
    """Binned calibration: per bin its edges, count, mean predicted probability and the
    observed fraction of positives (NaN for an empty bin).

    Attributes
    ----------
    bin_edges : ndarray of shape (n_bins + 1,)
    counts : ndarray of shape (n_bins,)
    mean_predicted : ndarray of shape (n_bins,)
    fraction_positive : ndarray of shape (n_bins,)
    ece : float
        Expected calibration error, ``sum_b (n_b / n) |fraction_positive_b - mean_predicted_b|``.
    max_calibration_error : float
        The largest bin gap (MCE).
    """

    bin_edges: np.ndarray
    counts: np.ndarray
    mean_predicted: np.ndarray
    fraction_positive: np.ndarray
    ece: float
    max_calibration_error: float


@dataclass(frozen=True)
class RocCurve(JsonFields):
    """Points of a ROC curve (from :func:`sklearn.metrics.roc_curve`) and its AUC.

    Attributes
    ----------
    fpr, tpr, thresholds : ndarray
    auc : float
    """

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
