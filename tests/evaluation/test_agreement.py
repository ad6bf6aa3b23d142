"""Ordinal tests, the k-of-n preference rule, Fleiss' kappa and ICC: textbook values,
scipy/statsmodels, constructed panels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from cxrpilot.errors import InvalidInputError
from cxrpilot.evaluation import (
    UndefinedMetricWarning,
    compare_ordinal,
    fleiss_kappa_ci,
    icc,
    majority_preference,
    preference_share,
)

# Shrout & Fleiss (1979), table 2: 6 targets rated by 4 judges
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]

# Fleiss (1971) as tabulated on Wikipedia's "Fleiss' kappa": 10 subjects, 14 raters, 5
# categories; kappa = 0.210
FLEISS_TABLE = np.array([
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
])


# ------------------------------------------------------------------------ k of n rule


@pytest.mark.parametrize(
    ("panel", "k", "expected"),
    [
        ([[1, 1, 1, 0, 0]], 3, ["a"]),  # exactly k for A
        ([[1, 1, 0.5, 0, 0]], 3, ["none"]),  # 2 - 2 with one abstention
        ([[0, 0, 0, 0, 1]], 3, ["b"]),
        ([[1, 1, 1, 1, 1]], 5, ["a"]),  # unanimity rule
        ([[1, 1, 1, 1, 0]], 5, ["none"]),
        ([[0.5, 0.5, 0.5, 0.5, 0.5]], 3, ["none"]),
        ([[1, 1, 1, np.nan, np.nan]], 3, ["a"]),  # a case rated by 3 only
        ([[1, 1, np.nan, 0, 0]], 3, ["none"]),
        ([[1, 0, 1], [0, 0, 1], [0.5, 1, 1]], 2, ["a", "b", "a"]),
    ],
)
def test_majority_preference_constructed_panels(panel, k, expected):
    assert majority_preference(panel, k=k).tolist() == expected


@pytest.mark.parametrize(
    ("panel", "k", "match"),
    [
        ([[1, 0, 1, 0]], 2, r"k=2 is not a majority of 4 evaluators; .* use k >= 3"),
        ([[1, 2, 1]], 2, r"votes must be 1, 0, 0.5 or NaN; got \[2.0\]"),
        ([1, 0, 1], 2, r"votes must be 2-D"),
        ([[1, 0, 1]], 0, "k must be an integer >= 1"),
    ],
)
def test_majority_preference_rejects(panel, k, match):
    with pytest.raises(InvalidInputError, match=match):
        majority_preference(panel, k=k)


def test_preference_share_counts_and_clopper_pearson():
    """20 cases: 11 AI by >= 3 of 5, 5 SCP, 4 without consensus."""
    panel = [[1, 1, 1, 0, 0.5]] * 11 + [[0, 0, 0, 1, 1]] * 5 + [[1, 1, 0, 0, 0.5]] * 4
    r = preference_share(panel, k=3, ci_method="clopper-pearson")
    assert r.n_cases == 20 and r.n_evaluators == 5
    assert (r.prefer_a.estimate, r.prefer_b.estimate, r.no_consensus.estimate) == (0.55, 0.25, 0.20)
    ci = stats.binomtest(11, 20).proportion_ci(method="exact")
    assert (r.prefer_a.ci_low, r.prefer_a.ci_high) == pytest.approx((ci.low, ci.high))
    assert r.prefer_a_among_consensus.estimate == pytest.approx(11 / 16)
    assert r.test.p == pytest.approx(stats.binomtest(11, 16, 0.5).pvalue)


def test_preference_share_drops_incomplete_panels_with_a_warning():
    panel = [[1, 1, 1, 0, 0], [1, 1, 1, np.nan, np.nan], [0, 0, 0, 0, 0]]
    with pytest.warns(UserWarning, match="1 case\\(s\\) not rated by exactly 5 evaluators"):
        r = preference_share(panel, k=3, n_evaluators=5)
    assert r.n_cases == 2 and r.prefer_a.estimate == 0.5


# ----------------------------------------------------------------------- ordinal tests


def test_compare_ordinal_against_scipy():
    rng = np.random.default_rng(0)
    a = rng.integers(1, 6, 80)
    b = np.clip(a - rng.integers(-1, 3, 80), 1, 5)
    paired = compare_ordinal(a, b, paired=True)
    want = stats.wilcoxon(a, b, zero_method="wilcox")
    assert (paired.statistic, paired.p) == pytest.approx((want.statistic, want.pvalue))
    assert paired.method == "Wilcoxon signed-rank" and paired.n == 80
    unpaired = compare_ordinal(a, b, paired=False)
    want = stats.mannwhitneyu(a, b, alternative="two-sided")
    assert (unpaired.statistic, unpaired.p) == pytest.approx((want.statistic, want.pvalue))


def test_wilcoxon_textbook_example():
    """Exact null distribution by hand: 8 distinct positive differences give T = 0, and
    only 2 of the 2**8 equally likely sign patterns are as extreme: p = 2 / 256."""
    a = np.arange(1, 9) + 10.0
    b = np.full(8, 10.0)
    r = compare_ordinal(a, b, paired=True)
    assert r.statistic == 0.0 and r.p == pytest.approx(2 / 2**8)


def test_compare_ordinal_undefined_and_bad_input():
    with pytest.warns(UndefinedMetricWarning, match="all 3 paired differences are 0"):
        r = compare_ordinal([3, 4, 5], [3, 4, 5], paired=True)
    assert math.isnan(r.p)
    with pytest.raises(InvalidInputError, match="paired scores must have the same length; got 3 and 2"):
        compare_ordinal([1, 2, 3], [1, 2], paired=True)


# --------------------------------------------------------------------------- agreement


@pytest.mark.parametrize(
    ("kind", "estimate", "ci"),
    [  # Shrout & Fleiss (1979) table 4; intervals as R psych::ICC reports them
        ("ICC1", 0.17, (-0.13, 0.72)),
        ("ICC2", 0.29, (0.02, 0.76)),
        ("ICC3", 0.71, (0.34, 0.95)),
        ("ICC1k", 0.44, None),
        ("ICC2k", 0.62, (0.07, 0.93)),
        ("ICC3k", 0.91, (0.68, 0.99)),
    ],
)
def test_icc_shrout_fleiss(kind, estimate, ci):
    e = icc(SHROUT_FLEISS, kind=kind)
    assert round(e.estimate, 2) == estimate and e.n == 6
    if ci is not None:
        assert (round(e.ci_low, 2), round(e.ci_high, 2)) == pytest.approx(ci, abs=0.011)


def test_icc_perfect_agreement_and_rejects():
    x = np.array([[1, 1, 1], [3, 3, 3], [5, 5, 5], [2, 2, 2]], float)
    assert icc(x, kind="ICC2").estimate == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="kind must be one of ICC1, ICC2"):
        icc(x, kind="ICC4")
    with pytest.warns(UndefinedMetricWarning, match=">= 2 complete subjects"):
        assert math.isnan(icc([[1, 2]], kind="ICC2").estimate)


def test_fleiss_kappa_textbook_and_statsmodels():
    ratings = np.array([np.repeat(np.arange(5), row) for row in FLEISS_TABLE])
    e = fleiss_kappa_ci(ratings, n_bootstrap=300)
    assert round(e.estimate, 3) == 0.210
    assert e.estimate == pytest.approx(fleiss_kappa(FLEISS_TABLE))
    assert e.ci_low < e.estimate < e.ci_high and e.n == 10
    labels = np.array([["2b", "1", "1"], ["1", "1", "1"], ["2a", "2a", "1"], ["3b", "2b", "2b"]])
    table, _ = aggregate_raters(np.unique(labels, return_inverse=True)[1].reshape(labels.shape))
    assert fleiss_kappa_ci(labels, n_bootstrap=50).estimate == pytest.approx(fleiss_kappa(table))


def test_fleiss_kappa_undefined():
    with pytest.warns(UndefinedMetricWarning, match="every rating is the same category"):
        assert math.isnan(fleiss_kappa_ci([[1, 1], [1, 1]]).estimate)
