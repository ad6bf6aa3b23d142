"""Self-supervised pretraining of the expert network on unlabelled images (SimSiam).

Why SimSiam (Chen & He 2021, "Exploring simple Siamese representation learning", CVPR):
the labels that matter here (14 findings) exist for ~1,000 NIH training images, while
~11,000 training images of all four sources carry at most a pneumonia/normal label, so
the network's features should be learnt from the pixels. Among the well-known recipes,
SimSiam is the smallest that fits this code: two augmented views of each image, the
same encoder for both (the very ``transformers`` ResNet the classifier fine-tunes, so its
weights load with ``init_from`` unchanged), a projection MLP, a prediction MLP and a
stop-gradient: no negative pairs (SimCLR needs large batches for those), no momentum
encoder or queue (BYOL, MoCo), no patch masking (masked-image modelling suits vision
transformers; a CNN would need sparse convolutions, cf. SparK). It trains with the
batch sizes one GPU gives in minutes. Its known failure, collapse to a constant output,
is watched: ``feature_std`` in the history is the standard deviation across the batch of
the l2-normalised encoder features (the pooled output the classifier will use) times
sqrt(dim), averaged over the dimensions: 0 when every image gives the same features,
towards 1 when they spread over the sphere (cf. the paper's Fig. 2, measured there on the
projections; those end in batch normalisation here, which hides collapse).

The views are the classifier's own augmentation (:func:`._fit.augment`: rotation, zoom,
squeeze, intensity, border bands) after a random resized crop (35-100 % of the area),
the augmentation SimSiam needs most. No horizontal flips: left and right differ in a
chest radiograph (the heart).

Only the training split is used (all sources; no labels): held-out patients stay unseen by
every stage, so their AUCs stay held-out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from cxrpilot.models.expert._fit import (
    LoopOptions,
    TrainingLoop,
    _batch,
    augment,
    device_images,
    start_run,
)
from cxrpilot.models.expert.network import build_network

__all__ = ["SslResult", "pretrain_simsiam", "simsiam_views", "SimSiam"]


@dataclass
class SslResult:
    """The pretrained network (a classifier whose head is still untrained) and its history."""

    network: torch.nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0


def _random_resized_crop(x: torch.Tensor, g: torch.Generator, *, min_area: float = 0.35,
                         ) -> torch.Tensor:
    """A random crop of ``min_area``-100 % of each image's area (aspect 3/4-4/3), resized
    back to the full side (an affine resampling, so it runs on any device)."""
    b, dev = x.shape[0], x.device
    u = lambda *shape: torch.rand(*shape, generator=g).to(dev)
    area = min_area + (1 - min_area) * u(b)
    log_ratio = (u(b) * 2 - 1) * math.log(4 / 3)
    ratio = torch.exp(log_ratio)
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (u(b) * 2 - 1) * (1 - w)
    cy = (u(b) * 2 - 1) * (1 - h)
    zeros = torch.zeros(b, device=dev)
    theta = torch.stack([torch.stack([w, zeros, cx], 1), torch.stack([zeros, h, cy], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def simsiam_views(x: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independently augmented views of a batch (B, 1, S, S) of [0, 1] images."""
    return (augment(_random_resized_crop(x, g), g), augment(_random_resized_crop(x, g), g))


