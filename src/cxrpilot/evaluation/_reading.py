"""Reading time of the two arms (summary, relative change with a bootstrap interval, a
mixed-effects model with reader and case effects) and how much readers changed the AI
draft (word edit distance, findings added and removed)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cxrpilot.errors import InvalidInputError, require
from cxrpilot.vocabulary import OBSERVATIONS, Arm

from ._edit_distance import word_edit_distance, word_tokens
from ._result import Estimate, JsonFields
from ._validation import check_confidence, check_positive_int, warn_undefined

_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class ArmSummary(JsonFields):
    """Mean, SD, median, quartiles and count of a sample, with a t interval for the mean."""

    n: int
    mean: float
    sd: float
    median: float
    q1: float
    q3: float
    mean_ci_low: float
    mean_ci_high: float


def summarise(values: Any, *, confidence: float = 0.95) -> ArmSummary:
    """Descriptive summary of a 1-D sample (NaN values are dropped); the mean's interval is
    Student's t. NaN (with a warning) where undefined (n < 2 for SD and interval)."""
    confidence = check_confidence(confidence)
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        warn_undefined("summary of an empty sample is undefined")
        return ArmSummary(0, *([_NAN] * 7))
    mean = float(x.mean())
    q1, med, q3 = (float(v) for v in np.quantile(x, [0.25, 0.5, 0.75]))
    if n < 2:
        return ArmSummary(n, mean, _NAN, med, q1, q3, _NAN, _NAN)
    from scipy import stats

    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return ArmSummary(n, mean, sd, med, q1, q3, mean - half, mean + half)


