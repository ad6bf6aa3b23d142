"""Diagnostic accuracy: numbers against sklearn/scipy/statsmodels and textbook examples."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve
from statsmodels.stats.proportion import proportion_confint

from cxrpilot.errors import CxrpilotError, InvalidInputError
from cxrpilot.evaluation import (
    Estimate,
    UndefinedMetricWarning,
    delong_test,
    expected_calibration_error,
    proportion_ci,
    reliability_diagram,
    roc_auc_by_finding,
    roc_auc_ci,
    roc_curve_points,
    threshold_metrics,
    youden_threshold,
)
from cxrpilot.evaluation._diagnostic import _bootstrap_auc_from_counts


def binormal(rng: np.random.Generator, m: int, n: int, d: float) -> tuple[np.ndarray, np.ndarray]:
    """m positives ~ N(d, 1), n negatives ~ N(0, 1); true AUC = Phi(d / sqrt 2)."""
    y = np.r_[np.ones(m, int), np.zeros(n, int)]
    s = np.r_[rng.normal(d, 1, m), rng.normal(0, 1, n)]
    return y, s


def hanley_mcneil_ct() -> tuple[np.ndarray, np.ndarray]:
    """Hanley & McNeil (1982), Radiology 143:29, table 1: 109 CT images rated 1-5.

    Normal (58): 33, 6, 6, 11, 2; abnormal (51): 3, 2, 2, 11, 33. Published AUC 0.893,
    standard error 0.032.
    """
    normal, abnormal = [33, 6, 6, 11, 2], [3, 2, 2, 11, 33]
    score = np.r_[np.repeat(np.arange(1, 6), normal), np.repeat(np.arange(1, 6), abnormal)]
    y = np.r_[np.zeros(sum(normal), int), np.ones(sum(abnormal), int)]
    return y, score.astype(float)


# ------------------------------------------------------------------------- ROC AUC CI


def test_auc_estimate_matches_sklearn_and_is_reproducible():
    y, s = binormal(np.random.default_rng(1), 40, 60, 1.0)
    a = roc_auc_ci(y, s, n_bootstrap=500, seed=3)
    b = roc_auc_ci(y, s, n_bootstrap=500, seed=3)
    assert isinstance(a, Estimate) and a == b
    assert a.estimate == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert a.n == 100 and a.ci_low < a.estimate < a.ci_high
    assert "stratified bootstrap" in a.method
    assert roc_auc_ci(y, s, n_bootstrap=500, seed=4) != a


def test_hanley_mcneil_published_auc_and_se():
    y, s = hanley_mcneil_ct()
    est = roc_auc_ci(y, s, method="delong")
    assert est.estimate == pytest.approx(0.893, abs=5e-4)
    se = (est.ci_high - est.ci_low) / (2 * stats.norm.ppf(0.975))
    assert se == pytest.approx(0.032, abs=0.002)  # DeLong vs Hanley-McNeil's approximation
    boot = roc_auc_ci(y, s, n_bootstrap=2000)
    assert boot.ci_low == pytest.approx(est.ci_low, abs=0.015)
    assert boot.ci_high == pytest.approx(est.ci_high, abs=0.015)


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_replicate_auc_equals_sklearn_on_resampled_data(ties):
    rng = np.random.default_rng(7)
    y, s = binormal(rng, 23, 31, 0.8)
    if ties:
        s = np.round(s)  # many ties within and across classes
    pos, neg = s[y == 1], s[y == 0]
    order = np.argsort(neg)
    for _ in range(20):
        ip, ineg = rng.integers(0, pos.size, pos.size), rng.integers(0, neg.size, neg.size)
        w_pos = np.bincount(ip, minlength=pos.size)[None, :].astype(float)
        w_neg = np.bincount(ineg, minlength=neg.size)[order][None, :].astype(float)
        got = _bootstrap_auc_from_counts(pos, neg[order], w_pos, w_neg)[0]
        yy = np.r_[np.ones(pos.size), np.zeros(neg.size)]
        want = roc_auc_score(yy, np.r_[pos[ip], neg[ineg]])
        assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.slow
def test_bootstrap_ci_coverage_near_nominal():
    """Percentile intervals of the stratified bootstrap cover the true AUC ~95 % of the time."""
    rng = np.random.default_rng(2024)
    d = 1.0
    truth = stats.norm.cdf(d / math.sqrt(2))
    reps, hits_boot, hits_delong = 400, 0, 0
    for r in range(reps):
        y, s = binormal(rng, 60, 90, d)
        est = roc_auc_ci(y, s, n_bootstrap=500, seed=r)
        hits_boot += est.ci_low <= truth <= est.ci_high
        dl = roc_auc_ci(y, s, method="delong")
        hits_delong += dl.ci_low <= truth <= dl.ci_high
    assert 0.915 <= hits_boot / reps <= 0.975, hits_boot / reps
    assert 0.915 <= hits_delong / reps <= 0.975, hits_delong / reps


def test_one_class_warns_and_returns_nan():
    with pytest.warns(UndefinedMetricWarning, match="only negatives"):
        est = roc_auc_ci([0, 0, 0], [0.1, 0.2, 0.3])
    assert math.isnan(est.estimate) and math.isnan(est.ci_low) and est.n == 3


@pytest.mark.parametrize(
    ("y_true", "y_score", "kwargs", "match"),
    [
        ([0, 1, 2], [0.1, 0.2, 0.3], {}, r"only 0 and 1; got value\(s\) \[2\]"),
        ([0, 1, 1], [0.1, 0.2], {}, "y_score has 2 values but y_true has 3"),
        ([0, 1], [0.1, float("nan")], {}, "NaN or infinite"),
        ([[0, 1], [1, 0]], [[0.1, 0.2], [0.3, 0.4]], {}, r"1-D; got y_true.shape=\(2, 2\)"),
        (["a", "b"], [0.1, 0.2], {}, "numbers 0/1 or booleans"),
        ([], [], {}, "empty"),
        ([0, 1], [0.1, 0.2], {"confidence": 95}, r"confidence must be in \(0, 1\)"),
        ([0, 1], [0.1, 0.2], {"n_bootstrap": 0}, "n_bootstrap must be an integer >= 1"),
        ([0, 1], [0.1, 0.2], {"method": "hanley"}, "method must be 'bootstrap' or 'delong'"),
    ],
)
def test_roc_auc_ci_rejects_bad_input(y_true, y_score, kwargs, match):
    with pytest.raises(InvalidInputError, match=match) as info:
        roc_auc_ci(y_true, y_score, **kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, CxrpilotError)


def test_roc_auc_by_finding_skips_unknown_truth():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (80, 2)).astype(float)
    s = y + rng.normal(0, 1, y.shape)
    y[:10, 1] = np.nan
    out = roc_auc_by_finding(y, s, labels=["Edema", "Pneumothorax"], n_bootstrap=100)
    assert list(out) == ["Edema", "Pneumothorax"]
    assert out["Edema"].n == 80 and out["Pneumothorax"].n == 70
    assert out["Pneumothorax"].estimate == pytest.approx(roc_auc_score(y[10:, 1], s[10:, 1]))
    with pytest.raises(InvalidInputError, match=r"\(n_samples, 3\) for 3 labels"):
        roc_auc_by_finding(y, s, labels=["a", "b", "c"])


# ------------------------------------------------------------------------------ DeLong


def test_delong_hand_computed_example():
    """3 positives, 3 negatives, worked by hand from the structural components:
    AUC_a = 8/9, AUC_b = 7/9, Var(a) = 2/81, Var(b) = 5/81, Cov = -1/162,
    Var(a - b) = 8/81, so z = (1/9) / (sqrt(8)/9) = 1/sqrt(8)."""
    y = [0, 0, 0, 1, 1, 1]
    a = [0.1, 0.2, 0.6, 0.5, 0.8, 0.9]
    b = [0.1, 0.6, 0.2, 0.3, 0.5, 0.9]
    r = delong_test(y, a, b)
    assert r.auc_a == pytest.approx(8 / 9) and r.auc_b == pytest.approx(7 / 9)
    assert r.z == pytest.approx(1 / math.sqrt(8), abs=1e-12)
    assert r.p == pytest.approx(2 * stats.norm.sf(1 / math.sqrt(8)), abs=1e-12)
    _auc_a, _auc_b, _z, _p = r  # unpacks as a 4-tuple
    se = (8 / 9 - roc_auc_ci(y, a, method="delong").ci_low) / stats.norm.ppf(0.975)
    assert se == pytest.approx(math.sqrt(2) / 9, abs=1e-12)


def naive_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong et al. (1988) written out with the O(m n) kernel psi(x, y)."""
    comps = []
    for s in (a, b):
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        comps.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    m, n = (y == 1).sum(), (y == 0).sum()
    s10 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    s01 = np.cov(np.vstack([comps[0][2], comps[1][2]]))
    s = s10 / m + s01 / n
    z = (comps[0][0] - comps[1][0]) / math.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    return z, 2 * stats.norm.sf(abs(z))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_fast_equals_direct_definition(seed):
    rng = np.random.default_rng(seed)
    y, a = binormal(rng, 37, 53, 1.2)
    b = 0.6 * a + rng.normal(0, 0.8, a.size)
    b = np.round(b, 1)  # ties
    r = delong_test(y, a, b)
    z, p = naive_delong(y, a, b)
    assert r.auc_a == pytest.approx(roc_auc_score(y, a)) and r.auc_b == pytest.approx(roc_auc_score(y, b))
    assert r.z == pytest.approx(z, rel=1e-10) and r.p == pytest.approx(p, rel=1e-8)


