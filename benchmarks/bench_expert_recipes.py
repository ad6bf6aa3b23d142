"""Two training recipes of the expert model, side by side on the same patient-level splits.

- ``nih-only``: trained on NIH ChestX-ray14 alone (the one source labelling every finding).
- ``joint``: trained on all four shared sources at once with partial labels (a label a
  source does not give is masked in the loss): the ~20,000 pneumonia/COVID/normal images
  shape the representation through their No Finding / Lung Opacity / Pneumonia labels while
  the NIH images teach the other findings (multi-task representation learning).
- ``joint+finetune``: the ``joint`` network, then fine-tuned on NIH alone at a lower
  learning rate (multi-task pretraining, then fine-tuning).
- ``joint128`` / ``joint128+finetune``: the same two stages, but the multi-task pretraining
  runs at 128 px for three times as many draws (the same compute as ``joint``: a 128-px image
  costs about a third of a 224-px one), then the fine-tuning at 224 px. The network is fully
  convolutional, so the 128-px weights start the 224-px model directly. Only models of at
  least 224 px are candidates for the keeper.
- ``joint128+finetune+boxW``: that fine-tuning with the box loss of weight W (the class
  activation map of each finding a radiologist boxed on a training image is pulled into the
  boxes; NIH boxes on ~half of the NIH training images).

The keeper is the best NIH validation mean AUC among the recipes whose maps point into the
radiologists' boxes on the validation patients more often than the image centre does (mean
over the boxed findings): a map that points elsewhere would mislead the reader.

Both read the same table (same de-duplication, same seed, same split); they differ only in
which training rows they draw. Each model is judged on the NIH **validation** patients (mean
AUC over the findings) — the keeper is chosen there, never on the test split — and both are
then reported on the NIH test patients. ``--install`` copies the keeper into
``src/cxrpilot/weights/`` (replacing the old default).

Usage: ``python benchmarks/bench_expert_recipes.py [--data ../shared/data] [--install]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

TARGETS = ("Cardiomegaly", "Pleural Effusion", "Pneumothorax", "Atelectasis", "Edema",
           "Consolidation", "Lung Opacity", "Pneumonia", "Lung Lesion")
RECIPES = {
    "nih-only": {"train_sources": ("nih-chestxray14",), "samples_per_epoch": 1000, "epochs": 12},
    "joint": {"train_sources": None, "samples_per_epoch": 3000, "epochs": 8},
    "joint+finetune": {"train_sources": ("nih-chestxray14",), "samples_per_epoch": 1000,
                       "epochs": 30, "lr": 1.5e-3, "init_from": "joint"},
    "joint128": {"train_sources": None, "samples_per_epoch": 3000, "epochs": 24,
                 "image_size": 128},
    "joint128+finetune": {"train_sources": ("nih-chestxray14",), "samples_per_epoch": 1000,
                          "epochs": 12, "lr": 1.5e-3, "init_from": "joint128"},
}
for _w in (0.1, 0.3, 1.0):  # the same fine-tuning with the box loss on the NIH boxes
    RECIPES[f"joint128+finetune+box{_w:g}"] = {**RECIPES["joint128+finetune"], "box_weight": _w}


def fmt(m: dict | None) -> str:
    return "n/a" if not m else f"{m['auc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


_VALIDATION_BOXED: list = []


def validation_maps(data: str, card, folder: Path) -> dict:
    """The card's map hit rates on the NIH validation patients; cards written before the
    training code measured them get them measured here, on the same split."""
    if card.metrics.get("maps_validation") is not None:
        return card.metrics["maps_validation"]
    from cxrpilot.models.expert import SOURCES, box_hit_rates, build_table

    if not _VALIDATION_BOXED:
        table = build_table(Path(data), SOURCES, seed=0, limit_per_class=None,
                            holdout_source=None, cache_dir=None, progress=False)
        _VALIDATION_BOXED.extend(s for s, split in zip(table.studies, table.splits, strict=True)
                                 if split == "validate" and s.meta.get("boxes"))
    return box_hit_rates(folder / "model.onnx", _VALIDATION_BOXED, card.labels, card.assessed,
                         mean=card.mean, std=card.std, input_size=card.image_size)


def main() -> None:
    from cxrpilot.models.expert import train_expert

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--work", default="/tmp/cxrpilot-recipes")
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES))
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--arch", default="resnet10")
    ap.add_argument("--install", action="store_true", help="copy the keeper into src/cxrpilot/weights")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "expert_recipes.md"))
    args = ap.parse_args()

    cards = {}
    from cxrpilot.models.expert import load

    for name in args.recipes:
        out = Path(args.work) / name
        if (out / "card.json").is_file():  # trained by an earlier run of this script
            cards[name] = load(out).card
            continue
        options = {"image_size": args.image_size, **RECIPES[name]}
        if "init_from" in options:
            options["init_from"] = Path(args.work) / options["init_from"]
        t0 = time.perf_counter()
        cards[name] = train_expert(args.data, out, seed=0, arch=args.arch, progress=False,
                                   **options)
        print(f"{name}: trained in {time.perf_counter() - t0:.0f} s -> {out}", flush=True)

    from cxrpilot.models.expert import choose_assessed

    def assessed(card) -> tuple[str, ...]:  # today's rule, also for cards written before it
        return choose_assessed(card.metrics["test"], card.metrics.get("validation"))

    def mean_auc(card, split: str) -> float:
        group = card.metrics[split]["nih-chestxray14"]
        return float(np.mean([group[t]["auc"] for t in TARGETS if group.get(t)]))

    maps_validation = {n: validation_maps(args.data, c, Path(args.work) / n)
                       for n, c in cards.items()}

    def mean_hits(maps: dict, key: str) -> float:
        return float(np.mean([row[f"{key}_hit_rate"] for row in maps.values()])) if maps else 0.0

    candidates = [n for n in cards if cards[n].image_size >= 224  # the input floor
                  and mean_hits(maps_validation[n], "map") > mean_hits(maps_validation[n], "centre")]
    if not candidates:
        sys.exit("no recipe's maps beat the image centre on the validation boxes: no keeper")
    keeper = max(candidates, key=lambda n: mean_auc(cards[n], "validation"))
    lines = ["# Expert model recipes (benchmarks/bench_expert_recipes.py)", "",
             f"Machine: {machine()}", "",
             (f"{args.arch}, seed 0, one split for all. Keeper chosen on NIH validation mean "
              f"AUC among the models of at least 224 px: **{keeper}**. Training times are wall "
              "seconds on this machine, which other jobs shared."), "",
             ("Map hit rate: share of boxed (image, finding) pairs whose map peak lies in a "
              "radiologist's box, mean over the boxed findings, with the image centre's rate "
              "beside it (validation / test patients)."), "",
             ("| recipe | px | samples drawn | box loss | train s | NIH val mean AUC | "
             "NIH test mean AUC | map hits val (centre) | map hits test (centre) | assessed |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, card in cards.items():
        tr = card.training
        mv, mt = maps_validation[name], card.metrics.get("maps") or {}
        lines.append(f"| {name} | {card.image_size} | {tr['samples_per_epoch']} x {tr['epochs']} | "
                     f"{tr.get('box_weight', 0) or '-'} | "
                     f"{tr['train_seconds']:.0f} | {mean_auc(card, 'validation'):.3f} | "
                     f"{mean_auc(card, 'test'):.3f} | "
                     f"{mean_hits(mv, 'map'):.2f} ({mean_hits(mv, 'centre'):.2f}) | "
                     f"{mean_hits(mt, 'map'):.2f} ({mean_hits(mt, 'centre'):.2f}) | "
                     f"{', '.join(assessed(card)) or '-'} |")
    lines += ["", "NIH test patients, AUC [95 % bootstrap CI]:", "",
              "| finding | " + " | ".join(cards) + " |", "|---|" + "---|" * len(cards)]
    for t in TARGETS:
        lines.append(f"| {t} | " + " | ".join(
            fmt(c.metrics["test"]["nih-chestxray14"].get(t)) for c in cards.values()) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")
    Path(args.work, "summary.json").write_text(json.dumps(
        {n: {"val": mean_auc(c, "validation"), "test": mean_auc(c, "test")} for n, c in cards.items()}))
    if args.install:
        weights = REPO / "src" / "cxrpilot" / "weights"
        target = weights / cards[keeper].model_id
        for old in weights.glob("expert-*"):  # the old default is replaced, not kept beside it
            if old.is_dir():
                shutil.rmtree(old)
        shutil.copytree(Path(args.work) / keeper, target,
                        ignore=shutil.ignore_patterns("model.safetensors", "config.json"))
        print(f"installed {cards[keeper].model_id} into {target}")


if __name__ == "__main__":
    main()
