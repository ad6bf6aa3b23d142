"""SimSiam pretraining at tiny scale: its views, that its loss falls, and that the classifier
starts from it."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cxrpilot.models.expert._fit import LoopOptions, fit_network
from cxrpilot.models.expert._ssl import pretrain_simsiam, simsiam_views


def _blobs(n: int = 96, size: int = 32) -> np.ndarray:
    """Images with one bright disc each, at a random place and size (structure to learn)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(8, size - 8), rng.uniform(8, size - 8), rng.uniform(3, 8)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
        out[i] = np.where(disc, 200, 40) + rng.integers(0, 20, (size, size))
    return out


def test_views_differ_and_keep_the_shape() -> None:
    x = torch.rand(4, 1, 32, 32)
    v1, v2 = simsiam_views(x, torch.Generator().manual_seed(0))
    assert v1.shape == v2.shape == x.shape
    assert not torch.equal(v1, v2)
    assert float(v1.min()) >= 0 and float(v1.max()) <= 1
    again = simsiam_views(x, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], v1) and torch.equal(again[1], v2)


def test_simsiam_loss_falls_and_fine_tuning_starts_from_it() -> None:
    torch.set_num_threads(2)
    images = _blobs()
    idx = np.arange(len(images))
    loop = LoopOptions(epochs=5, seed=0, samples_per_epoch=160, batch_size=16, progress=False)
    result = pretrain_simsiam(images, idx, arch="resnet10t", num_labels=3, mean=0.3, std=0.3,
                              loop=loop, lr=0.1)
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 5 and result.steps == 50
    assert losses[-1] < losses[0] - 0.02  # negative cosine: falls from ~0 towards -1
    assert all(-1.0 <= v <= 1.0 for v in losses)
    assert all(h["feature_std"] > 0.1 for h in result.history)  # not collapsed
    state = result.network.state_dict()
    targets = (np.arange(len(images)) % 2).astype(float)[:, None].repeat(3, 1)
    fit = fit_network(images, targets, np.ones(len(images)), idx[:80], idx[80:],
                      arch="resnet10t", mean=0.3, std=0.3, init_state=state,
                      loop=LoopOptions(epochs=2, seed=0, batch_size=16, progress=False))
    assert fit.history[0]["train_loss"] > 0
    # the fine-tuned network began at the pretrained weights: the stem moved only a little
    key = "resnet.embedder.embedder.convolution.weight"
    start, end = state[key], fit.network.state_dict()[key]
    fresh = torch.nn.init.kaiming_normal_(torch.empty_like(start))
    assert float((end - start).norm()) < 0.5 * float((fresh - start).norm())