def relative_change_ci(
    values: Any,
    groups: Any,
    *,
    treatment: str,
    control: str,
    clusters: Any = None,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """Relative change of the mean, ``mean(treatment) / mean(control) - 1``, with a percentile
    bootstrap interval.

    Parameters
    ----------
    values : array-like of shape (n,)
    groups : array-like of shape (n,)
        The arm of each value.
    treatment, control : str
        The two arms compared.
    clusters : array-like of shape (n,), optional
        Resampling units (e.g. the case of each read, so that both reads of a case in a
        paired design stay together). Default: each value, resampled within its arm.
    n_bootstrap, confidence, seed
        As in :func:`~cxrpilot.evaluation.roc_auc_ci`.

    References
    ----------
    .. [1] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall, 1993.
    .. [2] Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B 2007;69:369-90.
    """
    x = np.asarray(values, dtype=float)
    g = np.asarray(groups).astype(str)
    if x.shape != g.shape or x.ndim != 1:
        raise InvalidInputError(f"values and groups must be 1-D of the same length; got {x.shape} and {g.shape}")
    confidence = check_confidence(confidence)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    keep = ~np.isnan(x)
    x, g = x[keep], g[keep]
    t_mask, c_mask = g == treatment, g == control
    method = f"bootstrap percentile ({n_bootstrap}, {confidence:.0%}; {'cluster' if clusters is not None else 'stratified'})"
    if t_mask.sum() == 0 or c_mask.sum() == 0 or x[c_mask].mean() == 0:
        warn_undefined(f"relative change is undefined: no values (or a zero mean) in arm {control!r} or {treatment!r}")
        return Estimate(_NAN, _NAN, _NAN, int(x.size), method)
    est = x[t_mask].mean() / x[c_mask].mean() - 1
    rng = np.random.default_rng(seed)
    boots = np.empty(n_bootstrap)
    if clusters is None:
        xt, xc = x[t_mask], x[c_mask]
        for b in range(n_bootstrap):
            boots[b] = xt[rng.integers(0, xt.size, xt.size)].mean() / xc[rng.integers(0, xc.size, xc.size)].mean() - 1
    else:
        cl = np.asarray(clusters).astype(str)[keep]
        _, cid = np.unique(cl, return_inverse=True)
        n_cl = int(cid.max()) + 1
        sum_t = np.bincount(cid, weights=np.where(t_mask, x, 0.0), minlength=n_cl)
        cnt_t = np.bincount(cid, weights=t_mask.astype(float), minlength=n_cl)
        sum_c = np.bincount(cid, weights=np.where(c_mask, x, 0.0), minlength=n_cl)
        cnt_c = np.bincount(cid, weights=c_mask.astype(float), minlength=n_cl)
        for b in range(n_bootstrap):
            w = np.bincount(rng.integers(0, n_cl, n_cl), minlength=n_cl)
            with np.errstate(invalid="ignore", divide="ignore"):
                boots[b] = (w @ sum_t / (w @ cnt_t)) / (w @ sum_c / (w @ cnt_c)) - 1
    boots = boots[np.isfinite(boots)]
    alpha = 1 - confidence
    low, high = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return Estimate(float(est), float(low), float(high), int(x.size), method)


@dataclass(frozen=True)
class MixedModelResult(JsonFields):
    """A linear mixed model of (log) reading time on arm with random reader and case effects.

    Attributes
    ----------
    formula : str
    random_effects : tuple of str
        The random intercepts included (``case`` only when cases were read more than once).
    arm_effect : Estimate
        The treatment coefficient (log seconds when ``log``), Wald interval.
    relative_change : Estimate
        ``exp(coef) - 1`` with the transformed interval (``log`` models only; else NaN).
    p : float
        Wald test of the arm coefficient.
    variance_components : dict of str to float
        Reader, case and residual variances.
    converged : bool
    n : int
    warnings : tuple of str
        What statsmodels warned about while fitting (e.g. a variance on the boundary).
    arm_means : dict of str to Estimate
        Model-based mean of each arm (population of readers and cases), Wald interval, in
        seconds (``log=False``) or as geometric means (``log=True``: exp of the log mean).
    """

    formula: str
    random_effects: tuple[str, ...]
    arm_effect: Estimate
    relative_change: Estimate
    p: float
    variance_components: dict[str, float]
    converged: bool
    n: int
    warnings: tuple[str, ...] = ()
    arm_means: dict[str, Estimate] = field(default_factory=dict)


def reading_time_mixed_model(
    seconds: Any,
    arm: Any,
    reader: Any,
    case: Any,
    *,
    treatment: str = Arm.AI_ASSISTED.value,
    control: str = Arm.SCP.value,
    log: bool = True,
    confidence: float = 0.95,
) -> MixedModelResult:
    """Fit ``log(seconds) ~ arm`` with crossed random intercepts for reader and case
    (statsmodels :class:`~statsmodels.regression.mixed_linear_model.MixedLM`, REML; crossed
    effects as variance components of a single group).

    The case effect is included only when some case was read more than once (otherwise it
    cannot be told apart from the residual); the reader effect only with >= 2 readers.

    References
    ----------
    .. [1] Baayen RH, Davidson DJ, Bates DM. Mixed-effects modeling with crossed random
       effects for subjects and items. J Mem Lang 2008;59:390-412.
    .. [2] Obuchowski NA. Multireader, multimodality receiver operating characteristic curve
       studies. Acad Radiol 1995;2:S22-9 (reader and case as random effects).
    """
    pd: Any = require("pandas", extra="eval")
    smf: Any = require("statsmodels.formula.api", extra="eval")
    confidence = check_confidence(confidence)
    df = pd.DataFrame({"y": np.asarray(seconds, dtype=float), "arm": np.asarray(arm).astype(str),
                       "reader": np.asarray(reader).astype(str), "case": np.asarray(case).astype(str)})
    df = df[np.isfinite(df["y"]) & df["arm"].isin([treatment, control])]
    if log:
        if (df["y"] <= 0).any():
            raise InvalidInputError("log reading-time model needs positive times; "
                                    f"{int((df['y'] <= 0).sum())} read(s) have time <= 0")
        df = df.assign(y=np.log(df["y"]))
    df = df.assign(treat=(df["arm"] == treatment).astype(float), one=1)
    effects = []
    if df["reader"].nunique() >= 2:
        effects.append("reader")
    if df["case"].duplicated().any():
        effects.append("case")
    label = f"Wald {confidence:.0%}"
    n = len(df)
    nan = Estimate(_NAN, _NAN, _NAN, n, label)
    formula = f"{'log(seconds)' if log else 'seconds'} ~ arm[{treatment} vs {control}]"
    if df["treat"].nunique() < 2 or n < 4:
        warn_undefined("mixed model needs reads in both arms")
        return MixedModelResult(formula, tuple(effects), nan, nan, _NAN, {}, False, n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if effects:
            vc = {e: f"0 + C({e})" for e in effects}
            model = smf.mixedlm("y ~ treat", df, groups="one", re_formula="0", vc_formula=vc)
            fit = model.fit(reml=True)
            vcomp = {e: float(v) for e, v in zip(model.exog_vc.names, fit.vcomp, strict=True)}
            vcomp["residual"] = float(fit.scale)
            converged = bool(fit.converged)
        else:
            fit = smf.ols("y ~ treat", df).fit()
            vcomp = {"residual": float(fit.scale)}
            converged = True
    coef = float(fit.params["treat"])
    low, high = (float(v) for v in fit.conf_int(alpha=1 - confidence).loc["treat"])
    p = float(fit.pvalues["treat"])
    arm_effect = Estimate(coef, low, high, n, label)
    rel = (Estimate(math.exp(coef) - 1, math.exp(low) - 1, math.exp(high) - 1, n, label + ", exp(coef) - 1")
           if log else nan)
    notes = tuple(dict.fromkeys(str(w.message) for w in caught))
    from scipy import stats

    cov = fit.cov_params()
    zq = float(stats.norm.ppf(0.5 + confidence / 2))
    means = {}
    for arm_name, names in ((control, ["Intercept"]), (treatment, ["Intercept", "treat"])):
        m = float(sum(fit.params[k] for k in names))
        se = math.sqrt(float(sum(cov.loc[a, b] for a in names for b in names)))
        lo, hi = m - zq * se, m + zq * se
        means[arm_name] = (Estimate(math.exp(m), math.exp(lo), math.exp(hi), n, label + ", geometric mean")
                           if log else Estimate(m, lo, hi, n, label))
    return MixedModelResult(formula, tuple(effects), arm_effect, rel, p, vcomp, converged, n, notes, means)


# --------------------------------------------------------------------------- draft edits


def draft_edits(
    drafts: Sequence[str],
    finals: Sequence[str],
    *,
    labeler: Callable[[Sequence[str]], Sequence[Mapping[str, int | None]]] | None = None,
) -> dict[str, Any]:
    """How much readers changed the AI drafts they signed.

    Returns a dict with ``n``; ``edit_distance`` (:func:`word_edit_distance`, the value the
    workstation stores for each signed read: mean, median, and ``normalised`` = distance /
    max(words) summarised likewise); ``unchanged`` (share of
    drafts signed with no word changed); and, when a labeler is available (default
    :func:`cxrpilot.reports.label_reports`), ``findings_added`` / ``findings_removed``:
    per observation, how many signed reports state it present (1) when the draft did not,
    and vice versa, plus the mean number per report.
    """
    if len(drafts) != len(finals):
        raise InvalidInputError(f"drafts has {len(drafts)} texts but finals has {len(finals)}")
    n = len(drafts)
    if n == 0:
        return {"n": 0}
    dist = np.array([word_edit_distance(d, f) for d, f in zip(drafts, finals, strict=True)], dtype=float)
    longest = np.array([max(len(word_tokens(d)), len(word_tokens(f)), 1) for d, f in zip(drafts, finals, strict=True)])
    norm = dist / longest
    out: dict[str, Any] = {
        "n": n,
        "edit_distance": {"mean": float(dist.mean()), "median": float(np.median(dist)),
                          "sd": float(dist.std(ddof=1)) if n > 1 else _NAN},
        "normalised_edit_distance": {"mean": float(norm.mean()), "median": float(np.median(norm))},
        "unchanged": float(np.mean(dist == 0)),
    }
    if labeler is None:
        try:
            from cxrpilot.reports import label_reports as labeler
        except ImportError:
            out["findings"] = None
            return out
    draft_labels = list(labeler(list(drafts)))
    final_labels = list(labeler(list(finals)))
    added = dict.fromkeys(OBSERVATIONS, 0)
    removed = dict.fromkeys(OBSERVATIONS, 0)
    for dl, fl in zip(draft_labels, final_labels, strict=True):
        for obs in OBSERVATIONS:
            d_pos, f_pos = dl.get(obs) == 1, fl.get(obs) == 1
            added[obs] += int(f_pos and not d_pos)
            removed[obs] += int(d_pos and not f_pos)
    out["findings"] = {
        "added": {k: v for k, v in added.items() if v},
        "removed": {k: v for k, v in removed.items() if v},
        "added_per_report": sum(added.values()) / n,
        "removed_per_report": sum(removed.values()) / n,
        "labeler": getattr(labeler, "name", None) or getattr(labeler, "__name__", "labeler"),
    }
    return out
