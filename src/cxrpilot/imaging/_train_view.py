"""Train the frontal-vs-lateral view model shipped in ``cxrpilot/imaging/weights/``.

Run::

    python -m cxrpilot.imaging._train_view --data ../shared/data

Data: the lateral ('L') and frontal (PA, AP, AP Supine) views of ``covid-chestxray``
(grouped by patient), plus frontal views sampled from ``covid-radiography/Normal`` and
``pediatric-pneumonia/train/PNEUMONIA`` (so that frontals of other sources and of children
are not mistaken for laterals); further disjoint samples of those two folders and the NIH
and misc samples are held out to measure the false-lateral rate. Every training image is
also used mirrored left-right (a lateral may face either way).

Model: scikit-learn logistic regression (balanced class weights, C=1) on
:func:`cxrpilot.imaging._view.view_features`, standardisation folded into the weights.
Metrics: out-of-fold ROC AUC of repeated 5-fold stratified group cross-validation
(patients never straddle folds); the decision threshold is the lowest one that keeps the
out-of-fold false-lateral rate on frontals at or below ``--max-fpr``, and at least 0.5;
the false-lateral rate is also measured on held-out frontals, including leave-one-source-out
(the model trained without a source's frontals, tested on them).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from cxrpilot.imaging._view import VIEW_WEIGHTS, view_features

FRONTAL_VIEWS = {"PA", "AP", "AP Supine"}
LATERAL_VIEWS = {"L"}


def _features(
    paths: list[Path], *, desc: str, mirror: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Features of each image and of its mirror image (empty when ``mirror`` is False)."""
    from tqdm import tqdm

    from cxrpilot.imaging import load

    plain, mirrored = [], []
    for path in tqdm(paths, desc=desc, unit="image", file=sys.stderr, leave=False):
        pixels = load(path, check=False).pixels
        plain.append(view_features(pixels))
        if mirror:
            mirrored.append(view_features(np.ascontiguousarray(pixels[:, ::-1])))
    return np.stack(plain), np.stack(mirrored) if mirror else np.empty((0, 0))


