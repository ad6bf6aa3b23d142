"""Diagnostic accuracy of a score against binary truth: ROC AUC with confidence intervals,
DeLong's test, operating-point metrics with binomial intervals, calibration, ROC curves.

All functions are pure and scikit-learn shaped, ``(y_true, y_score, *, options)``; they
validate their inputs first and return NaN (with an :class:`UndefinedMetricWarning`) when
a statistic is undefined for the data, e.g. an AUC when only one class is present.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve

from cxrpilot.errors import InvalidInputError

from ._result import DeLongResult, Estimate, ReliabilityDiagram, RocCurve, ThresholdMetrics
from ._validation import (
    check_binary_labels,
    check_confidence,
    check_positive_int,
    check_scores,
    warn_undefined,
)

_NAN = float("nan")
#: Work per bootstrap chunk (replicates x cases), bounds the memory used to ~ 8 * this bytes.
_CHUNK_CELLS = 2_000_000


def _check_xy(y_true: Any, y_score: Any, *, score_name: str = "y_score", unit: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
    y = check_binary_labels(y_true)
    s = check_scores(y_score, y.shape[0], name=score_name, unit=unit)
    return y, s


# --------------------------------------------------------------------------- ROC AUC + CI


def _bootstrap_auc_from_counts(
    pos: np.ndarray, neg_sorted: np.ndarray, w_pos: np.ndarray, w_neg_sorted: np.ndarray
) -> np.ndarray:
    """AUCs of resampled data given resampling counts (one row per replicate).

    ``w_pos[b, i]`` is how often positive ``i`` is drawn in replicate ``b``;
    ``w_neg_sorted[b, j]`` the same for the ``j``-th smallest negative. The AUC of the
    resampled data is ``sum_i w_i * placement_i / (m * n)`` where the placement of a
    positive is the (weighted) number of negatives below it plus half of those tied with it.
    """
    m, n = pos.shape[0], neg_sorted.shape[0]
    left = np.searchsorted(neg_sorted, pos, side="left")
    right = np.searchsorted(neg_sorted, pos, side="right")
    cum = np.zeros((w_neg_sorted.shape[0], n + 1))
    np.cumsum(w_neg_sorted, axis=1, out=cum[:, 1:])
    placement = 0.5 * (cum[:, left] + cum[:, right])
    return np.einsum("bi,bi->b", w_pos, placement) / (m * n)


def _delong_components(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and structural components of ``k`` scores on the same cases (Sun & Xu 2014).

    ``pos`` is ``(k, m)`` (scores of the positives), ``neg`` is ``(k, n)``. Returns
    ``(auc (k,), v10 (k, m), v01 (k, n))`` where ``v10[r, i]`` is the placement of positive
    ``i`` among the negatives and ``v01[r, j]`` one minus that of negative ``j`` among the
    positives, computed with mid-ranks in O((m + n) log(m + n)).
    """
    m, n = pos.shape[1], neg.shape[1]
    tx = stats.rankdata(pos, axis=1)
    ty = stats.rankdata(neg, axis=1)
    tz = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    auc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return auc, v10, v01


