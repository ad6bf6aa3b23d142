"""Speed of the report metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D) on 10,000 report pairs.

Pairs are real IU X-ray reports (FINDINGS + IMPRESSION of report i against those of a
randomly drawn report j, seeded). Prints, and writes ``benchmarks/results/report_metrics.md``:

- wall time of ``cxrpilot.evaluation.report_metrics`` on all metrics (target < 60 s), with the
  load average of the machine while it ran (other work on a shared machine slows it);
- for comparison, the time of the same computation the way pycocoevalcap's own ``COCOEvalCap``
  runs it (PTBTokenizer twice, then each scorer one after another), and the largest absolute
  difference between the two sets of scores (must be 0).

Usage: ``python benchmarks/bench_report_metrics.py [--data ../shared/data] [--pairs 10000]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from _machine import machine

REPO = Path(__file__).resolve().parents[1]


def iu_reports(data: Path) -> list[str]:
    texts = []
    for f in sorted((data / "iu-xray" / "reports").glob("*.xml")):
        sections = {a.get("Label"): (a.text or "").strip() for a in ET.parse(f).getroot().iter("AbstractText")}
        text = " ".join(t for t in (sections.get("FINDINGS"), sections.get("IMPRESSION")) if t)
        if text:
            texts.append(text)
    return texts


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (java: tokenizer, METEOR)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def reference_pipeline(preds: list[str], refs: list[str]) -> dict[str, float]:
    """pycocoevalcap as COCOEvalCap.evaluate runs it (sequential, its own tokenizer)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": r}] for i, r in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": p}] for i, p in enumerate(preds)})
    out: dict[str, float] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    out |= {f"BLEU-{i + 1}": bleu[i] for i in range(4)}
    meteor = Meteor()
    out["METEOR"] = meteor.compute_score(gts, res)[0]
    del meteor
    out["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
    out["CIDEr-D"] = float(Cider().compute_score(gts, res)[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-reference", action="store_true", help="skip the pycocoevalcap-as-is run")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "report_metrics.md"))
    args = parser.parse_args()

    from cxrpilot.evaluation import report_metrics

    texts = iu_reports(Path(args.data))
    rng = np.random.default_rng(args.seed)
    i = rng.integers(0, len(texts), args.pairs)
    j = (i + rng.integers(1, len(texts), args.pairs)) % len(texts)  # j != i
    preds, refs = [texts[k] for k in i], [texts[k] for k in j]
    words = np.mean([len(t.split()) for t in preds + refs])

    load0 = os.getloadavg()[0]
    c0, t0 = cpu_seconds(), time.perf_counter()
    ours = report_metrics(preds, refs)
    ours_s, ours_cpu = time.perf_counter() - t0, cpu_seconds() - c0
    load1 = os.getloadavg()[0]

    lines = [
        "# Report metrics speed",
        "",
        f"Machine: {machine()}",
        (f"Data: {args.pairs} pairs of real IU X-ray reports (FINDINGS + IMPRESSION, report i vs a "
        f"random other report j, seed {args.seed}); mean {words:.0f} words per report."),
        "",
        "| run | wall time (s) | CPU time incl. java (s) | load average (1 min) before / after |",
        "|---|---:|---:|---|",
        (f"| `cxrpilot.evaluation.report_metrics` (all 7 metrics) | {ours_s:.1f} | {ours_cpu:.1f} | "
        f"{load0:.1f} / {load1:.1f} |"),
    ]
    if not args.no_reference:
        load0 = os.getloadavg()[0]
        c0, t0 = cpu_seconds(), time.perf_counter()
        ref = reference_pipeline(preds, refs)
        ref_s, ref_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        load1 = os.getloadavg()[0]
        diff = max(abs(ours[k] - ref[k]) for k in ref)
        lines.append(f"| pycocoevalcap as COCOEvalCap runs it (sequential) | {ref_s:.1f} | {ref_cpu:.1f} | "
                     f"{load0:.1f} / {load1:.1f} |")
        lines += ["", f"Largest absolute difference between the two sets of scores: {diff:.3g}"]
    lines += ["", (f"Target: < 60 s for 10,000 pairs. Result: {'met' if ours_s < 60 else 'MISSED'} "
              f"({ours_s:.1f} s wall). The machine has {os.cpu_count()} cores shared with other work; "
              "a load average above the core count means this run got only part of them."), "", "Scores (these pairs are unrelated reports, so they are low):", ""]
    lines += [f"- {k}: {v:.4f}" for k, v in ours.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
