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
from cxrpilot.models.expert._pretrain import pretrain_expert
from cxrpilot.models.expert._train import (
    ABNORMAL_GROUP,
    ABNORMALITY_BASELINE_GROUP,
    auc_summary,
    choose_assessed,
    train_expert,
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
