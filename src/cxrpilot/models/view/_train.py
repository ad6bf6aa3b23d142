"""Training the frontal-vs-lateral view model (``cxrpilot train view``).

Data, read with the dataset adapters of :mod:`cxrpilot.data`: the lateral (``LATERAL``) and
frontal (PA, AP, AP SUPINE) views of ``covid-chestxray`` (grouped by patient), plus frontal
views sampled from ``covid-radiography`` class Normal and ``pediatric-pneumonia`` class
PNEUMONIA (train), so that frontals of other sources and of children are not mistaken for
laterals; further disjoint samples of those two and the loose PNGs of ``samples/`` are held
out to measure the false-lateral rate. Every training image is also used mirrored
left-right (a lateral may face either way).

Model: scikit-learn logistic regression (balanced class weights) on
:func:`cxrpilot.imaging.view_features`, standardisation folded into the weights. Metrics:
out-of-fold ROC AUC of repeated 5-fold stratified group cross-validation (patients never
straddle folds); the decision threshold is the lowest one that keeps the out-of-fold
false-lateral rate on frontals at or below ``max_fpr``, and at least 0.5; the false-lateral
rate is also measured on held-out frontals, including leave-one-source-out (the model
trained without a source's frontals, tested on them).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot.errors import InvalidDatasetError

__all__ = ["train_view", "render_view_card"]

MODEL_ID = "view-hog-logreg-covidcxr"
FRONTAL_VIEWS = frozenset({"PA", "AP", "AP SUPINE"})
LATERAL_VIEW = "LATERAL"
#: The frontal-only sources: (adapter folder, class, source split) of the sampled frontals.
EXTERNAL = {
    "covid-radiography/Normal": ("covid-radiography", "Normal", None),
    "pediatric-pneumonia/PNEUMONIA": ("pediatric-pneumonia", "PNEUMONIA", "train"),
}
LICENCES = ("covid-chestxray: per image (CC BY-NC-SA, CC BY, Apache-2.0...); covid-radiography: "
            "research use; pediatric-pneumonia: CC BY 4.0; NIH: unrestricted with citation")


def _features(paths: list[Path], *, desc: str, progress: bool, mirror: bool = True
              ) -> tuple[np.ndarray, np.ndarray]:
    """Features of each image and of its mirror image (empty when ``mirror`` is False)."""
    from tqdm import tqdm

    from cxrpilot.imaging import load, view_features

    plain, mirrored = [], []
    for path in tqdm(paths, desc=desc, unit="image", file=sys.stderr, leave=False, disable=not progress):
        pixels = load(path, check=False).pixels
        plain.append(view_features(pixels))
        if mirror:
            mirrored.append(view_features(np.ascontiguousarray(pixels[:, ::-1])))
    if not plain:
        raise InvalidDatasetError(f"no images for {desc}")
    return np.stack(plain), np.stack(mirrored) if mirror else np.empty((0, 0))


def _covid_chestxray(data: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Frontal and lateral images of covid-chestxray, in file order: paths, is-lateral, groups."""
    from cxrpilot.data import read_covid_chestxray

    paths, labels, groups = [], [], []
    for study in read_covid_chestxray(data / "covid-chestxray"):
        for image in study.images:
            if image.path and image.view in FRONTAL_VIEWS | {LATERAL_VIEW}:
                paths.append(Path(image.path))
                labels.append(image.view == LATERAL_VIEW)
                groups.append(f"cc-{study.patient_id}")
    return paths, np.array(labels, dtype=bool), np.array(groups)


def _folder_images(data: Path, source: str, cls: str | None = None, split: str | None = None) -> list[Path]:
    """The images of a folder-per-class source (optionally one class and source split), sorted."""
    from cxrpilot.data import read_image_folders

    return sorted(
        Path(image.path)
        for study in read_image_folders(data / source, source=source)
        if (cls is None or study.meta.get("class") == cls)
        and (split is None or study.meta.get("source_split") == split)
        for image in study.images if image.path
    )


def _fit(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, class_weight="balanced"))
    return model.fit(x, y)


def _fold_weights(model) -> tuple[np.ndarray, float]:
    scaler, logreg = model[0], model[1]
    coef = logreg.coef_[0] / scaler.scale_
    intercept = float(logreg.intercept_[0] - np.dot(logreg.coef_[0], scaler.mean_ / scaler.scale_))
    return coef, intercept