def test_delong_se_agrees_with_paired_bootstrap():
    rng = np.random.default_rng(11)
    y, a = binormal(rng, 150, 150, 1.3)
    b = 0.7 * a + rng.normal(0, 0.9, a.size)
    r = delong_test(y, a, b)
    se_delong = (r.auc_a - r.auc_b) / r.z
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    idx = np.hstack([rng.choice(pos, (1000, pos.size)), rng.choice(neg, (1000, neg.size))])

    def auc_rows(s: np.ndarray) -> np.ndarray:  # Mann-Whitney U / (m n), one row per replicate
        ranks = stats.rankdata(s[idx], axis=1)
        return (ranks[:, :pos.size].sum(1) - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size)

    diffs = auc_rows(a) - auc_rows(b)
    assert roc_auc_score(y[idx[0]], a[idx[0]]) == pytest.approx(auc_rows(a)[0])
    assert se_delong == pytest.approx(np.std(diffs, ddof=1), rel=0.12)


def test_delong_null_rejects_about_five_percent():
    rng = np.random.default_rng(5)
    rejections = 0
    for _ in range(300):
        y, base = binormal(rng, 40, 40, 1.0)
        a = base + rng.normal(0, 1, base.size)
        b = base + rng.normal(0, 1, base.size)
        rejections += delong_test(y, a, b).p < 0.05
    assert 0.02 <= rejections / 300 <= 0.09


