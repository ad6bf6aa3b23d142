"""``pretrain_expert``: the self-supervised stage (see :mod:`._ssl`) as a model folder that
``train_expert(init_from=...)`` starts from. Imports torch."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cxrpilot.errors import InvalidDatasetError, InvalidInputError
from cxrpilot.machine import describe_machine

__all__ = ["pretrain_expert", "SSL_KIND"]

#: ``card.json["kind"]`` of a pretraining folder (it has no ONNX graph, labels or metrics).
SSL_KIND = "expert-ssl-pretraining"


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
    from safetensors.torch import save_file

    from cxrpilot.models.expert._data import LABELS
    from cxrpilot.models.expert._fit import LoopOptions, resolve_device
    from cxrpilot.models.expert._ssl import pretrain_simsiam
    from cxrpilot.models.expert._train import (
        _device_facts,
        check_run_options,
        known_sources,
        read_training_data,
        software_versions,
        torch_threads,
    )

    check_run_options(arch=arch, epochs=epochs, image_size=image_size, max_seconds=max_seconds)
    if batch_size < 2:
        raise InvalidInputError(f"batch_size must be >= 2 (batch normalisation), got {batch_size}")
    data_dir = Path(data_dir) if data_dir is not None else None
    out_dir = Path(out_dir)
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    pack = Path(pack) if pack is not None else None
    resolve_device(device)
    sources = known_sources(sources)
    with torch_threads(threads):
        data = read_training_data(data_dir, pack, sources=sources, image_size=image_size,
                                  seed=seed, cache_dir=cache_dir, threads=threads, device=device,
                                  progress=progress)
        table = data.table
        train_idx = np.flatnonzero(data.ok & (table.splits == "train"))
        if len(train_idx) < batch_size:
            raise InvalidDatasetError(f"{len(train_idx)} training images, fewer than one batch "
                                      f"of {batch_size}")
        mean, std = data.normalisation(train_idx)
        t0 = time.perf_counter()
        loop = LoopOptions(epochs=epochs, seed=seed, samples_per_epoch=samples_per_epoch,
                           batch_size=batch_size, device=device, max_seconds=max_seconds,
                           progress=progress)
        result = pretrain_simsiam(data.images, train_idx, arch=arch, num_labels=len(LABELS),
                                  mean=mean, std=std, loop=loop, lr=lr)
        t_train = time.perf_counter() - t0
    out_dir.mkdir(parents=True, exist_ok=True)
    network = result.network
    save_file({k: v.contiguous() for k, v in network.state_dict().items()},
              str(out_dir / "model.safetensors"))
    (out_dir / "config.json").write_text(network.config.to_json_string(), encoding="utf-8")
    used = sorted({str(s) for s in table.sources[train_idx]})
    card = {
        "kind": SSL_KIND,
        "model_id": f"expert-ssl-{arch}-res{image_size}",
        "image_size": image_size, "mean": round(mean, 6), "std": round(std, 6),
        "labels": list(LABELS),
        "architecture": {"library": "transformers", "class": "ResNetForImageClassification",
                         "name": arch, "config": json.loads(network.config.to_json_string()),
                         "parameters": int(sum(p.numel() for p in network.parameters())),
                         "head": "untrained (initialised with the seed); the encoder is pretrained"},
        "training": {
            "recipe": "SimSiam (Chen & He 2021): two views (random resized crop 35-100 % + the "
                      "classifier's augmentation), projector 3x512 + predictor 512-128-512, "
                      "negative cosine with stop-gradient; SGD momentum 0.9, wd 1e-4, cosine "
                      "schedule, predictor at a fixed rate",
            "seed": seed, "epochs": epochs, "steps": result.steps, "history": result.history,
            "image_size": image_size, "batch_size": batch_size,
            "learning_rate": lr if lr is not None else 0.05 * batch_size / 256,
            "samples_per_epoch": samples_per_epoch or len(train_idx),
            "images": len(train_idx), "split": "train (all sources, labels unused)",
            "train_sources": used, "threads": threads, "device": _device_facts(device),
            "max_seconds": max_seconds,
            "data_pack": None if data.pack is None else data.pack.summary,
            "data_sha256": data.sha256(data_dir),
            "data_seconds": round(data.seconds, 1), "train_seconds": round(t_train, 1),
            "machine": describe_machine(),
            "software": software_versions(),
        },
    }
    (out_dir / "card.json").write_text(json.dumps(card, indent=2), encoding="utf-8")
    return card