def train_view(
    data_dir: str | Path,
    out_dir: str | Path | None,
    *,
    seed: int = 0,
    c: float = 1.0,
    frontals_per_source: int = 1000,
    held_out_per_source: int = 500,
    repeats: int = 3,
    max_fpr: float = 0.005,
    scan_folders: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the view model on the open data and write it to ``out_dir``.

    Parameters
    ----------
    data_dir : path
        The shared data folder (``covid-chestxray/``, ``covid-radiography/``,
        ``pediatric-pneumonia/``, ``samples/``).
    out_dir : path or None
        Folder to write ``model.npz``, ``card.json`` and ``model_card.md`` into (created);
        None: measure only, write nothing.
    seed : int
        Seeds the frontal samples and the cross-validation folds.
    c : float
        Inverse regularisation strength of the logistic regression.
    frontals_per_source, held_out_per_source : int
        Frontal images drawn from each frontal-only source for training and for the held-out
        false-lateral rate.
    repeats : int
        Repeats of the 5-fold cross-validation.
    max_fpr : float
        Largest out-of-fold false-lateral rate on frontals the threshold may allow.
    scan_folders : bool
        Also count the images of the whole frontal folders called lateral (17,000 images).
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        The model card (with ``weights_file`` and ``sha256`` once written).

    Raises
    ------
    InvalidDatasetError
        A source folder is missing or malformed.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    from cxrpilot.imaging import ViewModel

    data = Path(data_dir)
    started = time.time()
    rng = random.Random(seed)
    cc_paths, cc_y, cc_groups = _covid_chestxray(data)
    external = {}
    for name, (source, cls, split) in EXTERNAL.items():
        files = _folder_images(data, source, cls, split)
        rng.shuffle(files)
        external[name] = (files[:frontals_per_source],
                          files[frontals_per_source: frontals_per_source + held_out_per_source])
    held_out_only = {"samples (NIH + misc PNG)": sorted((data / "samples").glob("*/*.png"))}

    x_cc, m_cc = _features(cc_paths, desc="covid-chestxray", progress=progress)
    train_x, train_m, train_y = [x_cc], [m_cc], [cc_y]
    train_groups, train_source = [cc_groups], [np.array(["covid-chestxray"] * len(cc_y))]
    held = {}
    for name, (train_paths, test_paths) in external.items():
        x, m = _features(train_paths, desc=f"{name} (train)", progress=progress)
        train_x.append(x)
        train_m.append(m)
        train_y.append(np.zeros(len(x), bool))
        train_groups.append(np.array([f"{name}-{i}" for i in range(len(x))]))
        train_source.append(np.array([name] * len(x)))
        held[name] = _features(test_paths, desc=f"{name} (held out)", progress=progress, mirror=False)[0]
    for name, paths in held_out_only.items():
        if paths:
            held[name] = _features(paths, desc=name, progress=progress, mirror=False)[0]
    x_all, m_all = np.concatenate(train_x), np.concatenate(train_m)
    y_all, g_all, s_all = np.concatenate(train_y), np.concatenate(train_groups), np.concatenate(train_source)

    # Repeated stratified group k-fold, mirrored copies only in the training folds.
    oof = np.zeros((repeats, len(y_all)))
    for r in range(repeats):
        folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed + r)
        for tr, te in folds.split(x_all, y_all, g_all):
            model = _fit(np.concatenate([x_all[tr], m_all[tr]]), np.concatenate([y_all[tr], y_all[tr]]), c)
            oof[r, te] = model.predict_proba(x_all[te])[:, 1]
    aucs = [roc_auc_score(y_all, o) for o in oof]
    cc = s_all == "covid-chestxray"
    aucs_cc = [roc_auc_score(y_all[cc], o[cc]) for o in oof]
    frontal_scores = np.sort(oof[:, ~y_all].ravel())
    k = int(np.floor(max_fpr * frontal_scores.size))
    threshold = max(0.5, float(frontal_scores[-(k + 1)]) + 1e-6)
    sens = float((oof[:, y_all] >= threshold).mean())
    spec = float((oof[:, ~y_all] < threshold).mean())

    # Leave-one-source-out: the model never saw that source's frontals.
    loso = {}
    for name in external:
        keep = s_all != name
        model = _fit(np.concatenate([x_all[keep], m_all[keep]]), np.concatenate([y_all[keep], y_all[keep]]), c)
        loso[name] = float((model.predict_proba(held[name])[:, 1] >= threshold).mean())

    final = _fit(np.concatenate([x_all, m_all]), np.concatenate([y_all, y_all]), c)
    held_fpr = {name: float((final.predict_proba(x)[:, 1] >= threshold).mean()) for name, x in held.items()}
    coef, intercept = _fold_weights(final)
    scan = {}
    if scan_folders:  # whole folders of frontal views (partly training data)
        for name, source, split in (("covid-radiography (COVID + Normal)", "covid-radiography", None),
                                    ("pediatric-pneumonia (train)", "pediatric-pneumonia", "train")):
            x = _features(_folder_images(data, source, split=split), desc=name, progress=progress,
                          mirror=False)[0]
            scan[name] = {"n": len(x), "called_lateral": int((final.predict_proba(x)[:, 1] >= threshold).sum())}

    card: dict[str, Any] = {
        "schema": 1,
        "kind": "view",
        "model_id": MODEL_ID,
        "task": "frontal (PA/AP) vs lateral chest radiograph, for files with no view in a header",
        "model": f"scikit-learn LogisticRegression(C={c}, class_weight='balanced') on "
        "HOG (4x4 cells x 9 orientations) + 4 shape features (148 values)",
        "input": "Radiograph.pixels (display sense, [0, 1]), fit_square to 64 x 64",
        "threshold": round(threshold, 6),
        "training_data": {
            "covid-chestxray lateral (L)": int(y_all.sum()),
            "covid-chestxray frontal (PA/AP/AP Supine)": int((cc & ~y_all).sum()),
            **{f"{name} frontal": int((s_all == name).sum()) for name in external},
            "patients (covid-chestxray groups)": len(set(cc_groups)),
            "augmentation": "every image also mirrored left-right",
        },
        "cv": {
            "scheme": f"{repeats} x 5-fold StratifiedGroupKFold (groups = patients)",
            "roc_auc_mean": round(float(np.mean(aucs)), 4),
            "roc_auc_min": round(float(np.min(aucs)), 4),
            "roc_auc_covid_chestxray_only_mean": round(float(np.mean(aucs_cc)), 4),
            "sensitivity_at_threshold": round(sens, 4),
            "specificity_at_threshold": round(spec, 4),
        },
        "false_lateral_rate_held_out": {k: round(v, 4) for k, v in held_fpr.items()},
        "false_lateral_rate_leave_source_out": {k: round(v, 4) for k, v in loso.items()},
        "held_out_counts": {k: len(v) for k, v in held.items()},
        "whole_frontal_folders_partly_training": scan,
        "seed": seed,
        "train_seconds": round(time.time() - started, 1),
        "licences": LICENCES,
        "intended_use": "input check for research and demonstration; not for clinical use",
    }
    if out_dir is None:
        return card
    out = Path(out_dir)
    card = ViewModel(coef=coef, intercept=intercept, threshold=threshold, card=card).save(out)
    (out / "model_card.md").write_text(render_view_card(card), encoding="utf-8")
    return card