def _covid_chestxray(data: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    root = data / "covid-chestxray"
    paths, labels, groups = [], [], []
    with open(root / "metadata.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            view = (row.get("view") or "").strip()
            if view not in FRONTAL_VIEWS | LATERAL_VIEWS:
                continue
            path = root / row["folder"] / row["filename"]
            if path.is_file():
                paths.append(path)
                labels.append(view in LATERAL_VIEWS)
                groups.append(f"cc-{row['patientid']}")
    return paths, np.array(labels), np.array(groups)


def _sample(folder: Path, pattern: str, n_train: int, n_test: int, rng: random.Random):
    files = sorted(folder.glob(pattern))
    rng.shuffle(files)
    return files[:n_train], files[n_train : n_train + n_test]


def _fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
    )
    return model.fit(x, y)


def _fold_weights(model) -> tuple[np.ndarray, float]:
    scaler, logreg = model[0], model[1]
    coef = logreg.coef_[0] / scaler.scale_
    intercept = float(logreg.intercept_[0] - np.dot(logreg.coef_[0], scaler.mean_ / scaler.scale_))
    return coef, intercept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "weights")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--C", type=float, default=1.0, dest="c")
    parser.add_argument("--frontals-per-source", type=int, default=1000)
    parser.add_argument("--held-out-per-source", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-fpr", type=float, default=0.005)
    parser.add_argument("--dry-run", action="store_true", help="report metrics, write nothing")
    args = parser.parse_args(argv)

    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    started = time.time()
    rng = random.Random(args.seed)
    cc_paths, cc_y, cc_groups = _covid_chestxray(args.data)
    external = {
        "covid-radiography/Normal": _sample(
            args.data / "covid-radiography" / "Normal",
            "*.jpg",
            args.frontals_per_source,
            args.held_out_per_source,
            rng,
        ),
        "pediatric-pneumonia/PNEUMONIA": _sample(
            args.data / "pediatric-pneumonia" / "train" / "PNEUMONIA",
            "*.jpg",
            args.frontals_per_source,
            args.held_out_per_source,
            rng,
        ),
    }
    held_out_only = {
        "samples (NIH + misc PNG)": sorted((args.data / "samples").glob("*/*.png")),
    }

    x_cc, m_cc = _features(cc_paths, desc="covid-chestxray")
    train_x, train_m, train_y, train_groups, train_source = (
        [x_cc],
        [m_cc],
        [cc_y],
        [cc_groups],
        [np.array(["covid-chestxray"] * len(cc_y))],
    )
    held = {}
    for name, (train_paths, test_paths) in external.items():
        x, m = _features(train_paths, desc=f"{name} (train)")
        train_x.append(x)
        train_m.append(m)
        train_y.append(np.zeros(len(x), bool))
        train_groups.append(np.array([f"{name}-{i}" for i in range(len(x))]))
        train_source.append(np.array([name] * len(x)))
        held[name] = _features(test_paths, desc=f"{name} (held out)")[0]
    for name, paths in held_out_only.items():
        held[name] = _features(paths, desc=name)[0]
    x_all = np.concatenate(train_x)
    m_all = np.concatenate(train_m)
    y_all = np.concatenate(train_y)
    g_all = np.concatenate(train_groups)
    s_all = np.concatenate(train_source)

    # Repeated stratified group k-fold, mirrored copies only in the training folds.
    oof = np.zeros((args.repeats, len(y_all)))
    for r in range(args.repeats):
        folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=args.seed + r)
        for tr, te in folds.split(x_all, y_all, g_all):
            model = _fit(
                np.concatenate([x_all[tr], m_all[tr]]),
                np.concatenate([y_all[tr], y_all[tr]]),
                args.c,
            )
            oof[r, te] = model.predict_proba(x_all[te])[:, 1]
    aucs = [roc_auc_score(y_all, o) for o in oof]
    cc = s_all == "covid-chestxray"
    aucs_cc = [roc_auc_score(y_all[cc], o[cc]) for o in oof]
    frontal_scores = np.sort(oof[:, ~y_all].ravel())
    k = int(np.floor(args.max_fpr * frontal_scores.size))
    threshold = max(0.5, float(frontal_scores[-(k + 1)]) + 1e-6)
    sens = float((oof[:, y_all] >= threshold).mean())
    spec = float((oof[:, ~y_all] < threshold).mean())

    # Leave-one-source-out: the model never saw that source's frontals.
    loso = {}
    for name in external:
        keep = s_all != name
        model = _fit(
            np.concatenate([x_all[keep], m_all[keep]]),
            np.concatenate([y_all[keep], y_all[keep]]),
            args.c,
        )
        loso[name] = float((model.predict_proba(held[name])[:, 1] >= threshold).mean())

    final = _fit(np.concatenate([x_all, m_all]), np.concatenate([y_all, y_all]), args.c)
    held_fpr = {
        name: float((final.predict_proba(x)[:, 1] >= threshold).mean()) for name, x in held.items()
    }
    coef, intercept = _fold_weights(final)
    # Whole folders of frontal views (partly training data): how many does it call lateral?
    scan = {}
    for name, folder, pattern in (
        ("covid-radiography (COVID + Normal)", args.data / "covid-radiography", "*/*.jpg"),
        ("pediatric-pneumonia (train)", args.data / "pediatric-pneumonia" / "train", "*/*.jpg"),
    ):
        x = _features(sorted(folder.glob(pattern)), desc=name, mirror=False)[0]
        scan[name] = {
            "n": int(len(x)),
            "called_lateral": int((final.predict_proba(x)[:, 1] >= threshold).sum()),
        }

    n_lat = int(y_all.sum())
    card = {
        "name": VIEW_WEIGHTS.removesuffix(".npz"),
        "task": "frontal (PA/AP) vs lateral chest radiograph, for files with no view in a header",
        "model": f"scikit-learn LogisticRegression(C={args.c}, class_weight='balanced') on "
        "HOG (4x4 cells x 9 orientations) + 4 shape features (148 values)",
        "input": "Radiograph.pixels (display sense, [0, 1]), fit_square to 64 x 64",
        "threshold": round(threshold, 6),
        "training_data": {
            "covid-chestxray lateral (L)": n_lat,
            "covid-chestxray frontal (PA/AP/AP Supine)": int((cc & ~y_all).sum()),
            **{f"{name} frontal": int((s_all == name).sum()) for name in external},
            "patients (covid-chestxray groups)": int(len(set(cc_groups))),
            "augmentation": "every image also mirrored left-right",
        },
        "cv": {
            "scheme": f"{args.repeats} x 5-fold StratifiedGroupKFold (groups = patients)",
            "roc_auc_mean": round(float(np.mean(aucs)), 4),
            "roc_auc_min": round(float(np.min(aucs)), 4),
            "roc_auc_covid_chestxray_only_mean": round(float(np.mean(aucs_cc)), 4),
            "sensitivity_at_threshold": round(sens, 4),
            "specificity_at_threshold": round(spec, 4),
        },
        "false_lateral_rate_held_out": {k: round(v, 4) for k, v in held_fpr.items()},
        "false_lateral_rate_leave_source_out": {k: round(v, 4) for k, v in loso.items()},
        "held_out_counts": {k: int(len(v)) for k, v in held.items()},
        "whole_frontal_folders_partly_training": scan,
        "seed": args.seed,
        "licences": "covid-chestxray: per image (CC BY-NC-SA, CC BY, Apache-2.0...); "
        "covid-radiography: research use; pediatric-pneumonia: CC BY 4.0; NIH: "
        "unrestricted with citation",
        "intended_use": "input check for research and demonstration; not for clinical use",
    }
    print(json.dumps(card, indent=2))
    print(f"trained in {time.time() - started:.0f} s", file=sys.stderr)
    if args.dry_run:
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out / VIEW_WEIGHTS,
        coef=coef.astype(np.float32),
        intercept=np.float64(intercept),
        threshold=np.float64(threshold),
        card=np.array(json.dumps(card)),
    )
    digest = hashlib.sha256((args.out / VIEW_WEIGHTS).read_bytes()).hexdigest()
    _write_card(args.out / "VIEW_MODEL.md", card, digest)
    print(f"wrote {args.out / VIEW_WEIGHTS}", file=sys.stderr)
    return 0


