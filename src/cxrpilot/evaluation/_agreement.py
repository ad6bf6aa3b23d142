"""Ratings of reports by several evaluators: ordinal comparisons between arms, the k-of-n
pairwise preference rule, and inter-rater agreement (Fleiss' kappa, ICC)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from cxrpilot.errors import InvalidInputError, require

from ._diagnostic import proportion_ci
from ._result import Estimate, JsonFields
from ._validation import check_confidence, check_positive_int, warn_undefined

_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class TestResult(JsonFields):
    """A hypothesis test: statistic, two-sided p-value, method and the units compared."""

    statistic: float
    p: float
    method: str
    n: int


def compare_ordinal(a: Any, b: Any, *, paired: bool) -> TestResult:
    """Compare ordinal scores of two arms: Wilcoxon signed-rank test when ``paired`` (``a[i]``
    and ``b[i]`` rate the same unit), Mann-Whitney U test otherwise (two-sided; both from
    :mod:`scipy.stats`).

    Paired: zero differences are dropped (Wilcoxon's original method, ``zero_method="wilcox"``)
    and the normal approximation with tie correction is used when there are ties or zeros.
    Returns NaN with a warning when there is nothing to compare (e.g. all differences zero).

    References
    ----------
    .. [1] Wilcoxon F. Individual comparisons by ranking methods. Biometrics Bull 1945;1:80-3.
    .. [2] Mann HB, Whitney DR. On a test of whether one of two random variables is
       stochastically larger than the other. Ann Math Stat 1947;18:50-60.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.ndim != 1 or y.ndim != 1:
        raise InvalidInputError(f"a and b must be 1-D; got shapes {x.shape} and {y.shape}")
    if paired:
        if x.shape != y.shape:
            raise InvalidInputError(f"paired scores must have the same length; got {x.size} and {y.size}")
        keep = ~(np.isnan(x) | np.isnan(y))
        x, y = x[keep], y[keep]
        d = x - y
        if np.count_nonzero(d) == 0:
            warn_undefined(f"Wilcoxon signed-rank test is undefined: all {d.size} paired differences are 0")
            return TestResult(_NAN, _NAN, "Wilcoxon signed-rank", int(d.size))
        res = stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided")
        return TestResult(float(res.statistic), float(res.pvalue), "Wilcoxon signed-rank", int(d.size))
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size == 0 or y.size == 0:
        warn_undefined("Mann-Whitney U test is undefined: an arm has no scores")
        return TestResult(_NAN, _NAN, "Mann-Whitney U", int(x.size + y.size))
    res = stats.mannwhitneyu(x, y, alternative="two-sided")
    return TestResult(float(res.statistic), float(res.pvalue), "Mann-Whitney U", int(x.size + y.size))


# --------------------------------------------------------------------- k-of-n preference


def majority_preference(votes: Any, *, k: int) -> np.ndarray:
    """Apply the "k of n evaluators" rule to a panel of pairwise preferences.

    Parameters
    ----------
    votes : array-like of shape (n_cases, n_evaluators)
        Per case and evaluator: 1 = report A preferred, 0 = report B preferred,
        0.5 = no preference, NaN = not rated.
    k : int
        How many evaluators must prefer the same report.

    Returns
    -------
    ndarray of str, shape (n_cases,)
        ``"a"`` when at least ``k`` evaluators preferred A, ``"b"`` when at least ``k``
        preferred B, ``"none"`` otherwise. ``k`` must be more than half the largest panel
        so that a case cannot be both.

    Examples
    --------
    >>> majority_preference([[1, 1, 1, 0, 0], [1, 1, 0.5, 0, 0], [0, 0, 0, 1, 0.5]], k=3).tolist()
    ['a', 'none', 'b']
    """
    v = np.asarray(votes, dtype=float)
    if v.ndim != 2:
        raise InvalidInputError(f"votes must be 2-D (n_cases, n_evaluators); got shape {v.shape}")
    bad = ~np.isnan(v) & ~np.isin(v, (0.0, 0.5, 1.0))
    if bad.any():
        raise InvalidInputError(f"votes must be 1, 0, 0.5 or NaN; got {np.unique(v[bad])[:5].tolist()}")
    k = check_positive_int(k, "k")
    panel = int(np.max(np.sum(~np.isnan(v), axis=1))) if v.size else 0
    if 2 * k <= panel:
        raise InvalidInputError(f"k={k} is not a majority of {panel} evaluators; a case could be "
                                f"preferred both ways; use k >= {panel // 2 + 1}")
    a = np.sum(v == 1.0, axis=1)
    b = np.sum(v == 0.0, axis=1)
    return np.where(a >= k, "a", np.where(b >= k, "b", "none"))


@dataclass(frozen=True)
class PreferenceResult(JsonFields):
    """Shares of cases under the k-of-n rule.

    Attributes
    ----------
    k, n_evaluators : int
        The rule (at least k of the n evaluators of a case).
    n_cases : int
    prefer_a, prefer_b, no_consensus : Estimate
        Shares of all cases, each with a binomial interval.
    prefer_a_among_consensus : Estimate
        Share of A among cases that reached a consensus.
    test : TestResult
        Exact two-sided binomial test of ``prefer_a_among_consensus`` against 0.5.
    """

    k: int
    n_evaluators: int
    n_cases: int
    prefer_a: Estimate
    prefer_b: Estimate
    no_consensus: Estimate
    prefer_a_among_consensus: Estimate
    test: TestResult


def preference_share(
    votes: Any,
    *,
    k: int,
    n_evaluators: int | None = None,
    confidence: float = 0.95,
    ci_method: Literal["wilson", "clopper-pearson"] = "wilson",
) -> PreferenceResult:
    """Pairwise preference share under the "k of n evaluators" majority rule.

    Parameters
    ----------
    votes : array-like of shape (n_cases, n_evaluators)
        As in :func:`majority_preference`.
    k : int
        Evaluators that must agree (the published trial: 3 of 5).
    n_evaluators : int, optional
        Panel size; cases rated by a different number of evaluators are left out (with a
        warning). Default: no check.
    confidence : float, default 0.95
    ci_method : {"wilson", "clopper-pearson"}, default "wilson"

    Returns
    -------
    PreferenceResult

    References
    ----------
    .. [1] Wilson EB. J Am Stat Assoc 1927;22:209-12.
    .. [2] Clopper CJ, Pearson ES. Biometrika 1934;26:404-13.
    """
    v = np.asarray(votes, dtype=float)
    confidence = check_confidence(confidence)
    if v.ndim != 2:
        raise InvalidInputError(f"votes must be 2-D (n_cases, n_evaluators); got shape {v.shape}")
    rated = np.sum(~np.isnan(v), axis=1)
    if n_evaluators is not None:
        n_evaluators = check_positive_int(n_evaluators, "n_evaluators")
        keep = rated == n_evaluators
        if not keep.all():
            warnings.warn(f"{int((~keep).sum())} case(s) not rated by exactly {n_evaluators} evaluators "
                          "are left out of the preference share", UserWarning, stacklevel=2)
        v = v[keep]
    panel = n_evaluators if n_evaluators is not None else (int(rated.max()) if rated.size else 0)
    verdict = majority_preference(v, k=k)
    n = int(verdict.size)
    na, nb = int(np.sum(verdict == "a")), int(np.sum(verdict == "b"))
    kw = {"confidence": confidence, "method": ci_method}
    if n == 0:
        warn_undefined("no cases to compute a preference share on")
        nan = Estimate(_NAN, _NAN, _NAN, 0, ci_method)
        return PreferenceResult(k, panel, 0, nan, nan, nan, nan, TestResult(_NAN, _NAN, "binomial", 0))
    if na + nb:
        among = proportion_ci(na, na + nb, **kw)
        test = TestResult(float(na), float(stats.binomtest(na, na + nb, 0.5).pvalue), "exact binomial vs 0.5", na + nb)
    else:
        warn_undefined("no case reached a consensus; the share among consensus cases is NaN")
        among = Estimate(_NAN, _NAN, _NAN, 0, ci_method)
        test = TestResult(_NAN, _NAN, "exact binomial vs 0.5", 0)
    return PreferenceResult(
        k, panel, n,
        proportion_ci(na, n, **kw), proportion_ci(nb, n, **kw), proportion_ci(n - na - nb, n, **kw),
        among, test,
    )


# ------------------------------------------------------------------ inter-rater agreement


def _complete_rows(ratings: Any, name: str) -> np.ndarray:
    r = np.asarray(ratings, dtype=object)
    if r.ndim != 2:
        raise InvalidInputError(f"{name} must be 2-D (n_subjects, n_raters); got shape {r.shape}")
    return r


def fleiss_kappa_ci(
    ratings: Any,
    *,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Fleiss' kappa of categorical ratings (statsmodels), with a percentile bootstrap
    interval over subjects.

    Parameters
    ----------
    ratings : array-like of shape (n_subjects, n_raters)
        The category each rater gave each subject (any hashable values); every subject
        must have the same number of ratings (not necessarily by the same raters).

    Returns
    -------
    Estimate
        NaN with a warning for fewer than 2 subjects or raters, or one category only.

    References
    ----------
    .. [1] Fleiss JL. Measuring nominal scale agreement among many raters. Psychol Bull
       1971;76(5):378-82.
    """
    sm_ir: Any = require("statsmodels.stats.inter_rater", extra="eval")
    r = _complete_rows(ratings, "ratings")
    confidence = check_confidence(confidence)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    method = f"Fleiss; subject bootstrap percentile ({n_bootstrap}, {confidence:.0%})"
    if r.shape[0] < 2 or r.shape[1] < 2:
        warn_undefined(f"Fleiss' kappa needs >= 2 subjects and >= 2 raters; got shape {r.shape}")
        return Estimate(_NAN, _NAN, _NAN, r.shape[0], method)
    cats, codes = np.unique(r.astype(str), return_inverse=True)
    codes = codes.reshape(r.shape)
    if cats.size < 2:
        warn_undefined("Fleiss' kappa is undefined when every rating is the same category")
        return Estimate(_NAN, _NAN, _NAN, r.shape[0], method)
    table = np.stack([(codes == c).sum(axis=1) for c in range(cats.size)], axis=1)

    def kappa(t: np.ndarray) -> float:
        p = t.sum(0) / t.sum()
        if np.sum(p * p) >= 1.0:
            return _NAN
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(sm_ir.fleiss_kappa(t, method="fleiss"))

    est = kappa(table)
    rng = np.random.default_rng(seed)
    boots = np.array([kappa(table[rng.integers(0, table.shape[0], table.shape[0])]) for _ in range(n_bootstrap)])
    boots = boots[~np.isnan(boots)]
    alpha = 1 - confidence
    low, high = (np.quantile(boots, [alpha / 2, 1 - alpha / 2]) if boots.size else (_NAN, _NAN))
    return Estimate(est, float(low), float(high), r.shape[0], method)


_ICC_KINDS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")


def icc(
    ratings: Any,
    *,
    kind: Literal["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"] = "ICC2",
    confidence: float = 0.95,
) -> Estimate:
    """Intraclass correlation of numeric ratings (Shrout & Fleiss), with its F-based interval.

    Parameters
    ----------
    ratings : array-like of shape (n_subjects, n_raters)
        Every subject rated by every rater (rows with a NaN are dropped).
    kind : str, default "ICC2"
        ``ICC1`` one-way random; ``ICC2`` two-way random, absolute agreement (McGraw &
        Wong's ICC(A,1)); ``ICC3`` two-way mixed, consistency; the ``k`` forms are the
        reliability of the mean of the k raters.
    confidence : float, default 0.95

    Returns
    -------
    Estimate
        NaN with a warning for fewer than 2 subjects or raters, or zero variance.

    References
    ----------
    .. [1] Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater
       reliability. Psychol Bull 1979;86(2):420-8.
    .. [2] McGraw KO, Wong SP. Forming inferences about some intraclass correlation
       coefficients. Psychol Methods 1996;1(1):30-46.

    Examples
    --------
    >>> sf = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> [round(icc(sf, kind=k).estimate, 2) for k in ("ICC1", "ICC2", "ICC3")]
    [0.17, 0.29, 0.71]
    """
    if kind not in _ICC_KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(_ICC_KINDS)}; got {kind!r}")
    confidence = check_confidence(confidence)
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise InvalidInputError(f"ratings must be 2-D (n_subjects, n_raters); got shape {x.shape}")
    x = x[~np.isnan(x).any(axis=1)]
    n, k = x.shape
    label = f"{kind} (Shrout & Fleiss; F-based {confidence:.0%} interval)"
    if n < 2 or k < 2:
        warn_undefined(f"ICC needs >= 2 complete subjects and >= 2 raters; got {n} x {k}")
        return Estimate(_NAN, _NAN, _NAN, n, label)
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_total = np.sum((x - grand) ** 2)
    ss_err = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    msw = (ss_cols + ss_err) / (n * (k - 1))
    if msr + msw <= 0 or mse < 0:
        warn_undefined("ICC is undefined: the ratings have no variance")
        return Estimate(_NAN, _NAN, _NAN, n, label)
    alpha = 1 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind in ("ICC1", "ICC1k", "ICC3", "ICC3k"):
            # one-way (within-target mean square) or two-way mixed (residual mean square)
            ms_err, df_err = (msw, n * (k - 1)) if kind.startswith("ICC1") else (mse, (n - 1) * (k - 1))
            f = msr / ms_err
            fl = f / stats.f.ppf(1 - alpha / 2, n - 1, df_err)
            fu = f * stats.f.ppf(1 - alpha / 2, df_err, n - 1)
            if kind.endswith("k"):  # the mean of k raters
                est = (msr - ms_err) / msr
                lo, hi = 1 - 1 / fl, 1 - 1 / fu
            else:
                est = (msr - ms_err) / (msr + (k - 1) * ms_err)
                lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
        else:
            icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
            fj = msc / mse
            vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
            vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
            v = vn / vd
            f_up = stats.f.ppf(1 - alpha / 2, n - 1, v)
            f_lo = stats.f.ppf(1 - alpha / 2, v, n - 1)
            lo = n * (msr - f_up * mse) / (f_up * (k * msc + (k * n - k - n) * mse) + n * msr)
            hi = n * (f_lo * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_lo * msr)
            if kind == "ICC2":
                est = icc2
            else:
                est = (msr - mse) / (msr + (msc - mse) / n)
                lo, hi = lo * k / (1 + lo * (k - 1)), hi * k / (1 + hi * (k - 1))
    return Estimate(float(est), float(lo), float(hi), n, label)
