"""The whole reader-study analysis: one call from a tidy export to every statistic."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot.vocabulary import RADPEER_SIGNIFICANT

from ._agreement import compare_ordinal, fleiss_kappa_ci, icc, preference_share
from ._diagnostic import proportion_ci
from ._reading import draft_edits, reading_time_mixed_model, relative_change_ci, summarise
from ._result import JsonFields
from ._study_data import ARMS, RADPEER_SCORES, StudyData, load_study
from ._validation import check_positive_int

TREATMENT, CONTROL = ARMS


@dataclass(frozen=True)
class StudyAnalysis(JsonFields):
    """Every statistic of a reader study (see :func:`analyze_study`); ``to_dict()`` for JSON."""

    source: str
    counts: dict[str, Any]
    reading_time: dict[str, Any]
    likert: dict[str, Any]
    radpeer: dict[str, Any]
    preference: dict[str, Any]
    agreement: dict[str, Any]
    edits: dict[str, Any]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """A short human-readable summary, a line per statistic (``cxrpilot eval study``
        prints it)."""
        return _summary_lines(self)


def _paired_units(ev: Any, value: str) -> tuple[Any, float]:
    """Mean ``value`` per (case, evaluator) and arm, the rows rated in both arms, and the
    share of (case, evaluator) units that are complete pairs."""
    wide = ev.pivot_table(index=["case", "evaluator"], columns="arm", values=value, aggfunc="mean")
    if not all(a in wide.columns for a in ARMS):
        return wide.iloc[0:0], 0.0
    complete = wide.dropna(subset=list(ARMS))
    return complete, len(complete) / max(len(wide), 1)


def _ordinal_block(ev: Any, value: str, *, paired: bool | None, confidence: float) -> dict[str, Any]:
    per_arm = {arm: summarise(ev.loc[ev["arm"] == arm, value], confidence=confidence) for arm in ARMS}
    complete, share = _paired_units(ev, value)
    use_paired = (share >= 0.8 and len(complete) >= 2) if paired is None else paired
    if use_paired:
        test = compare_ordinal(complete[TREATMENT].to_numpy(), complete[CONTROL].to_numpy(), paired=True)
        design = f"paired: {len(complete)} (case, evaluator) units rated in both arms"
    else:
        test = compare_ordinal(ev.loc[ev["arm"] == TREATMENT, value].to_numpy(),
                               ev.loc[ev["arm"] == CONTROL, value].to_numpy(), paired=False)
        design = "unpaired: ratings of the two arms compared as independent samples"
    return {"per_arm": per_arm, "test": test, "design": design,
            "difference_of_means": per_arm[TREATMENT].mean - per_arm[CONTROL].mean}


def _agreement(ev: Any, column: str, numeric: bool, *, n_bootstrap: int, confidence: float, seed: int) -> dict[str, Any]:
    """Agreement of evaluators on the reports they all rated."""
    wide = ev.pivot_table(index="report_id", columns="evaluator", values=column, aggfunc="first")
    if wide.shape[1] < 2:
        return {"n_reports": 0, "n_evaluators": int(wide.shape[1]), "note": "fewer than 2 evaluators"}
    counts = wide.notna().sum(axis=1)
    panel = int(counts.mode().iloc[0]) if len(counts) else 0
    rows = wide[counts == panel]
    # each report's ratings, ignoring which evaluator gave them (Fleiss)
    ratings = np.array([r[~r.isna()].to_numpy() for _, r in rows.iterrows()], dtype=object)
    if ratings.size == 0 or panel < 2:
        return {"n_reports": 0, "n_evaluators": panel}
    out: dict[str, Any] = {
        "n_reports": len(rows), "n_evaluators": panel,
        "fleiss_kappa": fleiss_kappa_ci(np.vstack(ratings), n_bootstrap=n_bootstrap,
                                        confidence=confidence, seed=seed),
    }
    if numeric:
        complete = wide.dropna()
        x = complete.to_numpy(dtype=float)
        out["icc_reports"] = int(x.shape[0])
        out["icc2"] = icc(x, kind="ICC2", confidence=confidence)
        out["icc2k"] = icc(x, kind="ICC2k", confidence=confidence)
    return out


def analyze_study(
    study: StudyData | str | Path,
    *,
    k: int | None = None,
    n_evaluators: int | None = None,
    paired: bool | None = None,
    time: str = "wall",
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    labeler: Callable[[Sequence[str]], Sequence[Mapping[str, int | None]]] | None = None,
    mixed_model: bool = True,
) -> StudyAnalysis:
    """Analyse a reader study from its tidy export.

    Parameters
    ----------
    study : StudyData or path
        A loaded export, or a path for :func:`load_study`.
    k : int, optional
        Pairwise preference needs at least ``k`` evaluators of a case to agree (default: a
        simple majority of the panel, e.g. 3 of 5).
    n_evaluators : int, optional
        Panel size for the preference rule; cases rated by another number are left out.
    paired : bool, optional
        Force the Likert/RADPEER test design (default: paired Wilcoxon when >= 80 % of the
        (case, evaluator) units rated a report of each arm, else Mann-Whitney).
    time : {"wall", "active"}
        Reading time measure when ``study`` is a path.
    n_bootstrap, confidence, seed
        Bootstrap replicates, interval coverage, and the seed of every bootstrap.
    labeler : callable, optional
        Labels draft and final texts for findings added/removed (default
        :func:`cxrpilot.reports.label_reports`).
    mixed_model : bool, default True
        Fit the reading-time mixed model.

    Returns
    -------
    StudyAnalysis
        ``reading_time`` (per-arm summaries, relative change with a case-cluster bootstrap
        interval, Mann-Whitney test, mixed model), ``likert`` and ``radpeer`` (per-arm
        summaries, Wilcoxon / Mann-Whitney test; RADPEER score distribution, clinically
        significant discrepancy rate 2b/3b and concordance rate (score 1) with Wilson
        intervals), ``preference`` (k-of-n rule), ``agreement`` (Fleiss' kappa of Likert and
        RADPEER, ICC(2,1) and ICC(2,k) of Likert), ``edits`` (draft vs signed text).

    References
    ----------
    .. [1] Jackson VP et al. RADPEER scoring white paper. J Am Coll Radiol 2009;6:21-5
       (scores 1, 2a/b, 3a/b; "b" = clinically significant).
    .. [2] See the functions this one calls for the methods of each statistic.
    """
    data = study if isinstance(study, StudyData) else load_study(study, time=time)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    reads, ev = data.reads, data.evaluations
    notes: list[str] = []

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        # ---- reading time
        rt = reads[np.isfinite(reads["seconds"].astype(float))]
        times = {arm: rt.loc[rt["arm"] == arm, "seconds"].to_numpy(dtype=float) for arm in ARMS}
        reading: dict[str, Any] = {
            "measure": "signed_at - started_at" if time == "wall" else "active_seconds",
            "per_arm": {arm: summarise(times[arm], confidence=confidence) for arm in ARMS},
            "relative_change": relative_change_ci(
                rt["seconds"].to_numpy(float), rt["arm"].to_numpy(str), treatment=TREATMENT, control=CONTROL,
                clusters=rt["case"].to_numpy(str), n_bootstrap=n_bootstrap, confidence=confidence, seed=seed),
            "test": compare_ordinal(times[TREATMENT], times[CONTROL], paired=False),
        }
        if mixed_model and len(rt):
            reading["mixed_model"] = reading_time_mixed_model(
                rt["seconds"], rt["arm"], rt["reader"], rt["case"], confidence=confidence)
            # arm means and their difference in seconds, with reader and case variability
            reading["mixed_model_seconds"] = reading_time_mixed_model(
                rt["seconds"], rt["arm"], rt["reader"], rt["case"], log=False, confidence=confidence)

        # ---- Likert and RADPEER
        likert = _ordinal_block(ev, "likert", paired=paired, confidence=confidence) if len(ev) else {}
        radpeer: dict[str, Any] = {}
        if len(ev):
            ev = ev.assign(radpeer_rank=ev["radpeer"].map({s: i + 1 for i, s in enumerate(RADPEER_SCORES)}).astype(float))
            block = _ordinal_block(ev, "radpeer_rank", paired=paired, confidence=confidence)
            radpeer = {"test": block["test"], "design": block["design"], "per_arm": {}}
            for arm in ARMS:
                scores = ev.loc[ev["arm"] == arm, "radpeer"]
                n = len(scores)
                radpeer["per_arm"][arm] = {
                    "n": n,
                    "counts": {s: int((scores == s).sum()) for s in RADPEER_SCORES},
                    "significant_discrepancy": proportion_ci(int(scores.isin(RADPEER_SIGNIFICANT).sum()), n,
                                                             confidence=confidence),
                    "concordant": proportion_ci(int((scores == "1").sum()), n, confidence=confidence),
                }

        # ---- pairwise preference: the vote of each evaluator on each case, from the AI row
        preference: dict[str, Any] = {}
        pairs = ev[ev["preference"].notna() & (ev["arm"] == TREATMENT)] if len(ev) else ev
        if len(pairs):
            votes = pairs.pivot_table(index="case", columns="evaluator", values="preference", aggfunc="mean")
            panel = int(votes.notna().sum(axis=1).max())
            k_used = k if k is not None else panel // 2 + 1
            share = preference_share(votes.to_numpy(float), k=k_used, n_evaluators=n_evaluators,
                                     confidence=confidence)
            preference = {"rule": f"at least {k_used} of {share.n_evaluators} evaluators",
                          "a": TREATMENT, "b": CONTROL, "result": share,
                          "votes": {TREATMENT: int((pairs["preference"] == 1).sum()),
                                    CONTROL: int((pairs["preference"] == 0).sum()),
                                    "none": int((pairs["preference"] == 0.5).sum())}}

        # ---- inter-rater agreement
        agreement: dict[str, Any] = {}
        if len(ev):
            agreement["likert"] = _agreement(ev, "likert", True, n_bootstrap=n_bootstrap,
                                             confidence=confidence, seed=seed)
            agreement["radpeer"] = _agreement(ev, "radpeer", False, n_bootstrap=n_bootstrap,
                                              confidence=confidence, seed=seed)

        # ---- draft edits (AI-assisted reads that kept their draft text)
        ai = reads[(reads["arm"] == TREATMENT) & (reads["draft_text"].str.strip() != "")]
        edits = draft_edits(ai["draft_text"].tolist(), ai["final_text"].tolist(), labeler=labeler)

    for w in caught:
        msg = str(w.message)
        if msg not in notes:
            notes.append(msg)
    counts = {
        "reads": {arm: int((reads["arm"] == arm).sum()) for arm in ARMS},
        "readers": int(reads["reader"].nunique()),
        "cases": int(reads["case"].nunique()),
        "evaluations": len(ev),
        "evaluators": int(ev["evaluator"].nunique()) if len(ev) else 0,
        "studies": sorted(str(s) for s in reads["study"].dropna().unique()),
    }
    settings = {"k": k, "n_evaluators": n_evaluators, "paired": paired, "time": time,
                "n_bootstrap": n_bootstrap, "confidence": confidence, "seed": seed}
    return StudyAnalysis(data.source, counts, reading, likert, radpeer, preference, agreement, edits,
                         settings, notes)


def _fmt(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _summary_lines(analysis: StudyAnalysis) -> list[str]:
    """A short human-readable summary (the CLI prints it)."""
    rt = analysis.reading_time
    lines = [f"study export: {analysis.source}",
             (f"reads: {analysis.counts['reads']}, readers {analysis.counts['readers']}, cases "
             f"{analysis.counts['cases']}, evaluations {analysis.counts['evaluations']}")]
    if rt:
        a, c = rt["per_arm"][TREATMENT], rt["per_arm"][CONTROL]
        rc = rt["relative_change"]
        lines.append(f"reading time ({rt['measure']}): AI-assisted {_fmt(a.mean)} ± {_fmt(a.sd)} s (n={a.n}), "
                     f"SCP {_fmt(c.mean)} ± {_fmt(c.sd)} s (n={c.n}); change {_fmt(100 * rc.estimate)} % "
                     f"[{_fmt(100 * rc.ci_low)}, {_fmt(100 * rc.ci_high)}]")
        mm = rt.get("mixed_model")
        if mm is not None and not math.isnan(mm.relative_change.estimate):
            lines.append(f"  mixed model of log time ({' + '.join(mm.random_effects) or 'no'} random effects): "
                         f"{_fmt(100 * mm.relative_change.estimate)} % [{_fmt(100 * mm.relative_change.ci_low)}, "
                         f"{_fmt(100 * mm.relative_change.ci_high)}], p = {mm.p:.3g}")
        ms = rt.get("mixed_model_seconds")
        if ms is not None and ms.arm_means:
            lines.append("  mixed model of seconds: " + ", ".join(
                f"{arm} {_fmt(e.estimate)} s [{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]" for arm, e in ms.arm_means.items())
                + f"; difference {_fmt(ms.arm_effect.estimate)} s [{_fmt(ms.arm_effect.ci_low)}, {_fmt(ms.arm_effect.ci_high)}]")
    if analysis.likert:
        lk = analysis.likert
        lines.append(f"Likert: AI-assisted {_fmt(lk['per_arm'][TREATMENT].mean, 2)}, SCP "
                     f"{_fmt(lk['per_arm'][CONTROL].mean, 2)}; {lk['test'].method} p = {lk['test'].p:.3g}")
    if analysis.radpeer:
        rp = analysis.radpeer["per_arm"]
        lines.append("RADPEER 2b/3b rate: " + ", ".join(
            f"{arm} {rp[arm]['significant_discrepancy']:.3f}" for arm in ARMS))
    if analysis.preference:
        r = analysis.preference["result"]
        lines.append(f"preference ({analysis.preference['rule']}): AI-assisted {r.prefer_a:.3f}, "
                     f"SCP {r.prefer_b:.3f}, no consensus {r.no_consensus:.3f} (n={r.n_cases} cases)")
    return lines

