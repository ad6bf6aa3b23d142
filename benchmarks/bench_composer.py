"""The composer from perfect findings: report metrics and clinical consistency on the held-out
IU half, three ways of wording a draft side by side; and the composer's speed.

Protocol ("perfect findings"). For every IU report of the **held-out** half
(:func:`cxrpilot.reports.iu_half`) with a FINDINGS or IMPRESSION section, the project's labeler
reads the report's own labels (1 / 0 / -1 / not mentioned for the 14 observations); they become
the input findings (present / absent / uncertain / *not assessed*; No Finding present when the
labeler gives 1; no probabilities). Each method writes FINDINGS + IMPRESSION from them:

- ``(a) templates``: :func:`cxrpilot.models.composer.compose` with ``method="templates"``;
- ``(b) sentence retrieval``: ``method="sentences"`` (the default): report sentences retrieved
  per finding (a greedy cover of the input's (observation, status) pairs) from the phrase bank
  built from the **dev** half (``scripts/build_phrase_bank.py``), templates for the rest;
- ``(c) whole-report retrieval``: the text of the dev-half report whose label vector (14 values,
  not-mentioned included) is nearest to the input's (Hamming distance; ties: the most frequent
  text, then the shortest) - retrieval-based report generation with a label query. It needs
  the corpus at run time and says whatever the retrieved report says, so it is a comparison
  only.

References: the real report's FINDINGS + IMPRESSION, whitespace-normalised, de-identification
marks (``XXXX``) removed. Metrics: :func:`cxrpilot.evaluation.report_metrics` (pycocoevalcap
after PTB tokenisation; CIDEr-D document frequencies from these references). Clinical
consistency (CE): the labeler on the composed text against the input labels over the 14
observations, micro-averaged, positive = 1 ("uncertain as negative") and positive = 1 or -1
("uncertain as positive"), and over the 13 without No Finding; "status agreement": the share of
the input's *mentioned* (observation, label) pairs that the labeler reads back exactly, and
"unmentioned": composed texts that mention an observation the input did not (must be 0 for (a)
and (b)).

No Finding. The labeler reads No Finding from what a text does *not* say (1 when nothing
abnormal is mentioned), and it gives a report No Finding 0 for an abnormality outside the 14
(a calcified granuloma, a degenerative spine, a hiatal hernia): so for such a report the input
is "No Finding 0" with nothing present among the 13, and no text that states only the 13
observations it is given can read back as 0 (it would have to name an abnormality it was never
told about). The pipeline never hands the composer that input (its No Finding is *derived*:
:func:`cxrpilot.draft.apply_no_finding_rule` makes it absent only when a finding is present),
but the reference label is the report's own and is kept as it is. So that the 14-observation
CE can be read, the script also scores the **ceiling** of the protocol: the labels of a text
that states exactly the input's 13 observations and nothing else (No Finding then follows by
the labeler's rule), counts the reports whose No Finding disagrees, by cause ("an abnormality
outside the 14"; "No Finding 1 with nothing else mentioned", where the composer writes nothing,
since a global normal needs every critical finding assessed absent; "other": a composer or
labeler error), and gives the
14-observation CE over the reports whose No Finding the 13 determine (n shown).

``--half dev`` scores the development half instead (for error analysis; the phrase bank and
(c)'s corpus come from that half too, so its text metrics are optimistic).

Speed: drafts per second of each method on one core (process pinned), best of ``--repeat``.

Prints, and writes ``benchmarks/results/composer.md``.

Usage: ``python benchmarks/bench_composer.py [--data ../shared/data] [--half dev] [--limit N]``
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
_STATUS = {1: "present", 0: "absent", -1: "uncertain"}


def reference_text(report) -> str:
    text = " ".join(p for p in (report.sections.findings, report.sections.impression) if p)
    text = re.sub(r"\bX{2,}\b", " ", text)
    return " ".join(text.replace(" .", ".").split())


def input_findings(labels: dict):
    from cxrpilot.draft import Finding

    return [Finding(name, _STATUS[v]) for name, v in labels.items() if v is not None and not (name == "No Finding" and v == 0)] + (
        [Finding("No Finding", "absent")] if labels.get("No Finding") == 0 else []
    )


class WholeReportRetrieval:
    """Method (c): the dev report with the nearest label vector."""

    def __init__(self, texts: list[str], labels: list[dict]) -> None:
        from cxrpilot.vocabulary import OBSERVATIONS

        self.obs = OBSERVATIONS
        groups: dict[tuple, Counter] = {}
        for text, lab in zip(texts, labels):
            groups.setdefault(self._vector(lab), Counter())[text] += 1
        # per distinct label vector: its most frequent text (then the shortest), and how common
        self.entries = []
        for vec, c in groups.items():
            text, _n = min(c.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))
            self.entries.append((vec, text, sum(c.values())))
        self.exact = {vec: text for vec, text, _ in self.entries}

    def _vector(self, lab: dict) -> tuple:
        return tuple(lab[o] for o in self.obs)

    def __call__(self, labels: dict) -> str:
        vec = self._vector(labels)
        if vec in self.exact:
            return self.exact[vec]
        best = min(self.entries, key=lambda e: (sum(a != b for a, b in zip(vec, e[0])), -e[2], len(e[1])))
        return best[1]


def ce_scores(inputs: list[dict], outputs: list[dict], positive: set, *, no_finding: bool = True) -> dict:
    from cxrpilot.vocabulary import OBSERVATIONS

    tp = fp = fn = 0
    for t, p in zip(inputs, outputs):
        for o in OBSERVATIONS:
            if o == "No Finding" and not no_finding:
                continue
            a, b = t[o] in positive, p[o] in positive
            tp += a and b
            fp += b and not a
            fn += a and not b
    prec = tp / (tp + fp) if tp + fp else float("nan")
    rec = tp / (tp + fn) if tp + fn else float("nan")
    return {"P": prec, "R": rec, "F1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")}


def agreement(inputs: list[dict], outputs: list[dict]) -> tuple[float, int]:
    from cxrpilot.vocabulary import OBSERVATIONS

    pairs = same = extra = 0
    for t, p in zip(inputs, outputs):
        mentioned_extra = False
        for o in OBSERVATIONS:
            if o == "No Finding":
                continue
            if t[o] is None:
                mentioned_extra = mentioned_extra or p[o] is not None
            else:
                pairs += 1
                same += p[o] == t[o]
        extra += mentioned_extra
    return same / pairs, extra


def stated_exactly(labels: dict) -> dict:
    """What the labeler reads back from a text that states exactly the 13 observations of
    ``labels`` and nothing else: those labels, and No Finding by the labeler's rule (0 when an
    observation other than Support Devices is present or uncertain, else 1); all None when
    nothing is mentioned (an empty text)."""
    from cxrpilot.vocabulary import OBSERVATIONS

    out = {o: labels[o] for o in OBSERVATIONS if o != "No Finding"}
    if all(v is None for v in out.values()):
        return dict.fromkeys(OBSERVATIONS)
    abnormal = any(v in (1, -1) for o, v in out.items() if o != "Support Devices")
    return {"No Finding": 0 if abnormal else 1, **out}


NO_FINDING_CAUSES = ("abnormality outside the 14", "No Finding 1, nothing else mentioned", "other")


def no_finding_cause(labels: dict, read: dict) -> str | None:
    """Why the labeler read No Finding back differently from the input (None when it did not):
    one of :data:`NO_FINDING_CAUSES`. Only "other" is an error of the composer or labeler; the
    first two are inputs whose No Finding no text of their 13 observations can give back."""
    if (labels["No Finding"] == 1) == (read["No Finding"] == 1):
        return None
    implied = stated_exactly(labels)["No Finding"]
    if (labels["No Finding"] == 1) != (implied == 1):
        return NO_FINDING_CAUSES[0] if labels["No Finding"] == 0 else NO_FINDING_CAUSES[1]
    return NO_FINDING_CAUSES[2]


def determined(labels: dict) -> bool:
    """Whether the 13 observations of ``labels`` determine its No Finding (see
    :func:`stated_exactly`)."""
    return (labels["No Finding"] == 1) == (stated_exactly(labels)["No Finding"] == 1)


def consistency(inputs: list[dict], read: list[dict]) -> dict:
    """The clinical-consistency figures of one method (see the module documentation)."""
    keep = [i for i, lab in enumerate(inputs) if determined(lab)]
    causes = Counter(no_finding_cause(t, p) for t, p in zip(inputs, read))
    return {
        "ce1": ce_scores(inputs, read, {1}),
        "ce2": ce_scores(inputs, read, {1, -1}),
        "ce13": ce_scores(inputs, read, {1}, no_finding=False),
        "ce_det": ce_scores([inputs[i] for i in keep], [read[i] for i in keep], {1}),
        "n_det": len(keep),
        "agree": agreement(inputs, read),
        "causes": {c: causes[c] for c in NO_FINDING_CAUSES},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--half", choices=("heldout", "dev"), default="heldout",
                        help="the IU half scored (dev: error analysis only; default: heldout)")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N reports of the half")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "composer.md"))
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    from cxrpilot.evaluation import report_metrics
    from cxrpilot.models.composer import compose
    from cxrpilot.reports import iu_half, label_report, read_iu_xml

    files = sorted((Path(args.data) / "iu-xray" / "reports").glob("*.xml"), key=lambda p: (len(p.stem), p.stem))
    if not files:
        raise SystemExit(f"no IU reports under {args.data}/iu-xray/reports")
    reports = [read_iu_xml(f) for f in files]
    reports = [r for r in reports if (r.sections.findings + r.sections.impression).strip()]
    dev = [r for r in reports if iu_half(r.report_id) == "dev"]
    held = [r for r in reports if iu_half(r.report_id) == args.half]
    if args.limit:
        held = held[: args.limit]
    references = [reference_text(r) for r in held]
    inputs = [label_report(r.text) for r in held]
    findings = [input_findings(lab) for lab in inputs]
    retrieval = WholeReportRetrieval([reference_text(r) for r in dev], [label_report(r.text) for r in dev])

    def templates(i: int) -> str:
        f, imp = compose(findings[i], method="templates")
        return " ".join(p for p in (f, imp) if p)

    def sentences(i: int) -> str:
        f, imp = compose(findings[i], method="sentences")
        return " ".join(p for p in (f, imp) if p)

    def whole(i: int) -> str:
        return retrieval(inputs[i])

    methods = {"(a) templates": templates, "(b) sentence retrieval (default)": sentences,
               "(c) whole-report retrieval": whole}
    rows = {}
    for name, fn in methods.items():
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            texts = [fn(i) for i in range(len(held))]
            best = min(best, time.perf_counter() - t0)
        # empty drafts (nothing mentioned in the input) are scored against the reference as ""
        scored = [t if t.strip() else "." for t in texts]
        metrics = report_metrics(scored, references)
        read = [label_report(t) for t in texts]
        rows[name] = {
            "metrics": metrics,
            **consistency(inputs, read),
            "speed": len(held) / best,
            "empty": sum(not t.strip() for t in texts),
            "example": texts[:3],
        }

    ceiling = consistency(inputs, [stated_exactly(lab) for lab in inputs])
    half = "held-out" if args.half == "heldout" else "dev"
    lines = [
        f"## Composer from perfect findings (IU {half} half)",
        "",
        *([] if args.half == "heldout" else
          ["Development half: for error analysis only (the phrase bank and (c)'s corpus come from it).", ""]),
        (f"Machine: {machine()}; `python benchmarks/bench_composer.py{' --half dev' if args.half == 'dev' else ''}` "
         f"on {len(held)} {half} IU reports (input: each report's own labels from the labeler; phrase bank "
         f"and method (c)'s corpus: the {len(dev)} dev-half reports)."),
        "",
        "| method | BLEU-4 | METEOR | ROUGE-L | CIDEr-D | drafts/s (1 core) | empty drafts |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        m = r["metrics"]
        lines.append(f"| {name} | {m['BLEU-4']:.3f} | {m['METEOR']:.3f} | {m['ROUGE-L']:.3f} | {m['CIDEr-D']:.3f} "
                     f"| {r['speed']:,.0f} | {r['empty']} |")
    n_det = ceiling["n_det"]
    lines += [
        "",
        ("Clinical consistency (the labeler on the composed text against the input labels; micro CE-F1). The "
         "ceiling row is not a method: it is what a text stating exactly the input's 13 observations reads "
         "back as, so a composer that states everything it is given and nothing else cannot score above it "
         "(one could only by withholding the input's negatives, which CE-F1 does not count)."),
        "",
        ("| method | CE-F1 (14, unc. neg.) | CE-F1 (14, unc. pos.) | CE-F1 (13, no No Finding) "
         f"| CE-F1 (14, the {n_det} reports whose No Finding the 13 determine) | status agreement "
         "| texts naming an unmentioned finding | No Finding read back otherwise: outside the 14 / "
         "nothing else mentioned / other |"),
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in [*rows.items(), ("ceiling: states exactly the input's 13 observations", ceiling)]:
        agree, extra = r["agree"]
        causes = " / ".join(str(r["causes"][c]) for c in NO_FINDING_CAUSES)
        lines.append(f"| {name} | {r['ce1']['F1']:.3f} | {r['ce2']['F1']:.3f} | {r['ce13']['F1']:.3f} "
                     f"| {r['ce_det']['F1']:.3f} | {agree:.3f} | {extra} | {causes} |")
    lines += ["", "CE precision / recall (14 observations; uncertain as negative; as positive):", ""]
    for name, r in [*rows.items(), ("ceiling", ceiling)]:
        lines.append(f"- {name}: P {r['ce1']['P']:.3f} R {r['ce1']['R']:.3f}; P {r['ce2']['P']:.3f} R {r['ce2']['R']:.3f}")
    text = "\n".join(lines)
    print(text)
    for name, r in rows.items():
        print(f"\n{name}, first drafts:")
        for t in r["example"]:
            print("   ", t)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
