"""Self-contained HTML reports (tables + matplotlib plots inlined as base64 PNG).

No external file, script or font is referenced: the HTML can be mailed or archived as is.
Plots are drawn with matplotlib's object API on an Agg canvas (no pyplot, no global state).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from cxrpilot import __version__
from cxrpilot.errors import require
from cxrpilot.vocabulary import Arm

from ._result import Estimate, RocCurve
from ._study_data import ARMS, RADPEER_SCORES, StudyData

ARM_LABEL = {Arm.AI_ASSISTED.value: "AI-assisted", Arm.SCP.value: "Standard practice (SCP)"}
ARM_COLOR = {Arm.AI_ASSISTED.value: "#1f6fb2", Arm.SCP.value: "#d9822b"}

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d1d1f;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;border-bottom:2px solid #e3e3e3;padding-bottom:.2rem;
margin-top:2.2rem}h3{font-size:1.05rem;margin-bottom:.3rem}
.meta{color:#666;font-size:.9rem}table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #d8d8d8;padding:.3rem .6rem;text-align:right;vertical-align:top}
th{background:#f3f5f8;text-align:center}td:first-child,th:first-child{text-align:left}
.headline{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.card{border:1px solid #d8d8d8;border-radius:8px;padding:.7rem 1rem;min-width:200px;background:#fafbfc}
.card .v{font-size:1.5rem;font-weight:600}.card .l{color:#555;font-size:.85rem}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.3rem 0}
.notes li{color:#8a5300}.small{font-size:.85rem;color:#555}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(int(value))
    v = float(value)
    return "n/a" if math.isnan(v) else f"{v:.{digits}f}"


def _est(e: Estimate | None, digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
    if e is None or math.isnan(e.estimate):
        return "n/a"
    return (f"{e.estimate * scale:.{digits}f}{unit} "
            f"<span class=small>[{e.ci_low * scale:.{digits}f}, {e.ci_high * scale:.{digits}f}]</span>")


def _p(p: float) -> str:
    if p is None or math.isnan(p):
        return "p n/a"
    return "p &lt; 0.001" if p < 0.001 else f"p = {p:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(width: float = 6.4, height: float = 3.4) -> Any:
    require("matplotlib", extra="eval")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _img(fig: Any, alt: str) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _document(title: str, body: str, subtitle: str = "") -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_esc(title)}</title>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{_CSS}</style></head><body>"
            f"<h1>{_esc(title)}</h1><p class=meta>{_esc(subtitle)} Generated {stamp} by cxrpilot "
            f"{_esc(__version__)}. Intervals are {'95 %'} unless stated.</p>{body}</body></html>")


# ------------------------------------------------------------------------------ plots


def _plot_times(times: Mapping[str, np.ndarray]) -> str:
    fig = _figure(9.0, 3.4)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[2, 1])
    finite = [t for t in times.values() if t.size]
    hi = float(np.quantile(np.concatenate(finite), 0.99)) if finite else 1.0
    bins = np.linspace(0, hi, 30)
    for arm in ARMS:
        t = times[arm]
        if t.size:
            ax1.hist(np.clip(t, 0, hi), bins=bins, alpha=0.55, color=ARM_COLOR[arm],
                     label=f"{ARM_LABEL[arm]} (n={t.size}, mean {t.mean():.1f} s)")
            ax1.axvline(t.mean(), color=ARM_COLOR[arm], lw=2, ls="--")
    ax1.set_xlabel("reading time (s)")
    ax1.set_ylabel("reads")
    ax1.legend(fontsize=8, frameon=False, loc="upper right")
    data = [times[a] for a in ARMS if times[a].size]
    if data:
        bp = ax2.boxplot(data, tick_labels=[ARM_LABEL[a].split(" ")[0] for a in ARMS if times[a].size],
                         showmeans=True, patch_artist=True, widths=0.6)
        for patch, arm in zip(bp["boxes"], [a for a in ARMS if times[a].size], strict=True):
            patch.set_facecolor(ARM_COLOR[arm])
            patch.set_alpha(0.5)
    ax2.set_ylabel("reading time (s)")
    return _img(fig, "Reading time per arm: histogram and box plot")


def _plot_bars(categories: Sequence[str], shares: Mapping[str, Sequence[float]], xlabel: str, alt: str) -> str:
    fig = _figure(6.0, 3.0)
    ax = fig.subplots()
    x = np.arange(len(categories))
    w = 0.8 / max(len(shares), 1)
    for i, (arm, values) in enumerate(shares.items()):
        ax.bar(x + (i - (len(shares) - 1) / 2) * w, 100 * np.asarray(values), w,
               label=ARM_LABEL.get(arm, arm), color=ARM_COLOR.get(arm))
    ax.set_xticks(x, categories)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("% of ratings")
    ax.legend(fontsize=8, frameon=False)
    return _img(fig, alt)


def _plot_preference(result: Any) -> str:
    fig = _figure(6.5, 1.9)
    ax = fig.subplots()
    left = 0.0
    for label, est, color in (("AI-assisted preferred", result.prefer_a, ARM_COLOR[Arm.AI_ASSISTED]),
                              ("no consensus", result.no_consensus, "#bbbbbb"),
                              ("SCP preferred", result.prefer_b, ARM_COLOR[Arm.SCP])):
        v = 0.0 if math.isnan(est.estimate) else 100 * est.estimate
        ax.barh([0], [v], left=left, color=color, label=f"{label} {v:.1f} %")
        left += v
    ax.set_xlim(0, 100)
    ax.set_yticks([])
    ax.set_xlabel("% of cases")
    fig.legend(fontsize=8, frameon=False, ncol=3, loc="outside upper center")
    return _img(fig, "Share of cases by preferred report")


def _plot_roc(curves: Mapping[str, RocCurve]) -> str:
    fig = _figure(5.2, 5.0)
    ax = fig.subplots()
    for name, c in curves.items():
        if c.fpr.size:
            ax.plot(c.fpr, c.tpr, lw=1.6, label=f"{name} (AUC {c.auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#999", lw=1, ls=":")
    ax.set_xlabel("1 - specificity (false-positive rate)")
    ax.set_ylabel("sensitivity (true-positive rate)")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    return _img(fig, "ROC curves")


# ---------------------------------------------------------------------------- reports


def render_study_html(analysis: Any, data: StudyData | None = None, *, title: str | None = None) -> str:
    """The reader-study report: headline figures, tables and plots for every analysis of
    :func:`~cxrpilot.evaluation.analyze_study`. ``data`` (the loaded export) adds the
    reading-time distribution plot."""
    a = analysis
    rt, lk, rp, pref, agr, ed = a.reading_time, a.likert, a.radpeer, a.preference, a.agreement, a.edits
    parts: list[str] = []
    cards = []
    if rt:
        for arm in ARMS:
            s = rt["per_arm"][arm]
            cards.append((f"{_num(s.mean, 1)} s", f"mean reading time, {ARM_LABEL[arm]} (SD {_num(s.sd, 1)}, n={s.n})"))
        rc = rt["relative_change"]
        cards.append((f"{_num(100 * rc.estimate, 1)} %",
                      f"relative change [{_num(100 * rc.ci_low, 1)}, {_num(100 * rc.ci_high, 1)}]"))
    if pref:
        cards.append((f"{_num(100 * pref['result'].prefer_a.estimate, 1)} %",
                      f"cases where AI-assisted was preferred ({pref['rule']})"))
    parts.append("<div class=headline>" + "".join(
        f"<div class=card><div class=v>{_esc(v)}</div><div class=l>{_esc(lbl)}</div></div>" for v, lbl in cards) + "</div>")
    c = a.counts
    parts.append(_table(["", "value"], [
        ["study", _esc(", ".join(c["studies"]) or "n/a")],
        ["reads (AI-assisted / SCP)", f"{c['reads'][Arm.AI_ASSISTED]} / {c['reads'][Arm.SCP]}"],
        ["readers", c["readers"]], ["cases", c["cases"]],
        ["evaluations", c["evaluations"]], ["evaluators", c["evaluators"]],
    ]))

    if rt:
        parts.append("<h2>Reading time</h2>")
        parts.append(f"<p class=small>Measure: {_esc(rt['measure'])}.</p>")
        rows = []
        for arm in ARMS:
            s = rt["per_arm"][arm]
            rows.append([ARM_LABEL[arm], s.n, f"{_num(s.mean, 1)} ± {_num(s.sd, 1)}",
                         f"{_num(s.mean_ci_low, 1)} – {_num(s.mean_ci_high, 1)}",
                         f"{_num(s.median, 1)} ({_num(s.q1, 1)} – {_num(s.q3, 1)})"])
        parts.append(_table(["arm", "reads", "mean ± SD (s)", "95 % CI of mean (t)", "median (IQR)"], rows))
        rc, test = rt["relative_change"], rt["test"]
        rows = [["relative change of the mean (AI-assisted vs SCP)", _est(rc, 1, 100, " %"), _esc(rc.method)],
                [_esc(test.method) + " test", f"{_p(test.p)}", f"n = {test.n}"]]
        mm = rt.get("mixed_model")
        if mm is not None:
            re = " + ".join(mm.random_effects) or "none"
            rows.append([f"mixed model {_esc(mm.formula)}, random intercepts: {_esc(re)}",
                         _est(mm.relative_change, 1, 100, " %") + f", {_p(mm.p)}",
                         "variance components: " + ", ".join(f"{_esc(k)} {v:.4f}" for k, v in mm.variance_components.items())
                         + ("" if mm.converged else " (did not converge)")])
        ms = rt.get("mixed_model_seconds")
        if ms is not None and ms.arm_means:
            for arm in ARMS:
                if arm in ms.arm_means:
                    rows.append([f"mixed model mean, {ARM_LABEL[arm]} (reader and case variability)",
                                 _est(ms.arm_means[arm], 1, 1, " s"), "linear mixed model of seconds"])
            rows.append(["mixed model difference (AI-assisted − SCP)", _est(ms.arm_effect, 1, 1, " s") + f", {_p(ms.p)}", ""])
        parts.append(_table(["statistic", "estimate [95 % CI]", "details"], rows))
        if data is not None:
            reads = data.reads
            times = {arm: reads.loc[(reads["arm"] == arm), "seconds"].to_numpy(float) for arm in ARMS}
            times = {k: v[np.isfinite(v)] for k, v in times.items()}
            parts.append(_plot_times(times))

    if lk:
        parts.append("<h2>Report quality (Likert 1–5)</h2>")
        rows = [[ARM_LABEL[arm], lk["per_arm"][arm].n, f"{_num(lk['per_arm'][arm].mean, 2)} ± {_num(lk['per_arm'][arm].sd, 2)}",
                 f"{_num(lk['per_arm'][arm].mean_ci_low, 2)} – {_num(lk['per_arm'][arm].mean_ci_high, 2)}",
                 _num(lk["per_arm"][arm].median, 1)] for arm in ARMS]
        parts.append(_table(["arm", "ratings", "mean ± SD", "95 % CI of mean", "median"], rows))
        parts.append(f"<p>{_esc(lk['test'].method)}: {_p(lk['test'].p)} ({_esc(lk['design'])}).</p>")
        if data is not None and len(data.evaluations):
            ev = data.evaluations
            shares = {arm: [float(np.mean(ev.loc[ev["arm"] == arm, "likert"] == v)) if (ev["arm"] == arm).any() else 0.0
                            for v in range(1, 6)] for arm in ARMS}
            parts.append(_plot_bars([str(v) for v in range(1, 6)], shares, "Likert score", "Likert score distribution per arm"))

    if rp:
        parts.append("<h2>RADPEER</h2>")
        rows = []
        for arm in ARMS:
            d = rp["per_arm"][arm]
            rows.append([ARM_LABEL[arm], d["n"], *[d["counts"][s] for s in RADPEER_SCORES],
                         _est(d["concordant"], 1, 100, " %"), _est(d["significant_discrepancy"], 1, 100, " %")])
        parts.append(_table(["arm", "ratings", *RADPEER_SCORES, "score 1 (concordant)", "2b/3b (clinically significant)"], rows))
        parts.append(f"<p>{_esc(rp['test'].method)} on the ordinal score: {_p(rp['test'].p)} ({_esc(rp['design'])}). "
                     "Rates with Wilson score intervals.</p>")
        shares = {arm: [rp["per_arm"][arm]["counts"][s] / max(rp["per_arm"][arm]["n"], 1) for s in RADPEER_SCORES] for arm in ARMS}
        parts.append(_plot_bars(list(RADPEER_SCORES), shares, "RADPEER score", "RADPEER score distribution per arm"))

    if pref:
        r = pref["result"]
        parts.append("<h2>Pairwise preference</h2>")
        parts.append(f"<p>Rule: a case counts as preferred when {_esc(pref['rule'])} preferred the same report. "
                     f"Individual votes: AI-assisted {pref['votes'][Arm.AI_ASSISTED]}, SCP {pref['votes'][Arm.SCP]}, "
                     f"no preference {pref['votes']['none']}.</p>")
        parts.append(_table(["outcome", "share of cases [95 % CI]", "cases"], [
            ["AI-assisted report preferred", _est(r.prefer_a, 1, 100, " %"), round(r.prefer_a.estimate * r.n_cases)],
            ["SCP report preferred", _est(r.prefer_b, 1, 100, " %"), round(r.prefer_b.estimate * r.n_cases)],
            ["no consensus", _est(r.no_consensus, 1, 100, " %"), round(r.no_consensus.estimate * r.n_cases)],
            ["AI-assisted among cases with a consensus", _est(r.prefer_a_among_consensus, 1, 100, " %") +
             f" (exact binomial test vs 50 %: {_p(r.test.p)})", r.prefer_a_among_consensus.n],
        ]))
        parts.append(_plot_preference(r))

    if agr:
        parts.append("<h2>Inter-rater agreement</h2>")
        rows = []
        for what in ("likert", "radpeer"):
            g = agr.get(what) or {}
            if "fleiss_kappa" in g:
                rows.append([f"Fleiss' kappa, {what}", _est(g["fleiss_kappa"]), f"{g['n_reports']} reports × {g['n_evaluators']} evaluators"])
            if "icc2" in g:
                rows.append([f"ICC(2,1), {what} (single evaluator, absolute agreement)", _est(g["icc2"]), f"{g['icc_reports']} reports"])
                rows.append([f"ICC(2,k), {what} (mean of the evaluators)", _est(g["icc2k"]), ""])
        parts.append(_table(["statistic", "estimate [95 % CI]", "data"], rows) if rows else "<p>Not enough ratings.</p>")

    if ed and ed.get("n"):
        parts.append("<h2>How readers changed the AI drafts</h2>")
        rows = [["AI-assisted reads with a draft", ed["n"]],
                ["signed without any word changed", f"{100 * ed['unchanged']:.1f} %"],
                ["word edit distance, mean ± SD (median)", (f"{_num(ed['edit_distance']['mean'], 1)} ± "
                 f"{_num(ed['edit_distance']['sd'], 1)} ({_num(ed['edit_distance']['median'], 1)})")],
                ["normalised edit distance (per word of the longer text), mean", _num(ed["normalised_edit_distance"]["mean"], 3)]]
        f = ed.get("findings")
        if f:
            rows += [["findings added per report (labeler: " + _esc(f["labeler"]) + ")", _num(f["added_per_report"], 3)],
                     ["findings removed per report", _num(f["removed_per_report"], 3)]]
        parts.append(_table(["", "value"], rows))
        if f and (f["added"] or f["removed"]):
            names = sorted(set(f["added"]) | set(f["removed"]))
            parts.append(_table(["observation", "added by the reader", "removed by the reader"],
                                [[_esc(n), f["added"].get(n, 0), f["removed"].get(n, 0)] for n in names]))

    if a.notes:
        parts.append("<h2>Notes</h2><ul class=notes>" + "".join(f"<li>{_esc(n)}</li>" for n in a.notes) + "</ul>")
    parts.append("<h2>Methods</h2><p class=small>Reading-time relative change: ratio of arm means − 1, percentile "
                 "bootstrap resampling cases. Mixed model: linear mixed model of log reading time with crossed random "
                 "intercepts for reader and case (statsmodels MixedLM, REML); relative change = exp(coef) − 1. Likert and "
                 "RADPEER: Wilcoxon signed-rank test on (case, evaluator) pairs when paired, else Mann-Whitney U. "
                 "Proportions: Wilson score intervals. Fleiss' kappa (statsmodels) with a bootstrap over reports; ICC "
                 "after Shrout &amp; Fleiss (1979) with McGraw &amp; Wong (1996) intervals. RADPEER 2b/3b = clinically "
                 "significant discrepancy (Jackson et al. 2009).</p>")
    return _document(title or "Reader study report", "".join(parts), f"Source: {a.source}.")


def render_findings_html(
    rows: Sequence[Mapping[str, Any]], curves: Mapping[str, RocCurve], *, title: str = "Finding classification report",
    source: str = "",
) -> str:
    """Per-finding AUCs (rows of ``{finding, auc: Estimate, n, positives, ...}``) and ROC curves."""
    header = ["finding", "cases", "positives", "AUC [95 % CI]", "threshold", "sensitivity", "specificity", "PPV", "NPV", "ECE"]
    body = []
    for r in rows:
        tm = r.get("operating_point")
        body.append([_esc(r["finding"]), r["n"], r["positives"], _est(r["auc"]),
                     _num(tm.threshold) if tm else "n/a",
                     *([_est(getattr(tm, m)) for m in ("sensitivity", "specificity", "ppv", "npv")] if tm else ["n/a"] * 4),
                     _num(r.get("ece"))])
    parts = [_table(header, body), _plot_roc(curves) if curves else ""]
    parts.append("<p class=small>AUC: stratified bootstrap percentile interval. Operating point: Youden's J unless "
                 "a threshold was given; Wilson intervals. ECE: 10 equal-width bins.</p>")
    return _document(title, "".join(parts), f"Source: {source}." if source else "")


def render_reports_html(metrics: Mapping[str, float], clinical: Any = None, *, title: str = "Report generation metrics",
                        source: str = "") -> str:
    """Report metrics and (optionally) the clinical-efficacy tables."""
    parts = ["<h2>Natural-language metrics</h2>",
             _table(["metric", "value"], [[_esc(k), _num(v, 4)] for k, v in metrics.items()])]
    if clinical is not None:
        parts.append("<h2>Clinical efficacy</h2>")
        parts.append(_table(["uncertain as", "observations", "average", "precision", "recall", "F1"],
                            [[r["uncertain"], r["observations"], r["average"], _num(r["precision"]), _num(r["recall"]),
                              _num(r["f1"])] for r in clinical.summary]))
        parts.append("<h3>Per observation (uncertain as negative)</h3>")
        parts.append(_table(["observation", "support", "TP", "FP", "FN", "precision", "recall", "F1"],
                            [[_esc(r["observation"]), r["support"], r["tp"], r["fp"], r["fn"], _num(r["precision"]),
                              _num(r["recall"]), _num(r["f1"])] for r in clinical.per_observation
                             if r["uncertain"] == "negative"]))
    return _document(title, "".join(parts), f"Source: {source}." if source else "")
