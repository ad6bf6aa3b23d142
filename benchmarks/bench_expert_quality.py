"""Quality of the expert model: per-source test AUCs, cross-source AUCs, shortcut checks.

Prints, and writes ``benchmarks/results/expert_quality.md``:

1. The shipped model on the held-out test split of each source (AUC, 95 % bootstrap CI),
   recomputed here through the ONNX weights (not copied from the card).
2. Cross-source: for each source, a model trained without it (and without images
   duplicated in it), tested on all of it. Trained here with ``train_expert`` (same seed,
   epochs and size as the shipped model unless told otherwise) or reused from
   ``--holdout-dir`` when already there.
3. Shortcut checks on the shipped model's test split:
   a. border-masked images (outer band black, lungs visible): does the AUC hold?
   b. lungs hidden (only the outer band visible): how much label signal is in the borders?
   c. does the score tell the SOURCE within one class (pediatric vs adult normals,
      pediatric vs adult pneumonia)? An AUC far from 0.5 means the score carries source;
   d. how easily can the source be predicted from the image at all (logistic regression on
      32x32 thumbnails, train split -> test split)?

Usage: ``python benchmarks/bench_expert_quality.py [--data ../shared/data] [--epochs N]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def fmt(m: dict | None) -> str:
    if not m:
        return "n/a (one class only)"
    return f"{m['auc']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}] (n={m['n']}, pos={m['n_positive']})"


def masked(inputs: np.ndarray, fill: float, band: float, *, keep_border: bool) -> np.ndarray:
    """Black out the outer ``band`` (fraction of the side), or everything but it."""
    out = inputs.copy()
    s = inputs.shape[-1]
    k = int(round(band * s))
    inner = np.zeros((s, s), bool)
    inner[k : s - k, k : s - k] = True
    if keep_border:
        out[:, :, inner] = fill
    else:
        out[:, :, ~inner] = fill
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("CXRPILOT_DATA", REPO.parent / "shared" / "data"))
    parser.add_argument("--model", default=None, help="expert model name or folder (default: shipped)")
    parser.add_argument("--holdout-dir", default=Path(tempfile.gettempdir()) / "cxrpilot-holdout")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of the cross-source models "
                        "(default: as the shipped model)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training")
    parser.add_argument("--baseline-holdout-dir", default=None,
                        help="cross-source models of an earlier recipe, shown side by side")
    parser.add_argument("--baseline-label", default="baseline recipe")
    parser.add_argument("--skip-cross", action="store_true")
    parser.add_argument("--out", default=REPO / "benchmarks" / "results" / "expert_quality.md")
    parser.add_argument("--update-card", action="store_true",
                        help="write the cross-source AUCs and shortcut checks into the shipped "
                        "model's card.json / model_card.md (weights and sha256 unchanged)")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from cxrpilot.models import expert
    from cxrpilot.models.expert._cache import cached_images
    from cxrpilot.models.expert._calibration import sigmoid
    from cxrpilot.models.expert._data import LABELS, SOURCES, build_table
    from cxrpilot.models.expert._train import auc_summary

    data = Path(args.data)
    model = expert.load(args.model)
    card = model.card
    seed, size = card.training["seed"], card.image_size
    lines = ["## Expert model quality (`benchmarks/bench_expert_quality.py`)", "",
             f"Model: {card.model_id} {card.version} (seed {seed}, {size} px). AUC with 95 % "
             "bootstrap CI (cxrpilot.evaluation.roc_auc_ci, 2000 resamples).", ""]

    table = build_table(data, SOURCES, seed=seed, limit_per_class=None, holdout_source=None,
                        progress=False)
    images, ok = cached_images(table.paths, size, progress=True)
    test = np.flatnonzero(ok & (table.splits == "test"))
    train = np.flatnonzero(ok & (table.splits == "train"))
    x_test = ((images[test].astype(np.float32) - card.mean) / card.std)[:, None]
    proba = sigmoid(model.predict_logits(x_test) / np.asarray(card.temperatures))
    y = table.targets[test]
    src = table.sources[test]

    # 1. in-distribution test splits
    lines += ["### 1. Held-out test split of each source (trained on all three)", "",
              "| test set | " + " | ".join(LABELS) + " |", "|---|" + "---|" * len(LABELS)]
    for name in ("all", *SOURCES):
        sel = np.ones(len(test), bool) if name == "all" else src == name
        cells = [fmt(auc_summary(y[sel, j], proba[sel, j], seed=seed)) for j in range(len(LABELS))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")

    # 2. cross-source
    cross: dict[str, dict] = {}
    checks: list[str] = []
    if not args.skip_cross:
        lines += ["### 2. Cross-source: trained without a source, tested on all of it", "",
                  "| held-out source | " + " | ".join(LABELS) + " | trained on (images) |",
                  "|---|" + "---|" * (len(LABELS) + 1)]
        for held in SOURCES:
            folder = Path(args.holdout_dir) / f"without-{held}"
            t0 = time.perf_counter()
            if not (folder / "card.json").is_file():
                expert.train_expert(data, folder, seed=seed, epochs=args.epochs or card.training["epochs"],
                                    image_size=size, arch=card.architecture["name"],
                                    samples_per_epoch=card.training["samples_per_epoch"],
                                    threads=args.threads, holdout_source=held, progress=True)
            hcard = expert.load(folder).card
            m = hcard.metrics["test"].get(held, {})
            cross[held] = m
            trained_on = hcard.training["splits"]["train"]["by_source"]
            lines.append(f"| {held} | " + " | ".join(fmt(m.get(lab)) for lab in LABELS)
                         + f" | {', '.join(f'{k} {v}' for k, v in trained_on.items())} |")
            print(f"cross-source {held}: done in {time.perf_counter() - t0:.0f} s", flush=True)
        lines.append("")
        if args.baseline_holdout_dir:
            j = LABELS.index("Pneumonia")
            lines += [f"Side by side, Pneumonia AUC on the held-out source: {args.baseline_label} "
                      f"vs this recipe ({card.training.get('augmentation', '')}):", "",
                      f"| held-out source | {args.baseline_label} | this recipe |", "|---|---|---|"]
            for held in SOURCES:
                base = Path(args.baseline_holdout_dir) / f"without-{held}"
                if (base / "card.json").is_file():
                    b = expert.load(base).card.metrics["test"].get(held, {}).get(LABELS[j])
                    lines.append(f"| {held} | {fmt(b)} | {fmt(cross.get(held, {}).get(LABELS[j]))} |")
            lines.append("")

    # 3. shortcut checks
    j = LABELS.index("Pneumonia")
    lines += ["### 3. Shortcut checks (shipped model, test split)", "",
              "| check | all | " + " | ".join(SOURCES) + " |", "|---|---|" + "---|" * len(SOURCES)]
    fill = (0.0 - card.mean) / card.std
    variants = {
        "Pneumonia AUC, original": x_test,
        "Pneumonia AUC, outer 12.5 % band blacked out (lungs visible)":
            masked(x_test, fill, 0.125, keep_border=False),
        "Pneumonia AUC, only the outer 12.5 % band visible (lungs hidden)":
            masked(x_test, fill, 0.125, keep_border=True),
    }
    variant_auc: dict[str, dict] = {}
    for label, x in variants.items():
        p = sigmoid(model.predict_logits(x) / np.asarray(card.temperatures))[:, j]
        cells = []
        for name in ("all", *SOURCES):
            sel = np.ones(len(test), bool) if name == "all" else src == name
            m = auc_summary(y[sel, j], p[sel], seed=seed)
            variant_auc.setdefault(label, {})[name] = m
            cells.append(fmt(m))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    keys = list(variants)
    for name in ("covid-radiography", "pediatric-pneumonia"):
        o, b, h = (variant_auc[k].get(name) for k in keys)
        if o and b and h:
            checks.append(
                f"{name} test, Pneumonia AUC: original {o['auc']:.3f}, outer 12.5 % band blacked out "
                f"{b['auc']:.3f}, lungs hidden (only the band visible) {h['auc']:.3f}"
                + (" -- the border band alone (which can include the lung edges) carries much of "
                   "the label: a shortcut is available" if h["auc"] >= 0.75 else ""))
    ped, adult = src == "pediatric-pneumonia", src == "covid-radiography"
    lines += ["Does the Pneumonia score carry the source within one class? AUC of the score for "
              "'pediatric' vs 'adult (covid-radiography)' (0.5 = no source signal):", ""]
    for cls_name, cls in (("normal (No Finding)", y[:, 0] == 1), ("pneumonia/COVID", y[:, j] == 1)):
        a, b = proba[cls & ped, j], proba[cls & adult, j]
        if len(a) and len(b):
            auc = roc_auc_score(np.r_[np.ones(len(a)), np.zeros(len(b))], np.r_[a, b])
            text = (f"{cls_name} test images: the Pneumonia score separates pediatric from adult with "
                    f"AUC {auc:.3f} (mean p pediatric {a.mean():.3f}, n={len(a)}; adult "
                    f"{b.mean():.3f}, n={len(b)})")
            lines.append(f"- {text}")
            checks.append(text)
    thumbs = images[:, ::4, ::4].reshape(len(images), -1).astype(np.float32)
    sel_tr = train[np.isin(table.sources[train], ["pediatric-pneumonia", "covid-radiography"])]
    sel_te = test[np.isin(src, ["pediatric-pneumonia", "covid-radiography"])]
    clf = LogisticRegression(max_iter=300, C=0.1).fit(
        thumbs[sel_tr], table.sources[sel_tr] == "pediatric-pneumonia")
    s_auc = roc_auc_score(table.sources[sel_te] == "pediatric-pneumonia",
                          clf.decision_function(thumbs[sel_te]))
    normals_te = sel_te[table.targets[sel_te, 0] == 1]
    n_auc = roc_auc_score(table.sources[normals_te] == "pediatric-pneumonia",
                          clf.decision_function(thumbs[normals_te]))
    text = (f"source from pixels: a logistic regression on {size // 4}x{size // 4} thumbnails tells "
            f"pediatric-pneumonia from covid-radiography images with test AUC {s_auc:.3f} (normals "
            f"only: {n_auc:.3f})"
            + (" -- the source is plainly visible, so in-source AUCs can be inflated by it; the "
               "cross-source figures are the honest ones" if s_auc >= 0.9 else ""))
    lines += ["", f"- {text}", ""]
    checks.append(text)
    if args.update_card:
        import json

        from cxrpilot.models.expert._card import CARD_FILE, ModelCard, render_markdown, write_card
        from cxrpilot.models.expert._train import LIMITATIONS

        data = json.loads((model.path / CARD_FILE).read_text())
        data["metrics"]["cross_source"] = cross
        data["metrics"]["shortcut_checks"] = checks
        data["limitations"] = list(LIMITATIONS)
        updated = ModelCard.from_dict(data)
        write_card(updated, model.path)
        (model.path / "model_card.md").write_text(render_markdown(updated), encoding="utf-8")
        print(f"updated {model.path / CARD_FILE}")
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
