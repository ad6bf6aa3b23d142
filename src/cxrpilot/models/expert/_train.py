"""``train_expert``: data -> cache -> network -> calibration -> ONNX + card. Imports torch."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from cxrpilot import __version__
from cxrpilot.errors import InvalidDatasetError
from cxrpilot.models.expert._cache import cached_images
from cxrpilot.models.expert._calibration import choose_thresholds, fit_temperature, sigmoid
from cxrpilot.models.expert._card import (
    WEIGHTS_FILE,
    ModelCard,
    Thresholds,
    render_markdown,
    write_card,
)
from cxrpilot.models.expert._data import LABELS, SOURCES, ExampleTable, build_table

__all__ = ["train_expert", "auc_summary", "model_name"]

THRESHOLD_RULE = (
    "Thresholds were chosen on the validation split from calibrated probabilities: `low` keeps "
    "the sensitivity of 'not absent' (p >= low) at >= 0.95, `high` keeps the specificity of "
    "'present' (p > high) at >= 0.95; in between the finding reads 'uncertain'. Where the "
    "model separates the validation classes so well that low > high, both are the cut-off "
    "maximising Youden's J."
)

LIMITATIONS = (
    "Not for clinical use: trained on small public research collections with labels at the "
    "image-class level (COVID / pneumonia / normal), not radiologist reads of each finding.",
    "In this data the 'Lung Opacity' and 'Pneumonia' labels coincide (the only exceptions are a "
    "few ARDS images of covid-chestxray, opacity without a pneumonia label), so the model cannot "
    "tell them apart: read both as one 'airspace opacity / pneumonia' signal. 'No Finding' "
    "means 'none of the assessed findings', not a normal study.",
    "Every other observation (effusion, pneumothorax, cardiomegaly, devices, ...) is not "
    "assessed; an image with only those findings may read 'No Finding'.",
    "Sources differ in hospitals, age (pediatric ages 1-5 vs adults) and preparation, and the "
    "source is plainly visible in the pixels. Cross-source AUCs (a model trained without a "
    "source, tested on it; see Metrics) are far below the in-source ones: expect much worse "
    "performance on images from hospitals and populations not in the training data.",
    "Input is a frontal (PA/AP) view; lateral views were excluded from training.",
)


def model_name(arch: str, image_size: int, n_sources: int, holdout: str | None) -> str:
    """``expert-{arch}-res{N}-cxr{k}`` (+ ``-without-{source}`` for a cross-source model)."""
    name = f"expert-{arch}-res{image_size}-cxr{n_sources}"
    return f"{name}-without-{holdout}" if holdout else name


def auc_summary(y_true: np.ndarray, y_score: np.ndarray, *, seed: int = 0,
                n_bootstrap: int = 2000) -> dict[str, Any] | None:
    """AUC with a 95 % bootstrap CI as a JSON-ready dict; None when a class is missing."""
    from cxrpilot.evaluation import roc_auc_ci

    known = ~np.isnan(y_true)
    y, s = y_true[known].astype(int), y_score[known]
    if len(np.unique(y)) < 2:
        return None
    est = roc_auc_ci(y, s, n_bootstrap=n_bootstrap, confidence=0.95, seed=seed)
    return {"auc": round(float(est.estimate), 4), "ci_low": round(float(est.ci_low), 4),
            "ci_high": round(float(est.ci_high), 4), "n": int(len(y)),
            "n_positive": int(y.sum()), "method": str(est.method)}


def _balanced_weights(table: ExampleTable, idx: np.ndarray, cap: float = 5.0) -> np.ndarray:
    """Per-image loss weights that balance the classes within each source (so that the
    source cannot stand in for the class), capped at ``cap``."""
    w = np.ones(len(table.paths), dtype=np.float64)
    positive = table.targets[:, LABELS.index("Pneumonia")] == 1
    for src in np.unique(table.sources[idx]):
        in_src = idx[table.sources[idx] == src]
        for cls in (True, False):
            members = in_src[positive[in_src] == cls]
            if len(members):
                w[members] = min(cap, len(in_src) / (2.0 * len(members)))
    return w


def _split_counts(table: ExampleTable, keep: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("train", "validate", "test"):
        sel = keep & (table.splits == split)
        srcs, counts = np.unique(table.sources[sel], return_counts=True)
        out[split] = {"images": int(sel.sum()),
                      "by_source": {str(s): int(c) for s, c in zip(srcs, counts, strict=True)}}
    return out


def train_expert(
    data_dir: Path,
    out_dir: Path,
    *,
    seed: int,
    epochs: int,
    image_size: int,
    arch: str,
    sources: tuple[str, ...] | None,
    holdout_source: str | None,
    limit_per_class: int | None,
    cache_dir: Path | None,
    progress: bool,
    samples_per_epoch: int | None = None,
    threads: int = 2,
) -> ModelCard:
    """See :func:`cxrpilot.models.expert.train_expert`."""
    import torch

    from cxrpilot.models.expert._network import ARCHITECTURES

    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if image_size < 16:
        raise ValueError(f"image_size must be >= 16, got {image_size}")
    sources = tuple(sources or SOURCES)
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise InvalidDatasetError(f"unknown sources {unknown}; expected some of {', '.join(SOURCES)}")
    if holdout_source is not None and holdout_source not in sources:
        raise InvalidDatasetError(
            f"holdout source {holdout_source!r} is not among the sources {', '.join(sources)}")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train(data_dir, out_dir, seed=seed, epochs=epochs, image_size=image_size, arch=arch,
                      sources=sources, holdout_source=holdout_source,
                      limit_per_class=limit_per_class, cache_dir=cache_dir, progress=progress,
                      samples_per_epoch=samples_per_epoch, threads=threads)
    finally:
        torch.set_num_threads(previous_threads)


def _train(data_dir: Path, out_dir: Path, *, seed: int, epochs: int, image_size: int, arch: str,
           sources: tuple[str, ...], holdout_source: str | None, limit_per_class: int | None,
           cache_dir: Path | None, progress: bool, samples_per_epoch: int | None,
           threads: int) -> ModelCard:
    import torch
    from safetensors.torch import save_file

    from cxrpilot.evaluation import expected_calibration_error
    from cxrpilot.models.expert._fit import fit_network, network_logits
    from cxrpilot.models.expert._model import sha256_file
    from cxrpilot.models.expert._network import export_onnx

    t_start = time.perf_counter()
    table = build_table(data_dir, sources, seed=seed, limit_per_class=limit_per_class,
                        holdout_source=holdout_source, cache_dir=cache_dir, progress=progress)
    images, ok = cached_images(table.paths, image_size, cache_dir=cache_dir, progress=progress)
    t_data = time.perf_counter() - t_start
    train_idx = np.flatnonzero(ok & (table.splits == "train"))
    val_idx = np.flatnonzero(ok & (table.splits == "validate"))
    test_idx = np.flatnonzero(ok & (table.splits == "test"))
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise InvalidDatasetError(
            f"too few images under {str(data_dir)!r} to train: {len(train_idx)} train, "
            f"{len(val_idx)} validation images")
    sample = images[train_idx[:: max(1, len(train_idx) // 2000)]].astype(np.float32)
    mean, std = float(sample.mean()), float(sample.std())

    t0 = time.perf_counter()
    weights = _balanced_weights(table, train_idx)
    weights[val_idx] = _balanced_weights(table, val_idx)[val_idx]
    fit = fit_network(images, table.targets, weights, train_idx, val_idx, arch=arch, mean=mean,
                      std=std, epochs=epochs, seed=seed, samples_per_epoch=samples_per_epoch,
                      progress=progress)
    t_train = time.perf_counter() - t0
    network = fit.network

    val_logits = network_logits(network, images, val_idx, mean, std)
    test_logits = network_logits(network, images, test_idx, mean, std)
    temps, thresholds, calibration = [], {}, {}
    for j, name in enumerate(LABELS):
        y_val = table.targets[val_idx, j]
        known = ~np.isnan(y_val)
        t = fit_temperature(y_val[known], val_logits[known, j])
        temps.append(round(t, 5))
        p_val = sigmoid(val_logits[known, j] / t)
        if len(np.unique(y_val[known])) == 2:
            low, high = choose_thresholds(y_val[known], p_val)
        else:
            low, high = 0.25, 0.75
        thresholds[name] = Thresholds(round(low, 4), round(high, 4))
        y_test = table.targets[test_idx, j]
        kt = ~np.isnan(y_test)
        calibration[name] = {
            "temperature": round(t, 5),
            "ece_val_before": round(expected_calibration_error(y_val[known], sigmoid(val_logits[known, j])), 4),
            "ece_val_after": round(expected_calibration_error(y_val[known], p_val), 4),
        }
        if kt.any():
            calibration[name]["ece_test_before"] = round(
                expected_calibration_error(y_test[kt], sigmoid(test_logits[kt, j])), 4)
            calibration[name]["ece_test_after"] = round(
                expected_calibration_error(y_test[kt], sigmoid(test_logits[kt, j] / t)), 4)
    test_proba = sigmoid(test_logits / np.asarray(temps))
    test_metrics: dict[str, dict[str, Any]] = {}
    groups = [("all", np.ones(len(test_idx), bool))] + [
        (src, table.sources[test_idx] == src) for src in sources]
    for gname, sel in groups:
        if not sel.any():
            continue
        test_metrics[gname] = {
            name: auc_summary(table.targets[test_idx[sel], j], test_proba[sel, j], seed=seed)
            for j, name in enumerate(LABELS)
        }

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    max_diff = export_onnx(network, out_dir / WEIGHTS_FILE, image_size, opset=20)
    save_file({k: v.contiguous() for k, v in network.state_dict().items()},
              str(out_dir / "model.safetensors"))
    (out_dir / "config.json").write_text(network.config.to_json_string(), encoding="utf-8")

    keep = ok.copy()
    n_sources = len([s for s in sources if s != holdout_source])
    card = ModelCard(
        model_id=model_name(arch, image_size, n_sources, holdout_source),
        version="1.0.0",
        labels=LABELS,
        image_size=image_size,
        mean=round(mean, 6),
        std=round(std, 6),
        temperatures=tuple(temps),
        thresholds=thresholds,
        sha256=sha256_file(out_dir / WEIGHTS_FILE),
        architecture={
            "library": "transformers", "class": "ResNetForImageClassification", "name": arch,
            "config": json.loads(network.config.to_json_string()),
            "parameters": int(sum(p.numel() for p in network.parameters())),
            "onnx_opset": 20, "onnx_max_abs_diff_vs_torch": max_diff,
        },
        training={
            "seed": seed, "epochs": epochs, "best_epoch": fit.best_epoch, "history": fit.history,
            "image_size": image_size, "holdout_source": holdout_source,
            "limit_per_class": limit_per_class, "threads": threads,
            "data_seconds": round(t_data, 1), "train_seconds": round(t_train, 1),
            "total_seconds": round(time.perf_counter() - t_start, 1),
            "samples_per_epoch": samples_per_epoch or int(len(train_idx)),
            "loss": "binary cross-entropy per label (unknown labels masked)",
            "sampling": "training images drawn with replacement, with weights balancing the "
                        "classes within each source (cap 5), so that the source cannot stand in "
                        "for the class; the validation loss uses the same weights",
            "augmentation": "rotation +-8 deg, zoom +-20 %, shift +-6 %, random one-axis squeeze "
                            "(padding bars), gamma/contrast/brightness, black bands of up to 20 % "
                            "over the borders of half the images",
            "sources": table.source_summary(keep),
            "data_notes": table.notes,
            "splits": _split_counts(table, keep),
            "unreadable_images": int((~ok).sum()),
            "threshold_rule": THRESHOLD_RULE,
            "software": {"cxrpilot": __version__, "torch": torch.__version__,
                         "python": platform.python_version()},
        },
        metrics={"test": test_metrics, "calibration": calibration,
                 "calibration_method": "temperature scaling per label on the validation split "
                                       "(Guo et al. 2017); ECE with 10 equal-width bins"},
        limitations=LIMITATIONS,
    )
    write_card(card, out_dir)
    (out_dir / "model_card.md").write_text(render_markdown(card), encoding="utf-8")
    return card
