"""Calibration and decision thresholds of the expert model's outputs (pure numpy/scipy).

The calibration error itself is :func:`cxrpilot.evaluation.expected_calibration_error`.

- :func:`fit_temperature`: one temperature per output, fitted by minimising the negative
  log-likelihood on the validation split (Guo et al. 2017, "On calibration of modern
  neural networks", ICML).
- :func:`choose_thresholds`: the low/high cut-offs that split probabilities into
  absent / uncertain / present.
"""

from __future__ import annotations

import numpy as np

from cxrpilot.errors import InvalidInputError

__all__ = ["sigmoid", "fit_temperature", "choose_thresholds"]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _nll(y: np.ndarray, logits: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    # log(1 + exp(-|z|)) + max(z, 0) - y z  == binary cross-entropy with logits
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(y_true: np.ndarray, logits: np.ndarray) -> float:
    """The temperature ``T`` minimising the binary NLL of ``sigmoid(logits / T)``.

    Parameters
    ----------
    y_true : array of shape (n,)
        0/1 labels.
    logits : array of shape (n,)
        Uncalibrated logits.

    Returns
    -------
    float
        ``T`` in [0.05, 20]; 1.0 when only one class is present.
    """
    from scipy.optimize import minimize_scalar  # lazily: inference needs only sigmoid

    y = np.asarray(y_true, dtype=np.float64)
    z = np.asarray(logits, dtype=np.float64)
    if y.shape != z.shape or y.ndim != 1:
        raise InvalidInputError(f"y_true and logits must be 1-D of one length, got {y.shape} and {z.shape}")
    if len(np.unique(y)) < 2:
        return 1.0
    res = minimize_scalar(lambda log_t: _nll(y, z, float(np.exp(log_t))),
                          bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def choose_thresholds(
    y_true: np.ndarray, y_prob: np.ndarray, *, sensitivity: float = 0.95, specificity: float = 0.95
) -> tuple[float, float]:
    """Low/high cut-offs on validation probabilities.

    ``low`` is the largest cut-off that keeps the sensitivity of "not absent" (p >= low) at
    least ``sensitivity``; ``high`` is the smallest cut-off whose specificity of "present"
    (p > high) is at least ``specificity``. Between them the finding reads *uncertain*. When
    the model separates the classes so well that ``low > high``, both are set to the
    cut-off maximising Youden's J (no uncertain band).

    Returns
    -------
    (low, high) : tuple of float
    """
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(y_prob, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1 or y.all() or not y.any():
        raise InvalidInputError("choose_thresholds needs 1-D y_true/y_prob of one length with both classes")
    pos = np.sort(p[y])
    neg = np.sort(p[~y])
    # sensitivity(t) = P(p_pos >= t): keep at least ceil(sens * n_pos) positives at or above t
    k = int(np.floor((1.0 - sensitivity) * len(pos)))
    low = float(pos[k])
    # specificity(t) = P(p_neg <= t): t at the spec-quantile of the negatives
    j = int(np.ceil(specificity * len(neg))) - 1
    high = float(neg[min(max(j, 0), len(neg) - 1)])
    if low > high:
        cand = np.unique(p)
        tpr = np.array([(pos >= t).mean() for t in cand])
        fpr = np.array([(neg >= t).mean() for t in cand])
        t = float(cand[int(np.argmax(tpr - fpr))])
        low = high = t
    return low, high
