"""The report labeler against human labels: IU Open-i MeSH codes, on a development and a
held-out half; and its speed.

For every IU report in ``--data`` (``iu-xray/reports/*.xml``), the MeSH major terms coded
by people are mapped to the 14 observations (:func:`cxrpilot.reports.mesh_labels`) and
compared with

- ``rules``: the rule-based labeler (:func:`cxrpilot.reports.label_report`) on FINDINGS +
  IMPRESSION;
- ``keywords``: a keyword-only baseline run in the same script: the same mention phrases,
  with no negation, no uncertainty and no "normal" statements (any mention is positive).

Halves: :func:`cxrpilot.reports.iu_half` splits the reports, by a hash of the report id,
into a fixed ``dev`` half (rules and mapping are tuned on its errors) and a ``heldout``
half (scored, never read for errors). ``--errors`` prints errors of the dev half only.

Mappings: ``curated`` (:func:`~cxrpilot.reports.mesh_labels`: reports whose codes are
ambiguous for an observation are left out of it) and ``literal`` (the same mapping with
every ambiguous code counted as a negative: nothing left out).

MeSH codes say what is present, so a label counts as predicted positive when it is 1
("uncertain as negative"), or when it is 1 or -1 ("uncertain as positive", the headline).
Reports coded ``No Indexing`` and reports with empty FINDINGS and IMPRESSION are left out.
Per observation: precision, recall, F1, positives; macro-F1 over the observations, with a
95% percentile bootstrap interval over reports (``--bootstrap`` replicates, seed 0).

Speed: reports per second of ``label_reports`` on one core (process pinned to one CPU),
best of ``--repeat`` passes over all reports (XML parsing not included).

Before / after: ``--baseline REV`` also scores the labeler as it was at git revision ``REV``
(its ``_rules.py`` and ``_labeler.py`` read with ``git show``; sections and mapping as now) on
the same reports, halves and bootstrap draws, so a round of changes is compared in one run.

Prints, and writes ``benchmarks/results/labeler.md``.

Usage: ``python benchmarks/bench_labeler.py [--data ../shared/data] [--half dev] [--errors 5] [--baseline REV]``
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import types
from collections import Counter
from pathlib import Path

import numpy as np
from _machine import machine

REPO = Path(__file__).resolve().parents[1]
POLICIES = {"uncertain as positive": {1, -1}, "uncertain as negative": {1}}


def keyword_labels(text: str) -> dict[str, int | None]:
    """The baseline: any mention phrase of an observation makes it positive."""
    from cxrpilot.reports import mentions, split_sections
    from cxrpilot.vocabulary import OBSERVATIONS

    body = split_sections(text).labeling_text()
    labels: dict[str, int | None] = dict.fromkeys(OBSERVATIONS)
    if not body.strip():
        return labels
    found = mentions(body)
    for name in found.observations:
        labels[name] = 1
    abnormal = found.other or any(labels[n] == 1 for n in OBSERVATIONS if n not in ("No Finding", "Support Devices"))
    labels["No Finding"] = 0 if abnormal else 1
    return labels


def baseline_labeler(rev: str):
    """``label_reports`` of the rule labeler at git revision ``rev`` (rules and labeler modules)."""

    def show(path: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"], capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"--baseline {rev!r}: cannot read {path} at that revision ({done.stderr.strip()})")
        return done.stdout

    rules = types.ModuleType("_baseline_rules")
    # exec: the project's own source at another revision, read from its git history
    exec(compile(show("src/cxrpilot/reports/_rules.py"), f"{rev}:_rules.py", "exec"), rules.__dict__)  # noqa: S102
    sys.modules[rules.__name__] = rules
    source = show("src/cxrpilot/reports/_labeler.py")
    if "from cxrpilot.reports._rules import" not in source:
        raise SystemExit(f"--baseline {rev!r}: its _labeler.py does not import the rules as this script expects")
    labeler = types.ModuleType("_baseline_labeler")
    source = source.replace("from cxrpilot.reports._rules import", "from _baseline_rules import")
    exec(compile(source, f"{rev}:_labeler.py", "exec"), labeler.__dict__)  # noqa: S102
    return labeler.label_reports


def outcome_arrays(truth: list[dict], pred: list[dict], observations, positive: set) -> tuple[np.ndarray, ...]:
    """Per report (rows) and observation (columns): true positive, false positive, false negative."""
    t = np.array([[-9 if x[o] is None else x[o] for o in observations] for x in truth])
    p = np.array([[p_[o] in positive for o in observations] for p_ in pred])
    scored = t != -9
    y = (t == 1) & scored
    return (y & p), (~y & p & scored), (y & ~p), scored


def f1_table(tp, fp, fn, scored, observations) -> dict:
    out = {}
    for k, name in enumerate(observations):
        a, b, c = int(tp[:, k].sum()), int(fp[:, k].sum()), int(fn[:, k].sum())
        out[name] = {
            "precision": a / (a + b) if a + b else float("nan"),
            "recall": a / (a + c) if a + c else float("nan"),
            "f1": 2 * a / (2 * a + b + c) if a + b + c else float("nan"),
            "positives": a + c, "n": int(scored[:, k].sum()), "tp": a, "fp": b, "fn": c,
        }
    return out


def macro(table: dict) -> float:
    values = [v["f1"] for v in table.values() if v["f1"] == v["f1"]]
    return sum(values) / len(values) if values else float("nan")


def bootstrap_macro_f1(tp, fp, fn, weights: np.ndarray) -> tuple[float, float]:
    """95% percentile interval of macro-F1 over bootstrap replicates of the reports.

    ``weights`` is a (replicates x reports) matrix of how often each report was drawn.
    """
    a, b, c = weights @ tp.astype(float), weights @ fp.astype(float), weights @ fn.astype(float)
    denom = 2 * a + b + c
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * a / denom, np.nan)
    values = np.nanmean(f1, axis=1)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--half", choices=("dev", "heldout", "all"), default="all",
                        help="which halves to score (all: dev, heldout and both together)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap replicates for the macro-F1 interval")
    parser.add_argument("--errors", type=int, default=0, help="print this many DEV-half errors per observation")
    parser.add_argument("--baseline", metavar="REV", help="also score the labeler of this git revision (before/after)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "labeler.md"))
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    from cxrpilot.reports import MESH_VALIDATED, iu_half, label_reports, mesh_labels, read_iu_xml

    files = sorted((Path(args.data) / "iu-xray" / "reports").glob("*.xml"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise SystemExit(f"no IU reports under {args.data}/iu-xray/reports")
    reports = [read_iu_xml(f) for f in files]
    texts = [r.text for r in reports]
    halves = [iu_half(r.report_id) for r in reports]
    truth = [mesh_labels(r.mesh_major) for r in reports]
    has_text = [bool((r.sections.findings + r.sections.impression).strip()) for r in reports]
    coded = [any(v is not None for v in t.values()) for t in truth]
    evaluated = [i for i in range(len(reports)) if coded[i] and has_text[i]]
    n_uncoded = sum(not c for c in coded)
    n_empty = sum(1 for i in range(len(reports)) if coded[i] and not has_text[i])

    best = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        rules = label_reports(texts)
        best = min(best, time.perf_counter() - t0)
    speed = len(texts) / best
    baseline = baseline_labeler(args.baseline)(texts) if args.baseline else None
    t0 = time.perf_counter()
    keywords = [keyword_labels(t) for t in texts]
    keyword_speed = len(texts) / (time.perf_counter() - t0)

    sets = {"dev": ["dev"], "heldout": ["heldout"], "all": ["dev", "heldout", "all"]}[args.half]
    members = {h: [i for i in evaluated if h == "all" or halves[i] == h] for h in ("dev", "heldout", "all")}
    literal = [{n: (0 if v is None else v) for n, v in t.items()} for t in truth]
    obs = list(MESH_VALIDATED)
    rng = np.random.default_rng(0)

    results: dict = {}  # (half, labeler, mapping, policy) -> (table, macro, ci)
    for half in sets:
        idx = members[half]
        weights = rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=args.bootstrap)
        labelers = [("rules", rules), ("keywords", keywords)] + ([("baseline", baseline)] if baseline else [])
        for lab_name, labels in labelers:
            for map_name, mapping in (("curated", truth), ("literal", literal)):
                for policy, positive in POLICIES.items():
                    tp, fp, fn, scored = outcome_arrays([mapping[i] for i in idx], [labels[i] for i in idx], obs, positive)
                    table = f1_table(tp, fp, fn, scored, obs)
                    ci = bootstrap_macro_f1(tp, fp, fn, weights)
                    results[half, lab_name, map_name, policy] = (table, macro(table), ci)

    n_half = {h: len(members[h]) for h in members}
    lines = [
        "## Report labeler vs human MeSH codes (IU Open-i)",
        "",
        (f"Machine: {machine()}; `python benchmarks/bench_labeler.py --half {args.half}` on {len(reports)} IU reports "
        f"({len(evaluated)} evaluated: dev {n_half['dev']}, held-out {n_half['heldout']}; left out: {n_uncoded} coded "
        f"'No Indexing', {n_empty} with empty FINDINGS and IMPRESSION)."),
        "",
        ("Halves: `cxrpilot.reports.iu_half(report_id)` (sha256 of the id; one report per patient, so "
        "patient-disjoint). **Caveat:** the rules and the curated mapping written before the split existed "
        "had been tuned on errors of *all* reports; the held-out half is held out only for the changes "
        "made since (which were written from dev-half errors alone)."),
        "",
        (f"Speed (one core, FINDINGS + IMPRESSION, section split included): **{speed:,.0f} reports/s** "
        f"(rules; best of {args.repeat}); keyword baseline {keyword_speed:,.0f} reports/s. Target >= 1,000."),
        "",
        f"### Macro-F1 over the {len(obs)} observations (95% bootstrap interval, {args.bootstrap} replicates)",
        "",
        "| half | mapping | uncertain as | rules | keywords |",
        "|---|---|---|---|---|",
    ]
    for half in sets:
        for map_name in ("curated", "literal"):
            for policy in POLICIES:
                cells = []
                for lab_name in ("rules", "keywords"):
                    _, m, (lo, hi) = results[half, lab_name, map_name, policy]
                    cells.append(f"{m:.3f} ({lo:.3f}-{hi:.3f})")
                bold = half == "heldout" and map_name == "curated"
                if bold:
                    cells[0] = f"**{cells[0]}**"
                label = {"dev": "dev", "heldout": "held-out", "all": "all"}[half]
                lines.append(f"| {label} (n={n_half[half]}) | {map_name} | {policy.split()[-1]} | {cells[0]} | {cells[1]} |")
    lines.append("")

    if baseline:
        lines += [
            f"### Before / after: the labeler at `{args.baseline}` and now, same reports and bootstrap draws",
            "",
            "| half | mapping | uncertain as | before | after | change |",
            "|---|---|---|---|---|---:|",
        ]
        for half in sets:
            for map_name in ("curated", "literal"):
                for policy in POLICIES:
                    _, before, (blo, bhi) = results[half, "baseline", map_name, policy]
                    _, after, (alo, ahi) = results[half, "rules", map_name, policy]
                    label = {"dev": "dev", "heldout": "held-out", "all": "all"}[half]
                    lines.append(f"| {label} (n={n_half[half]}) | {map_name} | {policy.split()[-1]} | {before:.3f} ({blo:.3f}-{bhi:.3f}) "
                                 f"| {after:.3f} ({alo:.3f}-{ahi:.3f}) | {after - before:+.3f} |")
        lines += ["", "Per observation, F1 before -> after (curated mapping, uncertain as positive):", "",
                  "| observation | " + " | ".join({"dev": "dev", "heldout": "held-out", "all": "all"}[h] for h in sets) + " |",
                  "|---|" + "---:|" * len(sets)]
        for name in obs:
            cells = []
            for half in sets:
                b = results[half, "baseline", "curated", "uncertain as positive"][0][name]["f1"]
                a = results[half, "rules", "curated", "uncertain as positive"][0][name]["f1"]
                cells.append(f"{b:.3f} -> {a:.3f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")

    for half in sets:
        for policy in POLICIES:
            r = results[half, "rules", "curated", policy][0]
            k = results[half, "keywords", "curated", policy][0]
            rl = results[half, "rules", "literal", policy][0]
            label = {"dev": "dev half", "heldout": "held-out half", "all": "all reports"}[half]
            lines += [
                f"### {label}, curated mapping, {policy}",
                "",
                "| observation | MeSH positives / n | rules P | rules R | rules F1 | keywords P | keywords R | keywords F1 | rules F1 (literal) |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for name in obs:
                a, b, c = r[name], k[name], rl[name]
                lines.append(
                    f"| {name} | {a['positives']} / {a['n']} | {a['precision']:.3f} | {a['recall']:.3f} | {a['f1']:.3f} "
                    f"| {b['precision']:.3f} | {b['recall']:.3f} | {b['f1']:.3f} | {c['f1']:.3f} |"
                )
            lines += [f"| **macro-F1** | | | | **{macro(r):.3f}** | | | **{macro(k):.3f}** | {macro(rl):.3f} |", ""]

    # what the labeler said where it disagrees with MeSH, on the dev half only
    if "dev" in sets:
        lines += [
            "### Disagreements on the dev half by what the labeler said (curated mapping)",
            "",
            ("FP -1 / FN -1: a hedged mention (uncertain) that the coders did not / did code; these are "
            "errors under one policy each. FP 1: a definite mention the coders did not code. FN 0: "
            "the labeler read a negation; FN none: the labeler found no mention."),
            "",
            "| observation | FP said 1 | FP said -1 | FN said -1 | FN said 0 | FN not mentioned |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        totals: Counter = Counter()
        for name in obs:
            said: Counter = Counter()
            for i in members["dev"]:
                t, p = truth[i][name], rules[i][name]
                if t == 0 and p in (1, -1):
                    said[f"fp{p}"] += 1
                elif t == 1 and p != 1:
                    said[f"fn{p}"] += 1
            totals.update(said)
            lines.append(f"| {name} | {said['fp1']} | {said['fp-1']} | {said['fn-1']} | {said['fn0']} | {said['fnNone']} |")
        lines.append(f"| **total** | {totals['fp1']} | {totals['fp-1']} | {totals['fn-1']} | {totals['fn0']} | {totals['fnNone']} |")
        lines.append("")

    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")

    if args.errors:
        positive = POLICIES["uncertain as positive"]
        for name in obs:
            fps = [i for i in members["dev"] if truth[i][name] == 0 and rules[i][name] in positive]
            fns = [i for i in members["dev"] if truth[i][name] == 1 and rules[i][name] not in positive]
            print(f"\n==== {name} (dev half): {len(fps)} FP, {len(fns)} FN")
            for kind, idx in (("FP", fps), ("FN", fns)):
                for i in idx[: args.errors]:
                    print(f"-- {kind} {files[i].name} label={rules[i][name]} mesh={reports[i].mesh_major}")
                    print("   ", re.sub(r"\s+", " ", reports[i].sections.findings + " || " + reports[i].sections.impression)[:600])


if __name__ == "__main__":
    main()