def _delong_covariance(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return s10 / m + s01 / n


def roc_auc_ci(
    y_true: Any,
    y_score: Any,
    *,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    method: Literal["bootstrap", "delong"] = "bootstrap",
) -> Estimate:
    """Area under the ROC curve with a confidence interval.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary truth, 0/1 or booleans.
    y_score : array-like of shape (n_samples,)
        Scores or probabilities; larger means more likely positive.
    n_bootstrap : int, default 2000
        Bootstrap replicates (``method="bootstrap"``).
    confidence : float, default 0.95
        Coverage of the interval.
    seed : int, default 0
        Seed of the bootstrap's random generator; the same seed gives the same interval.
    method : {"bootstrap", "delong"}, default "bootstrap"
        ``"bootstrap"``: stratified bootstrap (positives and negatives resampled separately,
        so every replicate keeps the observed class counts), percentile interval.
        ``"delong"``: normal interval with DeLong's variance, clipped to [0, 1].

    Returns
    -------
    Estimate
        ``estimate`` is :func:`sklearn.metrics.roc_auc_score`; ``n`` the number of cases.
        All NaN (with an :class:`~sklearn.exceptions.UndefinedMetricWarning`) when
        ``y_true`` holds only one class.

    Raises
    ------
    InvalidInputError
        Labels other than 0/1, lengths that differ, NaN scores, bad options.

    References
    ----------
    .. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993
       (ch. 13, percentile interval; stratified resampling, sec. 8.4).
    .. [2] Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas
       under correlated receiver operating characteristic curves. IEEE Signal Process Lett
       2014;21(11):1389-93.

    Examples
    --------
    >>> est = roc_auc_ci([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9], n_bootstrap=200)
    >>> round(est.estimate, 4), est.n
    (0.8889, 6)
    """
    y, s = _check_xy(y_true, y_score)
    confidence = check_confidence(confidence)
    if method not in ("bootstrap", "delong"):
        raise InvalidInputError(f"method must be 'bootstrap' or 'delong'; got {method!r}")
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    pct = f"{confidence:.0%}"
    label = (f"stratified bootstrap percentile ({n_bootstrap} replicates, {pct})"
             if method == "bootstrap" else f"DeLong normal ({pct})")
    pos, neg = s[y == 1], s[y == 0]
    m, n = pos.shape[0], neg.shape[0]
    if m == 0 or n == 0:
        warn_undefined(f"ROC AUC is undefined: y_true has only {'negatives' if m == 0 else 'positives'} "
                       f"({y.shape[0]} cases); returning NaN")
        return Estimate(_NAN, _NAN, _NAN, y.shape[0], label)
    auc = float(roc_auc_score(y, s))
    alpha = 1.0 - confidence
    if method == "delong":
        if m < 2 or n < 2:
            warn_undefined(f"DeLong variance needs >= 2 cases of each class; got {m} positive(s), "
                           f"{n} negative(s); interval is NaN")
            return Estimate(auc, _NAN, _NAN, y.shape[0], label)
        _, v10, v01 = _delong_components(pos[None, :], neg[None, :])
        se = float(np.sqrt(_delong_covariance(v10, v01)[0, 0]))
        zq = stats.norm.ppf(1 - alpha / 2)
        return Estimate(auc, max(0.0, auc - zq * se), min(1.0, auc + zq * se), y.shape[0], label)

    rng = np.random.default_rng(seed)
    neg_sorted = np.sort(neg)
    chunk = max(1, _CHUNK_CELLS // max(m, n))
    aucs = np.empty(n_bootstrap)
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        w_pos = rng.multinomial(m, np.full(m, 1.0 / m), size=b).astype(np.float64)
        w_neg = rng.multinomial(n, np.full(n, 1.0 / n), size=b).astype(np.float64)
        aucs[start:start + b] = _bootstrap_auc_from_counts(pos, neg_sorted, w_pos, w_neg)
    low, high = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return Estimate(auc, float(low), float(high), y.shape[0], label)


def roc_auc_by_finding(
    y_true: Any,
    y_score: Any,
    *,
    labels: Sequence[str],
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """:func:`roc_auc_ci` for each column of a multi-label problem.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_labels)
        0/1 truth; NaN marks a case whose truth is unknown for that finding (it is left out
        of that finding's AUC only).
    y_score : array-like of shape (n_samples, n_labels)
    labels : sequence of str
        The name of each column.
    n_bootstrap, confidence, seed
        As in :func:`roc_auc_ci` (every finding uses the same ``seed``).

    Returns
    -------
    dict of str to Estimate
        In the order of ``labels``.
    """
    yt = np.asarray(y_true, dtype=np.float64)
    ys = np.asarray(y_score, dtype=np.float64)
    labels = list(labels)
    if yt.ndim != 2 or ys.shape != yt.shape or yt.shape[1] != len(labels):
        raise InvalidInputError(
            f"y_true and y_score must both be (n_samples, {len(labels)}) for {len(labels)} labels; "
            f"got y_true.shape={yt.shape}, y_score.shape={ys.shape}"
        )
    out: dict[str, Estimate] = {}
    for k, name in enumerate(labels):
        keep = ~np.isnan(yt[:, k])
        out[name] = roc_auc_ci(yt[keep, k], ys[keep, k], n_bootstrap=n_bootstrap,
                               confidence=confidence, seed=seed)
    return out


def delong_test(y_true: Any, score_a: Any, score_b: Any) -> DeLongResult:
    """DeLong's test of the difference between two correlated ROC AUCs (two models, the
    same cases).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary truth.
    score_a, score_b : array-like of shape (n_samples,)
        The two models' scores for the same cases, in the same order.

    Returns
    -------
    DeLongResult
        ``(auc_a, auc_b, z, p)``: ``z = (auc_a - auc_b) / se`` with DeLong's nonparametric
        covariance, ``p`` two-sided. ``z`` and ``p`` are NaN (with a warning) when the
        variance of the difference is zero (e.g. identical rankings) or a class has fewer
        than two cases.

    References
    ----------
    .. [1] DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
       correlated receiver operating characteristic curves: a nonparametric approach.
       Biometrics 1988;44(3):837-45.
    .. [2] Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas
       under correlated receiver operating characteristic curves. IEEE Signal Process Lett
       2014;21(11):1389-93.

    Examples
    --------
    >>> r = delong_test([0, 0, 0, 1, 1, 1], [.1, .2, .6, .5, .8, .9], [.1, .6, .2, .3, .5, .9])
    >>> round(r.auc_a, 4), round(r.auc_b, 4)
    (0.8889, 0.7778)
    """
    y = check_binary_labels(y_true)
    a = check_scores(score_a, y.shape[0], name="score_a")
    b = check_scores(score_b, y.shape[0], name="score_b")
    m, n = int(y.sum()), int((1 - y).sum())
    if m < 2 or n < 2:
        warn_undefined(f"DeLong's test needs >= 2 cases of each class; got {m} positive(s), "
                       f"{n} negative(s); returning NaN")
        auc_a = float(roc_auc_score(y, a)) if m and n else _NAN
        auc_b = float(roc_auc_score(y, b)) if m and n else _NAN
        return DeLongResult(auc_a, auc_b, _NAN, _NAN)
    scores = np.vstack([a, b])
    auc, v10, v01 = _delong_components(scores[:, y == 1], scores[:, y == 0])
    cov = _delong_covariance(v10, v01)
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = float(auc[0] - auc[1])
    if var <= 1e-15:
        warn_undefined("DeLong's test is undefined: the variance of the AUC difference is 0 "
                       "(the two scores rank the cases identically); z and p are NaN")
        return DeLongResult(float(auc[0]), float(auc[1]), _NAN, _NAN)
    z = diff / np.sqrt(var)
    return DeLongResult(float(auc[0]), float(auc[1]), float(z), float(2 * stats.norm.sf(abs(z))))


# ------------------------------------------------------------------ operating points


def proportion_ci(
    successes: int,
    n: int,
    *,
    confidence: float = 0.95,
    method: Literal["wilson", "clopper-pearson"] = "wilson",
) -> Estimate:
    """A binomial proportion ``successes / n`` with a Wilson score or Clopper-Pearson
    (exact) interval (computed by :meth:`scipy.stats.binomtest`).

    Returns NaN (with a warning) when ``n == 0``.

    References
    ----------
    .. [1] Wilson EB. Probable inference, the law of succession, and statistical inference.
       J Am Stat Assoc 1927;22:209-12.
    .. [2] Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in
       the case of the binomial. Biometrika 1934;26:404-13.
    .. [3] Newcombe RG. Two-sided confidence intervals for the single proportion: comparison
       of seven methods. Stat Med 1998;17:857-72.

    Examples
    --------
    >>> print(proportion_ci(81, 263))
    0.308 [0.255, 0.366]
    """
    k = check_positive_int(successes, "successes", minimum=0)
    n = check_positive_int(n, "n", minimum=0)
    confidence = check_confidence(confidence)
    if k > n:
        raise InvalidInputError(f"successes ({k}) cannot exceed n ({n})")
    kinds = {"wilson": "wilson", "clopper-pearson": "exact"}
    if method not in kinds:
        raise InvalidInputError(f"method must be one of {sorted(kinds)}; got {method!r}")
    label = f"{'Wilson score' if method == 'wilson' else 'Clopper-Pearson exact'} ({confidence:.0%})"
    if n == 0:
        warn_undefined("a proportion of 0 cases is undefined; returning NaN")
        return Estimate(_NAN, _NAN, _NAN, 0, label)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method=kinds[method])
    return Estimate(k / n, ci.low, ci.high, n, label)


def youden_threshold(y_true: Any, y_score: Any) -> float:
    """The threshold maximising Youden's J = sensitivity + specificity - 1 on the ROC
    curve (ties: the highest such threshold). NaN with a warning for one class only.

    References
    ----------
    .. [1] Youden WJ. Index for rating diagnostic tests. Cancer 1950;3(1):32-5.
    """
    y, s = _check_xy(y_true, y_score)
    if y.min() == y.max():
        warn_undefined("Youden's threshold is undefined with one class in y_true; returning NaN")
        return _NAN
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    finite = np.isfinite(thr)
    j = np.where(finite, tpr - fpr, -np.inf)
    return float(thr[int(np.argmax(j))])


def threshold_metrics(
    y_true: Any,
    y_score: Any,
    *,
    threshold: float | Literal["youden"] = "youden",
    confidence: float = 0.95,
    ci_method: Literal["wilson", "clopper-pearson"] = "wilson",
) -> ThresholdMetrics:
    """Sensitivity, specificity, PPV and NPV at a threshold, with binomial intervals.

    A case is called positive when ``y_score >= threshold``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_score : array-like of shape (n_samples,)
    threshold : float or "youden", default "youden"
        The operating point, or Youden's optimum on these data (:func:`youden_threshold`;
        note that choosing it on the evaluation data is optimistic).
    confidence : float, default 0.95
    ci_method : {"wilson", "clopper-pearson"}, default "wilson"

    Returns
    -------
    ThresholdMetrics
        A metric whose denominator is 0 (e.g. PPV with no positive calls) is NaN with a
        warning.

    References
    ----------
    .. [1] Altman DG, Bland JM. Diagnostic tests 1: sensitivity and specificity.
       BMJ 1994;308:1552.
    .. [2] Wilson EB. J Am Stat Assoc 1927;22:209-12.

    Examples
    --------
    >>> r = threshold_metrics([0, 0, 1, 1], [0.2, 0.6, 0.7, 0.9], threshold=0.5)
    >>> r.tp, r.fp, r.tn, r.fn, r.sensitivity.estimate, r.ppv.estimate
    (2, 1, 1, 0, 1.0, 0.6666666666666666)
    """
    y, s = _check_xy(y_true, y_score)
    if isinstance(threshold, str):
        if threshold != "youden":
            raise InvalidInputError(f"threshold must be a number or 'youden'; got {threshold!r}")
        t = youden_threshold(y, s)
    else:
        t = float(threshold)
        if not np.isfinite(t):
            raise InvalidInputError(f"threshold must be finite; got {threshold!r}")
    call = s >= t if np.isfinite(t) else np.zeros_like(y, dtype=bool)
    tp = int(np.sum(call & (y == 1)))
    fp = int(np.sum(call & (y == 0)))
    tn = int(np.sum(~call & (y == 0)))
    fn = int(np.sum(~call & (y == 1)))

    def prop(k: int, d: int, what: str) -> Estimate:
        if d == 0:
            warn_undefined(f"{what} is undefined at threshold {t:g} (denominator 0); returning NaN")
            return Estimate(_NAN, _NAN, _NAN, 0, ci_method)
        return proportion_ci(k, d, confidence=confidence, method=ci_method)

    return ThresholdMetrics(
        threshold=t,
        sensitivity=prop(tp, tp + fn, "sensitivity"),
        specificity=prop(tn, tn + fp, "specificity"),
        ppv=prop(tp, tp + fp, "PPV"),
        npv=prop(tn, tn + fn, "NPV"),
        tp=tp, fp=fp, tn=tn, fn=fn,
    )


# ------------------------------------------------------------------------ calibration


def reliability_diagram(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> ReliabilityDiagram:
    """Binned calibration of predicted probabilities (reliability diagram, ECE, MCE).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_prob : array-like of shape (n_samples,)
        Probabilities in [0, 1].
    n_bins : int, default 10
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width bins on [0, 1], or bins with (about) equal counts. Bins are closed on
        the right except the first, which also holds 0 — as
        :func:`sklearn.calibration.calibration_curve` bins them.

    Returns
    -------
    ReliabilityDiagram
        Per bin: count, mean predicted probability and fraction of positives (NaN when
        empty); the expected calibration error (count-weighted mean gap) and the maximum gap.

    References
    ----------
    .. [1] Naeini MP, Cooper GF, Hauskrecht M. Obtaining well calibrated probabilities using
       Bayesian binning. AAAI 2015:2901-7.
    .. [2] Guo C, Pleiss G, Sun Y, Weinberger KQ. On calibration of modern neural networks.
       ICML 2017.
    """
    y, p = _check_xy(y_true, y_prob, score_name="y_prob", unit=True)
    n_bins = check_positive_int(n_bins, "n_bins")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1))
    else:
        raise InvalidInputError(f"strategy must be 'uniform' or 'quantile'; got {strategy!r}")
    # the same binning as sklearn.calibration.calibration_curve
    idx = np.searchsorted(edges[1:-1], p, side="left")
    counts = np.bincount(idx, minlength=n_bins).astype(np.int64)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.where(counts > 0, sum_p / counts, np.nan)
        frac = np.where(counts > 0, sum_y / counts, np.nan)
    gaps = np.abs(frac - mean_p)
    nonempty = counts > 0
    ece = float(np.sum(counts[nonempty] * gaps[nonempty]) / y.shape[0])
    mce = float(np.max(gaps[nonempty]))
    return ReliabilityDiagram(edges, counts, mean_p, frac, ece, mce)


def expected_calibration_error(
    y_true: Any,
    y_prob: Any,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> float:
    """Expected calibration error: ``sum_b (n_b / n) |mean(y)_b - mean(p)_b|`` over bins.

    See :func:`reliability_diagram` for the bins and references.

    Examples
    --------
    >>> round(expected_calibration_error([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3], n_bins=2), 6)
    0.175
    """
    return reliability_diagram(y_true, y_prob, n_bins=n_bins, strategy=strategy).ece


def roc_curve_points(y_true: Any, y_score: Any, *, drop_intermediate: bool = True) -> RocCurve:
    """ROC curve points from :func:`sklearn.metrics.roc_curve` and the AUC.

    NaN AUC and empty arrays (with a warning) when ``y_true`` has one class only.
    """
    y, s = _check_xy(y_true, y_score)
    if y.min() == y.max():
        warn_undefined("a ROC curve is undefined with one class in y_true")
        empty = np.empty(0)
        return RocCurve(empty, empty, empty, _NAN)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=drop_intermediate)
    return RocCurve(fpr, tpr, thr, float(roc_auc_score(y, s)))