def render_view_card(card: dict[str, Any]) -> str:
    """The human-readable model card (``model_card.md``) of a view model's card."""
    cv = card["cv"]
    lines = [
        f"# View model card: `{card['model_id']}`",
        "",
        (f"**Task.** {card['task']}. Used by `cxrpilot.imaging.load(check=True)` to refuse "
        "lateral views of PNG/JPEG files and of DICOM files whose header states no view."),
        "",
        (f"**Model.** {card['model']}. Input: {card['input']}. Decision threshold "
        f"p(lateral) >= {card['threshold']:.3f}. Weights: `{card['weights_file']}` "
        f"(standardisation folded into the coefficients; sha256 `{card['sha256']}`). Training: "
        f"`cxrpilot train view --data ../shared/data` (seed {card['seed']})."),
        "",
        "**Training data.**",
        "",
        *[f"- {k}: {v}" for k, v in card["training_data"].items()],
        "",
        (f"**Cross-validation** ({cv['scheme']}; out-of-fold scores): ROC AUC "
        f"{cv['roc_auc_mean']:.4f} (lowest repeat {cv['roc_auc_min']:.4f}); within "
        f"covid-chestxray alone {cv['roc_auc_covid_chestxray_only_mean']:.4f}. At the "
        f"threshold: sensitivity for laterals {cv['sensitivity_at_threshold']:.3f}, "
        f"specificity on frontals {cv['specificity_at_threshold']:.4f}."),
        "",
        "**False-lateral rate on held-out frontal images** (images never trained on):",
        "",
        *[f"- {k} (n={card['held_out_counts'][k]}): {v:.4f}"
          for k, v in card["false_lateral_rate_held_out"].items()],
        "",
        "**Leave-one-source-out** (model trained without that source's frontals):",
        "",
        *[f"- {k}: {v:.4f}" for k, v in card["false_lateral_rate_leave_source_out"].items()],
        "",
    ]
    if card.get("whole_frontal_folders_partly_training"):
        lines += [
            "**Whole folders of frontal views** (partly training data, so optimistic):",
            "",
            *[f"- {k}: {v['called_lateral']} of {v['n']} called lateral"
              for k, v in card["whole_frontal_folders_partly_training"].items()],
            "",
        ]
    lines += [
        (f"**Limits.** Only {card['training_data']['covid-chestxray lateral (L)']} lateral images, "
        "from one collection (many cut from papers); "
        "the model has seen no lateral from a DICOM archive. It is a safety net for files "
        "without a header; the header's View Position, when present, always decides. "
        f"Licences of the data: {card['licences']}."),
        "",
        f"**Intended use.** {card['intended_use']}.",
        "",
    ]
    return "\n".join(lines)
