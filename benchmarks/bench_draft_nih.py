"""The default drafter end to end on held-out NIH ChestX-ray14 patients: does the draft TEXT
say what the NIH labels say?

For every NIH image of the expert model's test split (patients never trained on): the
product path (``imaging.load`` -> ``pipeline.draft`` with the shipped expert model -> FINDINGS/
IMPRESSION text), then the project's labeler reads the text back. Clinical efficacy (CE) of
the text against the NIH labels, over the findings the model assesses (the only ones the text
may state), micro and per finding, uncertain counted as negative and as positive; beside it,
the CE of the draft's own statuses (the structured part) — the text should lose nothing — and
the agreement of text and statuses. Drafts/s of the whole path on this machine.

Usage: ``python benchmarks/bench_draft_nih.py [--data ../shared/data]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine  # noqa: E402

STATUS_VALUE = {"present": 1, "absent": 0, "uncertain": -1, "not_assessed": None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "draft_nih.md"))
    args = ap.parse_args()

    from cxrpilot import imaging, pipeline
    from cxrpilot.evaluation import clinical_efficacy
    from cxrpilot.models.expert._data import SOURCES, build_table
    from cxrpilot.reports import label_report

    drafter = pipeline.load_drafter()
    card = drafter.model.card
    assessed = card.assessed
    table = build_table(Path(args.data), SOURCES, seed=card.training["seed"], progress=False)
    test = [s for s, split in zip(table.studies, table.splits, strict=True)
            if split == "test" and s.source == "nih-chestxray14"]
    refs, from_text, from_status, agree, t_total = [], [], [], [], 0.0
    for study in test:
        t0 = time.perf_counter()
        draft = pipeline.draft(imaging.load(study.images[0].path, check=False), model=drafter)
        t_total += time.perf_counter() - t0
        read = label_report(draft.text)
        statuses = {f.name: STATUS_VALUE[str(f.status)] for f in draft.findings}
        refs.append({n: study.labels.get(n) for n in assessed})
        from_text.append({n: read[n] for n in assessed})
        from_status.append({n: statuses[n] for n in assessed})
        agree.append(np.mean([(read[n] or 0) == (statuses[n] or 0) for n in assessed]))
    ce_text = clinical_efficacy(from_text, refs)
    ce_status = clinical_efficacy(from_status, refs)
    lines = ["## Drafts end to end on held-out NIH patients (`benchmarks/bench_draft_nih.py`)", "",
             f"Machine: {machine()}. Model {card.model_id} {card.version}; {len(test)} NIH test "
             f"images; CE over the {len(assessed)} assessed findings ({', '.join(assessed)}).", "",
             "| CE against NIH labels | micro P | micro R | micro F1 (unc. neg.) | micro F1 (unc. pos.) | macro F1 |",
             "|---|---|---|---|---|---|"]
    for name, ce in (("draft text (labeler reads it back)", ce_text),
                     ("draft statuses (structured part)", ce_status)):
        lines.append(f"| {name} | {ce.score('precision'):.3f} | {ce.score('recall'):.3f} | "
                     f"{ce.score('f1'):.3f} | {ce.score('f1', uncertain='positive'):.3f} | "
                     f"{ce.score('f1', average='macro'):.3f} |")
    lines += ["", f"Text agrees with the draft's own statuses on {100 * np.mean(agree):.1f} % of "
              f"(image, assessed finding) pairs (uncertain and absent read as given).",
              f"Whole path (decode, model, maps, composer): {len(test) / t_total:.0f} drafts/s.", "",
              "| finding | support | P (text) | R (text) | F1 (text) | F1 (statuses) |",
              "|---|---|---|---|---|---|"]
    rows = {r["observation"]: r for r in ce_text.per_observation if r["uncertain"] == "negative"}
    rows_s = {r["observation"]: r for r in ce_status.per_observation if r["uncertain"] == "negative"}
    for n in assessed:
        r, s = rows.get(n), rows_s.get(n)
        if r:
            lines.append(f"| {n} | {r['support']} | {r['precision']:.3f} | {r['recall']:.3f} | "
                         f"{r['f1']:.3f} | {s['f1']:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
