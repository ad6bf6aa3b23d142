"""The report labeler against human labels: IU Open-i MeSH codes; and its speed.

For every IU report in ``--data`` (``iu-xray/reports/*.xml``), the MeSH major terms coded
by people are mapped to the 14 observations (:func:`cxrpilot.reports.mesh_labels`) and
compared with

- ``rules``: the rule-based labeler (:func:`cxrpilot.reports.label_report`) on FINDINGS +
  IMPRESSION;
- ``keywords``: a keyword-only baseline run in the same script: the same mention phrases,
  with no negation, no uncertainty and no "normal" statements (any mention is positive).

MeSH codes say what is present, so a label counts as predicted positive when it is 1, or
when it is 1 or -1 ("uncertain as positive"; both policies are printed, the first is the
headline). Reports coded ``No Indexing`` and observations a code leaves ambiguous are left
out. Per observation: precision, recall, F1, positives; macro-F1 over the observations.

Speed: reports per second of ``label_reports`` on one core (process pinned to one CPU),
best of ``--repeat`` passes over all reports (XML parsing not included).

Prints, and writes ``benchmarks/results/labeler.md``.

Usage: ``python benchmarks/bench_labeler.py [--data ../shared/data] [--errors 5]``
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections import Counter
from pathlib import Path

from _machine import machine

REPO = Path(__file__).resolve().parents[1]


def keyword_labels(text: str) -> dict[str, int | None]:
    """The baseline: any mention phrase of an observation makes it positive."""
    from cxrpilot.reports import normalise, split_sections
    from cxrpilot.reports._labeler import _MENTION_RES, _OTHER
    from cxrpilot.vocabulary import OBSERVATIONS

    body = normalise(split_sections(text).labeling_text()).lower()
    labels: dict[str, int | None] = dict.fromkeys(OBSERVATIONS)
    if not body.strip():
        return labels
    other = False
    for name, (pattern, inherents, _keys) in _MENTION_RES.items():
        hit = any(inherents[int(m.lastgroup[1:])] in (1, -1) for m in pattern.finditer(body))
        if name == _OTHER:
            other = other or hit
        elif hit:
            labels[name] = 1
    abnormal = other or any(labels[n] == 1 for n in OBSERVATIONS if n not in ("No Finding", "Support Devices"))
    labels["No Finding"] = 0 if abnormal else 1
    return labels


def scores(truth: list[dict], pred: list[dict], observations, *, uncertain_positive: bool) -> dict:
    positive = {1, -1} if uncertain_positive else {1}
    out = {}
    for name in observations:
        tp = fp = fn = n = pos = 0
        for t, p in zip(truth, pred):
            if t[name] is None:
                continue
            n += 1
            y = t[name] == 1
            yhat = p[name] in positive
            pos += y
            tp += y and yhat
            fp += (not y) and yhat
            fn += y and not yhat
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        out[name] = {"precision": precision, "recall": recall, "f1": f1, "positives": pos, "n": n, "tp": tp, "fp": fp, "fn": fn}
    return out


def macro(table: dict) -> float:
    values = [v["f1"] for v in table.values() if v["f1"] == v["f1"]]
    return sum(values) / len(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--errors", type=int, default=0, help="print this many errors per observation")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "labeler.md"))
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core

    from cxrpilot.reports import MESH_VALIDATED, label_reports, mesh_labels, read_iu_xml

    files = sorted((Path(args.data) / "iu-xray" / "reports").glob("*.xml"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise SystemExit(f"no IU reports under {args.data}/iu-xray/reports")
    reports = [read_iu_xml(f) for f in files]
    texts = [r.text for r in reports]
    truth = [mesh_labels(r.mesh_major) for r in reports]
    has_text = [bool((r.sections.findings + r.sections.impression).strip()) for r in reports]
    coded = [i for i, t in enumerate(truth) if any(v is not None for v in t.values()) and has_text[i]]
    n_uncoded = sum(1 for t in truth if all(v is None for v in t.values()))
    n_empty = sum(1 for i, t in enumerate(truth) if any(v is not None for v in t.values()) and not has_text[i])

    best = float("inf")
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        rules = label_reports(texts)
        best = min(best, time.perf_counter() - t0)
    speed = len(texts) / best
    t0 = time.perf_counter()
    keywords = [keyword_labels(t) for t in texts]
    keyword_speed = len(texts) / (time.perf_counter() - t0)

    truth_c = [truth[i] for i in coded]
    results = {}
    for policy in (True, False):
        results[policy] = {
            "rules": scores(truth_c, [rules[i] for i in coded], MESH_VALIDATED, uncertain_positive=policy),
            "keywords": scores(truth_c, [keywords[i] for i in coded], MESH_VALIDATED, uncertain_positive=policy),
        }

    lines = [
        "## Report labeler vs human MeSH codes (IU Open-i)",
        "",
        f"Machine: {machine()}; `python benchmarks/bench_labeler.py` on {len(reports)} IU reports "
        f"({len(coded)} evaluated; left out: {n_uncoded} coded 'No Indexing', {n_empty} with empty FINDINGS and IMPRESSION).",
        "",
        f"Speed (one core, FINDINGS + IMPRESSION, section split included): **{speed:,.0f} reports/s** "
        f"(rules; best of {args.repeat}); keyword baseline {keyword_speed:,.0f} reports/s. Target >= 1,000.",
        "",
    ]
    for policy, title in ((True, "uncertain (-1) counted as positive (headline)"), (False, "uncertain counted as negative")):
        r, k = results[policy]["rules"], results[policy]["keywords"]
        lines += [
            f"### {title}",
            "",
            "| observation | MeSH positives / n | rules P | rules R | rules F1 | keywords P | keywords R | keywords F1 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name in MESH_VALIDATED:
            a, b = r[name], k[name]
            lines.append(
                f"| {name} | {a['positives']} / {a['n']} | {a['precision']:.3f} | {a['recall']:.3f} | {a['f1']:.3f} "
                f"| {b['precision']:.3f} | {b['recall']:.3f} | {b['f1']:.3f} |"
            )
        lines += [f"| **macro-F1** | | | | **{macro(r):.3f}** | | | **{macro(k):.3f}** |", ""]
        literal_truth = [{n: (0 if v is None else v) for n, v in t.items()} for t in truth_c]
        lit_r = scores(literal_truth, [rules[i] for i in coded], MESH_VALIDATED, uncertain_positive=policy)
        lit_k = scores(literal_truth, [keywords[i] for i in coded], MESH_VALIDATED, uncertain_positive=policy)
        lines += [
            f"With the literal mapping (every code the mapping calls ambiguous counted as a negative "
            f"instead of left out): macro-F1 rules {macro(lit_r):.3f}, keywords {macro(lit_k):.3f}.",
            "",
        ]
    # error breakdown (headline policy): what the labeler said where it disagrees with MeSH
    lines += [
        "### Disagreements by what the labeler said (uncertain counted as positive)",
        "",
        "| observation | FP said 1 | FP said -1 | FN said 0 | FN not mentioned |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in MESH_VALIDATED:
        said = Counter()
        for i in coded:
            t, p = truth[i][name], rules[i][name]
            if t == 0 and p in (1, -1):
                said[f"fp{p}"] += 1
            elif t == 1 and p not in (1, -1):
                said[f"fn{p}"] += 1
        lines.append(f"| {name} | {said['fp1']} | {said['fp-1']} | {said['fn0']} | {said['fnNone']} |")
    lines.append("")
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")

    if args.errors:
        positive = {1, -1}
        for name in MESH_VALIDATED:
            fps = [i for i in coded if truth[i][name] == 0 and rules[i][name] in positive]
            fns = [i for i in coded if truth[i][name] == 1 and rules[i][name] not in positive]
            print(f"\n==== {name}: {len(fps)} FP, {len(fns)} FN")
            for kind, idx in (("FP", fps), ("FN", fns)):
                for i in idx[: args.errors]:
                    print(f"-- {kind} {files[i].name} label={rules[i][name]} mesh={reports[i].mesh_major}")
                    print("   ", re.sub(r"\s+", " ", reports[i].sections.findings + " || " + reports[i].sections.impression)[:600])


if __name__ == "__main__":
    main()
