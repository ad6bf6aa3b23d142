"""Learning curve of the expert model: held-out AUC against the number of labelled NIH patients.

Why: no finding reaches the bar of issue 11 (AUC >= 0.80 on held-out NIH patients, within
each view, and on validation). Whether more CPU time, a bigger network or more labelled
images would get there is a question this curve answers with numbers: the same recipe is
trained on a seeded share of the NIH training *patients* (``train_fraction``; whole
patients, the validation and test patients unchanged) and measured on the same held-out
patients. The slope per doubling of the labelled set, fitted per finding (least squares of
AUC on log2 of the training images), says how many labelled images the recipe would need for
0.80 — an extrapolation past the data, given as such.

The recipe is the NIH-only one of ``bench_expert_recipes.py`` (from scratch, 224 px, 12 epochs
of 1000 draws), so every point costs the same compute: the curve measures labels, not
training time.

Usage: ``python benchmarks/bench_expert_learning_curve.py [--data ../shared/data]
[--fractions 0.25 0.5 1] [--out runs/learning-curve]``; writes
``benchmarks/results/expert_learning_curve.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

TARGETS = ("Cardiomegaly", "Pleural Effusion", "Pneumothorax", "Atelectasis", "Edema",
           "Consolidation", "Lung Opacity", "Pneumonia", "Lung Lesion")
NIH = "nih-chestxray14"
BAR = 0.80


def nih_auc(card, split: str, name: str) -> float | None:
    group = (card.metrics.get(split) or {}).get(NIH) or {}
    m = group.get(name)
    return None if not m else float(m["auc"])


def train_point(data: str, out: Path, fraction: float, seed: int):
    """Train (or reuse) the NIH-only recipe on ``fraction`` of the training patients."""
    from cxrpilot.models.expert import read_model_card, train_expert

    folder = out / f"fraction-{fraction:g}-seed{seed}"
    if (folder / "card.json").exists():
        return read_model_card(folder)
    return train_expert(data, folder, seed=seed, epochs=12, image_size=224,
                        train_sources=(NIH,), samples_per_epoch=1000,
                        train_fraction=fraction, progress=False)


def fit_slope(n: np.ndarray, auc: np.ndarray) -> tuple[float, float]:
    """Least-squares ``auc = a + b * log2(n)``: (a, b)."""
    b, a = np.polyfit(np.log2(n), auc, 1)
    return float(a), float(b)


#: Gains per doubling below this are not told apart from seed and split noise (one seed per
#: point; the test AUCs move by about this much between seeds).
NOISE = 0.01


def extrapolated_images(a: float, b: float, auc_now: float, n_now: float) -> str:
    """Where the fitted line reaches :data:`BAR`, said only where that means something."""
    if auc_now >= BAR:
        return "reached"
    if b < NOISE:
        return "no measurable gain"
    need = 2 ** ((BAR - a) / b)
    return f"{need:,.0f}" if need <= 100 * n_now else f"more than 100x the data ({need:.1e})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "learning-curve")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "expert_learning_curve.md")
    args = ap.parse_args()

    cards = {}
    for fraction in sorted(args.fractions):
        t = time.time()
        cards[fraction] = train_point(args.data, args.out, fraction, args.seed)
        print(f"fraction {fraction:g}: {cards[fraction].training['train_images']} images, "
              f"{time.time() - t:.0f} s", flush=True)

    fractions = sorted(cards)
    n = np.asarray([cards[f].training["train_images"] for f in fractions], dtype=float)
    lines = [
        "# Expert model: learning curve over labelled NIH patients",
        "",
        (f"`python benchmarks/bench_expert_learning_curve.py` — {machine()}, "
        f"{time.strftime('%Y-%m-%d')}, {sum(c.training['total_seconds'] for c in cards.values()):.0f} s of training runs."),
        "",
        ("Recipe: NIH-only, from scratch, transformers ResNet-10, 224 px, 12 epochs of 1000 "
        f"draws, seed {args.seed}; a seeded share of the NIH training patients (whole patients), "
        "the same validation (233) and test (311) patients for every point. AUC on the NIH "
        "test patients; mean over the 9 findings of issue 11 on validation and test."),
        "",
        "| train fraction | training images | val mean AUC | test mean AUC | "
        + " | ".join(TARGETS) + " |",
        "|---|---|---|---|---|" + "---|" * (len(TARGETS) - 1),
    ]
    per_finding = {name: [] for name in TARGETS}
    for f in fractions:
        card = cards[f]
        test = [nih_auc(card, "test", name) for name in TARGETS]
        val = [nih_auc(card, "validation", name) for name in TARGETS]
        for name, a in zip(TARGETS, test, strict=True):
            per_finding[name].append(a)
        cells = " | ".join("n/a" if a is None else f"{a:.3f}" for a in test)
        lines.append(f"| {f:g} | {card.training['train_images']} | "
                     f"{np.mean([v for v in val if v is not None]):.3f} | "
                     f"{np.mean([a for a in test if a is not None]):.3f} | {cells} |")
    lines += [
        "",
        ("Fitted per finding on the test AUCs above (`auc = a + b log2(n)`): the gain per "
        "doubling of the labelled images, and the number of training images at which the "
        f"line reaches {BAR:.2f} — **an extrapolation** beyond the data, which assumes the "
        "curve stays log-linear (it usually bends down)."),
        "",
        "| finding | AUC at all images | gain per doubling | images for 0.80 (extrapolated) |",
        "|---|---|---|---|",
    ]
    summary = {}
    for name in TARGETS:
        aucs = np.asarray(per_finding[name], dtype=float)
        if len(n) < 2 or np.isnan(aucs).any():
            continue
        a, b = fit_slope(n, aucs)
        need = extrapolated_images(a, b, float(aucs[-1]), float(n[-1]))
        summary[name] = {"slope_per_doubling": round(b, 4), "auc_all": round(float(aucs[-1]), 4),
                         "images_for_bar": need}
        lines.append(f"| {name} | {aucs[-1]:.3f} | {b:+.3f} | {need} |")
    test_means = np.asarray([np.nanmean(np.asarray([per_finding[name][i] for name in TARGETS],
                                                   dtype=float)) for i in range(len(n))])
    if len(n) >= 2:
        a, b = fit_slope(n, test_means)
        lines += ["", (f"Mean over the 9 findings: {b:+.3f} AUC per doubling (images for 0.80: "
                      f"{extrapolated_images(a, b, float(test_means[-1]), float(n[-1]))}; "
                      f"there are {int(n[-1])}). With one seed per point, a gain per doubling "
                      f"under ~{NOISE:.2f} is within the noise.")]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.out / "learning_curve.json").write_text(json.dumps(
        {"fractions": fractions, "train_images": n.tolist(), "per_finding": per_finding,
         "summary": summary}, indent=2), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
