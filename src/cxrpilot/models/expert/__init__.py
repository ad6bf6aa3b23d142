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
:func:`write_card` (a card updated with new measurements). The bare torch networks and their
ONNX export (for scripts that time or export an architecture) are in the submodule
``cxrpilot.models.expert.network``, which imports torch; this package does not import it.
"""

from __future__ import annotations

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
from cxrpilot.models.expert._pack import read_training_pack, write_training_pack
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