def test_delong_undefined_cases_warn():
    with pytest.warns(UndefinedMetricWarning, match="identically"):
        r = delong_test([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4])
    assert r.auc_a == r.auc_b == 1.0 and math.isnan(r.z) and math.isnan(r.p)
    with pytest.warns(UndefinedMetricWarning, match=">= 2 cases of each class"):
        r = delong_test([0, 0, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])
    assert math.isnan(r.p)
    with pytest.raises(InvalidInputError, match="score_b has 2 values"):
        delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2])


# --------------------------------------------------------------------- operating points


@pytest.mark.parametrize(
    ("k", "n", "wilson", "exact"),
    [  # Newcombe (1998) Stat Med 17:857, table II (methods 3 and 5)
        (81, 263, (0.2553, 0.3662), (0.2527, 0.3676)),
        (15, 148, (0.0624, 0.1605), (0.0578, 0.1617)),
        (0, 20, (0.0, 0.1611), (0.0, 0.1684)),
        (1, 29, (0.0061, 0.1718), (0.0009, 0.1776)),
    ],
)
def test_proportion_ci_textbook_and_statsmodels(k, n, wilson, exact):
    w = proportion_ci(k, n)
    e = proportion_ci(k, n, method="clopper-pearson")
    assert w.estimate == e.estimate == k / n and w.n == n
    assert (w.ci_low, w.ci_high) == pytest.approx(wilson, abs=1e-4)
    assert (e.ci_low, e.ci_high) == pytest.approx(exact, abs=1e-4)
    assert (w.ci_low, w.ci_high) == pytest.approx(proportion_confint(k, n, method="wilson"), abs=1e-10)
    assert (e.ci_low, e.ci_high) == pytest.approx(proportion_confint(k, n, method="beta"), abs=1e-8)


