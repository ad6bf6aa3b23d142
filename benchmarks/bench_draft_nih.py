"""The default drafter end to end on held-out NIH ChestX-ray14 patients: does the draft TEXT
say what the NIH labels say?

For every NIH image of the expert model's test split (patients never trained on): the
product path (``imaging.load`` -> ``pipeline.draft`` with the shipped expert model -> FINDINGS/
IMPRESSION text), then the project's labeler reads the text back. Clinical efficacy (CE) of
the text against the NIH labels, over the findings the model assesses (the only ones the text
may state), micro and per finding, uncertain counted as negative and as positive; beside it,
the CE of the draft's own statuses (the structured part) — the text should lose nothing — and
the agreement of text and statuses. Drafts/s of the whole path on this machine.

Where the shipped model assesses few findings (or none), a second, clearly labelled
comparison drafts through the same product path with the **evaluation-only** setting
``pipeline.ExpertDrafter(model, every_output=True)``: EVERY output of the network treated as
assessed (statuses from the card's thresholds, No Finding by the rule, composed the same way)
— what the text would say if the assessment bar were dropped. It is not what the product
ships: those findings did not pass the assessment rule, so the row measures the network's
(weak) findings and whether the text loses any of them, not a draft a reader would see.

Usage: ``python benchmarks/bench_draft_nih.py [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

STATUS_VALUE = {"present": 1, "absent": 0, "uncertain": -1, "not_assessed": None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "draft_nih.md"))
    args = ap.parse_args()

    from cxrpilot import imaging, pipeline
    from cxrpilot.evaluation import clinical_efficacy
    from cxrpilot.models.expert import SOURCES, build_table
    from cxrpilot.reports import label_report

    drafter = pipeline.load_drafter()
    card = drafter.model.card
    assessed = card.assessed
    table = build_table(Path(args.data), SOURCES, seed=card.training["seed"], progress=False)
    test = [s for s, split in zip(table.studies, table.splits, strict=True)
            if split == "test" and s.source == "nih-chestxray14"]
    every_output = pipeline.ExpertDrafter(drafter.model, every_output=True)

    outputs = [n for n in card.labels if n != "No Finding"]
    rows: dict[str, dict[str, list]] = {k: {"ref": [], "text": [], "status": []}
                                         for k in ("shipped", "all outputs")}
    agree: dict[str, list] = {"shipped": [], "all outputs": []}
    t_total = 0.0
    for study in test:
        t0 = time.perf_counter()
        rg = imaging.load(study.images[0].path, check=False)
        draft = pipeline.draft(rg, model=drafter)
        t_total += time.perf_counter() - t0
        every = pipeline.draft(rg, model=every_output)
        for key, findings, text, names in (
                ("shipped", draft.findings, draft.text, assessed),
                ("all outputs", every.findings, every.text, outputs)):
            read = label_report(text)
            statuses = {f.name: STATUS_VALUE[str(f.status)] for f in findings}
            rows[key]["ref"].append({n: study.labels.get(n) for n in names})
            rows[key]["text"].append({n: read[n] for n in names})
            rows[key]["status"].append({n: statuses[n] for n in names})
            agree[key] += [read[n] == statuses[n] or (read[n], statuses[n]) == (1, -1) for n in names]
    lines = ["## Drafts end to end on held-out NIH patients (`benchmarks/bench_draft_nih.py`)", "",
             f"Machine: {machine()}. Model {card.model_id} {card.version}; {len(test)} NIH test "
             f"images. Shipped: the model assesses {len(assessed)} findings"
             f"{' (' + ', '.join(assessed) + ')' if assessed else ''}; its drafts state nothing "
             "else." + ("" if assessed else " CE is undefined for the shipped drafts (they state "
                        "no finding); only the comparison row below can be scored."), "",
             ("| CE against NIH labels | findings | micro P | micro R | micro F1 (unc. neg.) | "
             "micro F1 (unc. pos.) | macro F1 |"), "|---|---|---|---|---|---|---|"]
    per_obs = {}
    for key, names in (("shipped", assessed), ("all outputs", outputs)):
        if not names:
            continue
        for part in ("text", "status"):
            ce = clinical_efficacy(rows[key][part], rows[key]["ref"])
            per_obs[(key, part)] = {r["observation"]: r for r in ce.per_observation
                                    if r["uncertain"] == "negative"}
            label = (f"{key}: draft {'text (labeler reads it back)' if part == 'text' else 'statuses'}"
                     + (" — evaluation only (`every_output=True`), NOT shipped" if key == "all outputs" else ""))
            lines.append(f"| {label} | {len(names)} | {ce.score('precision'):.3f} | "
                         f"{ce.score('recall'):.3f} | {ce.score('f1'):.3f} | "
                         f"{ce.score('f1', uncertain='positive'):.3f} | "
                         f"{ce.score('f1', average='macro'):.3f} |")
    lines += [""]
    shares = Counter(v for row in rows["all outputs"]["status"] for v in row.values())
    total = sum(shares.values())
    if total:
        lines.append("Evaluation-only statuses (card thresholds; for outputs that did not pass the assessment "
                     "rule the uncertain band is wide): " + ", ".join(
                         f"{word} {100 * shares[v] / total:.1f} %" for word, v in
                         (("present", 1), ("uncertain", -1), ("absent", 0))) + ".")
    for key, pairs in agree.items():
        if pairs:
            lines.append(f"{key.capitalize()}: the text reads back as the draft's own status for {sum(pairs):,} of "
                         f"{len(pairs):,} (image, assessed finding) pairs ({100 * np.mean(pairs):.1f} %; an "
                         "uncertain finding read as present counts as agreeing).")
    lines += [f"Whole product path (decode, model, maps, composer): {len(test) / t_total:.0f} drafts/s.",
              "", "Per finding, the comparison row (every output treated as assessed):", "",
              "| finding | support | P (text) | R (text) | F1 (text) | F1 (statuses) |",
              "|---|---|---|---|---|---|"]
    for n in outputs:
        r = per_obs.get(("all outputs", "text"), {}).get(n)
        st = per_obs.get(("all outputs", "status"), {}).get(n)
        if r and st:
            lines.append(f"| {n} | {r['support']} | {r['precision']:.3f} | {r['recall']:.3f} | "
                         f"{r['f1']:.3f} | {st['f1']:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