def _write_card(path: Path, card: dict, digest: str) -> None:
    cv = card["cv"]
    lines = [
        f"# View model card: `{card['name']}`",
        "",
        f"**Task.** {card['task']}. Used by `cxrpilot.imaging.load(check=True)` to refuse "
        "lateral views of PNG/JPEG files and of DICOM files whose header states no view.",
        "",
        f"**Model.** {card['model']}. Input: {card['input']}. Decision threshold "
        f"p(lateral) >= {card['threshold']:.3f}. Weights: `{card['name']}.npz` "
        f"(standardisation folded into the coefficients; sha256 `{digest}`). Training: "
        "`python -m cxrpilot.imaging._train_view --data ../shared/data` "
        f"(seed {card['seed']}).",
        "",
        "**Training data.**",
        "",
        *[f"- {k}: {v}" for k, v in card["training_data"].items()],
        "",
        f"**Cross-validation** ({cv['scheme']}; out-of-fold scores): ROC AUC "
        f"{cv['roc_auc_mean']:.4f} (lowest repeat {cv['roc_auc_min']:.4f}); within "
        f"covid-chestxray alone {cv['roc_auc_covid_chestxray_only_mean']:.4f}. At the "
        f"threshold: sensitivity for laterals {cv['sensitivity_at_threshold']:.3f}, "
        f"specificity on frontals {cv['specificity_at_threshold']:.4f}.",
        "",
        "**False-lateral rate on held-out frontal images** (images never trained on):",
        "",
        *[
            f"- {k} (n={card['held_out_counts'][k]}): {v:.4f}"
            for k, v in card["false_lateral_rate_held_out"].items()
        ],
        "",
        "**Leave-one-source-out** (model trained without that source's frontals):",
        "",
        *[f"- {k}: {v:.4f}" for k, v in card["false_lateral_rate_leave_source_out"].items()],
        "",
        "**Whole folders of frontal views** (partly training data, so optimistic):",
        "",
        *[
            f"- {k}: {v['called_lateral']} of {v['n']} called lateral"
            for k, v in card["whole_frontal_folders_partly_training"].items()
        ],
        "",
        "**Limits.** Only 51 lateral images, from one collection (many cut from papers); "
        "the model has seen no lateral from a DICOM archive. It is a safety net for files "
        "without a header; the header's View Position, when present, always decides. "
        f"Licences of the data: {card['licences']}.",
        "",
        f"**Intended use.** {card['intended_use']}.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