@pytest.mark.parametrize(
    ("k", "n", "kwargs", "match"),
    [(5, 3, {}, r"successes \(5\) cannot exceed n \(3\)"), (-1, 3, {}, "successes must be an integer"),
     (1, 3, {"method": "wald"}, "method must be one of")],
)
def test_proportion_ci_rejects_bad_input(k, n, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        proportion_ci(k, n, **kwargs)


def test_threshold_metrics_altman_bland_liver_scan():
    """Altman & Bland (1994) BMJ 308:1552: liver scan vs pathology, TP 231, FN 27,
    FP 32, TN 54: sensitivity 0.895, specificity 0.628, PPV 0.878, NPV 0.667."""
    y = np.r_[np.ones(231), np.ones(27), np.zeros(32), np.zeros(54)].astype(int)
    s = np.r_[np.ones(231), np.zeros(27), np.ones(32), np.zeros(54)]
    r = threshold_metrics(y, s, threshold=0.5)
    assert (r.tp, r.fn, r.fp, r.tn) == (231, 27, 32, 54)
    got = [round(e.estimate, 3) for e in (r.sensitivity, r.specificity, r.ppv, r.npv)]
    assert got == [0.895, 0.628, 0.878, 0.667]
    assert (r.sensitivity.ci_low, r.sensitivity.ci_high) == pytest.approx(
        proportion_confint(231, 258, method="wilson"))


def test_threshold_metrics_youden_matches_brute_force_and_sklearn_confusion():
    rng = np.random.default_rng(3)
    y, s = binormal(rng, 70, 130, 1.1)
    t = youden_threshold(y, s)
    best = max(np.unique(s), key=lambda c: (np.mean(s[y == 1] >= c) - np.mean(s[y == 0] >= c), c))
    assert t == best
    r = threshold_metrics(y, s)
    tn, fp, fn, tp = confusion_matrix(y, s >= t).ravel()
    assert (r.tn, r.fp, r.fn, r.tp) == (tn, fp, fn, tp) and r.threshold == t


def test_threshold_metrics_zero_denominator_warns():
    with pytest.warns(UndefinedMetricWarning, match="PPV is undefined"):
        r = threshold_metrics([0, 1, 1], [0.1, 0.2, 0.3], threshold=0.9)
    assert math.isnan(r.ppv.estimate) and r.sensitivity.estimate == 0.0
    with pytest.raises(InvalidInputError, match="threshold must be a number or 'youden'"):
        threshold_metrics([0, 1], [0.1, 0.2], threshold="best")


# -------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_diagram_matches_sklearn_calibration_curve(strategy):
    rng = np.random.default_rng(9)
    p = rng.beta(2, 3, 500)
    y = (rng.random(500) < p**1.3).astype(int)
    d = reliability_diagram(y, p, n_bins=8, strategy=strategy)
    frac, mean = calibration_curve(y, p, n_bins=8, strategy=strategy)
    keep = d.counts > 0
    np.testing.assert_allclose(d.fraction_positive[keep], frac, atol=1e-12)
    np.testing.assert_allclose(d.mean_predicted[keep], mean, atol=1e-12)
    assert d.counts.sum() == 500
    ece = np.sum(d.counts[keep] * np.abs(frac - mean)) / 500
    assert d.ece == pytest.approx(ece) and expected_calibration_error(y, p, n_bins=8, strategy=strategy) == d.ece


def test_ece_of_perfectly_calibrated_and_constant_predictions():
    assert expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.0
    assert expected_calibration_error([1, 1, 1, 1], [0.25, 0.25, 0.25, 0.25]) == pytest.approx(0.75)
    with pytest.raises(InvalidInputError, match=r"probabilities in \[0, 1\]; got range \[0, 1.5\]"):
        expected_calibration_error([0, 1], [0.0, 1.5])


def test_roc_curve_points_delegate_to_sklearn():
    rng = np.random.default_rng(4)
    y, s = binormal(rng, 30, 30, 1.0)
    c = roc_curve_points(y, s)
    fpr, tpr, _thr = roc_curve(y, s)
    np.testing.assert_array_equal(c.fpr, fpr)
    np.testing.assert_array_equal(c.tpr, tpr)
    assert c.auc == pytest.approx(roc_auc_score(y, s))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert c.to_dict()["auc"] == pytest.approx(c.auc)
