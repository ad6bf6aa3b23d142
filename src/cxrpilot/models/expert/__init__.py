"""The expert classifier: the small, CPU-fast finding classifier shipped as the default model.

A ``transformers`` ResNet trained from scratch here on the open chest X-ray data
(NIH ChestX-ray14, covid-radiography, pediatric-pneumonia, covid-chestxray, with partial
labels), exported to ONNX with its class activation maps, and run with
ONNX Runtime (no torch at inference). It assesses only what its data supports — see
``model.assessed`` — and marks every other of the 14 observations *not assessed*. Each model
folder carries a card (``card.json``): labels, preprocessing, calibration, thresholds,
training data with licences, splits and measured metrics. For research and demonstration
only, not for clinical use.

Example
-------
>>> from cxrpilot import imaging
>>> from cxrpilot.models import expert
>>> model = expert.load()                                  # the shipped default
>>> "Pleural Effusion" in model.labels     # an output; model.assessed says what it states
True
>>> findings, maps = model.assess_with_maps(imaging.load("chest.png"))    # doctest: +SKIP

For measuring a model on its data (the benchmarks): :data:`SOURCES` and :data:`LABELS` of the
training data, :func:`build_table` (its images, labels and seeded patient split),
:func:`cached_images` (the decoded network-input squares), :func:`auc_summary` (AUC with a
bootstrap CI), :func:`box_hit_rates` (how often the maps point into radiologists' boxes) and
:func:`write_card` (a card updated with new measurements).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cxrpilot.models.expert._cache import cached_images
from cxrpilot.models.expert._card import ModelCard, Thresholds, write_card
from cxrpilot.models.expert._data import LABELS, SOURCES, build_table
from cxrpilot.models.expert._maps import box_hit_rates
from cxrpilot.models.expert._model import (
    DEFAULT_MODEL,
    ExpertModel,
    available_models,
    load,
    read_model_card,
)
from cxrpilot.models.expert._train import (
    ABNORMAL_GROUP,
    ABNORMALITY_BASELINE_GROUP,
    auc_summary,
    choose_assessed,
)

__all__ = [
    "ABNORMALITY_BASELINE_GROUP",
    "ABNORMAL_GROUP",
    "DEFAULT_MODEL",
    "LABELS",
    "SOURCES",
    "ExpertModel",
    "ModelCard",
    "Thresholds",
    "auc_summary",
    "available_models",
    "box_hit_rates",
    "build_table",
    "cached_images",
    "choose_assessed",
    "load",
    "pretrain_expert",
    "read_model_card",
    "read_training_pack",
    "train_expert",
    "write_card",
    "write_training_pack",
]


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
        widths, for a GPU); see ``_network.ARCHITECTURES``.
    sources : sequence of str or None
        Data sources to use (default: all four).
    holdout_source : str or None
        Train without this source (and without images duplicated in it) and test on all of
        it: the cross-source measurement.
    limit_per_class : int or None
        Use at most this many images per source and class (for quick runs and tests).
    cache_dir : path or None
        Where decoded, resized images are cached between runs (default:
        ``$CXRPILOT_CACHE_DIR/expert-images``, else the system's temp folder,
        ``cxrpilot-cache``).
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
    from cxrpilot.models.expert._train import train_expert as _train

    return _train(
        Path(data_dir) if data_dir is not None else None, Path(out_dir), seed=seed, epochs=epochs, image_size=image_size, arch=arch,
        sources=tuple(sources) if sources is not None else None, holdout_source=holdout_source,
        limit_per_class=limit_per_class,
        cache_dir=Path(cache_dir) if cache_dir is not None else None, progress=progress,
        samples_per_epoch=samples_per_epoch, threads=threads,
        train_sources=tuple(train_sources) if train_sources is not None else None,
        init_from=Path(init_from) if init_from is not None else None, lr=lr,
        box_weight=box_weight, device=device, batch_size=batch_size, max_seconds=max_seconds,
        pack=Path(pack) if pack is not None else None, train_fraction=train_fraction,
    )


def pretrain_expert(
    data_dir: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    epochs: int = 8,
    image_size: int = 128,
    arch: str = "resnet10",
    sources: Sequence[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    samples_per_epoch: int | None = None,
    threads: int = 2,
    lr: float | None = None,
    batch_size: int = 64,
    device: str = "cpu",
    max_seconds: float | None = None,
    pack: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict:
    """Self-supervised pretraining (SimSiam) of the expert network on the training images of
    all sources, labels unused; writes a folder that :func:`train_expert` takes as
    ``init_from``.

    The table and split are those of :func:`train_expert` (same ``seed``), and only the
    training split is used, so held-out patients stay unseen. See
    ``cxrpilot.models.expert._ssl`` for the recipe and why it was chosen.

    Parameters
    ----------
    data_dir, out_dir, seed, epochs, image_size, arch, sources, cache_dir, threads, device, max_seconds, pack
        As for :func:`train_expert`.
    samples_per_epoch : int or None
        Images drawn (uniformly, with replacement) per epoch; default: the training split.
    lr : float or None
        SGD learning rate (default 0.05 x batch_size / 256).
    batch_size : int
        Images per step (each gives two views); >= 2.
    progress : bool
        Show progress bars.

    Returns
    -------
    dict
        The folder's ``card.json``: kind ``expert-ssl-pretraining``, normalisation,
        architecture and the loss history (``loss`` falls towards -1; ``feature_std`` near 0
        would mean collapse).

    Raises
    ------
    InvalidDatasetError, InvalidInputError, MissingDependencyError
        As for :func:`train_expert`.
    """
    from cxrpilot.errors import require

    for module in ("torch", "transformers", "safetensors"):
        require(module, extra="train")
    from cxrpilot.models.expert._pretrain import pretrain_expert as _pretrain

    return _pretrain(
        Path(data_dir) if data_dir is not None else None, Path(out_dir), seed=seed,
        epochs=epochs, image_size=image_size, arch=arch,
        sources=tuple(sources) if sources is not None else None,
        cache_dir=Path(cache_dir) if cache_dir is not None else None, progress=progress,
        samples_per_epoch=samples_per_epoch, threads=threads, lr=lr, batch_size=batch_size,
        device=device, max_seconds=max_seconds, pack=Path(pack) if pack is not None else None,
    )


def write_training_pack(
    data_dir: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    sides: dict[str, int] | None = None,
    quality: int = 80,
    limit_per_class: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict:
    """Write the training table of all sources (split with ``seed``) and its images as one
    file, for training where the data folder is not (a lent GPU machine).

    Images are stored as the letterboxed network-input squares, 8-bit WebP at ``quality``,
    at a side per source (default: NIH 320 px, the others 160 px). ``limit_per_class``
    keeps at most that many images per source and class (small packs for tests). Returns a
    summary (file size, images per source, sides).
    """
    from cxrpilot.models.expert._pack import write_pack

    return write_pack(Path(data_dir), Path(path), seed=seed, sides=sides, quality=quality,
                      limit_per_class=limit_per_class, cache_dir=Path(cache_dir) if cache_dir is not None else None,
                      progress=progress)


def read_training_pack(path: str | os.PathLike[str], image_size: int, *,
                       workers: int | None = None):
    """The table and images (uint8 squares of ``image_size``) of a pack written by
    :func:`write_training_pack`, decoded with ``workers`` processes (default: the CPUs this
    process may use): a ``PackData`` (``table``, ``images``, ``data_sha256``, ``summary``)."""
    from cxrpilot.models.expert._pack import read_pack

    return read_pack(Path(path), image_size, workers=workers)