class SimSiam(torch.nn.Module):
    """Encoder (the ResNet's trunk and pooling) + projection MLP + prediction MLP."""

    def __init__(self, network: torch.nn.Module, *, dim: int = 512, hidden: int = 128) -> None:
        super().__init__()
        self.network = network
        width = network.config.hidden_sizes[-1]
        self.projector = torch.nn.Sequential(
            torch.nn.Linear(width, dim, bias=False), torch.nn.BatchNorm1d(dim), torch.nn.ReLU(),
            torch.nn.Linear(dim, dim, bias=False), torch.nn.BatchNorm1d(dim), torch.nn.ReLU(),
            torch.nn.Linear(dim, dim, bias=False), torch.nn.BatchNorm1d(dim, affine=False),
        )
        self.predictor = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden, bias=False), torch.nn.BatchNorm1d(hidden),
            torch.nn.ReLU(), torch.nn.Linear(hidden, dim),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(projection z, prediction p, encoder features) of a batch."""
        features = self.network.resnet(pixel_values=x).pooler_output.flatten(1).float()
        # the MLP heads in float32 also under a GPU's bf16 autocast (their batch norms)
        with torch.autocast(device_type=x.device.type, enabled=False):
            z = self.projector(features)
            return z, self.predictor(z), features


def _negative_cosine(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return -F.cosine_similarity(p, z.detach(), dim=-1).mean()


def pretrain_simsiam(
    images: np.ndarray,
    train_idx: np.ndarray,
    *,
    arch: str,
    num_labels: int,
    mean: float,
    std: float,
    loop: LoopOptions,
    lr: float | None = None,
) -> SslResult:
    """SimSiam pretraining of a fresh ``arch`` network on ``images[train_idx]``.

    ``images`` (N, S, S) are [0, 1] floats or uint8. Each epoch draws
    ``loop.samples_per_epoch`` images uniformly with replacement (default: as many as there
    are). SGD with momentum 0.9, weight decay 1e-4 and a cosine schedule, base learning
    rate 0.05 x batch / 256 (the paper's; ``lr`` overrides), the predictor at a fixed rate.
    On ``loop.device="cuda"`` the images live on the GPU and the forward pass runs under
    bfloat16 autocast. ``loop.max_seconds`` stops at the first step past that wall-clock
    time.

    Returns the network of the classifier (its head freshly initialised with ``loop.seed``)
    so that :func:`._fit.fit_network` can start from its ``state_dict``.
    """
    training = TrainingLoop(loop, len(train_idx), name="SimSiam epoch")
    dev, g, rng = start_run(loop.seed, loop.device)
    cuda = dev.type == "cuda"
    model = SimSiam(build_network(arch, num_labels)).to(dev).to(memory_format=torch.channels_last)
    pixels = device_images(images, dev)
    base_lr = lr if lr is not None else 0.05 * loop.batch_size / 256
    trunk = [p for n, p in model.named_parameters() if not n.startswith("predictor.")]
    opt = torch.optim.SGD([{"params": trunk, "fixed": False},
                           {"params": model.predictor.parameters(), "fixed": True}],
                          lr=base_lr, momentum=0.9, weight_decay=1e-4)
    total = training.total_steps
    history: list[dict[str, float]] = []
    done_total = 0
    for epoch in training.epochs():
        model.train()
        order = training.draw(rng, train_idx)
        losses, z_stds = [], []
        for step, idx in training.steps(epoch, order):
            for group in opt.param_groups:
                group["lr"] = base_lr if group["fixed"] else \
                    base_lr * 0.5 * (1 + math.cos(math.pi * done_total / total))
            v1, v2 = simsiam_views(_batch(pixels, idx), g)
            v1 = ((v1 - mean) / std).contiguous(memory_format=torch.channels_last)
            v2 = ((v2 - mean) / std).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda):
                z1, p1, f1 = model(v1)
                z2, p2, _ = model(v2)
            z1, p1, z2, p2 = z1.float(), p1.float(), z2.float(), p2.float()
            loss = 0.5 * (_negative_cosine(p1, z2) + _negative_cosine(p2, z1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done_total += 1
            losses.append(loss.detach())
            f1 = f1.detach().float()
            z_stds.append(F.normalize(f1, dim=-1).std(dim=0).mean() * math.sqrt(f1.shape[1]))
            if not cuda or step % 25 == 0:
                training.show(loss=f"{float(torch.stack(losses).mean()):.3f}")
        entry = {"epoch": epoch, "loss": float(torch.stack(losses).mean()),
                 "first_loss": float(losses[0]), "last_loss": float(losses[-1]),
                 "feature_std": float(torch.stack(z_stds).mean()), "steps": len(losses),
                 "seconds": training.seconds()}
        if training.out_of_time:
            entry["stopped"] = training.stopped
        history.append(entry)
        training.write("SimSiam epoch {epoch}: loss {loss:.4f}, feature_std {feature_std:.3f}"
                       .format(**entry))
    network = model.network.to("cpu").to(memory_format=torch.contiguous_format).eval()
    return SslResult(network=network, history=history, steps=done_total)
