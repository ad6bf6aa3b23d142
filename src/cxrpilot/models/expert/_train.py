"""``train_expert``: data -> cache -> network -> calibration -> ONNX + card. Imports torch."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cxrpilot import __version__
from cxrpilot.errors import InvalidDatasetError, InvalidInputError
from cxrpilot.machine import describe_machine
from cxrpilot.models.expert._cache import cached_images
from cxrpilot.models.expert._calibration import choose_thresholds, fit_temperature, sigmoid
from cxrpilot.models.expert._card import (
    WEIGHTS_FILE,
    ModelCard,
    Thresholds,
    write_card,
)
from cxrpilot.models.expert._data import (
    LABELS,
    SOURCE_SHARES,
    SOURCES,
    ExampleTable,
    build_table,
)

if TYPE_CHECKING:
    from cxrpilot.models.expert._fit import Box
    from cxrpilot.models.expert._pack import PackData

__all__ = ["train_expert", "check_run_options", "known_sources", "torch_threads",
           "TrainingData", "read_training_data", "require_data", "software_versions",
           "auc_summary", "model_name", "ASSESS_MIN_AUC", "choose_assessed", "input_boxes"]

#: A finding is assessed only when its held-out AUC (on the NIH test patients, the one source
#: that labels every finding) reaches this.
ASSESS_MIN_AUC = 0.80
ASSESSMENT_RULE = (
    f"A finding is assessed when its AUC reaches {ASSESS_MIN_AUC} on the NIH ChestX-ray14 test "
    "patients (held out), within each view (PA, AP) that has at least 10 positives and 10 "
    "negatives, on the test images of every other source that labels it with as many, and on "
    "the NIH validation patients; and where it tells the finding apart from other "
    "abnormalities: among the abnormal NIH test images (No Finding = 0) the lower end of its "
    "AUC's 95 % CI lies above 0.5. The column 'nih-chestxray14, 1 - No Finding' is the "
    "baseline of a pure abnormality score: each finding scored by the No Finding output alone.")

THRESHOLD_RULE = (
    "Thresholds were chosen on the validation split from calibrated probabilities: `low` keeps "
    "the sensitivity of 'not absent' (p >= low) at >= 0.95, `high` keeps the specificity of "
    "'present' (p > high) at >= 0.95; in between the finding reads 'uncertain'. Where the "
    "model separates the validation classes so well that low > high, both are the cut-off "
    "maximising Youden's J."
)

LIMITATIONS = (
    ("Not for clinical use: trained on small public research collections. The multi-finding "
    "labels come from ~1,000 NIH ChestX-ray14 training images whose labels were mined from "
    "reports by NLP (noisy), selected for a pneumonia study or for radiologist boxes, so "
    "prevalences are nothing like a clinical worklist."),
    ("A finding is assessed only where its held-out AUC reached the bar (see the table); the "
    "network's other outputs are not shown. Support devices, fractures and the mediastinum are "
    "not assessed (no training labels), so this model never asserts 'No Finding'."),
    ("The pneumonia/COVID collections (covid-radiography, pediatric-pneumonia, covid-chestxray) "
    "label only No Finding, Lung Opacity and Pneumonia; their other labels are masked, not "
    "negative. Sources differ in hospitals, ages and preparation, and the source is visible in "
    "the pixels: expect worse performance on other hospitals' images."),
    ("Maps are class activation maps of a 7x7 feature grid: coarse, and they show where the "
    "network's evidence is, not a segmentation."),
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
            "ci_high": round(float(est.ci_high), 4), "n": len(y),
            "n_positive": int(y.sum()), "method": str(est.method)}


def keep_patient_fraction(table: ExampleTable, idx: np.ndarray, fraction: float, *,
                          seed: int) -> np.ndarray:
    """The images of a seeded ``fraction`` of the patients among ``idx`` (each source's own share).

    For learning curves: whole patients are kept or dropped, so no patient is split, and the
    validation and test images (not in ``idx``) stay the same. The draw depends only on the
    seed and the patient keys, so a smaller fraction keeps a subset of a larger one's patients.
    """
    rng = np.random.default_rng([seed, 7919])
    keys = np.asarray([f"{table.sources[i]}/{table.patients[i]}" for i in idx])
    unique = np.unique(keys)
    rank = dict(zip(unique, rng.permutation(len(unique)), strict=True))
    sources = np.asarray([table.sources[i] for i in idx])
    keep = np.zeros(len(idx), dtype=bool)
    for src in np.unique(sources):
        src_keys = np.unique(keys[sources == src])
        order = sorted(src_keys, key=rank.__getitem__)
        kept = set(order[:max(1, round(fraction * len(order)))])
        keep |= (sources == src) & np.isin(keys, list(kept))
    return idx[keep]


def _sampling_weights(table: ExampleTable, idx: np.ndarray, cap: float = 5.0) -> np.ndarray:
    """Per-image draw weights over ``idx``: each source gets its :data:`SOURCE_SHARES` share
    of the draws (renormalised over the sources present), and within a source the Pneumonia
    classes are balanced (capped at ``cap``) so that the source cannot stand in for the class."""
    w = np.zeros(len(table.paths), dtype=np.float64)
    pneumonia = table.targets[:, LABELS.index("Pneumonia")]
    present = list(np.unique(table.sources[idx]))
    total_share = sum(SOURCE_SHARES.get(str(src), 0.1) for src in present)
    for src in present:
        in_src = idx[table.sources[idx] == src]
        for cls in (1.0, 0.0, np.nan):
            members = in_src[np.isnan(pneumonia[in_src])] if np.isnan(cls) else \
                in_src[pneumonia[in_src] == cls]
            if len(members):
                w[members] = min(cap, len(in_src) / (2.0 * len(members)))
        w[in_src] *= SOURCE_SHARES.get(str(src), 0.1) / total_share / w[in_src].sum()
    return w * len(idx)


#: A view group of the NIH test patients is checked when it has at least this many positives
#: and negatives of a finding (fewer give no usable AUC).
MIN_VIEW_CASES = 10


def choose_assessed(test_metrics: dict[str, dict[str, Any]],
                    validation_metrics: dict[str, dict[str, Any]] | None = None) -> tuple[str, ...]:
    """The outputs whose AUC on the NIH test patients reaches :data:`ASSESS_MIN_AUC` — within
    each view too (PA, AP: the NIH selection ties findings to the view, so a finding scored by
    the view alone must not pass), wherever a view has :data:`MIN_VIEW_CASES` positives and
    negatives — on the test images of every other source that labels the finding with as many
    positives and negatives (the cross-source check: pneumonia on the pediatric and COVID
    collections), and, when given, on the NIH validation patients, so that a finding is not
    assessed on the strength of one lucky split. No Finding is never among them: it follows
    from the other findings (:func:`cxrpilot.draft.apply_no_finding_rule`)."""
    def reaches(metrics: dict[str, dict[str, Any]], group: str, name: str) -> bool:
        m = (metrics.get(group) or {}).get(name) or {}
        return m.get("auc", 0.0) >= ASSESS_MIN_AUC

    def specific(name: str) -> bool:  # separates the finding from other abnormalities
        m = (test_metrics.get(ABNORMAL_GROUP) or {}).get(name)
        if not m or min(m["n_positive"], m["n"] - m["n_positive"]) < MIN_VIEW_CASES:
            return True
        return m["ci_low"] > 0.5

    def groups_hold(name: str) -> bool:
        checked = [f"nih-chestxray14 {view}" for view in ("PA", "AP")]
        checked += [g for g in test_metrics if g in SOURCES and g != "nih-chestxray14"]
        for g in checked:
            m = (test_metrics.get(g) or {}).get(name)
            if m and min(m["n_positive"], m["n"] - m["n_positive"]) >= MIN_VIEW_CASES \
                    and m["auc"] < ASSESS_MIN_AUC:
                return False
        return True

    group = "nih-chestxray14" if "nih-chestxray14" in test_metrics else "all"
    return tuple(name for name in LABELS if name != "No Finding"
                 and reaches(test_metrics, group, name) and groups_hold(name) and specific(name)
                 and (validation_metrics is None or reaches(validation_metrics, group, name)))


#: The NIH test images with No Finding = 0: a finding's AUC among them says whether the output
#: tells that finding apart from other abnormalities (and not just abnormal from normal).
ABNORMAL_GROUP = "nih-chestxray14 abnormal"
#: Each finding scored by 1 - P(No Finding): what a pure abnormality score gives (a baseline).
ABNORMALITY_BASELINE_GROUP = "nih-chestxray14, 1 - No Finding"


def _grouped_aucs(table: ExampleTable, idx: np.ndarray, proba: np.ndarray,
                  sources: tuple[str, ...], *, seed: int, by_view: bool = True,
                  ) -> dict[str, dict[str, Any]]:
    """AUC with CI per label over all of ``idx``, per source, and per view within NIH (the
    NIH selection ties No Finding to the AP view, so each finding is checked within a view)."""
    groups = [("all", np.ones(len(idx), bool))] + [
        (src, table.sources[idx] == src) for src in sources]
    if by_view:
        views = np.array([str(table.studies[i].images[0].view or "") for i in idx])
        nih = table.sources[idx] == "nih-chestxray14"
        groups += [(f"nih-chestxray14 {v}", nih & (views == v)) for v in ("PA", "AP")]
        groups.append((ABNORMAL_GROUP, nih & (table.targets[idx, LABELS.index("No Finding")] == 0)))
    out: dict[str, dict[str, Any]] = {}
    for gname, sel in groups:
        if sel.any():
            out[gname] = {name: auc_summary(table.targets[idx[sel], j], proba[sel, j], seed=seed)
                          for j, name in enumerate(LABELS)}
    if by_view and nih.any():
        abnormality = 1.0 - proba[nih, LABELS.index("No Finding")]
        out[ABNORMALITY_BASELINE_GROUP] = {
            name: auc_summary(table.targets[idx[nih], j], abnormality, seed=seed)
            for j, name in enumerate(LABELS) if name != "No Finding"}
    return out


def _map_hit_rates(out_dir: Path, table: ExampleTable, idx: np.ndarray, *,
                   assessed: tuple[str, ...], mean: float, std: float,
                   image_size: int, images: np.ndarray | None = None) -> dict[str, Any]:
    """Pointing game of the exported graph's maps against the NIH radiologists' boxes on
    the images ``idx`` (a split), beside a centre-of-image baseline (see :mod:`._maps`).
    With ``images`` (the table's fitted squares, from a training pack) the inputs are
    taken from there instead of decoding the files."""
    from cxrpilot.models.expert._fit import to_unit
    from cxrpilot.models.expert._maps import box_hit_rates

    chosen = [i for i in idx if table.studies[i].meta.get("boxes")]
    boxed = [table.studies[i] for i in chosen]
    squares = None if images is None else [to_unit(images[i]) for i in chosen]
    return box_hit_rates(out_dir / WEIGHTS_FILE, boxed, LABELS, assessed, mean=mean, std=std,
                         input_size=image_size, squares=squares)


def input_boxes(table: ExampleTable, image_size: int) -> list[tuple[Box, ...]]:
    """The radiologists' boxes of every image of ``table`` (empty where none) over its
    ``image_size`` network input square, for the box loss of :func:`fit_network`.

    Boxes are given in the image's own pixels (``meta["boxes"]``, see
    :func:`cxrpilot.data.read_nih`); the image's size is read from its header (or from
    ``meta["image_shape"]``, as a training pack gives it) so that the boxes land where
    :func:`cxrpilot.imaging.fit_square` puts the image.
    """
    from PIL import Image

    from cxrpilot.imaging import square_region
    from cxrpilot.models.expert._maps import BOX_FINDINGS

    out: list[tuple[Box, ...]] = []
    for study in table.studies:
        raw = study.meta.get("boxes") or ()
        kept = [(LABELS.index(BOX_FINDINGS[f]), *b) for f, *b in raw
                if BOX_FINDINGS.get(f) in LABELS]
        if not kept:
            out.append(())
            continue
        if "image_shape" in study.meta:  # read from a training pack (see ._pack)
            height, width = study.meta["image_shape"]
        else:
            with Image.open(study.images[0].path) as im:
                width, height = im.size
        top, left, h, w = square_region((height, width), image_size)
        sx, sy = w / width / image_size, h / height / image_size
        out.append(tuple(
            (j, left / image_size + x * sx, top / image_size + y * sy,
             left / image_size + (x + bw) * sx, top / image_size + (y + bh) * sy)
            for j, x, y, bw, bh in kept))
    return out


def _data_hashes(table: ExampleTable, data_dir: Path) -> dict[str, str]:
    """sha256 per source over the images used (relative path and size, sorted) and the
    targets and splits they were given: two runs with equal hashes saw the same data."""
    import hashlib
    import os

    out = {}
    for src in np.unique(table.sources):
        h = hashlib.sha256()
        for i in sorted(np.flatnonzero(table.sources == src), key=lambda i: table.paths[i]):
            rel = os.path.relpath(table.paths[i], data_dir)
            h.update(f"{rel}\0{os.path.getsize(table.paths[i])}\0{table.splits[i]}\0"
                     f"{table.targets[i].tolist()}\n".encode())
        out[str(src)] = h.hexdigest()
    return out


def _device_facts(device: str) -> dict[str, Any]:
    """Where the network trained: the CPU, or the GPU's name, with the precision used."""
    import torch

    if device == "cpu":
        return {"type": "cpu", "precision": "float32"}
    return {"type": "cuda", "name": torch.cuda.get_device_name(torch.device(device)),
            "precision": "bfloat16 autocast (float32 weights), channels-last",
            "cuda": torch.version.cuda}


