"""The training loop of the expert network on a cached image array. Imports torch."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from cxrpilot.models.expert._network import LogitsAndMaps, build_network

__all__ = ["FitResult", "fit_network", "network_logits", "augment", "augment_with_masks",
           "box_masks", "box_loss", "Box"]


@dataclass
class FitResult:
    """The trained network and what happened while training it."""

    network: torch.nn.Module
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random geometry and intensity changes of a batch (B, 1, S, S) of [0, 1] images.

    Small rotation, zoom (+-20 %) and shift; a random squeeze of one axis (so that the black
    padding bars that non-square sources get also appear on square sources, and cannot
    be a shortcut); gamma, contrast and brightness; for half the images, black bands of
    up to 20 % over the borders (where text markers and other source cues sit).
    """
    return augment_with_masks(x, None, g)[0]


def augment_with_masks(x: torch.Tensor, masks: torch.Tensor | None, g: torch.Generator,
                       ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`augment`, also moving ``masks`` (B, K, R, R), e.g. radiologists' boxes drawn
    over the same square, by the same geometry (intensity changes leave them alone). Draws
    the same random numbers as :func:`augment`, with or without masks."""
    b = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=g)
    angle = (u(b) * 2 - 1) * math.radians(8)
    scale = 1 + (u(b) * 2 - 1) * 0.2
    squeeze = torch.where(u(b) < 0.4, 1 - u(b) * 0.25, torch.ones(b))
    on_x = u(b) < 0.5
    sx = scale * torch.where(on_x, squeeze, torch.ones(b))
    sy = scale * torch.where(on_x, torch.ones(b), squeeze)
    shift = (u(b, 2) * 2 - 1) * 0.06
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([
        torch.stack([cos / sx, -sin / sx, shift[:, 0]], 1),
        torch.stack([sin / sy, cos / sy, shift[:, 1]], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if masks is not None:
        mask_grid = F.affine_grid(theta, list(masks.shape), align_corners=False)
        masks = F.grid_sample(masks, mask_grid, mode="bilinear", padding_mode="zeros",
                              align_corners=False)
    gamma = torch.exp((u(b) * 2 - 1) * 0.25).view(b, 1, 1, 1)
    x = x.clamp(0, 1) ** gamma
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = (1 + (u(b) * 2 - 1) * 0.2).view(b, 1, 1, 1)
    bright = ((u(b) * 2 - 1) * 0.08).view(b, 1, 1, 1)
    x = ((x - mean) * contrast + mean + bright).clamp(0, 1)
    size = x.shape[-1]
    band = (u(b, 4) * 0.2 * size).long()
    masked = u(b) < 0.5
    for i in torch.nonzero(masked).flatten().tolist():
        top, bottom, left, right = band[i].tolist()
        x[i, :, :top] = 0
        x[i, :, size - bottom:] = 0
        x[i, :, :, :left] = 0
        x[i, :, :, size - right:] = 0
    return x, masks


#: One radiologist's box over the square network input: (label index, x0, y0, x1, y1), the
#: corners as fractions of the square's side.
Box = tuple[int, float, float, float, float]

#: Side of the box masks drawn for the box loss (pooled to the feature grid afterwards).
_MASK_SIDE = 56


def box_masks(boxes: Sequence[Sequence[Box]], num_labels: int, side: int = _MASK_SIDE,
              ) -> torch.Tensor:
    """(B, L, side, side) masks, 1 inside each image's boxes of each label, else 0."""
    masks = torch.zeros(len(boxes), num_labels, side, side)
    for i, image_boxes in enumerate(boxes):
        for j, x0, y0, x1, y1 in image_boxes:
            c0, r0 = int(x0 * side), int(y0 * side)
            c1, r1 = max(c0 + 1, math.ceil(x1 * side)), max(r0 + 1, math.ceil(y1 * side))
            masks[i, j, r0:r1, c0:c1] = 1.0
    return masks


def box_loss(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean over (image, label) pairs with a box of ``-log`` (share of the label's softmax
    map mass that lies inside its boxes): it pulls the class activation map's evidence into
    the radiologists' boxes (attention guidance, cf. Li et al. 2018, "Tell me where to look",
    CVPR). ``maps`` (B, L, h, w) are class activation logits, ``masks`` (B, L, R, R) boxes."""
    inside = F.adaptive_avg_pool2d(masks, maps.shape[-2:]).flatten(2)  # share of each cell
    has_box = inside.sum(-1) > 0
    if not has_box.any():
        return maps.sum() * 0.0
    attention = torch.softmax(maps.flatten(2), dim=-1)
    mass = (attention * inside).sum(-1)[has_box]
    return -torch.log(mass.clamp_min(1e-6)).mean()


def _masked_bce(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    known = ~torch.isnan(targets)
    loss = F.binary_cross_entropy_with_logits(
        logits, torch.nan_to_num(targets), reduction="none"
    )
    w = weights[:, None] * known
    return (loss * w).sum() / w.sum().clamp_min(1e-8)


def network_logits(network: torch.nn.Module, images: np.ndarray, index: np.ndarray,
                   mean: float, std: float, *, batch_size: int = 256) -> np.ndarray:
    """Logits of the network for ``images[index]`` (cached [0, 1] arrays)."""
    network.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(index), batch_size):
            x = torch.from_numpy(images[index[i : i + batch_size]].astype(np.float32))[:, None]
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            out.append(network(pixel_values=x).logits.numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))


def fit_network(
    images: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    train_idx: np.ndarray,
    val_idx: np.ndarray,
    *,
    arch: str,
    mean: float,
    std: float,
    epochs: int,
    seed: int,
    samples_per_epoch: int | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    init_state: dict[str, torch.Tensor] | None = None,
    boxes: Sequence[Sequence[Box]] | None = None,
    box_weight: float = 0.0,
    progress: bool = True,
) -> FitResult:
    """Train with AdamW and a one-cycle schedule (from scratch, or from ``init_state`` when
    fine-tuning); keep the epoch with the lowest validation loss.

    ``images`` is (N, S, S) in [0, 1] (float16 is fine), ``targets`` (N, L) with NaN for
    unknown labels. Each epoch draws ``samples_per_epoch`` training images (default: as
    many as there are) with replacement, with probability proportional to ``weights``
    (N,) — e.g. weights that balance classes within each source.

    With ``boxes`` (one sequence of :data:`Box` per image, empty where none) and
    ``box_weight`` > 0, the loss adds ``box_weight`` times :func:`box_loss` for the images
    of each batch that have boxes, moved by the same augmentation as their pixels.
    """
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    # channels-last convolutions train ~1.7x faster on the CPU
    network = build_network(arch, targets.shape[1])
    if init_state is not None:  # fine-tuning: start from a trained network of the same shape
        network.load_state_dict(init_state)
    network = network.to(memory_format=torch.channels_last)
    with_maps = LogitsAndMaps(network)
    guided = boxes is not None and box_weight > 0
    per_epoch = samples_per_epoch or len(train_idx)
    steps = max(1, math.ceil(per_epoch / batch_size))
    p_train = weights[train_idx] / weights[train_idx].sum()
    opt = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps * epochs,
                                                pct_start=0.2)
    y_all = torch.from_numpy(targets.astype(np.float32))
    ones = torch.ones(len(targets))
    best_loss, best_state, best_epoch = math.inf, None, 0
    history: list[dict[str, float]] = []
    for epoch in range(1, epochs + 1):
        network.train()
        order = rng.choice(train_idx, size=per_epoch, replace=True, p=p_train)
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{epochs}", disable=not progress,
                   leave=False, unit="batch")
        running = 0.0
        for step in bar:
            idx = np.sort(order[step * batch_size : (step + 1) * batch_size])
            x = torch.from_numpy(images[idx].astype(np.float32))[:, None]
            boxed = guided and any(boxes[i] for i in idx)
            masks = box_masks([boxes[i] for i in idx], targets.shape[1]) if boxed else None
            x, masks = augment_with_masks(x, masks, g)
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            if masks is None:
                loss = _masked_bce(network(pixel_values=x).logits, y_all[idx], ones[idx])
            else:  # the same logits, with the maps they are the mean of
                logits, maps = with_maps(x)
                loss = _masked_bce(logits, y_all[idx], ones[idx]) \
                    + box_weight * box_loss(maps, masks)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += float(loss.detach())
            bar.set_postfix(loss=f"{running / (step + 1):.3f}")
        bar.close()
        entry = {"epoch": epoch, "train_loss": running / steps}
        if len(val_idx):
            logits = torch.from_numpy(network_logits(network, images, val_idx, mean, std))
            val_loss = float(_masked_bce(logits.float(), y_all[val_idx],
                                         torch.from_numpy(weights[val_idx].astype(np.float32))))
            entry["val_loss"] = val_loss
        else:
            val_loss = entry["train_loss"]
        history.append(entry)
        if progress:
            tqdm.write("epoch {epoch}: train loss {train_loss:.4f}".format(**entry)
                       + (f", validation loss {val_loss:.4f}" if len(val_idx) else ""))
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(network.state_dict())
    if best_state is not None:
        network.load_state_dict(best_state)
    network = network.to(memory_format=torch.contiguous_format).eval()
    return FitResult(network=network, best_epoch=best_epoch, history=history)