def software_versions() -> dict[str, str]:
    """The card's ``training.software``: the versions a run trained with."""
    import torch

    return {"cxrpilot": __version__, "torch": torch.__version__,
            "python": platform.python_version()}


@dataclass(frozen=True)
class TrainingData:
    """What a training run reads (:func:`read_training_data`): the table, its images as
    network-input squares (``ok``: those of the wanted sources that could be read), the
    training pack they came from (or None) and the seconds reading took."""

    table: ExampleTable
    images: np.ndarray
    ok: np.ndarray
    pack: PackData | None
    seconds: float

    def normalisation(self, train_idx: np.ndarray) -> tuple[float, float]:
        """Mean and standard deviation of the [0, 1] pixels of the training images ``train_idx``
        (of at most ~2,000 of them, evenly spaced)."""
        from cxrpilot.models.expert._fit import to_unit

        sample = to_unit(self.images[train_idx[:: max(1, len(train_idx) // 2000)]])
        return float(sample.mean()), float(sample.std())

    def sha256(self, data_dir: Path | None) -> dict[str, str]:
        """The card's ``data_sha256``: the pack's, or :func:`_data_hashes` of the table."""
        if self.pack is not None:
            return self.pack.data_sha256
        return _data_hashes(self.table, data_dir)


def require_data(data_dir: Path | None, pack: Path | None) -> None:
    """Refuse a run given neither a data folder nor a training pack."""
    if pack is None and data_dir is None:
        raise InvalidInputError("no data: pass a data folder or a training pack")


def read_training_data(data_dir: Path | None, pack: Path | None, *, sources: tuple[str, ...],
                       image_size: int, seed: int, cache_dir: Path | None, threads: int,
                       device: str, progress: bool, limit_per_class: int | None = None,
                       holdout_source: str | None = None) -> TrainingData:
    """The table and images of a training run: those of the training pack ``pack``
    (:func:`write_training_pack`), else the table of ``data_dir`` (:func:`build_table`) and
    its cached images (:func:`cached_images`)."""
    t_start = time.perf_counter()
    pack_data = None
    if pack is not None:  # the table and images of a training pack (see ._pack)
        from cxrpilot.models.expert._pack import read_training_pack

        pack_data = read_training_pack(pack, image_size,
                                       workers=None if device != "cpu" else threads)
        table, images = pack_data.table, pack_data.images
        ok = np.isin(table.sources, sources)
    else:
        require_data(data_dir, pack)
        table = build_table(data_dir, sources, seed=seed, limit_per_class=limit_per_class,
                            holdout_source=holdout_source, cache_dir=cache_dir, progress=progress)
        images, ok = cached_images(table.paths, image_size, cache_dir=cache_dir, progress=progress)
    return TrainingData(table, images, ok, pack_data, time.perf_counter() - t_start)


def _split_counts(table: ExampleTable, keep: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for split in ("train", "validate", "test"):
        sel = keep & (table.splits == split)
        srcs, counts = np.unique(table.sources[sel], return_counts=True)
        out[split] = {"images": int(sel.sum()),
                      "by_source": {str(s): int(c) for s, c in zip(srcs, counts, strict=True)}}
    return out


def check_run_options(*, arch: str, epochs: int, image_size: int,
                      max_seconds: float | None) -> None:
    """Refuse the options that training and pretraining share, each named."""
    from cxrpilot.models.expert.network import ARCHITECTURES

    if arch not in ARCHITECTURES:
        raise InvalidInputError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}")
    if epochs < 1:
        raise InvalidInputError(f"epochs must be >= 1, got {epochs}")
    if image_size < 16:
        raise InvalidInputError(f"image_size must be >= 16, got {image_size}")
    if max_seconds is not None and not max_seconds > 0:
        raise InvalidInputError(f"max_seconds must be > 0, got {max_seconds}")


def known_sources(sources: Sequence[str] | None) -> tuple[str, ...]:
    """``sources`` as a tuple (default, and for an empty one: all of :data:`SOURCES`);
    refused when one is not a source."""
    sources = tuple(sources) if sources is not None else ()
    sources = sources or SOURCES
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown:
        raise InvalidDatasetError(f"unknown sources {unknown}; expected some of {', '.join(SOURCES)}")
    return sources


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's CPU threads set to ``threads`` for the ``with`` block, then set back."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_expert(
    data_dir: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    epochs: int = 8,
    image_size: int = 128,
    arch: str = "resnet10",
    sources: Sequence[str] | None = None,
    holdout_source: str | None = None,
    limit_per_class: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    samples_per_epoch: int | None = None,
    threads: int = 2,
    train_sources: Sequence[str] | None = None,
    init_from: str | os.PathLike[str] | None = None,
    lr: float = 3e-3,
    box_weight: float = 0.0,
    device: str = "cpu",
    batch_size: int = 64,
    max_seconds: float | None = None,
    pack: str | os.PathLike[str] | None = None,
    train_fraction: float = 1.0,
    progress: bool = True,
) -> ModelCard:
    """Train an expert model on the open data and write it (ONNX weights + card) to ``out_dir``.

    Images are de-duplicated across sources (perceptual hash) before a patient-level,
    seeded train/validate/test split. The network is trained on the train split, calibrated
    (temperature per finding) and given its low/high thresholds on the validation split,
    and measured on the test split of each source (AUC with 95 % bootstrap CI). Needs the
    ``train`` extra (torch, transformers, onnx).

    Parameters
    ----------
    data_dir : path or None
        The shared data folder (with ``nih-chestxray14/``, ``covid-radiography/``,
        ``pediatric-pneumonia/``, ``covid-chestxray/``); None when ``pack`` is given.
    out_dir : path
        Folder to write ``model.onnx``, ``card.json``, ``model_card.md`` and
        ``model.safetensors`` into (created).
    seed : int
        Seeds the split, the initialisation, the batch order and the augmentation.
    epochs : int
    image_size : int
        Side of the square network input in pixels.
    arch : str
        ``"resnet10"``, ``"resnet18"``, ``"resnet10t"``, ``"resnet14w"`` (narrow CPU
        networks) or ``"resnet18w64"``, ``"resnet34w64"``, ``"resnet50w64"`` (standard
        widths, for a GPU); see ``network.ARCHITECTURES``.
    sources : sequence of str or None
        Data sources to use (default: all four).
    holdout_source : str or None
        Train without this source (and without images duplicated in it) and test on all of
        it: the cross-source measurement.
    limit_per_class : int or None
        Use at most this many images per source and class (for quick runs and tests).
    cache_dir : path or None
        Where decoded, resized images are cached between runs (default:
        ``expert-images`` in :func:`cxrpilot.models.cache_root`, i.e.
        ``$CXRPILOT_CACHE_DIR``, else ``~/.cache/cxrpilot``).
    samples_per_epoch : int or None
        Training images drawn per epoch (with replacement, balancing the classes within
        each source); default: the size of the train split.
    threads : int
        torch CPU threads (on a busy shared CPU, 1 can be much faster than 2).
    train_sources : sequence of str or None
        Train (and validate) only on these of ``sources``; the split and the test sets stay
        those of all ``sources``, so recipes compare on the same splits.
    init_from : path or None
        Fine-tune: start from the network of this model folder (written by this function
        or by :func:`pretrain_expert`, same ``arch``; its normalisation is kept) instead of
        random weights.
    lr : float
        Peak learning rate of the one-cycle schedule.
    box_weight : float
        Weight of the box loss (0: none): on images with radiologists' boxes (NIH), the
        class activation map of each boxed finding is pulled into its boxes.
    device : str
        ``"cpu"`` (default; the seeded numbers of earlier versions) or ``"cuda"``: images
        held on the GPU, augmented there, bfloat16 autocast, channels-last.
    batch_size : int
        Images per optimiser step (default 64).
    max_seconds : float or None
        Wall-clock budget of the training loop: it stops at the first step past it.
    pack : path or None
        Read the table and images from this training pack (:func:`write_training_pack`)
        instead of ``data_dir`` — for a machine without the data folder.
    train_fraction : float
        Train on a seeded share of the training patients (whole patients; validation and
        test unchanged): the points of a learning curve. Default 1: all of them.
    progress : bool
        Show progress bars.

    Returns
    -------
    ModelCard
        The card written to ``out_dir/card.json``.

    Raises
    ------
    InvalidDatasetError
        A source folder is missing or malformed.
    InvalidInputError
        A bad option, e.g. ``device="cuda"`` where torch sees no GPU.
    MissingDependencyError
        torch / transformers / onnx are not installed.
    """
    from cxrpilot.errors import require

    for module in ("torch", "transformers", "onnx"):
        require(module, extra="train")

    data_dir = Path(data_dir) if data_dir is not None else None
    out_dir = Path(out_dir)
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    init_from = Path(init_from) if init_from is not None else None
    pack = Path(pack) if pack is not None else None
    train_sources = tuple(train_sources) if train_sources is not None else None
    check_run_options(arch=arch, epochs=epochs, image_size=image_size, max_seconds=max_seconds)
    if not 0.0 <= box_weight <= 100.0:
        raise InvalidInputError(f"box_weight must be in [0, 100], got {box_weight}")
    if batch_size < 1:
        raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
    if not 0.0 < train_fraction <= 1.0:
        raise InvalidInputError(f"train_fraction must be in (0, 1], got {train_fraction}")
    if pack is not None and (holdout_source is not None or limit_per_class is not None):
        raise InvalidInputError("a training pack holds the default table (all sources, no holdout, "
                                "no per-class limit): drop --holdout-source / --limit-per-class, "
                                "or train from --data")
    require_data(data_dir, pack)
    from cxrpilot.models.expert._fit import resolve_device

    resolve_device(device)
    sources = known_sources(sources)
    if holdout_source is not None and holdout_source not in sources:
        raise InvalidDatasetError(
            f"holdout source {holdout_source!r} is not among the sources {', '.join(sources)}")
    from safetensors.torch import save_file

    from cxrpilot.evaluation import expected_calibration_error
    from cxrpilot.models.expert._fit import LoopOptions, fit_network, network_logits
    from cxrpilot.models.expert._model import sha256_file
    from cxrpilot.models.expert.network import export_onnx

    with torch_threads(threads):
        t_start = time.perf_counter()
        data = read_training_data(data_dir, pack, sources=sources, image_size=image_size,
                                  seed=seed, cache_dir=cache_dir, threads=threads, device=device,
                                  progress=progress, limit_per_class=limit_per_class,
                                  holdout_source=holdout_source)
        table, images, ok, pack_data = data.table, data.images, data.ok, data.pack
        if pack_data is not None:
            missing = sorted(set(sources) - set(table.sources.tolist()))
            if missing:
                raise InvalidDatasetError(f"the training pack {str(pack)!r} has no images of {missing}")
        trains = ok if train_sources is None else ok & np.isin(table.sources, train_sources)
        train_idx = np.flatnonzero(trains & (table.splits == "train"))
        if train_fraction < 1.0:
            train_idx = keep_patient_fraction(table, train_idx, train_fraction, seed=seed)
        val_idx = np.flatnonzero(trains & (table.splits == "validate"))
        test_idx = np.flatnonzero(ok & (table.splits == "test"))
        if len(train_idx) == 0 or len(val_idx) == 0:
            raise InvalidDatasetError(
                f"too few images under {str(pack or data_dir)!r} to train: {len(train_idx)} train, "
                f"{len(val_idx)} validation images")
        mean, std = data.normalisation(train_idx)

        t0 = time.perf_counter()
        weights = _sampling_weights(table, train_idx)
        weights[val_idx] = _sampling_weights(table, val_idx)[val_idx]
        init_state, start = None, None
        if init_from is not None:  # fine-tune: same network and normalisation as the start model
            from safetensors.torch import load_file

            init_state = load_file(str(init_from / "model.safetensors"))
            start = json.loads((init_from / "card.json").read_text())
            mean, std = float(start["mean"]), float(start["std"])
            start_arch = (start.get("architecture") or {}).get("name")
            if start_arch not in (None, arch):
                raise InvalidInputError(f"--init-from {str(init_from)!r} is a {start_arch} network; "
                                        f"pass --arch {start_arch} (got {arch})")
        boxes = input_boxes(table, image_size) if box_weight > 0 else None
        loop = LoopOptions(epochs=epochs, seed=seed, samples_per_epoch=samples_per_epoch,
                           batch_size=batch_size, device=device, max_seconds=max_seconds,
                           progress=progress)
        fit = fit_network(images, table.targets, weights, train_idx, val_idx, arch=arch, mean=mean,
                          std=std, loop=loop, lr=lr, init_state=init_state, boxes=boxes,
                          box_weight=box_weight)
        t_train = time.perf_counter() - t0
        network = fit.network

        if device != "cpu":  # the trained network came back to the CPU; logits on the GPU again
            from cxrpilot.models.expert._fit import device_images, resolve_device

            dev = resolve_device(device)
            on_device, network = device_images(images, dev), network.to(dev)
            val_logits = network_logits(network, on_device, val_idx, mean, std)
            test_logits = network_logits(network, on_device, test_idx, mean, std)
            network, on_device = network.to("cpu"), None
        else:
            val_logits = network_logits(network, images, val_idx, mean, std)
            test_logits = network_logits(network, images, test_idx, mean, std)
        temps, thresholds, calibration = [], {}, {}
        for j, name in enumerate(LABELS):
            y_val = table.targets[val_idx, j]
            known = ~np.isnan(y_val)
            if len(np.unique(y_val[known])) < 2:
                temps.append(1.0)
                thresholds[name] = Thresholds(0.25, 0.75)
                continue
            t = fit_temperature(y_val[known], val_logits[known, j])
            temps.append(round(t, 5))
            p_val = sigmoid(val_logits[known, j] / t)
            low, high = choose_thresholds(y_val[known], p_val)
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
        val_proba = sigmoid(val_logits / np.asarray(temps))
        test_metrics = _grouped_aucs(table, test_idx, test_proba, sources, seed=seed)
        validation_metrics = _grouped_aucs(table, val_idx, val_proba, sources, seed=seed,
                                           by_view=False)
        assessed = choose_assessed(test_metrics, validation_metrics)

        out_dir.mkdir(parents=True, exist_ok=True)
        max_diff = export_onnx(network, out_dir / WEIGHTS_FILE, image_size, opset=20)
        save_file({k: v.contiguous() for k, v in network.state_dict().items()},
                  str(out_dir / "model.safetensors"))
        (out_dir / "config.json").write_text(network.config.to_json_string(), encoding="utf-8")

        keep = ok.copy()
        seen = set(train_sources or sources)
        if start is not None:  # a fine-tuned network has seen its start model's sources too
            seen |= set(start["training"].get("train_sources") or [])
        n_sources = len([s for s in seen if s != holdout_source])
        weights_sha256 = sha256_file(out_dir / WEIGHTS_FILE)
        card = ModelCard(
            model_id=model_name(arch, image_size, n_sources, holdout_source),
            # the id names the architecture and data; the version names these very weights
            version=f"{time.strftime('%Y.%m.%d')}+{weights_sha256[:8]}",
            labels=LABELS,
            assessed=assessed,
            image_size=image_size,
            mean=round(mean, 6),
            std=round(std, 6),
            temperatures=tuple(temps),
            thresholds=thresholds,
            sha256=weights_sha256,
            architecture={
                "library": "transformers", "class": "ResNetForImageClassification", "name": arch,
                "config": json.loads(network.config.to_json_string()),
                "parameters": int(sum(p.numel() for p in network.parameters())),
                "onnx_opset": 20, "onnx_max_abs_diff_vs_torch": max_diff,
            },
            training={
                "seed": seed, "epochs": epochs, "best_epoch": fit.best_epoch, "history": fit.history,
                "image_size": image_size, "holdout_source": holdout_source,
                "train_sources": list(train_sources) if train_sources else list(sources),
                "fine_tuned_from": None if start is None else start["training"],
                "learning_rate": lr,
                "limit_per_class": limit_per_class, "threads": threads,
                "device": _device_facts(device), "batch_size": batch_size,
                "max_seconds": max_seconds, "train_fraction": train_fraction,
                "train_images": len(train_idx),
                "data_pack": None if pack_data is None else pack_data.summary,
                "data_seconds": round(data.seconds, 1), "train_seconds": round(t_train, 1),
                "total_seconds": round(time.perf_counter() - t_start, 1),
                "samples_per_epoch": samples_per_epoch or len(train_idx),
                "loss": "binary cross-entropy per label (unknown labels masked)" + (
                    f" + {box_weight} x box loss (-log share of each boxed finding's class "
                    "activation map inside the radiologists' boxes) on the "
                    f"{sum(1 for i in train_idx if boxes[i])} training images with boxes"
                    if boxes is not None else ""),
                "box_weight": box_weight,
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
                "machine": describe_machine(),
                "data_sha256": data.sha256(data_dir),
                "software": software_versions(),
            },
            metrics={"test": test_metrics, "validation": validation_metrics,
                     "assessment_rule": ASSESSMENT_RULE,
                     "maps": _map_hit_rates(out_dir, table, test_idx, assessed=assessed, mean=mean,
                                            std=std, image_size=image_size,
                                            images=None if pack_data is None else images),
                     # for choosing between recipes without looking at the test split
                     "maps_validation": _map_hit_rates(out_dir, table, val_idx, assessed=assessed,
                                                       mean=mean, std=std, image_size=image_size,
                                                       images=None if pack_data is None else images),
                     "calibration": calibration,
                     "calibration_method": "temperature scaling per label on the validation split "
                                           "(Guo et al. 2017); ECE with 10 equal-width bins"},
            limitations=LIMITATIONS,
        )
        write_card(card, out_dir)
        return card

